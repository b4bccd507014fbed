//! The analytics configuration: TOML, every key documented, unknown keys refused, checked
//! before anything runs so that a typo fails at start-up with the key's name.

use super::lists::Cidr;
use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not fit the schema (the message names the key).
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value parsed but is out of range or inconsistent.
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The whole `[netwatch]`-style file. Every section has defaults, so an empty file is valid.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Sources that get baselines and whose hosts count as "ours" for scan direction (CIDR or
    /// plain addresses). Default: the private, unique-local and link-local ranges.
    pub local_nets: Vec<String>,
    /// Offset from UTC, in minutes, of the clock that "hour of day" means (e.g. 60 for CET).
    pub utc_offset_minutes: i32,
    /// Seconds within which the same alert (kind and key) is raised only once.
    pub dedup_s: u64,
    /// Skip malformed lines in list files (each still reported) instead of refusing to start.
    pub skip_malformed_list_lines: bool,
    pub baseline: BaselineConfig,
    pub limits: Limits,
    /// Allow and block lists, each applying to some sources.
    pub policy: Vec<Policy>,
    pub long_session: LongSessionConfig,
    pub quiet_hours: QuietHoursConfig,
    pub beacon: BeaconConfig,
    pub scan: ScanConfig,
    pub large_transfer: LargeTransferConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_nets: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7",
                "fe80::/10",
            ]
            .map(String::from)
            .to_vec(),
            utc_offset_minutes: 0,
            dedup_s: 3600,
            skip_malformed_list_lines: false,
            baseline: BaselineConfig::default(),
            limits: Limits::default(),
            policy: Vec::new(),
            long_session: LongSessionConfig::default(),
            quiet_hours: QuietHoursConfig::default(),
            beacon: BeaconConfig::default(),
            scan: ScanConfig::default(),
            large_transfer: LargeTransferConfig::default(),
        }
    }
}

/// How each source's baseline is learned.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineConfig {
    /// Seconds of record time, from a source's first flow, during which its baseline is
    /// learned. Baseline-relative alerts (quiet hours, relative long sessions and transfers)
    /// start after it.
    pub learning_window_s: u64,
    /// Keep one activity histogram per weekday (7 x 24 bins) instead of one (24 bins).
    pub weekday_aware: bool,
    /// Fewest flows a finished baseline needs before relative alerts use it.
    pub min_flows: u64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            learning_window_s: 7 * 86_400,
            weekday_aware: false,
            min_flows: 50,
        }
    }
}

/// Caps on what hostile traffic can make us remember; each has a counter when hit.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Sources with a baseline.
    pub max_sources: usize,
    /// Distinct destinations (and, separately, ports) remembered per baseline.
    pub max_destinations_per_source: usize,
    /// (source, destination, port) or (source, name) pairs tracked for beaconing.
    pub max_beacon_pairs: usize,
    /// Scanners and scan targets tracked at once.
    pub max_scan_keys: usize,
    /// Address-to-name entries learned from DNS answers, TLS SNI and HTTP Host.
    pub max_names: usize,
    /// Remembered (alert kind, key) pairs for deduplication.
    pub max_dedup_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sources: 4096,
            max_destinations_per_source: 1024,
            max_beacon_pairs: 65_536,
            max_scan_keys: 16_384,
            max_names: 65_536,
            max_dedup_keys: 65_536,
        }
    }
}

/// Lists that apply to some sources.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// A name used in alerts (default `policy[N]`).
    pub name: Option<String>,
    /// Sources this policy applies to (CIDR or plain addresses); empty means every source.
    pub sources: Vec<String>,
    /// Allowlist files: a flow from these sources to anything not listed alerts.
    pub allow: Vec<String>,
    /// Blocklist files: a flow to anything listed alerts.
    pub block: Vec<String>,
    /// Inline allowlist entries, in the same formats as a list line.
    pub allow_entries: Vec<String>,
    /// Inline blocklist entries.
    pub block_entries: Vec<String>,
}

/// Sessions that last too long.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LongSessionConfig {
    pub enabled: bool,
    /// Fixed limit in seconds (0: none).
    pub max_duration_s: u64,
    /// Alert when a session is longer than this multiple of the longest the source's
    /// baseline holds (its 99th percentile, rounded up to a power of two; 0: off).
    pub history_multiple: f64,
    /// The relative check ignores sessions shorter than this.
    pub min_duration_s: u64,
}

impl Default for LongSessionConfig {
    fn default() -> Self {
        LongSessionConfig {
            enabled: true,
            max_duration_s: 12 * 3600,
            history_multiple: 4.0,
            min_duration_s: 1800,
        }
    }
}

/// Activity at hours when a source is normally quiet.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuietHoursConfig {
    pub enabled: bool,
    /// An hour is quiet when it holds at most this share of the baseline's flows.
    pub max_share: f64,
    /// Flows in one quiet hour (within that hour) before it alerts: one stray packet from
    /// a timer is not "activity".
    pub min_flows: u64,
}

impl Default for QuietHoursConfig {
    fn default() -> Self {
        QuietHoursConfig {
            enabled: true,
            max_share: 0.002,
            min_flows: 3,
        }
    }
}

