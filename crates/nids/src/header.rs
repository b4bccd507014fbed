//! The rule header: action, protocol, addresses, ports and direction.
//!
//! Address and port expressions keep their variables (`$HOME_NET`) so a rule renders back as
//! written; [`crate::Variables`] resolves them when a ruleset is loaded.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// What to do when the rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Action {
    Alert,
    Pass,
    Drop,
    Reject,
    RejectSrc,
    RejectDst,
    RejectBoth,
    Config,
}

impl Action {
    /// Parses an action word.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "alert" => Action::Alert,
            "pass" => Action::Pass,
            "drop" => Action::Drop,
            "reject" => Action::Reject,
            "rejectsrc" => Action::RejectSrc,
            "rejectdst" => Action::RejectDst,
            "rejectboth" => Action::RejectBoth,
            "config" => Action::Config,
            _ => return None,
        })
    }

    /// The word as written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject => "reject",
            Action::RejectSrc => "rejectsrc",
            Action::RejectDst => "rejectdst",
            Action::RejectBoth => "rejectboth",
            Action::Config => "config",
        }
    }
}

/// Transport-level protocols; everything else in the protocol field is an app-layer name.
const PACKET_PROTOCOLS: &[&str] = &[
    "ip",
    "ipv4",
    "ip4",
    "ipv6",
    "ip6",
    "tcp",
    "udp",
    "icmp",
    "icmpv4",
    "icmpv6",
    "sctp",
    "tcp-pkt",
    "tcp-stream",
    "pkthdr",
];

/// App-layer protocols Suricata accepts in the header.
const APP_PROTOCOLS: &[&str] = &[
    "http",
    "http1",
    "http2",
    "ftp",
    "ftp-data",
    "smb",
    "dcerpc",
    "dns",
    "tls",
    "ssh",
    "smtp",
    "imap",
    "pop3",
    "modbus",
    "dnp3",
    "enip",
    "cip",
    "nfs",
    "ntp",
    "tftp",
    "ike",
    "ikev2",
    "krb5",
    "dhcp",
    "snmp",
    "sip",
    "rfb",
    "rdp",
    "mqtt",
    "pgsql",
    "telnet",
    "quic",
    "websocket",
    "ldap",
    "doh2",
    "bittorrent-dht",
    "template",
    "irc",
    "jabber",
    "msn",
    "ssl",
    "mdns",
    "llmnr",
];

/// The protocol field. App-layer names are kept as written (with any `:hook` suffix).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// The name as written, lowercased.
    pub name: String,
}

impl Protocol {
    /// Parses the protocol field; `None` for a name Suricata does not know.
    pub fn parse(s: &str) -> Option<Protocol> {
        let name = s.to_ascii_lowercase();
        let base = name.split(':').next().unwrap_or("");
        if PACKET_PROTOCOLS.contains(&base) || APP_PROTOCOLS.contains(&base) {
            Some(Protocol { name })
        } else {
            None
        }
    }

    /// The app-layer protocol, or `None` for packet-level protocols.
    pub fn app_layer(&self) -> Option<&str> {
        let base = self.name.split(':').next().unwrap_or("");
        if APP_PROTOCOLS.contains(&base) {
            Some(if base == "ssl" { "tls" } else { base })
        } else {
            None
        }
    }

    /// The transport this protocol implies: `tcp`, `udp`, `icmp` or `ip` (any).
    pub fn transport(&self) -> &'static str {
        let base = self.name.split(':').next().unwrap_or("");
        match base {
            "tcp" | "tcp-pkt" | "tcp-stream" | "http" | "http1" | "http2" | "ftp" | "ftp-data"
            | "smb" | "tls" | "ssl" | "ssh" | "smtp" | "imap" | "pop3" | "modbus" | "dnp3"
            | "rdp" | "rfb" | "mqtt" | "pgsql" | "telnet" | "websocket" | "ldap" | "irc"
            | "doh2" => "tcp",
            "udp" | "ntp" | "tftp" | "ike" | "ikev2" | "dhcp" | "snmp" | "sip" | "quic"
            | "bittorrent-dht" | "mdns" | "llmnr" => "udp",
            "icmp" | "icmpv4" | "icmpv6" => "icmp",
            _ => "ip",
        }
    }
}

