//! The sensor pipeline: decode, defragment, track flows, reassemble, run app-layer parsers,
//! and describe it all as EVE events.

use crate::community_id::{community_id_v1, icmp_ports};
use crate::conn::{ConnSummary, EndpointState, ORIG, RESP};
use crate::decode::{
    decode_esp, decode_ipv4, decode_ipv6, decode_link, decode_transport, tcp_flags,
    transport_header, walk_ipv6_extensions, DecodeEvent, LinkKind, Network, Transport, PROTO_ESP,
    PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};
use crate::defrag::{DefragConfig, Defragmenter, FragmentIn, Outcome};
use crate::flow::{
    flow_id, mac_text, AppSlot, EndReason, Flow, FlowConfig, FlowKey, FlowTable, IcmpInfo,
};
use crate::inspect::{AppView, EncryptionHandling, Inspector, PacketView, TcpHeader, Verdict};
use crate::reassembly::{ReassemblyConfig, ReassemblyStats, Stream, StreamSink};
use picket_event::{tcp_flag_fields, Endpoints, Event, FlowRecord, FlowTcp, Timestamp};
use picket_proto::{AppEvent, Direction};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Everything the sensor needs to know before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorConfig {
    pub flow: FlowConfig,
    pub defrag: DefragConfig,
    pub reassembly: ReassemblyConfig,
    /// The sensor's name, written as EVE's `host`.
    pub host: Option<String>,
    /// Community ID seed; 0 unless every tool in the deployment agrees on another.
    pub community_id_seed: u16,
    /// Run app-layer parsers (off: flows and anomalies only).
    pub app_layer: bool,
    /// Write an `anomaly` event per malformed packet (counters are kept either way).
    pub anomaly_events: bool,
    /// How `dns` records are written (version, requests/responses, query types).
    pub dns_log: picket_proto::dns::DnsLogConfig,
    /// Also describe each ended flow as `netflow` records, one per direction that sent
    /// packets (Suricata's unidirectional flow log).
    pub netflow: bool,
    /// Write the Ethernet addresses: `ether.src_mac`/`dest_mac` on records about a packet,
    /// `ether.src_macs`/`dest_macs` (each side's addresses) on `flow` and `netflow`.
    pub ethernet: bool,
    /// What detection does with encrypted TLS and SSH data.
    pub encryption: EncryptionHandling,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            flow: FlowConfig::default(),
            defrag: DefragConfig::default(),
            reassembly: ReassemblyConfig::default(),
            host: None,
            community_id_seed: 0,
            app_layer: true,
            anomaly_events: true,
            dns_log: Default::default(),
            netflow: false,
            ethernet: false,
            encryption: EncryptionHandling::default(),
        }
    }
}

/// Counters of the packet source, for the `stats` event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounters {
    pub kernel_packets: u64,
    pub kernel_drops: u64,
    pub errors: u64,
}

/// What the decoders counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecoderCounters {
    pub pkts: u64,
    pub bytes: u64,
    pub invalid: u64,
    pub ethernet: u64,
    pub vlan: u64,
    pub vlan_qinq: u64,
    pub sll: u64,
    pub sll2: u64,
    pub raw: u64,
    pub null: u64,
    pub ppp: u64,
    pub arp: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmpv4: u64,
    pub icmpv6: u64,
    pub esp: u64,
    pub unknown_ethertype: u64,
    pub max_pkt_size: u64,
    /// Packets cut short by the capture's snapshot length.
    pub snapped: u64,
    /// MAC addresses a flow side used beyond the per-flow limit, not logged.
    pub macs_dropped: u64,
    /// Decoder events by name (`ipv4.trunc_pkt`).
    pub events: BTreeMap<&'static str, u64>,
    /// App-layer events produced, by event type.
    pub app_events: BTreeMap<&'static str, u64>,
    /// Ended flows by app-layer protocol, named as Suricata's `app_layer.flow` counters
    /// name them (`dns_udp`, `failed_tcp`).
    pub app_flows: BTreeMap<&'static str, u64>,
    /// Parser errors of ended flows, by the same names (`app_layer.error.<name>.parser`).
    pub app_errors: BTreeMap<&'static str, u64>,
}

/// EVE's `pkt_src` for records the end of a flow produced rather than a packet.
const FLOW_END_PKT_SRC: &str = "stream (flow timeout)";

/// Decoder event names that Suricata's schema does not list; reported under `picket`.
const PICKET_ONLY_EVENTS: &[&str] = &[
    "link.unsupported_type",
    "ipv6.hopopts_not_first",
    "ipv6.exthdr_too_many",
    "stream.reassembly_overlap_different_data",
];

/// Run the sensor pipeline over packets.
#[derive(Debug)]
pub struct Sensor {
    config: SensorConfig,
    defrag: Defragmenter,
    flows: FlowTable,
    reassembly: ReassemblyStats,
    decoder: DecoderCounters,
    first_ts: Option<Timestamp>,
    now: Timestamp,
    last_sweep: Timestamp,
    notes: Vec<DecodeEvent>,
    ended: Vec<(Flow, EndReason)>,
    app_events: Vec<AppEvent>,
    /// The direction (`ORIG`/`RESP`) whose bytes completed each of `app_events`: with
    /// delivery on acknowledgement, a packet completes records of the other direction.
    app_dirs: Vec<usize>,
    /// Detection-only snapshots of transactions whose side in the current packet's
    /// direction completed ([`picket_proto::Stage::Request`]); never logged.
    progress: Vec<AppEvent>,
    /// Bytes of the direction opposite to the current packet that its acknowledgement
    /// handed to the parser (at most `RAW_KEEP`), for rules on that side's raw bytes.
    acked_raw: Vec<u8>,
    sweep_pending: bool,
    /// The detection engine, when rules are loaded.
    inspector: Option<Box<dyn Inspector>>,
    verdicts: Vec<Verdict>,
    /// The current packet's (source, destination) MAC addresses, when they are logged.
    packet_macs: Option<[[u8; 6]; 2]>,
    /// Per app-layer record of the current packet: detection asked not to log it.
    quiet: Vec<bool>,
}

/// Flows ended by one timeout sweep or one `finish` call.
const SWEEP_BATCH: usize = 512;

impl Sensor {
    pub fn new(config: SensorConfig) -> Self {
        Sensor {
            defrag: Defragmenter::new(config.defrag),
            flows: FlowTable::new(config.flow),
            config,
            reassembly: ReassemblyStats::default(),
            decoder: DecoderCounters::default(),
            first_ts: None,
            now: Timestamp::default(),
            last_sweep: Timestamp::default(),
            notes: Vec::new(),
            ended: Vec::new(),
            app_events: Vec::new(),
            app_dirs: Vec::new(),
            progress: Vec::new(),
            acked_raw: Vec::new(),
            sweep_pending: false,
            inspector: None,
            verdicts: Vec::new(),
            packet_macs: None,
            quiet: Vec::new(),
        }
    }

    /// Installs a detection engine: from now on every packet and app-layer record is
    /// offered to it, and its verdicts become `alert` records.
    pub fn set_inspector(&mut self, inspector: Box<dyn Inspector>) {
        self.inspector = Some(inspector);
    }

