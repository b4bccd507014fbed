//! Allow and block lists: parsed from text (the binary reads the files), matched against a
//! destination's address and the names it is known by.
//!
//! One line holds one of:
//! - an address, `192.0.2.7` or `2001:db8::7`;
//! - a CIDR block, `192.0.2.0/24`;
//! - a hosts-file line, `ADDRESS NAME [NAME...]`: the names are entries, and so is the
//!   address unless it is a sinkhole (`0.0.0.0`, `127.0.0.1`, `::`, `::1`), which is how
//!   published hosts-format blocklists spell "block this name";
//! - a name, `evil.example`, matched exactly, or `*.evil.example` / `.evil.example`, which
//!   also match every name under it.
//!
//! `#` starts a comment; blank lines are skipped. Anything else is a malformed line, reported
//! with its line number.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// An address block. IPv4 is kept apart from IPv6 (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    v4: bool,
    len: u8,
    net: u128,
}

/// An address as (is IPv4, bits): IPv4 in the low 32 bits.
pub(crate) fn addr_bits(ip: IpAddr) -> (bool, u128) {
    match ip.to_canonical() {
        IpAddr::V4(a) => (true, u128::from(u32::from(a))),
        IpAddr::V6(a) => (false, u128::from(a)),
    }
}

fn mask(v4: bool, len: u8, bits: u128) -> u128 {
    let width = if v4 { 32 } else { 128 };
    let host = u32::from(width - len);
    if host >= 128 {
        0
    } else {
        bits & !((1u128 << host).wrapping_sub(1))
    }
}

impl Cidr {
    /// `ADDR` or `ADDR/LEN`; `None` if either part is invalid.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let ip: IpAddr = addr.trim().parse().ok()?;
        let mapped = matches!(ip, IpAddr::V6(_)) && ip.to_canonical().is_ipv4();
        let (v4, bits) = addr_bits(ip);
        let width: u8 = if v4 { 32 } else { 128 };
        let len = match len {
            None => width,
            Some(l) => {
                let l: u8 = l.trim().parse().ok()?;
                // A mapped address's prefix counts the 96 bits of the mapping.
                let l = if mapped { l.checked_sub(96)? } else { l };
                if l > width {
                    return None;
                }
                l
            }
        };
        Some(Cidr {
            v4,
            len,
            net: mask(v4, len, bits),
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v4, bits) = addr_bits(ip);
        v4 == self.v4 && mask(v4, self.len, bits) == self.net
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip: IpAddr = if self.v4 {
            IpAddr::V4((u32::try_from(self.net).unwrap_or(0)).into())
        } else {
            IpAddr::V6(self.net.into())
        };
        let width = if self.v4 { 32 } else { 128 };
        if self.len == width {
            write!(f, "{ip}")
        } else {
            write!(f, "{ip}/{}", self.len)
        }
    }
}

/// A set of address blocks: one hash set per prefix length, probed longest first, so a
/// lookup costs one hash probe per distinct length rather than one comparison per entry.
#[derive(Debug, Clone, Default)]
pub struct CidrSet {
    /// (is IPv4, prefix length) -> network -> line. Longest prefixes iterate first.
    by_len: BTreeMap<(bool, std::cmp::Reverse<u8>), HashMap<u128, usize>>,
    len: usize,
}

impl CidrSet {
    pub fn insert(&mut self, cidr: Cidr, line: usize) {
        let slot = self
            .by_len
            .entry((cidr.v4, std::cmp::Reverse(cidr.len)))
            .or_default();
        if slot.insert(cidr.net, line).is_none() {
            self.len += 1;
        }
    }

