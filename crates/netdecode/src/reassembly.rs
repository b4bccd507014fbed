//! TCP stream reassembly for one direction of one flow.
//!
//! Sequence numbers are turned into 64-bit offsets relative to the stream's start, so wrap
//! needs no special case after the first segment. In-order bytes go straight to a
//! [`StreamSink`]; segments ahead of the next expected byte wait in a queue bounded per
//! stream and by a global budget. A hole the receiver has acknowledged (its data will never
//! come), a queue over its bound, or the end of the flow turns the hole into a gap: the
//! sink is told how many bytes were lost, and they count as `missed_bytes`.
//!
//! A passive sensor does not know whether the receiver accepted a segment until the
//! receiver acknowledges it: a segment the receiver dropped (bad checksum seen only by it,
//! outside its window, overlapped differently by a retransmission) must not be parsed as
//! if it were delivered. So, like Suricata in IDS mode, in-order bytes reach the sink only
//! once the peer has acknowledged them ([`Stream::acked`]); what was never acknowledged is
//! handed over when the flow ends ([`Stream::flush`]). Inline (IPS) sensors sit in the path
//! and decide on arrival, so [`ReassemblyConfig::inline`] delivers at once. Bytes waiting
//! for their acknowledgement count against the same per-stream bound and global budget as
//! out-of-order segments; over either, the oldest are delivered unacknowledged rather than
//! held without limit.

use std::collections::{BTreeMap, VecDeque};

/// Out-of-order segments one direction may hold, whatever their size: a stream without a
/// parser queues only lengths, and this keeps a storm of tiny segments bounded too.
const MAX_SEGMENTS: usize = 1024;

/// Which copy of overlapping, not yet delivered bytes wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// The bytes that arrived first (what most stacks keep).
    #[default]
    First,
    /// The bytes that arrived last.
    Last,
}

/// Reassembly limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Bytes delivered per direction before the stream stops being inspected.
    pub depth: u64,
    /// Out-of-order bytes one direction may hold.
    pub max_queued_per_stream: usize,
    /// Out-of-order bytes all streams together may hold.
    pub memcap: usize,
    pub overlap: OverlapPolicy,
    /// Inline (IPS) placement: hand in-order bytes to the sink as they arrive. Off (a
    /// passive sensor), bytes wait until the peer acknowledges them.
    pub inline: bool,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            depth: 1 << 20,
            max_queued_per_stream: 256 << 10,
            memcap: 64 << 20,
            overlap: OverlapPolicy::First,
            inline: false,
        }
    }
}

/// Counters shared by all streams, and the global byte budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Out-of-order bytes held now.
    pub memuse: u64,
    /// Segments overlapping bytes already received.
    pub overlaps: u64,
    /// Overlaps whose bytes differed from what was received first.
    pub overlap_diff_data: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes lost in gaps.
    pub gap_bytes: u64,
    /// Streams that reached the depth limit.
    pub depth_reached: u64,
    /// Segments not queued because the stream's or the global budget was used up.
    pub memcap_drops: u64,
    /// Times bytes waiting for their acknowledgement were delivered without it because
    /// the stream's bound or the global budget was reached.
    pub unacked_delivered: u64,
}

/// Where in-order data goes.
pub trait StreamSink {
    fn data(&mut self, data: &[u8]);
    fn gap(&mut self, len: u64);
}

/// A sink that keeps nothing (for streams nobody inspects).
#[derive(Debug, Default)]
pub struct NullSink;

