//! Why a rule was not loaded, and where.

use std::fmt;

/// A position in a rule file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What went wrong with one rule. The rule is skipped; the file goes on loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The action word is not one Suricata knows (`alert`, `drop`, ...).
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// The protocol word is not one Suricata knows.
    #[error("unknown protocol `{0}`")]
    UnknownProtocol(String),
    /// The header has too few or too many fields before `(`.
    #[error("malformed rule header: {0}")]
    MalformedHeader(String),
    /// An address expression could not be parsed.
    #[error("bad address `{0}`")]
    BadAddress(String),
    /// A port expression could not be parsed, or a port is out of range.
    #[error("bad port `{0}`")]
    BadPort(String),
    /// The direction is not `->`, `<>` or `=>`.
    #[error("bad direction `{0}`")]
    BadDirection(String),
    /// A `$VARIABLE` is not defined, or refers to itself.
    #[error("undefined or recursive variable `${0}`")]
    UndefinedVariable(String),
    /// The options are not enclosed in `( ... )`.
    #[error("options must be enclosed in parentheses")]
    MissingParentheses,
    /// A quoted string was opened and never closed.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// The last option is not followed by `;`.
    #[error("missing `;` after the last option")]
    MissingSemicolon,
    /// The keyword is not a Suricata keyword at all.
    #[error("unknown keyword")]
    UnknownKeyword,
    /// The keyword is Suricata's, but picket does not implement it.
    #[error("keyword not supported by picket")]
    UnsupportedKeyword,
    /// The keyword needs a value (`key:value;`) and has none.
    #[error("keyword needs a value")]
    MissingValue,
    /// The keyword takes no value but was given one.
    #[error("keyword takes no value")]
    UnexpectedValue,
    /// The value does not fit the keyword's syntax.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A `|..|` hex section holds something other than hex byte pairs.
    #[error("bad hex in content: {0}")]
    BadHex(String),
    /// A backslash escape other than `\;` `\"` `\\` `\:` in a content string.
    #[error("invalid escape `\\{0}`")]
    BadEscape(char),
    /// A content modifier (`nocase`, `distance`, ...) with no `content` before it.
    #[error("needs a preceding content")]
    NoPrecedingContent,
    /// Two modifiers that cannot go together on one content, or one given twice.
    #[error("conflicts with {0}")]
    Conflict(String),
    /// The rule has no `sid`.
    #[error("rule has no sid")]
    MissingSid,
    /// Another rule already loaded with the same gid:sid.
    #[error("duplicate sid {0}")]
    DuplicateSid(u64),
    /// The classtype is not in `classification.config`.
    #[error("unknown classtype `{0}`")]
    UnknownClasstype(String),
    /// A buffer or keyword of one app-layer protocol in a rule of another.
    #[error("protocol conflict: {0}")]
    ProtocolConflict(String),
}

/// A rule that was not loaded: where it is, which keyword (or header part) caused it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: `{keyword}`: {kind}")]
pub struct RuleError {
    /// Where the offending keyword or header field starts.
    pub position: Position,
    /// The keyword that caused the skip; for header faults one of `action`, `protocol`,
    /// `address`, `port`, `direction`, `variable`, `header`, `options`.
    pub keyword: String,
    /// What is wrong.
    pub kind: ErrorKind,
}