    /// The installed detection engine, if any.
    pub fn inspector(&self) -> Option<&dyn Inspector> {
        self.inspector.as_deref()
    }

    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }

    pub fn decoder_counters(&self) -> &DecoderCounters {
        &self.decoder
    }

    pub fn reassembly_stats(&self) -> ReassemblyStats {
        self.reassembly
    }

    pub fn defrag_stats(&self) -> crate::defrag::DefragStats {
        self.defrag.stats()
    }

    /// Decode one packet and append the events it completes to `out`.
    pub fn process(
        &mut self,
        link_type: u32,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        out: &mut Vec<Event>,
    ) {
        self.decoder.pkts += 1;
        self.decoder.bytes += data.len() as u64;
        self.decoder.max_pkt_size = self.decoder.max_pkt_size.max(data.len() as u64);
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
            self.last_sweep = ts;
        }
        // Packet time only moves forward; a capture with a stray old timestamp must not
        // rewind the clock that drives timeouts.
        if ts > self.now {
            self.now = ts;
        }
        let snapped = orig_len as usize > data.len();
        if snapped {
            self.decoder.snapped += 1;
        }
        self.notes.clear();
        self.decode_packet(link_type, ts, data, snapped, out);
        if self.sweep_pending || self.now.as_micros() - self.last_sweep.as_micros() >= 1_000_000 {
            self.last_sweep = self.now;
            // A bounded sweep keeps one packet from producing a flood of records at once
            // (a SYN flood times out tens of thousands of flows together); the rest are
            // swept on the next packets.
            self.sweep_pending = self.flows.expire(self.now, &mut self.ended, SWEEP_BATCH);
        }
        self.emit_ended(out);
    }

    /// The input ended: close every flow and write its record. Call until it returns
    /// `false`, writing `out` in between, so memory stays bounded by the batch size.
    pub fn finish(&mut self, out: &mut Vec<Event>) -> bool {
        let more = self.flows.drain(&mut self.ended, SWEEP_BATCH);
        self.emit_ended(out);
        more
    }

    fn decode_packet(
        &mut self,
        link_type: u32,
        ts: Timestamp,
        data: &[u8],
        snapped: bool,
        out: &mut Vec<Event>,
    ) {
        self.packet_macs = None;
        let (link, network) = match decode_link(link_type, data) {
            Ok(x) => x,
            Err(event) => {
                self.anomaly(ts, event, None, out);
                return;
            }
        };
        if self.config.ethernet {
            self.packet_macs = link.macs;
        }
        match link.kind {
            LinkKind::Ethernet => self.decoder.ethernet += 1,
            LinkKind::Sll => self.decoder.sll += 1,
            LinkKind::Sll2 => self.decoder.sll2 += 1,
            LinkKind::Raw => self.decoder.raw += 1,
            LinkKind::Null => self.decoder.null += 1,
            LinkKind::Ppp => self.decoder.ppp += 1,
        }
        match link.vlan_layers {
            0 => {}
            1 => self.decoder.vlan += 1,
            _ => self.decoder.vlan_qinq += 1,
        }
        let (v6, ip) = match network {
            Network::Ipv4(bytes) => {
                self.decoder.ipv4 += 1;
                (false, decode_ipv4(bytes, snapped, &mut self.notes))
            }
            Network::Ipv6(bytes) => {
                self.decoder.ipv6 += 1;
                (true, decode_ipv6(bytes, snapped, &mut self.notes))
            }
            Network::Arp => {
                self.decoder.arp += 1;
                return;
            }
            Network::Other(_) => {
                self.decoder.unknown_ethertype += 1;
                return;
            }
        };
        let ip = match ip {
            Ok(ip) => ip,
            Err(event) => {
                self.anomaly(ts, event, None, out);
                return;
            }
        };
        let pair = Some((ip.src, ip.dst));
        self.flush_notes(ts, pair, out);
        if let Some(fragment) = ip.fragment {
            let mut overlap = false;
            let outcome = self.defrag.insert(
                FragmentIn {
                    src: ip.src,
                    dst: ip.dst,
                    vlan: link.vlan,
                    id: fragment.id,
                    proto: ip.proto,
                    offset: fragment.offset,
                    more: fragment.more,
                    data: ip.payload,
                    ts_us: ts.as_micros(),
                },
                v6,
                &mut overlap,
            );
            if overlap {
                self.anomaly(
                    ts,
                    if v6 {
                        "ipv6.frag_overlap"
                    } else {
                        "ipv4.frag_overlap"
                    },
                    pair,
                    out,
                );
            }
            match outcome {
                Outcome::Pending => {}
                Outcome::Dropped(event) => self.anomaly(ts, event, pair, out),
                Outcome::Complete(proto, bytes) => {
                    let (proto, offset) = if v6 {
                        match walk_ipv6_extensions(proto, &bytes, &mut self.notes) {
                            Ok(walk) if walk.fragment.is_none() => (walk.proto, walk.offset),
                            Ok(_) => {
                                self.anomaly(ts, "ipv6.exthdr_dupl_fh", pair, out);
                                return;
                            }
                            Err(event) => {
                                self.anomaly(ts, event, pair, out);
                                return;
                            }
                        }
                    } else {
                        (proto, 0)
                    };
                    // Count the datagram as one packet: the headers of the fragment that
                    // completed it, plus the whole reassembled payload.
                    let len = data.len() - ip.payload.len() + bytes.len();
                    self.transport(
                        ts,
                        link.vlan,
                        (ip.src, ip.dst, ip.ttl, true, ip.header),
                        proto,
                        &bytes[offset..],
                        false,
                        len,
                        out,
                    );
                }
            }
            return;
        }
        self.transport(
            ts,
            link.vlan,
            (ip.src, ip.dst, ip.ttl, false, ip.header),
            ip.proto,
            ip.payload,
            ip.truncated,
            data.len(),
            out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        ts: Timestamp,
        vlan: [u16; 2],
        (src, dst, ttl, reassembled, ip_header): (IpAddr, IpAddr, u8, bool, &[u8]),
        proto: u8,
        bytes: &[u8],
        truncated: bool,
        wire_len: usize,
        out: &mut Vec<Event>,
    ) {
        let pair = Some((src, dst));
        let transport = match decode_transport(proto, bytes, truncated, &mut self.notes) {
            Ok(t) => t,
            Err(event) => {
                self.anomaly(ts, event, pair, out);
                return;
            }
        };
        self.flush_notes(ts, pair, out);
        let (sport, dport) = match transport {
            Transport::Tcp {
                src_port, dst_port, ..
            } => {
                self.decoder.tcp += 1;
                (src_port, dst_port)
            }
            Transport::Udp {
                src_port, dst_port, ..
            } => {
                self.decoder.udp += 1;
                (src_port, dst_port)
            }
            Transport::Icmp {
                v6,
                icmp_type,
                code,
                ..
            } => {
                if v6 {
                    self.decoder.icmpv6 += 1;
                } else {
                    self.decoder.icmpv4 += 1;
                }
                let (a, b, _) = icmp_ports(v6, icmp_type, code);
                (a, b)
            }
            Transport::Other { .. } => (0, 0),
        };
        let (mut key, forward) = FlowKey::new(src, sport, dst, dport, proto, vlan);
        if proto == PROTO_ESP {
            // Each security association is its own flow, as in Suricata.
            match decode_esp(bytes) {
                Ok(esp) => {
                    self.decoder.esp += 1;
                    key.spi = esp.spi;
                }
                Err(event) => {
                    self.anomaly(ts, event, pair, out);
                    return;
                }
            }
        }
        let side = usize::from(!forward);
        let slot = match self.flows.find(&key) {
            Some(slot) => {
                self.flows.touch(slot);
                slot
            }
            None => {
                let flow = self.new_flow(key, side, ts, &transport, src, dst);
                self.flows.insert(flow, &mut self.ended)
            }
        };
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        let dir = flow.direction_of(side);
        flow.pkts[dir] += 1;
        flow.bytes[dir] += wire_len as u64;
        flow.note_ttl(dir, ttl);
        if let Some([s, d]) = self.packet_macs {
            let set = flow.macs.get_or_insert_with(Box::default);
            self.decoder.macs_dropped += set.add(dir, s, d);
        }
        if ts > flow.last_ts {
            flow.last_ts = ts;
        }
        let app_layer = self.config.app_layer;
        let config = self.config.reassembly;
        let app_events = &mut self.app_events;
        app_events.clear();
        let app_dirs = &mut self.app_dirs;
        app_dirs.clear();
        self.progress.clear();
        self.acked_raw.clear();
        match transport {
            Transport::Tcp {
                seq,
                ack,
                flags,
                window,
                payload,
                ..
            } => {
                flow.tcp_flags[dir] |= flags;
                if flags & tcp_flags::SYN != 0 && flow.syn_seq[dir].is_none() {
                    flow.syn_seq[dir] = Some(seq);
                }
                if flow.streams.is_none() {
                    let handshake_ack =
                        matches!(flow.syn_seq[1 - dir], Some(s) if ack == s.wrapping_add(1));
                    let meaningful_ack = flags & tcp_flags::ACK != 0
                        && flags & tcp_flags::RST == 0
                        && !handshake_ack;
                    if !payload.is_empty() || flags & tcp_flags::FIN != 0 || meaningful_ack {
                        let keep = matches!(flow.app, AppSlot::Pending | AppSlot::Attached(_));
                        let mut pair = [Stream::new(keep), Stream::new(keep)];
                        for (stream, syn) in pair.iter_mut().zip(flow.syn_seq) {
                            if let Some(syn) = syn {
                                stream.syn(syn);
                            }
                        }
                        flow.streams = Some(Box::new(pair));
                    }
                }
                let (sport, dport) = packet_ports(flow, dir);
                // A peer never seen (a one-sided capture, asymmetric routing) will never
                // be seen acknowledging anything: parse this direction as it arrives.
                let seg_config = if flow.pkts[1 - dir] == 0 {
                    ReassemblyConfig {
                        inline: true,
                        ..config
                    }
                } else {
                    config
                };
                let Flow {
                    streams,
                    app,
                    app_tries,
                    conn,
                    ..
                } = flow;
                let mut retransmission = false;
                let mut stream_event = None;
                if let Some(streams) = streams.as_mut() {
                    let [orig_stream, resp_stream] = &mut **streams;
                    let (mine, theirs) = if dir == ORIG {
                        (orig_stream, resp_stream)
                    } else {
                        (resp_stream, orig_stream)
                    };
                    if flags & tcp_flags::SYN != 0 {
                        mine.syn(seq);
                    }
                    let missed_before = [mine.missed_bytes, theirs.missed_bytes];
                    // The acknowledgement first: it releases the other direction's bytes
                    // this packet confirms, which the parser sees before this packet's own.
                    if flags & tcp_flags::ACK != 0 && flags & tcp_flags::RST == 0 {
                        let mut sink = AppSink {
                            app: &mut *app,
                            tries: &mut *app_tries,
                            transport: picket_proto::Transport::Tcp,
                            direction: direction(1 - dir),
                            sport: dport,
                            dport: sport,
                            out: &mut *app_events,
                            raw: Some(&mut self.acked_raw),
                        };
                        theirs.acked(ack, &config, &mut self.reassembly, &mut sink);
                        app_dirs.resize(app_events.len(), 1 - dir);
                    }
                    if !payload.is_empty() && !seg_config.inline && mine.delivered() == 0 {
                        // The protocol is recognised from the first bytes as they arrive,
                        // so packet rules of that protocol see it on the packet carrying
                        // them; parsing still waits for the acknowledgement.
                        if let AppSlot::Pending = app {
                            if let Some(parser) = picket_proto::detect(
                                picket_proto::Transport::Tcp,
                                sport,
                                dport,
                                direction(dir),
                                payload,
                            ) {
                                *app = AppSlot::Attached(parser);
                            }
                        }
                    }
                    if !payload.is_empty() {
                        let mut sink = AppSink {
                            app: &mut *app,
                            tries: &mut *app_tries,
                            transport: picket_proto::Transport::Tcp,
                            direction: direction(dir),
                            sport,
                            dport,
                            out: &mut *app_events,
                            raw: None,
                        };
                        let differing_before = self.reassembly.overlap_diff_data;
                        retransmission = mine.segment(
                            seq,
                            payload,
                            &seg_config,
                            &mut self.reassembly,
                            &mut sink,
                        );
                        stream_event = (self.reassembly.overlap_diff_data > differing_before)
                            .then_some("stream.reassembly_overlap_different_data");
                    }
                    if flags & tcp_flags::FIN != 0 {
                        mine.fin(seq, payload.len());
                    }
                    if mine.missed_bytes > missed_before[0] {
                        conn.gap(dir);
                    }
                    if theirs.missed_bytes > missed_before[1] {
                        conn.gap(1 - dir);
                    }
                    if !matches!(app, AppSlot::Pending | AppSlot::Attached(_)) && mine.keep_data {
                        mine.release(&mut self.reassembly);
                        theirs.release(&mut self.reassembly);
                    }
                    if let (EncryptionHandling::Bypass, AppSlot::Attached(parser)) =
                        (self.config.encryption, &*app)
                    {
                        // Bypass: ciphertext is neither buffered nor handed on; sequence
                        // tracking (gaps, flow state) goes on without the bytes.
                        for (stream, d) in [(mine, dir), (theirs, 1 - dir)] {
                            if stream.keep_data && parser.encrypted(direction(d)) {
                                stream.release(&mut self.reassembly);
                            }
                        }
                    }
                }
                if self.inspector.is_some() {
                    if let AppSlot::Attached(parser) = app {
                        parser.progress(direction(dir), &mut self.progress);
                    }
                }
                conn.tcp_packet(dir, flags, payload.len(), window, retransmission);
                if let Some(name) = stream_event {
                    self.stream_anomaly(ts, name, src, dst, out);
                }
            }
            Transport::Udp { payload, .. } => {
                flow.conn.other_packet(dir, payload.len());
                if app_layer && !payload.is_empty() {
                    let (sport, dport) = packet_ports(flow, dir);
                    let mut sink = AppSink {
                        app: &mut flow.app,
                        tries: &mut flow.app_tries,
                        transport: picket_proto::Transport::Udp,
                        direction: direction(dir),
                        sport,
                        dport,
                        out: &mut *app_events,
                        raw: None,
                    };
                    sink.data(payload);
                }
            }
            Transport::Icmp {
                icmp_type,
                code,
                payload,
                ..
            } => {
                flow.conn.other_packet(dir, payload.len());
                let slot = if dir == ORIG {
                    &mut flow.icmp.icmp_type
                } else {
                    &mut flow.icmp.response
                };
                slot.get_or_insert((icmp_type, code));
            }
            Transport::Other { payload, .. } => flow.conn.other_packet(dir, payload.len()),
        }
        // Detection first, so that a `config` rule can keep a record out of the log; its
        // alerts still follow the records in the output.
        let mut alerts = Vec::new();
        self.quiet.clear();
        if self.inspector.is_some() {
            let l4_header = transport_header(&transport, bytes);
            self.inspect(
                slot,
                ts,
                dir,
                (src, dst, ttl, reassembled),
                (ip_header, l4_header),
                &transport,
                &mut alerts,
            );
        }
        if !self.app_events.is_empty() {
            // Records of this packet's own direction (UDP, inline TCP) have no entry yet.
            self.app_dirs.resize(self.app_events.len(), dir);
            let events = std::mem::take(&mut self.app_events);
            if let Some(flow) = self.flows.get_mut(slot) {
                // Suricata names the packet that completed a record by its number in
                // the capture; `decoder.pkts` counts this packet already.
                let pcap_cnt = self.decoder.pkts;
                for (i, (event, &event_dir)) in events.iter().zip(&self.app_dirs).enumerate() {
                    *self.decoder.app_events.entry(event.event_type).or_default() += 1;
                    if flow.quiet_record(event, self.quiet.get(i).copied().unwrap_or(false)) {
                        continue;
                    }
                    let host = self.config.host.as_deref();
                    let macs = self.packet_macs.map(|m| (dir, m));
                    let log = &self.config.dns_log;
                    for mut e in app_records(flow, ts, event_dir, event, host, log, macs) {
                        e.extra.insert("pcap_cnt".into(), Value::from(pcap_cnt));
                        e.extra.insert("pkt_src".into(), Value::from("wire/pcap"));
                        out.push(e);
                    }
                }
            }
            self.app_events = events;
        }
        out.append(&mut alerts);
    }

    /// Offers the packet, then the app-layer records it completed, to the inspector.
    #[allow(clippy::too_many_arguments)]
    fn inspect(
        &mut self,
        slot: usize,
        ts: Timestamp,
        dir: usize,
        (src, dst, ttl, reassembled): (IpAddr, IpAddr, u8, bool),
        (ip_header, l4_header): (&[u8], &[u8]),
        transport: &Transport<'_>,
        out: &mut Vec<Event>,
    ) {
        let (Some(inspector), Some(flow)) = (self.inspector.as_mut(), self.flows.get_mut(slot))
        else {
            return;
        };
        let (sport, dport) = packet_ports(flow, dir);
        let (tcp, icmp) = match *transport {
            Transport::Tcp {
                seq,
                ack,
                flags,
                window,
                ..
            } => (
                Some(TcpHeader {
                    flags,
                    seq,
                    ack,
                    window,
                }),
                None,
            ),
            Transport::Icmp {
                icmp_type, code, ..
            } => (None, Some((icmp_type, code))),
            _ => (None, None),
        };
        let encrypted = match &flow.app {
            AppSlot::Attached(parser) => parser.encrypted(direction(dir)),
            _ => false,
        };
        let handling = self.config.encryption;
        let view = PacketView {
            ts,
            flow_id: flow.flow_id,
            src,
            dst,
            sport,
            dport,
            proto: flow.key.proto,
            ttl,
            to_server: dir == ORIG,
            established: flow_established(flow),
            reassembled,
            tcp,
            icmp,
            payload: transport.payload(),
            ip_header,
            l4_header,
            app_proto: detected_app_proto(flow),
            payload_encrypted: encrypted && handling == EncryptionHandling::Default,
        };
        let verdicts = &mut self.verdicts;
        verdicts.clear();
        // Bypass skips the packet, but not the app-layer records it completed (the TLS
        // record is completed by the packet that acknowledges the server's last flight).
        if !(encrypted && handling == EncryptionHandling::Bypass) {
            inspector.packet(&view, verdicts);
        }
        let host = self.config.host.as_deref();
        let pcap_cnt = self.decoder.pkts;
        let macs = self.packet_macs.map(|m| (dir, m));
        for v in verdicts.drain(..) {
            flow.alerted = true;
            let mut e = alert_event(flow, ts, &v, None, host);
            add_packet_ether(&mut e, if v.to_server { ORIG } else { RESP }, macs);
            e.extra.insert("pcap_cnt".into(), Value::from(pcap_cnt));
            e.extra.insert("pkt_src".into(), Value::from("wire/pcap"));
            // Like Suricata, a packet alert names the ICMP message that raised it.
            if let Some((t, c)) = icmp {
                e.extra.insert("icmp_type".into(), Value::from(t));
                e.extra.insert("icmp_code".into(), Value::from(c));
            }
            out.push(e);
        }
        if self.app_events.is_empty() && self.progress.is_empty() {
            return;
        }
        let mut extra = Vec::new();
        // Finished records first (their quiet flags line up with `app_events`), then the
        // snapshots of requests that completed.
        for (i, event) in self.app_events.iter().chain(&self.progress).enumerate() {
            extra.clear();
            if let AppSlot::Attached(parser) = &flow.app {
                parser.detect_buffers(event.tx_id, &mut extra);
            }
            let app = AppView {
                event,
                extra: &extra,
                stream: &self.acked_raw,
            };
            inspector.app(&view, &app, verdicts);
            let mut quiet = false;
            for v in verdicts.drain(..) {
                if v.quiet_tx {
                    // A snapshot is not logged, so there is nothing to keep out of the log.
                    quiet = true;
                    continue;
                }
                flow.alerted = true;
                let mut e = alert_event(flow, ts, &v, Some(event), host);
                add_packet_ether(&mut e, if v.to_server { ORIG } else { RESP }, macs);
                e.extra.insert("pcap_cnt".into(), Value::from(pcap_cnt));
                e.extra.insert("pkt_src".into(), Value::from("wire/pcap"));
                out.push(e);
            }
            if i < self.app_events.len() {
                self.quiet.push(quiet);
            }
        }
    }

    fn new_flow(
        &self,
        key: FlowKey,
        side: usize,
        ts: Timestamp,
        transport: &Transport<'_>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Flow {
        let mut orig_side = side;
        let mut conn = ConnSummary::default();
        let (cid_sport, cid_dport, _) = match *transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
                ..
            } => {
                // A SYN-ACK first means the SYN was missed: its receiver is the originator.
                if flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK {
                    orig_side = 1 - side;
                    conn.flipped();
                }
                (src_port, dst_port, true)
            }
            Transport::Udp {
                src_port,
                dst_port,
                payload,
                ..
            } => {
                // A flow seen first by a DNS response (the query was missed) is the
                // client's: describe it from the querier's side, as Suricata does.
                if self.config.app_layer && picket_proto::dns::looks_like_response(payload) {
                    orig_side = 1 - side;
                    conn.flipped();
                }
                (src_port, dst_port, false)
            }
            Transport::Icmp {
                icmp_type, code, ..
            } => (u16::from(icmp_type), u16::from(code), false),
            Transport::Other { .. } => (0, 0, false),
        };
        let community_id = community_id_v1(
            self.config.community_id_seed,
            src,
            dst,
            key.proto,
            cid_sport,
            cid_dport,
        );
        let keep = self.config.app_layer;
        Flow {
            key,
            orig_side,
            flow_id: flow_id(&key, ts),
            community_id,
            first_ts: ts,
            last_ts: ts,
            pkts: [0, 0],
            bytes: [0, 0],
            tcp_flags: [0, 0],
            conn,
            streams: None,
            syn_seq: [None, None],
            app: if keep {
                AppSlot::Pending
            } else {
                AppSlot::Unknown
            },
            app_tries: 0,
            icmp: IcmpInfo::default(),
            alerted: false,
            ttl: [(0, 0); 2],
            macs: None,
            quiet_txs: Vec::new(),
        }
    }

    fn flush_notes(&mut self, ts: Timestamp, pair: Option<(IpAddr, IpAddr)>, out: &mut Vec<Event>) {
        if self.notes.is_empty() {
            return;
        }
        let notes = std::mem::take(&mut self.notes);
        for note in &notes {
            self.anomaly(ts, note, pair, out);
        }
        self.notes = notes;
        self.notes.clear();
    }

    fn anomaly(
        &mut self,
        ts: Timestamp,
        event: DecodeEvent,
        pair: Option<(IpAddr, IpAddr)>,
        out: &mut Vec<Event>,
    ) {
        *self.decoder.events.entry(event).or_default() += 1;
        if event == "link.unsupported_type" {
            // A capture of 802.11 or PPP frames is not malformed, only out of scope.
            self.decoder.invalid += 1;
            return;
        }
        self.decoder.invalid += 1;
        if !self.config.anomaly_events {
            return;
        }
        let mut e = Event::new(ts, "anomaly");
        e.host = self.config.host.clone();
        if let Some((src, dst)) = pair {
            e.endpoints.src_ip = Some(src.to_string());
            e.endpoints.dest_ip = Some(dst.to_string());
        }
        e.body = json!({"type": "decode", "event": format!("decoder.{event}")});
        e.extra.insert("pkt_src".into(), Value::from("wire/pcap"));
        out.push(e);
    }

    /// A stream-level anomaly, in Suricata's form (`type: stream`).
    fn stream_anomaly(
        &mut self,
        ts: Timestamp,
        name: &'static str,
        src: IpAddr,
        dst: IpAddr,
        out: &mut Vec<Event>,
    ) {
        *self.decoder.events.entry(name).or_default() += 1;
        if !self.config.anomaly_events {
            return;
        }
        let mut e = Event::new(ts, "anomaly");
        e.host = self.config.host.clone();
        e.endpoints.src_ip = Some(src.to_string());
        e.endpoints.dest_ip = Some(dst.to_string());
        e.body = json!({"type": "stream", "event": name});
        out.push(e);
    }

    fn emit_ended(&mut self, out: &mut Vec<Event>) {
        if self.ended.is_empty() {
            return;
        }
        // Taken and put back, so the buffer keeps its capacity between batches.
        let mut ended = std::mem::take(&mut self.ended);
        for (mut flow, reason) in ended.drain(..) {
            let mut events = Vec::new();
            let mut dirs = Vec::new();
            let ports = [packet_ports(&flow, ORIG), packet_ports(&flow, RESP)];
            let Flow {
                streams,
                app,
                app_tries,
                conn,
                ..
            } = &mut flow;
            if let Some(streams) = streams.as_mut() {
                let config = self.config.reassembly;
                for (i, stream) in streams.iter_mut().enumerate() {
                    let mut sink = AppSink {
                        app: &mut *app,
                        tries: &mut *app_tries,
                        transport: picket_proto::Transport::Tcp,
                        direction: direction(i),
                        // A stream never acknowledged reaches the parser only now, so
                        // protocol detection may run here and needs the ports.
                        sport: ports[i].0,
                        dport: ports[i].1,
                        out: &mut events,
                        raw: None,
                    };
                    if stream.flush(&config, &mut self.reassembly, &mut sink) > 0 {
                        conn.gap(i);
                    }
                    stream.release(&mut self.reassembly);
                    dirs.resize(events.len(), i);
                }
            }
            if let AppSlot::Attached(parser) = &mut flow.app {
                parser.finish(&mut events);
            }
            dirs.resize(events.len(), ORIG);
            let last = flow.last_ts;
            let mut alerts = Vec::new();
            let mut record_extra = Map::new();
            let mut quiet = Vec::new();
            if let Some(inspector) = self.inspector.as_mut() {
                if !events.is_empty() {
                    quiet = inspect_flushed(
                        &mut **inspector,
                        &flow,
                        &events,
                        &mut alerts,
                        self.config.host.as_deref(),
                    );
                }
                record_extra = inspector.flow_record(flow.flow_id);
                inspector.flow_ended(flow.flow_id);
            }
            for (i, (event, &dir)) in events.iter().zip(&dirs).enumerate() {
                *self.decoder.app_events.entry(event.event_type).or_default() += 1;
                if flow.quiet_record(event, quiet.get(i).copied().unwrap_or(false)) {
                    continue;
                }
                for mut e in app_records(
                    &flow,
                    last,
                    dir,
                    event,
                    self.config.host.as_deref(),
                    &self.config.dns_log,
                    // Suricata writes these from a pseudo packet with no Ethernet header.
                    None,
                ) {
                    // No packet carried these: the flow's end handed them over, as
                    // Suricata's pseudo packets at flow timeout do.
                    e.extra
                        .insert("pkt_src".into(), Value::from(FLOW_END_PKT_SRC));
                    out.push(e);
                }
            }
            if !alerts.is_empty() {
                flow.alerted = true;
                out.append(&mut alerts);
            }
            if let Some(name) = app_flow_counter(&flow) {
                *self.decoder.app_flows.entry(name).or_default() += 1;
                if let AppSlot::Attached(parser) = &flow.app {
                    *self.decoder.app_errors.entry(name).or_default() += parser.parse_errors();
                }
            }
            let mut record = flow_event(&flow, reason, self.config.host.as_deref());
            record.extra.append(&mut record_extra);
            out.push(record);
            if self.config.netflow {
                out.extend(netflow_events(&flow, self.config.host.as_deref()));
            }
        }
        self.ended = ended;
    }

    /// A `stats` event describing every counter so far. Counters Suricata's schema does
    /// not name go under `picket`.
    pub fn stats_event(&self, ts: Timestamp, capture: CaptureCounters) -> Event {
        let d = &self.decoder;
        let mut event_counts: Map<String, Value> = Map::new();
        let mut picket_events: Map<String, Value> = Map::new();
        for (name, count) in &d.events {
            if PICKET_ONLY_EVENTS.contains(name) {
                picket_events.insert((*name).to_string(), Value::from(*count));
                continue;
            }
            let Some((layer, what)) = name.split_once('.') else {
                continue;
            };
            let layer_map = event_counts
                .entry(layer.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = layer_map {
                m.insert(what.to_string(), Value::from(*count));
            }
        }
        let f = self.flows.stats();
        let r = self.reassembly;
        let df = self.defrag.stats();
        let uptime = self
            .first_ts
            .map(|first| (self.now.as_micros() - first.as_micros()) / 1_000_000)
            .unwrap_or(0);
        let avg = d.bytes.checked_div(d.pkts).unwrap_or(0);
        let mut app_errors = Map::new();
        for name in ["dns_tcp", "dns_udp", "http", "ssh", "tls"] {
            let n = d.app_errors.get(name).copied().unwrap_or(0);
            app_errors.insert(name.to_string(), json!({ "parser": n }));
        }
        let mut e = Event::new(ts, "stats");
        e.host = self.config.host.clone();
        e.body = json!({
            "uptime": uptime,
            "capture": {
                "kernel_packets": capture.kernel_packets,
                "kernel_drops": capture.kernel_drops,
                "errors": capture.errors,
            },
            "decoder": {
                "pkts": d.pkts, "bytes": d.bytes, "invalid": d.invalid,
                "ethernet": d.ethernet, "vlan": d.vlan, "vlan_qinq": d.vlan_qinq,
                "sll": d.sll, "sll2": d.sll2, "raw": d.raw, "null": d.null, "ppp": d.ppp, "arp": d.arp,
                "ipv4": d.ipv4, "ipv6": d.ipv6, "tcp": d.tcp, "udp": d.udp,
                "icmpv4": d.icmpv4, "icmpv6": d.icmpv6, "esp": d.esp,
                "unknown_ethertype": d.unknown_ethertype,
                "avg_pkt_size": avg, "max_pkt_size": d.max_pkt_size,
                "event": Value::Object(event_counts),
            },
            "flow": {
                "total": f.total, "active": f.active, "tcp": f.tcp, "udp": f.udp,
                "icmpv4": f.icmpv4, "icmpv6": f.icmpv6, "memuse": f.memuse,
                "memcap": self.config.flow.memcap,
                "mgr": {"flows_timeout": f.timeouts, "flows_evicted": f.evicted},
            },
            "app_layer": {
                "flow": &d.app_flows,
                // Suricata counts a transaction per HTTP request/response pair, which is
                // one `http` record, and (8.0) none for TLS's single per-flow state. DNS
                // transactions are not counted here.
                "tx": {"http": d.app_events.get("http").copied().unwrap_or(0), "tls": 0},
                "error": Value::Object(app_errors),
            },
            // Picket never bypasses a flow; the counters say so, as Suricata's do.
            "flow_bypassed": {
                "local_pkts": 0, "local_bytes": 0, "local_capture_pkts": 0,
                "local_capture_bytes": 0, "closed": 0, "pkts": 0, "bytes": 0,
            },
            "tcp": {
                "reassembly_gap": r.gaps,
                "reassembly_memuse": r.memuse,
                "stream_depth_reached": r.depth_reached,
                "overlap": r.overlaps,
                "overlap_diff_data": r.overlap_diff_data,
                "segment_memcap_drop": r.memcap_drops,
            },
            "defrag": {
                "ipv4": {"fragments": df.ipv4_fragments, "reassembled": df.ipv4_reassembled, "timeouts": df.ipv4_timeouts},
                "ipv6": {"fragments": df.ipv6_fragments, "reassembled": df.ipv6_reassembled, "timeouts": df.ipv6_timeouts},
                "max_frags_reached": df.max_frags_reached,
                "max_trackers_reached": df.max_trackers_reached,
                "memuse": df.memuse,
            },
        });
        if let Some(inspector) = &self.inspector {
            e.picket.insert("detect".into(), inspector.stats());
        }
        e.picket.insert(
            "stats".into(),
            json!({
                "decoder": {
                    "snapped": d.snapped,
                    "macs_dropped": d.macs_dropped,
                    "event": Value::Object(picket_events),
                    "app_events": d.app_events,
                },
                "flow": {"peak_active": f.peak_active, "max_flows": self.config.flow.max_flows},
                "tcp": {"gap_bytes": r.gap_bytes, "unacked_delivered": r.unacked_delivered},
                "defrag": {"overlaps": df.overlaps, "too_large": df.too_large},
            }),
        );
        e
    }
}

