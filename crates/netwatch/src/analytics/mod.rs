//! Flow analytics: per-source baselines and alerts that say why in numbers.
//!
//! [`Analytics`] takes the sensor's EVE events one at a time. `flow` records drive every
//! check; `dns` answers, TLS SNI and HTTP Host teach it which names an address goes by (for
//! name lists and for keying beacons by name). Time is the records' own (`flow.start`,
//! the event timestamp), never the wall clock, so a replay raises the same alerts.
//!
//! Checks, each an EVE `alert` with `picket.netwatch` holding the figures
//! (signature ids 9100001-9100099 are reserved for this module):
//!
//! | sid     | kind                 | fires when |
//! |---------|----------------------|------------|
//! | 9100001 | `blocklist`          | the destination (address or a name it goes by) is on a blocklist |
//! | 9100002 | `not_allowlisted`    | a policy with allowlists covers the source and no list holds the destination |
//! | 9100003 | `long_session`       | a flow lasted longer than `long_session.max_duration_s` |
//! | 9100004 | `long_session_relative` | ... longer than `history_multiple` x the source's learned p99 |
//! | 9100005 | `quiet_hour`         | a source is active in an hour that holds at most `max_share` of its baseline |
//! | 9100006 | `beacon`             | a pair's connection intervals have a coefficient of variation <= `max_cv` |
//! | 9100007 | `port_scan` outbound | a local source touched `ports_threshold` ports of one host within the window |
//! | 9100008 | `port_scan` inbound  | ... a remote source, or many sources, did so to a local host |
//! | 9100009 | `sweep` outbound     | a local source touched `hosts_threshold` hosts on one port |
//! | 9100010 | `sweep` inbound      | ... a remote source did so |
//! | 9100011 | `large_transfer`     | a flow's originator sent more than `large_transfer.max_bytes` |
//! | 9100012 | `large_transfer_relative` | ... more than `baseline_multiple` x its learned p99 |
//!
//! Baselines learn during `baseline.learning_window_s` from each source's first flow and are
//! then frozen, so slow drift by an attacker does not become the norm. Memory is bounded by
//! [`Limits`]; every cap that is hit is counted in [`Counters`].

pub mod config;
pub mod demo;
pub mod lists;
pub mod synth;

pub use config::{Config, ConfigError, Limits, Policy};
pub use lists::{Cidr, Hit, LineError, List};

use picket_event::{Alert, Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

pub const SID_BLOCKLIST: u64 = 9_100_001;
pub const SID_NOT_ALLOWLISTED: u64 = 9_100_002;
pub const SID_LONG_SESSION: u64 = 9_100_003;
pub const SID_LONG_SESSION_RELATIVE: u64 = 9_100_004;
pub const SID_QUIET_HOUR: u64 = 9_100_005;
pub const SID_BEACON: u64 = 9_100_006;
pub const SID_PORT_SCAN_OUTBOUND: u64 = 9_100_007;
pub const SID_PORT_SCAN_INBOUND: u64 = 9_100_008;
pub const SID_SWEEP_OUTBOUND: u64 = 9_100_009;
pub const SID_SWEEP_INBOUND: u64 = 9_100_010;
pub const SID_LARGE_TRANSFER: u64 = 9_100_011;
pub const SID_LARGE_TRANSFER_RELATIVE: u64 = 9_100_012;

/// Version of [`Snapshot`]'s layout; a state file of another version is refused.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why the analytics could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A policy names a list file the caller did not supply.
    #[error("policy[{policy}]: list file {file:?} was not loaded")]
    MissingList { policy: usize, file: String },
    /// Some list lines are malformed and `skip_malformed_list_lines` is off.
    #[error("{} malformed list line(s), first: {}", .0.len(), .0.first().map(|e| e.to_string()).unwrap_or_default())]
    MalformedLists(Vec<LineError>),
}

/// Why a saved state was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state was written by another layout version.
    #[error("state version {found}, this build reads version {expected}")]
    Version { found: u32, expected: u32 },
    /// The state's hour bins do not fit `baseline.weekday_aware`.
    #[error("baseline for {source_ip} has {found} hour bins, the configuration wants {expected} (baseline.weekday_aware changed?)")]
    HourBins {
        source_ip: String,
        found: usize,
        expected: usize,
    },
}

/// How often each thing happened, including every limit that was hit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub flows: u64,
    /// Flow records without a usable address pair.
    pub flows_unusable: u64,
    pub alerts: u64,
    /// Alerts held back because the same kind and key alerted within `dedup_s`.
    pub alerts_deduplicated: u64,
    /// New sources not given a baseline because `limits.max_sources` was reached.
    pub sources_dropped: u64,
    /// Destinations or ports not remembered because a baseline held its cap.
    pub destinations_dropped: u64,
    pub beacon_pairs_dropped: u64,
    pub scan_keys_dropped: u64,
    /// Times the name table was full and started over.
    pub names_reset: u64,
    /// Alerts raised without a dedup record because that table was full.
    pub dedup_full: u64,
}

/// What one source normally does, learned from its flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Baseline {
    first_seen_us: i64,
    learning_until_us: i64,
    /// Flows learned.
    flows: u64,
    /// Flows learned per hour of day (24 bins, or 168 starting Sunday 00:00).
    hours: Vec<u64>,
    /// Destinations and how many flows went to each.
    destinations: BTreeMap<IpAddr, u64>,
    ports: BTreeMap<u16, u64>,
    /// log2 histogram of flow durations in seconds (bin k holds [2^k, 2^(k+1)), bin 0 also 0).
    duration_log2: Vec<u64>,
    /// log2 histogram of bytes sent by the source per flow.
    bytes_out_log2: Vec<u64>,
    bytes_out_total: u64,
    /// The hour (absolute, in hours since the epoch) of the current quiet-hour run, and how
    /// many flows it has had.
    quiet_run: Option<(i64, u64)>,
}