/// Regular connections with low jitter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeaconConfig {
    pub enabled: bool,
    /// Connections (flow starts) on one pair before judging it.
    pub min_connections: usize,
    /// Most start times kept per pair (the judgement uses all of them).
    pub history: usize,
    /// Largest coefficient of variation (stddev / mean) of the intervals that still counts
    /// as regular.
    pub max_cv: f64,
    /// Intervals shorter than this are bursts, not beacons.
    pub min_interval_s: f64,
    /// Intervals longer than this are not followed.
    pub max_interval_s: f64,
    /// Key by (source, name) when the destination's name is known from DNS, TLS SNI or
    /// HTTP Host, so a beacon that rotates addresses behind one name is one pair.
    pub by_name: bool,
    /// Destination ports never judged (periodic by design: NTP).
    pub exclude_ports: Vec<u16>,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            enabled: true,
            min_connections: 8,
            history: 32,
            max_cv: 0.1,
            min_interval_s: 5.0,
            max_interval_s: 86_400.0,
            by_name: true,
            exclude_ports: vec![123],
        }
    }
}

/// Port scans (many ports on one host) and sweeps (one port on many hosts).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    pub enabled: bool,
    /// Sliding window, in seconds of record time.
    pub window_s: u64,
    /// Distinct ports on one host, from one source, within the window.
    pub ports_threshold: usize,
    /// Distinct hosts on one port, from one source, within the window.
    pub hosts_threshold: usize,
    /// Also count distinct ports on one local host from any sources (a distributed scan
    /// towards a qube).
    pub inbound_any_source: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            enabled: true,
            window_s: 60,
            ports_threshold: 30,
            hosts_threshold: 20,
            inbound_any_source: true,
        }
    }
}

/// Unusually large outbound transfers (bytes from the flow's originator).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LargeTransferConfig {
    pub enabled: bool,
    /// Fixed limit in bytes sent by the originator in one flow (0: none).
    pub max_bytes: u64,
    /// Alert above this multiple of the source's baseline (99th percentile of bytes sent
    /// per flow, rounded up to a power of two; 0: off).
    pub baseline_multiple: f64,
    /// The relative check ignores flows that sent less than this.
    pub min_bytes: u64,
}

impl Default for LargeTransferConfig {
    fn default() -> Self {
        LargeTransferConfig {
            enabled: true,
            max_bytes: 1 << 30,
            baseline_multiple: 8.0,
            min_bytes: 20 << 20,
        }
    }
}

impl Config {
    /// Parse and check a TOML text. Errors name the key.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Check ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, net) in self.local_nets.iter().enumerate() {
            Cidr::parse(net).ok_or_else(|| {
                invalid(
                    format!("local_nets[{i}]"),
                    format!("{net:?} is not an address or CIDR"),
                )
            })?;
        }
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return Err(invalid("utc_offset_minutes", "must be within ±840"));
        }
        if self.baseline.learning_window_s == 0 {
            return Err(invalid("baseline.learning_window_s", "must be positive"));
        }
        let l = &self.limits;
        for (key, v) in [
            ("limits.max_sources", l.max_sources),
            (
                "limits.max_destinations_per_source",
                l.max_destinations_per_source,
            ),
            ("limits.max_beacon_pairs", l.max_beacon_pairs),
            ("limits.max_scan_keys", l.max_scan_keys),
            ("limits.max_names", l.max_names),
            ("limits.max_dedup_keys", l.max_dedup_keys),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be positive"));
            }
        }
        for (i, p) in self.policy.iter().enumerate() {
            for (j, s) in p.sources.iter().enumerate() {
                Cidr::parse(s).ok_or_else(|| {
                    invalid(
                        format!("policy[{i}].sources[{j}]"),
                        format!("{s:?} is not an address or CIDR"),
                    )
                })?;
            }
        }
        let finite = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(invalid(key, "must be a finite number >= 0"))
            }
        };
        finite(
            "long_session.history_multiple",
            self.long_session.history_multiple,
        )?;
        finite("quiet_hours.max_share", self.quiet_hours.max_share)?;
        if self.quiet_hours.max_share >= 1.0 {
            return Err(invalid("quiet_hours.max_share", "must be below 1"));
        }
        let b = &self.beacon;
        finite("beacon.max_cv", b.max_cv)?;
        finite("beacon.min_interval_s", b.min_interval_s)?;
        finite("beacon.max_interval_s", b.max_interval_s)?;
        if b.min_connections < 3 {
            return Err(invalid(
                "beacon.min_connections",
                "needs at least 3 (two intervals)",
            ));
        }
        if b.history < b.min_connections || b.history > 1024 {
            return Err(invalid(
                "beacon.history",
                "must be at least beacon.min_connections and at most 1024",
            ));
        }
        if b.max_interval_s < b.min_interval_s {
            return Err(invalid(
                "beacon.max_interval_s",
                "must not be below beacon.min_interval_s",
            ));
        }
        let s = &self.scan;
        if s.window_s == 0 {
            return Err(invalid("scan.window_s", "must be positive"));
        }
        if s.ports_threshold < 2 || s.ports_threshold > 65_536 {
            return Err(invalid("scan.ports_threshold", "must be within 2..=65536"));
        }
        if s.hosts_threshold < 2 || s.hosts_threshold > 65_536 {
            return Err(invalid("scan.hosts_threshold", "must be within 2..=65536"));
        }
        finite(
            "large_transfer.baseline_multiple",
            self.large_transfer.baseline_multiple,
        )?;
        Ok(())
    }

    /// Every list file the policies name, in order, for the binary to read.
    pub fn list_files(&self) -> Vec<String> {
        let mut files: Vec<String> = Vec::new();
        for p in &self.policy {
            for f in p.allow.iter().chain(&p.block) {
                if !files.contains(f) {
                    files.push(f.clone());
                }
            }
        }
        files
    }
}
