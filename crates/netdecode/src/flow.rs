//! The bidirectional flow table.
//!
//! Flows are keyed by the unordered pair of endpoints, the protocol and the VLAN ids, so
//! both directions land on one entry. Entries live in a slab threaded on a
//! least-recently-used list: the head is always the flow idle longest, which is the one to
//! evict when the table is full and where the timeout sweep starts. Time is packet time;
//! nothing here reads the wall clock.

use crate::conn::{ConnSummary, ORIG, RESP};
use crate::decode::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::reassembly::Stream;
use picket_event::Timestamp;
use picket_proto::{AppEvent, AppParser};
use std::collections::HashMap;
use std::net::IpAddr;

/// The key both directions of a flow share: endpoints in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub addrs: [IpAddr; 2],
    pub ports: [u16; 2],
    pub proto: u8,
    pub vlan: [u16; 2],
    /// IPsec ESP: the security association's SPI, which tells apart the associations
    /// between two hosts (each one-way); 0 for other protocols.
    pub spi: u32,
}

impl FlowKey {
    /// The key for a packet from `src` to `dst`, and whether `src` is the key's side 0.
    pub fn new(
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        proto: u8,
        vlan: [u16; 2],
    ) -> (Self, bool) {
        let forward = (src, sport) <= (dst, dport);
        let key = if forward {
            FlowKey {
                addrs: [src, dst],
                ports: [sport, dport],
                proto,
                vlan,
                spi: 0,
            }
        } else {
            FlowKey {
                addrs: [dst, src],
                ports: [dport, sport],
                proto,
                vlan,
                spi: 0,
            }
        };
        (key, forward)
    }
}

/// Idle timeouts in seconds of packet time, by protocol and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTimeouts {
    pub tcp_new: i64,
    pub tcp_established: i64,
    pub tcp_closed: i64,
    pub udp_new: i64,
    pub udp_established: i64,
    pub icmp_new: i64,
    pub icmp_established: i64,
    pub other_new: i64,
    pub other_established: i64,
}

impl Default for FlowTimeouts {
    /// Suricata's defaults.
    fn default() -> Self {
        FlowTimeouts {
            tcp_new: 60,
            tcp_established: 600,
            tcp_closed: 60,
            udp_new: 30,
            udp_established: 300,
            icmp_new: 30,
            icmp_established: 300,
            other_new: 30,
            other_established: 300,
        }
    }
}

impl FlowTimeouts {
    fn min(&self) -> i64 {
        [
            self.tcp_new,
            self.tcp_established,
            self.tcp_closed,
            self.udp_new,
            self.udp_established,
            self.icmp_new,
            self.icmp_established,
            self.other_new,
            self.other_established,
        ]
        .into_iter()
        .min()
        .unwrap_or(0)
    }
}

/// Flow table limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// Flows held at once; beyond it the flow idle longest is evicted.
    pub max_flows: usize,
    /// Bytes of flow state (entries, not reassembly buffers) held at once.
    pub memcap: usize,
    pub timeouts: FlowTimeouts,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            memcap: 64 << 20,
            timeouts: FlowTimeouts::default(),
        }
    }
}

/// Why a flow record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Idle past its timeout.
    Timeout,
    /// Evicted to make room (entry cap or memcap).
    Forced,
    /// Still open when the input ended.
    Shutdown,
}

impl EndReason {
    /// EVE's `flow.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Forced => "forced",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// The application-layer parser of a flow.
#[derive(Debug, Default)]
pub enum AppSlot {
    /// Not chosen yet: waiting for payload. Counts the payloads tried.
    #[default]
    Pending,
    Attached(Box<dyn AppParser>),
    /// Nothing recognised the flow; its payload is no longer kept.
    Unknown,
}

/// ICMP type and code per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpInfo {
    pub icmp_type: Option<(u8, u8)>,
    pub response: Option<(u8, u8)>,
}