const LOG2_BINS: usize = 64;

fn log2_bin(v: u64) -> usize {
    if v <= 1 {
        0
    } else {
        (63 - v.leading_zeros()) as usize
    }
}

/// The upper edge of the bin holding the `q` quantile (a conservative p-quantile).
fn quantile_upper(hist: &[u64], q: f64) -> Option<u64> {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return None;
    }
    let want = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (k, n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want {
            return Some(if k >= 63 { u64::MAX } else { 1u64 << (k + 1) });
        }
    }
    None
}

impl Baseline {
    fn new(now_us: i64, window_s: u64, bins: usize) -> Self {
        Baseline {
            first_seen_us: now_us,
            learning_until_us: now_us.saturating_add(
                i64::try_from(window_s)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1_000_000),
            ),
            flows: 0,
            hours: vec![0; bins],
            destinations: BTreeMap::new(),
            ports: BTreeMap::new(),
            duration_log2: vec![0; LOG2_BINS],
            bytes_out_log2: vec![0; LOG2_BINS],
            bytes_out_total: 0,
            quiet_run: None,
        }
    }
}

/// What the relative checks need from a learned baseline.
#[derive(Debug, Clone, Copy)]
struct Learned {
    duration_p99: Option<u64>,
    bytes_p99: Option<u64>,
    dest_known: bool,
}

/// The figures of a quiet-hour alert.
#[derive(Debug)]
struct QuietHour {
    hour: u32,
    weekday: u32,
    abs_hour: i64,
    in_bin: u64,
    flows: u64,
    share: f64,
    run: u64,
    active: Vec<usize>,
}

/// The saved state, as JSON: baselines, beacon histories and recent alert keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// The record-time clock when it was taken (microseconds since the epoch).
    pub clock_us: i64,
    baselines: BTreeMap<IpAddr, Baseline>,
    beacons: BTreeMap<String, Vec<i64>>,
    dedup: BTreeMap<String, i64>,
}

/// A flow record, as the checks need it.
#[derive(Debug, Clone)]
struct FlowView<'a> {
    src: IpAddr,
    dst: IpAddr,
    dport: u16,
    proto: &'a str,
    start_us: i64,
    end_us: i64,
    bytes_out: u64,
    conn_state: Option<&'a str>,
}