/// Which way the rule looks at traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `->`: source to destination.
    ToDst,
    /// `<>`: either way.
    Both,
    /// `=>`: Suricata 8 transactional bidirectional rule.
    Transactional,
}

impl Direction {
    /// Parses `->`, `<>` or `=>`.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "->" => Some(Direction::ToDst),
            "<>" => Some(Direction::Both),
            "=>" => Some(Direction::Transactional),
            _ => None,
        }
    }

    /// The arrow as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToDst => "->",
            Direction::Both => "<>",
            Direction::Transactional => "=>",
        }
    }
}

/// An IPv4 or IPv6 network in CIDR form (a bare address has the full prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address as written.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d/m.m.m.m`, or IPv6 with `/n`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                Ok(_) => return None,
                Err(_) => {
                    // dotted netmask, IPv4 only, must be contiguous
                    let m: std::net::Ipv4Addr = p.parse().ok()?;
                    if !addr.is_ipv4() {
                        return None;
                    }
                    let bits = u32::from(m);
                    if bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return None;
                    }
                    bits.leading_ones() as u8
                }
            },
        };
        Some(Cidr { addr, prefix })
    }

    /// Whether `ip` falls inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// An address expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressExpr {
    /// `any`.
    Any,
    /// One network.
    Net(Cidr),
    /// `$NAME`, resolved at load time.
    Var(String),
    /// `[a, b, ...]`.
    Group(Vec<AddressExpr>),
    /// `!expr`.
    Not(Box<AddressExpr>),
}

/// A port expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortExpr {
    /// `any`.
    Any,
    /// One port.
    Port(u16),
    /// `lo:hi`, `lo:` or `:hi` (the missing end stays `None` so it renders as written).
    Range(Option<u16>, Option<u16>),
    /// `$NAME`, resolved at load time.
    Var(String),
    /// `[a, b, ...]`.
    Group(Vec<PortExpr>),
    /// `!expr`.
    Not(Box<PortExpr>),
}

/// Maximum nesting of `[...]` and `!`, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 32;

