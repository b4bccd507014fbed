//! Application-layer parsers, one module per protocol, all of the same shape.
//!
//! The sensor owns flows and reassembly; this crate only ever sees in-order bytes of one
//! direction of one flow (or one datagram at a time for UDP), and returns EVE bodies. Nothing
//! here does I/O, keeps global state, or grows without bound: every parser caps what it keeps
//! per flow.

use serde_json::Value;

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
}
