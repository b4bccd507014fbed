//! Per-flow HTTP/1.x state: pipelined requests queue up (bounded) and responses pair with them
//! in order. A transaction is logged when its response is complete, or when the flow ends.

use std::collections::VecDeque;

use crate::parse::{append_capped, ParseError};
use crate::{AppEvent, AppParser, Direction, Stage};

use super::logger::http_body;
use super::parser::*;

/// Limits and logging options; the defaults are safe for a sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Bytes of start line plus headers accepted per message.
    pub max_head: usize,
    /// Headers kept per message; the rest are counted and dropped.
    pub max_headers: usize,
    /// Bytes of each body kept for inspection (`http.request_body` / `http.response_body`).
    pub body_limit: usize,
    /// Requests waiting for responses; beyond this the oldest is logged without one.
    /// A passive sensor parses a direction's bytes once they are acknowledged, so a
    /// pipelining client's requests can all be parsed before the first response is;
    /// Suricata's default transaction limit is as high.
    pub max_pending: usize,
    /// Bytes of start lines and headers the waiting transactions may hold together;
    /// beyond this the oldest is logged without its response.
    pub max_pending_bytes: usize,
    /// Log `request_headers` / `response_headers` arrays.
    pub log_headers: bool,
    /// Log the kept body prefixes (base64 and printable), as Suricata does for alerts.
    pub log_bodies: bool,
    /// Logged transactions kept for callers (`recent_transactions`), bodies included.
    pub keep_recent: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_head: 65_536,
            max_headers: 100,
            body_limit: 4_096,
            max_pending: 512,
            max_pending_bytes: 1 << 20,
            log_headers: true,
            log_bodies: false,
            keep_recent: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub line: RequestLine,
    pub head: Head,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub line: StatusLine,
    pub head: Head,
}

/// One request and its response, with body prefixes kept for the rule engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// The transaction's number in its flow, from 0 (EVE's `tx_id`).
    pub id: u64,
    pub request: Option<Request>,
    pub response: Option<Response>,
    /// The first `body_limit` bytes of the (de-chunked) request body.
    pub request_body: Vec<u8>,
    pub request_body_len: u64,
    pub response_body: Vec<u8>,
    pub response_body_len: u64,
    request_done: bool,
    response_done: bool,
    /// The complete request was handed to detection as a [`Stage::Request`] snapshot.
    request_offered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Head,
    Body(Body),
    /// After a gap, an upgrade, CONNECT, or bytes that are not HTTP.
    Stopped,
}

#[derive(Debug, Default)]
struct Side {
    buf: Vec<u8>,
    phase: Phase,
    /// Bytes at the front of `buf` already searched for the end of a head or trailer line,
    /// so input arriving a byte at a time costs linear, not quadratic, time.
    scanned: usize,
}