/// One flow, oriented from its originator (`ORIG`, to-server) to its responder (`RESP`).
#[derive(Debug)]
pub struct Flow {
    pub key: FlowKey,
    /// The key side (0 or 1) of the originator.
    pub orig_side: usize,
    pub flow_id: u64,
    pub community_id: String,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub tcp_flags: [u8; 2],
    pub conn: ConnSummary,
    /// TCP only: reassembly per direction, created when the first payload, FIN or
    /// meaningful ACK arrives (a bare SYN, as in a flood, costs no stream state).
    pub streams: Option<Box<[Stream; 2]>>,
    /// TCP: each direction's SYN sequence number, kept until the streams exist.
    pub syn_seq: [Option<u32>; 2],
    pub app: AppSlot,
    pub app_tries: u8,
    pub icmp: IcmpInfo,
    pub alerted: bool,
    /// Each direction's lowest and highest IP TTL (hop limit), for `netflow` records;
    /// meaningless while that direction has no packets.
    pub ttl: [(u8, u8); 2],
    /// The Ethernet addresses seen on each side, when the sensor logs them.
    pub macs: Option<Box<MacSets>>,
    /// Transactions detection asked not to log whose last record has not come yet (a DNS
    /// query's id until its response), at most [`MAX_QUIET_TXS`].
    pub quiet_txs: Vec<u64>,
}

/// Quieted transactions remembered per flow; beyond it the oldest is forgotten (its later
/// records are then logged).
pub const MAX_QUIET_TXS: usize = 16;

/// The key tying an app-layer record to its transaction's other records, for protocols
/// that log a transaction as more than one record: a DNS message's id.
fn tx_key(event: &AppEvent) -> Option<u64> {
    match event.event_type {
        "dns" => event.body.get("id").and_then(serde_json::Value::as_u64),
        _ => None,
    }
}

/// MAC addresses a flow's sides used, at most [`MAX_FLOW_MACS`] each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacSets {
    /// By role: `[ORIG]` the client's addresses, `[RESP]` the server's, first seen first.
    pub side: [Vec<[u8; 6]>; 2],
}

/// Addresses kept per side of a flow; more (a flow routed over changing next hops, or
/// spoofed frames) are counted as dropped and not kept.
pub const MAX_FLOW_MACS: usize = 8;

impl MacSets {
    /// Records a frame travelling in `dir` from `src` to `dst`; returns how many addresses
    /// did not fit.
    pub fn add(&mut self, dir: usize, src: [u8; 6], dst: [u8; 6]) -> u64 {
        let mut dropped = 0;
        for (role, mac) in [(dir, src), (1 - dir, dst)] {
            let set = &mut self.side[role];
            if set.contains(&mac) {
                continue;
            }
            if set.len() < MAX_FLOW_MACS {
                set.push(mac);
            } else {
                dropped += 1;
            }
        }
        dropped
    }
}

/// A MAC address as EVE writes it: lowercase hex pairs joined by colons.
pub fn mac_text(mac: &[u8; 6]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

impl Flow {
    pub fn src(&self) -> (IpAddr, u16) {
        (
            self.key.addrs[self.orig_side],
            self.key.ports[self.orig_side],
        )
    }

    pub fn dst(&self) -> (IpAddr, u16) {
        (
            self.key.addrs[1 - self.orig_side],
            self.key.ports[1 - self.orig_side],
        )
    }

    /// ORIG or RESP for a packet whose source is key side `side`.
    pub fn direction_of(&self, side: usize) -> usize {
        if side == self.orig_side {
            ORIG
        } else {
            RESP
        }
    }

    /// Records a packet's TTL in direction `dir`; call after counting the packet.
    pub fn note_ttl(&mut self, dir: usize, ttl: u8) {
        let slot = &mut self.ttl[dir];
        *slot = if self.pkts[dir] <= 1 {
            (ttl, ttl)
        } else {
            (slot.0.min(ttl), slot.1.max(ttl))
        };
    }

    /// Whether an app-layer record stays out of the log: detection asked so (`quiet`, a
    /// `config` rule's `logging disable, type tx`), or the record belongs to a transaction
    /// quieted earlier (the response to a quieted DNS query).
    pub fn quiet_record(&mut self, event: &AppEvent, quiet: bool) -> bool {
        let Some(key) = tx_key(event) else {
            return quiet;
        };
        let known = self.quiet_txs.iter().position(|k| *k == key);
        let last = event.body.get("type").and_then(serde_json::Value::as_str) == Some("response");
        match (known, last) {
            (Some(i), true) => {
                self.quiet_txs.remove(i);
                true
            }
            (Some(_), false) => true,
            (None, false) if quiet => {
                if self.quiet_txs.len() >= MAX_QUIET_TXS {
                    self.quiet_txs.remove(0);
                }
                self.quiet_txs.push(key);
                true
            }
            (None, _) => quiet,
        }
    }

    /// Both directions have sent something.
    pub fn bidirectional(&self) -> bool {
        self.pkts[ORIG] > 0 && self.pkts[RESP] > 0
    }

    /// EVE's `flow.state`: `new`, `established` or `closed`.
    pub fn state(&self) -> &'static str {
        if self.key.proto == PROTO_TCP {
            if self.conn.tcp_closed() {
                "closed"
            } else if self.conn.tcp_established() {
                "established"
            } else {
                "new"
            }
        } else if self.bidirectional() {
            "established"
        } else {
            "new"
        }
    }

    /// Zeek's `conn_state`.
    pub fn conn_state(&self) -> &'static str {
        match self.key.proto {
            PROTO_TCP => self.conn.tcp_conn_state(),
            PROTO_UDP => self.conn.udp_conn_state(),
            _ => "OTH",
        }
    }

    /// Bytes lost in gaps, both directions.
    pub fn missed_bytes(&self) -> u64 {
        self.streams
            .as_ref()
            .map(|s| s[0].missed_bytes + s[1].missed_bytes)
            .unwrap_or(0)
    }

    fn timeout(&self, t: &FlowTimeouts) -> i64 {
        let established = self.bidirectional();
        match self.key.proto {
            PROTO_TCP => {
                if self.conn.tcp_closed() {
                    t.tcp_closed
                } else if self.conn.tcp_established() {
                    t.tcp_established
                } else {
                    t.tcp_new
                }
            }
            PROTO_UDP if established => t.udp_established,
            PROTO_UDP => t.udp_new,
            PROTO_ICMP | PROTO_ICMPV6 if established => t.icmp_established,
            PROTO_ICMP | PROTO_ICMPV6 => t.icmp_new,
            _ if established => t.other_established,
            _ => t.other_new,
        }
    }
}

