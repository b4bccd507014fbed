//! picket-manager: what the manager does with a batch once the transport has authenticated
//! its sender.
//!
//! [`Ingest`] takes a source name and a batch of [`Event`]s, stores every event, runs the
//! log events (and file-integrity changes, rendered as the log line the default ruleset
//! decodes) through a host-engine [`Session`] kept per source, and stores each resulting
//! alert as an EVE `alert` event next to its cause, all in one transaction. Correlation
//! never mixes sources because each has its own session; the number of sessions is bounded
//! and the least recently used is dropped (and counted) when a new source needs room.
//!
//! An event whose key was already stored (a resend after a lost acknowledgement) is not
//! analysed again, so resends neither duplicate alerts nor inflate frequency rules.
//!
//! A `honeytoken` event raises the manager's own alert ([`RULE_HONEYTOKEN`], level 12)
//! without going through the host engine: any open of a token is the alarm.
//!
//! [`Ingest::analyse`] and [`store_analysed`] are the same work split in two, so that the
//! rules run on one core while SQLite writes on another.
//!
//! This crate does no network I/O: the transport hands it batches, and `picket-store`
//! owns the SQLite file.

mod ingest;

pub use ingest::{
    analysed_line, honeytoken_alert, store_analysed, Analysed, AnalysedRow, Error, Ingest,
    IngestConfig, IngestCounters, IngestReport, Sequenced, RULE_HONEYTOKEN,
};
