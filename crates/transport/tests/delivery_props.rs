//! Property tests for delivery and the spool: whatever the losses, reconnects and
//! restarts, each record reaches the store exactly once, and the spool matches a model.

use picket_transport::delivery::{Receiver, Sender};
use picket_transport::source::{Source, Via};
use picket_transport::spool::{Spool, SpoolConfig};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// Send up to n records. Links are ordered streams, so a lost batch or ack means the
    /// connection broke: the sender reconnects and resends everything unacked.
    Send {
        n: u64,
        batch_lost: bool,
        ack_lost: bool,
    },
    Reconnect,
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (1u64..40, prop::bool::weighted(0.2), prop::bool::weighted(0.2))
            .prop_map(|(n, batch_lost, ack_lost)| Step::Send { n, batch_lost, ack_lost }),
        1 => Just(Step::Reconnect),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn each_record_stored_exactly_once(total in 1u64..500, window in 1u64..100, steps in prop::collection::vec(arb_step(), 1..200)) {
        let src = Source::new("q", Via::Qrexec).expect("name");
        let mut sender = Sender::new(0, window);
        let mut receiver = Receiver::new();
        let mut stored = Vec::new();
        // The given steps, then a clean tail until everything is acked.
        let tail = std::iter::repeat_n(Step::Send { n: 64, batch_lost: false, ack_lost: false }, 10_000);
        for step in steps.into_iter().chain(tail) {
            if sender.acked() == total {
                break;
            }
            match step {
                Step::Reconnect => sender.reconnected(),
                Step::Send { n, batch_lost, ack_lost } => {
                    let Some((first, room)) = sender.next_range(total) else {
                        // Window full of lost batches: a real link times out and reconnects.
                        sender.reconnected();
                        continue;
                    };
                    let n = n.min(room);
                    sender.sent(first, first + n - 1);
                    if batch_lost {
                        sender.reconnected();
                        continue;
                    }
                    let adm = receiver.admit(&src, first, n as usize);
                    stored.extend(first + adm.skip as u64..first + n);
                    let ack = receiver.stored(&src, first + n - 1);
                    if ack_lost {
                        sender.reconnected();
                    } else {
                        sender.on_ack(ack).expect("honest ack");
                    }
                }
            }
        }
        prop_assert_eq!(stored, (1..=total).collect::<Vec<_>>());
    }

    #[test]
    fn spool_matches_model(ops in prop::collection::vec((0u8..4, 0usize..300), 1..60)) {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = SpoolConfig::with_max_bytes(64 << 20);
        c.segment_bytes = 64 << 10;
        let mut spool = Spool::open(dir.path(), c.clone()).expect("open");
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut acked = 0u64;
        let mut last = 0u64;
        for (op, arg) in ops {
            match op {
                0 | 1 => {
                    for k in 0..(arg % 50 + 1) {
                        last += 1;
                        let body = vec![(last % 251) as u8; (arg * 7 + k) % 3000];
                        spool.append(&body).expect("append");
                        model.push((last, body));
                    }
                }
                2 => {
                    let to = acked + (arg as u64 % (last - acked + 1));
                    spool.ack(to).expect("ack");
                    acked = acked.max(to);
                    model.retain(|r| r.0 > acked);
                }
                _ => {
                    drop(spool);
                    spool = Spool::open(dir.path(), c.clone()).expect("reopen");
                }
            }
            prop_assert_eq!(spool.last_seq(), last);
            prop_assert_eq!(spool.acked(), acked);
            let all = spool.read_from(0, usize::MAX, usize::MAX).expect("read");
            prop_assert_eq!(&all, &model);
            // Reading in small steps gives the same records.
            let mut stepped = Vec::new();
            let mut from = 0;
            loop {
                let part = spool.read_from(from, 7, 5000).expect("read");
                let Some(l) = part.last().map(|r| r.0) else { break };
                from = l + 1;
                stepped.extend(part);
            }
            prop_assert_eq!(&stepped, &model);
        }
    }
}