    /// The most specific block holding `ip`, with its line.
    pub fn lookup(&self, ip: IpAddr) -> Option<(Cidr, usize)> {
        let (v4, bits) = addr_bits(ip);
        for (&(fam, std::cmp::Reverse(len)), nets) in &self.by_len {
            if fam != v4 {
                continue;
            }
            let net = mask(v4, len, bits);
            if let Some(&line) = nets.get(&net) {
                return Some((Cidr { v4, len, net }, line));
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A parsed list.
#[derive(Debug, Clone, Default)]
pub struct List {
    /// The file name (or `policy NAME inline`), as alerts cite it.
    pub name: String,
    addrs: CidrSet,
    /// Exact names -> line.
    names: HashMap<String, usize>,
    /// Names whose subdomains also match -> line.
    suffixes: HashMap<String, usize>,
}

/// Where a destination matched a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub list: String,
    pub line: usize,
    /// The entry as normalised (`192.0.2.0/24`, `evil.example`, `*.evil.example`).
    pub entry: String,
}

/// A line that is none of the accepted formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list}:{line}: {reason}: {text:?}")]
pub struct LineError {
    pub list: String,
    pub line: usize,
    pub text: String,
    pub reason: &'static str,
}

/// Sinkhole addresses that hosts-format blocklists map names to.
fn is_sinkhole(ip: IpAddr) -> bool {
    ip.is_unspecified() || ip.is_loopback()
}

/// A DNS name, lower-cased; `None` unless every label is letters, digits, `-` or `_`, 1-63
/// bytes, and the last label is not all digits (so `300.1.1.1` is an error, not a name).
fn parse_name(text: &str) -> Option<String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut last_numeric = false;
    for label in name.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        last_numeric = label.bytes().all(|b| b.is_ascii_digit());
    }
    (!last_numeric).then_some(name)
}

impl List {
    /// An empty list named `name`, to fill with [`List::add_line`].
    pub fn empty(name: &str) -> List {
        List {
            name: name.to_string(),
            ..List::default()
        }
    }

    /// Parse a list's text. Malformed lines are returned, each with its 1-based line number;
    /// the rest of the list is kept.
    pub fn parse(name: &str, text: &str) -> (List, Vec<LineError>) {
        let mut list = List::empty(name);
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if let Err(reason) = list.add_line(raw, i + 1) {
                errors.push(LineError {
                    list: name.to_string(),
                    line: i + 1,
                    text: raw.chars().take(200).collect(),
                    reason,
                });
            }
        }
        (list, errors)
    }

    /// Add one line (a list line or an inline entry).
    pub fn add_line(&mut self, raw: &str, line: usize) -> Result<(), &'static str> {
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            return Ok(());
        }
        let mut words = text.split_whitespace();
        let first = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        if let Ok(ip) = first.parse::<IpAddr>() {
            if !rest.is_empty() {
                // hosts-file line
                let mut names = Vec::with_capacity(rest.len());
                for word in &rest {
                    names.push(parse_name(word).ok_or("bad host name in hosts-file line")?);
                }
                for n in names {
                    self.names.insert(n, line);
                }
                if !is_sinkhole(ip) {
                    if let Some(c) = Cidr::parse(first) {
                        self.addrs.insert(c, line);
                    }
                }
                return Ok(());
            }
        }
        if !rest.is_empty() {
            return Err("expected one entry, or an address followed by host names");
        }
        if first.contains('/') || first.parse::<IpAddr>().is_ok() {
            let cidr = Cidr::parse(first).ok_or("bad address or CIDR block")?;
            self.addrs.insert(cidr, line);
            return Ok(());
        }
        if let Some(base) = first.strip_prefix("*.").or_else(|| first.strip_prefix('.')) {
            let name = parse_name(base).ok_or("bad wildcard name")?;
            self.suffixes.insert(name, line);
            return Ok(());
        }
        if first.contains(':') {
            return Err("bad address");
        }
        let name = parse_name(first).ok_or("not an address, CIDR block or host name")?;
        self.names.insert(name, line);
        Ok(())
    }

    /// Number of entries (addresses, blocks and names).
    pub fn len(&self) -> usize {
        self.addrs.len() + self.names.len() + self.suffixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `ip`, or one of the `names` it is known by, is on this list.
    pub fn lookup<'a>(&self, ip: IpAddr, names: impl IntoIterator<Item = &'a str>) -> Option<Hit> {
        if let Some((cidr, line)) = self.addrs.lookup(ip) {
            return Some(self.hit(line, cidr.to_string()));
        }
        if self.names.is_empty() && self.suffixes.is_empty() {
            return None;
        }
        for name in names {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(&line) = self.names.get(&name) {
                return Some(self.hit(line, name));
            }
            // Walk up the name: a.b.evil.example, b.evil.example, evil.example, example.
            let mut rest = name.as_str();
            loop {
                if let Some(&line) = self.suffixes.get(rest) {
                    return Some(self.hit(line, format!("*.{rest}")));
                }
                match rest.split_once('.') {
                    Some((_, tail)) => rest = tail,
                    None => break,
                }
            }
        }
        None
    }

    fn hit(&self, line: usize, entry: String) -> Hit {
        Hit {
            list: self.name.clone(),
            line,
            entry,
        }
    }
}