/// Splits a group body on top-level commas.
fn split_top(s: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            ',' if depth == 0 => {
                parts.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    parts.push(s[start..].trim());
    Some(parts)
}

impl AddressExpr {
    /// Parses an address expression.
    pub fn parse(s: &str) -> Option<AddressExpr> {
        Self::parse_depth(s.trim(), 0)
    }

    fn parse_depth(s: &str, depth: usize) -> Option<AddressExpr> {
        if depth > MAX_DEPTH || s.is_empty() {
            return None;
        }
        if let Some(rest) = s.strip_prefix('!') {
            return Some(AddressExpr::Not(Box::new(Self::parse_depth(
                rest.trim_start(),
                depth + 1,
            )?)));
        }
        if let Some(body) = s.strip_prefix('[') {
            let body = body.strip_suffix(']')?;
            let items = split_top(body)?
                .into_iter()
                .map(|p| Self::parse_depth(p, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            return Some(AddressExpr::Group(items));
        }
        if let Some(name) = s.strip_prefix('$') {
            return valid_var_name(name).then(|| AddressExpr::Var(name.to_string()));
        }
        if s.eq_ignore_ascii_case("any") {
            return Some(AddressExpr::Any);
        }
        Cidr::parse(s).map(AddressExpr::Net)
    }

    /// Whether this expression, with variables already resolved, matches `ip`.
    /// Unresolved variables never match.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match self {
            AddressExpr::Any => true,
            AddressExpr::Net(c) => c.contains(ip),
            AddressExpr::Var(_) => false,
            AddressExpr::Group(items) => {
                let mut positive = false;
                let mut any_positive = false;
                for item in items {
                    match item {
                        AddressExpr::Not(inner) => {
                            if inner.matches(ip) {
                                return false;
                            }
                        }
                        other => {
                            any_positive = true;
                            positive |= other.matches(ip);
                        }
                    }
                }
                positive || !any_positive
            }
            AddressExpr::Not(inner) => !inner.matches(ip),
        }
    }
}

impl PortExpr {
    /// Parses a port expression.
    pub fn parse(s: &str) -> Option<PortExpr> {
        Self::parse_depth(s.trim(), 0)
    }

    fn parse_depth(s: &str, depth: usize) -> Option<PortExpr> {
        if depth > MAX_DEPTH || s.is_empty() {
            return None;
        }
        if let Some(rest) = s.strip_prefix('!') {
            return Some(PortExpr::Not(Box::new(Self::parse_depth(
                rest.trim_start(),
                depth + 1,
            )?)));
        }
        if let Some(body) = s.strip_prefix('[') {
            let body = body.strip_suffix(']')?;
            let items = split_top(body)?
                .into_iter()
                .map(|p| Self::parse_depth(p, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            return Some(PortExpr::Group(items));
        }
        if let Some(name) = s.strip_prefix('$') {
            return valid_var_name(name).then(|| PortExpr::Var(name.to_string()));
        }
        if s.eq_ignore_ascii_case("any") {
            return Some(PortExpr::Any);
        }
        if let Some((lo, hi)) = s.split_once(':') {
            let lo = lo.trim();
            let hi = hi.trim();
            let lo = if lo.is_empty() {
                None
            } else {
                Some(lo.parse::<u16>().ok()?)
            };
            let hi = if hi.is_empty() {
                None
            } else {
                Some(hi.parse::<u16>().ok()?)
            };
            if lo.is_none() && hi.is_none() {
                return None;
            }
            if let (Some(l), Some(h)) = (lo, hi) {
                if l > h {
                    return None;
                }
            }
            return Some(PortExpr::Range(lo, hi));
        }
        s.parse::<u16>().ok().map(PortExpr::Port)
    }

    /// Whether this expression, with variables already resolved, matches `port`.
    pub fn matches(&self, port: u16) -> bool {
        match self {
            PortExpr::Any => true,
            PortExpr::Port(p) => *p == port,
            PortExpr::Range(lo, hi) => port >= lo.unwrap_or(0) && port <= hi.unwrap_or(u16::MAX),
            PortExpr::Var(_) => false,
            PortExpr::Group(items) => {
                let mut positive = false;
                let mut any_positive = false;
                for item in items {
                    match item {
                        PortExpr::Not(inner) => {
                            if inner.matches(port) {
                                return false;
                            }
                        }
                        other => {
                            any_positive = true;
                            positive |= other.matches(port);
                        }
                    }
                }
                positive || !any_positive
            }
            PortExpr::Not(inner) => !inner.matches(port),
        }
    }
}

fn valid_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for AddressExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressExpr::Any => f.write_str("any"),
            AddressExpr::Net(c) => write!(f, "{c}"),
            AddressExpr::Var(v) => write!(f, "${v}"),
            AddressExpr::Group(items) => {
                f.write_str("[")?;
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{it}")?;
                }
                f.write_str("]")
            }
            AddressExpr::Not(inner) => write!(f, "!{inner}"),
        }
    }
}

impl fmt::Display for PortExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortExpr::Any => f.write_str("any"),
            PortExpr::Port(p) => write!(f, "{p}"),
            PortExpr::Range(lo, hi) => {
                if let Some(l) = lo {
                    write!(f, "{l}")?;
                }
                f.write_str(":")?;
                if let Some(h) = hi {
                    write!(f, "{h}")?;
                }
                Ok(())
            }
            PortExpr::Var(v) => write!(f, "${v}"),
            PortExpr::Group(items) => {
                f.write_str("[")?;
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{it}")?;
                }
                f.write_str("]")
            }
            PortExpr::Not(inner) => write!(f, "!{inner}"),
        }
    }
}

