//! Application-layer parsers, one module per protocol, all of the same shape.
//!
//! The sensor owns flows and reassembly; this crate only ever sees in-order bytes of one
//! direction of one flow (or one datagram at a time for UDP), and returns EVE bodies. Nothing
//! here does I/O, keeps global state, or grows without bound: every parser caps what it keeps
//! per flow.
//!
//! Each protocol lives in its own directory with the same four parts: `parser` (pure functions
//! over bytes that return [`ParseError::Incomplete`] rather than failing on partial data),
//! `state` (the per-flow [`AppParser`], with every buffer capped), `logger` (state to the EVE
//! body Suricata 8 would write), and unit tests with real bytes. [`detect`] picks a parser for a
//! new flow from its first payload, falling back to well-known ports.
//!
//! # Where output knowingly differs from Suricata 8
//! - JA4 follows the spec text (`JA4.md`) where FoxIO's code differs: non-alphanumeric ALPN
//!   bytes print as hex first/last characters (`bd`, not `99`), and a hello whose only
//!   extensions are SNI/ALPN gets `000000000000` as its extension hash (Suricata 7 hashes `_`).
//! - IP addresses in `tls.subjectaltname` print dotted (or expanded IPv6); Suricata prints the
//!   raw byte list.
//! - DNS HTTPS/SVCB answers carry an `rdata` in presentation-like form (`1 . alpn=h2,h3`);
//!   Suricata logs no rdata for them.
//! - JA4S and JA4H are only built with the `ja4plus` feature (FoxIO licence 1.1) and are never
//!   logged in EVE, whose schema has no field for them.
//!
//! # Limits
//! Every per-flow buffer has a cap, and each parser's `stats` counts when one was hit: DNS
//! (records per section, name jumps, one TCP frame), TLS (record and handshake sizes, two
//! ClientHellos, the leaf certificate), HTTP ([`http::HttpConfig`]), SSH (line length, lines
//! before the banner, packet size).

use serde_json::Value;

pub mod dns;
pub mod http;
pub mod parse;
pub mod ssh;
pub mod tls;

pub use parse::ParseError;

#[cfg(test)]
mod schema_tests;

/// Which way bytes travel, relative to the side that opened the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

/// The transport a parser runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// One application-layer record, ready to become an EVE event: `event_type` names the EVE
/// object (`dns`, `tls`, `http`, `ssh`) and `body` is that object.
#[derive(Debug, Clone, PartialEq)]
pub struct AppEvent {
    pub event_type: &'static str,
    pub body: Value,
    /// Which part of its transaction detection inspects with this record.
    pub stage: Stage,
    /// The transaction's number in its flow (from 0), for protocols that count them
    /// (HTTP); EVE writes it as the top-level `tx_id`.
    pub tx_id: Option<u64>,
}

impl AppEvent {
    /// A whole record, inspected on both sides and logged.
    pub fn new(event_type: &'static str, body: Value) -> Self {
        AppEvent {
            event_type,
            body,
            stage: Stage::Whole,
            tx_id: None,
        }
    }

    /// Whether the record is written to the log (a [`Stage::Request`] snapshot is not).
    pub fn logged(&self) -> bool {
        self.stage != Stage::Request
    }
}

/// How much of a transaction a record hands to detection. Suricata inspects each
/// direction of a transaction as soon as that direction is complete, so a rule on the
/// request fires when the request is in, not when the response has followed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// The finished transaction: logged, and both sides inspected.
    #[default]
    Whole,
    /// The request side is complete (the body is the transaction so far): inspected on the
    /// request side only, and not logged.
    Request,
    /// The finished transaction whose request side was already inspected as a
    /// [`Stage::Request`]: logged, and only the response side (and rules that span both
    /// sides) inspected.
    Response,
}

