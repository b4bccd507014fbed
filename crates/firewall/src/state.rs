//! Bans and quarantines as persisted state, and the nft commands that put them in the kernel.
//!
//! The kernel forgets everything on `nft flush ruleset` or a reboot; this state does not. Each
//! ban keeps its absolute expiry, so when it is restored the kernel gets the time that is left,
//! not a fresh full timeout.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::compile::{BAN4, BAN6, QUARANTINE4, QUARANTINE6, QUARANTINE_IF, TABLE};
use crate::net::IfName;

/// Bans kept at most; past this a new ban is refused rather than growing without bound.
pub const MAX_BANS: usize = 65_536;
/// Quarantined sources kept at most.
pub const MAX_QUARANTINED: usize = 4096;

/// What is banned and quarantined, with expiries in Unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseState {
    #[serde(default)]
    pub bans: Vec<Ban>,
    #[serde(default)]
    pub quarantine: Vec<QuarantineTarget>,
}

/// One ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    pub addr: IpAddr,
    /// Unix seconds at which the kernel drops the element.
    pub expires: u64,
}

/// A quarantined source: an address or an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuarantineTarget {
    Addr(IpAddr),
    Iface(String),
}

impl std::fmt::Display for QuarantineTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuarantineTarget::Addr(a) => write!(f, "{a}"),
            QuarantineTarget::Iface(i) => write!(f, "{i}"),
        }
    }
}

/// Why state could not be changed or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The state file is not what this version writes.
    #[error("state file: {0}")]
    Corrupt(String),
    /// A counted limit was reached.
    #[error("{0}")]
    Full(String),
    /// An interface name in the state is not a valid one.
    #[error("bad interface name in state: {0}")]
    BadIface(String),
}

impl ResponseState {
    pub fn from_json(bytes: &[u8]) -> Result<ResponseState, StateError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ResponseState::default());
        }
        let state: ResponseState =
            serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt(e.to_string()))?;
        if state.bans.len() > MAX_BANS || state.quarantine.len() > MAX_QUARANTINED {
            return Err(StateError::Corrupt("more entries than allowed".into()));
        }
        for q in &state.quarantine {
            if let QuarantineTarget::Iface(i) = q {
                i.parse::<IfName>().map_err(StateError::BadIface)?;
            }
        }
        Ok(state)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// Forget bans that have expired (the kernel has already dropped them).
    pub fn prune(&mut self, now: u64) {
        self.bans.retain(|b| b.expires > now);
    }

    /// Record a ban, replacing an earlier one for the same address.
    pub fn ban(&mut self, addr: IpAddr, now: u64, secs: u64) -> Result<(), StateError> {
        self.prune(now);
        self.bans.retain(|b| b.addr != addr);
        if self.bans.len() >= MAX_BANS {
            return Err(StateError::Full(format!("{MAX_BANS} bans already")));
        }
        self.bans.push(Ban {
            addr,
            expires: now.saturating_add(secs),
        });
        Ok(())
    }

    pub fn unban(&mut self, addr: IpAddr) -> bool {
        let before = self.bans.len();
        self.bans.retain(|b| b.addr != addr);
        before != self.bans.len()
    }

    pub fn quarantine(&mut self, target: QuarantineTarget) -> Result<(), StateError> {
        if self.quarantine.contains(&target) {
            return Ok(());
        }
        if self.quarantine.len() >= MAX_QUARANTINED {
            return Err(StateError::Full(format!(
                "{MAX_QUARANTINED} quarantined already"
            )));
        }
        self.quarantine.push(target);
        Ok(())
    }

    pub fn release(&mut self, target: &QuarantineTarget) -> bool {
        let before = self.quarantine.len();
        self.quarantine.retain(|q| q != target);
        before != self.quarantine.len()
    }

    /// nft commands that put every live ban (with the time it has left) and every quarantine
    /// back into the kernel. Safe to run on top of elements that are already there.
    pub fn restore_script(&self, now: u64) -> String {
        let mut out = String::new();
        for b in &self.bans {
            if b.expires > now {
                out.push_str(&ban_script(b.addr, b.expires - now));
            }
        }
        for q in &self.quarantine {
            out.push_str(&quarantine_script(q));
        }
        out
    }
}

fn ban_set(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() {
        BAN4
    } else {
        BAN6
    }
}

/// Add (or refresh) a ban. `add` leaves an existing element's timeout alone, so the element
/// is added, deleted and added again in one transaction: it never leaves the set in between.
pub fn ban_script(addr: IpAddr, secs: u64) -> String {
    let set = ban_set(addr);
    let mut s = String::new();
    let _ = writeln!(s, "add element {TABLE} {set} {{ {addr} }}");
    let _ = writeln!(s, "delete element {TABLE} {set} {{ {addr} }}");
    let _ = writeln!(s, "add element {TABLE} {set} {{ {addr} timeout {secs}s }}");
    s
}

/// Remove a ban; a no-op (not an error) when there is none.
pub fn unban_script(addr: IpAddr) -> String {
    let set = ban_set(addr);
    format!("add element {TABLE} {set} {{ {addr} }}\ndelete element {TABLE} {set} {{ {addr} }}\n")
}

fn quarantine_element(target: &QuarantineTarget) -> (&'static str, String) {
    match target {
        QuarantineTarget::Addr(a) if a.is_ipv4() => (QUARANTINE4, a.to_string()),
        QuarantineTarget::Addr(a) => (QUARANTINE6, a.to_string()),
        QuarantineTarget::Iface(i) => (QUARANTINE_IF, format!("\"{i}\"")),
    }
}

pub fn quarantine_script(target: &QuarantineTarget) -> String {
    let (set, el) = quarantine_element(target);
    format!("add element {TABLE} {set} {{ {el} }}\n")
}

pub fn release_script(target: &QuarantineTarget) -> String {
    let (set, el) = quarantine_element(target);
    format!("add element {TABLE} {set} {{ {el} }}\ndelete element {TABLE} {set} {{ {el} }}\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn restore_gives_the_time_left() {
        let mut s = ResponseState::default();
        let a: IpAddr = "203.0.113.9".parse().unwrap();
        s.ban(a, 1000, 3600).unwrap();
        s.ban("2001:db8::9".parse().unwrap(), 1000, 10).unwrap();
        s.quarantine(QuarantineTarget::Iface("vif3.0".into()))
            .unwrap();
        let script = s.restore_script(1100);
        assert!(
            script.contains("ban4 { 203.0.113.9 timeout 3500s }"),
            "{script}"
        );
        assert!(!script.contains("2001:db8::9"), "{script}");
        assert!(script.contains("quarantine_if { \"vif3.0\" }"), "{script}");
        let back = ResponseState::from_json(s.to_json().as_bytes()).unwrap();
        assert_eq!(back, s);
        assert!(ResponseState::from_json(br#"{"quarantine":[{"iface":"x\"; flush"}]}"#).is_err());
    }
}
