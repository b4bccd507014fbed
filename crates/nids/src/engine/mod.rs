//! The detection engine: loaded rules in, verdicts out, with no I/O.
//!
//! Rules are grouped and prefiltered by [`crate::prefilter`] (transport, app-layer protocol,
//! direction, ports, one aho-corasick automaton per group and buffer over each rule's fast
//! pattern); every candidate is then verified exactly ([`payload`]), header, flow and
//! flowbits conditions included, before thresholds decide whether it alerts.
//!
//! Two passes feed it. Each packet is inspected as a packet (payload, headers, flow state)
//! by rules that look at no app-layer buffer. Each app-layer record (an HTTP transaction,
//! a DNS message, a TLS handshake, an SSH banner exchange) is inspected, request side then
//! response side, by rules that look at one; such a rule alerts at most once per record and
//! side, as Suricata keeps a transaction's detection state per direction (`ssl_version`
//! holds on both sides of a TLS handshake, and a rule with no flow direction alerts twice).
//!
//! A rule using something the engine cannot evaluate (a sticky buffer it does not fill, a
//! transform, `base64_decode`, a keyword kept only for syntax, an app-layer protocol with
//! no parser) is not loaded into the engine and is reported by reason: it never matches
//! silently.
//!
//! Per-flow state (flowbits) and threshold tables are bounded; when a table is full the new
//! entry is not kept and a counter says so.
//!
//! Where this knowingly differs from Suricata: TCP payload rules look at each packet's
//! payload rather than at the reassembled stream (`only_stream` is taken to mean the
//! payload of an in-flow TCP packet), and app-layer buffers are inspected when the sensor's
//! parser logs the record (for HTTP, when the response is complete or the flow ends).

pub mod addr;
pub mod addr_index;
pub mod app;
mod checksum;
pub mod payload;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use picket_netdecode::inspect::Stage;
use picket_netdecode::inspect::{AppView, Inspector, PacketView, Verdict};
use serde_json::{json, Map, Value};

use crate::buffers::{is_packet_buffer, PAYLOAD};
use crate::classification::Classifications;
use crate::header::{Action, Direction};
use crate::keywords::{BitScope, FlowState, FlowbitCmd, TcpFlags, ThresholdKind, Track, VarKind};
use crate::prefilter::{Prefilter, PrefilterError, Scratch, Traffic};
use crate::public_suffix::PublicSuffixList;
use crate::rule::{HeaderCheck, Match, Rule};
use crate::ruleset::LoadedRule;
use payload::{Capture, Inspect, RegexCache};

/// Table sizes; the defaults are safe for a sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Flows with flowbits held at once.
    pub max_flow_states: usize,
    /// Hosts with hostbits held at once.
    pub max_host_states: usize,
    /// Threshold and detection_filter entries held at once.
    pub max_threshold_entries: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_flow_states: 262_144,
            max_host_states: 65_536,
            max_threshold_entries: 65_536,
        }
    }
}

/// What the engine counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub packets: u64,
    pub app_records: u64,
    /// Rules the prefilter handed to exact verification.
    pub candidates: u64,
    /// Rules that matched (alerting or not).
    pub matches: u64,
    pub alerts: u64,
    /// Matches kept quiet by `threshold`/`detection_filter`.
    pub suppressed: u64,
    /// Matches kept quiet by `noalert`.
    pub noalert: u64,
    /// New flows whose flowbits could not be kept (table full).
    pub flow_state_full: u64,
    /// New hosts whose hostbits could not be kept (table full).
    pub host_state_full: u64,
    /// New threshold entries that could not be kept (table full).
    pub threshold_full: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Any,
    Num(u8),
    Icmp,
}

#[derive(Debug)]
struct RuleInfo {
    proto: Proto,
    /// The rule's source and destination addresses, flattened for a quick test. Shared:
    /// most rules say `$HOME_NET` or `$EXTERNAL_NET`, and one copy per rule and side was
    /// some 5 MiB with ET Open.
    src: Arc<addr::AddrSet>,
    dst: Arc<addr::AddrSet>,
    /// The app-layer protocol the rule needs, if any.
    app: Option<&'static str>,
    /// Looks at an app-layer buffer: inspected per app-layer record, not per packet.
    app_pass: bool,
    /// A transactional rule (`=>`): inspected once per record, on both its sides at once.
    transactional: bool,
    /// Evaluation order within one inspection: pass rules, then flowbit setters, then the rest.
    order: u8,
    /// (command, bit ids, all of them, flow or host).
    flowbits: Vec<(FlowbitCmd, Vec<u32>, bool, BitScope)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ThresholdKey {
    rule: u32,
    a: Option<IpAddr>,
    b: Option<IpAddr>,
    flow: u64,
}

#[derive(Debug, Clone, Copy)]
struct ThresholdState {
    start_us: i64,
    count: u64,
    next: u64,
}

/// The detection engine.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    rules: Vec<LoadedRule>,
    info: Vec<RuleInfo>,
    /// Rules inspected per packet (they look at no app-layer buffer).
    packet_prefilter: Prefilter,
    /// Rules inspected per app-layer record.
    app_prefilter: Prefilter,
    packet_scratch: Scratch,
    app_scratch: Scratch,
    /// Candidates of the current inspection, kept to reuse the allocation.
    cands: Vec<u32>,
    classifications: Option<Classifications>,
    /// Rules not loaded into the engine: (sid, reason).
    unsupported: Vec<(u64, String)>,
    /// Address-indexed rules (no fast pattern, a narrow source or destination set).
    by_src: addr_index::AddrIndex,
    by_dst: addr_index::AddrIndex,
    flowbits: HashMap<u64, Vec<u32>>,
    /// Hostbits: per address, (bit id, expiry in packet-time microseconds).
    hostbits: HashMap<IpAddr, Vec<(u32, i64)>>,
    thresholds: HashMap<ThresholdKey, ThresholdState>,
    regex: RegexCache,
    stats: EngineStats,
    vars: Vec<(String, u64)>,
    /// pcre captures of the rule being verified.
    captures: Vec<Capture>,
    /// Packet variables set while inspecting the current packet or record.
    pktvars: Vec<(String, Vec<u8>)>,
    /// Flow variables, in the order first set, per flow.
    flowvars: HashMap<u64, Vec<(String, Vec<u8>)>>,
    /// Flowbit names by id.
    bit_names: Vec<String>,
    last_threshold_sweep: i64,
    /// Some rule is transactional (`=>`): records get a third pass, both sides at once.
    transactional: bool,
    /// Public suffixes for the `domain` and `tld` transforms.
    suffixes: PublicSuffixList,
}

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The prefilter automata could not be built.
    #[error(transparent)]
    Prefilter(#[from] PrefilterError),
}

