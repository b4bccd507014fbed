//! At-least-once delivery, sans-IO: the agent's [`Sender`] resends whatever was not acked,
//! the manager's [`Receiver`] drops what it already stored, keyed by (source, sequence).
//!
//! Each record carries its own sequence number (a batch is `first_seq` plus a run), so
//! dedup works per record even if a resent batch is cut differently from the first try.
//! A jump forward in sequence numbers is accepted and counted: it means the agent's spool
//! dropped records (the agent reports those drops in its heartbeat). A new spool epoch in
//! `Hello` means the agent's numbering started over, so the dedup state is reset.

use std::collections::HashMap;

use crate::source::Source;

/// What to store from one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// How many leading records of the batch were already stored (duplicates): store
    /// `records[skip..]`.
    pub skip: usize,
    /// Sequence numbers missing between what was stored before and this batch (dropped by
    /// the agent's spool, or lost); 0 normally.
    pub gap: u64,
}

impl Admission {
    /// True when every record is a duplicate.
    pub fn all_duplicate(&self, batch_len: usize) -> bool {
        self.skip >= batch_len
    }
}

/// Per-source dedup state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceState {
    /// The agent's spool epoch from its last Hello.
    pub epoch: u64,
    /// Highest sequence number stored (0: none).
    pub stored: u64,
    /// Records received again after being stored.
    pub duplicates: u64,
    /// Sequence numbers skipped over (see [`Admission::gap`]).
    pub gaps: u64,
}

/// The manager-side dedup state machine. Persist [`Receiver::state`] together with the
/// records (same transaction) and [`Receiver::restore`] it at start, and a manager killed
/// mid-stream neither loses nor double-stores anything.
#[derive(Debug, Default)]
pub struct Receiver {
    sources: HashMap<Source, SourceState>,
}

/// Result of [`Receiver::hello`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloOutcome {
    /// Same numbering as before (or a first contact): ack this to the agent.
    Resume {
        /// Highest sequence stored for this source.
        ack: u64,
    },
    /// The agent's epoch changed: its numbering restarted and the old state was dropped.
    EpochChanged {
        /// The epoch previously known.
        old: u64,
        /// The new epoch.
        new: u64,
    },
}

impl Receiver {
    /// An empty receiver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a source's state saved with the stored records.
    pub fn restore(&mut self, source: Source, state: SourceState) {
        self.sources.insert(source, state);
    }

    /// The state to persist for `source`.
    pub fn state(&self, source: &Source) -> Option<SourceState> {
        self.sources.get(source).copied()
    }

    /// An agent said Hello with its spool `epoch`.
    pub fn hello(&mut self, source: &Source, epoch: u64) -> HelloOutcome {
        match self.sources.get_mut(source) {
            None => {
                self.sources.insert(
                    source.clone(),
                    SourceState {
                        epoch,
                        ..SourceState::default()
                    },
                );
                HelloOutcome::Resume { ack: 0 }
            }
            Some(s) if s.epoch == epoch => HelloOutcome::Resume { ack: s.stored },
            Some(s) => {
                let old = s.epoch;
                *s = SourceState {
                    epoch,
                    ..SourceState::default()
                };
                HelloOutcome::EpochChanged { old, new: epoch }
            }
        }
    }

    /// Which records of a batch `[first_seq, first_seq + len)` are new.
    pub fn admit(&mut self, source: &Source, first_seq: u64, len: usize) -> Admission {
        let s = self.sources.entry(source.clone()).or_default();
        let skip = s.stored.saturating_sub(first_seq.saturating_sub(1));
        let skip = usize::try_from(skip).unwrap_or(usize::MAX).min(len);
        s.duplicates += skip as u64;
        let gap = if skip < len {
            first_seq.saturating_sub(s.stored + 1)
        } else {
            0
        };
        s.gaps += gap;
        Admission { skip, gap }
    }

    /// Records up to `last_seq` are stored; returns the sequence to ack.
    pub fn stored(&mut self, source: &Source, last_seq: u64) -> u64 {
        let s = self.sources.entry(source.clone()).or_default();
        s.stored = s.stored.max(last_seq);
        s.stored
    }
}

/// Why the sender refuses a peer message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenderError {
    /// The manager acked a sequence number that was never sent.
    #[error("ack for sequence {acked} but only up to {sent} was sent")]
    AckBeyondSent {
        /// The acked sequence.
        acked: u64,
        /// The highest sequence sent.
        sent: u64,
    },
}

/// The agent-side state machine: what to send next, what is still unacked.
///
/// The spool holds the records; the sender only holds numbers. After a reconnect
/// ([`Sender::reconnected`]) everything after the last ack is sent again.
#[derive(Debug, Clone)]
pub struct Sender {
    acked: u64,
    next: u64,
    /// Highest sequence ever sent, across reconnects: an ack may cover a record sent on an
    /// earlier connection whose ack was lost.
    max_sent: u64,
    window: u64,
}

impl Sender {
    /// A sender whose records up to `acked` are known stored, allowing at most `window`
    /// unacked records in flight.
    pub fn new(acked: u64, window: u64) -> Self {
        Sender {
            acked,
            next: acked + 1,
            max_sent: acked,
            window: window.max(1),
        }
    }

    /// Highest sequence acked by the manager.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Records sent and not yet acked.
    pub fn in_flight(&self) -> u64 {
        self.next - 1 - self.acked
    }

    /// The first sequence to send next and how many records may be sent now, given the
    /// highest sequence in the spool; `None` when nothing can be sent.
    pub fn next_range(&self, spool_last: u64) -> Option<(u64, u64)> {
        let room = self.window.saturating_sub(self.in_flight());
        let available = (spool_last + 1).saturating_sub(self.next);
        let n = room.min(available);
        (n > 0).then_some((self.next, n))
    }

