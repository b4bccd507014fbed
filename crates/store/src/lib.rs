//! picket-store: the manager's event store, one SQLite file.
//!
//! Events stay EVE JSON in a text column, exactly as the sinks wrote them. The few values that
//! identify a row, drive retention or are filtered on are real columns (`source`, `epoch`,
//! `seq`, `part`, `ts`, `event_type`, and for alerts `rule`, `severity` and `level`, NULL on
//! other rows), written by the store from the same [`Event`] it serialises ([`AlertColumns`]),
//! so inserting never parses JSON. The alert filters use one partial index over alert rows
//! only, in id order with the filter columns in it (appending to it is cheap, see
//! `migrations/0005_one_alert_index.sql`); ordinary events pay for the key and time indexes
//! alone. The schema lives in numbered SQL files under
//! `migrations/`, applied in order, each in its own transaction, with the version kept in
//! `PRAGMA user_version`.
//!
//! **Durability.** The database runs in WAL mode with `synchronous=NORMAL` by default: a
//! commit appends to the WAL with `write()` and returns, and the WAL is synced only at
//! checkpoints. A killed process (`kill -9`, a panic) loses nothing that was committed, and
//! the file never corrupts. A power cut or a killed VM can lose the last commits before the
//! checkpoint, never consistency. `FULL` would sync the WAL on every commit, one fsync per
//! batch; choose [`Durability::Full`] when an acknowledged batch must survive the VM being
//! destroyed (qvm-kill), since the transport acknowledges after the commit.
//!
//! **Idempotence.** A row is keyed by `(source, epoch, seq, part)` ([`Key`]): the
//! authenticated sender, its spool epoch and sequence number, and 0 for the event itself or
//! 1.. for alerts derived from it. Inserts are `INSERT OR IGNORE`, so a resend after a lost
//! acknowledgement is counted as a duplicate and stored once. The transport's own delivery
//! state can be saved in the same transaction ([`Batch::save_delivery`]).
//!
//! The store does not parse or analyse events; `picket-manager` does that and hands it
//! [`Event`]s.

mod data_dir;
mod error;
mod migrations;
mod query;
mod retention;
mod sources;

pub use data_dir::{default_data_dir, DATA_DIR_ENV, DB_FILE_NAME};
pub use error::Error;
pub use migrations::{Migration, MIGRATIONS};
pub use query::{AlertQuery, StoredEvent, DEFAULT_LIMIT};
pub use retention::{Retention, RetentionReport};
pub use sources::SourceSeen;

use picket_event::{EveMode, Event, Timestamp};
use rusqlite::{Connection, OpenFlags, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How hard a commit tries to reach the disk. See the crate notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: safe against a crashed process, not against power loss.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit syncs the WAL.
    Full,
}

/// Settings for opening a store; the defaults suit the manager.
#[derive(Debug, Clone)]
pub struct Options {
    pub durability: Durability,
    /// How long to wait on another connection's lock (a checkpoint, a reader upgrading)
    /// before giving up with `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB.
    pub cache_kib: u32,
    /// Checkpoint on commit once the WAL holds this many pages (0: never). A writer that
    /// has another connection checkpoint for it ([`Store::checkpoint_passive`]) keeps a
    /// larger value here, only as a bound on the WAL should that connection fall behind.
    pub wal_autocheckpoint: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 16 * 1024,
            wal_autocheckpoint: DEFAULT_WAL_AUTOCHECKPOINT,
        }
    }
}

/// Pages in the WAL at which a commit checkpoints by default: 8192 pages (32 MiB) instead of
/// SQLite's 1000, so that the index pages a flood keeps touching are copied to the database
/// once per checkpoint, not once per 4 MiB (measured: a few percent of the manager's ingest
/// CPU). The WAL is truncated back to `journal_size_limit` after each.
pub const DEFAULT_WAL_AUTOCHECKPOINT: u32 = 8192;

/// What a [`Store::checkpoint_passive`] found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Frames in the WAL.
    pub wal_frames: u64,
    /// Of those, frames now copied into the database.
    pub checkpointed: u64,
}

/// An open event store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What identifies a stored row: `(source, epoch, seq, part)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    /// The sender, as the transport authenticated it.
    pub source: &'a str,
    /// The sender's spool epoch (0 when it has none).
    pub epoch: u64,
    /// The sender's sequence number; `None` for records without one, which are never
    /// deduplicated.
    pub seq: Option<u64>,
    /// 0 for the event as received, 1.. for alerts derived from it.
    pub part: u32,
}

