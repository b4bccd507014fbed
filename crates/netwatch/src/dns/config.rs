//! The DNS guard's typed configuration (TOML). Unknown keys are errors, and every check
//! names the key it is about, so a typo never silently weakens a policy.

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// The whole `picket dns` configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// Addresses to serve on, UDP and TCP (flags override).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Upstream resolvers, tried in order (flags override).
    #[serde(default)]
    pub upstream: Vec<SocketAddr>,
    /// How a refused name is answered.
    #[serde(default)]
    pub sinkhole: SinkholeMode,
    /// Names whose lookup means someone is following planted bait: a critical alert.
    #[serde(default)]
    pub canaries: Vec<String>,
    /// How a canary is answered: `"policy"` (as any other name under the source's policy,
    /// so the asker cannot tell), `"nxdomain"`, or an address to answer with.
    #[serde(default = "default_canary_answer")]
    pub canary_answer: String,
    /// The policy of sources that no `[[source]]` entry matches.
    #[serde(default)]
    pub default: PolicyConfig,
    /// Per-source policies; the most specific matching prefix wins.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourcePolicyConfig>,
    /// Domains whose resolved addresses are published to nftables sets.
    #[serde(default, rename = "pin")]
    pub pins: Vec<PinConfig>,
    #[serde(default)]
    pub nft: NftConfig,
    #[serde(default)]
    pub detect: DetectConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
}

fn default_canary_answer() -> String {
    "policy".into()
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            listen: Vec::new(),
            upstream: Vec::new(),
            sinkhole: SinkholeMode::default(),
            canaries: Vec::new(),
            canary_answer: default_canary_answer(),
            default: PolicyConfig::default(),
            sources: Vec::new(),
            pins: Vec::new(),
            nft: NftConfig::default(),
            detect: DetectConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

/// How a sinkholed name is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkholeMode {
    /// A records get 0.0.0.0, AAAA get ::, other types an empty answer.
    #[default]
    Address,
    /// NXDOMAIN: the name does not exist.
    Nxdomain,
    /// REFUSED.
    Refused,
}

/// Whether a policy lists what is allowed or what is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// Everything resolves except `block`.
    #[default]
    Open,
    /// Only `allow` resolves (minus `block`); everything else is sinkholed.
    Allowlist,
}

/// Allowed and blocked domains. A domain matches itself and every name under it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default)]
    pub mode: PolicyMode,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub block: Vec<String>,
}

/// A `[[source]]` entry: a policy for one address or prefix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePolicyConfig {
    /// An address (`10.137.0.20`) or a prefix (`10.137.0.0/24`).
    pub address: String,
    /// The qube's name, written into events as `picket.qube`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mode: PolicyMode,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub block: Vec<String>,
}

/// A `[[pin]]` entry: addresses that `domain` (and names under it) resolves to are added
/// to `set4` / `set6` in the nft table. The firewall's per-app rules reference those sets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinConfig {
    pub domain: String,
    /// Only queries from this address or prefix fill the sets (default: any source).
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub set4: Option<String>,
    #[serde(default)]
    pub set6: Option<String>,
}

/// Where pinned addresses go and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NftConfig {
    /// Family and name of the table holding the sets (the firewall's table).
    #[serde(default = "default_table")]
    pub table: String,
    /// Element timeouts are the record's TTL clamped to [min, max] seconds.
    #[serde(default = "default_min_timeout")]
    pub min_timeout_secs: u32,
    #[serde(default = "default_max_timeout")]
    pub max_timeout_secs: u32,
}

fn default_table() -> String {
    "inet picket".into()
}
fn default_min_timeout() -> u32 {
    60
}
fn default_max_timeout() -> u32 {
    86_400
}

impl Default for NftConfig {
    fn default() -> Self {
        NftConfig {
            table: default_table(),
            min_timeout_secs: default_min_timeout(),
            max_timeout_secs: default_max_timeout(),
        }
    }
}

/// Tunnelling and generated-domain thresholds. Counting windows are tumbling windows of
/// `window_secs` per source, on query time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    pub window_secs: u32,
    /// Queries per source per window before a rate alert.
    pub max_queries_per_window: u32,
    /// TXT and NULL queries per source per window (tunnels carry data in them).
    pub max_txt_null_per_window: u32,
    /// Distinct names under one parent domain per source per window.
    pub max_unique_subdomains: u32,
    /// Longest label before a tunnelling alert (the wire limit is 63).
    pub max_label_len: u32,
    /// Longest name before a tunnelling alert (the wire limit is 253).
    pub max_name_len: u32,
    /// The part of a name under its parent domain is scored for entropy from this length.
    pub entropy_min_len: u32,
    /// Shannon entropy, in bits per character, at or above which that part looks random.
    pub entropy_bits: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window_secs: 60,
            max_queries_per_window: 600,
            max_txt_null_per_window: 30,
            max_unique_subdomains: 100,
            max_label_len: 50,
            max_name_len: 160,
            entropy_min_len: 16,
            entropy_bits: 4.0,
        }
    }
}

