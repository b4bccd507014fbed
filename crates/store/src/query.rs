//! Reading alerts back: filters, newest first, and a cursor for follow mode.

use crate::{Error, Store};
use picket_event::Timestamp;
use rusqlite::types::Value;

/// Rows returned when a query sets no limit.
pub const DEFAULT_LIMIT: usize = 100;

/// Which alerts to return. Every filter that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts from this authenticated source.
    pub source: Option<String>,
    /// Only alerts whose engine level (`picket.level`, OSSEC's 0–16) is at least this.
    pub min_level: Option<u8>,
    /// Only alerts at least this severe: `alert.severity` at most this (1 is the worst).
    pub max_severity: Option<u8>,
    /// Only alerts of this rule (`alert.signature_id`).
    pub rule_id: Option<u64>,
    /// Event time at or after this.
    pub since: Option<Timestamp>,
    /// Event time before this.
    pub until: Option<Timestamp>,
    /// Only alerts whose EVE text contains this (ASCII case-insensitive).
    pub text: Option<String>,
    /// Follow cursor: only rows stored after the row with this id, returned oldest first so
    /// the caller can keep the last id it saw. Without it, results are newest first.
    pub after_id: Option<i64>,
    /// At most this many rows ([`DEFAULT_LIMIT`] when unset).
    pub limit: Option<usize>,
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Insert order; pass the largest seen as [`AlertQuery::after_id`] to follow.
    pub id: i64,
    pub source: String,
    pub epoch: u64,
    pub seq: Option<u64>,
    pub part: u32,
    pub timestamp: Timestamp,
    /// The EVE JSON text as stored.
    pub eve: String,
}

impl AlertQuery {
    /// The SQL and its parameters. `event_type = 'alert'` is spelt exactly as in the partial
    /// index's condition (`migrations/0005_one_alert_index.sql`), or SQLite would not use it.
    fn to_sql(&self) -> (String, Vec<Value>) {
        let mut sql = String::from(
            "SELECT id, source, epoch, seq, part, ts, eve FROM events \
             WHERE event_type = 'alert'",
        );
        let mut params: Vec<Value> = Vec::new();
        let mut push = |clause: &str, value: Value, sql: &mut String| {
            params.push(value);
            sql.push_str(&format!(" AND {clause} ?{}", params.len()));
        };
        if let Some(source) = &self.source {
            push("source =", Value::Text(source.clone()), &mut sql);
        }
        if let Some(level) = self.min_level {
            push("level >=", Value::Integer(level.into()), &mut sql);
        }
        if let Some(severity) = self.max_severity {
            push("severity <=", Value::Integer(severity.into()), &mut sql);
        }
        if let Some(rule) = self.rule_id {
            push("rule =", Value::Integer(rule as i64), &mut sql);
        }
        if let Some(since) = self.since {
            push("ts >=", Value::Integer(since.as_micros()), &mut sql);
            // The same condition as an id bound, which the alert index (in id order) can
            // seek to: no row at or after `since` has a smaller id than the first such row
            // in `events_ts`. Without it, a `since` that no alert matches reads every alert.
            // Named, because for `min(id)` SQLite would otherwise walk the table in id order
            // from its oldest row to the first at `since`.
            push(
                "id >= (SELECT min(id) FROM events INDEXED BY events_ts WHERE ts >=",
                Value::Integer(since.as_micros()),
                &mut sql,
            );
            sql.push(')');
        }
        if let Some(until) = self.until {
            push("ts <", Value::Integer(until.as_micros()), &mut sql);
        }
        if let Some(after) = self.after_id {
            push("id >", Value::Integer(after), &mut sql);
        }
        if let Some(text) = &self.text {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(Value::Text(format!("%{escaped}%")));
            sql.push_str(&format!(" AND eve LIKE ?{} ESCAPE '\\'", params.len()));
        }
        let order = if self.after_id.is_some() {
            "ASC"
        } else {
            "DESC"
        };
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT).min(i64::MAX as usize);
        sql.push_str(&format!(" ORDER BY id {order} LIMIT {limit}"));
        (sql, params)
    }
}

impl Store {
    /// Alerts matching `query`: newest first, or oldest first after a follow cursor.
    pub fn alerts(&self, query: &AlertQuery) -> Result<Vec<StoredEvent>, Error> {
        let (sql, params) = query.to_sql();
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
            Ok(StoredEvent {
                id: row.get(0)?,
                source: row.get(1)?,
                epoch: row.get::<_, i64>(2)? as u64,
                seq: row.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                part: row.get(4)?,
                timestamp: Timestamp::from_micros(row.get(5)?),
                eve: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The EVE text of the newest `limit` events of one type (for example `response`),
    /// newest first.
    pub fn events_of_type(&self, event_type: &str, limit: usize) -> Result<Vec<String>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self.conn.prepare_cached(
            "SELECT eve FROM events WHERE event_type = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(rusqlite::params![event_type, limit], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The id of the newest stored row (0 when empty): where a follower starts.
    pub fn last_id(&self) -> Result<i64, Error> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
    }

    /// SQLite's `EXPLAIN QUERY PLAN` for `query`, one line per step: shows which indexes a
    /// filter uses.
    pub fn explain(&self, query: &AlertQuery) -> Result<Vec<String>, Error> {
        let (sql, params) = query.to_sql();
        let mut statement = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
            row.get::<_, String>(3)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
