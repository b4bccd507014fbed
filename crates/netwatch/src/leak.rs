//! The VPN leak monitor's verdict, and the DNS bypass watcher that shares its packet view.
//!
//! [`LeakMonitor`] is fed every packet that *leaves* by the uplink. Tunnel traffic to a
//! configured endpoint (address, port and protocol) is what should be there; anything else
//! (plain IPv4 or IPv6, DNS, ICMP, other ethertypes) means the kill switch has failed, and
//! raises an alert at once. Alerts are deduplicated per (destination, protocol, port) per
//! interval, and the next alert for a key says how many packets were folded into it.
//!
//! [`BypassWatch`] is fed packets arriving from clients on the client-facing interface, and
//! alerts on DNS (UDP/TCP 53, DoT 853) sent to anything but the guard.
//!
//! Both take raw frames with their link type and do no I/O.

use picket_event::{Alert, Event, Timestamp};
use picket_netdecode::decode::{
    decode_ipv4, decode_ipv6, decode_link, decode_transport, Network, Transport, PROTO_ICMP,
    PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Alert signature ids of the leak monitor (8210000–8210099).
pub mod sid {
    pub const LEAK: u64 = 8_210_001;
    pub const DNS_LEAK: u64 = 8_210_002;
    pub const NON_IP_LEAK: u64 = 8_210_003;
}

/// A VPN endpoint: the only thing allowed out of the uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `PROTO_UDP` or `PROTO_TCP`.
    pub proto: u8,
}

impl Endpoint {
    /// `198.51.100.7:51820/udp`, `[2001:db8::7]:443/tcp`; without `/proto`, UDP.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let (addr, proto) = match text.rsplit_once('/') {
            Some((a, p)) => (a, p),
            None => (text, "udp"),
        };
        let proto = match proto.to_ascii_lowercase().as_str() {
            "udp" => PROTO_UDP,
            "tcp" => PROTO_TCP,
            other => return Err(format!("{text:?}: protocol {other:?} is not udp or tcp")),
        };
        let addr: SocketAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not address:port/proto"))?;
        Ok(Endpoint { addr, proto })
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Endpoint::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = if self.proto == PROTO_TCP {
            "tcp"
        } else {
            "udp"
        };
        write!(f, "{}/{proto}", self.addr)
    }
}

/// `picket leak` configuration (TOML); flags override or add to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakConfig {
    /// The interface towards the internet, where only tunnel packets may leave.
    pub uplink: Option<String>,
    /// The VPN endpoints, as `address:port/proto`.
    pub endpoints: Vec<Endpoint>,
    /// Alerts for one (destination, protocol, port) at most once per this many seconds.
    pub interval_secs: u32,
    /// ARP carries no user data and the tunnel needs it to reach the gateway.
    pub allow_arp: bool,
    /// IPv6 neighbour discovery and multicast listener messages (ICMPv6 130-137 and 143),
    /// the IPv6 counterparts of ARP, which the kernel sends on any IPv6 link.
    pub allow_neighbor_discovery: bool,
    /// DHCP (UDP 67/68) and DHCPv6 (UDP 546/547), which keep the uplink's address.
    pub allow_dhcp: bool,
    /// Destinations (dedup keys) remembered; when full, new ones share one overflow key.
    pub max_keys: usize,
}

