//! The pattern dialects of OSSEC and Wazuh rules and decoders, behind one [`Pattern`] type.
//!
//! The host IDS must reach the same verdicts as OSSEC/Wazuh, so the two native dialects are
//! reproductions of their matchers, quirks included, not translations to a regex engine:
//!
//! - [`Dialect::OsMatch`]: `<match>` and most rule fields. Literal alternatives split at `|`,
//!   with `^`/`$` anchors per alternative and a leading `!` that negates the pattern.
//! - [`Dialect::OsRegex`]: `<regex>`, `<prematch>`, decoders. OSSEC's small regex language
//!   and its single-pass, lazy, non-backtracking walk (see the `os_regex` module docs).
//! - [`Dialect::Pcre2`]: Wazuh's `type="pcre2"`, run by the `regex` crate when it reads the
//!   pattern the same way, by PCRE2 otherwise.
//! - [`Dialect::OssecPcre2`]: OSSEC's `*_pcre2` elements, PCRE2 with `PCRE2_CASELESS`.
//! - [`Dialect::Exact`]: Wazuh's `type="string"`, whole-text case-sensitive equality.
//!
//! The crate is sans-IO: it compiles strings and matches byte slices. Like OSSEC's C strings,
//! the native dialects treat a NUL byte as the end of the text in their walk, but anchored
//! comparisons look at the whole slice: callers that may see NULs should cut the event at the
//! first one, once, as OSSEC effectively does.
//!
//! Wazuh compiles rules and `<prematch>` without substring extraction and decoders' `<regex>`
//! with it, and the OSSEC walk differs slightly between the two (see [`Pattern::captures`]).
//! Use [`Pattern::is_match`] / [`Pattern::match_end`] for rules and `<prematch>`, and
//! [`Pattern::captures`] for a decoder's `<regex>`.
//!
//! # Which OSSEC
//! os_regex and os_match follow Wazuh 4.x's C matcher, which is the classic OSSEC one with
//! small fixes (OSSEC up to 3.1 differs in how it starts the walk, where a group that follows
//! a run begins, and one end-of-pattern test). OSSEC 3.2 and later translate os_regex and
//! os_match to PCRE2 instead; that translation is not reproduced, but the OSSEC rule set uses
//! its `*_pcre2` elements almost everywhere, which [`Dialect::OssecPcre2`] covers.
//!
//! Where the C code has undefined or failing behaviour, this crate picks a defined answer:
//! a group whose end lies before its start makes the match fail (the C allocation fails); an
//! end position before the text (a leading `\x*` that matched nothing) is 0; a Wazuh pcre2
//! group that did not take part, followed by one that did, is empty. Patterns that PCRE2
//! would abandon at its match limit can match here when the `regex` crate runs them.

mod classes;
mod finder;
mod os_match;
mod os_regex;
mod pcre;
mod simple;

use std::fmt;
use std::sync::Arc;

/// The longest pattern accepted, in bytes: Wazuh's limit for os_match and os_regex (OSSEC's
/// was 2048). Wazuh sets none for pcre2; the same limit is applied there as a guard.
pub const MAX_PATTERN_LEN: usize = 20480;

/// Which pattern language a string is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OSSEC `OSMatch`: literal alternatives. Wazuh's `type="osmatch"`.
    OsMatch,
    /// OSSEC `OSRegex`. Wazuh's `type="osregex"`.
    OsRegex,
    /// Perl-compatible regex, as Wazuh's `type="pcre2"` compiles it (no flags).
    Pcre2,
    /// Perl-compatible regex as OSSEC compiles its `*_pcre2` elements (`<pcre2>`,
    /// `<prematch_pcre2>`, `<id_pcre2>`...): case-insensitive, empty pattern rejected, groups
    /// that did not take part left out.
    OssecPcre2,
    /// Wazuh's `type="string"`: the text must equal the pattern exactly, case included.
    Exact,
}

