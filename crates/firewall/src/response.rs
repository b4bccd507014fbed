//! Active response: the four requests, their strict wire form, the allowlist, and the
//! alert-to-request decision.
//!
//! The manager decides with [`decide`] and sends [`Request::to_line`] over `picket.Respond`;
//! the net qube parses with [`Request::parse_line`] and checks with [`Request::check`] again,
//! because the net qube trusts nothing it receives. Both refuse a ban or quarantine of an
//! allowlisted address: the manager, the gateway, the DNS guard, the VPN endpoints and
//! resolver, and whatever the policy adds. Sibling qubes are not exempt unless listed.

use std::fmt;
use std::net::IpAddr;

use crate::net::{Cidr, Seconds};
use crate::policy::{Policy, ResponseConfig, TriggerAction, TriggerTarget};

/// The longest request line accepted, newline excluded.
pub const MAX_REQUEST_LINE: usize = 128;

/// One response action, by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Request {
    /// Drop traffic from and to `addr` for `timeout` seconds (the policy default when absent).
    Ban {
        addr: IpAddr,
        timeout: Option<u64>,
    },
    Unban {
        addr: IpAddr,
    },
    /// Cut `addr` off from everything but the manager, until released.
    Quarantine {
        addr: IpAddr,
    },
    Release {
        addr: IpAddr,
    },
}

impl Request {
    pub fn addr(&self) -> IpAddr {
        match *self {
            Request::Ban { addr, .. }
            | Request::Unban { addr }
            | Request::Quarantine { addr }
            | Request::Release { addr } => addr,
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Request::Ban { .. } => "ban",
            Request::Unban { .. } => "unban",
            Request::Quarantine { .. } => "quarantine",
            Request::Release { .. } => "release",
        }
    }

    /// The wire form: `ban ADDR [SECS]`, `unban ADDR`, `quarantine ADDR`, `release ADDR`.
    pub fn to_line(&self) -> String {
        match self {
            Request::Ban {
                addr,
                timeout: Some(t),
            } => format!("ban {addr} {t}"),
            other => format!("{} {}", other.verb(), other.addr()),
        }
    }

    /// Parse one request line (without its newline). Strict: single spaces, lower-case verbs,
    /// plain decimal seconds, an address in its usual text form; nothing else.
    pub fn parse_line(line: &str) -> Result<Request, Refusal> {
        if line.len() > MAX_REQUEST_LINE {
            return Err(Refusal::Malformed("line too long".into()));
        }
        if !line.bytes().all(|b| (0x21..0x7f).contains(&b) || b == b' ') {
            return Err(Refusal::Malformed("unexpected characters".into()));
        }
        let words: Vec<&str> = line.split(' ').collect();
        if words.iter().any(|w| w.is_empty()) {
            return Err(Refusal::Malformed(
                "words must be separated by one space".into(),
            ));
        }
        let addr = |w: &str| -> Result<IpAddr, Refusal> {
            let a: IpAddr = w
                .parse()
                .map_err(|_| Refusal::Malformed(format!("`{w}` is not an IP address")))?;
            if a.is_unspecified() || a.is_loopback() || a.is_multicast() || is_broadcast(a) {
                return Err(Refusal::Malformed(format!(
                    "{a} cannot be banned or quarantined"
                )));
            }
            Ok(a)
        };
        match words.as_slice() {
            ["ban", a] => Ok(Request::Ban {
                addr: addr(a)?,
                timeout: None,
            }),
            ["ban", a, secs] => {
                if secs.len() > 10 || !secs.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Refusal::Malformed(format!(
                        "`{secs}` is not a number of seconds"
                    )));
                }
                let t: u64 = secs
                    .parse()
                    .map_err(|_| Refusal::Malformed("bad seconds".into()))?;
                Ok(Request::Ban {
                    addr: addr(a)?,
                    timeout: Some(t),
                })
            }
            ["unban", a] => Ok(Request::Unban { addr: addr(a)? }),
            ["quarantine", a] => Ok(Request::Quarantine { addr: addr(a)? }),
            ["release", a] => Ok(Request::Release { addr: addr(a)? }),
            [verb, ..] if matches!(*verb, "ban" | "unban" | "quarantine" | "release") => Err(
                Refusal::Malformed(format!("wrong number of arguments for {verb}")),
            ),
            _ => Err(Refusal::Malformed("unknown request".into())),
        }
    }

    /// Check a request against the policy's limits and allowlist; returns the ban length to
    /// use for a ban.
    pub fn check(&self, limits: &Limits) -> Result<Option<u64>, Refusal> {
        let addr = self.addr();
        if matches!(self, Request::Ban { .. } | Request::Quarantine { .. }) {
            if let Some(entry) = limits.allowlisted(addr) {
                return Err(Refusal::Allowlisted {
                    addr,
                    entry: entry.to_string(),
                });
            }
        }
        match *self {
            Request::Ban { timeout, .. } => {
                let t = timeout.unwrap_or(limits.default_ban);
                if t == 0 || t > limits.max_ban {
                    return Err(Refusal::Timeout {
                        given: t,
                        max: limits.max_ban,
                    });
                }
                Ok(Some(t))
            }
            _ => Ok(None),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_line())
    }
}

