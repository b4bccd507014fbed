//! The DNS guard's sans-IO core: a forwarder's decisions without the sockets.
//!
//! [`Guard::on_query`] takes one client message and says what to do with it: answer it
//! here (sinkholed, refused, malformed) or forward it upstream under a fresh id. The caller
//! sends, and hands each upstream message to [`Guard::on_upstream`], which matches it to the
//! waiting client by id *and* question (an off-path answer with a guessed id but the wrong
//! question is dropped), restores the client's id, and says which addresses to publish to
//! which nft sets. [`Guard::expire`] turns queries that waited too long into SERVFAIL.
//!
//! Every query and every answer becomes an EVE `dns` event (client as `src_ip`), and every
//! detection an EVE `alert` whose figures are under `picket.netwatch`. Everything held per
//! query or per source is capped by [`LimitsConfig`], and each cap has a counter.

pub mod config;
pub mod detect;
pub mod policy;
pub mod wire;

#[cfg(test)]
mod tests;

pub use config::{
    ConfigError, DetectConfig, GuardConfig, LimitsConfig, PinConfig, PolicyMode, SinkholeMode,
};
pub use detect::{Detector, Finding, FindingKind};
pub use policy::{normalise, Decision, DomainSet, Policy, PolicyTable, Prefix};

use picket_event::{Alert, Event, Timestamp};
use picket_proto::dns::parser::{parse_header, Message, RData};
use picket_proto::dns::{dns_body, parse_message};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Alert signature ids of the DNS guard (8200000–8200099).
pub mod sid {
    pub const CANARY: u64 = 8_200_001;
    pub const BLOCKED: u64 = 8_200_002;
    pub const NOT_ALLOWED: u64 = 8_200_003;
    pub const MALFORMED: u64 = 8_200_004;
    pub const LONG_NAME: u64 = 8_200_010;
    pub const HIGH_ENTROPY: u64 = 8_200_011;
    pub const QUERY_RATE: u64 = 8_200_012;
    pub const TXT_NULL_VOLUME: u64 = 8_200_013;
    pub const UNIQUE_SUBDOMAINS: u64 = 8_200_014;
    /// A DNS packet that went around the guard (raised by the bypass watcher).
    pub const BYPASS: u64 = 8_200_020;
}

/// How the client's message arrived (and so how its answer leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn eve(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// One message from a client.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub now: Timestamp,
    pub client: SocketAddr,
    /// The guard's own address the message reached.
    pub server: SocketAddr,
    pub transport: Transport,
    pub message: &'a [u8],
}

/// What to do with a client's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this answer back to the client.
    Reply(Vec<u8>),
    /// Send this message upstream; its answer comes back through [`Guard::on_upstream`].
    Forward { id: u16, message: Vec<u8> },
    /// Say nothing (not a query at all, or too short to answer).
    Drop,
}

/// The guard's decision on one client message, and the events it produced.
#[derive(Debug)]
pub struct QueryOutcome {
    pub action: Action,
    pub events: Vec<Event>,
}

/// An address to add to an nft set, with its timeout (the TTL, clamped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftElement {
    pub set: String,
    pub addr: IpAddr,
    pub timeout_secs: u32,
}

/// An answer for a client whose query was forwarded (or timed out).
#[derive(Debug)]
pub struct Answer {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub transport: Transport,
    pub reply: Vec<u8>,
    /// Elements to add to nft sets *before* the reply is sent, so the client's first
    /// connection to the address is already allowed.
    pub publish: Vec<NftElement>,
    pub events: Vec<Event>,
}

/// Counters of everything the guard did and every limit it hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardCounters {
    pub messages: u64,
    pub queries: u64,
    pub forwarded: u64,
    pub sinkholed: u64,
    pub canaries: u64,
    /// Client messages that did not parse (answered FORMERR where a header allowed it).
    pub malformed: u64,
    /// Client messages that were responses or too short to answer.
    pub dropped: u64,
    /// Queries answered SERVFAIL because `limits.max_pending` was reached.
    pub pending_full: u64,
    pub answered: u64,
    pub timeouts: u64,
    /// Upstream messages with no waiting query of that id and question (late or spoofed).
    pub upstream_unmatched: u64,
    pub upstream_malformed: u64,
    pub published: u64,
    /// Times the published-element cache was full and was cleared.
    pub published_cache_resets: u64,
    pub sources_untracked: u64,
    pub names_untracked: u64,
    /// Times the alert-dedup table was full and was cleared.
    pub dedup_resets: u64,
}

