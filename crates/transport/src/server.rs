//! The manager side: blocking servers, one thread per connection, that hand what they
//! receive to a [`Sink`] and ack only what the sink accepted.
//!
//! Every connection's source comes from outside the payload: dom0 for qrexec, the enrolled
//! certificate for TLS. A framing or protocol error closes that connection (the peer gets
//! an Error frame naming the problem, the sink gets [`Incoming::Closed`] with it) and the
//! accept loops keep serving everyone else.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::delivery::{HelloOutcome, Receiver};
use crate::frame::{Ack, ErrorMsg, Frame, Heartbeat, DEFAULT_MAX_FRAME, VERSION};
use crate::qubes_log::{line_to_event, LineSplitter, OK_REPLY};
use crate::source::{parse_socket_header, Source, SourceError, Via, MAX_SOCKET_HEADER};
use crate::stream::{Duplex, FrameStream, LinkError};
use crate::tls::{Allowlist, Fingerprint};

/// qrexec service name of picket's own protocol.
pub const EVENTS_SERVICE: &str = "picket.Events";
/// qrexec service name of upstream's log protocol.
pub const LOG_SERVICE: &str = "qubes.Log";

/// Something the manager should know about a connection. Flags are alert material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    /// The agent's Hello claimed a different name than the authenticated source. The claim
    /// was ignored.
    ClaimMismatch {
        /// The name inside the payload.
        claimed: String,
    },
    /// The agent's spool epoch changed: its numbering restarted (spool lost or reset).
    EpochChanged {
        /// Previous epoch.
        old: u64,
        /// New epoch.
        new: u64,
    },
    /// Sequence numbers were skipped: records the agent's spool dropped, or lost.
    SequenceGap {
        /// Number of sequence numbers missing.
        missing: u64,
        /// First sequence after the gap.
        resumed_at: u64,
    },
}

/// What a server hands to the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An agent connected and said Hello.
    Hello {
        /// Authenticated source.
        source: Source,
        /// Its claimed name, protocol version and capabilities (informational).
        hello: crate::frame::Hello,
    },
    /// New records (duplicates already removed).
    Records {
        /// Authenticated source.
        source: Source,
        /// Sequence of the first record; `None` for `qubes.Log` lines, which have none.
        first_seq: Option<u64>,
        /// The records (JSON event documents).
        records: Vec<Vec<u8>>,
    },
    /// An agent heartbeat with its counters.
    Heartbeat {
        /// Authenticated source.
        source: Source,
        /// The counters.
        heartbeat: Heartbeat,
    },
    /// Something to alert on.
    Flag {
        /// Authenticated source.
        source: Source,
        /// What happened.
        flag: Flag,
    },
    /// A connection ended; `error` says why if it was not a clean close.
    Closed {
        /// The source, when known.
        source: Option<Source>,
        /// The error, if any.
        error: Option<String>,
    },
}

/// Where the manager takes received items. Return `Ok` for [`Incoming::Records`] only once
/// they are stored: the agent is acked right after, and deletes them from its spool.
pub trait Sink: Send + Sync + 'static {
    /// Takes one item; an error refuses it (records stay in the agent's spool).
    fn accept(&self, item: Incoming) -> Result<(), String>;
}

impl<F> Sink for F
where
    F: Fn(Incoming) -> Result<(), String> + Send + Sync + 'static,
{
    fn accept(&self, item: Incoming) -> Result<(), String> {
        self(item)
    }
}

/// Server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest frame payload accepted (default 1 MiB).
    pub max_frame: u32,
    /// Connections served at once; more are closed at accept (default 256).
    pub max_connections: usize,
    /// A connection silent this long is closed (default 5 minutes; agents heartbeat).
    pub idle_timeout: Duration,
    /// Time allowed for the TLS handshake or the qrexec socket header (default 10 s).
    pub handshake_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_frame: DEFAULT_MAX_FRAME,
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

struct Inner {
    config: ServerConfig,
    receiver: Mutex<Receiver>,
    /// One lock per source with a batch in flight, held across admit, store and ack. Per
    /// source rather than one for all, so that batches of different sources reach the sink
    /// at once (the manager parses, analyses and stores them in a pipeline). An entry is
    /// removed when its last holder leaves, so the map never holds more than the
    /// connections being served.
    in_flight: Mutex<HashMap<Source, Arc<Mutex<()>>>>,
    sink: Box<dyn Sink>,
    active: AtomicUsize,
}

