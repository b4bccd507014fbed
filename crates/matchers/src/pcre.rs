//! The `pcre2` dialect (Wazuh's `type="pcre2"`).
//!
//! Wazuh compiles these with PCRE2 and no options: case-sensitive, bytes rather than UTF-8,
//! `.` not matching a newline, and `$` also matching before a final newline. When a pattern
//! only uses syntax that the `regex` crate reads the same way, it is compiled there (it is
//! faster and has no match limit to hit); anything else, notably lookaround, backreferences,
//! possessive quantifiers and `$`, goes to PCRE2 itself.
//!
//! PCRE2's own limits bound the work of one match: its built-in match limit (ten million
//! backtracking steps) and heap limit apply, because the `pcre2` crate exposes no way to set
//! them lower. A match that hits a limit is reported as no match, which is also what Wazuh
//! does. A pathological pattern can still cost up to that limit per event; that is the
//! residual risk of accepting `pcre2` rules.

use crate::{Found, PatternError};
use regex_syntax::hir::literal::Extractor;

#[derive(Clone, Debug)]
pub(crate) enum Pcre {
    Fast(regex::bytes::Regex),
    Full(pcre2::bytes::Regex),
}

impl Pcre {
    pub(crate) fn compile(pattern: &str) -> Result<Pcre, PatternError> {
        if rust_regex_reads_it_the_same(pattern) {
            if let Ok(re) = regex::bytes::RegexBuilder::new(pattern)
                .unicode(false)
                .size_limit(1 << 20)
                .build()
            {
                return Ok(Pcre::Fast(re));
            }
        }
        pcre2::bytes::RegexBuilder::new()
            .utf(false)
            .caseless(false)
            .jit_if_available(true)
            .build(pattern)
            .map(Pcre::Full)
            .map_err(|e| PatternError::Pcre2 {
                column: e.offset().map(|o| o + 1),
                message: e.to_string(),
            })
    }

    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Pcre::Fast(re) => re.is_match(text),
            // An error here is a resource limit; Wazuh treats it as no match.
            Pcre::Full(re) => re.is_match(text).unwrap_or(false),
        }
    }

    /// Group spans (the ones PCRE2 reports, up to the highest group that took part; a group
    /// in between that did not take part is empty), match start and match end.
    pub(crate) fn captures(&self, text: &[u8]) -> Option<Found> {
        match self {
            Pcre::Fast(re) => {
                let caps = re.captures(text)?;
                let whole = caps.get(0)?;
                let last_set = (1..caps.len()).rev().find(|&i| caps.get(i).is_some());
                let groups = (1..=last_set.unwrap_or(0))
                    .map(|i| caps.get(i).map_or((0, 0), |m| (m.start(), m.end())))
                    .collect();
                Some(Found {
                    groups,
                    start: whole.start(),
                    end: whole.end(),
                })
            }
            Pcre::Full(re) => {
                let caps = re.captures(text).ok()??;
                let whole = caps.get(0)?;
                let last_set = (1..caps.len()).rev().find(|&i| caps.get(i).is_some());
                let groups = (1..=last_set.unwrap_or(0))
                    .map(|i| caps.get(i).map_or((0, 0), |m| (m.start(), m.end())))
                    .collect();
                Some(Found {
                    groups,
                    start: whole.start(),
                    end: whole.end(),
                })
            }
        }
    }

    pub(crate) fn group_count(&self) -> usize {
        match self {
            Pcre::Fast(re) => re.captures_len().saturating_sub(1),
            Pcre::Full(re) => re.captures_len().saturating_sub(1),
        }
    }

    pub(crate) fn uses_pcre2(&self) -> bool {
        matches!(self, Pcre::Full(_))
    }

    /// Literals one of which starts every match, from the `regex` crate's analysis. Only for
    /// patterns the `regex` crate parsed; case-sensitive.
    pub(crate) fn required_literals(&self) -> Option<Vec<String>> {
        let Pcre::Fast(re) = self else {
            return None;
        };
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(re.as_str())
            .ok()?;
        let seq = Extractor::new().extract(&hir);
        let lits = seq.literals()?;
        if lits.is_empty() || lits.len() > 64 {
            return None;
        }
        let mut out = Vec::with_capacity(lits.len());
        for l in lits {
            if l.as_bytes().is_empty() {
                return None;
            }
            out.push(String::from_utf8(l.as_bytes().to_vec()).ok()?);
        }
        out.sort();
        out.dedup();
        Some(out)
    }
}

/// Whether the `regex` crate, with Unicode off, gives this pattern the same meaning PCRE2
/// does. Conservative: anything doubtful goes to PCRE2.
fn rust_regex_reads_it_the_same(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    // Non-ASCII: PCRE2 without UTF sees bytes, so `[é]` is a two-byte class there.
    if !pattern.is_ascii() {
        return false;
    }
    // `$` also matches before a final newline in PCRE2.
    if b.contains(&b'$') {
        return false;
    }
    // `\<` `\>` are word boundaries in `regex`, literals in PCRE2; `{,n}` differs by version.
    for w in b.windows(2) {
        match w {
            [b'\\', b'<' | b'>'] => return false,
            [b'{', b','] => return false,
            // Possessive quantifiers in PCRE2, nested repetition (or an error) in `regex`.
            [b'*' | b'+' | b'?' | b'}', b'+'] => return false,
            _ => {}
        }
    }
    // `\b{start}` and friends are `regex` extensions.
    if pattern.contains("\\b{") || pattern.contains("\\B{") {
        return false;
    }
    // Inline flags: only `i` and `s` mean the same in both (`x` treats classes differently,
    // `m` differs at a trailing newline, `U` and `R` are unrelated).
    let mut rest = pattern;
    while let Some(at) = rest.find("(?") {
        let after = &rest[at + 2..];
        let flags: String = after
            .chars()
            .take_while(|c| *c != ':' && *c != ')')
            .collect();
        let named = after.starts_with('<') || after.starts_with("P<");
        if !named && !flags.chars().all(|c| matches!(c, 'i' | 's' | '-')) {
            return false;
        }
        rest = after;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_use_the_regex_crate() {
        assert!(!Pcre::compile(r"^user=(\w+) ok").unwrap().uses_pcre2());
    }

    #[test]
    fn lookaround_backrefs_and_dollar_use_pcre2() {
        for p in [
            r"foo(?=bar)",
            r"(a)\1",
            r"end$",
            r"a++b",
            r"x{,3}",
            r"\<tag",
        ] {
            assert!(Pcre::compile(p).unwrap().uses_pcre2(), "{p}");
        }
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_pcre2() {
        let p = Pcre::compile("abc$").unwrap();
        assert!(p.is_match(b"xabc\n"));
        assert!(!p.is_match(b"abc\nx"));
    }

    #[test]
    fn case_sensitive_by_default() {
        let p = Pcre::compile("Failed").unwrap();
        assert!(!p.is_match(b"failed"));
        assert!(Pcre::compile("(?i)Failed").unwrap().is_match(b"failed"));
    }

    #[test]
    fn captures_report_groups_and_span() {
        let p = Pcre::compile(r"user (\w+) from (\S+)").unwrap();
        let f = p.captures(b"x user bob from 1.2.3.4 y").unwrap();
        let (g, s, e) = (f.groups, f.start, f.end);
        assert_eq!(g, vec![(7, 10), (16, 23)]);
        assert_eq!((s, e), (2, 23));
    }
}