/// What the table has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub active: u64,
    /// Most flows held at once.
    pub peak_active: u64,
    pub total: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmpv4: u64,
    pub icmpv6: u64,
    pub timeouts: u64,
    /// Flows evicted because the table was at `max_flows` or `memcap`.
    pub evicted: u64,
    /// Estimated bytes of flow state held now.
    pub memuse: u64,
}

const NIL: usize = usize::MAX;

#[derive(Debug)]
struct Slot {
    flow: Option<Flow>,
    prev: usize,
    next: usize,
}

/// The flow table.
#[derive(Debug)]
pub struct FlowTable {
    config: FlowConfig,
    map: HashMap<FlowKey, usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    stats: FlowStats,
}

/// Most slots the table reserves before it needs them.
const PRESIZE_MAX: usize = 1 << 17;

/// Estimated bytes per flow: the slot, the map entry and the boxed streams.
const FLOW_COST: usize = std::mem::size_of::<Slot>()
    + std::mem::size_of::<(FlowKey, usize)>()
    + std::mem::size_of::<[Stream; 2]>()
    + 64;

impl FlowTable {
    pub fn new(config: FlowConfig) -> Self {
        // Sized for the table's limit up front: growing by doubling copied every slot and
        // rehashed every key, and left the old arrays in the allocator at the peak (a full
        // table of 65,536 flows paid about 12 MiB for it). Untouched capacity costs no
        // resident memory, and the cap keeps a huge configured limit from reserving much.
        let capacity = config
            .max_flows
            .min(config.memcap / FLOW_COST)
            .clamp(1, PRESIZE_MAX);
        FlowTable {
            config,
            map: HashMap::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            stats: FlowStats::default(),
        }
    }

    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The slot of `key`'s flow, if it exists.
    pub fn find(&self, key: &FlowKey) -> Option<usize> {
        self.map.get(key).copied()
    }

    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Flow> {
        self.slots.get_mut(slot)?.flow.as_mut()
    }

