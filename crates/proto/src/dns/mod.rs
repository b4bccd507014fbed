//! DNS over UDP (one message per datagram) and TCP (two-byte length framing), queries and
//! answers, logged as EVE DNS version 3.

pub mod logger;
pub mod parser;
pub mod state;

pub use logger::dns_body;
pub use parser::{looks_like_dns, parse_message, Message};
pub use state::{DnsParser, DnsStats};

#[cfg(test)]
pub(crate) mod tests;