impl Dialect {
    /// The dialect a Wazuh `type=` attribute names (`osmatch`, `osregex` or `pcre2`, in any
    /// case, as Wazuh compares them). `None` for anything else, including `string`, which is
    /// only ever a default (for `<action>`): Wazuh then warns and keeps the element's default
    /// dialect, and callers should do the same. `osip_array` (IP lists) is not a text pattern.
    pub fn from_wazuh_type(name: &str) -> Option<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "osmatch" => Some(Dialect::OsMatch),
            "osregex" => Some(Dialect::OsRegex),
            "pcre2" => Some(Dialect::Pcre2),
            _ => None,
        }
    }

    /// The Wazuh `type=` name of this dialect (`ossec-pcre2` for OSSEC's, which has none).
    pub fn wazuh_name(self) -> &'static str {
        match self {
            Dialect::OsMatch => "osmatch",
            Dialect::OsRegex => "osregex",
            Dialect::Pcre2 => "pcre2",
            Dialect::OssecPcre2 => "ossec-pcre2",
            Dialect::Exact => "string",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wazuh_name())
    }
}

/// Why a pattern did not compile. Columns are 1-based and count characters, not bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is longer than [`MAX_PATTERN_LEN`] bytes; Wazuh refuses it.
    #[error("pattern is {len} bytes long, over the {max}-byte limit")]
    TooLong {
        /// The pattern's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern holds a NUL byte, which the C implementations would silently cut at.
    #[error("NUL byte at column {column}")]
    NulByte {
        /// Where the NUL is.
        column: usize,
    },
    /// os_regex: a backslash followed by a character that is not one of OSSEC's escapes
    /// (`\d \D \w \W \s \S \p \. \t \( \) \\ \$ \| \<`).
    #[error("unknown escape `\\{escape}` at column {column}")]
    UnknownEscape {
        /// Where the backslash is.
        column: usize,
        /// The character after it.
        escape: char,
    },
    /// os_regex: the pattern ends with a single backslash.
    #[error("lone backslash at the end of the pattern (column {column})")]
    TrailingBackslash {
        /// Where the backslash is.
        column: usize,
    },
    /// os_regex: parentheses are nested, unbalanced, or hold a `|`.
    #[error("{reason} at column {column}")]
    BadParenthesis {
        /// Where the problem was found.
        column: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// OSSEC pcre2: the pattern is empty, which OSSEC refuses.
    #[error("empty pattern")]
    Empty,
    /// pcre2: PCRE2 rejected the pattern.
    #[error("pcre2: {message}")]
    Pcre2 {
        /// PCRE2's message.
        message: String,
        /// Where PCRE2 stopped, when it says.
        column: Option<usize>,
    },
}

impl PatternError {
    /// The 1-based column the error points at, when there is one.
    pub fn column(&self) -> Option<usize> {
        match self {
            PatternError::TooLong { .. } | PatternError::Empty => None,
            PatternError::NulByte { column }
            | PatternError::UnknownEscape { column, .. }
            | PatternError::TrailingBackslash { column }
            | PatternError::BadParenthesis { column, .. } => Some(*column),
            PatternError::Pcre2 { column, .. } => *column,
        }
    }
}

/// A match as the dialect modules report it: group spans, match start, match end.
#[derive(Debug)]
pub(crate) struct Found {
    groups: Vec<(usize, usize)>,
    start: usize,
    end: usize,
}

#[derive(Clone, Debug)]
enum Compiled {
    OsMatch(os_match::OsMatch),
    OsRegex(os_regex::OsRegex),
    Pcre(pcre::Pcre),
    Exact(Box<[u8]>),
}

/// A compiled pattern of any dialect. Cheap to clone; shareable between threads.
#[derive(Clone)]
pub struct Pattern {
    dialect: Dialect,
    source: Arc<str>,
    compiled: Arc<Compiled>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern")
            .field("dialect", &self.dialect)
            .field("source", &self.source)
            .finish()
    }
}