fn is_broadcast(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v4) if v4.is_broadcast())
}

/// Why a request was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The line is not one of the four requests in their exact form.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The address is on the allowlist (named by the entry that covers it).
    #[error("{addr} is allowlisted ({entry})")]
    Allowlisted { addr: IpAddr, entry: String },
    /// The ban length is zero or above the policy's maximum.
    #[error("timeout {given}s is outside 1..={max}s")]
    Timeout { given: u64, max: u64 },
    /// The caller is not the configured manager qube.
    #[error("caller `{0}` is not the manager")]
    Caller(String),
}

/// What every request is checked against, derived from a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Entries that can never be banned or quarantined, each with why.
    pub allowlist: Vec<(Cidr, &'static str)>,
    pub default_ban: u64,
    pub max_ban: u64,
    pub manager_qube: Option<String>,
}

impl Limits {
    /// The manager, the gateway, the DNS guard, the VPN endpoints and resolver, and the
    /// policy's own allowlist. Nothing else: in particular not 10.0.0.0/8, which on Qubes
    /// would exempt every qube.
    pub fn from_policy(policy: &Policy) -> Limits {
        let host = |a: IpAddr| Cidr {
            addr: a,
            len: if a.is_ipv4() { 32 } else { 128 },
        };
        let r: &ResponseConfig = &policy.response;
        let mut allowlist: Vec<(Cidr, &'static str)> = Vec::new();
        allowlist.extend(r.manager.iter().map(|a| (host(*a), "manager")));
        allowlist.extend(r.gateway.iter().map(|a| (host(*a), "gateway")));
        allowlist.extend(policy.dns_guard.iter().map(|a| (host(*a), "dns guard")));
        if let Some(ks) = &policy.killswitch {
            allowlist.extend(ks.endpoints.iter().map(|e| (host(e.addr), "vpn endpoint")));
            allowlist.push((host(ks.resolver), "vpn resolver"));
        }
        allowlist.extend(r.allowlist.iter().map(|c| (*c, "allowlist")));
        Limits {
            allowlist,
            default_ban: r.ban_timeout.0,
            max_ban: r.max_ban_timeout.0,
            manager_qube: r.manager_qube.clone(),
        }
    }

    /// The allowlist entry covering `addr`, as `ADDR/LEN (why)`.
    pub fn allowlisted(&self, addr: IpAddr) -> Option<String> {
        self.allowlist
            .iter()
            .find(|(c, _)| c.contains(addr))
            .map(|(c, why)| format!("{why} {c}"))
    }

    /// Whether `caller` (from `QREXEC_REMOTE_DOMAIN`) may send requests.
    pub fn caller_ok(&self, caller: &str) -> Result<(), Refusal> {
        match &self.manager_qube {
            Some(m) if m == caller => Ok(()),
            _ => Err(Refusal::Caller(caller.chars().take(64).collect())),
        }
    }
}

/// The fields of an alert a trigger looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertFields<'a> {
    pub rule_id: u64,
    pub level: u8,
    pub groups: &'a [String],
    pub src_ip: Option<&'a str>,
    pub dest_ip: Option<&'a str>,
}

/// One outcome of [`decide`]: a request to send, or one refused in the core, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send(Request),
    Refused { request: Request, why: Refusal },
}

