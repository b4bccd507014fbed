//! TLS over TCP: record and handshake reassembly (bounded), ClientHello, ServerHello and the
//! server certificate, with JA3, JA3S and JA4 (and JA4S under the `ja4plus` feature).

pub mod fingerprint;
pub mod logger;
pub mod parser;
pub mod state;
pub mod x509;

pub use fingerprint::{ja3_string, ja3s_string, ja4, Ja4};
pub use parser::{looks_like_tls, ClientHello, ServerHello};
pub use state::{Handshake, TlsParser, TlsStats};

#[cfg(test)]
pub(crate) mod tests;
