//! The policy file: which sources may reach what, the kill switch, and the response limits.
//!
//! The file is TOML with every table closed (`deny_unknown_fields`): a misspelt key is an error,
//! never a silently ignored rule. Errors carry the file, the line and the dotted key.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;

use crate::net::{Cidr, Domain, Endpoint, IfName, PortRange, Seconds};

/// The largest policy file read; a policy is hand-written and small.
pub const MAX_POLICY_BYTES: usize = 1 << 20;

/// Why a policy was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct PolicyError {
    /// The file as the caller named it.
    pub file: String,
    /// 1-based line of the offending key or value (0 when the file could not be read).
    pub line: usize,
    /// Dotted key such as `source.allow.ports`, or `-` when the error concerns the file.
    pub key: String,
    pub message: String,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Where the DNS guard answers: the only DNS servers a source may use.
    pub dns_guard: Vec<IpAddr>,
    /// What to do with forwarded traffic from a source the policy does not list.
    pub unlisted: Unlisted,
    pub sources: Vec<Source>,
    pub killswitch: Option<KillSwitch>,
    pub response: ResponseConfig,
}

/// Forwarded traffic from sources the policy does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unlisted {
    /// Denied, like everything a source is not allowed (the default).
    #[default]
    Drop,
    /// Passed to the other tables on the hook (for example `qubes-firewall`).
    Accept,
}

/// One source: a qube's address (or prefix) or an interface, and what it may reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Short name used in chain and set names: `a-z 0-9 -`, at most 24 bytes.
    pub name: String,
    /// The qube's name, for the Qubes firewall lines.
    pub qube: Option<String>,
    pub matcher: SourceMatch,
    pub allow: Vec<AllowRule>,
}

/// How packets are attributed to a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceMatch {
    Addr(Cidr),
    Iface(IfName),
}

impl fmt::Display for SourceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceMatch::Addr(c) => write!(f, "{c}"),
            SourceMatch::Iface(i) => write!(f, "{i}"),
        }
    }
}

/// One thing a source may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    pub dest: Dest,
    pub proto: Proto,
    /// Empty means every port (only with `tcp` or `udp` may it be non-empty).
    pub ports: Vec<PortRange>,
}

/// Where an allowed flow may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Any address.
    Any,
    Net(Cidr),
    /// Whatever the DNS guard has resolved this name to for this source (pinned in nft sets).
    Domain(Domain),
}

/// The transport of an allowed flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Any,
    Tcp,
    Udp,
    Icmp,
}

/// A fail-closed VPN kill switch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSwitch {
    /// The interface towards the internet: it carries tunnel packets to the endpoints only.
    pub uplink: IfName,
    /// The tunnel interface: the only way out for forwarded traffic. Matched by name, so
    /// the rules hold while it is down or missing.
    pub tunnel: IfName,
    /// Where the VPN process may connect on the uplink.
    pub endpoints: Vec<Endpoint>,
    /// The resolver inside the tunnel: all DNS goes there.
    pub resolver: IpAddr,
}

/// Limits for bans and quarantine, and the alert-to-action triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseConfig {
    /// The only qube whose `picket.Respond` requests are obeyed.
    pub manager_qube: Option<String>,
    /// The manager's addresses: never banned, and reachable from quarantine.
    pub manager: Vec<IpAddr>,
    /// The gateway(s): never banned.
    pub gateway: Vec<IpAddr>,
    /// More addresses and prefixes that are never banned or quarantined.
    pub allowlist: Vec<Cidr>,
    pub ban_timeout: Seconds,
    pub max_ban_timeout: Seconds,
    /// Addresses a quarantined source may still reach (besides the manager).
    pub quarantine_except: Vec<Cidr>,
    pub triggers: Vec<Trigger>,
}

/// One alert-to-action mapping, in the manner of OSSEC's active response. Every criterion
/// given must match (an absent criterion matches everything), so a trigger never widens by
/// accident.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Rule ids, any of which matches.
    #[serde(default)]
    pub rules: Vec<u64>,
    /// The lowest alert level that matches.
    #[serde(default)]
    pub level: Option<u8>,
    /// Groups, any of which matches.
    #[serde(default)]
    pub groups: Vec<String>,
    pub action: TriggerAction,
    /// Which address of the alert the action applies to.
    #[serde(default)]
    pub target: TriggerTarget,
    /// Ban length; the response default when absent.
    #[serde(default)]
    pub timeout: Option<Seconds>,
}

/// What a trigger does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerAction {
    Ban,
    Quarantine,
}

/// Which of the alert's addresses a trigger acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TriggerTarget {
    #[default]
    SrcIp,
    DestIp,
}