/// How long a hostbit lasts when the rule gives no `expire` (Suricata's default).
const HOSTBIT_EXPIRE_S: u32 = 30;

/// Transforms the engine applies.
const TRANSFORMS: &[&str] = &[
    "dotprefix",
    "to_lowercase",
    "to_uppercase",
    "strip_whitespace",
    "compress_whitespace",
    "url_decode",
    "to_md5",
    "to_sha1",
    "to_sha256",
    "header_lowercase",
    "xor",
    "pcrexform",
    "domain",
    "tld",
];

/// Keywords kept for syntax that are safe to ignore for matching.
const IGNORABLE: &[&str] = &["tag", "prefilter"];

/// Why the engine cannot evaluate `rule`, if it cannot.
fn unsupported_reason(rule: &Rule) -> Option<String> {
    let config_rule = rule.header.action == Action::Config;
    let understood =
        |keyword: &str| IGNORABLE.contains(&keyword) || (config_rule && keyword == "config");
    if let Some(o) = rule.other.iter().find(|o| !understood(&o.keyword)) {
        return Some(o.keyword.clone());
    }
    if config_rule {
        return config_reason(rule);
    }
    for b in &rule.buffers {
        if !app::SUPPORTED.contains(&b.buffer) && !is_packet_buffer(b.buffer) {
            return Some(b.buffer.to_string());
        }
        if let Some((t, _)) = b.transforms.iter().find(|(t, _)| !TRANSFORMS.contains(t)) {
            return Some((*t).to_string());
        }
        for m in &b.matches {
            match m {
                Match::Base64Decode(_) => return Some("base64_decode".into()),
                Match::Asn1(_) => return Some("asn1".into()),
                _ => {}
            }
        }
    }
    if rule
        .checks
        .iter()
        .any(|c| matches!(c, HeaderCheck::StreamSize(..)))
    {
        return Some("stream_size".into());
    }
    if rule.target.is_some() {
        // Harmless for matching; only the alert's source/target objects are missing.
    }
    if app_of(rule) == Some("unsupported") {
        let name = rule.app_layer().unwrap_or_default();
        return Some(format!("app-layer protocol {name}"));
    }
    if let Some(th) = rule.threshold.as_ref().or(rule.detection_filter.as_ref()) {
        if th.unique_on.is_some() {
            return Some("detection_filter unique_on".into());
        }
    }
    if rule.header.direction == Direction::Transactional
        && !rule.buffers.iter().any(|b| !is_packet_buffer(b.buffer))
    {
        // A transaction is an app-layer record: without one of its buffers the rule
        // would have nothing to pair the two sides with.
        return Some("=> (transactional) without app-layer buffers".into());
    }
    match proto_of(rule) {
        Some(_) => None,
        None => Some(format!("protocol {}", rule.header.protocol.name)),
    }
}

/// Why a `config` rule cannot be evaluated, if it cannot. Picket implements what Suricata
/// 8 does: `config: logging disable, type tx, scope tx` on an app-layer rule, which keeps
/// the matching transaction out of the EVE log.
fn config_reason(rule: &Rule) -> Option<String> {
    let Some(value) = rule
        .other
        .iter()
        .find(|o| o.keyword == "config")
        .and_then(|o| o.value.as_deref())
    else {
        return Some("config action without a config keyword".into());
    };
    if parse_config(value) != Some(ConfigOption::QuietTx) {
        return Some(format!("config: {value}"));
    }
    if rule.app_layer().is_none() {
        return Some("config on a packet rule (type tx needs a transaction)".into());
    }
    match proto_of(rule) {
        Some(_) => None,
        None => Some(format!("protocol {}", rule.header.protocol.name)),
    }
}

/// A `config` keyword's setting that the engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfigOption {
    /// `logging disable, type tx, scope tx`.
    QuietTx,
}

/// Parses `config: <subsys> <action>, type <t>, scope <s>`: a subsystem and action first,
/// then named parts in any order. Only the combination the engine implements is returned.
fn parse_config(value: &str) -> Option<ConfigOption> {
    let mut parts = value.split(',').map(str::trim);
    let mut head = parts.next()?.split_whitespace();
    let (subsys, action) = (head.next()?, head.next()?);
    if head.next().is_some() {
        return None;
    }
    let (mut kind, mut scope) = (None, None);
    for part in parts {
        let mut words = part.split_whitespace();
        let (name, val) = (words.next()?, words.next()?);
        if words.next().is_some() {
            return None;
        }
        match name {
            "type" => kind = Some(val),
            "scope" => scope = Some(val),
            _ => return None,
        }
    }
    match (subsys, action, kind?, scope?) {
        ("logging", "disable", "tx", "tx") => Some(ConfigOption::QuietTx),
        _ => None,
    }
}

fn app_of(rule: &Rule) -> Option<&'static str> {
    let a = rule.app_layer()?;
    Some(match a {
        "http" | "http1" => "http",
        "dns" => "dns",
        "tls" | "ssl" => "tls",
        "ssh" => "ssh",
        // The caller reports the rule with the protocol's name.
        _ => "unsupported",
    })
}

fn proto_of(rule: &Rule) -> Option<Proto> {
    Some(match rule.header.protocol.transport() {
        "ip" => Proto::Any,
        "tcp" => Proto::Num(6),
        "udp" => Proto::Num(17),
        "icmp" => Proto::Icmp,
        _ => return None,
    })
}

fn transport_name(proto: u8) -> &'static str {
    match proto {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "other",
    }
}

