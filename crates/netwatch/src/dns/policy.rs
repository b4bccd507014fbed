//! Domain sets with suffix matching on label boundaries, and per-source policies.

use super::config::{PolicyConfig, PolicyMode, SourcePolicyConfig};
use std::collections::HashSet;
use std::net::IpAddr;

/// Lower case, no trailing dot, no leading `*.` or `.` (both mean "this domain and below",
/// which is what every entry means anyway).
pub fn normalise(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_prefix("*.").unwrap_or(name);
    let name = name.strip_prefix('.').unwrap_or(name);
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

/// A set of domains; a name matches when it is one of them or lies under one of them.
/// `matrix.org` matches `x.matrix.org` but not `evilmatrix.org`: only whole labels count.
#[derive(Debug, Clone, Default)]
pub struct DomainSet {
    names: HashSet<String>,
}

impl DomainSet {
    pub fn new<S: AsRef<str>>(domains: &[S]) -> Self {
        DomainSet {
            names: domains.iter().map(|d| normalise(d.as_ref())).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The listed domain that `name` (already normalised) falls under, if any. Walks the
    /// name's suffixes at dots, so the cost is one hash lookup per label.
    pub fn matched<'a>(&self, name: &'a str) -> Option<&'a str> {
        if self.names.is_empty() {
            return None;
        }
        let mut rest = name;
        loop {
            if self.names.contains(rest) {
                return Some(rest);
            }
            match rest.find('.') {
                Some(dot) => rest = &rest[dot + 1..],
                None => return None,
            }
        }
    }
}

/// An address prefix (`10.137.0.0/24`; a bare address is a full-length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    pub fn parse(text: &str) -> Result<Prefix, String> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an address or prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{text:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Prefix { addr, len })
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        // IPv4-mapped IPv6 sources (from a dual-stack socket) are compared as IPv4.
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
            v4 => v4,
        };
        match (self.addr, addr) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(p) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(p) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// One compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `default` or the source prefix, for events.
    pub label: String,
    pub qube: Option<String>,
    pub mode: PolicyMode,
    pub allow: DomainSet,
    pub block: DomainSet,
}

/// What a policy says about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Forward upstream. `matched` is the allow entry, if one matched.
    Forward { matched: Option<String> },
    /// Sinkhole: on the block list.
    Blocked { matched: String },
    /// Sinkhole: an allowlist policy that does not list the name.
    NotAllowed,
}

impl Policy {
    pub fn from_default(config: &PolicyConfig) -> Policy {
        Policy {
            label: "default".into(),
            qube: None,
            mode: config.mode,
            allow: DomainSet::new(&config.allow),
            block: DomainSet::new(&config.block),
        }
    }

    pub fn from_source(config: &SourcePolicyConfig, prefix: Prefix) -> Policy {
        Policy {
            label: prefix.to_string(),
            qube: config.name.clone(),
            mode: config.mode,
            allow: DomainSet::new(&config.allow),
            block: DomainSet::new(&config.block),
        }
    }

    /// Block wins over allow, so `allow = ["google.com"]` with `block = ["ads.google.com"]`
    /// does what it says.
    pub fn decide(&self, name: &str) -> Decision {
        if let Some(m) = self.block.matched(name) {
            return Decision::Blocked {
                matched: m.to_string(),
            };
        }
        let allowed = self.allow.matched(name).map(str::to_string);
        match (self.mode, allowed) {
            (PolicyMode::Allowlist, None) => Decision::NotAllowed,
            (_, matched) => Decision::Forward { matched },
        }
    }
}

/// The per-source policies, most specific prefix first, and the default.
#[derive(Debug, Clone)]
pub struct PolicyTable {
    sources: Vec<(Prefix, Policy)>,
    default: Policy,
}

impl PolicyTable {
    pub fn new(default: Policy, mut sources: Vec<(Prefix, Policy)>) -> Self {
        // Longest prefix first; a stable sort keeps file order among equals.
        sources.sort_by_key(|(p, _)| std::cmp::Reverse(p.len));
        PolicyTable { sources, default }
    }

    pub fn for_source(&self, addr: IpAddr) -> &Policy {
        self.sources
            .iter()
            .find(|(p, _)| p.contains(addr))
            .map(|(_, policy)| policy)
            .unwrap_or(&self.default)
    }
}