/// Whether `s` holds an empty line (the end of a head), CRLF or bare LF.
fn may_end_head(s: &[u8]) -> bool {
    s.windows(2).any(|w| w == b"\n\n") || s.windows(3).any(|w| w == b"\n\r\n")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpStats {
    pub transactions: u64,
    pub malformed: u64,
    pub head_too_large: u64,
    pub headers_dropped: u64,
    pub pending_overflow: u64,
    pub gaps: u64,
}

#[derive(Debug, Default)]
pub struct HttpParser {
    cfg: HttpConfig,
    sides: [Side; 2],
    txs: VecDeque<Transaction>,
    /// Head bytes held by `txs`, against `max_pending_bytes`.
    pending_bytes: usize,
    recent: VecDeque<Transaction>,
    /// The id the next transaction gets.
    next_id: u64,
    pub stats: HttpStats,
}

/// Bytes a parsed head holds (start line, header names and values).
fn head_size(head: &Head) -> usize {
    head.start.len()
        + head
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
}

impl Transaction {
    fn head_bytes(&self) -> usize {
        self.request.as_ref().map_or(0, |r| head_size(&r.head))
            + self.response.as_ref().map_or(0, |r| head_size(&r.head))
    }
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl HttpParser {
    pub fn new() -> Self {
        Self::with_config(HttpConfig::default())
    }

    pub fn with_config(cfg: HttpConfig) -> Self {
        HttpParser {
            cfg,
            ..Default::default()
        }
    }

    /// Bytes held in reassembly buffers right now (both directions), for memory accounting.
    pub fn buffered(&self) -> usize {
        self.sides.iter().map(|s| s.buf.len()).sum()
    }

    /// The most recently logged transaction, bodies included.
    pub fn last_transaction(&self) -> Option<&Transaction> {
        self.recent.back()
    }

    /// The last `keep_recent` logged transactions, oldest first.
    pub fn recent_transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.recent.iter()
    }

    fn emit(&mut self, tx: Transaction, out: &mut Vec<AppEvent>) {
        self.stats.transactions += 1;
        let mut event = AppEvent::new("http", http_body(&tx, &self.cfg));
        event.tx_id = Some(tx.id);
        if tx.request_offered {
            event.stage = Stage::Response;
        }
        out.push(event);
        if self.cfg.keep_recent > 0 {
            if self.recent.len() >= self.cfg.keep_recent {
                self.recent.pop_front();
            }
            self.recent.push_back(tx);
        }
    }

    fn body_target(&mut self, d: Direction) -> Option<&mut Transaction> {
        match d {
            Direction::ToServer => self
                .txs
                .iter_mut()
                .rev()
                .find(|t| t.request.is_some() && !t.request_done),
            Direction::ToClient => self
                .txs
                .iter_mut()
                .find(|t| t.response.is_some() && !t.response_done),
        }
    }

    fn add_body(&mut self, d: Direction, data: &[u8]) {
        let limit = self.cfg.body_limit;
        if let Some(t) = self.body_target(d) {
            let (buf, len) = match d {
                Direction::ToServer => (&mut t.request_body, &mut t.request_body_len),
                Direction::ToClient => (&mut t.response_body, &mut t.response_body_len),
            };
            *len += data.len() as u64;
            append_capped(buf, data, limit);
        }
    }

    fn message_done(&mut self, d: Direction, out: &mut Vec<AppEvent>) {
        match d {
            Direction::ToServer => {
                if let Some(t) = self.body_target(d) {
                    t.request_done = true;
                }
            }
            Direction::ToClient => {
                if let Some(pos) = self
                    .txs
                    .iter()
                    .position(|t| t.response.is_some() && !t.response_done)
                {
                    if let Some(mut t) = self.txs.remove(pos) {
                        self.pending_bytes = self.pending_bytes.saturating_sub(t.head_bytes());
                        t.response_done = true;
                        self.emit(t, out);
                    }
                }
            }
        }
    }

    /// Handles one parsed head; returns the body framing that follows it.
    fn head(
        &mut self,
        d: Direction,
        head: Head,
        out: &mut Vec<AppEvent>,
    ) -> Result<Body, ParseError> {
        self.stats.headers_dropped += head.dropped_headers as u64;
        match d {
            Direction::ToServer => {
                let line = parse_request_line(&head.start)?;
                let kind = body_kind(&head, false, None, false);
                let size = head_size(&head);
                while !self.txs.is_empty()
                    && (self.txs.len() >= self.cfg.max_pending
                        || self.pending_bytes + size > self.cfg.max_pending_bytes)
                {
                    self.stats.pending_overflow += 1;
                    if let Some(old) = self.txs.pop_front() {
                        self.pending_bytes = self.pending_bytes.saturating_sub(old.head_bytes());
                        self.emit(old, out);
                    }
                }
                self.pending_bytes += size;
                let id = self.take_id();
                self.txs.push_back(Transaction {
                    id,
                    request: Some(Request { line, head }),
                    ..Default::default()
                });
                Ok(framing(kind))
            }
            Direction::ToClient => {
                let line = parse_status_line(&head.start)?;
                let code = line.code();
                if matches!(code, Some(100..=199)) && code != Some(101) {
                    return Ok(Body::Length(0)); // interim response: the real one follows
                }
                let (head_req, connect) = match self.txs.iter().find(|t| t.response.is_none()) {
                    Some(t) => {
                        let m = t.request.as_ref().map(|r| r.line.method.as_slice());
                        (m == Some(b"HEAD"), m == Some(b"CONNECT"))
                    }
                    None => (false, false),
                };
                let kind = body_kind(&head, true, code, head_req);
                self.pending_bytes += head_size(&head);
                let resp = Response { line, head };
                match self.txs.iter_mut().find(|t| t.response.is_none()) {
                    Some(t) => t.response = Some(resp),
                    None => {
                        let id = self.take_id();
                        self.txs.push_back(Transaction {
                            id,
                            response: Some(resp),
                            request_done: true,
                            ..Default::default()
                        });
                    }
                }
                if code == Some(101) || (connect && matches!(code, Some(200..=299))) {
                    // The connection now carries another protocol.
                    self.message_done(d, out);
                    self.sides[0].phase = Phase::Stopped;
                    self.sides[1].phase = Phase::Stopped;
                    return Err(ParseError::Malformed { what: "tunnel" });
                }
                Ok(framing(kind))
            }
        }
    }

    fn run(&mut self, d: Direction, out: &mut Vec<AppEvent>) -> Result<(), ParseError> {
        let i = idx(d);
        let mut buf = std::mem::take(&mut self.sides[i].buf);
        let mut off = 0;
        let r = loop {
            if self.sides[i].phase == Phase::Stopped {
                break Ok(());
            }
            let rest = &buf[off..];
            let Phase::Body(body) = self.sides[i].phase else {
                if rest.is_empty() {
                    break Ok(());
                }
                // Empty lines between messages are allowed (RFC 9112 section 2.2): drop them
                // now, so a flood of them cannot grow the buffer.
                let blank = rest
                    .iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .count();
                if blank > 0 {
                    off += blank;
                    self.sides[i].scanned = 0;
                    continue;
                }
                let from = self.sides[i].scanned.saturating_sub(2).min(rest.len());
                if rest.len() <= self.cfg.max_head && !may_end_head(&rest[from..]) {
                    self.sides[i].scanned = rest.len();
                    break Ok(());
                }
                match parse_head(rest, self.cfg.max_head, self.cfg.max_headers) {
                    Ok((head, used)) => {
                        self.sides[i].scanned = 0;
                        off += used;
                        match self.head(d, head, out) {
                            Ok(Body::Length(0)) => {
                                if !self.is_interim(d) {
                                    self.message_done(d, out);
                                }
                            }
                            Ok(b) => self.sides[i].phase = Phase::Body(b),
                            Err(e) => break Err(e),
                        }
                    }
                    Err(e) => break Err(e),
                }
                continue;
            };
            match body {
                Body::Length(n) => {
                    let take = (n.min(rest.len() as u64)) as usize;
                    if take == 0 && n > 0 {
                        break Ok(());
                    }
                    self.add_body(d, &rest[..take]);
                    off += take;
                    let left = n - take as u64;
                    if left == 0 {
                        self.sides[i].phase = Phase::Head;
                        self.message_done(d, out);
                    } else {
                        self.sides[i].phase = Phase::Body(Body::Length(left));
                    }
                }
                Body::UntilClose => {
                    self.add_body(d, rest);
                    off = buf.len();
                    break Ok(());
                }
                Body::ChunkSize => match parse_chunk_size(rest) {
                    Ok((0, used)) => {
                        off += used;
                        self.sides[i].phase = Phase::Body(Body::Trailers);
                    }
                    Ok((n, used)) => {
                        off += used;
                        self.sides[i].phase = Phase::Body(Body::ChunkData(n));
                    }
                    Err(e) => break Err(e),
                },
                Body::ChunkData(n) => {
                    let take = (n.min(rest.len() as u64)) as usize;
                    if take == 0 {
                        break Ok(());
                    }
                    self.add_body(d, &rest[..take]);
                    off += take;
                    let left = n - take as u64;
                    self.sides[i].phase = Phase::Body(if left == 0 {
                        Body::ChunkEnd
                    } else {
                        Body::ChunkData(left)
                    });
                }
                Body::ChunkEnd => {
                    // The CRLF after chunk data (tolerating a bare LF).
                    if rest.starts_with(b"\r\n") {
                        off += 2;
                    } else if rest.starts_with(b"\n") {
                        off += 1;
                    } else if rest == b"\r" || rest.is_empty() {
                        break Ok(());
                    } else {
                        break Err(ParseError::Malformed {
                            what: "http chunk terminator",
                        });
                    }
                    self.sides[i].phase = Phase::Body(Body::ChunkSize);
                }
                Body::Trailers => {
                    // Trailer lines until an empty line.
                    let from = self.sides[i].scanned.min(rest.len());
                    let Some(nl) = rest[from..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map(|p| p + from)
                    else {
                        if rest.len() > self.cfg.max_head {
                            break Err(ParseError::Limit {
                                what: "http trailer size",
                            });
                        }
                        self.sides[i].scanned = rest.len();
                        break Ok(());
                    };
                    self.sides[i].scanned = 0;
                    let line = &rest[..nl];
                    off += nl + 1;
                    if line.is_empty() || line == b"\r" {
                        self.sides[i].phase = Phase::Head;
                        self.message_done(d, out);
                    }
                }
            }
        };
        buf.drain(..off.min(buf.len()));
        self.sides[i].buf = buf;
        match r {
            Err(ParseError::Incomplete { .. }) => Ok(()),
            other => other,
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Whether the head just handled on `d` was an interim (1xx) response.
    fn is_interim(&self, d: Direction) -> bool {
        d == Direction::ToClient
            && !self
                .txs
                .iter()
                .any(|t| t.response.is_some() && !t.response_done)
    }
}

fn framing(kind: BodyKind) -> Body {
    match kind {
        BodyKind::None => Body::Length(0),
        BodyKind::Length(n) => Body::Length(n),
        BodyKind::Chunked => Body::ChunkSize,
        BodyKind::UntilClose => Body::UntilClose,
    }
}

impl AppParser for HttpParser {
    fn app_proto(&self) -> &'static str {
        "http"
    }

    fn detect_buffers<'a>(&'a self, tx_id: Option<u64>, out: &mut Vec<(&'static str, &'a [u8])>) {
        let tx = match tx_id {
            // A snapshot's transaction is still pending; a record's was just logged.
            Some(id) => self
                .txs
                .iter()
                .chain(self.recent.iter().rev())
                .find(|t| t.id == id),
            None => self.last_transaction(),
        };
        if let Some(tx) = tx {
            out.push(("http.request_body", &tx.request_body));
            out.push(("http.response_body", &tx.response_body));
            // The reason phrase and the response's own protocol are not in the EVE record,
            // and `http.stat_msg` / `http.response_line` need them.
            if let Some(resp) = &tx.response {
                out.push(("http.stat_msg", &resp.line.reason));
                out.push(("http.response_protocol", &resp.line.protocol));
            }
        }
    }

    fn progress(&mut self, direction: Direction, out: &mut Vec<AppEvent>) {
        // Only the request side is offered early: a response completes its transaction,
        // which is then logged and inspected whole.
        if direction != Direction::ToServer {
            return;
        }
        for t in self.txs.iter_mut() {
            if t.request_offered || !t.request_done || t.request.is_none() {
                continue;
            }
            t.request_offered = true;
            let mut event = AppEvent::new("http", http_body(t, &self.cfg));
            event.stage = Stage::Request;
            event.tx_id = Some(t.id);
            out.push(event);
        }
    }

    fn feed(&mut self, direction: Direction, data: &[u8], out: &mut Vec<AppEvent>) {
        let i = idx(direction);
        if self.sides[i].phase == Phase::Stopped {
            return;
        }
        self.sides[i].buf.extend_from_slice(data);
        match self.run(direction, out) {
            Ok(()) => {}
            Err(e) => {
                match e {
                    ParseError::Limit { .. } => self.stats.head_too_large += 1,
                    ParseError::Malformed { what: "tunnel" } => {}
                    _ => self.stats.malformed += 1,
                }
                self.sides[i].phase = Phase::Stopped;
                self.sides[i].buf = Vec::new();
            }
        }
    }

    fn gap(&mut self, direction: Direction, len: u64) {
        self.stats.gaps += 1;
        let s = &mut self.sides[idx(direction)];
        // A gap inside a body of known length only loses body bytes; anything else loses sync.
        match s.phase {
            Phase::Body(Body::Length(n)) if len < n && s.buf.is_empty() => {
                s.phase = Phase::Body(Body::Length(n - len));
                let t = self.body_target(direction);
                if let Some(t) = t {
                    match direction {
                        Direction::ToServer => t.request_body_len += len,
                        Direction::ToClient => t.response_body_len += len,
                    }
                }
            }
            _ => {
                s.phase = Phase::Stopped;
                s.buf = Vec::new();
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<AppEvent>) {
        while let Some(t) = self.txs.pop_front() {
            self.pending_bytes = self.pending_bytes.saturating_sub(t.head_bytes());
            self.emit(t, out);
        }
    }
}
