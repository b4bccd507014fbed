//! IPv4 and IPv6 fragment reassembly with bounded memory.
//!
//! Trackers are keyed by the addresses, the datagram id and (for IPv4) the protocol, plus
//! the VLAN ids. Limits: the number of trackers, the fragments per tracker, the bytes held
//! over all trackers, the datagram size, and an idle timeout driven by packet time. Overlaps
//! are resolved by [`OverlapPolicy`] and always counted, since overlapping fragments are the
//! classic way to show an IDS different bytes than the host sees.

use std::collections::HashMap;
use std::net::IpAddr;

/// Which copy of overlapping fragment bytes wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// Bytes already received win (BSD, Windows, most stacks).
    #[default]
    First,
    /// Later bytes overwrite earlier ones (old Linux, Cisco).
    Last,
}

/// Defragmentation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    /// Datagrams being reassembled at once.
    pub max_trackers: usize,
    /// Fragments kept for one datagram.
    pub max_fragments: usize,
    /// Bytes held over all trackers.
    pub memcap: usize,
    /// A datagram not completed within this many microseconds of packet time is dropped.
    pub timeout_us: i64,
    pub overlap: OverlapPolicy,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_trackers: 4096,
            max_fragments: 256,
            memcap: 16 << 20,
            timeout_us: 60_000_000,
            overlap: OverlapPolicy::First,
        }
    }
}

/// What defragmentation has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub ipv4_fragments: u64,
    pub ipv4_reassembled: u64,
    pub ipv4_timeouts: u64,
    pub ipv6_fragments: u64,
    pub ipv6_reassembled: u64,
    pub ipv6_timeouts: u64,
    /// Fragments dropped because a tracker already held `max_fragments`, or the memcap
    /// was reached.
    pub max_frags_reached: u64,
    /// Fragments dropped because `max_trackers` datagrams were already in progress.
    pub max_trackers_reached: u64,
    pub overlaps: u64,
    /// Datagrams dropped because they would exceed 65535 bytes.
    pub too_large: u64,
    /// Bytes held now.
    pub memuse: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
    vlan: [u16; 2],
}

#[derive(Debug)]
struct Tracker {
    last_seen: i64,
    /// Fragments in arrival order: (offset, bytes).
    fragments: Vec<(u32, Vec<u8>)>,
    /// Known once the last fragment (more = false) arrives.
    total_len: Option<u32>,
    bytes: usize,
    /// The protocol named by the fragment at offset 0, once it arrives.
    first_proto: Option<u8>,
}

/// One fragment to add.
#[derive(Debug, Clone, Copy)]
pub struct FragmentIn<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub vlan: [u16; 2],
    pub id: u32,
    /// For IPv4 the protocol field; for IPv6 the fragment header's next header (which, on
    /// the first fragment, names what the reassembled bytes start with).
    pub proto: u8,
    pub offset: u32,
    pub more: bool,
    pub data: &'a [u8],
    pub ts_us: i64,
}

/// What adding a fragment did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Kept; the datagram is not complete yet.
    Pending,
    /// The datagram is complete: the protocol its bytes start with (for IPv6, the next
    /// header of the fragment at offset 0) and the bytes.
    Complete(u8, Vec<u8>),
    /// Dropped, with the decoder event that says why.
    Dropped(&'static str),
}

/// The reassembler for both IP versions.
#[derive(Debug, Default)]
pub struct Defragmenter {
    config: DefragConfig,
    trackers: HashMap<Key, Tracker>,
    stats: DefragStats,
    /// Bytes held over all trackers.
    held: usize,
    last_expiry: i64,
}

const MAX_DATAGRAM: u32 = 65_535;

impl Defragmenter {
    pub fn new(config: DefragConfig) -> Self {
        Defragmenter {
            config,
            ..Defragmenter::default()
        }
    }

    pub fn stats(&self) -> DefragStats {
        let mut stats = self.stats;
        stats.memuse = self.held as u64;
        stats
    }