/// Whether `flow` counts as established for detection (`flow:established`).
fn flow_established(flow: &Flow) -> bool {
    if flow.key.proto == PROTO_TCP {
        // As of before this packet (as Suricata's flow state), not after it.
        flow.conn.established_before_packet()
    } else {
        flow.pkts[ORIG] > 0 && flow.pkts[RESP] > 0
    }
}

/// App-layer records flushed when a flow ends, offered to the inspector as if carried by
/// an empty packet from the client. Returns, per record, whether detection asked not to
/// log it.
fn inspect_flushed(
    inspector: &mut dyn Inspector,
    flow: &Flow,
    events: &[AppEvent],
    alerts: &mut Vec<Event>,
    host: Option<&str>,
) -> Vec<bool> {
    let (src, dst) = (flow.src(), flow.dst());
    let view = PacketView {
        ts: flow.last_ts,
        flow_id: flow.flow_id,
        src: src.0,
        dst: dst.0,
        sport: src.1,
        dport: dst.1,
        proto: flow.key.proto,
        ttl: 0,
        to_server: true,
        // The flow's end is judged as a whole: established if it ever was.
        established: if flow.key.proto == PROTO_TCP {
            flow.conn.tcp_established()
        } else {
            flow_established(flow)
        },
        reassembled: false,
        tcp: None,
        icmp: None,
        payload: &[],
        ip_header: &[],
        l4_header: &[],
        app_proto: detected_app_proto(flow),
        payload_encrypted: false,
    };
    let mut extra = Vec::new();
    let mut verdicts = Vec::new();
    let mut quiet = Vec::with_capacity(events.len());
    for event in events {
        extra.clear();
        if let AppSlot::Attached(parser) = &flow.app {
            parser.detect_buffers(event.tx_id, &mut extra);
        }
        inspector.app(
            &view,
            &AppView {
                event,
                extra: &extra,
                stream: &[],
            },
            &mut verdicts,
        );
        let mut q = false;
        for v in verdicts.drain(..) {
            if v.quiet_tx {
                q = true;
                continue;
            }
            let mut e = alert_event(flow, flow.last_ts, &v, Some(event), host);
            e.extra
                .insert("pkt_src".into(), Value::from(FLOW_END_PKT_SRC));
            alerts.push(e);
        }
        quiet.push(q);
    }
    quiet
}

