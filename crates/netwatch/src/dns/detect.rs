//! Tunnelling and generated-domain detection, per source, on query time.
//!
//! Four signals, each with its own threshold in [`DetectConfig`]: a name or label longer
//! than names usually are, a random-looking part under the parent domain (Shannon entropy),
//! a source asking too fast, many TXT/NULL queries (where tunnels carry their downstream),
//! and many distinct names under one parent (each query a fresh chunk of data). Counting
//! uses tumbling windows; each finding is reported once per source, signal and parent per
//! window, with the numbers that triggered it.

use super::config::{DetectConfig, LimitsConfig};
use serde_json::{json, Value};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// What a finding is about; each kind is its own alert signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    LongName,
    HighEntropy,
    QueryRate,
    TxtNullVolume,
    UniqueSubdomains,
}

impl FindingKind {
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::LongName => "dns_long_name",
            FindingKind::HighEntropy => "dns_high_entropy",
            FindingKind::QueryRate => "dns_query_rate",
            FindingKind::TxtNullVolume => "dns_txt_null_volume",
            FindingKind::UniqueSubdomains => "dns_unique_subdomains",
        }
    }
}

/// One detection, with the figures that explain it (written under `picket.netwatch`).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    pub explain: Value,
}

/// Counters for the detector's own limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectCounters {
    /// Queries from a source that could not get state because the table was full.
    pub sources_untracked: u64,
    /// Names not remembered for the subdomain count because a cap was reached.
    pub names_untracked: u64,
}

#[derive(Debug, Default)]
struct SourceState {
    window_start: i64,
    queries: u32,
    txt_null: u32,
    parents: HashMap<String, HashSet<u64>>,
    reported: HashSet<(FindingKind, u64)>,
}

/// Per-source detection state, bounded by [`LimitsConfig`].
#[derive(Debug)]
pub struct Detector {
    config: DetectConfig,
    max_sources: usize,
    max_parents: usize,
    max_names: usize,
    tracked_names: usize,
    sources: HashMap<IpAddr, SourceState>,
    counters: DetectCounters,
}

/// Findings reported per source per window, whatever their kind: a flood of distinct
/// tunnelling names must not become a flood of alerts.
const MAX_REPORTS_PER_WINDOW: usize = 64;

impl Detector {
    pub fn new(config: DetectConfig, limits: &LimitsConfig) -> Self {
        Detector {
            config,
            max_sources: limits.max_sources,
            max_parents: limits.max_parents_per_source,
            max_names: limits.max_tracked_names,
            tracked_names: 0,
            sources: HashMap::new(),
            counters: DetectCounters::default(),
        }
    }

    pub fn counters(&self) -> DetectCounters {
        self.counters
    }