/// Memory caps. Each has a counter that says when it was hit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Queries waiting for an upstream answer; beyond this clients get SERVFAIL.
    pub max_pending: usize,
    /// How long an upstream answer is awaited before the client gets SERVFAIL.
    pub pending_timeout_ms: u64,
    /// Sources with detection state; beyond this new sources are not scored.
    pub max_sources: usize,
    /// Parent domains tracked per source for the unique-subdomain count.
    pub max_parents_per_source: usize,
    /// Distinct names remembered across all sources for the unique-subdomain count.
    pub max_tracked_names: usize,
    /// Published (set, address) pairs remembered, so a hot name is not re-added per query.
    pub max_published: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_pending: 4096,
            pending_timeout_ms: 4000,
            max_sources: 1024,
            max_parents_per_source: 64,
            max_tracked_names: 200_000,
            max_published: 65_536,
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not fit the schema (the message names the key).
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value parsed but is not acceptable.
    #[error("{key}: {message}")]
    Invalid {
        /// The key, as a path (`source[2].address`).
        key: String,
        message: String,
    },
}

impl GuardConfig {
    /// Parse and validate a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: GuardConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Check what the types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { key, message };
        for (i, source) in self.sources.iter().enumerate() {
            super::policy::Prefix::parse(&source.address)
                .map_err(|m| invalid(format!("source[{i}].address"), m))?;
            check_domains(&source.allow, &format!("source[{i}].allow"))?;
            check_domains(&source.block, &format!("source[{i}].block"))?;
        }
        check_domains(&self.default.allow, "default.allow")?;
        check_domains(&self.default.block, "default.block")?;
        check_domains(&self.canaries, "canaries")?;
        if !matches!(self.canary_answer.as_str(), "policy" | "nxdomain")
            && self.canary_answer.parse::<IpAddr>().is_err()
        {
            return Err(invalid(
                "canary_answer".into(),
                format!(
                    "{:?} is not \"policy\", \"nxdomain\" or an address",
                    self.canary_answer
                ),
            ));
        }
        for (i, pin) in self.pins.iter().enumerate() {
            check_domains(
                std::slice::from_ref(&pin.domain),
                &format!("pin[{i}].domain"),
            )?;
            if pin.set4.is_none() && pin.set6.is_none() {
                return Err(invalid(
                    format!("pin[{i}]"),
                    "names neither set4 nor set6".into(),
                ));
            }
            for (key, set) in [("set4", &pin.set4), ("set6", &pin.set6)] {
                if let Some(set) = set {
                    if !valid_set_name(set) {
                        return Err(invalid(
                            format!("pin[{i}].{key}"),
                            format!("{set:?} is not an nft set name (letters, digits, _ and -)"),
                        ));
                    }
                }
            }
        }
        let table: Vec<&str> = self.nft.table.split_whitespace().collect();
        if table.len() != 2
            || !matches!(
                table[0],
                "inet" | "ip" | "ip6" | "bridge" | "netdev" | "arp"
            )
            || !valid_set_name(table[1])
        {
            return Err(invalid(
                "nft.table".into(),
                format!("{:?} is not \"<family> <name>\"", self.nft.table),
            ));
        }
        if self.nft.min_timeout_secs == 0 || self.nft.min_timeout_secs > self.nft.max_timeout_secs {
            return Err(invalid(
                "nft.min_timeout_secs".into(),
                "must be at least 1 and at most nft.max_timeout_secs".into(),
            ));
        }
        let d = &self.detect;
        for (key, value) in [
            ("detect.window_secs", d.window_secs),
            ("detect.max_queries_per_window", d.max_queries_per_window),
            ("detect.max_txt_null_per_window", d.max_txt_null_per_window),
            ("detect.max_unique_subdomains", d.max_unique_subdomains),
            ("detect.max_label_len", d.max_label_len),
            ("detect.max_name_len", d.max_name_len),
            ("detect.entropy_min_len", d.entropy_min_len),
        ] {
            if value == 0 {
                return Err(invalid(key.into(), "must be at least 1".into()));
            }
        }
        if !(d.entropy_bits > 0.0 && d.entropy_bits <= 8.0) {
            return Err(invalid(
                "detect.entropy_bits".into(),
                "must be in (0, 8]".into(),
            ));
        }
        let l = &self.limits;
        for (key, value) in [
            ("limits.max_pending", l.max_pending),
            ("limits.max_sources", l.max_sources),
            ("limits.max_parents_per_source", l.max_parents_per_source),
            ("limits.max_published", l.max_published),
        ] {
            if value == 0 {
                return Err(invalid(key.into(), "must be at least 1".into()));
            }
        }
        if l.max_pending > 60_000 {
            return Err(invalid(
                "limits.max_pending".into(),
                "must be at most 60000 (upstream ids are 16 bits)".into(),
            ));
        }
        Ok(())
    }
}

/// nft identifiers: the table and set names we interpolate into `nft` commands.
pub fn valid_set_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphabetic()
}

fn check_domains(domains: &[String], key: &str) -> Result<(), ConfigError> {
    for (i, domain) in domains.iter().enumerate() {
        let d = super::policy::normalise(domain);
        if d.is_empty()
            || d.len() > 253
            || d.split('.').any(|l| l.is_empty() || l.len() > 63)
            || d.bytes().any(|b| b.is_ascii_whitespace())
        {
            return Err(ConfigError::Invalid {
                key: format!("{key}[{i}]"),
                message: format!("{domain:?} is not a domain name"),
            });
        }
    }
    Ok(())
}
