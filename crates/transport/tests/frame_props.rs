//! Property tests: every frame survives encode → decode, whatever the chunking, and the
//! decoder never panics on arbitrary bytes.

use picket_transport::frame::{
    decode, Ack, Batch, Decoded, Decoder, ErrorMsg, Frame, Heartbeat, Hello, DEFAULT_MAX_FRAME,
};
use proptest::prelude::*;

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            ".{0,20}",
            any::<u32>(),
            prop::collection::vec("[a-z]{0,8}", 0..4),
            any::<u64>()
        )
            .prop_map(
                |(agent, protocol, capabilities, epoch)| Frame::Hello(Hello {
                    agent,
                    protocol,
                    capabilities,
                    epoch
                })
            ),
        (
            1u64..u64::MAX / 2,
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..20)
        )
            .prop_map(|(first_seq, records)| Frame::Batch(Batch { first_seq, records })),
        any::<u64>().prop_map(|seq| Frame::Ack(Ack { seq })),
        prop::collection::btree_map("[a-z_]{1,12}", any::<u64>(), 0..6)
            .prop_map(|counters| Frame::Heartbeat(Heartbeat { counters })),
        ("[a-z]{0,10}", ".{0,40}")
            .prop_map(|(code, message)| Frame::Error(ErrorMsg { code, message })),
        (6u8..=255, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(kind, payload)| Frame::Unknown { kind, payload }),
    ]
}

proptest! {
    #[test]
    fn round_trip_whole(frame in arb_frame()) {
        let bytes = frame.to_bytes(DEFAULT_MAX_FRAME).expect("encodes");
        match decode(&bytes, DEFAULT_MAX_FRAME, 0).expect("decodes") {
            Decoded::Frame { frame: got, consumed } => {
                prop_assert_eq!(consumed, bytes.len());
                prop_assert_eq!(got, frame);
            }
            Decoded::Incomplete { .. } => prop_assert!(false, "incomplete"),
        }
    }

    #[test]
    fn round_trip_any_chunking(frames in prop::collection::vec(arb_frame(), 1..6), cuts in prop::collection::vec(1usize..50, 1..40)) {
        let mut bytes = Vec::new();
        for f in &frames {
            f.encode(DEFAULT_MAX_FRAME, &mut bytes).expect("encodes");
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < bytes.len() {
            let n = cuts[i % cuts.len()].min(bytes.len() - pos);
            d.push(&bytes[pos..pos + n]);
            pos += n;
            i += 1;
            while let Some(f) = d.next_frame().expect("valid stream") {
                got.push(f);
            }
        }
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn every_prefix_is_incomplete_not_an_error(frame in arb_frame()) {
        let bytes = frame.to_bytes(DEFAULT_MAX_FRAME).expect("encodes");
        for cut in 0..bytes.len() {
            let is_incomplete = matches!(decode(&bytes[..cut], DEFAULT_MAX_FRAME, 0), Ok(Decoded::Incomplete { .. }));
            prop_assert!(is_incomplete, "prefix {} of {}", cut, bytes.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), max in 0u32..512) {
        let mut d = Decoder::new(max);
        d.push(&bytes);
        for _ in 0..bytes.len() + 1 {
            match d.next_frame() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let _ = decode(&bytes, max, 0);
    }

    #[test]
    fn arbitrary_payload_after_valid_header_never_panics(kind in any::<u8>(), payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = b"PCKT\x01".to_vec();
        bytes.push(kind);
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        let _ = decode(&bytes, DEFAULT_MAX_FRAME, 0);
    }
}