/// The result of a successful match with [`Pattern::captures`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captures<'t> {
    /// The captured substrings, in group order. For os_regex these are the groups OSSEC hands
    /// to a decoder's `<order>`; for pcre2, groups 1..=n up to the last one that took part.
    pub groups: Vec<&'t str>,
    /// Where the overall match ends, as a byte offset: the position a decoder continues from
    /// (`offset="after_regex"`, `after_prematch`). For os_regex this is OSSEC's answer, one
    /// past the last character its walk accepted, which is not always the end a regex engine
    /// would report (a trailing `\w+` stops after its first character).
    pub match_end: usize,
    /// Where the match starts. For os_regex, which never computes it, this is the first
    /// character the successful attempt accepted (`match_end` when it accepted none).
    pub match_start: usize,
}

impl Pattern {
    /// Compiles `pattern` in `dialect`. The error names the problem and, where it can, the
    /// column.
    pub fn compile(dialect: Dialect, pattern: &str) -> Result<Pattern, PatternError> {
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong {
                len: pattern.len(),
                max: MAX_PATTERN_LEN,
            });
        }
        if let Some(at) = pattern.find('\0') {
            return Err(PatternError::NulByte {
                column: pattern[..at].chars().count() + 1,
            });
        }
        let compiled = match dialect {
            Dialect::OsMatch => Compiled::OsMatch(os_match::OsMatch::compile(pattern)),
            Dialect::OsRegex => Compiled::OsRegex(os_regex::OsRegex::compile(pattern)?),
            Dialect::Pcre2 => Compiled::Pcre(pcre::Pcre::compile(pattern, pcre::Flavor::Wazuh)?),
            Dialect::OssecPcre2 => {
                Compiled::Pcre(pcre::Pcre::compile(pattern, pcre::Flavor::Ossec)?)
            }
            Dialect::Exact => Compiled::Exact(pattern.as_bytes().into()),
        };
        Ok(Pattern {
            dialect,
            source: pattern.into(),
            compiled: Arc::new(compiled),
        })
    }

    /// Whether the pattern matches `text`. Does not allocate. For os_regex this is OSSEC's
    /// walk without substring extraction, as rules and `<prematch>` use it.
    #[inline]
    pub fn is_match(&self, text: &str) -> bool {
        self.is_match_bytes(text.as_bytes())
    }

    /// [`Pattern::is_match`] for a caller whose own prefilter has already found one of
    /// [`Pattern::required_literals`] in `text`: skips the pattern's internal literal check,
    /// which would only scan the text a second time. Giving it a text that lacks every
    /// required literal is not unsafe, merely slower than [`Pattern::is_match`].
    pub fn is_match_prefiltered(&self, text: &str) -> bool {
        match &*self.compiled {
            Compiled::OsRegex(r) => r.is_match_prefiltered(text.as_bytes()),
            _ => self.is_match_bytes(text.as_bytes()),
        }
    }

    /// [`Pattern::is_match`] on bytes that need not be UTF-8.
    pub fn is_match_bytes(&self, text: &[u8]) -> bool {
        match &*self.compiled {
            Compiled::OsMatch(m) => m.is_match(text),
            Compiled::OsRegex(r) => r.is_match(text),
            Compiled::Pcre(p) => p.is_match(text),
            Compiled::Exact(s) => **s == *text,
        }
    }

    /// Where a decoder continues after a match, without extracting groups: OSSEC's
    /// `<prematch>` position. `None` if the pattern does not match.
    ///
    /// For os_match, Wazuh does not move the position at all; this returns the end of the
    /// matched alternative anyway, and the caller decides.
    pub fn match_end(&self, text: &str) -> Option<usize> {
        match &*self.compiled {
            Compiled::OsRegex(r) => r.find_end(text.as_bytes()),
            Compiled::Pcre(p) => p.find_end(text.as_bytes()).map(|end| end.min(text.len())),
            Compiled::OsMatch(m) => m.find(text.as_bytes()).map(|(_, end)| end.min(text.len())),
            Compiled::Exact(s) => (**s == *text.as_bytes()).then_some(text.len()),
        }
    }

    /// Matches and extracts the capture groups and the match span. For os_regex this is
    /// OSSEC's walk with substring extraction, as a decoder's `<regex>` uses it. Group
    /// boundaries that would fall inside a UTF-8 character (possible with `\.` or `\W`, which
    /// match single bytes) are widened to the character.
    pub fn captures<'t>(&self, text: &'t str) -> Option<Captures<'t>> {
        let bytes = text.as_bytes();
        let Found {
            groups: spans,
            start,
            end,
        } = match &*self.compiled {
            Compiled::OsMatch(m) => {
                let (start, end) = m.find(bytes)?;
                Found {
                    groups: Vec::new(),
                    start,
                    end,
                }
            }
            Compiled::OsRegex(r) => r.captures(bytes)?,
            Compiled::Pcre(p) => p.captures(bytes)?,
            Compiled::Exact(s) => {
                if **s != *bytes {
                    return None;
                }
                Found {
                    groups: Vec::new(),
                    start: 0,
                    end: bytes.len(),
                }
            }
        };
        let groups = spans
            .into_iter()
            .map(|(s, e)| char_aligned(text, s, e))
            .collect();
        Some(Captures {
            groups,
            match_end: end.min(text.len()),
            match_start: start.min(end).min(text.len()),
        })
    }

    /// The dialect this pattern was compiled in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The number of capture groups (for os_regex, of the alternative with the most).
    pub fn group_count(&self) -> usize {
        match &*self.compiled {
            Compiled::OsRegex(r) => r.group_count(),
            Compiled::Pcre(p) => p.group_count(),
            Compiled::OsMatch(_) | Compiled::Exact(_) => 0,
        }
    }

    /// Literals such that every text this pattern matches contains at least one of them,
    /// lower-cased when [`Pattern::is_case_insensitive`]; `None` when no such set is known
    /// (for example a negated os_match, an alternative that matches everything, or a pcre2
    /// pattern that only PCRE2 can read). Meant for an Aho-Corasick prefilter over many rules.
    pub fn required_literals(&self) -> Option<Vec<String>> {
        match &*self.compiled {
            Compiled::OsMatch(m) => m.required_literals(),
            Compiled::OsRegex(r) => r.required_literals(),
            Compiled::Pcre(p) => p.required_literals(),
            Compiled::Exact(s) => {
                if s.is_empty() {
                    None
                } else {
                    Some(vec![String::from_utf8(s.to_vec()).ok()?])
                }
            }
        }
    }

    /// Whether matching ignores (ASCII) case: true for os_match, os_regex and OSSEC pcre2,
    /// false for Wazuh pcre2 (it passes no flags; an inline `(?i)` is not reflected here) and
    /// exact.
    pub fn is_case_insensitive(&self) -> bool {
        matches!(
            self.dialect,
            Dialect::OsMatch | Dialect::OsRegex | Dialect::OssecPcre2
        )
    }

    /// For pcre2 patterns: whether PCRE2 itself runs it (rather than the `regex` crate).
    pub fn uses_pcre2_engine(&self) -> bool {
        matches!(&*self.compiled, Compiled::Pcre(p) if p.uses_pcre2())
    }

    /// For pcre2 patterns: whether the backtracking-free simple matcher runs it (for tests
    /// that hold it to PCRE2's answers).
    #[doc(hidden)]
    pub fn uses_simple_engine(&self) -> bool {
        matches!(&*self.compiled, Compiled::Pcre(p) if p.uses_simple())
    }
}

/// `text[start..end]`, widened to character boundaries.
fn char_aligned(text: &str, start: usize, end: usize) -> &str {
    let mut s = start.min(text.len());
    let mut e = end.min(text.len()).max(s);
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    while !text.is_char_boundary(e) {
        e += 1;
    }
    &text[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_can_be_shared_between_threads() {
        fn shareable<T: Clone + fmt::Debug + Send + Sync>() {}
        shareable::<Pattern>();
        shareable::<Captures<'static>>();
    }

    #[test]
    fn captures_never_split_a_utf8_character() {
        // `\.` takes one byte, which here is half of `é`; the group widens to the character.
        let p = Pattern::compile(Dialect::OsRegex, r"^(\.)").expect("valid");
        let c = p.captures("é!").expect("matches");
        assert_eq!(c.groups, vec!["é"]);
    }
}