    /// Add a fragment. `overlap` is set when it overlapped bytes already held.
    pub fn insert(&mut self, fragment: FragmentIn<'_>, v6: bool, overlap: &mut bool) -> Outcome {
        if v6 {
            self.stats.ipv6_fragments += 1;
        } else {
            self.stats.ipv4_fragments += 1;
        }
        // Expire at most once per second of packet time: a full pass is cheap at the
        // tracker cap, and doing it every packet is not.
        if fragment.ts_us - self.last_expiry >= 1_000_000 || fragment.ts_us < self.last_expiry {
            self.expire(fragment.ts_us);
        }
        let too_large_event = if v6 {
            "ipv6.frag_pkt_too_large"
        } else {
            "ipv4.frag_pkt_too_large"
        };
        let end = fragment.offset as u64 + fragment.data.len() as u64;
        if end > u64::from(MAX_DATAGRAM) {
            self.stats.too_large += 1;
            return Outcome::Dropped(too_large_event);
        }
        let key = Key {
            src: fragment.src,
            dst: fragment.dst,
            id: fragment.id,
            // IPv6 fragments of one datagram carry the same id whatever the next header.
            proto: if v6 { 0 } else { fragment.proto },
            vlan: fragment.vlan,
        };
        if !self.trackers.contains_key(&key) && self.trackers.len() >= self.config.max_trackers {
            self.stats.max_trackers_reached += 1;
            return Outcome::Dropped(if v6 {
                "ipv6.frag_ignored"
            } else {
                "ipv4.frag_ignored"
            });
        }
        if self.held + fragment.data.len() > self.config.memcap {
            self.stats.max_frags_reached += 1;
            return Outcome::Dropped(if v6 {
                "ipv6.frag_ignored"
            } else {
                "ipv4.frag_ignored"
            });
        }
        let tracker = self.trackers.entry(key).or_insert_with(|| Tracker {
            last_seen: fragment.ts_us,
            fragments: Vec::new(),
            total_len: None,
            bytes: 0,
            first_proto: None,
        });
        if tracker.fragments.len() >= self.config.max_fragments {
            self.stats.max_frags_reached += 1;
            return Outcome::Dropped(if v6 {
                "ipv6.frag_ignored"
            } else {
                "ipv4.frag_ignored"
            });
        }
        tracker.last_seen = fragment.ts_us;
        let start = fragment.offset;
        let end = end as u32;
        if tracker
            .fragments
            .iter()
            .any(|(o, d)| start < *o + d.len() as u32 && *o < end)
        {
            *overlap = true;
            self.stats.overlaps += 1;
        }
        if !fragment.more {
            tracker.total_len = Some(end);
        }
        if start == 0 {
            tracker.first_proto = Some(fragment.proto);
        }
        tracker.fragments.push((start, fragment.data.to_vec()));
        tracker.bytes += fragment.data.len();
        self.held += fragment.data.len();
        let Some(total) = tracker.total_len else {
            return Outcome::Pending;
        };
        if !covers(&tracker.fragments, total) {
            return Outcome::Pending;
        }
        let Some(tracker) = self.trackers.remove(&key) else {
            return Outcome::Pending;
        };
        self.held -= tracker.bytes;
        if v6 {
            self.stats.ipv6_reassembled += 1;
        } else {
            self.stats.ipv4_reassembled += 1;
        }
        let proto = tracker.first_proto.unwrap_or(fragment.proto);
        Outcome::Complete(
            proto,
            assemble(&tracker.fragments, total, self.config.overlap),
        )
    }

    /// Drop trackers idle for longer than the timeout.
    pub fn expire(&mut self, now_us: i64) {
        self.last_expiry = now_us;
        let timeout = self.config.timeout_us;
        let mut v4 = 0;
        let mut v6 = 0;
        let mut freed = 0;
        self.trackers.retain(|key, tracker| {
            let keep = now_us - tracker.last_seen < timeout;
            if !keep {
                freed += tracker.bytes;
                if key.src.is_ipv4() {
                    v4 += 1;
                } else {
                    v6 += 1;
                }
            }
            keep
        });
        self.held -= freed;
        self.stats.ipv4_timeouts += v4;
        self.stats.ipv6_timeouts += v6;
    }
}

