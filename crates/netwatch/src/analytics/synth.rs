//! Generated flow records, for tests, the benchmark and the demo: EVE `flow` events shaped as
//! the sensor writes them, and a small deterministic random source.

use picket_event::{Event, Timestamp};
use serde_json::{json, Value};
use std::net::IpAddr;

/// One flow to generate.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// `TCP`, `UDP`, `ICMP`.
    pub proto: &'static str,
    pub start: Timestamp,
    pub duration_us: i64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Zeek's conn_state (`SF`, `S0`, `REJ`...); `None` leaves it out.
    pub conn_state: Option<&'static str>,
}

impl FlowSpec {
    /// A completed TCP connection that sent 1 kB each way and lasted one second.
    pub fn tcp(src: &str, dst: &str, dport: u16, start_s: f64) -> FlowSpec {
        FlowSpec {
            src: parse_ip(src),
            sport: 40_000,
            dst: parse_ip(dst),
            dport,
            proto: "TCP",
            start: Timestamp::from_micros((start_s * 1e6) as i64),
            duration_us: 1_000_000,
            bytes_out: 1000,
            bytes_in: 1000,
            conn_state: Some("SF"),
        }
    }

    pub fn duration_s(mut self, secs: f64) -> Self {
        self.duration_us = (secs * 1e6) as i64;
        self
    }

    pub fn bytes_out(mut self, bytes: u64) -> Self {
        self.bytes_out = bytes;
        self
    }

    pub fn state(mut self, state: &'static str) -> Self {
        self.conn_state = Some(state);
        self
    }

    pub fn sport(mut self, port: u16) -> Self {
        self.sport = port;
        self
    }

    /// The EVE `flow` event for this spec.
    pub fn event(&self) -> Event {
        let end = Timestamp::from_micros(self.start.as_micros() + self.duration_us.max(0));
        let mut e = Event::new(end, "flow");
        e.endpoints.src_ip = Some(self.src.to_string());
        e.endpoints.dest_ip = Some(self.dst.to_string());
        if !self.proto.contains("ICMP") {
            e.endpoints.src_port = Some(self.sport);
            e.endpoints.dest_port = Some(self.dport);
        }
        e.endpoints.proto = Some(self.proto.to_string());
        let pkts = |bytes: u64| bytes.div_ceil(1400).max(1);
        e.body = json!({
            "age": self.duration_us / 1_000_000,
            "bytes_toclient": self.bytes_in,
            "bytes_toserver": self.bytes_out,
            "end": end.to_string(),
            "pkts_toclient": pkts(self.bytes_in),
            "pkts_toserver": pkts(self.bytes_out),
            "reason": "timeout",
            "start": self.start.to_string(),
            "state": "closed",
        });
        if let Some(state) = self.conn_state {
            e.picket.insert("conn_state".into(), Value::from(state));
        }
        e
    }
}

fn parse_ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// A DNS response event saying `name` resolves to `addrs`.
pub fn dns_answer(client: &str, resolver: &str, at_s: f64, name: &str, addrs: &[&str]) -> Event {
    let mut e = Event::new(Timestamp::from_micros((at_s * 1e6) as i64), "dns");
    e.endpoints.src_ip = Some(resolver.to_string());
    e.endpoints.dest_ip = Some(client.to_string());
    e.endpoints.proto = Some("UDP".into());
    let answers: Vec<Value> = addrs
        .iter()
        .map(|a| {
            let rrtype = if a.contains(':') { "AAAA" } else { "A" };
            json!({"rrname": name, "rrtype": rrtype, "ttl": 300, "rdata": a})
        })
        .collect();
    e.body = json!({
        "type": "response", "rcode": "NOERROR",
        "queries": [{"rrname": name, "rrtype": "A"}],
        "answers": answers,
    });
    e
}

/// splitmix64: small, fast and the same on every platform, so a seed names one sequence.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// `n` flow records of mixed traffic from `sources` local hosts to a few thousand remote
/// ones over a simulated span, for the benchmark. The same seed gives the same records.
pub fn mixed_traffic(seed: u64, n: usize, sources: u32) -> impl Iterator<Item = Event> {
    let mut rng = Rng::new(seed);
    let mut t_us: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
    let sources = sources.max(1);
    const PORTS: [u16; 8] = [443, 443, 443, 80, 53, 22, 993, 8080];
    (0..n).map(move |_| {
        t_us += rng.below(200_000) as i64;
        let src = std::net::Ipv4Addr::from(0x0A89_0000 + 2 + rng.below(u64::from(sources)) as u32);
        let dst = std::net::Ipv4Addr::from(0x5DB8_0000 + rng.below(5000) as u32);
        let dport = PORTS[rng.below(PORTS.len() as u64) as usize];
        let spec = FlowSpec {
            src: src.into(),
            sport: 32_768 + rng.below(28_000) as u16,
            dst: dst.into(),
            dport,
            proto: if dport == 53 { "UDP" } else { "TCP" },
            start: Timestamp::from_micros(t_us),
            duration_us: rng.below(120_000_000) as i64,
            bytes_out: rng.below(50_000),
            bytes_in: rng.below(2_000_000),
            conn_state: Some(if rng.below(20) == 0 { "S0" } else { "SF" }),
        };
        spec.event()
    })
}