/// An EVE `alert` record for a verdict: the flow envelope in the alert's direction, the
/// `alert` object, `app_proto`, and the app-layer record when the match was on one.
fn alert_event(
    flow: &Flow,
    ts: Timestamp,
    verdict: &Verdict,
    app: Option<&AppEvent>,
    host: Option<&str>,
) -> Event {
    let dir = if verdict.to_server { ORIG } else { RESP };
    let mut e = envelope(flow, ts, "alert", dir, host);
    e.body = verdict.alert.clone();
    if let AppSlot::Attached(parser) = &flow.app {
        e.extra
            .insert("app_proto".into(), Value::from(parser.app_proto()));
    }
    e.extra.insert(
        "direction".into(),
        Value::from(if verdict.to_server {
            "to_server"
        } else {
            "to_client"
        }),
    );
    let mut flow_obj = json!({
        "pkts_toserver": flow.pkts[ORIG],
        "pkts_toclient": flow.pkts[RESP],
        "bytes_toserver": flow.bytes[ORIG],
        "bytes_toclient": flow.bytes[RESP],
        "start": flow.first_ts.to_string(),
        "src_ip": flow.src().0.to_string(),
        "dest_ip": flow.dst().0.to_string(),
    });
    if matches!(flow.key.proto, PROTO_TCP | PROTO_UDP | 132) {
        flow_obj["src_port"] = Value::from(flow.src().1);
        flow_obj["dest_port"] = Value::from(flow.dst().1);
    }
    e.extra.insert("flow".into(), flow_obj);
    if let Some(event) = app.filter(|_| verdict.with_app) {
        let mut body = event.body.clone();
        if let (Value::Object(o), "http") = (&mut body, event.event_type) {
            // Suricata's alert carries the transaction's basic and extended fields, not
            // the header arrays (those are the `http` record's dump-all-headers option).
            o.remove("request_headers");
            o.remove("response_headers");
        }
        e.extra.insert(event.event_type.into(), body);
        if let Some(id) = event.tx_id {
            e.extra.insert("tx_id".into(), Value::from(id));
        }
    }
    for (k, v) in &verdict.extra {
        e.extra.insert(k.clone(), v.clone());
    }
    e
}