    /// Insert a new flow, evicting the flows idle longest while the table is over its
    /// limits. Evicted flows go to `evicted`.
    pub fn insert(&mut self, flow: Flow, evicted: &mut Vec<(Flow, EndReason)>) -> usize {
        let max = self.config.max_flows.max(1);
        let max_by_mem = (self.config.memcap / FLOW_COST).max(1);
        while self.map.len() >= max.min(max_by_mem) && self.head != NIL {
            let oldest = self.head;
            if let Some(old) = self.remove(oldest) {
                self.stats.evicted += 1;
                evicted.push((old, EndReason::Forced));
            }
        }
        match flow.key.proto {
            PROTO_TCP => self.stats.tcp += 1,
            PROTO_UDP => self.stats.udp += 1,
            PROTO_ICMP => self.stats.icmpv4 += 1,
            PROTO_ICMPV6 => self.stats.icmpv6 += 1,
            _ => {}
        }
        self.stats.total += 1;
        let key = flow.key;
        let slot = Slot {
            flow: Some(flow),
            prev: NIL,
            next: NIL,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.map.insert(key, index);
        self.link_tail(index);
        self.stats.active = self.map.len() as u64;
        self.stats.peak_active = self.stats.peak_active.max(self.stats.active);
        self.stats.memuse = (self.map.len() * FLOW_COST) as u64;
        index
    }

    /// Mark `slot` as just used.
    pub fn touch(&mut self, slot: usize) {
        if self.tail == slot {
            return;
        }
        self.unlink(slot);
        self.link_tail(slot);
    }

    /// Take a flow out of the table.
    pub fn remove(&mut self, slot: usize) -> Option<Flow> {
        let flow = self.slots.get_mut(slot)?.flow.take()?;
        self.unlink(slot);
        self.map.remove(&flow.key);
        self.free.push(slot);
        self.stats.active = self.map.len() as u64;
        self.stats.memuse = (self.map.len() * FLOW_COST) as u64;
        Some(flow)
    }

    /// Remove flows idle past their timeout at packet time `now`, at most `max` of them.
    /// Returns `true` if the sweep stopped at `max` and more may be due.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<(Flow, EndReason)>, max: usize) -> bool {
        let min = self.config.timeouts.min();
        let mut cursor = self.head;
        let mut removed = 0;
        while cursor != NIL {
            if removed >= max {
                return true;
            }
            let next = self.slots[cursor].next;
            let Some(flow) = self.slots[cursor].flow.as_ref() else {
                break;
            };
            let idle = (now.as_micros() - flow.last_ts.as_micros()) / 1_000_000;
            if idle < min {
                // Everything after this was used more recently.
                break;
            }
            if idle >= flow.timeout(&self.config.timeouts) {
                if let Some(flow) = self.remove(cursor) {
                    self.stats.timeouts += 1;
                    removed += 1;
                    out.push((flow, EndReason::Timeout));
                }
            }
            cursor = next;
        }
        false
    }

    /// Remove up to `max` flows, oldest first. Returns `true` while flows remain.
    pub fn drain(&mut self, out: &mut Vec<(Flow, EndReason)>, max: usize) -> bool {
        for _ in 0..max {
            if self.head == NIL {
                break;
            }
            let head = self.head;
            if let Some(flow) = self.remove(head) {
                out.push((flow, EndReason::Shutdown));
            }
        }
        self.head != NIL
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        if prev != NIL {
            self.slots[prev].next = next;
        } else if self.head == i {
            self.head = next;
        }
        if next != NIL {
            self.slots[next].prev = prev;
        } else if self.tail == i {
            self.tail = prev;
        }
        self.slots[i].prev = NIL;
        self.slots[i].next = NIL;
    }

    fn link_tail(&mut self, i: usize) {
        self.slots[i].prev = self.tail;
        self.slots[i].next = NIL;
        if self.tail != NIL {
            self.slots[self.tail].next = i;
        } else {
            self.head = i;
        }
        self.tail = i;
    }
}

