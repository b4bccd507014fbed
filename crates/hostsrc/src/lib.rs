//! Host sources for the picket agent.
//!
//! A source turns one part of the host into timestamped [`Event`]s: lines of log files
//! ([`tail`]), journal entries ([`journal`]), file-integrity changes ([`fim`]), honeytoken
//! opens ([`honeytoken`]) and the agent's own [`heartbeat`]. Each lives in its own module
//! behind the one [`Source`] trait, so the agent runs them all the same way: poll, write what
//! came back, then [`Source::checkpoint`]. Because the checkpoint comes after the write, a
//! restart resumes after the last record that was written, never before the last one read.
//!
//! Parsing is kept apart from I/O where there is any to parse: [`journal::parse_entry`] takes
//! one line of `journalctl -o json` and returns a value, and is fuzzed.

pub mod config;
pub mod fim;
pub mod heartbeat;
pub mod honeytoken;
pub mod journal;
pub mod signals;
pub mod state;
pub mod tail;

use picket_event::Event;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What can go wrong in a source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call on a named path failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A state file exists but is not what this version writes.
    #[error("state file {path} is unreadable: {reason}")]
    BadState {
        /// The state file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// `journalctl` could not be started because it is not installed (or not on `PATH`).
    #[error("journald source: `{program}` was not found; install systemd's journalctl or disable the journald source")]
    JournalctlMissing {
        /// The program that was looked for.
        program: String,
    },
    /// `journalctl` ended; the source cannot go on without it.
    #[error("journald source: `journalctl` exited ({status})")]
    JournalctlExited {
        /// Its exit status, as text.
        status: String,
    },
    /// A kernel notification interface (inotify, fanotify) failed to set up.
    #[error("{what}: {source}")]
    Notify {
        /// Which call failed, and on what.
        what: String,
        /// The errno.
        source: nix::errno::Errno,
    },
    /// A configured glob pattern does not parse.
    #[error("ignore pattern {pattern:?}: {reason}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// The parser's complaint.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// One seam for every host source.
pub trait Source: Send {
    /// The source's name, as counted in the heartbeat (`tail`, `journald`, `fim`...).
    fn name(&self) -> &str;

    /// Wait at most `timeout` for records and append any to `out`. Returning with nothing is
    /// normal; an error means the source cannot go on.
    fn poll(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), Error>;

    /// Persist the position after the records returned so far. Call it only once they are
    /// written or handed on.
    fn checkpoint(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// Counters one source shares with the heartbeat. Atomics, so the heartbeat reads them from
/// its own thread without a lock.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records produced.
    pub records: AtomicU64,
    /// Records or data lost (lines cut, events the kernel dropped, truncations).
    pub drops: AtomicU64,
}

impl Counters {
    pub(crate) fn add_records(&self, n: u64) {
        self.records.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_drops(&self, n: u64) {
        self.drops.fetch_add(n, Ordering::Relaxed);
    }
}