fn direction(dir: usize) -> Direction {
    if dir == ORIG {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// (source port, destination port) of a packet travelling in `dir`.
fn packet_ports(flow: &Flow, dir: usize) -> (u16, u16) {
    let (orig, resp) = (flow.src().1, flow.dst().1);
    if dir == ORIG {
        (orig, resp)
    } else {
        (resp, orig)
    }
}

/// Hands in-order payload to the flow's parser, choosing one on the first payload.
struct AppSink<'a> {
    app: &'a mut AppSlot,
    tries: &'a mut u8,
    transport: picket_proto::Transport,
    direction: Direction,
    sport: u16,
    dport: u16,
    out: &'a mut Vec<AppEvent>,
    /// Keeps a copy of the bytes handed over (up to `RAW_KEEP`), when detection wants them.
    raw: Option<&'a mut Vec<u8>>,
}

/// Stream bytes kept per packet for raw inspection of acknowledged data.
const RAW_KEEP: usize = 64 << 10;

/// Payloads offered to detection before a flow is declared unknown.
const DETECT_TRIES: u8 = 2;

impl StreamSink for AppSink<'_> {
    fn data(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if let Some(raw) = self.raw.as_deref_mut() {
            let room = RAW_KEEP.saturating_sub(raw.len());
            raw.extend_from_slice(&data[..data.len().min(room)]);
        }
        if let AppSlot::Pending = self.app {
            match picket_proto::detect(self.transport, self.sport, self.dport, self.direction, data)
            {
                Some(parser) => *self.app = AppSlot::Attached(parser),
                None => {
                    *self.tries += 1;
                    if *self.tries >= DETECT_TRIES {
                        *self.app = AppSlot::Unknown;
                    }
                    return;
                }
            }
        }
        if let AppSlot::Attached(parser) = self.app {
            parser.feed(self.direction, data, self.out);
        }
    }

    fn gap(&mut self, len: u64) {
        match self.app {
            AppSlot::Attached(parser) => parser.gap(self.direction, len),
            // A stream that starts with a hole cannot be recognised from its content.
            AppSlot::Pending => {}
            AppSlot::Unknown => {}
        }
    }
}

