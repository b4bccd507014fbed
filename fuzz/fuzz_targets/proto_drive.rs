//! Shared by the protocol parser fuzz targets: splits the input into chunks fed in both
//! directions, with occasional gaps, then finishes the flow. The first bytes steer the split, so
//! the fuzzer explores chunk boundaries as well as content.

use picket_proto::{AppParser, Direction};

pub fn drive(parser: &mut dyn AppParser, data: &[u8]) {
    let Some((&seed, mut rest)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    let mut state = u32::from(seed) | 1;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = 1 + (state >> 16) as usize % 64;
        let dir = if (state >> 8) & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        if (state >> 9) % 61 == 0 {
            parser.gap(dir, u64::from(state % 100));
        }
        parser.feed(dir, chunk, &mut out);
        rest = tail;
    }
    parser.finish(&mut out);
    for ev in &out {
        let _ = ev.body.to_string();
    }
}