impl<'a> FlowView<'a> {
    fn from_event(event: &'a Event) -> Option<FlowView<'a>> {
        let e = &event.endpoints;
        let src: IpAddr = e.src_ip.as_deref()?.parse().ok()?;
        let dst: IpAddr = e.dest_ip.as_deref()?.parse().ok()?;
        let body = &event.body;
        let ts = |key: &str| {
            body.get(key)
                .and_then(|v| Timestamp::deserialize(v).ok())
                .map(Timestamp::as_micros)
        };
        let end_us = ts("end").unwrap_or(event.timestamp.as_micros());
        let start_us = ts("start").unwrap_or(end_us).min(end_us);
        Some(FlowView {
            src: src.to_canonical(),
            dst: dst.to_canonical(),
            dport: e.dest_port.unwrap_or(0),
            proto: e.proto.as_deref().unwrap_or(""),
            start_us,
            end_us,
            bytes_out: body
                .get("bytes_toserver")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            conn_state: event.picket.get("conn_state").and_then(Value::as_str),
        })
    }

    fn duration_s(&self) -> f64 {
        (self.end_us - self.start_us) as f64 / 1e6
    }

    /// Whether this flow is a failed attempt (no answer, refused, half-open), which is what
    /// scans are made of. Records without a `conn_state` count, as do ICMP flows (a ping
    /// sweep is answered).
    fn is_probe(&self) -> bool {
        if self.proto.contains("ICMP") {
            return true;
        }
        match self.conn_state {
            None => true,
            Some(s) => matches!(s, "S0" | "REJ" | "RSTOS0" | "RSTRH" | "SH" | "SHR" | "OTH"),
        }
    }
}

/// Rations sweeps of a full table: after one, the next waits for `cap / 8` refused
/// insertions, so a table kept full by hostile traffic costs O(1) per record amortised
/// rather than a sweep per record.
#[derive(Debug, Default)]
struct SweepRation {
    wait: usize,
}

impl SweepRation {
    fn may_sweep(&mut self, cap: usize) -> bool {
        if self.wait == 0 {
            self.wait = (cap / 8).max(1);
            true
        } else {
            self.wait -= 1;
            false
        }
    }
}

/// A set of recent items (ports or hosts) with their last-seen times, for scan windows.
#[derive(Debug, Default)]
struct WindowSet {
    items: HashMap<u128, i64>,
    last_us: i64,
    /// No item is older than this, so nothing expires before `oldest_us + window`.
    oldest_us: i64,
}

impl WindowSet {
    /// Record `item` at `now_us`, forget items older than the window, and return how many
    /// distinct items remain. Never holds more than `cap` items.
    fn touch(&mut self, item: u128, now_us: i64, window_us: i64, cap: usize) -> usize {
        self.last_us = self.last_us.max(now_us);
        if self.items.is_empty() {
            self.oldest_us = now_us;
        }
        if now_us.saturating_sub(self.oldest_us) > window_us {
            self.items
                .retain(|_, t| now_us.saturating_sub(*t) <= window_us);
            self.oldest_us = self.items.values().copied().min().unwrap_or(now_us);
        }
        if self.items.contains_key(&item) || self.items.len() < cap {
            let t = self.items.entry(item).or_insert(now_us);
            *t = (*t).max(now_us);
            self.oldest_us = self.oldest_us.min(now_us);
        }
        self.items.len()
    }
}

/// Lists and the sources they apply to.
#[derive(Debug)]
struct CompiledPolicy {
    name: String,
    sources: Vec<Cidr>,
    allow: Vec<usize>,
    block: Vec<usize>,
}

/// The analytics engine. Feed it events with [`Analytics::observe`].
#[derive(Debug)]
pub struct Analytics {
    config: Config,
    local: Vec<Cidr>,
    lists: Vec<List>,
    policies: Vec<CompiledPolicy>,
    clock_us: i64,
    baselines: HashMap<IpAddr, Baseline>,
    beacons: HashMap<String, Vec<i64>>,
    /// (scanner, target host) -> ports.
    port_scans: HashMap<(IpAddr, IpAddr), WindowSet>,
    /// (scanner, port) -> hosts.
    sweeps: HashMap<(IpAddr, u16), WindowSet>,
    /// local target -> ports, from any source.
    inbound_scans: HashMap<IpAddr, WindowSet>,
    /// address -> the last name it was seen under.
    names: HashMap<IpAddr, String>,
    dedup: HashMap<String, i64>,
    counters: Counters,
    beacon_ration: SweepRation,
    scan_ration: [SweepRation; 3],
    dedup_ration: SweepRation,
}

impl Analytics {
    /// Build from a checked configuration and the text of every list file it names
    /// (`(file name as written in the config, contents)`). Returns the malformed lines that
    /// were skipped when `skip_malformed_list_lines` is on.
    pub fn new(
        config: Config,
        files: &[(String, String)],
    ) -> Result<(Analytics, Vec<LineError>), BuildError> {
        let mut lists: Vec<List> = Vec::new();
        let mut bad = Vec::new();
        for (name, text) in files {
            let (list, errors) = List::parse(name, text);
            bad.extend(errors);
            lists.push(list);
        }
        let mut policies = Vec::new();
        for (i, p) in config.policy.iter().enumerate() {
            let name = p.name.clone().unwrap_or_else(|| format!("policy[{i}]"));
            let find = |file: &String| {
                files
                    .iter()
                    .position(|(n, _)| n == file)
                    .ok_or_else(|| BuildError::MissingList {
                        policy: i,
                        file: file.clone(),
                    })
            };
            let mut allow: Vec<usize> = p.allow.iter().map(find).collect::<Result<_, _>>()?;
            let mut block: Vec<usize> = p.block.iter().map(find).collect::<Result<_, _>>()?;
            for (entries, into, what) in [
                (&p.allow_entries, &mut allow, "allow_entries"),
                (&p.block_entries, &mut block, "block_entries"),
            ] {
                if entries.is_empty() {
                    continue;
                }
                let list_name = format!("{name}.{what}");
                let mut list = List::empty(&list_name);
                for (j, entry) in entries.iter().enumerate() {
                    if let Err(reason) = list.add_line(entry, j + 1) {
                        bad.push(LineError {
                            list: list_name.clone(),
                            line: j + 1,
                            text: entry.clone(),
                            reason,
                        });
                    }
                }
                lists.push(list);
                into.push(lists.len() - 1);
            }
            policies.push(CompiledPolicy {
                name,
                sources: p.sources.iter().filter_map(|s| Cidr::parse(s)).collect(),
                allow,
                block,
            });
        }
        if !bad.is_empty() && !config.skip_malformed_list_lines {
            return Err(BuildError::MalformedLists(bad));
        }
        Ok((Analytics::fresh(config, lists, policies), bad))
    }

    /// With the default configuration and no lists.
    pub fn with_defaults() -> Analytics {
        Analytics::fresh(Config::default(), Vec::new(), Vec::new())
    }

    /// Analytics that have seen nothing yet.
    fn fresh(config: Config, lists: Vec<List>, policies: Vec<CompiledPolicy>) -> Analytics {
        let local = config
            .local_nets
            .iter()
            .filter_map(|s| Cidr::parse(s))
            .collect();
        Analytics {
            config,
            local,
            lists,
            policies,
            clock_us: i64::MIN,
            baselines: HashMap::new(),
            beacons: HashMap::new(),
            port_scans: HashMap::new(),
            sweeps: HashMap::new(),
            inbound_scans: HashMap::new(),
            names: HashMap::new(),
            dedup: HashMap::new(),
            counters: Counters::default(),
            beacon_ration: SweepRation::default(),
            scan_ration: Default::default(),
            dedup_ration: SweepRation::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Sources with a baseline.
    pub fn sources(&self) -> usize {
        self.baselines.len()
    }

    /// Pairs tracked for beaconing.
    pub fn beacon_pairs(&self) -> usize {
        self.beacons.len()
    }

    /// Scan windows held (scanner-host, scanner-port and inbound target keys).
    pub fn scan_keys(&self) -> usize {
        self.port_scans.len() + self.sweeps.len() + self.inbound_scans.len()
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.local.iter().any(|c| c.contains(ip))
    }

    /// Look at one event; append any alerts it raises to `out`.
    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        match event.event_type.as_str() {
            "flow" => self.observe_flow(event, out),
            "dns" => self.learn_dns(event),
            "tls" => self.learn_name(event, "sni"),
            "http" => self.learn_name(event, "hostname"),
            _ => {}
        }
    }

    fn remember_name(&mut self, ip: IpAddr, name: &str) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.len() > 253 {
            return;
        }
        if self.names.len() >= self.config.limits.max_names && !self.names.contains_key(&ip) {
            // Starting over keeps recent names, which are the ones flows are about to use.
            self.names.clear();
            self.counters.names_reset += 1;
        }
        self.names.insert(ip.to_canonical(), name);
    }

