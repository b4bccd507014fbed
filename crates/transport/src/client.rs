//! The agent side: drains the spool over a connection, one blocking thread.
//!
//! The conversation is strictly request/response (every Batch is answered by an Ack), so
//! one thread can write up to a window of batches and then block reading acks without a
//! deadlock, over pipes (qrexec) as over TLS.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::delivery::Sender;
use crate::frame::{
    Batch, Frame, Heartbeat, Hello, BATCH_OVERHEAD, DEFAULT_MAX_FRAME, RECORD_OVERHEAD, VERSION,
};
use crate::spool::Spool;
use crate::stream::{Duplex, FrameStream, LinkError};
use crate::tls::{self, Fingerprint, Identity};

/// Agent-side settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The name the agent claims in Hello (informational; the manager uses dom0's or the
    /// certificate's).
    pub agent_name: String,
    /// Largest frame payload sent or accepted (default 1 MiB; must match the manager's).
    pub max_frame: u32,
    /// Most records in one batch (default 512).
    pub batch_records: usize,
    /// Most unacked records in flight (default 4096).
    pub window: u64,
    /// Heartbeat period in [`Link::run`] (default 30 s).
    pub heartbeat_every: Duration,
    /// How long [`Link::run`] sleeps when the spool is drained (default 50 ms).
    pub idle_poll: Duration,
}

impl ClientConfig {
    /// Defaults for an agent claiming `agent_name`.
    pub fn new(agent_name: impl Into<String>) -> Self {
        ClientConfig {
            agent_name: agent_name.into(),
            max_frame: DEFAULT_MAX_FRAME,
            batch_records: 512,
            window: 4096,
            heartbeat_every: Duration::from_secs(30),
            idle_poll: Duration::from_millis(50),
        }
    }
}

/// What one [`Link::pump`] step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pump {
    /// Sent or got acks; call again.
    Progress,
    /// Everything in the spool is acked.
    Idle,
}

/// One live connection to the manager.
#[derive(Debug)]
pub struct Link<S: Read + Write> {
    stream: FrameStream<S>,
    sender: Sender,
    config: ClientConfig,
    extra_counters: Vec<(String, u64)>,
}

impl<S: Read + Write> Link<S> {
    /// Says Hello over `io` and reads the manager's first Ack (what it already holds).
    pub fn handshake(io: S, spool: &mut Spool, config: ClientConfig) -> Result<Self, LinkError> {
        let mut stream = FrameStream::new(io, config.max_frame);
        stream.write_frame(&Frame::Hello(Hello {
            agent: config.agent_name.clone(),
            protocol: u32::from(VERSION),
            capabilities: vec!["batch".into(), "heartbeat".into()],
            epoch: spool.epoch(),
        }))?;
        let mut sender = Sender::new(spool.acked(), config.window);
        loop {
            match stream.read_frame()? {
                Some(Frame::Ack(a)) => {
                    sender
                        .peer_has(a.seq, spool.last_seq())
                        .map_err(|e| LinkError::Protocol(e.to_string()))?;
                    spool.ack(sender.acked())?;
                    break;
                }
                Some(Frame::Error(e)) => {
                    return Err(LinkError::Peer {
                        code: e.code,
                        message: e.message,
                    })
                }
                Some(Frame::Unknown { .. }) => continue,
                Some(other) => {
                    return Err(LinkError::Protocol(format!(
                        "expected Ack after Hello, got frame type {}",
                        other.kind()
                    )))
                }
                None => {
                    return Err(LinkError::Protocol(
                        "manager closed the connection after Hello".into(),
                    ))
                }
            }
        }
        Ok(Link {
            stream,
            sender,
            config,
            extra_counters: Vec::new(),
        })
    }

    /// Sends what the window allows, then, if anything is unacked, waits for one ack.
    pub fn pump(&mut self, spool: &mut Spool) -> Result<Pump, LinkError> {
        let budget = self.config.max_frame as usize - BATCH_OVERHEAD;
        let mut sent_any = false;
        while let Some((from, n)) = self.sender.next_range(spool.last_seq()) {
            let n = (n as usize).min(self.config.batch_records);
            let recs = spool.read_from(from, n, budget)?;
            let Some(first) = recs.first().map(|r| r.0) else {
                break;
            };
            let mut size = 0;
            let mut records = Vec::with_capacity(recs.len());
            for (_, body) in recs {
                size += RECORD_OVERHEAD + body.len();
                if size > budget && !records.is_empty() {
                    break;
                }
                records.push(body);
            }
            let batch = Batch {
                first_seq: first,
                records,
            };
            let last = batch.last_seq();
            self.stream.write_frame(&Frame::Batch(batch))?;
            self.sender.sent(first, last);
            sent_any = true;
        }
        if self.sender.in_flight() == 0 {
            return Ok(if sent_any { Pump::Progress } else { Pump::Idle });
        }
        match self.stream.read_frame()? {
            Some(Frame::Ack(a)) => {
                if let Some(acked) = self
                    .sender
                    .on_ack(a.seq)
                    .map_err(|e| LinkError::Protocol(e.to_string()))?
                {
                    spool.ack(acked)?;
                }
                Ok(Pump::Progress)
            }
            Some(Frame::Error(e)) => Err(LinkError::Peer {
                code: e.code,
                message: e.message,
            }),
            Some(_) => Ok(Pump::Progress),
            None => Err(LinkError::Protocol(format!(
                "manager closed the connection with {} records unacked",
                self.sender.in_flight()
            ))),
        }
    }

