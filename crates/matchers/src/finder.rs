//! ASCII-case-insensitive search for a small set of literals, without allocating per search.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memmem;

/// Finds any of a fixed set of literals in a text, ignoring ASCII case.
#[derive(Clone, Debug)]
pub(crate) enum Finder {
    /// One literal with no ASCII letter: case does not matter, so memmem's SIMD search applies.
    Exact(Box<memmem::Finder<'static>>),
    /// One literal with letters: scan for its rarest byte in both cases, then compare.
    Single(SingleLiteral),
    /// A few literals, each searched on its own: a handful of SIMD scans beat an automaton
    /// whose prefilter has to stop at every common letter.
    Few(Box<[Finder]>),
    /// Several literals.
    Automaton(AhoCorasick),
}

/// Up to this many literals are searched one by one rather than by an automaton.
const FEW: usize = 3;

/// A lower-cased literal and the byte of it least likely to occur in log text, which the
/// search looks for first (with `memchr2` for both cases of a letter).
#[derive(Clone, Debug)]
pub(crate) struct SingleLiteral {
    literal: Box<[u8]>,
    rare_at: usize,
    rare_lower: u8,
    rare_upper: u8,
}

impl SingleLiteral {
    fn new(literal: &[u8]) -> SingleLiteral {
        let literal: Box<[u8]> = literal.to_ascii_lowercase().into();
        let rare_at = (0..literal.len())
            .min_by_key(|&i| commonness(literal[i]))
            .unwrap_or(0);
        let rare = literal.get(rare_at).copied().unwrap_or(0);
        SingleLiteral {
            rare_lower: rare,
            rare_upper: rare.to_ascii_uppercase(),
            rare_at,
            literal,
        }
    }

    fn find(&self, text: &[u8]) -> Option<usize> {
        let n = self.literal.len();
        if text.len() < n {
            return None;
        }
        // Candidate positions of the rare byte that leave room for the whole literal.
        let window = &text[self.rare_at..text.len() - (n - 1 - self.rare_at)];
        let mut candidates = memchr::memchr2_iter(self.rare_lower, self.rare_upper, window);
        candidates.find(|&start| text[start..start + n].eq_ignore_ascii_case(&self.literal))
    }
}

/// A rough rank of how common a byte is in log lines (case-folded), for picking the byte to
/// scan for. Only the order matters.
pub(crate) fn commonness(b: u8) -> u8 {
    match b.to_ascii_lowercase() {
        b' ' => 255,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 220,
        b'0'..=b'9' => 200,
        b'h' | b'l' | b'd' | b'c' | b'u' | b'm' | b'p' | b'f' | b'g' => 190,
        b'a'..=b'z' => 150,
        b'.' | b':' | b'-' | b'/' | b'=' | b'_' | b',' => 170,
        b'[' | b']' | b'(' | b')' | b'"' | b'\'' | b';' => 120,
        0x80..=0xff => 40,
        _ => 80,
    }
}

impl Finder {
    /// Builds a finder, or `None` if the set is empty, holds an empty literal, or is too large
    /// for the automaton builder.
    pub(crate) fn new(literals: &[Vec<u8>]) -> Option<Finder> {
        if literals.is_empty() || literals.iter().any(|l| l.is_empty()) {
            return None;
        }
        if let [only] = literals {
            let finder = if only.iter().any(u8::is_ascii_alphabetic) {
                Finder::Single(SingleLiteral::new(only))
            } else {
                Finder::Exact(Box::new(memmem::Finder::new(only).into_owned()))
            };
            return Some(finder);
        }
        if literals.len() <= FEW {
            let each: Option<Vec<Finder>> = literals
                .iter()
                .map(|l| Finder::new(std::slice::from_ref(l)))
                .collect();
            return each.map(|e| Finder::Few(e.into()));
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

    /// Where the leftmost occurrence of any literal starts.
    #[inline]
    pub(crate) fn find(&self, text: &[u8]) -> Option<usize> {
        match self {
            Finder::Exact(f) => f.find(text),
            Finder::Single(s) => s.find(text),
            Finder::Few(each) => each.iter().filter_map(|f| f.find(text)).min(),
            Finder::Automaton(ac) => ac.find(text).map(|m| m.start()),
        }
    }

    /// Whether any literal occurs in `text`.
    #[inline]
    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Finder::Exact(f) => f.find(text).is_some(),
            Finder::Single(s) => s.find(text).is_some(),
            Finder::Few(each) => each.iter().any(|f| f.is_match(text)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finder_kind_agrees_with_a_naive_search() {
        let texts: [&[u8]; 5] = [
            b"",
            b"Failed password for ROOT from 1.2.3.4",
            b"xx-12-yy failed",
            b"a",
            b"root",
        ];
        let sets: [&[&[u8]]; 5] = [
            &[b"root"],
            &[b"-12-"],
            &[b"failed", b"for"],
            &[b"a"],
            &[b"root from 1"],
        ];
        for set in sets {
            let lits: Vec<Vec<u8>> = set.iter().map(|l| l.to_vec()).collect();
            let f = Finder::new(&lits).expect("non-empty set");
            for text in texts {
                let naive = lits.iter().filter_map(|l| find_ignore_case(text, l)).min();
                assert_eq!(f.find(text), naive, "{set:?} in {text:?}");
                assert_eq!(f.is_match(text), naive.is_some());
            }
        }
    }
}