impl Engine {
    /// Builds the engine from loaded rules. Rules it cannot evaluate are left out and
    /// listed by [`Engine::unsupported`].
    pub fn new(
        rules: Vec<LoadedRule>,
        classifications: Option<Classifications>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let mut unsupported = Vec::new();
        // Filtered in place, not copied: a second array of ET Open's rules was 16 MiB more
        // at the load's peak, and the ruleset's push-grown array had a quarter to spare.
        let mut kept = rules;
        kept.retain(|lr| match unsupported_reason(&lr.rule) {
            Some(reason) => {
                unsupported.push((lr.rule.meta.sid, reason));
                false
            }
            None => true,
        });
        kept.shrink_to_fit();
        let mut bit_ids: HashMap<String, u32> = HashMap::new();
        let mut addr_sets: HashSet<Arc<addr::AddrSet>> = HashSet::new();
        let mut intern = |set: addr::AddrSet| -> Arc<addr::AddrSet> {
            if let Some(shared) = addr_sets.get(&set) {
                return shared.clone();
            }
            let shared = Arc::new(set);
            addr_sets.insert(shared.clone());
            shared
        };
        let info: Vec<RuleInfo> = kept
            .iter()
            .map(|lr| {
                let r = &lr.rule;
                let flowbits: Vec<_> = r
                    .flowbits
                    .iter()
                    .filter(|f| f.cmd != FlowbitCmd::NoAlert)
                    .map(|f| {
                        let ids = f
                            .names
                            .iter()
                            .map(|n| {
                                let next = bit_ids.len() as u32;
                                *bit_ids.entry(n.clone()).or_insert(next)
                            })
                            .collect();
                        (f.cmd, ids, f.all, f.scope)
                    })
                    .collect();
                let sets = flowbits.iter().any(|(c, _, _, _)| {
                    matches!(c, FlowbitCmd::Set | FlowbitCmd::Unset | FlowbitCmd::Toggle)
                });
                let order = if r.header.action == Action::Pass {
                    0
                } else if sets {
                    1
                } else {
                    2
                };
                RuleInfo {
                    proto: proto_of(r).unwrap_or(Proto::Any),
                    src: intern(addr::AddrSet::from_expr(&lr.resolved.src)),
                    dst: intern(addr::AddrSet::from_expr(&lr.resolved.dst)),
                    app: app_of(r),
                    app_pass: r.buffers.iter().any(|b| !is_packet_buffer(b.buffer)),
                    transactional: r.header.direction == Direction::Transactional,
                    order,
                    flowbits,
                }
            })
            .collect();
        // Rules with no fast pattern whose source (or destination) is a narrow address set
        // (ET's block lists) are found by address instead of being tried on every packet
        // of their group.
        let (mut src_sets, mut dst_sets) = (Vec::new(), Vec::new());
        let mut indexed = vec![false; kept.len()];
        for (i, (lr, inf)) in kept.iter().zip(&info).enumerate() {
            if lr.rule.header.direction != Direction::ToDst
                || crate::prefilter::fast_pattern(&lr.rule).is_some()
            {
                continue;
            }
            if addr_index::narrow(&inf.src) {
                src_sets.push((i as u32, &*inf.src));
            } else if addr_index::narrow(&inf.dst) {
                dst_sets.push((i as u32, &*inf.dst));
            } else {
                continue;
            }
            indexed[i] = true;
        }
        let by_src = addr_index::AddrIndex::build(src_sets);
        let by_dst = addr_index::AddrIndex::build(dst_sets);
        // One prefilter per pass, so neither scans for rules the other inspects.
        let exclude = |app_pass: bool| -> Vec<bool> {
            indexed
                .iter()
                .zip(&info)
                .map(|(&ix, inf)| ix || inf.app_pass != app_pass)
                .collect()
        };
        let packet_prefilter = Prefilter::build_excluding(&kept, &exclude(false))?;
        let app_prefilter = Prefilter::build_excluding(&kept, &exclude(true))?;
        let transactional = info.iter().any(|i| i.transactional);
        let mut bit_names = vec![String::new(); bit_ids.len()];
        for (name, id) in bit_ids {
            bit_names[id as usize] = name;
        }
        Ok(Engine {
            config,
            rules: kept,
            info,
            packet_prefilter,
            app_prefilter,
            packet_scratch: Scratch::default(),
            app_scratch: Scratch::default(),
            cands: Vec::new(),
            classifications,
            unsupported,
            by_src,
            by_dst,
            flowbits: HashMap::new(),
            hostbits: HashMap::new(),
            thresholds: HashMap::new(),
            regex: RegexCache::default(),
            stats: EngineStats::default(),
            vars: Vec::new(),
            captures: Vec::new(),
            pktvars: Vec::new(),
            flowvars: HashMap::new(),
            bit_names,
            last_threshold_sweep: i64::MIN / 2,
            transactional,
            suffixes: PublicSuffixList::builtin(),
        })
    }

    /// The public suffix list the `domain` and `tld` transforms use (by default picket's
    /// short built-in one; the caller reads the system's list and passes it here).
    pub fn set_public_suffixes(&mut self, list: PublicSuffixList) {
        self.suffixes = list;
    }

    /// The public suffix list in use.
    pub fn public_suffixes(&self) -> &PublicSuffixList {
        &self.suffixes
    }

    /// Rules in the engine.
    pub fn rules(&self) -> &[LoadedRule] {
        &self.rules
    }

    /// Rules left out, as (sid, reason).
    pub fn unsupported(&self) -> &[(u64, String)] {
        &self.unsupported
    }

    /// Rules left out, counted by reason, most frequent first.
    pub fn unsupported_by_reason(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, r) in &self.unsupported {
            *counts.entry(r.as_str()).or_default() += 1;
        }
        let mut v: Vec<_> = counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Regex counters: (limit hits, compile errors, inspections out of budget).
    pub fn regex_stats(&self) -> (u64, u64, u64) {
        (
            self.regex.limit_hits,
            self.regex.compile_errors,
            self.regex.budget_exhausted,
        )
    }