    /// Pumps until everything in the spool is acked.
    pub fn drain(&mut self, spool: &mut Spool) -> Result<(), LinkError> {
        while self.pump(spool)? == Pump::Progress {}
        Ok(())
    }

    /// Extra counters to put in every heartbeat besides the spool's (for example source
    /// counters of the agent).
    pub fn set_extra_counters(&mut self, counters: Vec<(String, u64)>) {
        self.extra_counters = counters;
    }

    /// Sends a heartbeat with the spool's counters (drops included).
    pub fn heartbeat(&mut self, spool: &Spool) -> Result<(), LinkError> {
        let c = spool.counters();
        let mut hb = Heartbeat::default();
        for (k, v) in [
            ("spool_appended", c.appended),
            ("spool_dropped", c.dropped),
            ("spool_truncated_bytes", c.truncated_bytes),
            ("spool_bytes", c.bytes),
            ("spool_segments", c.segments),
            ("spool_unacked", spool.last_seq() - spool.acked()),
        ] {
            hb.counters.insert(k.into(), v);
        }
        for (k, v) in &self.extra_counters {
            hb.counters.insert(k.clone(), *v);
        }
        self.stream.write_frame(&Frame::Heartbeat(hb))
    }

    /// Drains the spool (shared with the agent's sources) until `stop` is set, heartbeating
    /// periodically. Returns on stop or on the first connection error; the caller
    /// reconnects, and nothing unacked is lost because it is still in the spool.
    pub fn run(&mut self, spool: &Mutex<Spool>, stop: &AtomicBool) -> Result<(), LinkError> {
        let mut last_hb: Option<Instant> = None;
        while !stop.load(Ordering::Acquire) {
            if last_hb.is_none_or(|t| t.elapsed() >= self.config.heartbeat_every) {
                let s = spool
                    .lock()
                    .map_err(|_| LinkError::Protocol("spool lock poisoned".into()))?;
                self.heartbeat(&s)?;
                last_hb = Some(Instant::now());
            }
            let step = {
                let mut s = spool
                    .lock()
                    .map_err(|_| LinkError::Protocol("spool lock poisoned".into()))?;
                self.pump(&mut s)?
            };
            if step == Pump::Idle {
                std::thread::sleep(self.config.idle_poll);
            }
        }
        Ok(())
    }

    /// Records sent but not acked yet.
    pub fn in_flight(&self) -> u64 {
        self.sender.in_flight()
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut S {
        self.stream.get_mut()
    }
}

/// The agent over qrexec: a child process (normally
/// `qrexec-client-vm <manager-qube> picket.Events`) whose stdin/stdout carry the protocol.
#[derive(Debug)]
pub struct QrexecClient {
    child: Child,
    /// The connection.
    pub link: Link<Duplex<ChildStdout, ChildStdin>>,
}

impl QrexecClient {
    /// The usual command: `qrexec-client-vm <target> picket.Events`.
    pub fn command(target: &str) -> Command {
        let mut c = Command::new("qrexec-client-vm");
        c.arg(target).arg(crate::server::EVENTS_SERVICE);
        c
    }

    /// Spawns `command` with piped stdin/stdout and says Hello.
    pub fn spawn(
        mut command: Command,
        spool: &mut Spool,
        config: ClientConfig,
    ) -> Result<Self, LinkError> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (Some(writer), Some(reader)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(LinkError::Protocol("child has no pipes".into()));
        };
        match Link::handshake(Duplex { reader, writer }, spool, config) {
            Ok(link) => Ok(QrexecClient { child, link }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// The child process (to kill it in tests, or read its id).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Closes our end and waits for the child. `qrexec-client-vm` exits 126 when the
    /// policy denied the call, 125 on other failures, 127 when the service is missing.
    pub fn finish(self) -> std::io::Result<std::process::ExitStatus> {
        let QrexecClient { mut child, link } = self;
        drop(link);
        child.wait()
    }
}

/// What a `qrexec-client-vm` exit status means, for the agent's log.
pub fn describe_qrexec_exit(status: std::process::ExitStatus) -> &'static str {
    match status.code() {
        Some(0) => "the service finished",
        Some(126) => "dom0's qrexec policy denied the call",
        Some(127) => "the service does not exist in the target qube",
        Some(125) => "qrexec failed (target qube down or unreachable)",
        Some(_) => "the call failed",
        None => "qrexec-client-vm was killed by a signal",
    }
}

/// The agent over TCP with mutual TLS, pinned to the manager's certificate.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connecting with TLS.
#[derive(Debug)]
pub struct TlsClient;

impl TlsClient {
    /// Connects to `addr`, presents `identity`, accepts only a manager whose certificate
    /// has fingerprint `manager_pin`, and says Hello.
    pub fn connect(
        addr: impl ToSocketAddrs,
        identity: &Identity,
        manager_pin: Fingerprint,
        spool: &mut Spool,
        config: ClientConfig,
        timeout: Duration,
    ) -> Result<Link<TlsStream>, LinkError> {
        let stream = tls::connect(addr, identity, manager_pin, timeout)?;
        Link::handshake(stream, spool, config)
    }
}

/// A [`Spool`] shared between the agent's sources and its link.
pub type SharedSpool = Arc<Mutex<Spool>>;
