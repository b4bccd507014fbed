//! Per-flow DNS state: for TCP, the two-byte length framing per direction; for UDP, nothing.

use crate::parse::ParseError;
use crate::{AppEvent, AppParser, Direction, Transport};

use super::logger::dns_body;
use super::parser::parse_message;

/// A DNS-over-TCP frame is at most 65535 bytes plus its length prefix, so this is also the
/// most one direction ever buffers.
const MAX_TCP_BUFFER: usize = 65_537;

/// Counters a caller can read to tell "no events" from "could not parse".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsStats {
    pub messages: u64,
    pub malformed: u64,
    pub gaps: u64,
}

#[derive(Debug)]
pub struct DnsParser {
    transport: Transport,
    /// Pending TCP bytes per direction (index 0 to server, 1 to client).
    pending: [Vec<u8>; 2],
    /// A direction stops after a gap or a broken frame: TCP DNS cannot resynchronise.
    stopped: [bool; 2],
    pub stats: DnsStats,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// Splits one length-prefixed frame off the front of `buf`.
pub fn tcp_frame(buf: &[u8]) -> Result<(&[u8], usize), ParseError> {
    let mut c = crate::parse::Cursor::new(buf);
    let len = c.u16()? as usize;
    let body = c.take(len)?;
    Ok((body, 2 + len))
}

impl DnsParser {
    pub fn new(transport: Transport) -> Self {
        DnsParser {
            transport,
            pending: [Vec::new(), Vec::new()],
            stopped: [false; 2],
            stats: DnsStats::default(),
        }
    }

    fn message(&mut self, msg: &[u8], out: &mut Vec<AppEvent>) -> bool {
        match parse_message(msg) {
            Ok(m) => {
                out.push(AppEvent::new("dns", dns_body(&m, self.stats.messages)));
                self.stats.messages += 1;
                true
            }
            Err(_) => {
                self.stats.malformed += 1;
                false
            }
        }
    }
}

impl AppParser for DnsParser {
    fn app_proto(&self) -> &'static str {
        "dns"
    }

    fn feed(&mut self, direction: Direction, data: &[u8], out: &mut Vec<AppEvent>) {
        if self.transport == Transport::Udp {
            self.message(data, out);
            return;
        }
        let i = idx(direction);
        if self.stopped[i] {
            return;
        }
        let mut buf = std::mem::take(&mut self.pending[i]);
        buf.extend_from_slice(data);
        let mut off = 0;
        while let Ok((msg, used)) = tcp_frame(&buf[off..]) {
            off += used;
            if !self.message(msg, out) {
                self.stopped[i] = true;
                return;
            }
        }
        buf.drain(..off);
        if buf.len() > MAX_TCP_BUFFER {
            self.stopped[i] = true;
            return;
        }
        self.pending[i] = buf;
    }

    fn gap(&mut self, direction: Direction, _len: u64) {
        let i = idx(direction);
        self.stats.gaps += 1;
        self.stopped[i] = true;
        self.pending[i] = Vec::new();
    }
}