    /// Inspects a packet; appends a verdict per alerting rule.
    pub fn inspect_packet(&mut self, p: &PacketView<'_>, out: &mut Vec<Verdict>) {
        self.stats.packets += 1;
        self.pktvars.clear();
        let traffic = Traffic {
            transport: transport_name(p.proto),
            app: p.app_proto,
            to_server: p.to_server,
            src_port: p.sport,
            dst_port: p.dport,
        };
        // Encrypted application data is not scanned, and rules that need the payload see
        // none (Suricata's `encryption-handling: default`).
        let payload = (!p.payload_encrypted).then_some(p.payload);
        let bufs: [(&str, &[u8]); 3] = [
            (PAYLOAD, payload.unwrap_or_default()),
            (ip_header_buffer(p), p.ip_header),
            (l4_header_buffer(p), p.l4_header),
        ];
        let mut cands = std::mem::take(&mut self.cands);
        cands.clear();
        self.packet_prefilter.candidates_into(
            &traffic,
            &bufs,
            &mut self.packet_scratch,
            &mut cands,
        );
        self.indexed(p.src, p.dst, &mut cands);
        cands.retain(|&r| !self.info[r as usize].app_pass);
        let side = Side {
            src: (p.src, p.sport),
            dst: (p.dst, p.dport),
            to_server: p.to_server,
            transactional: false,
            buffers: &[],
            payload,
        };
        self.run(&mut cands, p, &side, false, out);
        self.cands = cands;
    }

    /// Inspects an app-layer record completed by packet `p`.
    pub fn inspect_app(&mut self, p: &PacketView<'_>, a: &AppView<'_>, out: &mut Vec<Verdict>) {
        self.stats.app_records += 1;
        self.pktvars.clear();
        let (req, resp) = app::buffers(a.event.event_type, &a.event.body, a.extra);
        let (client, server) = if p.to_server {
            ((p.src, p.sport), (p.dst, p.dport))
        } else {
            ((p.dst, p.dport), (p.src, p.sport))
        };
        // A request snapshot is inspected on the request side only; the record that
        // completes that transaction later is inspected on the response side only, so each
        // rule still fires once per transaction.
        let stage = a.event.stage;
        for (to_server, bufs) in [(true, &req), (false, &resp)] {
            let offered = match stage {
                Stage::Whole => true,
                Stage::Request => to_server,
                Stage::Response => !to_server,
            };
            if bufs.is_empty() || !offered {
                continue;
            }
            let (src, dst) = if to_server {
                (client, server)
            } else {
                (server, client)
            };
            let payload = if to_server == p.to_server {
                (!p.payload_encrypted).then_some(p.payload)
            } else {
                // The record's bytes came with an earlier packet the other way; this
                // packet's acknowledgement released them.
                (!a.stream.is_empty()).then_some(a.stream)
            };
            let mut view: Vec<(&str, &[u8])> =
                bufs.iter().map(|(n, b)| (*n, b.as_slice())).collect();
            if let Some(pl) = payload {
                view.push((PAYLOAD, pl));
            }
            let traffic = Traffic {
                transport: transport_name(p.proto),
                app: Some(a.event.event_type),
                to_server,
                src_port: src.1,
                dst_port: dst.1,
            };
            let mut cands = std::mem::take(&mut self.cands);
            cands.clear();
            self.app_prefilter
                .candidates_into(&traffic, &view, &mut self.app_scratch, &mut cands);
            self.indexed(src.0, dst.0, &mut cands);
            cands.retain(|&r| self.info[r as usize].app_pass);
            let side = Side {
                src,
                dst,
                to_server,
                transactional: false,
                buffers: bufs,
                payload,
            };
            self.run(&mut cands, p, &side, true, out);
            self.cands = cands;
        }
        if self.transactional && stage != Stage::Request {
            self.inspect_transaction(p, a, (client, server), [&req, &resp], out);
        }
    }

    /// Runs the transactional (`=>`) rules on both sides of one record at once: the
    /// request's buffers and the response's, from client to server.
    fn inspect_transaction(
        &mut self,
        p: &PacketView<'_>,
        a: &AppView<'_>,
        (client, server): ((IpAddr, u16), (IpAddr, u16)),
        [req, resp]: [&app::Buffers; 2],
        out: &mut Vec<Verdict>,
    ) {
        if req.is_empty() || resp.is_empty() {
            // Half a transaction cannot satisfy a rule that spans both halves.
            return;
        }
        let both: app::Buffers = req.iter().chain(resp.iter()).cloned().collect();
        let view: Vec<(&str, &[u8])> = both.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let traffic = Traffic {
            transport: transport_name(p.proto),
            app: Some(a.event.event_type),
            to_server: true,
            src_port: client.1,
            dst_port: server.1,
        };
        let mut cands = std::mem::take(&mut self.cands);
        cands.clear();
        self.app_prefilter
            .candidates_into(&traffic, &view, &mut self.app_scratch, &mut cands);
        self.indexed(client.0, server.0, &mut cands);
        cands.retain(|&r| self.info[r as usize].transactional);
        let side = Side {
            src: client,
            dst: server,
            to_server: true,
            transactional: true,
            buffers: &both,
            payload: None,
        };
        self.run(&mut cands, p, &side, true, out);
        self.cands = cands;
    }

    /// Adds the address-indexed rules for a packet from `src` to `dst`.
    fn indexed(&self, src: IpAddr, dst: IpAddr, cands: &mut Vec<u32>) {
        cands.extend_from_slice(self.by_src.lookup(src));
        cands.extend_from_slice(self.by_dst.lookup(dst));
    }

    /// Verifies candidates in order, applies flowbits and thresholds, writes verdicts.
    /// Returns the rules that matched.
    fn run(
        &mut self,
        cands: &mut [u32],
        p: &PacketView<'_>,
        side: &Side<'_>,
        with_app: bool,
        out: &mut Vec<Verdict>,
    ) -> Vec<usize> {
        let mut matched = Vec::new();
        if cands.is_empty() {
            return matched;
        }
        // Evaluation order, then rule order: one u64 key per candidate sorts fastest.
        cands.sort_unstable_by_key(|&r| {
            (u64::from(self.info[r as usize].order) << 32) | u64::from(r)
        });
        for &mut r in cands {
            let r = r as usize;
            self.stats.candidates += 1;
            if !self.verify(r, p, side) {
                continue;
            }
            self.stats.matches += 1;
            matched.push(r);
            self.apply_flowbits(r, p.flow_id);
            self.apply_hostbits(r, p, side);
            let context = self.apply_captures(p.flow_id);
            let rule = &self.rules[r].rule;
            let pass = rule.header.action == Action::Pass;
            if rule.header.action == Action::Config {
                // Only app-layer config rules are loaded; each match quiets the record.
                if with_app {
                    out.push(Verdict {
                        alert: Value::Null,
                        to_server: side.to_server,
                        with_app,
                        extra: Map::new(),
                        quiet_tx: true,
                    });
                }
                continue;
            }
            if rule.noalert {
                self.stats.noalert += 1;
            } else if !self.threshold_allows(r, p, side) {
                self.stats.suppressed += 1;
            } else if !pass {
                self.stats.alerts += 1;
                let mut alert = self.alert_json(r);
                if let (Some(ctx), Value::Object(o)) = (context, &mut alert) {
                    o.insert("context".into(), ctx);
                }
                let mut extra = self.flow_record(p.flow_id);
                if !self.pktvars.is_empty() {
                    let md = extra
                        .entry("metadata")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(md) = md {
                        md.insert("pktvars".into(), var_list(&self.pktvars));
                    }
                }
                out.push(Verdict {
                    alert,
                    to_server: side.to_server,
                    with_app,
                    extra,
                    quiet_tx: false,
                });
            }
            if pass {
                // A pass rule ends inspection of this packet or record.
                break;
            }
        }
        matched
    }