    /// Records `[first, last]` were written to the connection. `first` may be above the
    /// expected next sequence when the spool dropped records; the gap counts as acked
    /// once anything after it is.
    pub fn sent(&mut self, first: u64, last: u64) {
        debug_assert!(first >= self.next);
        if last >= first {
            self.next = self.next.max(last + 1);
            self.max_sent = self.max_sent.max(last);
        }
    }

    /// The manager acked `seq`. Returns the newly acked sequence when it advanced.
    pub fn on_ack(&mut self, seq: u64) -> Result<Option<u64>, SenderError> {
        if seq > self.max_sent {
            return Err(SenderError::AckBeyondSent {
                acked: seq,
                sent: self.max_sent,
            });
        }
        if seq > self.acked {
            self.acked = seq;
            self.next = self.next.max(seq + 1);
            Ok(Some(seq))
        } else {
            Ok(None)
        }
    }

    /// The connection was lost: resend everything after the last ack.
    pub fn reconnected(&mut self) {
        self.next = self.acked + 1;
    }

    /// The manager said on Hello that it holds everything up to `seq` (for example our own
    /// ack file is older than the manager's store). Never moves backwards; `seq` must not
    /// exceed what the spool ever held (`spool_last`), or the peer is lying.
    pub fn peer_has(&mut self, seq: u64, spool_last: u64) -> Result<(), SenderError> {
        if seq > spool_last {
            return Err(SenderError::AckBeyondSent {
                acked: seq,
                sent: spool_last,
            });
        }
        self.max_sent = self.max_sent.max(seq);
        if seq > self.acked {
            self.acked = seq;
            self.next = self.next.max(seq + 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Via;

    fn src(n: &str) -> Source {
        Source::new(n, Via::Local).expect("valid")
    }

    #[test]
    fn resent_batch_is_duplicate_partial_overlap_is_trimmed() {
        let mut r = Receiver::new();
        let a = src("a");
        assert_eq!(r.hello(&a, 5), HelloOutcome::Resume { ack: 0 });
        assert_eq!(r.admit(&a, 1, 10), Admission { skip: 0, gap: 0 });
        assert_eq!(r.stored(&a, 10), 10);
        assert!(r.admit(&a, 1, 10).all_duplicate(10));
        assert_eq!(r.admit(&a, 6, 10), Admission { skip: 5, gap: 0 });
        assert_eq!(r.stored(&a, 15), 15);
        assert_eq!(r.state(&a).map(|s| s.duplicates), Some(15));
    }

    #[test]
    fn sources_are_independent() {
        let mut r = Receiver::new();
        r.admit(&src("a"), 1, 3);
        r.stored(&src("a"), 3);
        assert_eq!(r.admit(&src("b"), 1, 3).skip, 0);
    }

    #[test]
    fn spool_drop_shows_as_gap() {
        let mut r = Receiver::new();
        let a = src("a");
        r.admit(&a, 1, 2);
        r.stored(&a, 2);
        assert_eq!(r.admit(&a, 10, 1), Admission { skip: 0, gap: 7 });
    }

    #[test]
    fn new_epoch_resets_dedup() {
        let mut r = Receiver::new();
        let a = src("a");
        r.hello(&a, 1);
        r.admit(&a, 1, 5);
        r.stored(&a, 5);
        assert_eq!(r.hello(&a, 1), HelloOutcome::Resume { ack: 5 });
        assert_eq!(
            r.hello(&a, 2),
            HelloOutcome::EpochChanged { old: 1, new: 2 }
        );
        assert_eq!(r.admit(&a, 1, 5).skip, 0);
    }

    #[test]
    fn sender_window_ack_and_resend() {
        let mut s = Sender::new(0, 4);
        assert_eq!(s.next_range(0), None);
        assert_eq!(s.next_range(10), Some((1, 4)));
        s.sent(1, 4);
        assert_eq!(s.next_range(10), None);
        assert_eq!(s.on_ack(2), Ok(Some(2)));
        assert_eq!(s.next_range(10), Some((5, 2)));
        s.sent(5, 6);
        assert!(s.on_ack(9).is_err());
        s.reconnected();
        assert_eq!(s.next_range(10), Some((3, 4)));
        s.peer_has(5, 10).expect("valid");
        assert!(s.peer_has(11, 10).is_err());
        assert_eq!(s.next_range(10), Some((6, 4)));
    }

    /// Sender and receiver over a lossy, reconnecting link deliver each record exactly
    /// once to the store.
    #[test]
    fn lossy_link_stores_each_record_once() {
        let total = 1000u64;
        let mut sender = Sender::new(0, 37);
        let mut receiver = Receiver::new();
        let a = src("a");
        let mut stored = Vec::new();
        let mut round = 0u64;
        while sender.acked() < total {
            round += 1;
            let Some((first, n)) = sender.next_range(total) else {
                sender.reconnected();
                continue;
            };
            let n = n.min(1 + round % 13);
            sender.sent(first, first + n - 1);
            // Every fifth batch is lost, every seventh ack is lost.
            if round.is_multiple_of(5) {
                sender.reconnected();
                continue;
            }
            let adm = receiver.admit(&a, first, n as usize);
            for seq in first + adm.skip as u64..first + n {
                stored.push(seq);
            }
            let ack = receiver.stored(&a, first + n - 1);
            if round.is_multiple_of(7) {
                sender.reconnected();
                continue;
            }
            sender.on_ack(ack).expect("valid ack");
        }
        assert_eq!(stored, (1..=total).collect::<Vec<_>>());
    }
}
