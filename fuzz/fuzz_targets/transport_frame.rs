//! The transport's input parsers on arbitrary bytes: the frame decoder fed whole and in
//! chunks, the qrexec socket header, and the `qubes.Log` line splitter. None may panic,
//! and whatever the frame decoder accepts must encode back to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_transport::frame::{decode, Decoded, Decoder};
use picket_transport::qubes_log::{line_to_event, LineSplitter};
use picket_transport::source::parse_socket_header;

fuzz_target!(|data: &[u8]| {
    let max = 4096;
    if let Ok(Decoded::Frame { frame, .. }) = decode(data, max, 0) {
        let bytes = frame.to_bytes(max).expect("a decoded frame re-encodes");
        match decode(&bytes, max, 0) {
            Ok(Decoded::Frame { frame: again, .. }) => assert_eq!(again, frame),
            other => panic!("re-decode failed: {other:?}"),
        }
    }
    let step = 1 + data.first().copied().unwrap_or(0) as usize % 7;
    let mut d = Decoder::new(max);
    for chunk in data.chunks(step) {
        d.push(chunk);
        while let Ok(Some(_)) = d.next_frame() {}
    }

    let _ = parse_socket_header(data);

    let mut splitter = LineSplitter::new();
    let mut lines = Vec::new();
    for chunk in data.chunks(step * 300) {
        splitter.push(chunk, &mut lines);
    }
    for line in &lines {
        assert!(line.bytes.len() <= picket_transport::qubes_log::MAX_LINE);
        let _ = line_to_event(line);
    }
});