fn proto_name(proto: u8) -> String {
    match proto {
        PROTO_TCP => "TCP".into(),
        PROTO_UDP => "UDP".into(),
        PROTO_ICMP => "ICMP".into(),
        PROTO_ICMPV6 => "IPv6-ICMP".into(),
        2 => "IGMP".into(),
        4 => "IPIP".into(),
        41 => "IPv6".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        51 => "AH".into(),
        89 => "OSPF".into(),
        103 => "PIM".into(),
        112 => "VRRP".into(),
        132 => "SCTP".into(),
        other => other.to_string(),
    }
}

fn envelope(flow: &Flow, ts: Timestamp, event_type: &str, dir: usize, host: Option<&str>) -> Event {
    let mut e = Event::new(ts, event_type);
    e.host = host.map(str::to_string);
    e.flow_id = Some(flow.flow_id);
    e.community_id = Some(flow.community_id.clone());
    let (a, b) = if dir == ORIG {
        (flow.src(), flow.dst())
    } else {
        (flow.dst(), flow.src())
    };
    let ports = matches!(flow.key.proto, PROTO_TCP | PROTO_UDP | 132);
    e.endpoints = Endpoints {
        src_ip: Some(a.0.to_string()),
        src_port: ports.then_some(a.1),
        dest_ip: Some(b.0.to_string()),
        dest_port: ports.then_some(b.1),
        proto: Some(proto_name(flow.key.proto)),
    };
    // Suricata 8 writes the IP version in every record's common header.
    e.extra.insert(
        "ip_v".into(),
        Value::from(if flow.key.addrs[0].is_ipv4() { 4 } else { 6 }),
    );
    e
}