    fn learn_name(&mut self, event: &Event, key: &str) {
        let Some(name) = event.body.get(key).and_then(Value::as_str) else {
            return;
        };
        let Some(ip) = event
            .endpoints
            .dest_ip
            .as_deref()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            return;
        };
        // SNI and Host may carry a port or be an address literal: only names are learned.
        let name = name.split(':').next().unwrap_or("");
        if name.parse::<IpAddr>().is_err() {
            self.remember_name(ip, name);
        }
    }

    fn learn_dns(&mut self, event: &Event) {
        let body = &event.body;
        let Some(answers) = body.get("answers").and_then(Value::as_array) else {
            return;
        };
        let Some(query) = body
            .get("queries")
            .and_then(|q| q.get(0))
            .and_then(|q| q.get("rrname"))
            .and_then(Value::as_str)
        else {
            return;
        };
        let query = query.to_string();
        for a in answers {
            let rrtype = a.get("rrtype").and_then(Value::as_str);
            if !matches!(rrtype, Some("A" | "AAAA")) {
                continue;
            }
            if let Some(ip) = a
                .get("rdata")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<IpAddr>().ok())
            {
                self.remember_name(ip, &query);
            }
        }
    }

    fn observe_flow(&mut self, event: &Event, out: &mut Vec<Event>) {
        let Some(flow) = FlowView::from_event(event) else {
            self.counters.flows_unusable += 1;
            return;
        };
        self.counters.flows += 1;
        self.clock_us = self.clock_us.max(flow.end_us);
        self.check_lists(event, &flow, out);
        self.check_beacon(event, &flow, out);
        self.check_scans(event, &flow, out);
        if self.is_local(flow.src) {
            self.check_baseline(event, &flow, out);
        }
    }

    /// Raise an alert unless the same `dedup_key` did within `dedup_s`.
    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        cause: &Event,
        now_us: i64,
        sid: u64,
        category: &str,
        severity: u8,
        signature: String,
        dedup_key: String,
        explain: Value,
        out: &mut Vec<Event>,
    ) {
        let window_us = i64::try_from(self.config.dedup_s)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1_000_000);
        let key = format!("{sid}|{dedup_key}");
        if let Some(&last) = self.dedup.get(&key) {
            if now_us.saturating_sub(last) < window_us && now_us >= last {
                self.counters.alerts_deduplicated += 1;
                return;
            }
        }
        if self.dedup.len() >= self.config.limits.max_dedup_keys
            && !self.dedup.contains_key(&key)
            && self
                .dedup_ration
                .may_sweep(self.config.limits.max_dedup_keys)
        {
            let clock = self.clock_us;
            self.dedup
                .retain(|_, t| clock.saturating_sub(*t) < window_us);
        }
        if self.dedup.len() < self.config.limits.max_dedup_keys || self.dedup.contains_key(&key) {
            self.dedup.insert(key, now_us);
        } else {
            // Fail loud: an alert without a dedup record may repeat, but is never lost.
            self.counters.dedup_full += 1;
        }
        let kind = explain
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("netwatch")
            .to_string();
        let mitre: Vec<String> = match sid {
            SID_BEACON => vec!["T1071".into()],
            SID_PORT_SCAN_OUTBOUND..=SID_SWEEP_INBOUND => vec!["T1046".into()],
            SID_LARGE_TRANSFER | SID_LARGE_TRANSFER_RELATIVE => vec!["T1041".into()],
            _ => Vec::new(),
        };
        let alert = Alert {
            engine: "netwatch".into(),
            signature_id: sid,
            rev: 1,
            signature,
            category: category.into(),
            severity,
            level: None,
            groups: vec!["netwatch".into(), kind],
            mitre,
        };
        let mut e = alert.into_event(cause);
        e.picket.insert("netwatch".into(), explain);
        self.counters.alerts += 1;
        out.push(e);
    }

    fn check_lists(&mut self, event: &Event, flow: &FlowView, out: &mut Vec<Event>) {
        if self.policies.is_empty() {
            return;
        }
        let name = self.names.get(&flow.dst).cloned();
        let mut alerts = Vec::new();
        for p in &self.policies {
            if !p.sources.is_empty() && !p.sources.iter().any(|c| c.contains(flow.src)) {
                continue;
            }
            let names = name.as_deref();
            for &li in &p.block {
                if let Some(hit) = self.lists[li].lookup(flow.dst, names) {
                    alerts.push((true, p.name.clone(), hit, 0usize));
                    break;
                }
            }
            if !p.allow.is_empty()
                && !p
                    .allow
                    .iter()
                    .any(|&li| self.lists[li].lookup(flow.dst, names).is_some())
            {
                let entries: usize = p.allow.iter().map(|&li| self.lists[li].len()).sum();
                let hit = Hit {
                    list: p
                        .allow
                        .iter()
                        .map(|&li| self.lists[li].name.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    line: 0,
                    entry: String::new(),
                };
                alerts.push((false, p.name.clone(), hit, entries));
            }
        }
        let dest = match &name {
            Some(n) => format!("{} ({n})", flow.dst),
            None => flow.dst.to_string(),
        };
        for (blocked, policy, hit, entries) in alerts {
            if blocked {
                let explain = json!({
                    "kind": "blocklist", "policy": policy, "list": hit.list, "line": hit.line,
                    "entry": hit.entry, "dest": flow.dst.to_string(), "dest_name": name,
                    "dest_port": flow.dport,
                });
                let sig = format!(
                    "NETWATCH {} contacted blocklisted {}:{} ({} line {}: {})",
                    flow.src, dest, flow.dport, hit.list, hit.line, hit.entry
                );
                self.raise(
                    event,
                    flow.end_us,
                    SID_BLOCKLIST,
                    "Potentially Bad Traffic",
                    2,
                    sig,
                    format!("{}|{}|{}", policy, flow.src, flow.dst),
                    explain,
                    out,
                );
            } else {
                let explain = json!({
                    "kind": "not_allowlisted", "policy": policy, "lists": hit.list,
                    "allowlist_entries": entries, "dest": flow.dst.to_string(),
                    "dest_name": name, "dest_port": flow.dport,
                });
                let sig = format!(
                    "NETWATCH {} contacted {}:{}, not on its allowlist ({}, {} entries)",
                    flow.src, dest, flow.dport, hit.list, entries
                );
                self.raise(
                    event,
                    flow.end_us,
                    SID_NOT_ALLOWLISTED,
                    "Potential Corporate Privacy Violation",
                    2,
                    sig,
                    format!("{}|{}|{}", policy, flow.src, flow.dst),
                    explain,
                    out,
                );
            }
        }
    }

    fn check_beacon(&mut self, event: &Event, flow: &FlowView, out: &mut Vec<Event>) {
        let c = &self.config.beacon;
        if !c.enabled || c.exclude_ports.contains(&flow.dport) {
            return;
        }
        let name = if c.by_name {
            self.names.get(&flow.dst).cloned()
        } else {
            None
        };
        let key = match &name {
            Some(n) => format!("{}>{n}", flow.src),
            None => format!("{}>{}:{}/{}", flow.src, flow.dst, flow.dport, flow.proto),
        };
        let (min_conn, history) = (c.min_connections, c.history);
        let (min_iv, max_iv, max_cv) = (c.min_interval_s, c.max_interval_s, c.max_cv);
        let cap = self.config.limits.max_beacon_pairs;
        if !self.beacons.contains_key(&key) && self.beacons.len() >= cap {
            if self.beacon_ration.may_sweep(cap) {
                // Forget pairs silent for longer than any interval we follow.
                let horizon = self.clock_us.saturating_sub((max_iv * 2e6) as i64);
                self.beacons
                    .retain(|_, starts| starts.last().is_some_and(|&t| t >= horizon));
            }
            if self.beacons.len() >= cap {
                self.counters.beacon_pairs_dropped += 1;
                return;
            }
        }
        let starts = self.beacons.entry(key.clone()).or_default();
        // Records arrive when flows end, not in start order: keep the history sorted.
        match starts.binary_search(&flow.start_us) {
            Ok(_) => return,
            Err(pos) => starts.insert(pos, flow.start_us),
        }
        if starts.len() > history {
            let extra = starts.len() - history;
            starts.drain(..extra);
        }
        // A gap longer than the longest followed interval starts the history over.
        if let Some(pos) = starts
            .windows(2)
            .rposition(|w| (w[1] - w[0]) as f64 / 1e6 > max_iv)
        {
            starts.drain(..=pos);
        }
        if starts.len() < min_conn {
            return;
        }
        let intervals: Vec<f64> = starts
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e6)
            .collect();
        let n = intervals.len() as f64;
        let mean = intervals.iter().sum::<f64>() / n;
        if mean < min_iv || mean <= 0.0 {
            return;
        }
        let var = intervals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let cv = var.sqrt() / mean;
        if cv > max_cv {
            return;
        }
        let count = starts.len();
        let span_s = (starts[count - 1] - starts[0]) as f64 / 1e6;
        let explain = json!({
            "kind": "beacon", "pair": key, "dest_name": name,
            "interval_s": round3(mean), "stddev_s": round3(var.sqrt()), "cv": round3(cv),
            "count": count, "span_s": round3(span_s),
            "threshold_cv": max_cv, "min_connections": min_conn,
        });
        let sig = format!(
            "NETWATCH beacon {key}: {count} connections every {:.1} s (cv {:.3} <= {max_cv})",
            mean, cv
        );
        self.raise(
            event,
            flow.end_us,
            SID_BEACON,
            "Potentially Bad Traffic",
            2,
            sig,
            key,
            explain,
            out,
        );
    }

    fn check_scans(&mut self, event: &Event, flow: &FlowView, out: &mut Vec<Event>) {
        let c = self.config.scan.clone();
        if !c.enabled || !flow.is_probe() {
            return;
        }
        let window_us = i64::try_from(c.window_s)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1_000_000);
        let now = flow.start_us;
        let cap = self.config.limits.max_scan_keys;
        let src_local = self.is_local(flow.src);
        let dst_local = self.is_local(flow.dst);
        let clock = self.clock_us;
        let proto_num: u128 = match flow.proto {
            "TCP" => 6,
            "UDP" => 17,
            "SCTP" => 132,
            _ => 0,
        };
        let proto_port = |port: u16| (proto_num << 16) | u128::from(port);

        // Port scan: one source, one host, many ports.
        let ports = touch_window(
            &mut self.port_scans,
            (flow.src, flow.dst),
            proto_port(flow.dport),
            now,
            window_us,
            c.ports_threshold,
            cap,
            clock,
            &mut self.counters.scan_keys_dropped,
            &mut self.scan_ration[0],
        );
        // Sweep: one source, one port, many hosts.
        let hosts = touch_window(
            &mut self.sweeps,
            (flow.src, flow.dport),
            lists::addr_bits(flow.dst).1,
            now,
            window_us,
            c.hosts_threshold,
            cap,
            clock,
            &mut self.counters.scan_keys_dropped,
            &mut self.scan_ration[1],
        );
        let inbound = if c.inbound_any_source && dst_local && !src_local {
            touch_window(
                &mut self.inbound_scans,
                flow.dst,
                proto_port(flow.dport),
                now,
                window_us,
                c.ports_threshold,
                cap,
                clock,
                &mut self.counters.scan_keys_dropped,
                &mut self.scan_ration[2],
            )
        } else {
            0
        };
        let outbound = src_local;
        let dir = if outbound { "outbound" } else { "inbound" };
        if ports >= c.ports_threshold {
            let sid = if outbound {
                SID_PORT_SCAN_OUTBOUND
            } else {
                SID_PORT_SCAN_INBOUND
            };
            let explain = json!({
                "kind": "port_scan", "direction": dir, "scanner": flow.src.to_string(),
                "target": flow.dst.to_string(), "distinct_ports": ports,
                "threshold_ports": c.ports_threshold, "window_s": c.window_s,
            });
            let sig = format!(
                "NETWATCH {dir} port scan: {} probed {ports} ports on {} within {} s (threshold {})",
                flow.src, flow.dst, c.window_s, c.ports_threshold
            );
            self.raise(
                event,
                flow.end_us,
                sid,
                "Detection of a Network Scan",
                if outbound { 1 } else { 3 },
                sig,
                format!("{}|{}", flow.src, flow.dst),
                explain,
                out,
            );
        } else if inbound >= c.ports_threshold {
            let explain = json!({
                "kind": "port_scan", "direction": "inbound", "scanner": "many",
                "target": flow.dst.to_string(), "distinct_ports": inbound,
                "threshold_ports": c.ports_threshold, "window_s": c.window_s,
            });
            let sig = format!(
                "NETWATCH inbound port scan: {inbound} ports on {} probed from several sources within {} s (threshold {})",
                flow.dst, c.window_s, c.ports_threshold
            );
            self.raise(
                event,
                flow.end_us,
                SID_PORT_SCAN_INBOUND,
                "Detection of a Network Scan",
                3,
                sig,
                format!("any|{}", flow.dst),
                explain,
                out,
            );
        }
        if hosts >= c.hosts_threshold {
            let sid = if outbound {
                SID_SWEEP_OUTBOUND
            } else {
                SID_SWEEP_INBOUND
            };
            let explain = json!({
                "kind": "sweep", "direction": dir, "scanner": flow.src.to_string(),
                "port": flow.dport, "proto": flow.proto, "distinct_hosts": hosts,
                "threshold_hosts": c.hosts_threshold, "window_s": c.window_s,
            });
            let sig = format!(
                "NETWATCH {dir} sweep: {} probed {hosts} hosts on {}/{} within {} s (threshold {})",
                flow.src, flow.proto, flow.dport, c.window_s, c.hosts_threshold
            );
            self.raise(
                event,
                flow.end_us,
                sid,
                "Detection of a Network Scan",
                if outbound { 1 } else { 3 },
                sig,
                format!("{}|{}", flow.src, flow.dport),
                explain,
                out,
            );
        }
    }

    fn hour_bin(&self, t_us: i64) -> (usize, u32, u32, i64) {
        let local =
            Timestamp::from_micros(t_us).as_secs() + i64::from(self.config.utc_offset_minutes) * 60;
        let civil = Timestamp::from_secs(local).civil();
        let bin = if self.config.baseline.weekday_aware {
            (civil.weekday * 24 + civil.hour) as usize
        } else {
            civil.hour as usize
        };
        (bin, civil.hour, civil.weekday, local.div_euclid(3600))
    }

    fn check_baseline(&mut self, event: &Event, flow: &FlowView, out: &mut Vec<Event>) {
        let bins = if self.config.baseline.weekday_aware {
            168
        } else {
            24
        };
        let (bin, hour, weekday, abs_hour) = self.hour_bin(flow.start_us);
        let duration = flow.duration_s();
        let window_s = self.config.baseline.learning_window_s;
        if !self.baselines.contains_key(&flow.src) {
            if self.baselines.len() >= self.config.limits.max_sources {
                self.counters.sources_dropped += 1;
                self.check_fixed_limits(event, flow, None, out);
                return;
            }
            self.baselines
                .insert(flow.src, Baseline::new(flow.start_us, window_s, bins));
        }
        let max_dest = self.config.limits.max_destinations_per_source;
        let Some(b) = self.baselines.get_mut(&flow.src) else {
            return;
        };
        if flow.start_us < b.learning_until_us {
            b.flows += 1;
            if let Some(h) = b.hours.get_mut(bin) {
                *h += 1;
            }
            let mut dropped = 0;
            if b.destinations.contains_key(&flow.dst) || b.destinations.len() < max_dest {
                *b.destinations.entry(flow.dst).or_default() += 1;
            } else {
                dropped += 1;
            }
            if b.ports.contains_key(&flow.dport) || b.ports.len() < max_dest {
                *b.ports.entry(flow.dport).or_default() += 1;
            } else {
                dropped += 1;
            }
            b.duration_log2[log2_bin(duration as u64)] += 1;
            b.bytes_out_log2[log2_bin(flow.bytes_out)] += 1;
            b.bytes_out_total = b.bytes_out_total.saturating_add(flow.bytes_out);
            self.counters.destinations_dropped += dropped;
            self.check_fixed_limits(event, flow, None, out);
            return;
        }
        if b.flows < self.config.baseline.min_flows {
            self.check_fixed_limits(event, flow, None, out);
            return;
        }
        // Only the figures the checks need are taken, so a learned baseline is never copied.
        let learned = Learned {
            duration_p99: quantile_upper(&b.duration_log2, 0.99),
            bytes_p99: quantile_upper(&b.bytes_out_log2, 0.99),
            dest_known: b.destinations.contains_key(&flow.dst),
        };
        let c = &self.config.quiet_hours;
        let mut quiet = None;
        let in_bin = b.hours.get(bin).copied().unwrap_or(0);
        let share = in_bin as f64 / b.flows.max(1) as f64;
        if c.enabled && share <= c.max_share {
            let run = match b.quiet_run {
                Some((h, n)) if h == abs_hour => n + 1,
                _ => 1,
            };
            b.quiet_run = Some((abs_hour, run));
            if run == c.min_flows.max(1) {
                let active: Vec<usize> = b
                    .hours
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n as f64 / b.flows.max(1) as f64 > c.max_share)
                    .map(|(i, _)| i)
                    .collect();
                quiet = Some(QuietHour {
                    hour,
                    weekday,
                    abs_hour,
                    in_bin,
                    flows: b.flows,
                    share,
                    run,
                    active,
                });
            }
        }
        self.check_fixed_limits(event, flow, Some(learned), out);
        if let Some(q) = quiet {
            self.raise_quiet_hour(event, flow, q, out);
        }
    }

    fn raise_quiet_hour(
        &mut self,
        event: &Event,
        flow: &FlowView,
        q: QuietHour,
        out: &mut Vec<Event>,
    ) {
        let c = self.config.quiet_hours.clone();
        let QuietHour {
            hour,
            weekday,
            abs_hour,
            in_bin,
            flows,
            share,
            run,
            active,
        } = q;
        let weekday_aware = self.config.baseline.weekday_aware;
        let explain = json!({
            "kind": "quiet_hour", "hour": hour,
            "weekday": if weekday_aware { Some(weekday) } else { None },
            "baseline_flows_in_hour": in_bin, "baseline_flows": flows,
            "baseline_share": round6(share), "threshold_share": c.max_share,
            "flows_this_hour": run, "active_bins": active,
            "utc_offset_minutes": self.config.utc_offset_minutes,
        });
        let sig = format!(
            "NETWATCH {} active at {hour:02}:00, an hour that held {in_bin} of its {} baseline flows ({:.2}% <= {:.2}%)",
            flow.src,
            flows,
            share * 100.0,
            c.max_share * 100.0
        );
        self.raise(
            event,
            flow.end_us,
            SID_QUIET_HOUR,
            "Misc activity",
            3,
            sig,
            format!("{}|{abs_hour}", flow.src),
            explain,
            out,
        );
    }

    /// Long sessions and large transfers: the fixed limits always, the relative ones once
    /// the source's baseline is learned.
    fn check_fixed_limits(
        &mut self,
        event: &Event,
        flow: &FlowView,
        b: Option<Learned>,
        out: &mut Vec<Event>,
    ) {
        let ls = self.config.long_session.clone();
        let duration = flow.duration_s();
        let pair = format!("{}|{}|{}", flow.src, flow.dst, flow.dport);
        if ls.enabled {
            let p99 = b.and_then(|b| b.duration_p99);
            if ls.max_duration_s > 0 && duration > ls.max_duration_s as f64 {
                let explain = json!({
                    "kind": "long_session", "duration_s": round3(duration),
                    "threshold_s": ls.max_duration_s, "baseline_p99_s": p99,
                    "dest": flow.dst.to_string(), "dest_port": flow.dport,
                });
                let sig = format!(
                    "NETWATCH long session {} -> {}:{}: {:.0} s > limit {} s",
                    flow.src, flow.dst, flow.dport, duration, ls.max_duration_s
                );
                self.raise(
                    event,
                    flow.end_us,
                    SID_LONG_SESSION,
                    "Misc activity",
                    3,
                    sig,
                    pair.clone(),
                    explain,
                    out,
                );
            } else if let Some(p99) = p99 {
                let limit = p99 as f64 * ls.history_multiple;
                if ls.history_multiple > 0.0
                    && duration >= ls.min_duration_s as f64
                    && duration > limit
                {
                    let explain = json!({
                        "kind": "long_session_relative", "duration_s": round3(duration),
                        "baseline_p99_s": p99, "multiple": ls.history_multiple,
                        "threshold_s": round3(limit), "ratio": round3(duration / p99.max(1) as f64),
                        "dest": flow.dst.to_string(), "dest_port": flow.dport,
                    });
                    let sig = format!(
                        "NETWATCH long session {} -> {}:{}: {:.0} s, {:.1}x its usual longest ({} s, limit {}x)",
                        flow.src, flow.dst, flow.dport, duration,
                        duration / p99.max(1) as f64, p99, ls.history_multiple
                    );
                    self.raise(
                        event,
                        flow.end_us,
                        SID_LONG_SESSION_RELATIVE,
                        "Misc activity",
                        3,
                        sig,
                        pair.clone(),
                        explain,
                        out,
                    );
                }
            }
        }
        let lt = self.config.large_transfer.clone();
        if lt.enabled {
            let p99 = b.and_then(|b| b.bytes_p99);
            let known = b.map(|b| b.dest_known);
            if lt.max_bytes > 0 && flow.bytes_out > lt.max_bytes {
                let explain = json!({
                    "kind": "large_transfer", "bytes_out": flow.bytes_out,
                    "threshold_bytes": lt.max_bytes, "baseline_p99_bytes": p99,
                    "dest": flow.dst.to_string(), "dest_port": flow.dport,
                    "dest_in_baseline": known,
                });
                let sig = format!(
                    "NETWATCH large upload {} -> {}:{}: {} bytes > limit {}",
                    flow.src, flow.dst, flow.dport, flow.bytes_out, lt.max_bytes
                );
                self.raise(
                    event,
                    flow.end_us,
                    SID_LARGE_TRANSFER,
                    "Potentially Bad Traffic",
                    2,
                    sig,
                    pair,
                    explain,
                    out,
                );
            } else if let Some(p99) = p99 {
                let limit = p99 as f64 * lt.baseline_multiple;
                if lt.baseline_multiple > 0.0
                    && flow.bytes_out >= lt.min_bytes
                    && flow.bytes_out as f64 > limit
                {
                    let ratio = flow.bytes_out as f64 / p99.max(1) as f64;
                    let explain = json!({
                        "kind": "large_transfer_relative", "bytes_out": flow.bytes_out,
                        "baseline_p99_bytes": p99, "multiple": lt.baseline_multiple,
                        "threshold_bytes": limit as u64, "ratio": round3(ratio),
                        "dest": flow.dst.to_string(), "dest_port": flow.dport,
                        "dest_in_baseline": known,
                    });
                    let sig = format!(
                        "NETWATCH large upload {} -> {}:{}: {} bytes, {:.1}x its usual largest ({} bytes, limit {}x)",
                        flow.src, flow.dst, flow.dport, flow.bytes_out, ratio, p99,
                        lt.baseline_multiple
                    );
                    self.raise(
                        event,
                        flow.end_us,
                        SID_LARGE_TRANSFER_RELATIVE,
                        "Potentially Bad Traffic",
                        2,
                        sig,
                        pair,
                        explain,
                        out,
                    );
                }
            }
        }
    }

    /// End of input. Nothing waits for the end today; kept so callers need not change when
    /// a check does.
    pub fn finish(&mut self, _out: &mut Vec<Event>) {}

    /// The state worth keeping across restarts. Scan windows are left out: they span
    /// seconds, and a restart takes longer.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            clock_us: self.clock_us,
            baselines: self
                .baselines
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            beacons: self
                .beacons
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dedup: self.dedup.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }

    /// Load a saved state, replacing what is held. Caps apply (excess entries are counted
    /// as dropped, in key order).
    pub fn restore(&mut self, snapshot: Snapshot) -> Result<(), StateError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(StateError::Version {
                found: snapshot.version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let bins = if self.config.baseline.weekday_aware {
            168
        } else {
            24
        };
        for (ip, b) in &snapshot.baselines {
            if b.hours.len() != bins
                || b.duration_log2.len() != LOG2_BINS
                || b.bytes_out_log2.len() != LOG2_BINS
            {
                return Err(StateError::HourBins {
                    source_ip: ip.to_string(),
                    found: b.hours.len(),
                    expected: bins,
                });
            }
        }
        let l = &self.config.limits;
        let n = snapshot.baselines.len();
        self.baselines = snapshot.baselines.into_iter().take(l.max_sources).collect();
        self.counters.sources_dropped += (n - self.baselines.len()) as u64;
        let n = snapshot.beacons.len();
        let history = self.config.beacon.history;
        self.beacons = snapshot
            .beacons
            .into_iter()
            .take(l.max_beacon_pairs)
            .map(|(k, mut v)| {
                v.sort_unstable();
                v.dedup();
                let extra = v.len().saturating_sub(history);
                v.drain(..extra);
                (k, v)
            })
            .collect();
        self.counters.beacon_pairs_dropped += (n - self.beacons.len()) as u64;
        self.dedup = snapshot.dedup.into_iter().take(l.max_dedup_keys).collect();
        self.clock_us = self.clock_us.max(snapshot.clock_us);
        Ok(())
    }
}

/// Record `item` in the window set under `key`, creating it if the cap allows (after
/// forgetting sets idle for a whole window). Returns the distinct items in the window.
#[allow(clippy::too_many_arguments)]
fn touch_window<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, WindowSet>,
    key: K,
    item: u128,
    now_us: i64,
    window_us: i64,
    threshold: usize,
    cap: usize,
    clock_us: i64,
    dropped: &mut u64,
    ration: &mut SweepRation,
) -> usize {
    if !map.contains_key(&key) && map.len() >= cap {
        if ration.may_sweep(cap) {
            map.retain(|_, w| clock_us.saturating_sub(w.last_us) <= window_us);
        }
        if map.len() >= cap {
            *dropped += 1;
            return 0;
        }
    }
    map.entry(key)
        .or_default()
        .touch(item, now_us, window_us, threshold)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