/// Map an alert to the requests its triggers ask for, in trigger order, without duplicates.
/// A trigger whose target address is missing or unparsable yields nothing; a request against
/// an allowlisted address, or with a ban length past the maximum, comes back `Refused`.
pub fn decide(policy: &Policy, limits: &Limits, alert: &AlertFields<'_>) -> Vec<Decision> {
    let mut out: Vec<Decision> = Vec::new();
    for t in &policy.response.triggers {
        if !t.rules.is_empty() && !t.rules.contains(&alert.rule_id) {
            continue;
        }
        if t.level.is_some_and(|min| alert.level < min) {
            continue;
        }
        if !t.groups.is_empty() && !t.groups.iter().any(|g| alert.groups.contains(g)) {
            continue;
        }
        let text = match t.target {
            TriggerTarget::SrcIp => alert.src_ip,
            TriggerTarget::DestIp => alert.dest_ip,
        };
        let Some(addr) = text.and_then(|s| s.parse::<IpAddr>().ok()) else {
            continue;
        };
        let request = match t.action {
            TriggerAction::Ban => Request::Ban {
                addr,
                timeout: Some(t.timeout.unwrap_or(Seconds(limits.default_ban)).0),
            },
            TriggerAction::Quarantine => Request::Quarantine { addr },
        };
        let decision = match request.check(limits) {
            Ok(_) => Decision::Send(request),
            Err(why) => Decision::Refused { request, why },
        };
        if !out.contains(&decision) {
            out.push(decision);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy() -> Policy {
        Policy::from_str(
            r#"
[dns]
guard = ["10.139.1.1"]
[response]
manager_qube = "picket-manager"
manager = ["10.137.0.50"]
gateway = ["10.138.0.1"]
ban_timeout = "10m"
max_ban_timeout = "1d"
[[response.trigger]]
rules = [5712]
action = "ban"
timeout = "30m"
[[response.trigger]]
level = 12
groups = ["malware"]
action = "quarantine"
"#,
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn request_lines_are_strict() {
        assert_eq!(
            Request::parse_line("ban 203.0.113.9 60").unwrap(),
            Request::Ban {
                addr: "203.0.113.9".parse().unwrap(),
                timeout: Some(60)
            }
        );
        assert!(Request::parse_line("unban 2001:db8::1").is_ok());
        for bad in [
            "ban  203.0.113.9",
            "ban 203.0.113.9 -5",
            "ban 203.0.113.9 +5",
            "ban 203.0.113.9 5 6",
            "BAN 203.0.113.9",
            "ban 203.0.113.09",
            "ban 203.0.113.9/24",
            "ban 0.0.0.0",
            "ban 127.0.0.1",
            "ban 255.255.255.255",
            "ban 203.0.113.9;nft flush ruleset",
            "flush",
            "ban\t203.0.113.9",
            "",
        ] {
            assert!(Request::parse_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn allowlist_and_bounds() {
        let p = policy();
        let l = Limits::from_policy(&p);
        let r = |s: &str| Request::parse_line(s).unwrap().check(&l);
        assert!(matches!(
            r("ban 10.137.0.50"),
            Err(Refusal::Allowlisted { .. })
        ));
        assert!(matches!(
            r("quarantine 10.138.0.1"),
            Err(Refusal::Allowlisted { .. })
        ));
        assert!(matches!(
            r("ban 10.139.1.1"),
            Err(Refusal::Allowlisted { .. })
        ));
        // A sibling qube is not exempt.
        assert_eq!(r("ban 10.137.0.12").unwrap(), Some(600));
        assert!(matches!(
            r("ban 203.0.113.9 0"),
            Err(Refusal::Timeout { .. })
        ));
        assert!(matches!(
            r("ban 203.0.113.9 86401"),
            Err(Refusal::Timeout { .. })
        ));
        assert!(r("unban 10.137.0.50").is_ok());
        assert!(l.caller_ok("picket-manager").is_ok());
        assert!(l.caller_ok("work").is_err());
    }

    #[test]
    fn decide_maps_alerts_and_refuses_allowlisted() {
        let p = policy();
        let l = Limits::from_policy(&p);
        let groups = vec!["malware".to_string()];
        let d = decide(
            &p,
            &l,
            &AlertFields {
                rule_id: 5712,
                level: 10,
                groups: &[],
                src_ip: Some("203.0.113.9"),
                dest_ip: None,
            },
        );
        assert_eq!(
            d,
            vec![Decision::Send(Request::Ban {
                addr: "203.0.113.9".parse().unwrap(),
                timeout: Some(1800)
            })]
        );
        let d = decide(
            &p,
            &l,
            &AlertFields {
                rule_id: 1,
                level: 13,
                groups: &groups,
                src_ip: Some("10.137.0.50"),
                dest_ip: None,
            },
        );
        assert!(matches!(d.as_slice(), [Decision::Refused { .. }]));
        let d = decide(
            &p,
            &l,
            &AlertFields {
                rule_id: 1,
                level: 11,
                groups: &groups,
                src_ip: Some("10.137.0.12"),
                dest_ip: None,
            },
        );
        assert!(d.is_empty());
    }
}