/// The DNS guard's view of one pinned name: the guard adds every address it resolves
/// `domain` to for `source` into `set4`/`set6` (in `table inet picket`, `flags timeout`),
/// and the compiled rules let `source` reach exactly those addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsPin {
    /// The source as written in the policy: an address or prefix, or an interface name.
    pub source: String,
    /// The name as written (lower-cased); `*.example.org` covers the names below it.
    pub domain: String,
    pub set4: String,
    pub set6: String,
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    dns: DnsFile,
    #[serde(default)]
    defaults: DefaultsFile,
    #[serde(default)]
    source: Vec<toml::Spanned<SourceFile>>,
    killswitch: Option<KillSwitch>,
    #[serde(default)]
    response: ResponseFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DnsFile {
    #[serde(default)]
    guard: Vec<IpAddr>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DefaultsFile {
    #[serde(default)]
    unlisted: Unlisted,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    name: String,
    #[serde(default)]
    qube: Option<String>,
    #[serde(default)]
    addr: Option<Cidr>,
    #[serde(default)]
    iface: Option<IfName>,
    #[serde(default)]
    allow: Vec<toml::Spanned<AllowFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    #[serde(default)]
    domain: Option<Domain>,
    #[serde(default)]
    net: Option<Cidr>,
    #[serde(default)]
    proto: Proto,
    #[serde(default)]
    ports: Vec<PortRange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseFile {
    #[serde(default)]
    manager_qube: Option<String>,
    #[serde(default)]
    manager: Vec<IpAddr>,
    #[serde(default)]
    gateway: Vec<IpAddr>,
    #[serde(default)]
    allowlist: Vec<Cidr>,
    #[serde(default = "default_ban_timeout")]
    ban_timeout: Seconds,
    #[serde(default = "default_max_ban_timeout")]
    max_ban_timeout: Seconds,
    #[serde(default)]
    quarantine_except: Vec<Cidr>,
    #[serde(default)]
    trigger: Vec<Trigger>,
}

impl Default for ResponseFile {
    fn default() -> Self {
        ResponseFile {
            manager_qube: None,
            manager: Vec::new(),
            gateway: Vec::new(),
            allowlist: Vec::new(),
            ban_timeout: default_ban_timeout(),
            max_ban_timeout: default_max_ban_timeout(),
            quarantine_except: Vec::new(),
            trigger: Vec::new(),
        }
    }
}

fn default_ban_timeout() -> Seconds {
    Seconds(3600)
}

fn default_max_ban_timeout() -> Seconds {
    Seconds(7 * 86_400)
}

/// Sources at most; every source is a chain and a jump in the hook.
pub const MAX_SOURCES: usize = 4096;
/// Allow rules per source at most.
pub const MAX_RULES_PER_SOURCE: usize = 1024;

impl Policy {
    /// Read and validate a policy file.
    pub fn load(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| PolicyError {
            file: file.clone(),
            line: 0,
            key: "-".into(),
            message: format!("cannot read: {e}"),
        })?;
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(PolicyError {
                file,
                line: 0,
                key: "-".into(),
                message: format!("larger than {MAX_POLICY_BYTES} bytes"),
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| PolicyError {
            file: file.clone(),
            line: 0,
            key: "-".into(),
            message: format!("not UTF-8: {e}"),
        })?;
        Policy::from_str(&text, &file)
    }

    /// Validate policy text; `file` names it in errors.
    pub fn from_str(text: &str, file: &str) -> Result<Policy, PolicyError> {
        let err_at = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, key) = locate(text, span);
            PolicyError {
                file: file.to_string(),
                line,
                key,
                message,
            }
        };
        if text.len() > MAX_POLICY_BYTES {
            return Err(err_at(
                None,
                format!("larger than {MAX_POLICY_BYTES} bytes"),
            ));
        }
        let raw: PolicyFile =
            toml::from_str(text).map_err(|e| err_at(e.span(), e.message().to_string()))?;

        if raw.source.len() > MAX_SOURCES {
            return Err(err_at(None, format!("more than {MAX_SOURCES} sources")));
        }
        let mut names = BTreeSet::new();
        let mut sources = Vec::with_capacity(raw.source.len());
        for spanned in raw.source {
            let span = spanned.span();
            let s = spanned.into_inner();
            let at = |key: &str, message: String| {
                let (line, _) = locate(text, Some(span.clone()));
                PolicyError {
                    file: file.to_string(),
                    line,
                    key: format!("source.{key}"),
                    message,
                }
            };
            let valid_name = !s.name.is_empty()
                && s.name.len() <= 24
                && s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_name {
                return Err(at(
                    "name",
                    format!(
                        "`{}`: use 1-24 of a-z 0-9 - (it names nft chains and sets)",
                        s.name
                    ),
                ));
            }
            if !names.insert(s.name.clone()) {
                return Err(at("name", format!("`{}` is used by two sources", s.name)));
            }
            if let Some(q) = &s.qube {
                if !valid_qube_name(q) {
                    return Err(at("qube", format!("`{q}` is not a valid qube name")));
                }
            }
            let matcher = match (s.addr, s.iface) {
                (Some(a), None) => SourceMatch::Addr(a),
                (None, Some(i)) => SourceMatch::Iface(i),
                _ => {
                    return Err(at(
                        "addr",
                        format!("source `{}` needs exactly one of addr or iface", s.name),
                    ))
                }
            };
            if s.allow.len() > MAX_RULES_PER_SOURCE {
                return Err(at(
                    "allow",
                    format!("more than {MAX_RULES_PER_SOURCE} rules"),
                ));
            }
            let mut allow = Vec::with_capacity(s.allow.len());
            for spanned_rule in s.allow {
                let rule_span = spanned_rule.span();
                let r = spanned_rule.into_inner();
                let rule_at = |key: &str, message: String| {
                    let (line, _) = locate(text, Some(rule_span.clone()));
                    PolicyError {
                        file: file.to_string(),
                        line,
                        key: format!("source.allow.{key}"),
                        message,
                    }
                };
                let dest = match (r.domain, r.net) {
                    (Some(d), None) => {
                        if raw.dns.guard.is_empty() {
                            return Err(rule_at(
                                "domain",
                                "a domain rule needs the DNS guard: set [dns] guard".into(),
                            ));
                        }
                        Dest::Domain(d)
                    }
                    (None, Some(n)) => {
                        if let SourceMatch::Addr(a) = &matcher {
                            if a.is_v4() != n.is_v4() {
                                return Err(rule_at(
                                    "net",
                                    format!(
                                        "{n} is not of the same IP version as the source {a}, so it could never match"
                                    ),
                                ));
                            }
                        }
                        Dest::Net(n)
                    }
                    (None, None) => Dest::Any,
                    (Some(_), Some(_)) => {
                        return Err(rule_at(
                            "net",
                            "give domain or net, not both, in one rule".into(),
                        ))
                    }
                };
                if !r.ports.is_empty() && !matches!(r.proto, Proto::Tcp | Proto::Udp) {
                    return Err(rule_at(
                        "ports",
                        "ports need proto = \"tcp\" or \"udp\"".into(),
                    ));
                }
                allow.push(AllowRule {
                    dest,
                    proto: r.proto,
                    ports: r.ports,
                });
            }
            sources.push(Source {
                name: s.name,
                qube: s.qube,
                matcher,
                allow,
            });
        }

        let resp = raw.response;
        if let Some(q) = &resp.manager_qube {
            if !valid_qube_name(q) {
                return Err(err_at(
                    find_key(text, "manager_qube"),
                    format!("`{q}` is not a valid qube name"),
                ));
            }
        }
        if resp.ban_timeout.0 == 0 || resp.ban_timeout > resp.max_ban_timeout {
            return Err(err_at(
                find_key(text, "ban_timeout"),
                "ban_timeout must be above zero and at most max_ban_timeout".into(),
            ));
        }
        if let Some(ks) = &raw.killswitch {
            if ks.uplink == ks.tunnel {
                return Err(err_at(
                    find_key(text, "tunnel"),
                    "the tunnel and the uplink must be different interfaces".into(),
                ));
            }
            if ks.endpoints.is_empty() {
                return Err(err_at(
                    find_key(text, "endpoints"),
                    "the kill switch needs at least one VPN endpoint".into(),
                ));
            }
        }
        Ok(Policy {
            dns_guard: raw.dns.guard,
            unlisted: raw.defaults.unlisted,
            sources,
            killswitch: raw.killswitch,
            response: ResponseConfig {
                manager_qube: resp.manager_qube,
                manager: resp.manager,
                gateway: resp.gateway,
                allowlist: resp.allowlist,
                ban_timeout: resp.ban_timeout,
                max_ban_timeout: resp.max_ban_timeout,
                quarantine_except: resp.quarantine_except,
                triggers: resp.trigger,
            },
        })
    }

    /// Every (source, domain) pair the DNS guard must pin, with its nft set names.
    /// Sorted and without duplicates; the names are stable for a given source name and domain.
    pub fn dns_pins(&self) -> Vec<DnsPin> {
        let mut pins = BTreeSet::new();
        for source in &self.sources {
            for rule in &source.allow {
                if let Dest::Domain(domain) = &rule.dest {
                    let (set4, set6) = pin_set_names(&source.name, domain);
                    pins.insert(DnsPin {
                        source: source.matcher.to_string(),
                        domain: domain.to_string(),
                        set4,
                        set6,
                    });
                }
            }
        }
        pins.into_iter().collect()
    }

    /// The source a name or an address belongs to (by name, or by address match).
    pub fn find_source(&self, key: &str) -> Option<&Source> {
        if let Some(s) = self.sources.iter().find(|s| s.name == key) {
            return Some(s);
        }
        let ip: IpAddr = key.parse().ok()?;
        self.sources
            .iter()
            .find(|s| matches!(&s.matcher, SourceMatch::Addr(c) if c.contains(ip)))
    }
}