#[derive(Debug)]
struct Pending {
    client: SocketAddr,
    server: SocketAddr,
    transport: Transport,
    client_id: u16,
    /// The client's header and first question, to answer SERVFAIL on timeout.
    head: Vec<u8>,
    qname: String,
    qtype: u16,
    started: Timestamp,
    netwatch: Value,
    picket_qube: Option<String>,
}

#[derive(Debug, Clone)]
struct Pin {
    domain: String,
    source: Option<Prefix>,
    set4: Option<String>,
    set6: Option<String>,
}

/// Answer when a canary is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CanaryAnswer {
    Policy,
    Nxdomain,
    Address(IpAddr),
}

/// The guard: policy, canaries, detection, pending queries and pins.
#[derive(Debug)]
pub struct Guard {
    policies: PolicyTable,
    sinkhole: SinkholeMode,
    canaries: DomainSet,
    canary_answer: CanaryAnswer,
    pins: Vec<Pin>,
    nft_min: u32,
    nft_max: u32,
    limits: LimitsConfig,
    dedup_window: i64,
    detector: Detector,
    pending: HashMap<u16, Pending>,
    published: HashMap<(String, IpAddr), i64>,
    alerted: HashMap<(IpAddr, u64, String), i64>,
    rng: u64,
    tx_id: u64,
    host: Option<String>,
    counters: GuardCounters,
}

/// Alert-dedup entries kept before the table is cleared.
const MAX_DEDUP: usize = 8192;
/// TTL of locally made answers: short, so a policy change takes effect soon.
const LOCAL_TTL: u32 = 60;

impl Guard {
    /// Build a guard from a validated configuration. `seed` drives the upstream id choice
    /// (callers pass something unpredictable, such as the clock's nanoseconds and the pid).
    pub fn new(config: &GuardConfig, seed: u64) -> Result<Guard, ConfigError> {
        config.validate()?;
        let mut sources = Vec::new();
        for (i, s) in config.sources.iter().enumerate() {
            let prefix = Prefix::parse(&s.address).map_err(|message| ConfigError::Invalid {
                key: format!("source[{i}].address"),
                message,
            })?;
            sources.push((prefix, Policy::from_source(s, prefix)));
        }
        let canary_answer = match config.canary_answer.as_str() {
            "policy" => CanaryAnswer::Policy,
            "nxdomain" => CanaryAnswer::Nxdomain,
            other => CanaryAnswer::Address(other.parse().map_err(|_| ConfigError::Invalid {
                key: "canary_answer".into(),
                message: format!("{other:?} is not an address"),
            })?),
        };
        let mut guard = Guard {
            policies: PolicyTable::new(Policy::from_default(&config.default), sources),
            sinkhole: config.sinkhole,
            canaries: DomainSet::new(&config.canaries),
            canary_answer,
            pins: Vec::new(),
            nft_min: config.nft.min_timeout_secs,
            nft_max: config.nft.max_timeout_secs,
            limits: config.limits.clone(),
            dedup_window: i64::from(config.detect.window_secs) * 1_000_000,
            detector: Detector::new(config.detect.clone(), &config.limits),
            pending: HashMap::new(),
            published: HashMap::new(),
            alerted: HashMap::new(),
            rng: seed | 1,
            tx_id: 0,
            host: None,
            counters: GuardCounters::default(),
        };
        guard.add_pins(&config.pins)?;
        Ok(guard)
    }

    /// The sensor name written as `host` in every event.
    pub fn set_host(&mut self, host: Option<String>) {
        self.host = host;
    }

