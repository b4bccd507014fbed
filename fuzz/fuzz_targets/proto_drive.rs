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

/// Feeding the same bytes whole or in arbitrary chunks must give the same events: the parsers
/// promise that partial input only ever means "wait". The input's first half goes to the
/// server, the second half to the client, each fed completely before the other.
pub fn check_chunking_invariance(make: &dyn Fn() -> Box<dyn AppParser>, data: &[u8]) {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let (to_server, to_client) = rest.split_at(rest.len() / 2);
    let mut whole = make();
    let mut a = Vec::new();
    whole.feed(Direction::ToServer, to_server, &mut a);
    whole.feed(Direction::ToClient, to_client, &mut a);
    whole.finish(&mut a);

    let mut chunked = make();
    let mut b = Vec::new();
    let mut state = u32::from(seed) | 1;
    for (dir, mut part) in [(Direction::ToServer, to_server), (Direction::ToClient, to_client)] {
        while !part.is_empty() {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = 1 + (state >> 16) as usize % 17;
            let (chunk, tail) = part.split_at(len.min(part.len()));
            chunked.feed(dir, chunk, &mut b);
            part = tail;
        }
    }
    chunked.finish(&mut b);
    assert_eq!(a, b, "chunking changed the events");
}