    /// Sources with state now (for memory accounting in tests and stats).
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// Score one query (`name` normalised) from `source` at `now_micros`.
    pub fn observe(
        &mut self,
        now_micros: i64,
        source: IpAddr,
        name: &str,
        qtype: u16,
    ) -> Vec<Finding> {
        let window = i64::from(self.config.window_secs) * 1_000_000;
        if !self.sources.contains_key(&source) && self.sources.len() >= self.max_sources {
            self.evict_idle(now_micros, window);
            if self.sources.len() >= self.max_sources {
                self.counters.sources_untracked += 1;
                return Vec::new();
            }
        }
        let config = &self.config;
        let state = self.sources.entry(source).or_default();
        if now_micros - state.window_start >= window || now_micros < state.window_start {
            let forgotten: usize = state.parents.values().map(HashSet::len).sum();
            self.tracked_names = self.tracked_names.saturating_sub(forgotten);
            *state = SourceState {
                window_start: now_micros,
                ..SourceState::default()
            };
        }
        state.queries = state.queries.saturating_add(1);
        let (parent, sub) = split_parent(name);
        let mut findings = Vec::new();
        let mut report = |state: &mut SourceState, kind: FindingKind, key: &str, explain: Value| {
            if state.reported.len() < MAX_REPORTS_PER_WINDOW
                && state.reported.insert((kind, hash(key)))
            {
                findings.push(Finding { kind, explain });
            }
        };

        let longest = name.split('.').map(str::len).max().unwrap_or(0);
        if longest > config.max_label_len as usize || name.len() > config.max_name_len as usize {
            report(
                state,
                FindingKind::LongName,
                parent,
                json!({
                    "kind": FindingKind::LongName.name(),
                    "name_length": name.len(),
                    "max_name_len": config.max_name_len,
                    "longest_label": longest,
                    "max_label_len": config.max_label_len,
                    "parent": parent,
                }),
            );
        }
        let letters: Vec<u8> = sub.bytes().filter(|b| *b != b'.').collect();
        if letters.len() >= config.entropy_min_len as usize {
            let bits = entropy(&letters);
            if bits >= config.entropy_bits {
                report(
                    state,
                    FindingKind::HighEntropy,
                    parent,
                    json!({
                        "kind": FindingKind::HighEntropy.name(),
                        "entropy_bits": (bits * 100.0).round() / 100.0,
                        "threshold_bits": config.entropy_bits,
                        "scored": sub,
                        "scored_length": letters.len(),
                        "min_length": config.entropy_min_len,
                        "parent": parent,
                    }),
                );
            }
        }
        if state.queries > config.max_queries_per_window {
            report(
                state,
                FindingKind::QueryRate,
                "",
                json!({
                    "kind": FindingKind::QueryRate.name(),
                    "queries": state.queries,
                    "max_queries": config.max_queries_per_window,
                    "window_secs": config.window_secs,
                    "window_elapsed_secs": (now_micros - state.window_start) as f64 / 1e6,
                }),
            );
        }
        // TXT (16) and NULL (10): where DNS tunnels carry data back to the client.
        if qtype == 16 || qtype == 10 {
            state.txt_null = state.txt_null.saturating_add(1);
            if state.txt_null > config.max_txt_null_per_window {
                report(
                    state,
                    FindingKind::TxtNullVolume,
                    "",
                    json!({
                        "kind": FindingKind::TxtNullVolume.name(),
                        "txt_null_queries": state.txt_null,
                        "max_txt_null": config.max_txt_null_per_window,
                        "window_secs": config.window_secs,
                    }),
                );
            }
        }
        if !sub.is_empty() {
            let cap = config.max_unique_subdomains as usize + 1;
            let known_parent = state.parents.contains_key(parent);
            if !known_parent && state.parents.len() >= self.max_parents {
                self.counters.names_untracked += 1;
            } else {
                let subs = state.parents.entry(parent.to_string()).or_default();
                // Once over the threshold the exact count no longer matters: stop growing.
                if subs.len() < cap {
                    if self.tracked_names < self.max_names {
                        if subs.insert(hash(sub)) {
                            self.tracked_names += 1;
                        }
                    } else {
                        self.counters.names_untracked += 1;
                    }
                }
                let unique = subs.len();
                if unique > config.max_unique_subdomains as usize {
                    report(
                        state,
                        FindingKind::UniqueSubdomains,
                        parent,
                        json!({
                            "kind": FindingKind::UniqueSubdomains.name(),
                            "unique_subdomains": unique,
                            "max_unique_subdomains": config.max_unique_subdomains,
                            "parent": parent,
                            "window_secs": config.window_secs,
                        }),
                    );
                }
            }
        }
        findings
    }

    fn evict_idle(&mut self, now_micros: i64, window: i64) {
        let mut freed = 0usize;
        self.sources.retain(|_, s| {
            let keep = now_micros - s.window_start < window;
            if !keep {
                freed += s.parents.values().map(HashSet::len).sum::<usize>();
            }
            keep
        });
        self.tracked_names = self.tracked_names.saturating_sub(freed);
    }
}

fn hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Shannon entropy of a byte string, in bits per byte.
pub fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in bytes {
        counts[usize::from(*b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Second-level labels under which country TLDs register names (`example.co.uk`).
const SECOND_LEVELS: &[&str] = &["co", "com", "net", "org", "gov", "ac", "edu", "ne", "or"];

/// Splits a name into its parent domain (the registered domain, approximated without the
/// public suffix list: the last two labels, or three under `co.uk`-style suffixes) and the
/// part under it.
pub fn split_parent(name: &str) -> (&str, &str) {
    let labels: Vec<usize> = name.match_indices('.').map(|(i, _)| i).collect::<Vec<_>>();
    let n = labels.len() + 1;
    let mut keep = 2;
    if n >= 3 {
        let tld = &name[labels[labels.len() - 1] + 1..];
        let second = &name[labels[labels.len() - 2] + 1..labels[labels.len() - 1]];
        if tld.len() == 2 && SECOND_LEVELS.contains(&second) {
            keep = 3;
        }
    }
    if n <= keep {
        return (name, "");
    }
    let cut = labels[n - keep - 1];
    (&name[cut + 1..], &name[..cut])
}