impl StreamSink for NullSink {
    fn data(&mut self, _data: &[u8]) {}
    fn gap(&mut self, _len: u64) {}
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of relative offset 0; unset until the first SYN or data.
    base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Highest offset seen, for retransmission detection.
    high: u64,
    /// Out-of-order segments by offset. Without payload inspection only lengths are kept.
    queue: BTreeMap<u64, Segment>,
    queued: usize,
    /// Bytes delivered or skipped as gaps.
    delivered: u64,
    depth_reached: bool,
    /// Offset just past the data, once this direction sent its FIN (which takes one
    /// sequence number that carries no byte).
    fin_at: Option<u64>,
    /// In-order bytes and gaps not yet acknowledged by the peer, by offset, oldest first.
    ready: VecDeque<(u64, Ready)>,
    /// Bytes held in `ready` (gaps hold none).
    ready_bytes: usize,
    /// Offset up to which the peer acknowledged this direction's bytes.
    acked_to: u64,
    /// Keep segment bytes (a parser is or may be attached).
    pub keep_data: bool,
    /// Bytes lost in gaps in this direction.
    pub missed_bytes: u64,
}

/// One piece of in-order output on its way to the sink.
enum Out<'a> {
    Data(&'a [u8]),
    Gap(u64),
}

/// One piece of in-order output held until it is acknowledged.
#[derive(Debug)]
enum Ready {
    Data(Vec<u8>),
    Gap(u64),
}

impl Ready {
    fn len(&self) -> u64 {
        match self {
            Ready::Data(d) => d.len() as u64,
            Ready::Gap(n) => *n,
        }
    }
}

#[derive(Debug)]
struct Segment {
    len: u64,
    data: Vec<u8>,
}

impl Stream {
    pub fn new(keep_data: bool) -> Self {
        Stream {
            keep_data,
            ..Stream::default()
        }
    }