    fn verify(&mut self, r: usize, p: &PacketView<'_>, side: &Side<'_>) -> bool {
        let info = &self.info[r];
        let lr = &self.rules[r];
        let rule = &lr.rule;
        let proto_ok = match info.proto {
            Proto::Any => true,
            Proto::Num(n) => p.proto == n,
            Proto::Icmp => p.proto == 1 || p.proto == 58,
        };
        if !proto_ok || info.transactional != side.transactional {
            return false;
        }
        if let Some(app) = info.app {
            if p.app_proto != Some(app) {
                return false;
            }
        }
        let h = &lr.resolved;
        let fwd = info.src.contains(side.src.0)
            && info.dst.contains(side.dst.0)
            && h.src_ports.matches(side.src.1)
            && h.dst_ports.matches(side.dst.1);
        let both = rule.header.direction == Direction::Both
            && info.src.contains(side.dst.0)
            && info.dst.contains(side.src.0)
            && h.src_ports.matches(side.dst.1)
            && h.dst_ports.matches(side.src.1);
        if !(fwd || both) {
            return false;
        }
        if let Some(f) = &rule.flow {
            if let Some(ts) = f.to_server {
                if ts != side.to_server {
                    return false;
                }
            }
            match f.state {
                Some(FlowState::Established) if !p.established => return false,
                Some(FlowState::NotEstablished) if p.established => return false,
                _ => {}
            }
            if let Some(frag) = f.frag {
                if frag != p.reassembled {
                    return false;
                }
            }
            if f.stream == Some(true) && p.proto != 6 {
                return false;
            }
        }
        for c in &rule.checks {
            if !header_check(c, p) {
                return false;
            }
        }
        if !rule
            .app_layer_protocols
            .iter()
            .all(|a| app_layer_protocol_holds(a, p.app_proto))
        {
            return false;
        }
        let bits = self.flowbits.get(&p.flow_id);
        let now = p.ts.as_micros();
        for (cmd, ids, all, scope) in &info.flowbits {
            let host_bits = match scope {
                BitScope::Flow => None,
                BitScope::Host { dst, .. } => {
                    Some(
                        self.hostbits
                            .get(if *dst { &side.dst.0 } else { &side.src.0 }),
                    )
                }
            };
            let set = |id: &u32| match host_bits {
                None => bits.is_some_and(|b| b.contains(id)),
                Some(h) => h.is_some_and(|h| h.iter().any(|(b, exp)| b == id && *exp > now)),
            };
            let ok = match cmd {
                FlowbitCmd::IsSet if *all => ids.iter().all(set),
                FlowbitCmd::IsSet => ids.iter().any(set),
                FlowbitCmd::IsNotSet if *all => !ids.iter().any(set),
                FlowbitCmd::IsNotSet => ids.iter().any(|i| !set(i)),
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        self.vars.clear();
        self.captures.clear();
        for (bi, b) in rule.buffers.iter().enumerate() {
            let base = (bi as u16) << 8;
            let mut any_instance = false;
            let mut ok = false;
            let instances: Vec<&[u8]> = if b.buffer == PAYLOAD {
                side.payload.into_iter().collect()
            } else if is_packet_buffer(b.buffer) {
                // Header buffers exist only for a real packet of that protocol.
                [
                    (ip_header_buffer(p), p.ip_header),
                    (l4_header_buffer(p), p.l4_header),
                ]
                .into_iter()
                .filter(|(n, h)| *n == b.buffer && !h.is_empty())
                .map(|(_, h)| h)
                .collect()
            } else {
                side.buffers
                    .iter()
                    .filter(|(n, _)| *n == b.buffer)
                    .map(|(_, v)| v.as_slice())
                    .collect()
            };
            for data in instances {
                any_instance = true;
                let data = transform(&b.transforms, data, &mut self.regex, &self.suffixes);
                let mut insp = Inspect::new(r as u32, &mut self.vars, &mut self.regex);
                if insp.run(&b.matches, base, &data) {
                    let caps = std::mem::take(&mut insp.captures);
                    self.captures.extend(caps);
                    ok = true;
                    break;
                }
            }
            if !any_instance {
                ok = b.matches.iter().any(|m| matches!(m, Match::Absent(_)));
            }
            if !ok {
                return false;
            }
        }
        true
    }

    fn apply_flowbits(&mut self, r: usize, flow: u64) {
        let info = &self.info[r];
        if !info.flowbits.iter().any(|(c, _, _, scope)| {
            *scope == BitScope::Flow
                && matches!(c, FlowbitCmd::Set | FlowbitCmd::Unset | FlowbitCmd::Toggle)
        }) {
            return;
        }
        if !self.flowbits.contains_key(&flow) && self.flowbits.len() >= self.config.max_flow_states
        {
            self.stats.flow_state_full += 1;
            return;
        }
        let bits = self.flowbits.entry(flow).or_default();
        for (cmd, ids, _, scope) in &info.flowbits {
            if *scope != BitScope::Flow {
                continue;
            }
            for id in ids {
                let pos = bits.iter().position(|b| b == id);
                match (cmd, pos) {
                    (FlowbitCmd::Set, None) | (FlowbitCmd::Toggle, None) => bits.push(*id),
                    (FlowbitCmd::Unset, Some(i)) | (FlowbitCmd::Toggle, Some(i)) => {
                        bits.swap_remove(i);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Stores the matched rule's pcre captures: flow variables on the flow, packet
    /// variables for this packet's alerts. Returns the alert `context` object, if any.
    fn apply_captures(&mut self, flow: u64) -> Option<Value> {
        if self.captures.is_empty() {
            return None;
        }
        let mut context = Map::new();
        for (kind, name, value) in std::mem::take(&mut self.captures) {
            match kind {
                VarKind::Alert => {
                    context.insert(name, json!(String::from_utf8_lossy(&value)));
                }
                VarKind::Pkt => set_var(&mut self.pktvars, name, value),
                VarKind::Flow => {
                    if !self.flowvars.contains_key(&flow)
                        && self.flowvars.len() >= self.config.max_flow_states
                    {
                        self.stats.flow_state_full += 1;
                        continue;
                    }
                    set_var(self.flowvars.entry(flow).or_default(), name, value);
                }
            }
        }
        (!context.is_empty()).then_some(Value::Object(context))
    }

    /// Top-level EVE fields the flow's state adds to its alerts and its flow record:
    /// `traffic` from flowbits named `traffic/id/<x>` or `traffic/label/<x>`, and
    /// `metadata.flowvars`.
    pub fn flow_record(&self, flow: u64) -> Map<String, Value> {
        let mut out = Map::new();
        let (mut ids, mut labels) = (Vec::new(), Vec::new());
        for id in self.flowbits.get(&flow).into_iter().flatten() {
            let Some(name) = self.bit_names.get(*id as usize) else {
                continue;
            };
            if let Some(x) = name.strip_prefix("traffic/id/") {
                ids.push(x);
            } else if let Some(x) = name.strip_prefix("traffic/label/") {
                labels.push(x);
            }
        }
        if !ids.is_empty() || !labels.is_empty() {
            ids.sort_unstable();
            labels.sort_unstable();
            let mut t = Map::new();
            if !ids.is_empty() {
                t.insert("id".into(), json!(ids));
            }
            if !labels.is_empty() {
                t.insert("label".into(), json!(labels));
            }
            out.insert("traffic".into(), Value::Object(t));
        }
        if let Some(vars) = self.flowvars.get(&flow).filter(|v| !v.is_empty()) {
            out.insert("metadata".into(), json!({ "flowvars": var_list(vars) }));
        }
        out
    }

    fn apply_hostbits(&mut self, r: usize, p: &PacketView<'_>, side: &Side<'_>) {
        let info = &self.info[r];
        let now = p.ts.as_micros();
        for (cmd, ids, _, scope) in &info.flowbits {
            let BitScope::Host { dst, expire } = *scope else {
                continue;
            };
            if !matches!(
                cmd,
                FlowbitCmd::Set | FlowbitCmd::Unset | FlowbitCmd::Toggle
            ) {
                continue;
            }
            let host = if dst { side.dst.0 } else { side.src.0 };
            if !self.hostbits.contains_key(&host) {
                if self.hostbits.len() >= self.config.max_host_states {
                    // Hosts whose bits have all expired make room before giving up.
                    self.hostbits
                        .retain(|_, bits| bits.iter().any(|(_, exp)| *exp > now));
                }
                if self.hostbits.len() >= self.config.max_host_states {
                    self.stats.host_state_full += 1;
                    continue;
                }
            }
            let bits = self.hostbits.entry(host).or_default();
            bits.retain(|(_, exp)| *exp > now);
            let until = now + i64::from(expire.unwrap_or(HOSTBIT_EXPIRE_S)) * 1_000_000;
            for id in ids {
                let pos = bits.iter().position(|(b, _)| b == id);
                match (cmd, pos) {
                    (FlowbitCmd::Set, Some(i)) => bits[i].1 = until,
                    (FlowbitCmd::Set, None) | (FlowbitCmd::Toggle, None) => bits.push((*id, until)),
                    (FlowbitCmd::Unset, Some(i)) | (FlowbitCmd::Toggle, Some(i)) => {
                        bits.swap_remove(i);
                    }
                    _ => {}
                }
            }
            if bits.is_empty() {
                self.hostbits.remove(&host);
            }
        }
    }

    fn threshold_allows(&mut self, r: usize, p: &PacketView<'_>, side: &Side<'_>) -> bool {
        let rule = &self.rules[r].rule;
        let (th, filter) = match (&rule.threshold, &rule.detection_filter) {
            (Some(t), _) => (t, false),
            (None, Some(d)) => (d, true),
            (None, None) => return true,
        };
        let (a, b, flow) = match th.track {
            Track::BySrc => (Some(side.src.0), None, 0),
            Track::ByDst => (Some(side.dst.0), None, 0),
            Track::ByBoth => (Some(side.src.0), Some(side.dst.0), 0),
            Track::ByRule => (None, None, 0),
            Track::ByFlow => (None, None, p.flow_id),
        };
        let key = ThresholdKey {
            rule: r as u32,
            a,
            b,
            flow,
        };
        let now = p.ts.as_micros();
        let window = i64::from(th.seconds) * 1_000_000;
        if !self.thresholds.contains_key(&key)
            && self.thresholds.len() >= self.config.max_threshold_entries
        {
            // Drop entries whose window has passed before giving up on this one, at most
            // once a second of packet time so a full table does not cost a scan per packet.
            if now - self.last_threshold_sweep >= 1_000_000 {
                self.last_threshold_sweep = now;
                self.thresholds
                    .retain(|_, s| now - s.start_us <= window.max(60_000_000));
            }
            if self.thresholds.len() >= self.config.max_threshold_entries {
                self.stats.threshold_full += 1;
                return true;
            }
        }
        let count = u64::from(th.count);
        let s = self.thresholds.entry(key).or_insert(ThresholdState {
            start_us: now,
            count: 0,
            next: count.max(1),
        });
        let backoff = th.kind == Some(ThresholdKind::Backoff);
        if !backoff && window > 0 && now - s.start_us >= window {
            s.start_us = now;
            s.count = 0;
        }
        s.count += 1;
        if filter {
            return s.count > count;
        }
        match th.kind {
            Some(ThresholdKind::Limit) | None => s.count <= count,
            Some(ThresholdKind::Threshold) => {
                if s.count >= count {
                    s.count = 0;
                    true
                } else {
                    false
                }
            }
            Some(ThresholdKind::Both) => s.count == count,
            Some(ThresholdKind::Backoff) => {
                if s.count == s.next {
                    s.next = s
                        .next
                        .saturating_mul(u64::from(th.multiplier.unwrap_or(10)).max(2));
                    true
                } else {
                    // Only the count and its multiples alert: the first match is not
                    // special unless the count is 1.
                    false
                }
            }
        }
    }

    /// The EVE `alert` object for rule `r`.
    pub fn alert_json(&self, r: usize) -> Value {
        let meta = &self.rules[r].rule.meta;
        let class = meta
            .classtype
            .as_ref()
            .and_then(|c| self.classifications.as_ref()?.get(c));
        let severity = meta.priority.or(class.map(|c| c.priority)).unwrap_or(3);
        let mut o = Map::new();
        o.insert("action".into(), json!("allowed"));
        o.insert("gid".into(), json!(meta.gid.unwrap_or(1)));
        o.insert("signature_id".into(), json!(meta.sid));
        o.insert("rev".into(), json!(meta.rev.unwrap_or(0)));
        o.insert(
            "signature".into(),
            json!(meta.msg.clone().unwrap_or_default()),
        );
        o.insert(
            "category".into(),
            json!(class.map(|c| c.description.clone()).unwrap_or_default()),
        );
        o.insert("severity".into(), json!(severity));
        let mut md: Map<String, Value> = Map::new();
        for (k, v) in meta.metadata() {
            if let Value::Array(a) = md
                .entry(k.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                a.push(json!(v));
            }
        }
        if !md.is_empty() {
            o.insert("metadata".into(), Value::Object(md));
        }
        Value::Object(o)
    }

    fn stats_json(&self) -> Value {
        let s = self.stats;
        json!({
            "rules": self.rules.len(),
            "rules_unsupported": self.unsupported.len(),
            "packets": s.packets,
            "app_records": s.app_records,
            "candidates": s.candidates,
            "matches": s.matches,
            "alerts": s.alerts,
            "suppressed": s.suppressed,
            "noalert": s.noalert,
            "flow_state_full": s.flow_state_full,
            "host_state_full": s.host_state_full,
            "threshold_full": s.threshold_full,
            "regex_limit_hits": self.regex.limit_hits,
            "regex_compile_errors": self.regex.compile_errors,
            "inspect_budget_exhausted": self.regex.budget_exhausted,
        })
    }
}

/// Most variables one flow (or packet) keeps; later new names are not kept.
const MAX_VARS: usize = 64;

/// Sets `name` to `value`, keeping the order names were first set.
fn set_var(vars: &mut Vec<(String, Vec<u8>)>, name: String, value: Vec<u8>) {
    if let Some(slot) = vars.iter_mut().find(|(n, _)| *n == name) {
        slot.1 = value;
    } else if vars.len() < MAX_VARS {
        vars.push((name, value));
    }
}

/// Variables as EVE lists them: one `{name: value}` object each.
fn var_list(vars: &[(String, Vec<u8>)]) -> Value {
    Value::Array(
        vars.iter()
            .map(|(n, v)| json!({ n.as_str(): String::from_utf8_lossy(v) }))
            .collect(),
    )
}

/// Where one inspection looks: endpoints in the alert's direction and the buffers.
struct Side<'a> {
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    to_server: bool,
    /// Both sides of one record together, for transactional rules only.
    transactional: bool,
    buffers: &'a [(&'static str, Vec<u8>)],
    payload: Option<&'a [u8]>,
}

fn tcp_flag_bits(letters: &str) -> u8 {
    letters.chars().fold(0u8, |acc, c| {
        acc | match c {
            'F' => 0x01,
            'S' => 0x02,
            'R' => 0x04,
            'P' => 0x08,
            'A' => 0x10,
            'U' => 0x20,
            'E' | '2' => 0x40,
            'C' | '1' => 0x80,
            _ => 0,
        }
    })
}

fn flags_match(f: &TcpFlags, pkt: u8) -> bool {
    let want = tcp_flag_bits(&f.flags);
    let ignore = f.ignore.as_deref().map(tcp_flag_bits).unwrap_or(0);
    let pkt = pkt & !ignore;
    match f.modifier {
        Some('+') => pkt & want == want,
        Some('*') => pkt & want != 0,
        Some('!') => pkt & want == 0,
        _ => pkt == want,
    }
}

fn header_check(c: &HeaderCheck, p: &PacketView<'_>) -> bool {
    match c {
        HeaderCheck::Flags(f) => p.tcp.is_some_and(|t| flags_match(f, t.flags)),
        HeaderCheck::Ttl(cmp) => p.ttl != 0 && cmp.matches(u64::from(p.ttl)),
        HeaderCheck::Itype(cmp) => p.icmp.is_some_and(|(t, _)| cmp.matches(u64::from(t))),
        HeaderCheck::Icode(cmp) => p.icmp.is_some_and(|(_, c)| cmp.matches(u64::from(c))),
        HeaderCheck::IpProto(cmp) => cmp.matches(u64::from(p.proto)),
        HeaderCheck::Ack(n) => p.tcp.is_some_and(|t| t.ack == *n),
        HeaderCheck::Seq(n) => p.tcp.is_some_and(|t| t.seq == *n),
        HeaderCheck::Window(neg, n) => p.tcp.is_some_and(|t| (t.window == *n) != *neg),
        // Suricata's `dsize:!N` only considers packets that carry a payload.
        HeaderCheck::Dsize(crate::keywords::NumCmp::Ne(_)) if p.payload.is_empty() => false,
        HeaderCheck::Dsize(cmp) => cmp.matches(p.payload.len() as u64),
        HeaderCheck::StreamSize(..) => false,
        HeaderCheck::IcmpId(cmp) => icmp_id_seq(p).is_some_and(|(id, _)| cmp.matches(id.into())),
        HeaderCheck::IcmpSeq(cmp) => icmp_id_seq(p).is_some_and(|(_, seq)| cmp.matches(seq.into())),
        HeaderCheck::TcpMss(cmp) => {
            p.proto == 6 && tcp_mss(p.l4_header).is_some_and(|m| cmp.matches(m.into()))
        }
        HeaderCheck::Checksum(c, valid) => checksum::ok(*c, p) == Some(*valid),
    }
}

/// Whether an `app-layer-protocol` condition holds for a flow whose protocol is `app`
/// (`None`: not known yet; `failed`: detection gave up). picket detects one protocol per
/// flow, so every mode looks at that one.
fn app_layer_protocol_holds(
    cond: &crate::rule::AppLayerProtocol,
    app: Option<&'static str>,
) -> bool {
    let is = |name: &String| match name.as_str() {
        "unknown" => app.is_none(),
        "http1" => app == Some("http"),
        "ssl" => app == Some("tls"),
        n => app == Some(n),
    };
    if cond.negated {
        // A negation never matches while the protocol is still unknown.
        app.is_some() && !cond.names.iter().any(is)
    } else {
        cond.names.iter().any(is)
    }
}

/// The name of the buffer holding the packet's IP header.
fn ip_header_buffer(p: &PacketView<'_>) -> &'static str {
    match p.ip_header.first().map(|b| b >> 4) {
        Some(4) => "ipv4.hdr",
        Some(6) => "ipv6.hdr",
        _ => "",
    }
}

/// The name of the buffer holding the packet's transport header.
fn l4_header_buffer(p: &PacketView<'_>) -> &'static str {
    match p.proto {
        6 => "tcp.hdr",
        17 => "udp.hdr",
        1 => "icmpv4.hdr",
        58 => "icmpv6.hdr",
        _ => "",
    }
}

/// Identifier and sequence number of an ICMP message that has them: echo and echo reply,
/// timestamp, information and address mask messages (ICMPv6: echo and echo reply).
fn icmp_id_seq(p: &PacketView<'_>) -> Option<(u16, u16)> {
    let (t, _) = p.icmp?;
    let has = match p.proto {
        1 => matches!(t, 0 | 8 | 13..=18),
        58 => matches!(t, 128 | 129),
        _ => false,
    };
    let h = p.l4_header;
    if !has || h.len() < 8 {
        return None;
    }
    Some((
        u16::from_be_bytes([h[4], h[5]]),
        u16::from_be_bytes([h[6], h[7]]),
    ))
}

/// The value of the MSS option in a TCP header, if it carries a well-formed one.
fn tcp_mss(header: &[u8]) -> Option<u16> {
    let mut opts = header.get(20..)?;
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1)?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if kind == 2 {
                    return (len == 4).then(|| u16::from_be_bytes([opts[2], opts[3]]));
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

fn transform<'a>(
    ts: &[(&'static str, Option<String>)],
    data: &'a [u8],
    regex: &mut RegexCache,
    suffixes: &PublicSuffixList,
) -> std::borrow::Cow<'a, [u8]> {
    use md5::Digest as _;
    let mut cur = std::borrow::Cow::Borrowed(data);
    for (t, arg) in ts {
        let arg = arg
            .as_deref()
            .map(|a| crate::options::unquote(a).unwrap_or(a));
        let next: Vec<u8> = match *t {
            "dotprefix" => {
                let mut v = Vec::with_capacity(cur.len() + 1);
                v.push(b'.');
                v.extend_from_slice(&cur);
                v
            }
            "to_lowercase" | "header_lowercase" => cur.to_ascii_lowercase(),
            "to_uppercase" => cur.to_ascii_uppercase(),
            "strip_whitespace" => cur
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
            "compress_whitespace" => {
                let mut v = Vec::with_capacity(cur.len());
                for &b in cur.iter() {
                    if b.is_ascii_whitespace() {
                        if v.last().is_some_and(|l: &u8| l.is_ascii_whitespace()) {
                            continue;
                        }
                        v.push(b' ');
                    } else {
                        v.push(b);
                    }
                }
                v
            }
            "url_decode" => {
                let text = String::from_utf8_lossy(&cur).replace('+', " ");
                app::percent_decode(&text)
            }
            "to_md5" => md5::Md5::digest(&cur[..]).to_vec(),
            "to_sha1" => sha1::Sha1::digest(&cur[..]).to_vec(),
            "to_sha256" => sha2::Sha256::digest(&cur[..]).to_vec(),
            "xor" => {
                // The parser checked the key; a bad one leaves the buffer as it is.
                let Some(key) = arg.and_then(crate::keywords::parse_xor_key) else {
                    continue;
                };
                cur.iter()
                    .zip(key.iter().cycle())
                    .map(|(b, k)| b ^ k)
                    .collect()
            }
            "pcrexform" => {
                // The buffer becomes the regex's first capture; without a match (or a
                // capture) it stays as it is.
                let Some(re) = arg.and_then(|a| regex.transform_regex(a)) else {
                    continue;
                };
                match re.captures(&cur) {
                    Ok(Some(caps)) => match caps.get(1) {
                        Some(m) => m.as_bytes().to_vec(),
                        None => continue,
                    },
                    Ok(None) => continue,
                    Err(_) => {
                        regex.limit_hits += 1;
                        continue;
                    }
                }
            }
            // A name with no registrable domain (a bare suffix, an empty label) leaves an
            // empty buffer, which no content matches.
            "domain" => suffixes
                .registrable(&cur)
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
            "tld" => suffixes
                .suffix(&cur)
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
            _ => continue,
        };
        cur = std::borrow::Cow::Owned(next);
    }
    cur
}

impl Inspector for Engine {
    fn packet(&mut self, packet: &PacketView<'_>, out: &mut Vec<Verdict>) {
        self.inspect_packet(packet, out);
    }

    fn app(&mut self, packet: &PacketView<'_>, app: &AppView<'_>, out: &mut Vec<Verdict>) {
        self.inspect_app(packet, app, out);
    }

    fn flow_ended(&mut self, flow_id: u64) {
        // Per-flow threshold entries are left to expire with the table's sweep: scanning
        // the table at every flow end would cost more than they weigh.
        self.flowbits.remove(&flow_id);
        self.flowvars.remove(&flow_id);
    }

    fn flow_record(&self, flow_id: u64) -> Map<String, Value> {
        Engine::flow_record(self, flow_id)
    }

    fn stats(&self) -> Value {
        self.stats_json()
    }
}

#[cfg(test)]
mod tests;
