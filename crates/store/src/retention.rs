//! Retention: drop the oldest events by age and by total size, then give the space back.

use crate::{Error, Store};
use picket_event::Timestamp;
use std::time::Duration;

/// How much to keep. Unset limits keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete events whose event time is older than this.
    pub max_age: Option<Duration>,
    /// Keep the data pages under this many bytes. When exceeded, the oldest events are
    /// deleted until the data is under [`Retention::LOW_WATER_PERCENT`] of it, so that
    /// retention does not run again on every batch.
    pub max_bytes: Option<u64>,
}

impl Retention {
    pub const LOW_WATER_PERCENT: u64 = 90;
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub deleted_by_age: u64,
    pub deleted_by_size: u64,
    /// Pages returned to the file system by the incremental vacuum.
    pub pages_freed: u64,
    pub used_bytes_before: u64,
    pub used_bytes_after: u64,
    /// The main file and WAL on disk, after the pass.
    pub file_bytes_after: u64,
}

/// Rounds of deleting by size before giving up (each deletes more than the last estimate).
const MAX_SIZE_ROUNDS: usize = 32;

impl Store {
    /// Apply `policy` as of `now`: age first, then size, oldest event time first; then vacuum
    /// the freed pages, truncate the WAL so the file really shrinks, and refresh the
    /// planner's statistics ([`Store::analyze`]).
    pub fn apply_retention(
        &mut self,
        policy: &Retention,
        now: Timestamp,
    ) -> Result<RetentionReport, Error> {
        let mut report = RetentionReport {
            used_bytes_before: self.size()?.used_bytes(),
            ..RetentionReport::default()
        };
        if let Some(age) = policy.max_age {
            let cutoff = now
                .as_micros()
                .saturating_sub(i64::try_from(age.as_micros()).unwrap_or(i64::MAX));
            report.deleted_by_age =
                self.conn
                    .execute("DELETE FROM events WHERE ts < ?1", [cutoff])? as u64;
        }
        if let Some(max) = policy.max_bytes {
            report.deleted_by_size = self.shrink_to(max)?;
        }
        if report.deleted_by_age + report.deleted_by_size > 0 {
            let free_before = self.size()?.free_pages;
            // Vacuum a no-op when the file was made without auto_vacuum=INCREMENTAL (then the
            // free pages are reused by later inserts instead).
            // The pragma frees one page per step (it yields a row each time): run it dry.
            let mut vacuum = self.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = vacuum.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            drop(vacuum);
            let free_after = self.size()?.free_pages;
            report.pages_freed = free_before.saturating_sub(free_after);
            self.checkpoint()?;
        }
        self.analyze()?;
        let size = self.size()?;
        report.used_bytes_after = size.used_bytes();
        report.file_bytes_after = size.file_bytes;
        Ok(report)
    }

    /// Delete the oldest events until the used pages are under the low-water mark.
    fn shrink_to(&mut self, max: u64) -> Result<u64, Error> {
        let target = max / 100 * Retention::LOW_WATER_PERCENT;
        let mut deleted = 0u64;
        let used = self.size()?.used_bytes();
        if used <= max {
            return Ok(0);
        }
        for _ in 0..MAX_SIZE_ROUNDS {
            let used = self.size()?.used_bytes();
            if used <= target {
                break;
            }
            let rows = self.count()?;
            if rows == 0 {
                break;
            }
            // Rows to drop if every row took the same space, plus a margin: freed space shows
            // up only when whole pages empty.
            let share = (used - target) as f64 / used as f64;
            let n = ((rows as f64 * share * 1.05).ceil() as u64).clamp(1, rows);
            let tx = self.conn.transaction()?;
            let removed = tx.execute(
                "DELETE FROM events WHERE id IN \
                 (SELECT id FROM events ORDER BY ts, id LIMIT ?1)",
                [n as i64],
            )? as u64;
            tx.commit()?;
            deleted += removed;
            if removed == 0 {
                break;
            }
        }
        Ok(deleted)
    }
}