/// The parsed header of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct Header {
    pub action: Action,
    pub protocol: Protocol,
    /// Addresses and ports are shared: a ruleset keeps one copy of each distinct
    /// expression ([`crate::Ruleset`] interns them), since ET Open writes the same few
    /// variables in tens of thousands of rules.
    pub src: Arc<AddressExpr>,
    pub src_ports: Arc<PortExpr>,
    pub direction: Direction,
    pub dst: Arc<AddressExpr>,
    pub dst_ports: Arc<PortExpr>,
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} {}",
            self.action.as_str(),
            self.protocol.name,
            self.src,
            self.src_ports,
            self.direction.as_str(),
            self.dst,
            self.dst_ports
        )
    }
}

/// Splits the header into whitespace-separated fields, keeping `[ ... ]` groups whole even
/// when they contain spaces. Returns `(byte offset, field)` pairs.
pub(crate) fn header_fields(s: &str) -> Option<Vec<(usize, &str)>> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        match c {
            '[' => {
                depth += 1;
                start.get_or_insert(i);
            }
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            c if c.is_whitespace() && depth == 0 => {
                if let Some(st) = start.take() {
                    out.push((st, &s[st..i]));
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if depth != 0 {
        return None;
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_groups_negation_cidrs() {
        let e =
            AddressExpr::parse("[10.0.0.0/8, !10.1.0.0/16, [192.168.1.1, fe80::/10], $HOME_NET]")
                .unwrap();
        assert_eq!(
            e.to_string(),
            "[10.0.0.0/8,!10.1.0.0/16,[192.168.1.1,fe80::/10],$HOME_NET]"
        );
        let e = AddressExpr::parse("[10.0.0.0/8,!10.1.0.0/16]").unwrap();
        assert!(e.matches("10.2.3.4".parse().unwrap()));
        assert!(!e.matches("10.1.3.4".parse().unwrap()));
        assert!(!e.matches("11.1.3.4".parse().unwrap()));
        assert_eq!(
            AddressExpr::parse("1.2.3.4/255.255.0.0"),
            AddressExpr::parse("1.2.3.4/16")
        );
        assert!(AddressExpr::parse("1.2.3.4/33").is_none());
        assert!(AddressExpr::parse("[1.2.3.4").is_none());
        assert!(AddressExpr::parse("300.1.1.1").is_none());
        assert!(AddressExpr::parse("!any").is_some());
    }

    #[test]
    fn ports_ranges_and_groups() {
        assert_eq!(
            PortExpr::parse("1024:"),
            Some(PortExpr::Range(Some(1024), None))
        );
        assert_eq!(
            PortExpr::parse(":1023"),
            Some(PortExpr::Range(None, Some(1023)))
        );
        assert_eq!(
            PortExpr::parse("80:90"),
            Some(PortExpr::Range(Some(80), Some(90)))
        );
        assert!(PortExpr::parse("90:80").is_none());
        assert!(PortExpr::parse("65536").is_none());
        let p = PortExpr::parse("[80,443,![8000:8080],$HTTP_PORTS]").unwrap();
        assert_eq!(p.to_string(), "[80,443,![8000:8080],$HTTP_PORTS]");
        let p = PortExpr::parse("[1:100,!80]").unwrap();
        assert!(p.matches(79) && !p.matches(80) && !p.matches(101));
        let p = PortExpr::parse("!80").unwrap();
        assert!(p.matches(81) && !p.matches(80));
    }

    #[test]
    fn header_fields_keep_groups_with_spaces() {
        let f = header_fields("alert tcp [1.1.1.1, 2.2.2.2] any -> any any ").unwrap();
        let v: Vec<&str> = f.iter().map(|x| x.1).collect();
        assert_eq!(
            v,
            [
                "alert",
                "tcp",
                "[1.1.1.1, 2.2.2.2]",
                "any",
                "->",
                "any",
                "any"
            ]
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = format!("{}1.1.1.1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(AddressExpr::parse(&s).is_none());
        assert!(PortExpr::parse(&"!".repeat(5000)).is_none());
    }
}
