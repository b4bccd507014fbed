//! The transport decoder on arbitrary bytes, fed whole and in chunks: it must never panic,
//! and whatever it decodes must encode back to bytes that decode to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_transport::frame::{decode, Decoded, Decoder};

fuzz_target!(|data: &[u8]| {
    let max = 4096;
    if let Ok(Decoded::Frame { frame, .. }) = decode(data, max, 0) {
        let bytes = frame.to_bytes(max).expect("a decoded frame re-encodes");
        match decode(&bytes, max, 0) {
            Ok(Decoded::Frame { frame: again, .. }) => assert_eq!(again, frame),
            other => panic!("re-decode failed: {other:?}"),
        }
    }
    let mut d = Decoder::new(max);
    let step = 1 + data.first().copied().unwrap_or(0) as usize % 7;
    for chunk in data.chunks(step) {
        d.push(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
});
