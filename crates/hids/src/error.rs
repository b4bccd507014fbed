//! Errors from loading a ruleset. Running the engine never fails: bad input lines simply
//! decode to nothing.

use std::path::PathBuf;

/// Why a ruleset could not be loaded. Every variant names the file, and where it can, the
/// line and the decoder or rule.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not well-formed enough to read.
    #[error("{path}:{line}: malformed XML: {message}")]
    Xml {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A pattern in a decoder or rule does not compile.
    #[error("{path}:{line}: {owner}: bad pattern in <{element}>: {message}")]
    Pattern {
        path: PathBuf,
        line: usize,
        owner: String,
        element: String,
        message: String,
    },
    /// A decoder or rule is structurally invalid (missing name, bad level, bad offset...).
    #[error("{path}:{line}: {owner}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        owner: String,
        message: String,
    },
    /// The directory holds no decoders or no rules.
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
}
