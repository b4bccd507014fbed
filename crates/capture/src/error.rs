use std::path::PathBuf;

/// Why a capture could not be read. Every variant names the file; those about contents
/// also give the byte offset where reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or directory could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with a pcap or pcapng magic number.
    #[error("{path}: not a pcap or pcapng file (magic {magic:#010x})")]
    UnknownFormat { path: PathBuf, magic: u32 },
    /// The file ends in the middle of a header, record or block.
    #[error("{path}: truncated at byte offset {offset}: {what}")]
    Truncated {
        path: PathBuf,
        offset: u64,
        what: &'static str,
    },
    /// A length, version or field is impossible or over the reader's bounds.
    #[error("{path}: malformed at byte offset {offset}: {reason}")]
    Malformed {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The live socket could not be opened, configured or read.
    #[error("interface {interface}: {context}: {source}")]
    Live {
        interface: String,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}