impl<'a> Key<'a> {
    /// Event `seq` of `source`, epoch 0, part 0.
    pub fn new(source: &'a str, seq: u64) -> Self {
        Key {
            source,
            epoch: 0,
            seq: Some(seq),
            part: 0,
        }
    }

    /// The same key for part `part` (an alert derived from the event).
    pub fn part(self, part: u32) -> Self {
        Key { part, ..self }
    }
}

/// The alert values the store keeps as columns for filters: the rule (`alert.signature_id`),
/// `alert.severity` and the engine level (`picket.level`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertColumns {
    pub rule: Option<u64>,
    pub severity: Option<u8>,
    pub level: Option<u8>,
}

impl AlertColumns {
    /// The columns of `event` if it is an alert, read from its body and picket fields.
    pub fn of(event: &Event) -> Option<AlertColumns> {
        if event.event_type != "alert" {
            return None;
        }
        let small = |v: Option<&serde_json::Value>| {
            v.and_then(serde_json::Value::as_u64)
                .and_then(|n| u8::try_from(n).ok())
        };
        Some(AlertColumns {
            rule: event
                .body
                .get("signature_id")
                .and_then(serde_json::Value::as_u64),
            severity: small(event.body.get("severity")),
            level: small(event.picket.get("level")),
        })
    }
}

/// The transport's per-source delivery state, kept with the records (it mirrors the
/// transport's receiver state without depending on that crate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryState {
    pub source: String,
    pub epoch: u64,
    /// Highest sequence number stored.
    pub stored: u64,
    pub duplicates: u64,
    pub gaps: u64,
}

/// Rows one [`Batch::insert_rows`] statement writes at most.
pub const ROWS_PER_STATEMENT: usize = 32;

/// One row for [`Batch::insert_rows`]: an event already EVE JSON text, as for
/// [`Batch::insert_eve`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub key: Key<'a>,
    pub timestamp: Timestamp,
    pub event_type: &'a str,
    pub alert: Option<AlertColumns>,
    pub eve: &'a str,
}

/// What one committed batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Rows that were new and are now stored.
    pub inserted: u64,
    /// Rows whose key was already stored, so nothing was written.
    pub duplicates: u64,
}

/// The size of the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSize {
    pub page_size: u64,
    pub pages: u64,
    pub free_pages: u64,
    /// Bytes of the main file plus its WAL on disk.
    pub file_bytes: u64,
}

impl StoreSize {
    /// Bytes in pages that hold data (what retention by size counts).
    pub fn used_bytes(&self) -> u64 {
        self.pages.saturating_sub(self.free_pages) * self.page_size
    }
}