/// The pin sets of one source's domain: `pin4_<source>_<domain>` and `pin6_…`. Source names
/// hold no `_` and domain labels none either, so distinct pairs never share a name.
pub fn pin_set_names(source: &str, domain: &Domain) -> (String, String) {
    let ident = domain.ident();
    (
        format!("pin4_{source}_{ident}"),
        format!("pin6_{source}_{ident}"),
    )
}

/// Qube names as Qubes allows them: 1-31 of `A-Z a-z 0-9 _ . -`, starting with a letter.
pub fn valid_qube_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 31
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !name.ends_with("-dm")
        && name != "none"
        && name != "default"
}

/// The span of the first `key =` in the text, for errors found after parsing.
fn find_key(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                let start = offset + (line.len() - trimmed.len());
                return Some(start..start + key.len());
            }
        }
        offset += line.len();
    }
    None
}

/// The 1-based line of a span and the dotted key it belongs to: the last table header above
/// it joined with the nearest `key =` at or before it.
fn locate(text: &str, span: Option<std::ops::Range<usize>>) -> (usize, String) {
    let Some(span) = span else {
        return (1, "-".into());
    };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let mut header = String::new();
    for l in before.lines() {
        let t = l.trim();
        if t.starts_with('[') {
            header = t
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .to_string();
        }
    }
    // The span itself may be a key (an unknown field): `name =` follows it.
    let here = &text[start..span.end.min(text.len())];
    let after = &text[span.end.min(text.len())..];
    let is_key = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let key = if is_key(here) && after.trim_start().starts_with('=') {
        Some(here.to_string())
    } else {
        // Otherwise walk back to the nearest `=` and take the word before it.
        before.rfind('=').and_then(|eq| {
            let head = before[..eq].trim_end();
            let word_start = head
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .map_or(0, |i| i + 1);
            let word = &head[word_start..];
            let header_line = before[..eq].rfind('\n').map_or(0, |i| i + 1);
            // Only take it if it does not sit above the current table header.
            let header_pos = before.rfind("\n[").map_or(0, |i| i + 1);
            (is_key(word) && header_line >= header_pos).then(|| word.to_string())
        })
    };
    let dotted = match (header.is_empty(), key) {
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{header}.{k}"),
        (false, None) => header,
        (true, None) => "-".into(),
    };
    (line, dotted)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GOOD: &str = r#"
[dns]
guard = ["10.139.1.1"]

[[source]]
name = "matrix"
qube = "matrix"
addr = "10.137.0.12"
allow = [
  { domain = "matrix.org", proto = "tcp", ports = [443] },
  { domain = "*.matrix.org", proto = "tcp", ports = [443, "8448"] },
]
"#;

    #[test]
    fn dns_pins_are_named_per_source_and_domain() {
        let p = Policy::from_str(GOOD, "p.toml").unwrap();
        let pins = p.dns_pins();
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[1].set4, "pin4_matrix_matrix_org");
        assert_eq!(pins[1].set6, "pin6_matrix_matrix_org");
        assert_eq!(pins[1].source, "10.137.0.12");
        assert_eq!(pins[0].set4, "pin4_matrix_-_matrix_org");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = GOOD.replace("qube = \"matrix\"", "qbue = \"matrix\"");
        let e = Policy::from_str(&text, "p.toml").unwrap_err();
        assert_eq!(e.file, "p.toml");
        assert_eq!(e.line, 7, "{e}");
        assert_eq!(e.key, "source.qbue", "{e}");
    }

    #[test]
    fn bad_value_names_its_key() {
        let text = GOOD.replace("[443, \"8448\"]", "[443, \"0\"]");
        let e = Policy::from_str(&text, "p.toml").unwrap_err();
        assert_eq!(e.line, 11, "{e}");
        assert_eq!(e.key, "source.ports", "{e}");
        assert!(e.message.contains("65535"), "{e}");
    }

    #[test]
    fn domain_rules_need_the_guard() {
        let text = GOOD.replace("guard = [\"10.139.1.1\"]", "");
        let e = Policy::from_str(&text, "p.toml").unwrap_err();
        assert!(e.message.contains("guard"), "{e}");
        assert_eq!(e.key, "source.allow.domain");
    }
}