    /// Add pins (from the configuration, or from the firewall policy's DNS pins). A pin
    /// whose source is not an address or prefix is returned as an error, naming it.
    pub fn add_pins(&mut self, pins: &[PinConfig]) -> Result<(), ConfigError> {
        for (i, p) in pins.iter().enumerate() {
            let source = match &p.source {
                Some(s) => Some(Prefix::parse(s).map_err(|message| ConfigError::Invalid {
                    key: format!("pin[{i}].source"),
                    message,
                })?),
                None => None,
            };
            for (key, set) in [("set4", &p.set4), ("set6", &p.set6)] {
                if set.as_deref().is_some_and(|s| !config::valid_set_name(s)) {
                    return Err(ConfigError::Invalid {
                        key: format!("pin[{i}].{key}"),
                        message: format!("{set:?} is not an nft set name"),
                    });
                }
            }
            let pin = Pin {
                domain: normalise(&p.domain),
                source,
                set4: p.set4.clone(),
                set6: p.set6.clone(),
            };
            if !self.pins.iter().any(|q| {
                q.domain == pin.domain
                    && q.source == pin.source
                    && q.set4 == pin.set4
                    && q.set6 == pin.set6
            }) {
                self.pins.push(pin);
            }
        }
        Ok(())
    }

    pub fn counters(&self) -> GuardCounters {
        let mut c = self.counters;
        let d = self.detector.counters();
        c.sources_untracked = d.sources_untracked;
        c.names_untracked = d.names_untracked;
        c
    }

    /// Queries waiting for upstream now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// How long a forwarded query may wait, from the configuration.
    pub fn pending_timeout_ms(&self) -> u64 {
        self.limits.pending_timeout_ms
    }