impl Store {
    /// Open or create the store at `path` and bring its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Error> {
        Store::open_with(path, &Options::default())
    }

    /// [`Store::open`] with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: &Options) -> Result<Store, Error> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        configure(&conn, options)?;
        // auto_vacuum only takes effect before the first table exists; incremental mode lets
        // retention hand freed pages back to the file system without a full VACUUM.
        let pages: u64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if pages == 0 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::NoWal { mode });
        }
        migrations::apply(&mut conn)?;
        Ok(Store { conn, path })
    }

    /// Open an existing store for reading only (`picket alerts`). Never migrates: a schema
    /// older or newer than this build knows is an error.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, Error> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(Error::Missing { path });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn, &Options::default())?;
        let found = migrations::version(&conn)?;
        let known = migrations::latest();
        if found != known {
            return Err(Error::SchemaMismatch { found, known });
        }
        Ok(Store { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32, Error> {
        migrations::version(&self.conn)
    }

    /// Start a batch: every insert until [`Batch::commit`] is one transaction.
    pub fn batch(&mut self) -> Result<Batch<'_>, Error> {
        Ok(Batch {
            tx: self.conn.transaction()?,
            buffer: Vec::with_capacity(1024),
            report: BatchReport::default(),
        })
    }

    /// Store `events` from `source` in one transaction; each is `(seq, event)`.
    pub fn insert_events<'e>(
        &mut self,
        source: &str,
        events: impl IntoIterator<Item = (u64, &'e Event)>,
    ) -> Result<BatchReport, Error> {
        let mut batch = self.batch()?;
        for (seq, event) in events {
            batch.insert(Key::new(source, seq), event)?;
        }
        batch.commit()
    }

    /// Page counts and bytes on disk.
    pub fn size(&self) -> Result<StoreSize, Error> {
        let page_size: u64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages: u64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free_pages: u64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let file = |suffix: &str| {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            std::fs::metadata(name).map(|m| m.len()).unwrap_or(0)
        };
        Ok(StoreSize {
            page_size,
            pages,
            free_pages,
            file_bytes: file("") + file("-wal"),
        })
    }

    /// The delivery state saved for every source ([`Batch::save_delivery`]), for the
    /// transport to restore at start.
    pub fn delivery_states(&self) -> Result<Vec<DeliveryState>, Error> {
        let mut statement = self.conn.prepare(
            "SELECT source, epoch, stored, duplicates, gaps FROM delivery ORDER BY source",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(DeliveryState {
                source: r.get(0)?,
                epoch: r.get::<_, i64>(1)? as u64,
                stored: r.get::<_, i64>(2)? as u64,
                duplicates: r.get::<_, i64>(3)? as u64,
                gaps: r.get::<_, i64>(4)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of stored rows (events and alerts).
    pub fn count(&self) -> Result<u64, Error> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?)
    }

    /// Number of stored rows of one `event_type`.
    pub fn count_type(&self, event_type: &str) -> Result<u64, Error> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM events WHERE event_type = ?1",
            [event_type],
            |r| r.get(0),
        )?)
    }

    /// Copy the WAL into the main file and truncate it.
    pub fn checkpoint(&self) -> Result<(), Error> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Copy into the database what of the WAL it can without waiting for anyone (SQLite's
    /// `PASSIVE` mode), leaving the WAL for the writer to restart from its beginning once all
    /// of it is copied. Run on a connection of its own, it takes the checkpoint's reads,
    /// writes and syncs off the writer's thread.
    pub fn checkpoint_passive(&self) -> Result<CheckpointReport, Error> {
        let (wal_frames, checkpointed): (i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(1)?, r.get(2)?))
                })?;
        Ok(CheckpointReport {
            wal_frames: wal_frames.max(0) as u64,
            checkpointed: checkpointed.max(0) as u64,
        })
    }

    /// Refresh the planner's statistics for the alert index, so that it knows how many rows
    /// are alerts when it weighs that index against the time index for a query with both
    /// kinds of filter. Each retention pass calls this.
    pub fn analyze(&self) -> Result<(), Error> {
        self.conn.execute_batch("ANALYZE events_alert;")?;
        Ok(())
    }

    /// `PRAGMA integrity_check`: `Ok(())` or the problems SQLite found.
    pub fn integrity_check(&self) -> Result<(), Error> {
        let mut statement = self.conn.prepare("PRAGMA integrity_check")?;
        let problems: Vec<String> = statement
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        if problems.len() == 1 && problems[0] == "ok" {
            Ok(())
        } else {
            Err(Error::Corrupt {
                problems: problems.join("; "),
            })
        }
    }
}

fn configure(conn: &Connection, options: &Options) -> Result<(), Error> {
    conn.busy_timeout(options.busy_timeout)?;
    let synchronous = match options.durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Keep an idle WAL from staying at its high-water size after a burst.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.pragma_update(None, "wal_autocheckpoint", options.wal_autocheckpoint)?;
    Ok(())
}

/// Inserts that commit together. Dropping a batch without committing rolls it back.
#[derive(Debug)]
pub struct Batch<'s> {
    tx: Transaction<'s>,
    buffer: Vec<u8>,
    report: BatchReport,
}

