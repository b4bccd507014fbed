//! picket-transport: how events get from agents to the manager without being lost or forged.
//!
//! # Layers
//! - [`frame`] — the **sans-IO** wire format: `PCKT`, a version byte, a type byte, a length
//!   and a payload capped at a configurable maximum (1 MiB by default). Hello, Batch, Ack,
//!   Heartbeat and Error frames; unknown frame types and unknown JSON fields are skipped, so
//!   either side can grow. The [`frame::Decoder`] takes byte chunks of any size and returns
//!   a frame, "need more", or an error naming what was wrong and at which stream offset.
//!   It never panics (fuzz target `transport_frame`, property tests in `tests/`).
//! - [`delivery`] — **sans-IO** at-least-once delivery: the agent's [`delivery::Sender`]
//!   resends everything after the last ack; the manager's [`delivery::Receiver`] drops
//!   records it already stored, keyed by (source, sequence number).
//! - [`spool`] — the agent's bounded on-disk queue (I/O). Records survive `kill -9`, acked
//!   segments are deleted, and when full it drops the oldest or the newest records by policy
//!   and **counts** them; the count travels in every heartbeat.
//! - [`server`] and [`client`] — blocking adapters, one thread per connection (agents are
//!   few and the protocol is request/response, so no async runtime is needed):
//!   qrexec executable service (`QREXEC_REMOTE_DOMAIN`), qrexec socket service (the
//!   `"<service> <source>\0"` header, dispatching `picket.Events` and upstream `qubes.Log`),
//!   and TCP with mutual TLS ([`tls`]: pinned self-signed certificates, an allowlist, and
//!   `picket enroll`).
//!
//! # Identity
//! The [`source::Source`] of every record comes from outside the payload: dom0's qrexec
//! (environment or socket header) or the enrolled certificate. The name an agent claims in
//! its Hello is never used; when it differs, the server reports
//! [`server::Flag::ClaimMismatch`] so the manager can alert.
//!
//! # Example: an agent draining its spool into a manager
//! ```
//! use std::os::unix::net::UnixStream;
//! use picket_transport::client::{ClientConfig, Link};
//! use picket_transport::server::{Incoming, Server, ServerConfig};
//! use picket_transport::source::{Source, Via};
//! use picket_transport::spool::{Spool, SpoolConfig};
//!
//! // Manager: the sink must return Ok only once the records are stored; the agent is
//! // acked right after and deletes them from its spool.
//! let (tx, rx) = std::sync::mpsc::channel();
//! let server = Server::new(ServerConfig::default(), move |item: Incoming| {
//!     tx.send(item).map_err(|e| e.to_string())
//! });
//! // In production: server.serve_qrexec_stdio(), server.serve_unix_socket(listener) or
//! // server.serve_tls(listener, tls_config, allowlist). Here, a socket pair:
//! let (agent_end, manager_end) = UnixStream::pair()?;
//! let srv = server.clone();
//! let manager = std::thread::spawn(move || {
//!     srv.serve_events(Source::new("work", Via::Local).expect("valid name"), manager_end)
//! });
//!
//! // Agent: sources append to the spool; the link drains it.
//! let dir = tempfile::tempdir()?;
//! let mut spool = Spool::open(dir.path(), SpoolConfig::default())?;
//! spool.append(br#"{"event_type":"log","log":{"message":"hello"}}"#)?;
//! let mut link = Link::handshake(agent_end, &mut spool, ClientConfig::new("work"))?;
//! link.drain(&mut spool)?;
//! assert_eq!(spool.acked(), 1);
//! drop(link);
//! manager.join().expect("manager thread")?;
//!
//! let records: Vec<_> = rx.try_iter().filter_map(|i| match i {
//!     Incoming::Records { source, records, .. } => Some((source.name, records.len())),
//!     _ => None,
//! }).collect();
//! assert_eq!(records, vec![("work".to_string(), 1)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Over qrexec the agent uses [`client::QrexecClient::spawn`] with
//! [`client::QrexecClient::command`]`("sys-picket")`; over TCP,
//! [`client::TlsClient::connect`] with the identity and manager pin written by
//! `picket enroll`. [`client::Link::run`] drains a spool shared with the agent's sources
//! until stopped, heartbeating; on an error the caller reconnects and nothing is lost.
//!
//! # What the manager must persist
//! For "no acked event lost, none stored twice" across a manager crash, store each source's
//! [`delivery::SourceState`] (`server.receiver()`) in the same transaction as its records and
//! [`delivery::Receiver::restore`] it at start. `testpeer/main.rs` shows this with a flat
//! file; `tests/qrexec_processes.rs` SIGKILLs it mid-stream.
pub mod client;
pub mod delivery;
pub mod frame;
pub mod qubes_log;
pub mod server;
pub mod source;
pub mod spool;
pub mod stream;
pub mod tls;