/// The manager's transport server. Cheap to clone; clones share dedup state and sink.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.inner.config)
            .field("active", &self.inner.active.load(Ordering::Relaxed))
            .finish()
    }
}

/// Counts a live connection; releases the slot when dropped.
struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Server {
    /// A server handing items to `sink`.
    pub fn new(config: ServerConfig, sink: impl Sink) -> Self {
        Server {
            inner: Arc::new(Inner {
                config,
                receiver: Mutex::new(Receiver::new()),
                in_flight: Mutex::new(HashMap::new()),
                sink: Box::new(sink),
                active: AtomicUsize::new(0),
            }),
        }
    }

    /// The dedup state, to [`Receiver::restore`] from the store at start and to persist.
    pub fn receiver(&self) -> &Mutex<Receiver> {
        &self.inner.receiver
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    fn try_slot(&self) -> Option<Slot> {
        let prev = self.inner.active.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.inner.clone());
        (prev < self.inner.config.max_connections).then_some(slot)
    }

    fn closed(&self, source: Option<&Source>, result: &Result<(), LinkError>) {
        let _ = self.inner.sink.accept(Incoming::Closed {
            source: source.cloned(),
            error: result.as_ref().err().map(|e| e.to_string()),
        });
    }

    /// An executable qrexec service: the source from `QREXEC_REMOTE_DOMAIN`, picket's
    /// protocol on stdin/stdout.
    pub fn serve_qrexec_stdio(&self) -> Result<(), LinkError> {
        let source = Source::from_qrexec_env().map_err(|e| LinkError::Protocol(e.to_string()))?;
        let io = Duplex {
            reader: io::stdin().lock(),
            writer: io::stdout().lock(),
        };
        self.serve_events(source, io)
    }

    /// An executable `qubes.Log` service on stdin/stdout.
    pub fn serve_qubes_log_stdio(&self) -> Result<(), LinkError> {
        let source = Source::from_qrexec_env().map_err(|e| LinkError::Protocol(e.to_string()))?;
        let io = Duplex {
            reader: io::stdin().lock(),
            writer: io::stdout().lock(),
        };
        self.serve_qubes_log(source, io, &[])
    }

    /// picket's framed protocol on one stream whose source the caller established. Reports
    /// [`Incoming::Closed`] to the sink when the stream ends.
    pub fn serve_events<S: Read + Write>(&self, source: Source, io: S) -> Result<(), LinkError> {
        self.serve_events_prefixed(source, io, &[])
    }

    fn serve_events_prefixed<S: Read + Write>(
        &self,
        source: Source,
        io: S,
        prefix: &[u8],
    ) -> Result<(), LinkError> {
        let mut stream = FrameStream::with_prefix(io, self.inner.config.max_frame, prefix);
        let result = self.events_session(&source, &mut stream);
        if let Err(e) = &result {
            let code = match e {
                LinkError::Frame(_) | LinkError::TruncatedFrame { .. } => "frame",
                LinkError::Sink(_) => "store",
                _ => "protocol",
            };
            let _ = stream.write_frame(&Frame::Error(ErrorMsg {
                code: code.into(),
                message: e.to_string(),
            }));
        }
        self.closed(Some(&source), &result);
        result
    }

    fn accept(&self, item: Incoming) -> Result<(), LinkError> {
        self.inner.sink.accept(item).map_err(LinkError::Sink)
    }

    fn events_session<S: Read + Write>(
        &self,
        source: &Source,
        stream: &mut FrameStream<S>,
    ) -> Result<(), LinkError> {
        let hello = match stream.read_frame()? {
            None => return Ok(()),
            Some(Frame::Hello(h)) => h,
            Some(other) => {
                return Err(LinkError::Protocol(format!(
                    "expected Hello first, got frame type {}",
                    other.kind()
                )))
            }
        };
        if hello.agent != source.name {
            self.accept(Incoming::Flag {
                source: source.clone(),
                flag: Flag::ClaimMismatch {
                    claimed: hello.agent.clone(),
                },
            })?;
        }
        let outcome = self
            .inner
            .receiver
            .lock()
            .map_err(|_| LinkError::Sink("receiver lock poisoned".into()))?
            .hello(source, hello.epoch);
        let ack = match outcome {
            HelloOutcome::Resume { ack } => ack,
            HelloOutcome::EpochChanged { old, new } => {
                self.accept(Incoming::Flag {
                    source: source.clone(),
                    flag: Flag::EpochChanged { old, new },
                })?;
                0
            }
        };
        let agent_version = hello.protocol;
        self.accept(Incoming::Hello {
            source: source.clone(),
            hello,
        })?;
        if agent_version < u32::from(VERSION) {
            return Err(LinkError::Protocol(format!(
                "agent speaks protocol {agent_version}, this manager needs {VERSION}"
            )));
        }
        stream.write_frame(&Frame::Ack(Ack { seq: ack }))?;
        while let Some(frame) = stream.read_frame()? {
            match frame {
                Frame::Batch(batch) => {
                    let ack = self.store_batch(source, batch)?;
                    stream.write_frame(&Frame::Ack(Ack { seq: ack }))?;
                }
                Frame::Heartbeat(heartbeat) => self.accept(Incoming::Heartbeat {
                    source: source.clone(),
                    heartbeat,
                })?,
                Frame::Error(e) => {
                    return Err(LinkError::Peer {
                        code: e.code,
                        message: e.message,
                    })
                }
                Frame::Hello(_) => return Err(LinkError::Protocol("second Hello".into())),
                Frame::Ack(_) | Frame::Unknown { .. } => {}
            }
        }
        Ok(())
    }

    fn store_batch(&self, source: &Source, batch: crate::frame::Batch) -> Result<u64, LinkError> {
        // One lock per source across admit, store and ack, so a reconnecting agent's two
        // connections cannot both store the same records; other sources go on meanwhile.
        let poisoned = || LinkError::Sink("receiver lock poisoned".into());
        let lock = {
            let mut in_flight = self.inner.in_flight.lock().map_err(|_| poisoned())?;
            in_flight.entry(source.clone()).or_default().clone()
        };
        let result = {
            let _guard = lock.lock().map_err(|_| poisoned())?;
            self.store_batch_locked(source, batch)
        };
        if let Ok(mut in_flight) = self.inner.in_flight.lock() {
            // Two references left (the map's and `lock`): nobody else waits on it.
            if Arc::strong_count(&lock) == 2 {
                in_flight.remove(source);
            }
        }
        result
    }

    fn store_batch_locked(
        &self,
        source: &Source,
        batch: crate::frame::Batch,
    ) -> Result<u64, LinkError> {
        let receiver = || {
            self.inner
                .receiver
                .lock()
                .map_err(|_| LinkError::Sink("receiver lock poisoned".into()))
        };
        let len = batch.records.len();
        if len == 0 {
            return Ok(receiver()?.state(source).map_or(0, |s| s.stored));
        }
        let admission = receiver()?.admit(source, batch.first_seq, len);
        if admission.all_duplicate(len) {
            return Ok(receiver()?.stored(source, 0));
        }
        let first = batch.first_seq + admission.skip as u64;
        if admission.gap > 0 {
            self.accept(Incoming::Flag {
                source: source.clone(),
                flag: Flag::SequenceGap {
                    missing: admission.gap,
                    resumed_at: first,
                },
            })?;
        }
        let last = batch.last_seq();
        let mut records = batch.records;
        records.drain(..admission.skip);
        self.accept(Incoming::Records {
            source: source.clone(),
            first_seq: Some(first),
            records,
        })?;
        Ok(receiver()?.stored(source, last))
    }

    /// Upstream's `qubes.Log` line protocol on one stream: each line becomes a log event,
    /// answered with `OK\n` once the sink took it.
    pub fn serve_qubes_log<S: Read + Write>(
        &self,
        source: Source,
        mut io: S,
        prefix: &[u8],
    ) -> Result<(), LinkError> {
        let result = self.qubes_log_session(&source, &mut io, prefix);
        self.closed(Some(&source), &result);
        result
    }

    fn qubes_log_session<S: Read + Write>(
        &self,
        source: &Source,
        io: &mut S,
        prefix: &[u8],
    ) -> Result<(), LinkError> {
        let mut splitter = LineSplitter::new();
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        splitter.push(prefix, &mut lines);
        loop {
            if !lines.is_empty() {
                let records = lines
                    .drain(..)
                    .map(|l| serde_json::to_vec(&line_to_event(&l)).unwrap_or_default())
                    .collect::<Vec<_>>();
                let n = records.len();
                self.accept(Incoming::Records {
                    source: source.clone(),
                    first_seq: None,
                    records,
                })?;
                for _ in 0..n {
                    io.write_all(OK_REPLY)?;
                }
                io.flush()?;
            }
            let n = match io.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Ok(());
            }
            splitter.push(&buf[..n], &mut lines);
        }
    }

    /// A qrexec socket service: accepts connections on `listener` (the socket at
    /// `/etc/qubes-rpc/<service>`), reads the `"<service> <source>\0"` header, and serves
    /// `picket.Events` or `qubes.Log` by the service named there. Returns only when
    /// `accept` fails.
    pub fn serve_unix_socket(&self, listener: UnixListener) -> io::Result<()> {
        loop {
            let (conn, _) = listener.accept()?;
            let Some(slot) = self.try_slot() else {
                drop(conn);
                continue;
            };
            let server = self.clone();
            std::thread::spawn(move || {
                let _slot = slot;
                let _ = server.serve_unix_conn(conn);
            });
        }
    }

    /// Serves one connection of a qrexec socket service.
    pub fn serve_unix_conn(&self, mut conn: UnixStream) -> Result<(), LinkError> {
        conn.set_read_timeout(Some(self.inner.config.handshake_timeout))?;
        let (header, rest) = match read_socket_header(&mut conn) {
            Ok(v) => v,
            Err(e) => {
                let result = Err(e);
                self.closed(None, &result);
                return result;
            }
        };
        conn.set_read_timeout(Some(self.inner.config.idle_timeout))?;
        conn.set_write_timeout(Some(self.inner.config.idle_timeout))?;
        match header.base_service() {
            EVENTS_SERVICE => self.serve_events_prefixed(header.source, conn, &rest),
            LOG_SERVICE => self.serve_qubes_log(header.source, conn, &rest),
            other => {
                let result = Err(LinkError::Protocol(format!(
                    "unknown qrexec service {other:?}"
                )));
                self.closed(Some(&header.source), &result);
                result
            }
        }
    }

    /// TCP with mutual TLS. Only clients whose certificate fingerprint is in `allowlist`
    /// complete the handshake; their source is the name the allowlist gives them.
    /// Returns only when `accept` fails.
    pub fn serve_tls(
        &self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        allowlist: Arc<Allowlist>,
    ) -> io::Result<()> {
        loop {
            let (conn, _) = listener.accept()?;
            let Some(slot) = self.try_slot() else {
                drop(conn);
                continue;
            };
            let server = self.clone();
            let tls = tls.clone();
            let allowlist = allowlist.clone();
            std::thread::spawn(move || {
                let _slot = slot;
                let _ = server.serve_tls_conn(conn, tls, &allowlist);
            });
        }
    }

    /// Serves one accepted TCP connection with mutual TLS.
    pub fn serve_tls_conn(
        &self,
        mut tcp: TcpStream,
        tls: Arc<rustls::ServerConfig>,
        allowlist: &Allowlist,
    ) -> Result<(), LinkError> {
        let result = (|| {
            tcp.set_read_timeout(Some(self.inner.config.handshake_timeout))?;
            tcp.set_write_timeout(Some(self.inner.config.handshake_timeout))?;
            tcp.set_nodelay(true)?;
            let mut conn = rustls::ServerConnection::new(tls)?;
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp)?;
            }
            let fp = conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Fingerprint::of(c.as_ref()))
                .ok_or_else(|| LinkError::Protocol("no client certificate".into()))?;
            let name = allowlist
                .lookup(&fp)
                .ok_or_else(|| LinkError::Protocol(format!("certificate {fp} not enrolled")))?;
            let source =
                Source::new(&name, Via::Tls).map_err(|e| LinkError::Protocol(e.to_string()))?;
            tcp.set_read_timeout(Some(self.inner.config.idle_timeout))?;
            tcp.set_write_timeout(Some(self.inner.config.idle_timeout))?;
            Ok((source, rustls::StreamOwned::new(conn, tcp)))
        })();
        match result {
            Ok((source, stream)) => self.serve_events(source, stream),
            Err(e) => {
                let result = Err(e);
                self.closed(None, &result);
                result
            }
        }
    }
}

fn read_socket_header(
    conn: &mut UnixStream,
) -> Result<(crate::source::SocketHeader, Vec<u8>), LinkError> {
    let mut buf = Vec::with_capacity(MAX_SOCKET_HEADER);
    let mut chunk = [0u8; MAX_SOCKET_HEADER];
    loop {
        match parse_socket_header(&buf) {
            Ok(Some((header, used))) => return Ok((header, buf[used..].to_vec())),
            Ok(None) => {}
            Err(e) => return Err(LinkError::Protocol(e.to_string())),
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(LinkError::Protocol(
                SourceError::BadHeader(String::from_utf8_lossy(&buf).into_owned()).to_string(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
