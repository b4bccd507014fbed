#![no_main]
//! Capture readers on arbitrary bytes: every error is a value, every packet is in bounds.
use libfuzzer_sys::fuzz_target;
use picket_capture::{CaptureFile, PacketSource, MAX_PACKET_LEN};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = CaptureFile::from_reader(Path::new("fuzz"), data) else {
        return;
    };
    let mut count = 0u64;
    loop {
        match file.next_packet() {
            Ok(Some(packet)) => {
                assert!(packet.data.len() <= MAX_PACKET_LEN as usize);
                assert!(packet.data.len() <= data.len());
                count += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(file.stats().packets, count);
});