/// The EVE records one app-layer record becomes: a DNS message goes through the DNS log
/// options (none, one, or a version 2 record per question); others are written as they are.
fn app_records(
    flow: &Flow,
    ts: Timestamp,
    dir: usize,
    event: &AppEvent,
    host: Option<&str>,
    dns_log: &picket_proto::dns::DnsLogConfig,
    macs: Option<(usize, [[u8; 6]; 2])>,
) -> Vec<Event> {
    if event.event_type != "dns" || *dns_log == picket_proto::dns::DnsLogConfig::default() {
        let mut e = app_event(flow, ts, dir, event, host);
        // As in app_event: DNS follows the packet, other records the flow.
        let record_dir = if event.event_type == "dns" { dir } else { ORIG };
        add_packet_ether(&mut e, record_dir, macs);
        return vec![e];
    }
    // Version 2 records, like every transaction but version 3 DNS, follow the flow.
    let dir = if dns_log.version == 2 { ORIG } else { dir };
    dns_log
        .records(&event.body)
        .into_iter()
        .map(|body| {
            let mut e = envelope(flow, ts, "dns", dir, host);
            e.body = body;
            add_packet_ether(&mut e, dir, macs);
            e
        })
        .collect()
}

fn app_event(
    flow: &Flow,
    ts: Timestamp,
    dir: usize,
    event: &AppEvent,
    host: Option<&str>,
) -> Event {
    // Suricata writes DNS records in the direction of the packet (a response comes from
    // the server) and other transactions in the direction of the flow (client first).
    let dir = if event.event_type == "dns" { dir } else { ORIG };
    let mut e = envelope(flow, ts, event.event_type, dir, host);
    e.body = event.body.clone();
    if let Some(id) = event.tx_id {
        e.extra.insert("tx_id".into(), Value::from(id));
    }
    e
}

