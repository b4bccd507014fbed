//! ASCII-case-insensitive search for a small set of literals, without allocating per search.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem;

/// Finds any of a fixed set of literals in a text, ignoring ASCII case.
#[derive(Clone, Debug)]
pub(crate) enum Finder {
    /// One literal with no ASCII letter: case does not matter, so memmem's SIMD search applies.
    Exact(Box<memmem::Finder<'static>>),
    /// Everything else.
    Automaton(AhoCorasick),
}

impl Finder {
    /// Builds a finder, or `None` if the set is empty, holds an empty literal, or is too large
    /// for the automaton builder.
    pub(crate) fn new(literals: &[Vec<u8>]) -> Option<Finder> {
        if literals.is_empty() || literals.iter().any(|l| l.is_empty()) {
            return None;
        }
        if let [only] = literals {
            if !only.iter().any(u8::is_ascii_alphabetic) {
                return Some(Finder::Exact(Box::new(
                    memmem::Finder::new(only).into_owned(),
                )));
            }
        }
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            // A DFA is fastest, and the per-rule sets are small enough that its memory is fine.
            .kind(if literals.len() <= 64 {
                Some(AhoCorasickKind::DFA)
            } else {
                None
            })
            .build(literals)
            .ok()
            .map(Finder::Automaton)
    }

    /// Whether any literal occurs in `text`.
    #[inline]
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Finder::Exact(f) => f.find(text).is_some(),
            Finder::Automaton(ac) => ac.is_match(text),
        }
    }
}

/// Where `needle` first occurs in `haystack`, ignoring ASCII case. Used on paths that need
/// a position for one specific literal (capture spans), not on the `is_match` hot path.
pub(crate) fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .find(|&i| haystack[i..i + needle.len()].eq_ignore_ascii_case(needle))
}
