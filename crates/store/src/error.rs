use std::path::PathBuf;

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation (I/O error, full disk, lock held too long...).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A numbered migration failed; its transaction was rolled back and the schema is left at
    /// the version before it.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: u32,
        name: &'static str,
        source: rusqlite::Error,
    },
    /// The file was written by a newer picket, whose schema this build does not know.
    #[error("database schema version {found} is newer than this picket knows ({known})")]
    NewerSchema { found: u32, known: u32 },
    /// A read-only open found a schema other than this build's (a reader never migrates).
    #[error("database schema version {found}, this picket reads version {known}")]
    SchemaMismatch { found: u32, known: u32 },
    /// A read-only open of a file that does not exist.
    #[error("no database at {}", path.display())]
    Missing { path: PathBuf },
    /// SQLite would not switch to WAL mode (for example on a file system without shared
    /// memory); concurrent readers and the durability notes depend on it.
    #[error("the database would not use WAL mode (journal mode is {mode})")]
    NoWal { mode: String },
    /// An event could not be written as EVE JSON.
    #[error("could not encode event as EVE JSON: {0}")]
    Encode(String),
    /// `PRAGMA integrity_check` found problems.
    #[error("database integrity check failed: {problems}")]
    Corrupt { problems: String },
}
