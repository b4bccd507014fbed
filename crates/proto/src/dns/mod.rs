//! DNS over UDP (one message per datagram) and TCP (two-byte length framing), queries and
//! answers, logged as EVE DNS version 3.

pub mod logger;
pub mod parser;
pub mod state;

pub use logger::{dns_body, DnsLogConfig};
pub use parser::{looks_like_dns, parse_message, Message};

/// Whether `buf` is a DNS response (a DNS header with the QR bit set and sane questions).
pub fn looks_like_response(buf: &[u8]) -> bool {
    looks_like_dns(buf) && buf.get(2).is_some_and(|b| b & 0x80 != 0)
}
pub use state::{DnsParser, DnsStats};

#[cfg(test)]
pub(crate) mod tests;
