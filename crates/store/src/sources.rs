//! Last-seen times per source, so that a source gone silent can raise its own alert.

use crate::{Error, Store};
use picket_event::Timestamp;
use rusqlite::Transaction;
use std::time::Duration;

/// What the store knows about one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSeen {
    pub name: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Events received from it (resends included).
    pub events: u64,
}

pub(crate) fn saw(
    tx: &Transaction<'_>,
    source: &str,
    now: Timestamp,
    events: u64,
) -> Result<(), Error> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO sources (name, first_seen, last_seen, events) VALUES (?1, ?2, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET \
             last_seen = max(last_seen, excluded.last_seen), \
             events = events + excluded.events",
    )?;
    statement.execute((source, now.as_micros(), events as i64))?;
    Ok(())
}

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SourceSeen> {
    Ok(SourceSeen {
        name: row.get(0)?,
        first_seen: Timestamp::from_micros(row.get(1)?),
        last_seen: Timestamp::from_micros(row.get(2)?),
        events: row.get::<_, i64>(3)? as u64,
    })
}

impl Store {
    /// Declare a source that must report (a configured qube) as seen at `now`, so that one
    /// that never sends anything is found silent too. Keeps an existing last-seen time.
    pub fn expect_source(&mut self, source: &str, now: Timestamp) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        saw(&tx, source, now, 0)?;
        tx.commit()?;
        Ok(())
    }

    /// Sources not heard from for longer than `silent_for` as of `now`, longest silent first.
    pub fn silent_sources(
        &self,
        now: Timestamp,
        silent_for: Duration,
    ) -> Result<Vec<SourceSeen>, Error> {
        let cutoff = now
            .as_micros()
            .saturating_sub(i64::try_from(silent_for.as_micros()).unwrap_or(i64::MAX));
        let mut statement = self.conn.prepare_cached(
            "SELECT name, first_seen, last_seen, events FROM sources \
             WHERE last_seen < ?1 ORDER BY last_seen, name",
        )?;
        let rows = statement.query_map([cutoff], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every source known, by name.
    pub fn sources(&self) -> Result<Vec<SourceSeen>, Error> {
        let mut statement = self.conn.prepare_cached(
            "SELECT name, first_seen, last_seen, events FROM sources ORDER BY name",
        )?;
        let rows = statement.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
