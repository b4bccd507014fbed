//! HTTP/1.x: request and response lines and headers, pipelining, chunked and length-delimited
//! bodies, with bounded header blocks and body prefixes kept for inspection.

#[cfg(feature = "ja4plus")]
pub mod fingerprint;
pub mod logger;
pub mod parser;
pub mod state;

pub use parser::{looks_like_request, looks_like_response};
pub use state::{HttpConfig, HttpParser, HttpStats, Transaction};

#[cfg(test)]
pub(crate) mod tests;