    /// The direction's SYN: data starts one past its sequence number.
    pub fn syn(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq.wrapping_add(1));
        }
    }

    /// The direction's FIN, on a segment at `seq` carrying `len` payload bytes.
    pub fn fin(&mut self, seq: u32, len: usize) {
        let base = *self.base.get_or_insert(seq);
        let end = self.offset_of(base, seq) + len as i64;
        if end >= 0 && self.fin_at.is_none() {
            self.fin_at = Some(end as u64);
        }
    }

    fn offset_of(&self, base: u32, seq: u32) -> i64 {
        // The signed distance from the next expected sequence number.
        let expected = base.wrapping_add(self.next as u32);
        self.next as i64 + i64::from(seq.wrapping_sub(expected) as i32)
    }

    /// Drop everything queued (the parser went away), returning the bytes freed.
    pub fn release(&mut self, stats: &mut ReassemblyStats) {
        stats.memuse -= (self.queued + self.ready_bytes) as u64;
        self.queued = 0;
        self.ready.clear();
        self.ready_bytes = 0;
        for segment in self.queue.values_mut() {
            segment.data = Vec::new();
        }
        self.keep_data = false;
    }

    /// Add a segment. Returns `true` if it repeated bytes already seen (a retransmission).
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) -> bool {
        if payload.is_empty() {
            return false;
        }
        let base = *self.base.get_or_insert(seq);
        let mut start = self.offset_of(base, seq);
        let mut data = payload;
        if start < 0 {
            // Bytes before the stream's start (a SYN we took for the start was wrong, or
            // hostile sequence numbers): keep what lies after it.
            let skip = start.unsigned_abs().min(data.len() as u64) as usize;
            data = &data[skip..];
            start = 0;
        }
        let start = start as u64;
        let end = start + data.len() as u64;
        let retransmission = start < self.high;
        self.high = self.high.max(end);
        if end <= self.next || data.is_empty() {
            if end > 0 && end <= self.next {
                stats.overlaps += 1;
            }
            return retransmission;
        }
        if start <= self.next {
            let fresh = &data[(self.next - start) as usize..];
            let limit = match (config.overlap, self.queue.keys().next()) {
                (OverlapPolicy::First, Some(&k)) if k < end => k,
                _ => end,
            };
            let now = (limit - self.next) as usize;
            self.deliver(&fresh[..now], config, stats, sink);
            if limit < end {
                // The rest overlaps queued bytes that arrived first; queue it to fill any
                // holes between them.
                let rest_start = limit;
                let rest = &fresh[now..];
                self.enqueue(rest_start, rest, config, stats);
            }
            self.drain(config, stats, sink);
        } else {
            self.enqueue(start, data, config, stats);
            if self.queued > config.max_queued_per_stream || self.queue.len() > MAX_SEGMENTS {
                // Too much waiting behind a hole: give up on the hole.
                self.skip_to_queue(config, stats, sink);
            }
        }
        retransmission
    }

    fn enqueue(
        &mut self,
        start: u64,
        data: &[u8],
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
    ) {
        if self.depth_reached {
            return;
        }
        let end = start + data.len() as u64;
        // Find parts of [start, end) that existing segments do not cover.
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut cursor = start;
        let overlapping: Vec<(u64, u64)> = self
            .queue
            .range(..end)
            .filter(|(k, s)| **k + s.len > start)
            .map(|(k, s)| (*k, *k + s.len))
            .collect();
        if !overlapping.is_empty() {
            stats.overlaps += 1;
            if self.keep_data && self.differs(start, data, &overlapping) {
                // The same bytes sent twice with different contents: what the host keeps
                // depends on its stack, which is how inspection gets evaded.
                stats.overlap_diff_data += 1;
            }
        }
        match config.overlap {
            OverlapPolicy::First => {
                for (s, e) in &overlapping {
                    if *s > cursor {
                        pieces.push((cursor, *s));
                    }
                    cursor = cursor.max(*e);
                }
                if cursor < end {
                    pieces.push((cursor, end));
                }
            }
            OverlapPolicy::Last => {
                // Cut the older segments back to what the new one does not cover.
                for (s, e) in overlapping {
                    if let Some(old) = self.queue.remove(&s) {
                        self.queued -= old.data.len();
                        stats.memuse -= old.data.len() as u64;
                        if s < start {
                            let keep = (start - s) as usize;
                            self.put(s, keep as u64, old.data.get(..keep).unwrap_or(&[]), stats);
                        }
                        if e > end {
                            let from = (end - s) as usize;
                            self.put(end, e - end, old.data.get(from..).unwrap_or(&[]), stats);
                        }
                    }
                }
                pieces.push((start, end));
            }
        }
        for (s, e) in pieces {
            let bytes = if self.keep_data { (e - s) as usize } else { 0 };
            if self.queued + bytes > config.max_queued_per_stream.saturating_mul(2)
                || stats.memuse as usize + bytes > config.memcap
            {
                stats.memcap_drops += 1;
                continue;
            }
            let slice = &data[(s - start) as usize..(e - start) as usize];
            self.put(s, e - s, slice, stats);
        }
    }

    /// Do queued bytes in `overlapping` differ from `data` (starting at `start`)?
    fn differs(&self, start: u64, data: &[u8], overlapping: &[(u64, u64)]) -> bool {
        let end = start + data.len() as u64;
        overlapping.iter().any(|(s, e)| {
            let Some(old) = self.queue.get(s) else {
                return false;
            };
            let (from, to) = ((*s).max(start), (*e).min(end));
            let old_part = old.data.get((from - s) as usize..(to - s) as usize);
            let new_part = data.get((from - start) as usize..(to - start) as usize);
            matches!((old_part, new_part), (Some(a), Some(b)) if a != b)
        })
    }

    fn put(&mut self, at: u64, len: u64, data: &[u8], stats: &mut ReassemblyStats) {
        let data = if self.keep_data {
            data.to_vec()
        } else {
            Vec::new()
        };
        self.queued += data.len();
        stats.memuse += data.len() as u64;
        self.queue.insert(at, Segment { len, data });
    }

    fn deliver(
        &mut self,
        data: &[u8],
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) {
        self.next += data.len() as u64;
        if self.depth_reached {
            return;
        }
        let room = config.depth.saturating_sub(self.delivered);
        let take = (data.len() as u64).min(room) as usize;
        if take > 0 && self.keep_data {
            let at = self.next - data.len() as u64;
            self.emit(at, Out::Data(&data[..take]), config, stats, sink);
        }
        self.delivered += take as u64;
        if self.delivered >= config.depth {
            self.depth_reached = true;
            stats.depth_reached += 1;
        }
    }

    /// Deliver queued segments that are now in order.
    fn drain(
        &mut self,
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) {
        while let Some(entry) = self.queue.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let at = *entry.key();
            let segment = entry.remove();
            self.queued -= segment.data.len();
            stats.memuse -= segment.data.len() as u64;
            let end = at + segment.len;
            if end <= self.next {
                continue;
            }
            let skip = (self.next - at) as usize;
            if self.keep_data {
                let bytes = segment.data.get(skip..).unwrap_or(&[]);
                self.deliver(bytes, config, stats, sink);
            } else {
                self.deliver_len(end - self.next, config, stats);
            }
        }
    }

    fn deliver_len(&mut self, len: u64, config: &ReassemblyConfig, stats: &mut ReassemblyStats) {
        self.next += len;
        if !self.depth_reached {
            self.delivered += len;
            if self.delivered >= config.depth {
                self.depth_reached = true;
                stats.depth_reached += 1;
            }
        }
    }

    fn declare_gap(
        &mut self,
        len: u64,
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) {
        if len == 0 {
            return;
        }
        let at = self.next;
        self.next += len;
        self.missed_bytes += len;
        stats.gaps += 1;
        stats.gap_bytes += len;
        if !self.depth_reached {
            self.emit(at, Out::Gap(len), config, stats, sink);
        }
    }

    /// Hands in-order output starting at offset `at` to the sink as far as the peer has
    /// acknowledged it, and holds the rest.
    fn emit(
        &mut self,
        at: u64,
        piece: Out<'_>,
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) {
        let len = match piece {
            Out::Data(d) => d.len() as u64,
            Out::Gap(n) => n,
        };
        if config.inline && !self.ready.is_empty() {
            // Delivery switched to on-arrival: what is held goes first.
            self.acked_to = self.acked_to.max(at);
            self.deliver_acked(stats, sink);
        }
        // Without a parser nothing needs the bytes, so nothing is worth holding.
        let now = config.inline
            || !self.keep_data
            || (self.ready.is_empty() && at + len <= self.acked_to);
        let piece = match piece {
            Out::Data(d) if now => return sink.data(d),
            Out::Gap(n) if now => return sink.gap(n),
            Out::Data(d) => {
                self.ready_bytes += d.len();
                stats.memuse += d.len() as u64;
                Ready::Data(d.to_vec())
            }
            Out::Gap(n) => Ready::Gap(n),
        };
        self.ready.push_back((at, piece));
        self.deliver_acked(stats, sink);
        if self.ready_bytes > config.max_queued_per_stream || stats.memuse > config.memcap as u64 {
            // Never acknowledged (a one-way capture, a stalled receiver): inspect the
            // oldest bytes now rather than hold them without bound.
            stats.unacked_delivered += 1;
            while self.ready_bytes > config.max_queued_per_stream / 2
                || (stats.memuse > config.memcap as u64 && self.ready_bytes > 0)
            {
                let Some((at, piece)) = self.ready.pop_front() else {
                    break;
                };
                self.take_ready(&piece, stats);
                self.acked_to = self.acked_to.max(at + piece.len());
                pass(&piece, sink);
            }
        }
    }

    fn take_ready(&mut self, piece: &Ready, stats: &mut ReassemblyStats) {
        if let Ready::Data(d) = piece {
            self.ready_bytes -= d.len();
            stats.memuse -= d.len() as u64;
        }
    }

    /// Hands held output up to the acknowledged offset to the sink.
    fn deliver_acked(&mut self, stats: &mut ReassemblyStats, sink: &mut dyn StreamSink) {
        while let Some((at, piece)) = self.ready.pop_front() {
            if at >= self.acked_to {
                self.ready.push_front((at, piece));
                break;
            }
            self.take_ready(&piece, stats);
            let end = at + piece.len();
            if end <= self.acked_to {
                pass(&piece, sink);
                continue;
            }
            // Acknowledged in part: deliver the head, hold the tail.
            let head = (self.acked_to - at) as usize;
            let tail = match piece {
                Ready::Data(mut d) => {
                    let tail = d.split_off(head);
                    sink.data(&d);
                    self.ready_bytes += tail.len();
                    stats.memuse += tail.len() as u64;
                    Ready::Data(tail)
                }
                Ready::Gap(n) => {
                    sink.gap(head as u64);
                    Ready::Gap(n - head as u64)
                }
            };
            self.ready.push_front((self.acked_to, tail));
            break;
        }
    }

    /// Bytes held until the peer acknowledges them.
    pub fn unacked_bytes(&self) -> usize {
        self.ready_bytes
    }

    fn skip_to_queue(
        &mut self,
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) {
        if let Some(&first) = self.queue.keys().next() {
            if first > self.next {
                self.declare_gap(first - self.next, config, stats, sink);
            }
            self.drain(config, stats, sink);
        }
    }

    /// The peer acknowledged up to `ack`: bytes before it that never arrived are lost.
    /// Returns the bytes declared missing.
    pub fn acked(
        &mut self,
        ack: u32,
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) -> u64 {
        let Some(base) = self.base else {
            return 0;
        };
        let acked = self.offset_of(base, ack);
        // Acks far ahead are bogus or belong to data never in sight; ignore them rather
        // than declare a huge gap (or release held bytes on their word).
        if acked <= 0 || acked - self.next as i64 > (1 << 24) {
            return 0;
        }
        let mut acked = acked as u64;
        if let Some(fin) = self.fin_at {
            // Acknowledging the FIN's sequence number is not acknowledging a byte.
            acked = acked.min(fin);
        }
        if acked > self.acked_to {
            self.acked_to = acked;
            self.deliver_acked(stats, sink);
        }
        if self.depth_reached || acked <= self.next {
            // Past the depth nothing is queued, so holes can no longer be told from data.
            return 0;
        }
        let mut lost = 0;
        while self.next < acked {
            let hole_end = match self.queue.keys().next() {
                Some(&k) if k <= self.next => {
                    self.drain(config, stats, sink);
                    continue;
                }
                Some(&k) => k.min(acked),
                None => acked,
            };
            lost += hole_end - self.next;
            self.declare_gap(hole_end - self.next, config, stats, sink);
            self.drain(config, stats, sink);
        }
        lost
    }

    /// The flow is ending: deliver whatever is queued, declaring the holes as gaps.
    pub fn flush(
        &mut self,
        config: &ReassemblyConfig,
        stats: &mut ReassemblyStats,
        sink: &mut dyn StreamSink,
    ) -> u64 {
        let before = self.missed_bytes;
        // The flow is over: nothing will be acknowledged any more, so everything held or
        // queued is delivered now.
        self.acked_to = u64::MAX;
        self.deliver_acked(stats, sink);
        while !self.queue.is_empty() {
            self.skip_to_queue(config, stats, sink);
        }
        self.missed_bytes - before
    }

    /// Bytes delivered (or skipped) so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