fn tcp_state_name(flow: &Flow) -> &'static str {
    use EndpointState::*;
    let (o, r) = (flow.conn.state[ORIG], flow.conn.state[RESP]);
    match (o, r) {
        (Reset, _) | (_, Reset) | (Closed, Closed) => "closed",
        (Closed, _) => "fin_wait1",
        (_, Closed) => "close_wait",
        (SynSent, Inactive) => "syn_sent",
        (SynSent | SynAckSent, _) | (_, SynAckSent) => "syn_recv",
        (Inactive, _) | (_, Inactive) => "none",
        _ => "established",
    }
}

/// The `app_layer.flow` counter a finished flow adds to, as Suricata names it.
fn app_flow_counter(flow: &Flow) -> Option<&'static str> {
    let tcp = flow.key.proto == PROTO_TCP;
    match &flow.app {
        AppSlot::Attached(parser) => Some(match (parser.app_proto(), tcp) {
            ("dns", true) => "dns_tcp",
            ("dns", false) => "dns_udp",
            (other, _) => other,
        }),
        AppSlot::Unknown if flow.conn.size[ORIG] + flow.conn.size[RESP] > 0 => {
            Some(if tcp { "failed_tcp" } else { "failed_udp" })
        }
        _ => None,
    }
}

/// The flow's app-layer protocol as EVE and detection name it: the parser's, `failed`
/// once detection gave up on a flow that carried data, `None` while still undecided.
fn detected_app_proto(flow: &Flow) -> Option<&'static str> {
    match &flow.app {
        AppSlot::Attached(parser) => Some(parser.app_proto()),
        AppSlot::Unknown if flow.conn.size[ORIG] + flow.conn.size[RESP] > 0 => Some("failed"),
        _ => None,
    }
}

/// The EVE `flow` record for a finished flow, its fields kept typed until written.
pub fn flow_event(flow: &Flow, reason: EndReason, host: Option<&str>) -> Event {
    let mut e = envelope(flow, flow.last_ts, "flow", ORIG, host);
    // The record writes `ip_v` among its own fields.
    e.extra.clear();
    e.flow_record = Some(Box::new(FlowRecord {
        app_proto: detected_app_proto(flow),
        start: flow.first_ts,
        end: flow.last_ts,
        pkts_toserver: flow.pkts[ORIG],
        pkts_toclient: flow.pkts[RESP],
        bytes_toserver: flow.bytes[ORIG],
        bytes_toclient: flow.bytes[RESP],
        alerted: flow.alerted,
        reason: reason.as_str(),
        state: flow.state(),
        tcp: (flow.key.proto == PROTO_TCP).then(|| FlowTcp {
            flags_ts: flow.tcp_flags[ORIG],
            flags_tc: flow.tcp_flags[RESP],
            state: tcp_state_name(flow),
        }),
        icmp: flow.icmp.icmp_type,
        response_icmp: flow.icmp.response,
        ip_v: if flow.key.addrs[0].is_ipv4() { 4 } else { 6 },
        vlan: flow.key.vlan,
        ether: flow
            .macs
            .as_ref()
            .map(|m| Box::new([m.side[ORIG].clone(), m.side[RESP].clone()])),
        spi: (flow.key.proto == PROTO_ESP).then_some(flow.key.spi),
        conn_state: flow.conn_state(),
        history: flow.conn.history.clone(),
        missed_bytes: flow.missed_bytes(),
    }));
    e
}

/// The EVE `netflow` records of a finished flow: one per direction, each oriented from
/// that direction's sender, with that direction's packets, bytes, TTL range and TCP flags.
/// The to-server record is always written (as Suricata does, even for a flow first seen
/// from its responder); the to-client one only when the responder sent packets.
pub fn netflow_events(flow: &Flow, host: Option<&str>) -> Vec<Event> {
    let dirs: &[usize] = if flow.pkts[RESP] > 0 {
        &[ORIG, RESP]
    } else {
        &[ORIG]
    };
    let age = flow.last_ts.as_secs() - flow.first_ts.as_secs();
    dirs.iter()
        .map(|&dir| {
            let mut e = envelope(flow, flow.last_ts, "netflow", dir, host);
            if let Some(name) = detected_app_proto(flow) {
                e.extra.insert("app_proto".into(), Value::from(name));
            }
            let (min_ttl, max_ttl) = if flow.pkts[dir] > 0 {
                flow.ttl[dir]
            } else {
                (0, 0)
            };
            // Keys in sorted order, so the map bulk-loads.
            let body: Map<String, Value> = [
                ("age", Value::from(age)),
                ("bytes", Value::from(flow.bytes[dir])),
                ("end", Value::from(flow.last_ts.to_string())),
                ("max_ttl", Value::from(max_ttl)),
                ("min_ttl", Value::from(min_ttl)),
                ("pkts", Value::from(flow.pkts[dir])),
                ("start", Value::from(flow.first_ts.to_string())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            e.body = Value::Object(body);
            if flow.key.proto == PROTO_TCP {
                let tcp = tcp_flag_fields(flow.tcp_flags[dir]);
                e.extra.insert("tcp".into(), Value::Object(tcp));
            }
            let icmp = if dir == ORIG {
                flow.icmp.icmp_type
            } else {
                flow.icmp.response
            };
            if let Some((t, c)) = icmp {
                e.extra.insert("icmp_type".into(), Value::from(t));
                e.extra.insert("icmp_code".into(), Value::from(c));
            }
            if flow.key.vlan[0] != 0 || flow.key.vlan[1] != 0 {
                let ids: Vec<u16> = flow.key.vlan.iter().copied().filter(|v| *v != 0).collect();
                e.extra.insert("vlan".into(), Value::from(ids));
            }
            if let Some(ether) = flow_ether(flow, dir) {
                e.extra.insert("ether".into(), ether);
            }
            if flow.key.proto == PROTO_ESP {
                e.extra.insert("spi".into(), Value::from(flow.key.spi));
            }
            e
        })
        .collect()
}

/// The `ether` object of a record about one packet (`macs`: the direction it travelled
/// and its source and destination addresses), oriented like the record: a record written
/// client first about a server's packet names the client's address as `src_mac`.
fn add_packet_ether(e: &mut Event, record_dir: usize, macs: Option<(usize, [[u8; 6]; 2])>) {
    let Some((packet_dir, [src, dst])) = macs else {
        return;
    };
    let (a, b) = if packet_dir == record_dir {
        (src, dst)
    } else {
        (dst, src)
    };
    e.extra.insert(
        "ether".into(),
        json!({"src_mac": mac_text(&a), "dest_mac": mac_text(&b)}),
    );
}

/// The `ether` object of a flow-level record written from `dir`'s sender: the addresses
/// each side used, the sender's as `src_macs`.
fn flow_ether(flow: &Flow, dir: usize) -> Option<Value> {
    let m = flow.macs.as_ref()?;
    let (src, dst) = (&m.side[dir], &m.side[1 - dir]);
    let mut o = Map::new();
    // The schema wants at least one item in each array.
    if !src.is_empty() {
        o.insert("src_macs".into(), src.iter().map(mac_text).collect());
    }
    if !dst.is_empty() {
        o.insert("dest_macs".into(), dst.iter().map(mac_text).collect());
    }
    (!o.is_empty()).then_some(Value::Object(o))
}

#[cfg(test)]
mod tests;