    /// Decide what to do with one client message.
    pub fn on_query(&mut self, q: Query<'_>) -> QueryOutcome {
        self.counters.messages += 1;
        let mut events = Vec::new();
        let Ok(header) = parse_header(q.message) else {
            self.counters.dropped += 1;
            return QueryOutcome {
                action: Action::Drop,
                events,
            };
        };
        if header.is_response() {
            self.counters.dropped += 1;
            return QueryOutcome {
                action: Action::Drop,
                events,
            };
        }
        let msg = match parse_message(q.message) {
            Ok(msg) => msg,
            Err(error) => {
                self.counters.malformed += 1;
                let mut anomaly = self.envelope(q.now, q.client, q.server, q.transport, "anomaly");
                anomaly.body = json!({"type": "applayer", "event": "MALFORMED_DATA",
                    "layer": "proto_parser"});
                anomaly.extra.insert("app_proto".into(), json!("dns"));
                anomaly.picket.insert(
                    "netwatch".into(),
                    json!({"error": error.to_string(), "length": q.message.len()}),
                );
                if self.first_in_window(q.now, q.client.ip(), sid::MALFORMED, "") {
                    let explain = json!({"kind": "dns_malformed", "error": error.to_string(),
                        "length": q.message.len()});
                    events.push(alert(
                        &anomaly,
                        sid::MALFORMED,
                        "PICKET DNS malformed query to the guard",
                        "Potentially Bad Traffic",
                        6,
                        explain,
                    ));
                }
                events.insert(0, anomaly);
                let reply = wire::reply(q.message, None, wire::rcode::FORMERR, None);
                return QueryOutcome {
                    action: Action::Reply(reply),
                    events,
                };
            }
        };
        self.counters.queries += 1;
        let qend = wire::question_end(q.message);
        let policy = self.policies.for_source(q.client.ip()).clone();
        let mut query_event = self.dns_event(&q, &msg, &policy);
        if header.opcode() != 0 || msg.questions.len() != 1 || qend.is_none() {
            let rcode = if header.opcode() != 0 {
                wire::rcode::NOTIMP
            } else {
                wire::rcode::FORMERR
            };
            query_event
                .picket
                .insert("netwatch".into(), json!({"verdict": "unsupported"}));
            let reply = wire::reply(q.message, qend, rcode, None);
            events.push(query_event);
            self.local_answer(
                &q,
                &policy,
                &reply,
                json!({"verdict": "unsupported"}),
                &mut events,
            );
            return QueryOutcome {
                action: Action::Reply(reply),
                events,
            };
        }
        let question = &msg.questions[0];
        let name = normalise(&question.name.text);
        let qtype = question.rrtype;

        // Detection sees every query, whatever the policy does with it.
        let findings = self
            .detector
            .observe(q.now.as_micros(), q.client.ip(), &name, qtype);

        let canary = self.canaries.matched(&name).map(str::to_string);
        let decision = policy.decide(&name);
        let mut netwatch = Map::new();
        netwatch.insert("policy".into(), json!(policy.label));
        let (verdict, local) = match (&canary, self.canary_answer, &decision) {
            (Some(_), CanaryAnswer::Nxdomain, _) => ("canary", Some(wire::rcode::NXDOMAIN)),
            (Some(_), CanaryAnswer::Address(_), _) => ("canary", Some(wire::rcode::NOERROR)),
            (_, _, Decision::Forward { .. }) => ("forwarded", None),
            (_, _, Decision::Blocked { .. }) => ("blocked", Some(self.sinkhole_rcode())),
            (_, _, Decision::NotAllowed) => ("not_allowed", Some(self.sinkhole_rcode())),
        };
        netwatch.insert("verdict".into(), json!(verdict));
        match &decision {
            Decision::Forward {
                matched: Some(m), ..
            }
            | Decision::Blocked { matched: m } => {
                netwatch.insert("matched".into(), json!(m));
            }
            _ => {}
        }
        if let Some(c) = &canary {
            netwatch.insert("canary".into(), json!(c));
        }
        let netwatch = Value::Object(netwatch);
        query_event
            .picket
            .insert("netwatch".into(), netwatch.clone());

        // Alerts carry the query's envelope.
        let mut alerts = Vec::new();
        if let Some(c) = &canary {
            self.counters.canaries += 1;
            alerts.push(alert(
                &query_event,
                sid::CANARY,
                "PICKET DNS canary name queried",
                "Attempted Information Leak",
                15,
                json!({"kind": "dns_canary", "query": name, "canary": c,
                    "rrtype": picket_proto::dns::parser::rrtype_name(qtype)}),
            ));
        }
        // Sinkholing alerts once per (source, name) per window; a canary already alerted.
        let sinkholed = match &decision {
            Decision::Blocked { matched } => Some((
                sid::BLOCKED,
                "PICKET DNS query for a blocked domain sinkholed",
                json!({"kind": "dns_blocked", "query": name, "matched": matched,
                    "policy": policy.label}),
            )),
            Decision::NotAllowed => Some((
                sid::NOT_ALLOWED,
                "PICKET DNS query outside the source's allowlist sinkholed",
                json!({"kind": "dns_not_allowed", "query": name, "policy": policy.label}),
            )),
            Decision::Forward { .. } => None,
        };
        if let Some((id, signature, explain)) = sinkholed {
            if canary.is_none() && self.first_in_window(q.now, q.client.ip(), id, &name) {
                alerts.push(alert(
                    &query_event,
                    id,
                    signature,
                    "Potentially Bad Traffic",
                    5,
                    explain,
                ));
            }
        }
        for finding in findings {
            let (sid, signature, level) = match finding.kind {
                FindingKind::LongName => (
                    sid::LONG_NAME,
                    "PICKET DNS unusually long name (possible tunnel)",
                    8,
                ),
                FindingKind::HighEntropy => (
                    sid::HIGH_ENTROPY,
                    "PICKET DNS random-looking name (possible DGA or tunnel)",
                    8,
                ),
                FindingKind::QueryRate => (sid::QUERY_RATE, "PICKET DNS query rate above limit", 7),
                FindingKind::TxtNullVolume => (
                    sid::TXT_NULL_VOLUME,
                    "PICKET DNS many TXT/NULL queries (possible tunnel)",
                    9,
                ),
                FindingKind::UniqueSubdomains => (
                    sid::UNIQUE_SUBDOMAINS,
                    "PICKET DNS many unique names under one domain (possible tunnel)",
                    9,
                ),
            };
            let mut explain = finding.explain;
            if let Value::Object(o) = &mut explain {
                o.insert("query".into(), json!(name));
            }
            alerts.push(alert(
                &query_event,
                sid,
                signature,
                "Potentially Bad Traffic",
                level,
                explain,
            ));
        }
        events.push(query_event);
        events.extend(alerts);

        if let Some(rcode) = local {
            let answer = match (canary.is_some(), self.canary_answer) {
                (true, CanaryAnswer::Address(addr)) => address_rdata(addr, qtype),
                _ if rcode == wire::rcode::NOERROR && self.sinkhole == SinkholeMode::Address => {
                    match qtype {
                        wire::TYPE_A => {
                            Some((wire::TYPE_A, Ipv4Addr::UNSPECIFIED.octets().to_vec()))
                        }
                        wire::TYPE_AAAA => {
                            Some((wire::TYPE_AAAA, Ipv6Addr::UNSPECIFIED.octets().to_vec()))
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            if canary.is_none() {
                self.counters.sinkholed += 1;
            }
            let reply = wire::reply(
                q.message,
                qend,
                rcode,
                answer
                    .as_ref()
                    .map(|(t, rdata)| (*t, LOCAL_TTL, rdata.as_slice())),
            );
            self.local_answer(&q, &policy, &reply, netwatch, &mut events);
            return QueryOutcome {
                action: Action::Reply(reply),
                events,
            };
        }

        if self.pending.len() >= self.limits.max_pending {
            self.counters.pending_full += 1;
            let reply = wire::reply(q.message, qend, wire::rcode::SERVFAIL, None);
            let mut why = netwatch;
            if let Value::Object(o) = &mut why {
                o.insert("verdict".into(), json!("servfail"));
                o.insert("reason".into(), json!("limits.max_pending reached"));
            }
            self.local_answer(&q, &policy, &reply, why, &mut events);
            return QueryOutcome {
                action: Action::Reply(reply),
                events,
            };
        }
        let id = self.fresh_id();
        let mut message = q.message.to_vec();
        wire::set_id(&mut message, id);
        let head_end = qend.unwrap_or(12).min(q.message.len());
        self.pending.insert(
            id,
            Pending {
                client: q.client,
                server: q.server,
                transport: q.transport,
                client_id: header.id,
                head: q.message[..head_end].to_vec(),
                qname: name,
                qtype,
                started: q.now,
                netwatch,
                picket_qube: policy.qube.clone(),
            },
        );
        self.counters.forwarded += 1;
        QueryOutcome {
            action: Action::Forward { id, message },
            events,
        }
    }

    /// Take one message from upstream. `None` when no query waits for it (late, duplicate
    /// or spoofed) or it does not parse; it is counted either way.
    pub fn on_upstream(&mut self, now: Timestamp, message: &[u8]) -> Option<Answer> {
        let Some(id) = wire::id(message) else {
            self.counters.upstream_malformed += 1;
            return None;
        };
        let Ok(mut msg) = parse_message(message) else {
            self.counters.upstream_malformed += 1;
            return None;
        };
        let matches = self.pending.get(&id).is_some_and(|p| {
            msg.header.is_response()
                && msg.questions.len() == 1
                && msg.questions[0].rrtype == p.qtype
                && normalise(&msg.questions[0].name.text) == p.qname
        });
        if !matches {
            self.counters.upstream_unmatched += 1;
            return None;
        }
        let p = self.pending.remove(&id)?;
        self.counters.answered += 1;
        let mut reply = message.to_vec();
        wire::set_id(&mut reply, p.client_id);
        msg.header.id = p.client_id;
        let publish = self.pins_for(now, &p, &msg);
        self.counters.published += publish.len() as u64;
        let mut event = self.envelope(now, p.client, p.server, p.transport, "dns");
        event.body = dns_body(&msg, self.next_tx());
        let mut netwatch = p.netwatch.clone();
        if let Value::Object(o) = &mut netwatch {
            o.insert(
                "upstream_ms".into(),
                json!((now.as_micros() - p.started.as_micros()) as f64 / 1000.0),
            );
            if !publish.is_empty() {
                o.insert(
                    "published".into(),
                    Value::Array(
                        publish
                            .iter()
                            .map(|e| {
                                json!({"set": e.set, "addr": e.addr.to_string(),
                                "timeout": e.timeout_secs})
                            })
                            .collect(),
                    ),
                );
            }
        }
        event.picket.insert("netwatch".into(), netwatch);
        if let Some(qube) = &p.picket_qube {
            event.picket.insert("qube".into(), json!(qube));
        }
        Some(Answer {
            client: p.client,
            server: p.server,
            transport: p.transport,
            reply,
            publish,
            events: vec![event],
        })
    }

    /// Answer SERVFAIL to every query that has waited longer than the pending timeout.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Answer> {
        let limit = i64::try_from(self.limits.pending_timeout_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let expired: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| now.as_micros() - p.started.as_micros() >= limit)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in expired {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            self.counters.timeouts += 1;
            let mut head = p.head.clone();
            wire::set_id(&mut head, p.client_id);
            let qend = (head.len() > 12).then_some(head.len());
            let reply = wire::reply(&head, qend, wire::rcode::SERVFAIL, None);
            let mut event = self.envelope(now, p.client, p.server, p.transport, "dns");
            if let Ok(msg) = parse_message(&reply) {
                event.body = dns_body(&msg, self.next_tx());
            }
            let mut netwatch = p.netwatch.clone();
            if let Value::Object(o) = &mut netwatch {
                o.insert("verdict".into(), json!("servfail"));
                o.insert("reason".into(), json!("upstream timeout"));
            }
            event.picket.insert("netwatch".into(), netwatch);
            out.push(Answer {
                client: p.client,
                server: p.server,
                transport: p.transport,
                reply,
                publish: Vec::new(),
                events: vec![event],
            });
        }
        out
    }

    fn sinkhole_rcode(&self) -> u8 {
        match self.sinkhole {
            SinkholeMode::Address => wire::rcode::NOERROR,
            SinkholeMode::Nxdomain => wire::rcode::NXDOMAIN,
            SinkholeMode::Refused => wire::rcode::REFUSED,
        }
    }

    /// The addresses of a forwarded answer that pins ask for, minus those published
    /// recently enough that their set element is still far from expiring.
    fn pins_for(&mut self, now: Timestamp, p: &Pending, msg: &Message) -> Vec<NftElement> {
        let mut out = Vec::new();
        let client = p.client.ip();
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(client),
            v4 => v4,
        };
        for pin in &self.pins {
            let under = p.qname == pin.domain
                || (p.qname.len() > pin.domain.len()
                    && p.qname.ends_with(&pin.domain)
                    && p.qname.as_bytes()[p.qname.len() - pin.domain.len() - 1] == b'.');
            if !under || pin.source.is_some_and(|s| !s.contains(client)) {
                continue;
            }
            for record in &msg.answers {
                let (set, addr) = match (&record.rdata, &pin.set4, &pin.set6) {
                    (RData::A(a), Some(set), _) => (set, IpAddr::from(*a)),
                    (RData::Aaaa(a), _, Some(set)) => (set, IpAddr::from(*a)),
                    _ => continue,
                };
                let timeout = record.ttl.clamp(self.nft_min, self.nft_max);
                let expires = now.as_micros() + i64::from(timeout) * 1_000_000;
                let key = (set.clone(), addr);
                // Re-add once less than half the timeout is left, so a hot name does not
                // cost an nft call per query and its element never lapses while in use.
                if let Some(until) = self.published.get(&key) {
                    if *until - now.as_micros() > i64::from(timeout) * 500_000 {
                        continue;
                    }
                }
                if self.published.len() >= self.limits.max_published {
                    self.published.clear();
                    self.counters.published_cache_resets += 1;
                }
                self.published.insert(key, expires);
                let element = NftElement {
                    set: set.clone(),
                    addr,
                    timeout_secs: timeout,
                };
                if !out.contains(&element) {
                    out.push(element);
                }
            }
        }
        out
    }

    fn fresh_id(&mut self) -> u16 {
        // xorshift64*: unpredictable enough given an unpredictable seed, and the caller
        // caps pending well below 65536, so a free id is found in a few tries.
        loop {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let id = (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 48) as u16;
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn next_tx(&mut self) -> u64 {
        let t = self.tx_id;
        self.tx_id += 1;
        t
    }

    /// Whether this (source, signature, key) has not alerted within the window; records it.
    fn first_in_window(&mut self, now: Timestamp, source: IpAddr, sid: u64, key: &str) -> bool {
        let k = (source, sid, key.to_string());
        if let Some(at) = self.alerted.get(&k) {
            if now.as_micros() - *at < self.dedup_window && now.as_micros() >= *at {
                return false;
            }
        }
        if self.alerted.len() >= MAX_DEDUP {
            self.alerted.clear();
            self.counters.dedup_resets += 1;
        }
        self.alerted.insert(k, now.as_micros());
        true
    }

    fn envelope(
        &self,
        now: Timestamp,
        client: SocketAddr,
        server: SocketAddr,
        transport: Transport,
        event_type: &str,
    ) -> Event {
        let mut event = Event::new(now, event_type);
        event.host = self.host.clone();
        event.endpoints.src_ip = Some(unmapped(client.ip()).to_string());
        event.endpoints.src_port = Some(client.port());
        event.endpoints.dest_ip = Some(unmapped(server.ip()).to_string());
        event.endpoints.dest_port = Some(server.port());
        event.endpoints.proto = Some(transport.eve().into());
        event
    }

    fn dns_event(&mut self, q: &Query<'_>, msg: &Message, policy: &Policy) -> Event {
        let mut event = self.envelope(q.now, q.client, q.server, q.transport, "dns");
        event.body = dns_body(msg, self.next_tx());
        if let Some(qube) = &policy.qube {
            event.picket.insert("qube".into(), json!(qube));
        }
        event
    }

    fn local_answer(
        &mut self,
        q: &Query<'_>,
        policy: &Policy,
        reply: &[u8],
        netwatch: Value,
        events: &mut Vec<Event>,
    ) {
        if let Ok(msg) = parse_message(reply) {
            let mut event = self.dns_event(q, &msg, policy);
            event.picket.insert("netwatch".into(), netwatch);
            events.push(event);
        }
    }
}

fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

fn address_rdata(addr: IpAddr, qtype: u16) -> Option<(u16, Vec<u8>)> {
    match (addr, qtype) {
        (IpAddr::V4(a), wire::TYPE_A) => Some((wire::TYPE_A, a.octets().to_vec())),
        (IpAddr::V6(a), wire::TYPE_AAAA) => Some((wire::TYPE_AAAA, a.octets().to_vec())),
        _ => None,
    }
}

/// An EVE alert with the cause's envelope and the explanation under `picket.netwatch`.
pub fn alert(
    cause: &Event,
    signature_id: u64,
    signature: &str,
    category: &str,
    level: u8,
    explain: Value,
) -> Event {
    let mut event = Alert {
        engine: "netwatch".into(),
        signature_id,
        rev: 1,
        signature: signature.into(),
        category: category.into(),
        severity: Alert::severity_from_level(level),
        level: Some(level),
        groups: vec!["netwatch".into(), "dns".into()],
        mitre: Vec::new(),
    }
    .into_event(cause);
    event.picket.insert("netwatch".into(), explain);
    event
}

/// `nft -f` input adding `elements` to sets of `table` ("inet picket"): one `add element`
/// per set. Set names were validated as identifiers and addresses print as plain text,
/// so nothing here can inject nft syntax.
pub fn nft_batch(table: &str, elements: &[NftElement]) -> String {
    let mut by_set: Vec<(&str, Vec<String>)> = Vec::new();
    for e in elements {
        let item = format!("{} timeout {}s", e.addr, e.timeout_secs);
        match by_set.iter_mut().find(|(s, _)| *s == e.set) {
            Some((_, items)) => items.push(item),
            None => by_set.push((&e.set, vec![item])),
        }
    }
    let mut out = String::new();
    for (set, items) in by_set {
        out.push_str(&format!(
            "add element {table} {set} {{ {} }}\n",
            items.join(", ")
        ));
    }
    out
}