fn pass(piece: &Ready, sink: &mut dyn StreamSink) {
    match piece {
        Ready::Data(d) => sink.data(d),
        Ready::Gap(n) => sink.gap(*n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        data: Vec<u8>,
        gaps: Vec<u64>,
    }

    impl StreamSink for Collect {
        fn data(&mut self, data: &[u8]) {
            self.data.extend_from_slice(data);
        }
        fn gap(&mut self, len: u64) {
            self.gaps.push(len);
            self.data.extend(std::iter::repeat_n(b'_', len as usize));
        }
    }

    /// An inline stream: bytes reach the sink on arrival, so the tests of ordering,
    /// overlaps and gaps need no acknowledgements.
    fn setup() -> (Stream, ReassemblyConfig, ReassemblyStats, Collect) {
        let mut s = Stream::new(true);
        s.syn(999);
        (
            s,
            ReassemblyConfig {
                inline: true,
                ..ReassemblyConfig::default()
            },
            ReassemblyStats::default(),
            Collect::default(),
        )
    }

    /// A passive stream: bytes reach the sink once the peer acknowledges them.
    fn passive() -> (Stream, ReassemblyConfig, ReassemblyStats, Collect) {
        let (s, c, st, out) = setup();
        let c = ReassemblyConfig { inline: false, ..c };
        (s, c, st, out)
    }

    #[test]
    fn passive_delivery_waits_for_the_peers_ack() {
        let (mut s, c, mut st, mut out) = passive();
        s.segment(1000, b"hello ", &c, &mut st, &mut out);
        s.segment(1006, b"world", &c, &mut st, &mut out);
        assert!(out.data.is_empty(), "nothing acknowledged yet");
        assert_eq!(s.unacked_bytes(), 11);
        assert_eq!(st.memuse, 11, "held bytes count against the budget");
        // A partial acknowledgement releases only what it covers, even mid-segment.
        s.acked(1003, &c, &mut st, &mut out);
        assert_eq!(out.data, b"hel");
        s.acked(1011, &c, &mut st, &mut out);
        assert_eq!(out.data, b"hello world");
        assert_eq!((s.unacked_bytes(), st.memuse), (0, 0));
        // Once acknowledged, later in-order bytes wait again.
        s.segment(1011, b"!", &c, &mut st, &mut out);
        assert_eq!(out.data, b"hello world");
        // An old or repeated ack changes nothing.
        s.acked(1005, &c, &mut st, &mut out);
        assert_eq!(out.data, b"hello world");
        s.acked(1012, &c, &mut st, &mut out);
        assert_eq!(out.data, b"hello world!");
    }

    #[test]
    fn passive_bytes_after_the_last_ack_wait_for_the_next() {
        let (mut s, c, mut st, mut out) = passive();
        s.segment(1000, b"abc", &c, &mut st, &mut out);
        s.acked(1003, &c, &mut st, &mut out);
        // Everything held went out; the next bytes wait for their own acknowledgement.
        s.segment(1003, b"def", &c, &mut st, &mut out);
        assert_eq!(out.data, b"abc");
        s.acked(1006, &c, &mut st, &mut out);
        assert_eq!(out.data, b"abcdef");
    }

    #[test]
    fn passive_gap_keeps_its_place_among_held_bytes() {
        let (mut s, c, mut st, mut out) = passive();
        s.segment(1000, b"abc", &c, &mut st, &mut out);
        s.segment(1010, b"xyz", &c, &mut st, &mut out);
        assert_eq!(s.acked(1013, &c, &mut st, &mut out), 7);
        assert_eq!(out.data, b"abc_______xyz");
        assert_eq!(out.gaps, vec![7]);
        assert_eq!(st.memuse, 0);
    }

    #[test]
    fn passive_flush_at_flow_end_hands_over_what_was_never_acked() {
        let (mut s, c, mut st, mut out) = passive();
        s.segment(1000, b"GET / HTTP/1.1", &c, &mut st, &mut out);
        s.segment(1020, b"late", &c, &mut st, &mut out);
        s.acked(1004, &c, &mut st, &mut out);
        assert_eq!(out.data, b"GET ");
        // The stream ends (FIN, RST or timeout): held bytes, then the hole as a gap, then
        // the queued segment.
        assert_eq!(s.flush(&c, &mut st, &mut out), 6);
        assert_eq!(out.data, b"GET / HTTP/1.1______late");
        assert_eq!((s.unacked_bytes(), st.memuse), (0, 0));
    }

    #[test]
    fn passive_fin_ack_releases_the_last_bytes() {
        let (mut s, c, mut st, mut out) = passive();
        s.segment(1000, b"bye", &c, &mut st, &mut out);
        s.fin(1000, 3);
        // The peer acknowledges the bytes and the FIN's sequence number.
        assert_eq!(s.acked(1004, &c, &mut st, &mut out), 0);
        assert_eq!(out.data, b"bye");
        assert_eq!(s.missed_bytes, 0);
    }

    #[test]
    fn passive_bytes_never_acked_stay_within_the_stream_bound() {
        let (mut s, _, mut st, mut out) = passive();
        let c = ReassemblyConfig {
            inline: false,
            max_queued_per_stream: 64,
            ..ReassemblyConfig::default()
        };
        // A one-way capture: 10 000 bytes, no acknowledgement ever.
        for i in 0..1000u32 {
            s.segment(1000 + i * 10, b"0123456789", &c, &mut st, &mut out);
            assert!(s.unacked_bytes() <= 64, "held {}", s.unacked_bytes());
            assert!(st.memuse <= 64);
        }
        assert!(st.unacked_delivered > 0);
        // Nothing lost: the oldest bytes went to the sink, in order.
        assert_eq!(out.data.len() + s.unacked_bytes(), 10_000);
        assert!(out.data.starts_with(b"01234567890123456789"));
        s.flush(&c, &mut st, &mut out);
        assert_eq!(out.data.len(), 10_000);
        assert!(out.gaps.is_empty());
    }

    #[test]
    fn passive_bytes_never_acked_stay_within_the_global_budget() {
        let c = ReassemblyConfig {
            inline: false,
            memcap: 100,
            ..ReassemblyConfig::default()
        };
        let mut st = ReassemblyStats::default();
        let mut out = Collect::default();
        let mut streams: Vec<Stream> = (0..8).map(|_| Stream::new(true)).collect();
        for (i, s) in streams.iter_mut().enumerate() {
            s.syn(i as u32 * 1000);
            for k in 0..10u32 {
                s.segment(
                    i as u32 * 1000 + 1 + k * 30,
                    &[b'x'; 30],
                    &c,
                    &mut st,
                    &mut out,
                );
                assert!(st.memuse <= 100, "memuse {}", st.memuse);
            }
        }
        for s in &mut streams {
            s.release(&mut st);
        }
        assert_eq!(st.memuse, 0, "releasing the streams frees every held byte");
    }

    #[test]
    fn inline_delivers_on_arrival() {
        let (mut s, c, mut st, mut out) = setup();
        s.segment(1000, b"now", &c, &mut st, &mut out);
        assert_eq!(out.data, b"now");
        assert_eq!(s.unacked_bytes(), 0);
    }

    #[test]
    fn out_of_order_segments_come_out_in_order() {
        let (mut s, c, mut st, mut out) = setup();
        s.segment(1006, b"world", &c, &mut st, &mut out);
        s.segment(1011, b"!", &c, &mut st, &mut out);
        assert!(out.data.is_empty());
        assert_eq!(st.memuse, 6);
        s.segment(1000, b"hello ", &c, &mut st, &mut out);
        assert_eq!(out.data, b"hello world!");
        assert_eq!(st.memuse, 0);
    }

    #[test]
    fn overlap_first_wins_by_default_and_last_when_configured() {
        for (policy, want) in [
            (OverlapPolicy::First, b"abcdXYZh"),
            (OverlapPolicy::Last, b"abcdxyzh"),
        ] {
            let mut s = Stream::new(true);
            s.syn(99);
            let c = ReassemblyConfig {
                overlap: policy,
                inline: true,
                ..ReassemblyConfig::default()
            };
            let mut st = ReassemblyStats::default();
            let mut out = Collect::default();
            s.segment(104, b"XYZ", &c, &mut st, &mut out);
            s.segment(104, b"xyzh", &c, &mut st, &mut out);
            s.segment(100, b"abcd", &c, &mut st, &mut out);
            assert_eq!(&out.data, want, "{policy:?}");
            assert!(st.overlaps >= 1);
            assert_eq!(st.overlap_diff_data, 1, "XYZ against xyz differs");
        }
    }

    #[test]
    fn retransmission_of_delivered_bytes_is_flagged_and_not_redelivered() {
        let (mut s, c, mut st, mut out) = setup();
        assert!(!s.segment(1000, b"abc", &c, &mut st, &mut out));
        assert!(s.segment(1000, b"abc", &c, &mut st, &mut out));
        assert_eq!(out.data, b"abc");
    }

    #[test]
    fn acked_hole_becomes_a_gap_counted_in_missed_bytes() {
        let (mut s, c, mut st, mut out) = setup();
        s.segment(1000, b"abc", &c, &mut st, &mut out);
        s.segment(1010, b"xyz", &c, &mut st, &mut out);
        // The receiver acknowledges everything: bytes 1003..1010 were sent but not seen.
        assert_eq!(s.acked(1013, &c, &mut st, &mut out), 7);
        assert_eq!(out.data, b"abc_______xyz");
        assert_eq!(out.gaps, vec![7]);
        assert_eq!(s.missed_bytes, 7);
        assert_eq!(st.gaps, 1);
    }

    #[test]
    fn acknowledging_the_fin_is_not_a_gap() {
        let (mut s, c, mut st, mut out) = setup();
        s.segment(1000, b"abc", &c, &mut st, &mut out);
        s.fin(1003, 0);
        assert_eq!(s.acked(1004, &c, &mut st, &mut out), 0);
        assert_eq!(s.missed_bytes, 0);
    }

    #[test]
    fn flush_turns_remaining_holes_into_gaps() {
        let (mut s, c, mut st, mut out) = setup();
        s.segment(1005, b"late", &c, &mut st, &mut out);
        assert_eq!(s.flush(&c, &mut st, &mut out), 5);
        assert_eq!(out.data, b"_____late");
    }

    #[test]
    fn depth_limit_stops_delivery_and_is_counted_once() {
        let (mut s, _, mut st, mut out) = setup();
        let c = ReassemblyConfig {
            depth: 4,
            inline: true,
            ..ReassemblyConfig::default()
        };
        s.segment(1000, b"abcdef", &c, &mut st, &mut out);
        s.segment(1006, b"ghi", &c, &mut st, &mut out);
        assert_eq!(out.data, b"abcd");
        assert_eq!(st.depth_reached, 1);
    }

    #[test]
    fn queue_over_its_bound_gives_up_on_the_hole() {
        let (mut s, _, mut st, mut out) = setup();
        let c = ReassemblyConfig {
            max_queued_per_stream: 8,
            inline: true,
            ..ReassemblyConfig::default()
        };
        s.segment(1010, b"0123456789", &c, &mut st, &mut out);
        assert_eq!(out.gaps, vec![10]);
        assert_eq!(&out.data[10..], b"0123456789");
        assert_eq!(st.memuse, 0);
    }

    #[test]
    fn sequence_wrap_is_seamless() {
        let mut s = Stream::new(true);
        s.syn(u32::MAX - 2);
        let c = ReassemblyConfig {
            inline: true,
            ..ReassemblyConfig::default()
        };
        let mut st = ReassemblyStats::default();
        let mut out = Collect::default();
        s.segment(u32::MAX - 1, b"ab", &c, &mut st, &mut out);
        s.segment(0, b"cd", &c, &mut st, &mut out);
        assert_eq!(out.data, b"abcd");
    }
}