/// A stable 51-bit flow id: FNV-1a over the key and the first packet's time. The same
/// capture always gives the same ids; 51 bits survive JSON readers that use doubles.
pub fn flow_id(key: &FlowKey, first_ts: Timestamp) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for addr in &key.addrs {
        match addr {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
    }
    eat(&key.ports[0].to_be_bytes());
    eat(&key.ports[1].to_be_bytes());
    eat(&[key.proto]);
    eat(&key.vlan[0].to_be_bytes());
    eat(&key.vlan[1].to_be_bytes());
    if key.spi != 0 {
        // Only then, so the ids of other flows stay what they were.
        eat(&key.spi.to_be_bytes());
    }
    eat(&first_ts.as_micros().to_be_bytes());
    // A zero id reads as "none" to some consumers.
    (h & ((1 << 51) - 1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn flow(port: u16, ts: i64) -> Flow {
        let (key, _) = FlowKey::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            80,
            PROTO_UDP,
            [0, 0],
        );
        Flow {
            key,
            orig_side: 0,
            flow_id: flow_id(&key, Timestamp::from_secs(ts)),
            community_id: String::new(),
            first_ts: Timestamp::from_secs(ts),
            last_ts: Timestamp::from_secs(ts),
            pkts: [1, 0],
            bytes: [100, 0],
            tcp_flags: [0, 0],
            conn: ConnSummary::default(),
            streams: None,
            syn_seq: [None, None],
            app: AppSlot::Unknown,
            app_tries: 0,
            icmp: IcmpInfo::default(),
            alerted: false,
            ttl: [(64, 64), (0, 0)],
            macs: None,
            quiet_txs: Vec::new(),
        }
    }

    #[test]
    fn mac_sets_keep_each_side_once_and_stay_bounded() {
        let mut m = MacSets::default();
        let (a, b) = (
            [0xd8, 0xcb, 0x8a, 0xed, 0xa1, 0x46],
            [0, 0x15, 0x17, 0x0d, 6, 0xf7],
        );
        assert_eq!(m.add(ORIG, a, b), 0);
        // The reply: source and destination swap, the sides do not.
        assert_eq!(m.add(RESP, b, a), 0);
        assert_eq!(m.side, [vec![a], vec![b]]);
        assert_eq!(mac_text(&a), "d8:cb:8a:ed:a1:46");
        let mut dropped = 0;
        for i in 0..20u8 {
            dropped += m.add(ORIG, [2, 0, 0, 0, 0, i], b);
        }
        assert_eq!(m.side[ORIG].len(), MAX_FLOW_MACS);
        assert_eq!(m.side[RESP], vec![b]);
        assert_eq!(dropped, 20 + 1 - MAX_FLOW_MACS as u64);
    }

    #[test]
    fn a_quieted_dns_query_quiets_its_response_only() {
        let mut f = flow(1000, 1);
        let msg =
            |id: u64, kind: &str| AppEvent::new("dns", serde_json::json!({"type": kind, "id": id}));
        assert!(f.quiet_record(&msg(7, "request"), true));
        assert!(!f.quiet_record(&msg(8, "request"), false));
        assert!(!f.quiet_record(&msg(8, "response"), false));
        assert!(f.quiet_record(&msg(7, "response"), false));
        // The transaction is over: the id is free again.
        assert!(!f.quiet_record(&msg(7, "request"), false));
        assert!(f.quiet_txs.is_empty());
        // Bounded: the oldest quieted query is forgotten.
        for id in 0..(MAX_QUIET_TXS as u64 + 4) {
            assert!(f.quiet_record(&msg(100 + id, "request"), true));
        }
        assert_eq!(f.quiet_txs.len(), MAX_QUIET_TXS);
        assert!(!f.quiet_record(&msg(100, "response"), false));
        // Records without a transaction key follow the flag alone.
        let http = AppEvent::new("http", serde_json::json!({"id": 1}));
        assert!(f.quiet_record(&http, true));
        assert!(!f.quiet_record(&http, false));
    }

    #[test]
    fn key_is_the_same_both_ways() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let (k1, f1) = FlowKey::new(a, 1234, b, 80, PROTO_TCP, [5, 0]);
        let (k2, f2) = FlowKey::new(b, 80, a, 1234, PROTO_TCP, [5, 0]);
        assert_eq!(k1, k2);
        assert_ne!(f1, f2);
        let (k3, _) = FlowKey::new(a, 1234, b, 80, PROTO_TCP, [6, 0]);
        assert_ne!(k1, k3, "VLANs separate flows");
    }

    #[test]
    fn full_table_evicts_the_flow_idle_longest() {
        let mut table = FlowTable::new(FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        });
        let mut out = Vec::new();
        let first = table.insert(flow(1, 0), &mut out);
        table.insert(flow(2, 1), &mut out);
        table.touch(first);
        table.insert(flow(3, 2), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.key.ports[0], 2, "port 1 was used more recently");
        assert_eq!(out[0].1, EndReason::Forced);
        assert_eq!(table.stats().evicted, 1);
        assert_eq!(table.stats().peak_active, 2);
    }

    #[test]
    fn timeouts_follow_packet_time_and_state() {
        let mut table = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        table.insert(flow(1, 0), &mut out);
        let mut both_ways = flow(2, 0);
        both_ways.pkts = [1, 1];
        table.insert(both_ways, &mut out);
        table.expire(Timestamp::from_secs(29), &mut out, usize::MAX);
        assert!(out.is_empty());
        table.expire(Timestamp::from_secs(31), &mut out, usize::MAX);
        assert_eq!(out.len(), 1, "only the one-way UDP flow is past 30 s");
        table.expire(Timestamp::from_secs(301), &mut out, usize::MAX);
        assert_eq!(out.len(), 2);
        assert!(table.is_empty());
    }

    #[test]
    fn flow_id_is_stable_and_fits_51_bits() {
        let f = flow(1, 0);
        assert_eq!(flow_id(&f.key, f.first_ts), f.flow_id);
        assert!(f.flow_id < 1 << 51);
        assert_ne!(flow_id(&f.key, Timestamp::from_secs(1)), f.flow_id);
    }
}