/// The one seam between the sensor and every protocol parser.
pub trait AppParser: Send + std::fmt::Debug {
    /// The protocol name as EVE's `app_proto` spells it (`dns`, `tls`, `http`, `ssh`).
    fn app_proto(&self) -> &'static str;
    /// In-order bytes of one direction. For UDP each call is one datagram.
    fn feed(&mut self, direction: Direction, data: &[u8], out: &mut Vec<AppEvent>);
    /// `len` bytes of one direction were lost; the parser resynchronises or stops.
    fn gap(&mut self, _direction: Direction, _len: u64) {}
    /// The flow ended; flush anything still pending (for example a request with no response).
    fn finish(&mut self, _out: &mut Vec<AppEvent>) {}
    /// Malformed input this parser met (Suricata's `app_layer.error.<proto>.parser`).
    fn parse_errors(&self) -> u64 {
        0
    }
    /// Buffers for the rule engine that the EVE body does not carry, as `(buffer name,
    /// bytes)`. For protocols that number transactions (HTTP), those of the record with
    /// `tx_id` (a pending transaction's snapshot, or a recently logged one; nothing when it
    /// is no longer kept), or of the last logged transaction when `tx_id` is `None`.
    fn detect_buffers<'a>(&'a self, _tx_id: Option<u64>, _out: &mut Vec<(&'static str, &'a [u8])>) {
    }
    /// Detection-only snapshots ([`Stage::Request`]) of transactions whose `direction` side
    /// completed since the last call. The sensor asks on each packet travelling in
    /// `direction`, as Suricata inspects a direction's progress on that direction's packets.
    fn progress(&mut self, _direction: Direction, _out: &mut Vec<AppEvent>) {}
    /// Whether `direction` now carries only encrypted application data: a TLS side past its
    /// handshake, an SSH side past its NEWKEYS. Its raw bytes can no longer match a content
    /// rule except by chance, so the sensor may stop inspecting (or tracking) them.
    fn encrypted(&self, _direction: Direction) -> bool {
        false
    }
}

/// Chooses a parser for a new flow: by content first (TLS record header, HTTP method or status
/// line, `SSH-` banner, DNS header shape), then by well-known port. `first_payload` is the first
/// non-empty payload seen in `direction`; it may be empty when only the ports are known.
pub fn detect(
    transport: Transport,
    src_port: u16,
    dst_port: u16,
    direction: Direction,
    first_payload: &[u8],
) -> Option<Box<dyn AppParser>> {
    if let Some(p) = detect_by_content(transport, direction, first_payload) {
        return Some(p);
    }
    // The server port is the destination of to-server traffic and the source of replies.
    let server_port = match direction {
        Direction::ToServer => dst_port,
        Direction::ToClient => src_port,
    };
    detect_by_port(transport, server_port)
}

fn detect_by_content(
    transport: Transport,
    direction: Direction,
    p: &[u8],
) -> Option<Box<dyn AppParser>> {
    if p.is_empty() {
        return None;
    }
    match transport {
        Transport::Udp => {
            if dns::looks_like_dns(p) {
                return Some(Box::new(dns::DnsParser::new(Transport::Udp)));
            }
            None
        }
        Transport::Tcp => {
            let http = match direction {
                Direction::ToServer => http::looks_like_request(p),
                Direction::ToClient => http::looks_like_response(p),
            };
            if http {
                return Some(Box::new(http::HttpParser::new()));
            }
            if p.starts_with(b"SSH-") {
                return Some(Box::new(ssh::SshParser::new()));
            }
            if tls::looks_like_tls(p) {
                return Some(Box::new(tls::TlsParser::new()));
            }
            if let Ok((frame, _)) = dns::state::tcp_frame(p) {
                if dns::looks_like_dns(frame) {
                    return Some(Box::new(dns::DnsParser::new(Transport::Tcp)));
                }
            }
            None
        }
    }
}

fn detect_by_port(transport: Transport, port: u16) -> Option<Box<dyn AppParser>> {
    match (transport, port) {
        (_, 53) | (Transport::Udp, 5353 | 5355) => Some(Box::new(dns::DnsParser::new(transport))),
        (
            Transport::Tcp,
            443 | 465 | 563 | 636 | 853 | 989 | 990 | 992 | 993 | 994 | 995 | 5061 | 8443,
        ) => Some(Box::new(tls::TlsParser::new())),
        (Transport::Tcp, 80 | 81 | 591 | 3128 | 8000 | 8008 | 8080 | 8081 | 8088 | 8888) => {
            Some(Box::new(http::HttpParser::new()))
        }
        (Transport::Tcp, 22 | 2222) => Some(Box::new(ssh::SshParser::new())),
        _ => None,
    }
}
