//! The schema as numbered SQL files, applied in order.

use crate::Error;
use rusqlite::Connection;

/// One schema step: `version` is the number its file name starts with.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: a released file is never edited.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_sources.sql",
        sql: include_str!("../migrations/0002_sources.sql"),
    },
    Migration {
        version: 3,
        name: "0003_delivery.sql",
        sql: include_str!("../migrations/0003_delivery.sql"),
    },
    Migration {
        version: 4,
        name: "0004_alert_columns.sql",
        sql: include_str!("../migrations/0004_alert_columns.sql"),
    },
    Migration {
        version: 5,
        name: "0005_one_alert_index.sql",
        sql: include_str!("../migrations/0005_one_alert_index.sql"),
    },
];

/// The schema version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub(crate) fn version(conn: &Connection) -> Result<u32, Error> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Apply every migration newer than the file's `user_version`, each in its own transaction
/// that also records the new version, so a crash leaves the schema at a whole step.
pub(crate) fn apply(conn: &mut Connection) -> Result<(), Error> {
    let found = version(conn)?;
    let known = latest();
    if found > known {
        return Err(Error::NewerSchema { found, known });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        let fail = |source| Error::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        // IMMEDIATE takes the write lock first, so two processes opening a new file at once
        // cannot both run the same step.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(fail)?;
        // Another process may have migrated while this one waited for the lock.
        let now: u32 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        if now >= migration.version {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_named_after_their_version() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
            assert!(migration
                .name
                .starts_with(&format!("{:04}_", migration.version)));
        }
    }
}