impl Batch<'_> {
    /// Store one event. Returns whether it was new (false: its key was already stored and
    /// nothing was written).
    pub fn insert(&mut self, key: Key<'_>, event: &Event) -> Result<bool, Error> {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        event.append_eve(EveMode::Extended, &mut buffer);
        let result = match std::str::from_utf8(&buffer) {
            Ok(eve) => self.insert_eve(
                key,
                event.timestamp,
                &event.event_type,
                AlertColumns::of(event),
                eve,
            ),
            Err(_) => Err(Error::Encode("EVE writer produced invalid UTF-8".into())),
        };
        self.buffer = buffer;
        result
    }

    /// Store an event that is already EVE JSON text, with its `timestamp`, `event_type` and,
    /// for an alert, its [`AlertColumns`], as written in it. The text is trusted to be JSON:
    /// the caller wrote it (a malformed row would only be skipped by queries' JSON
    /// functions).
    pub fn insert_eve(
        &mut self,
        key: Key<'_>,
        timestamp: Timestamp,
        event_type: &str,
        alert: Option<AlertColumns>,
        eve: &str,
    ) -> Result<bool, Error> {
        let mut statement = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO events \
             (source, epoch, seq, part, ts, event_type, rule, severity, level, eve) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let alert = alert.unwrap_or_default();
        // Bit patterns keep every u64 distinct in SQLite's signed integers.
        let changed = statement.execute((
            key.source,
            key.epoch as i64,
            key.seq.map(|s| s as i64),
            key.part,
            timestamp.as_micros(),
            event_type,
            alert.rule.map(|r| r as i64),
            alert.severity,
            alert.level,
            eve,
        ))?;
        if changed == 1 {
            self.report.inserted += 1;
            Ok(true)
        } else {
            self.report.duplicates += 1;
            Ok(false)
        }
    }

    /// Store many rows, as [`Batch::insert_eve`] does each, and return how many were new (the
    /// others' keys were already stored). Rows go in
    /// [`ROWS_PER_STATEMENT`] at a time, in order, in one multi-row `INSERT`: a statement per
    /// row opened and closed a cursor on the table and each index, and went through the
    /// statement cache, for every row (measured: about a tenth of the insert CPU). It cannot
    /// tell which rows were duplicates; use [`Batch::insert_eve`] where that matters.
    pub fn insert_rows(&mut self, rows: &[Row<'_>]) -> Result<u64, Error> {
        let mut inserted = 0u64;
        let mut rest = rows;
        while !rest.is_empty() {
            // Power-of-two statement sizes, so that at most a handful of shapes are cached.
            let n = if rest.len() >= ROWS_PER_STATEMENT {
                ROWS_PER_STATEMENT
            } else {
                1 << (usize::BITS - 1 - rest.len().leading_zeros())
            };
            let (chunk, tail) = rest.split_at(n);
            let mut sql = String::with_capacity(140 + n * 24);
            sql.push_str(
                "INSERT OR IGNORE INTO events \
                 (source, epoch, seq, part, ts, event_type, rule, severity, level, eve) VALUES ",
            );
            for i in 0..n {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str("(?,?,?,?,?,?,?,?,?,?)");
            }
            let mut statement = self.tx.prepare_cached(&sql)?;
            for (i, row) in chunk.iter().enumerate() {
                let at = i * 10;
                let alert = row.alert.unwrap_or_default();
                // Bit patterns keep every u64 distinct in SQLite's signed integers.
                statement.raw_bind_parameter(at + 1, row.key.source)?;
                statement.raw_bind_parameter(at + 2, row.key.epoch as i64)?;
                statement.raw_bind_parameter(at + 3, row.key.seq.map(|s| s as i64))?;
                statement.raw_bind_parameter(at + 4, row.key.part)?;
                statement.raw_bind_parameter(at + 5, row.timestamp.as_micros())?;
                statement.raw_bind_parameter(at + 6, row.event_type)?;
                statement.raw_bind_parameter(at + 7, alert.rule.map(|r| r as i64))?;
                statement.raw_bind_parameter(at + 8, alert.severity)?;
                statement.raw_bind_parameter(at + 9, alert.level)?;
                statement.raw_bind_parameter(at + 10, row.eve)?;
            }
            inserted += statement.raw_execute()? as u64;
            rest = tail;
        }
        self.report.inserted += inserted;
        self.report.duplicates += rows.len() as u64 - inserted;
        Ok(inserted)
    }

    /// Save the transport's delivery state for `state.source` with the records it
    /// describes; see [`Store::delivery_states`].
    pub fn save_delivery(&mut self, state: &DeliveryState) -> Result<(), Error> {
        let mut statement = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO delivery (source, epoch, stored, duplicates, gaps) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        statement.execute((
            &state.source,
            state.epoch as i64,
            state.stored as i64,
            state.duplicates as i64,
            state.gaps as i64,
        ))?;
        Ok(())
    }

    /// Record that `source` was heard from at `now` (the manager's clock) with `events` more
    /// events; see [`Store::silent_sources`].
    pub fn saw_source(&mut self, source: &str, now: Timestamp, events: u64) -> Result<(), Error> {
        sources::saw(&self.tx, source, now, events)
    }

    /// What this batch has done so far.
    pub fn report(&self) -> BatchReport {
        self.report
    }

    /// Commit every insert of the batch at once.
    pub fn commit(self) -> Result<BatchReport, Error> {
        self.tx.commit()?;
        Ok(self.report)
    }
}