/// Do the fragments cover `0..total` without a hole?
fn covers(fragments: &[(u32, Vec<u8>)], total: u32) -> bool {
    let mut ranges: Vec<(u32, u32)> = fragments
        .iter()
        .map(|(o, d)| (*o, *o + d.len() as u32))
        .collect();
    ranges.sort_unstable();
    let mut reached = 0u32;
    for (start, end) in ranges {
        if start > reached {
            return false;
        }
        reached = reached.max(end);
        if reached >= total {
            return true;
        }
    }
    reached >= total
}

fn assemble(fragments: &[(u32, Vec<u8>)], total: u32, policy: OverlapPolicy) -> Vec<u8> {
    let total = total as usize;
    let mut out = vec![0u8; total];
    let mut written = vec![false; total];
    for (offset, data) in fragments {
        let start = *offset as usize;
        for (i, byte) in data.iter().enumerate() {
            let at = start + i;
            if at >= total {
                break;
            }
            if policy == OverlapPolicy::Last || !written[at] {
                out[at] = *byte;
                written[at] = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn frag(offset: u32, more: bool, data: &[u8], ts: i64) -> FragmentIn<'_> {
        FragmentIn {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            vlan: [0, 0],
            id: 0x1234,
            proto: 17,
            offset,
            more,
            data,
            ts_us: ts,
        }
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut overlap = false;
        assert_eq!(
            d.insert(frag(8, false, b"world!!!", 0), false, &mut overlap),
            Outcome::Pending
        );
        assert_eq!(
            d.insert(frag(0, true, b"hello, w", 1), false, &mut overlap),
            Outcome::Complete(17, b"hello, wworld!!!".to_vec())
        );
        assert!(!overlap);
        assert_eq!(d.stats().ipv4_reassembled, 1);
        assert_eq!(d.stats().memuse, 0);
    }

    #[test]
    fn overlap_policy_decides_which_bytes_win() {
        for (policy, expected) in [
            (OverlapPolicy::First, b"AAAAAAAABBBBBBBB".to_vec()),
            (OverlapPolicy::Last, b"AAAAAAAACCCCCCCC".to_vec()),
        ] {
            let mut d = Defragmenter::new(DefragConfig {
                overlap: policy,
                ..DefragConfig::default()
            });
            let mut overlap = false;
            d.insert(frag(8, false, b"BBBBBBBB", 0), false, &mut overlap);
            d.insert(frag(8, false, b"CCCCCCCC", 0), false, &mut overlap);
            assert!(overlap);
            let got = d.insert(frag(0, true, b"AAAAAAAA", 0), false, &mut overlap);
            assert_eq!(got, Outcome::Complete(17, expected), "{policy:?}");
            assert_eq!(d.stats().overlaps, 1);
        }
    }

    #[test]
    fn idle_trackers_time_out_by_packet_time() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut overlap = false;
        d.insert(frag(0, true, b"AAAAAAAA", 0), false, &mut overlap);
        d.expire(61_000_000);
        assert_eq!(d.stats().ipv4_timeouts, 1);
        assert_eq!(d.stats().memuse, 0);
        // The late tail starts a fresh tracker that never completes.
        assert_eq!(
            d.insert(frag(8, false, b"BB", 61_000_001), false, &mut overlap),
            Outcome::Pending
        );
    }

    #[test]
    fn limits_drop_and_count() {
        let mut d = Defragmenter::new(DefragConfig {
            max_trackers: 1,
            memcap: 12,
            ..DefragConfig::default()
        });
        let mut overlap = false;
        d.insert(frag(0, true, b"AAAAAAAA", 0), false, &mut overlap);
        let mut other = frag(0, true, b"x", 0);
        other.id = 99;
        assert!(matches!(
            d.insert(other, false, &mut overlap),
            Outcome::Dropped(_)
        ));
        assert_eq!(d.stats().max_trackers_reached, 1);
        assert!(matches!(
            d.insert(frag(8, true, b"BBBBBBBB", 0), false, &mut overlap),
            Outcome::Dropped(_)
        ));
        assert_eq!(d.stats().max_frags_reached, 1);
        assert!(matches!(
            d.insert(frag(65_528, false, b"123456789", 0), false, &mut overlap),
            Outcome::Dropped("ipv4.frag_pkt_too_large")
        ));
    }
}
