//! Small value types the policy is made of: prefixes, port ranges, interface names, durations.
//! Each parses strictly and prints in the form nftables reads back.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// An address or a prefix, IPv4 or IPv6 (`10.137.0.12`, `192.0.2.0/24`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The width of the address family: 32 or 128.
    pub fn max_len(&self) -> u8 {
        if self.is_v4() {
            32
        } else {
            128
        }
    }

    /// Whether `ip` falls inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.len))
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.len))
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The nft selector for this family: `ip` or `ip6`.
    pub fn nft_family(&self) -> &'static str {
        if self.is_v4() {
            "ip"
        } else {
            "ip6"
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == self.max_len() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address or prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len_text {
            None => max,
            Some(l) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("`{text}`: prefix length must be a number"));
                }
                let len: u8 = l
                    .parse()
                    .map_err(|_| format!("`{text}`: prefix length must be a number"))?;
                if len > max {
                    return Err(format!("`{text}`: prefix length above {max}"));
                }
                len
            }
        };
        let cidr = Cidr { addr, len };
        // Host bits set (`10.0.0.1/8`) usually means a typo; nft would silently mask them.
        if cidr.network() != addr {
            return Err(format!(
                "`{text}` has host bits set; did you mean {}/{len}?",
                cidr.network()
            ));
        }
        Ok(cidr)
    }
}

impl Cidr {
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.len))
                };
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.len))
                };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A destination port or an inclusive range of them, never port 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let port = |p: &str| -> Result<u16, String> {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{text}` is not a port or a range like 8000-8080"));
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("`{text}`: ports run from 1 to 65535")),
                Ok(n) => Ok(n),
            }
        };
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(text)?;
                (p, p)
            }
        };
        if first > last {
            return Err(format!("`{text}`: the range runs backwards"));
        }
        Ok(PortRange { first, last })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => match u16::try_from(n) {
                Ok(p) if p > 0 => Ok(PortRange { first: p, last: p }),
                _ => Err(de::Error::custom(format!(
                    "port {n}: ports run from 1 to 65535"
                ))),
            },
            Raw::Text(t) => t.parse().map_err(de::Error::custom),
        }
    }
}

/// A network interface name as the kernel allows it (at most 15 bytes), optionally ending in
/// `*` to match a prefix (`vif*`), as nftables' `iifname` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfName(String);

impl IfName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IfName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let body = text.strip_suffix('*').unwrap_or(text);
        // Only the characters real interface names use: this also keeps the name safe to
        // quote inside an nft script.
        let ok = !text.is_empty()
            && text.len() <= 15
            && !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@'));
        if ok {
            Ok(IfName(text.to_string()))
        } else {
            Err(format!(
                "`{text}` is not an interface name (1-15 of A-Z a-z 0-9 . - _ @, optional trailing *)"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for IfName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A duration written `90s`, `15m`, `1h`, `7d` (or a bare number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub u64);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        if digits.is_empty() || digits.len() > 10 {
            return Err(format!(
                "`{text}` is not a duration like 90s, 15m, 1h or 7d"
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration"))?;
        let scale = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
        };
        Ok(Seconds(n.saturating_mul(scale)))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => u64::try_from(n)
                .map(Seconds)
                .map_err(|_| de::Error::custom("a duration cannot be negative")),
            Raw::Text(t) => t.parse().map_err(de::Error::custom),
        }
    }
}

/// A DNS name a source may reach, lower-cased; `*.example.org` covers every name below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as it appears in nft identifiers: labels joined by `_`, a leading `*` as `-`.
    /// Labels hold only `a-z 0-9 -` and never are a lone `-`, so the mapping is one to one.
    pub fn ident(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for (i, label) in self.0.split('.').enumerate() {
            if i > 0 {
                out.push('_');
            }
            out.push_str(if label == "*" { "-" } else { label });
        }
        out
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim_end_matches('.').to_ascii_lowercase();
        let bad = || {
            format!("`{text}` is not a DNS name (labels of a-z 0-9 -, optionally starting with *.)")
        };
        if lower.is_empty() || lower.len() > 253 {
            return Err(bad());
        }
        let labels: Vec<&str> = lower.split('.').collect();
        if labels.len() < 2 {
            return Err(format!("`{text}`: give a full name such as matrix.org"));
        }
        for (i, label) in labels.iter().enumerate() {
            if i == 0 && *label == "*" {
                continue;
            }
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(bad());
            }
        }
        Ok(Domain(lower))
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// An address with a port and transport, as a VPN endpoint is written:
/// `198.51.100.7:1194/udp`, `[2001:db8::7]:51820/udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
    pub proto: Transport,
}

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(&self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}/{}", self.port, self.proto.as_str()),
            IpAddr::V6(a) => write!(f, "[{a}]:{}/{}", self.port, self.proto.as_str()),
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not an endpoint like 198.51.100.7:1194/udp");
        let (hostport, proto) = text.rsplit_once('/').ok_or_else(bad)?;
        let proto = match proto {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            _ => return Err(bad()),
        };
        let sock: std::net::SocketAddr = hostport.parse().map_err(|_| bad())?;
        if sock.port() == 0 {
            return Err(bad());
        }
        Ok(Endpoint {
            addr: sock.ip(),
            port: sock.port(),
            proto,
        })
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cidr_parses_strictly() {
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("2001:db8::1".parse::<Cidr>().unwrap().len, 128);
        assert!("10.0.0.1/8".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("010.0.0.1".parse::<Cidr>().is_err());
        assert!("10.0.0.0/+8".parse::<Cidr>().is_err());
        assert!("10.0.0.0/8"
            .parse::<Cidr>()
            .unwrap()
            .contains("10.200.1.1".parse().unwrap()));
    }

    #[test]
    fn ports_durations_names() {
        assert_eq!(
            "8000-8080".parse::<PortRange>().unwrap().to_string(),
            "8000-8080"
        );
        assert!("0".parse::<PortRange>().is_err());
        assert!("9-3".parse::<PortRange>().is_err());
        assert_eq!("2h".parse::<Seconds>().unwrap(), Seconds(7200));
        assert!("1w".parse::<Seconds>().is_err());
        assert!("vif12.0".parse::<IfName>().is_ok());
        assert!("vif*".parse::<IfName>().is_ok());
        assert!("eth0\"; flush".parse::<IfName>().is_err());
        assert_eq!(
            "*.Matrix.org".parse::<Domain>().unwrap().ident(),
            "-_matrix_org"
        );
        assert!("matrix_org.x".parse::<Domain>().is_err());
        assert_eq!(
            "[2001:db8::7]:51820/udp"
                .parse::<Endpoint>()
                .unwrap()
                .to_string(),
            "[2001:db8::7]:51820/udp"
        );
    }
}