impl Default for LeakConfig {
    fn default() -> Self {
        LeakConfig {
            uplink: None,
            endpoints: Vec::new(),
            interval_secs: 10,
            allow_arp: true,
            allow_neighbor_discovery: true,
            allow_dhcp: true,
            max_keys: 4096,
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum LeakConfigError {
    /// The TOML did not parse or did not fit the schema (the message names the key).
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value parsed but is not acceptable.
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl LeakConfig {
    pub fn from_toml(text: &str) -> Result<Self, LeakConfigError> {
        let config: LeakConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), LeakConfigError> {
        if self.interval_secs == 0 {
            return Err(LeakConfigError::Invalid {
                key: "interval_secs",
                message: "must be at least 1".into(),
            });
        }
        if self.max_keys == 0 {
            return Err(LeakConfigError::Invalid {
                key: "max_keys",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// What the monitor counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeakCounters {
    pub packets: u64,
    pub tunnel: u64,
    /// ARP, neighbour discovery and DHCP, when allowed.
    pub allowed_other: u64,
    pub leaks: u64,
    pub alerts: u64,
    /// Leaked packets folded into an earlier alert of the same key.
    pub suppressed: u64,
    /// Leaked packets whose headers did not decode (still leaks: they left).
    pub undecodable: u64,
    /// Times the dedup table was full and a packet went to the overflow key.
    pub keys_full: u64,
}

/// The parts of a frame the verdicts look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketView<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub icmp_type: Option<u8>,
    pub tcp_flags: Option<u8>,
    pub payload: &'a [u8],
}

/// What a frame is, as far as these verdicts care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Ip(PacketView<'a>),
    Arp,
    /// Another ethertype, or an IP packet too broken to read.
    Other {
        ethertype: Option<u16>,
        error: Option<&'static str>,
    },
}

/// Decode a frame down to the transport header.
pub fn view(link_type: u32, data: &[u8]) -> Frame<'_> {
    let (_, network) = match decode_link(link_type, data) {
        Ok(x) => x,
        Err(e) => {
            return Frame::Other {
                ethertype: None,
                error: Some(e),
            }
        }
    };
    let mut notes = Vec::new();
    let ip = match network {
        Network::Ipv4(b) => decode_ipv4(b, false, &mut notes),
        Network::Ipv6(b) => decode_ipv6(b, false, &mut notes),
        Network::Arp => return Frame::Arp,
        Network::Other(t) => {
            return Frame::Other {
                ethertype: Some(t),
                error: None,
            }
        }
    };
    let ip = match ip {
        Ok(ip) => ip,
        Err(e) => {
            return Frame::Other {
                ethertype: None,
                error: Some(e),
            }
        }
    };
    let mut v = PacketView {
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        src_port: None,
        dst_port: None,
        icmp_type: None,
        tcp_flags: None,
        payload: &[],
    };
    // Later fragments carry no transport header; they are judged by address and protocol.
    if ip.fragment.is_some_and(|f| f.offset > 0) {
        return Frame::Ip(v);
    }
    match decode_transport(ip.proto, ip.payload, ip.truncated, &mut notes) {
        Ok(Transport::Tcp {
            src_port,
            dst_port,
            flags,
            payload,
            ..
        }) => {
            v.src_port = Some(src_port);
            v.dst_port = Some(dst_port);
            v.tcp_flags = Some(flags);
            v.payload = payload;
        }
        Ok(Transport::Udp {
            src_port,
            dst_port,
            payload,
        }) => {
            v.src_port = Some(src_port);
            v.dst_port = Some(dst_port);
            v.payload = payload;
        }
        Ok(Transport::Icmp {
            icmp_type, payload, ..
        }) => {
            v.icmp_type = Some(icmp_type);
            v.payload = payload;
        }
        Ok(Transport::Other { payload, .. }) => v.payload = payload,
        Err(_) => {}
    }
    Frame::Ip(v)
}

fn proto_name(proto: u8) -> String {
    match proto {
        PROTO_TCP => "TCP".into(),
        PROTO_UDP => "UDP".into(),
        PROTO_ICMP => "ICMP".into(),
        PROTO_ICMPV6 => "IPv6-ICMP".into(),
        other => other.to_string(),
    }
}

/// The first question of a DNS message in a UDP payload, or after the TCP length prefix.
fn dns_question(v: &PacketView<'_>) -> Option<(String, String)> {
    let payload = if v.proto == PROTO_TCP {
        v.payload.get(2..)?
    } else {
        v.payload
    };
    let msg = picket_proto::dns::parse_message(payload).ok()?;
    let q = msg.questions.first()?;
    Some((
        q.name.text.clone(),
        picket_proto::dns::parser::rrtype_name(q.rrtype),
    ))
}

#[derive(Debug, Clone, Copy)]
struct DedupEntry {
    last_alert: i64,
    suppressed: u64,
}

/// Once-per-interval alerting per key, with a count of what was folded in.
#[derive(Debug)]
struct Dedup<K> {
    interval: i64,
    max: usize,
    entries: HashMap<K, DedupEntry>,
}

enum DedupVerdict {
    /// Alert; `suppressed` packets of this key were folded since the last alert.
    Alert {
        suppressed: u64,
    },
    Suppress,
}

impl<K: std::hash::Hash + Eq + Clone> Dedup<K> {
    fn new(interval_secs: u32, max: usize) -> Self {
        Dedup {
            interval: i64::from(interval_secs) * 1_000_000,
            max,
            entries: HashMap::new(),
        }
    }

    /// Returns the verdict and whether the table was full (the key was replaced by
    /// `overflow`).
    fn check(&mut self, now: i64, key: K, overflow: K) -> (DedupVerdict, bool) {
        let mut full = false;
        let key = if !self.entries.contains_key(&key) && self.entries.len() >= self.max {
            let interval = self.interval;
            self.entries.retain(|_, e| now - e.last_alert < interval);
            if self.entries.len() >= self.max {
                full = true;
                // The overflow key always has room: drop one entry if need be.
                if !self.entries.contains_key(&overflow) {
                    if let Some(k) = self.entries.keys().next().cloned() {
                        self.entries.remove(&k);
                    }
                }
                overflow
            } else {
                key
            }
        } else {
            key
        };
        let verdict = match self.entries.get_mut(&key) {
            Some(e) if now - e.last_alert < self.interval && now >= e.last_alert => {
                e.suppressed += 1;
                DedupVerdict::Suppress
            }
            Some(e) => {
                let suppressed = e.suppressed;
                *e = DedupEntry {
                    last_alert: now,
                    suppressed: 0,
                };
                DedupVerdict::Alert { suppressed }
            }
            None => {
                self.entries.insert(
                    key,
                    DedupEntry {
                        last_alert: now,
                        suppressed: 0,
                    },
                );
                DedupVerdict::Alert { suppressed: 0 }
            }
        };
        (verdict, full)
    }
}

type LeakKey = (Option<IpAddr>, u16, Option<u16>);

/// The leak monitor for one uplink.
#[derive(Debug)]
pub struct LeakMonitor {
    config: LeakConfig,
    interface: String,
    dedup: Dedup<LeakKey>,
    counters: LeakCounters,
    host: Option<String>,
}

impl LeakMonitor {
    pub fn new(config: LeakConfig, interface: &str) -> Self {
        LeakMonitor {
            dedup: Dedup::new(config.interval_secs, config.max_keys),
            config,
            interface: interface.to_string(),
            counters: LeakCounters::default(),
            host: None,
        }
    }

    pub fn set_host(&mut self, host: Option<String>) {
        self.host = host;
    }

    pub fn counters(&self) -> LeakCounters {
        self.counters
    }

    fn is_tunnel(&self, v: &PacketView<'_>) -> bool {
        self.config.endpoints.iter().any(|e| {
            e.proto == v.proto && e.addr.ip() == v.dst && Some(e.addr.port()) == v.dst_port
        })
    }

    fn is_allowed_other(&self, v: &PacketView<'_>) -> bool {
        if self.config.allow_neighbor_discovery
            && v.proto == PROTO_ICMPV6
            && v.icmp_type
                .is_some_and(|t| (130..=137).contains(&t) || t == 143)
        {
            return true;
        }
        self.config.allow_dhcp
            && v.proto == PROTO_UDP
            && matches!(
                (v.src_port, v.dst_port),
                (Some(68), Some(67)) | (Some(546), Some(547))
            )
    }

    /// Judge one packet that left by the uplink; an alert event if it is a leak that is
    /// not folded into a recent alert of the same key.
    pub fn observe(&mut self, ts: Timestamp, link_type: u32, data: &[u8]) -> Option<Event> {
        self.counters.packets += 1;
        let frame = view(link_type, data);
        let (key, mut cause, explain, sid, signature) = match &frame {
            Frame::Arp if self.config.allow_arp => {
                self.counters.allowed_other += 1;
                return None;
            }
            Frame::Ip(v) if self.is_tunnel(v) => {
                self.counters.tunnel += 1;
                return None;
            }
            Frame::Ip(v) if self.is_allowed_other(v) => {
                self.counters.allowed_other += 1;
                return None;
            }
            Frame::Ip(v) => {
                let mut cause = Event::new(ts, "alert");
                cause.endpoints.src_ip = Some(v.src.to_string());
                cause.endpoints.src_port = v.src_port;
                cause.endpoints.dest_ip = Some(v.dst.to_string());
                cause.endpoints.dest_port = v.dst_port;
                cause.endpoints.proto = Some(proto_name(v.proto));
                let mut explain = json!({
                    "kind": "vpn_leak",
                    "interface": self.interface,
                    "packet_bytes": data.len(),
                    "ip_version": if v.dst.is_ipv4() { 4 } else { 6 },
                });
                let dns = if matches!(v.dst_port, Some(53) | Some(853))
                    || matches!(v.src_port, Some(53))
                {
                    dns_question(v)
                } else {
                    None
                };
                let (sid, signature) = if let Some((name, rrtype)) = &dns {
                    explain["dns_query"] = json!(name);
                    explain["dns_rrtype"] = json!(rrtype);
                    (
                        sid::DNS_LEAK,
                        "PICKET VPN leak: DNS query left the uplink outside the tunnel",
                    )
                } else if matches!(v.dst_port, Some(53) | Some(853)) {
                    (
                        sid::DNS_LEAK,
                        "PICKET VPN leak: DNS traffic left the uplink outside the tunnel",
                    )
                } else {
                    (
                        sid::LEAK,
                        "PICKET VPN leak: packet left the uplink outside the tunnel",
                    )
                };
                let port = v.dst_port.or(v.icmp_type.map(u16::from));
                (
                    (Some(v.dst), u16::from(v.proto), port),
                    cause,
                    explain,
                    sid,
                    signature,
                )
            }
            Frame::Arp | Frame::Other { .. } => {
                let (ethertype, error) = match &frame {
                    Frame::Other { ethertype, error } => (*ethertype, *error),
                    _ => (Some(0x0806), None),
                };
                if error.is_some() {
                    self.counters.undecodable += 1;
                }
                let explain = json!({
                    "kind": "vpn_leak",
                    "interface": self.interface,
                    "packet_bytes": data.len(),
                    "ethertype": ethertype.map(|t| format!("0x{t:04x}")),
                    "decode_error": error,
                });
                (
                    (None, 0x1_00 | ethertype.unwrap_or(0) & 0xff, ethertype),
                    Event::new(ts, "alert"),
                    explain,
                    sid::NON_IP_LEAK,
                    "PICKET VPN leak: non-IP or undecodable frame left the uplink",
                )
            }
        };
        self.counters.leaks += 1;
        let (verdict, full) = self
            .dedup
            .check(ts.as_micros(), key, (None, u16::MAX, None));
        if full {
            self.counters.keys_full += 1;
        }
        let suppressed = match verdict {
            DedupVerdict::Suppress => {
                self.counters.suppressed += 1;
                return None;
            }
            DedupVerdict::Alert { suppressed } => suppressed,
        };
        self.counters.alerts += 1;
        cause.host = self.host.clone();
        let mut explain = explain;
        explain["suppressed_since_last_alert"] = json!(suppressed);
        explain["interval_secs"] = json!(self.config.interval_secs);
        explain["endpoints"] = Value::Array(
            self.config
                .endpoints
                .iter()
                .map(|e| json!(e.to_string()))
                .collect(),
        );
        if full {
            explain["dedup_overflow"] = json!(true);
        }
        Some(netwatch_alert(
            &cause,
            sid,
            signature,
            "Policy Violation",
            12,
            &["netwatch", "vpn_leak"],
            explain,
        ))
    }
}

type BypassKey = (IpAddr, IpAddr, u8, u16);

/// Alerts on DNS from clients to anything but the guard.
#[derive(Debug)]
pub struct BypassWatch {
    guards: Vec<IpAddr>,
    ports: Vec<u16>,
    interface: String,
    dedup: Dedup<BypassKey>,
    /// Packets seen, DNS packets to the guard, bypass packets, alerts raised.
    pub counters: BypassCounters,
    host: Option<String>,
}

/// What the bypass watcher counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BypassCounters {
    pub packets: u64,
    pub to_guard: u64,
    pub bypass: u64,
    pub alerts: u64,
    pub suppressed: u64,
}

impl BypassWatch {
    /// `guards`: the guard's own addresses; DNS to any other address is a bypass.
    pub fn new(guards: Vec<IpAddr>, interface: &str, interval_secs: u32) -> Self {
        BypassWatch {
            guards,
            ports: vec![53, 853],
            interface: interface.to_string(),
            dedup: Dedup::new(interval_secs.max(1), 4096),
            counters: BypassCounters::default(),
            host: None,
        }
    }

    pub fn set_host(&mut self, host: Option<String>) {
        self.host = host;
    }

    /// Judge one packet that arrived from a client.
    pub fn observe(&mut self, ts: Timestamp, link_type: u32, data: &[u8]) -> Option<Event> {
        self.counters.packets += 1;
        let Frame::Ip(v) = view(link_type, data) else {
            return None;
        };
        if v.proto != PROTO_UDP && v.proto != PROTO_TCP {
            return None;
        }
        let port = v.dst_port?;
        if !self.ports.contains(&port) {
            return None;
        }
        if self.guards.contains(&v.dst) {
            self.counters.to_guard += 1;
            return None;
        }
        self.counters.bypass += 1;
        let overflow = (v.src, v.src, 0, 0);
        let (verdict, _) =
            self.dedup
                .check(ts.as_micros(), (v.src, v.dst, v.proto, port), overflow);
        let suppressed = match verdict {
            DedupVerdict::Suppress => {
                self.counters.suppressed += 1;
                return None;
            }
            DedupVerdict::Alert { suppressed } => suppressed,
        };
        self.counters.alerts += 1;
        let mut cause = Event::new(ts, "alert");
        cause.host = self.host.clone();
        cause.endpoints.src_ip = Some(v.src.to_string());
        cause.endpoints.src_port = v.src_port;
        cause.endpoints.dest_ip = Some(v.dst.to_string());
        cause.endpoints.dest_port = Some(port);
        cause.endpoints.proto = Some(proto_name(v.proto));
        let mut explain = json!({
            "kind": "dns_bypass",
            "interface": self.interface,
            "guard": self.guards.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
            "suppressed_since_last_alert": suppressed,
        });
        if let Some((name, rrtype)) = dns_question(&v) {
            explain["dns_query"] = json!(name);
            explain["dns_rrtype"] = json!(rrtype);
        }
        if port == 853 {
            explain["dot"] = json!(true);
        }
        Some(netwatch_alert(
            &cause,
            crate::dns::sid::BYPASS,
            "PICKET DNS query bypassed the guard",
            "Policy Violation",
            10,
            &["netwatch", "dns", "dns_bypass"],
            explain,
        ))
    }
}

fn netwatch_alert(
    cause: &Event,
    signature_id: u64,
    signature: &str,
    category: &str,
    level: u8,
    groups: &[&str],
    explain: Value,
) -> Event {
    let mut event = Alert {
        engine: "netwatch".into(),
        signature_id,
        rev: 1,
        signature: signature.into(),
        category: category.into(),
        severity: Alert::severity_from_level(level),
        level: Some(level),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        mitre: Vec::new(),
    }
    .into_event(cause);
    event.picket.insert("netwatch".into(), explain);
    event
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Ethernet + IPv4 + UDP (checksums zero: the decoder does not check them).
    fn udp4(dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&[192, 0, 2, 1]);
        f.extend_from_slice(&dst);
        let ulen = (8 + payload.len()) as u16;
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&ulen.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
    }

    /// Ethernet + IPv6 + UDP.
    fn udp6(dst: [u8; 16], dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd]);
        let plen = (8 + payload.len()) as u16;
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[17, 64]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
    }

    fn monitor() -> LeakMonitor {
        let config =
            LeakConfig::from_toml("endpoints = [\"198.51.100.7:51820/udp\"]\ninterval_secs = 10\n")
                .unwrap();
        LeakMonitor::new(config, "eth0")
    }

    #[test]
    fn tunnel_traffic_is_quiet() {
        let mut m = monitor();
        let f = udp4([198, 51, 100, 7], 40000, 51820, b"wireguard");
        assert!(m.observe(Timestamp::from_secs(1), 1, &f).is_none());
        assert_eq!(m.counters().tunnel, 1);
        // The same address on another port is not the tunnel.
        let f = udp4([198, 51, 100, 7], 40000, 51821, b"x");
        assert!(m.observe(Timestamp::from_secs(1), 1, &f).is_some());
    }

    #[test]
    fn dns_leak_names_the_query_and_dedups_per_key() {
        let mut m = monitor();
        let q = crate::dns::wire::query(7, "secret.example.org", 1);
        let f = udp4([9, 9, 9, 9], 40000, 53, &q);
        let a = m.observe(Timestamp::from_secs(1), 1, &f).unwrap();
        assert_eq!(a.body["signature_id"], sid::DNS_LEAK);
        assert_eq!(a.picket["netwatch"]["dns_query"], "secret.example.org");
        assert_eq!(a.endpoints.dest_ip.as_deref(), Some("9.9.9.9"));
        assert_eq!(a.body["severity"], 1);
        for _ in 0..5 {
            assert!(m.observe(Timestamp::from_secs(2), 1, &f).is_none());
        }
        // Another port is another key.
        let other = udp4([9, 9, 9, 9], 40000, 443, b"quic");
        assert!(m.observe(Timestamp::from_secs(2), 1, &other).is_some());
        // After the interval the key alerts again, saying how many were folded in.
        let a = m.observe(Timestamp::from_secs(12), 1, &f).unwrap();
        assert_eq!(a.picket["netwatch"]["suppressed_since_last_alert"], 5);
        assert_eq!(m.counters().suppressed, 5);
    }

    #[test]
    fn ipv6_leaks_and_dhcp_allowance() {
        let mut m = monitor();
        let mut dst = [0u8; 16];
        dst[0] = 0x20;
        dst[1] = 0x01;
        dst[15] = 9;
        let f = udp6(dst, 443, b"x");
        let a = m.observe(Timestamp::from_secs(1), 1, &f).unwrap();
        assert_eq!(a.picket["netwatch"]["ip_version"], 6);
        let dhcp = udp4([255, 255, 255, 255], 68, 67, b"discover");
        assert!(m.observe(Timestamp::from_secs(1), 1, &dhcp).is_none());
        // Garbage that left the interface is still reported.
        let a = m.observe(Timestamp::from_secs(1), 1, &[0xff; 20]).unwrap();
        assert_eq!(a.body["signature_id"], sid::NON_IP_LEAK);
    }

    #[test]
    fn dedup_table_is_bounded() {
        let config = LeakConfig {
            endpoints: vec![],
            max_keys: 8,
            ..LeakConfig::default()
        };
        let mut m = LeakMonitor::new(config, "eth0");
        let mut alerts = 0;
        for i in 0..1000u32 {
            let f = udp4([10, (i >> 8) as u8, i as u8, 1], 1, 443, b"");
            alerts += usize::from(m.observe(Timestamp::from_secs(1), 1, &f).is_some());
        }
        assert!(m.dedup.entries.len() <= 8);
        assert!(alerts < 20, "{alerts}");
        assert!(m.counters().keys_full > 0);
    }

    #[test]
    fn bypass_watch_flags_dns_not_to_the_guard() {
        let mut w = BypassWatch::new(vec!["10.137.0.1".parse().unwrap()], "vif1", 10);
        let q = crate::dns::wire::query(7, "x.example.org", 1);
        assert!(w
            .observe(
                Timestamp::from_secs(1),
                1,
                &udp4([10, 137, 0, 1], 4000, 53, &q)
            )
            .is_none());
        let a = w
            .observe(
                Timestamp::from_secs(1),
                1,
                &udp4([8, 8, 8, 8], 4000, 53, &q),
            )
            .unwrap();
        assert_eq!(a.body["signature_id"], crate::dns::sid::BYPASS);
        assert_eq!(a.picket["netwatch"]["dns_query"], "x.example.org");
        assert!(w
            .observe(
                Timestamp::from_secs(1),
                1,
                &udp4([1, 1, 1, 1], 4000, 853, b"")
            )
            .is_some());
        assert!(w
            .observe(
                Timestamp::from_secs(1),
                1,
                &udp4([1, 1, 1, 1], 4000, 443, b"")
            )
            .is_none());
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            Endpoint::parse("[2001:db8::7]:443/tcp").unwrap().proto,
            PROTO_TCP
        );
        assert!(Endpoint::parse("1.2.3.4:51820/sctp").is_err());
        assert!(LeakConfig::from_toml("endpoint = []").is_err());
    }
}
