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

//! OSSEC's own `*_pcre2` elements (`<pcre2>`, `<prematch_pcre2>`, `<id_pcre2>`...) are the
//! [`Flavor::Ossec`] variant: compiled with `PCRE2_CASELESS`, an empty pattern is an error,
//! groups that did not take part are left out of the captures, and an anchored pattern made
//! only of plain characters is compared as a string (so its `$` does not accept a final
//! newline), as OSSEC does.

use crate::simple::Simple;
use crate::{Found, PatternError};
use regex_syntax::hir::literal::Extractor;

/// Whose PCRE2 conventions a pattern follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Wazuh `type="pcre2"`: no compile options.
    Wazuh,
    /// OSSEC `*_pcre2` elements: caseless, with OSSEC's string shortcut.
    Ossec,
}

#[derive(Clone, Debug)]
pub(crate) struct Pcre {
    flavor: Flavor,
    engine: Engine,
}

#[derive(Clone, Debug)]
enum Engine {
    Fast(regex::bytes::Regex),
    Full(pcre2::bytes::Regex),
    /// OSSEC's shortcut for `^literal`, `literal$` and `^literal$`.
    Literal {
        literal: Box<[u8]>,
        at_start: bool,
        at_end: bool,
    },
    /// A pattern that is only plain literals between `|`, each optionally anchored
    /// (`^error: a$|^error: b$`), searched directly. Many rules are written so, and PCRE2
    /// would otherwise run them (for their `$`), with no literal for the prefilter.
    Alternatives(Box<[Alternative]>),
    /// A pattern of the shape [`Simple`] matches without backtracking (most decoders'
    /// `^for (\S+) from (\S+) port \d+`), with its source for literal extraction.
    Simple(Box<Simple>, Box<str>),
}

/// One branch of [`Engine::Alternatives`]: the literal and its anchors. `$` follows PCRE2:
/// the end of the text, or just before a final newline.
#[derive(Clone, Debug)]
struct Alternative {
    literal: Box<[u8]>,
    at_start: bool,
    at_end: bool,
}

impl Alternative {
    fn eq_at(&self, text: &[u8], at: usize, caseless: bool) -> bool {
        let n = self.literal.len();
        match text.get(at..at + n) {
            Some(window) if caseless => window.eq_ignore_ascii_case(&self.literal),
            Some(window) => *window == *self.literal,
            None => false,
        }
    }

    /// The leftmost position where this branch matches.
    fn leftmost(&self, text: &[u8], caseless: bool) -> Option<usize> {
        let n = self.literal.len();
        if self.at_end {
            // At the very end, or before a final newline; the earlier one first.
            let ends = [
                text.len().checked_sub(1).filter(|&e| text[e] == b'\n'),
                Some(text.len()),
            ];
            return ends.into_iter().flatten().find_map(|end| {
                let at = end.checked_sub(n)?;
                (!(self.at_start && at != 0) && self.eq_at(text, at, caseless)).then_some(at)
            });
        }
        if self.at_start {
            return self.eq_at(text, 0, caseless).then_some(0);
        }
        let first = self.literal[0];
        let (lower, upper) = if caseless {
            (first.to_ascii_lowercase(), first.to_ascii_uppercase())
        } else {
            (first, first)
        };
        let last_start = text.len().checked_sub(n)?;
        let mut from = 0;
        while from <= last_start {
            let at = from + memchr::memchr2(lower, upper, &text[from..=last_start])?;
            if self.eq_at(text, at, caseless) {
                return Some(at);
            }
            from = at + 1;
        }
        None
    }
}

/// Reads `pattern` as plain literals between top-level `|`, each with optional `^` and
/// `$`; `None` when it uses any other syntax. A backslash before ASCII punctuation is
/// that character, as in PCRE2.
fn literal_alternatives(pattern: &str) -> Option<Engine> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b" !\"#%&',/:;<=>@_`~-".contains(&b);
    let mut out = Vec::new();
    for branch in pattern.split('|') {
        let b = branch.as_bytes();
        let at_start = b.first() == Some(&b'^');
        let body = if at_start { &b[1..] } else { b };
        // A `$` that ends the branch is an anchor unless escaped.
        let at_end = body.last() == Some(&b'$') && !body.ends_with(b"\\$");
        let body = if at_end {
            &body[..body.len() - 1]
        } else {
            body
        };
        let mut literal = Vec::with_capacity(body.len());
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                b'\\' => {
                    let next = *body.get(i + 1)?;
                    // `\<` and `\>` differ between regex dialects: left to PCRE2.
                    if !next.is_ascii_punctuation() || matches!(next, b'<' | b'>') {
                        return None;
                    }
                    literal.push(next);
                    i += 2;
                }
                c if plain(c) => {
                    literal.push(c);
                    i += 1;
                }
                _ => return None,
            }
        }
        if literal.is_empty() {
            return None;
        }
        out.push(Alternative {
            literal: literal.into(),
            at_start,
            at_end,
        });
    }
    Some(Engine::Alternatives(out.into()))
}

impl Pcre {
    pub(crate) fn compile(pattern: &str, flavor: Flavor) -> Result<Pcre, PatternError> {
        let caseless = flavor == Flavor::Ossec;
        if caseless {
            if pattern.is_empty() {
                return Err(PatternError::Empty);
            }
            if let Some(engine) = ossec_literal_shortcut(pattern) {
                return Ok(Pcre { flavor, engine });
            }
        }
        if let Some(engine) = literal_alternatives(pattern) {
            return Ok(Pcre { flavor, engine });
        }
        if let Some(simple) = simple_engine(pattern, caseless) {
            return Ok(Pcre {
                flavor,
                engine: Engine::Simple(Box::new(simple), pattern.into()),
            });
        }
        if rust_regex_reads_it_the_same(pattern) {
            if let Ok(re) = regex::bytes::RegexBuilder::new(pattern)
                .unicode(false)
                .case_insensitive(caseless)
                .size_limit(1 << 20)
                .build()
            {
                return Ok(Pcre {
                    flavor,
                    engine: Engine::Fast(re),
                });
            }
        }
        pcre2::bytes::RegexBuilder::new()
            .utf(false)
            .caseless(caseless)
            .jit_if_available(true)
            .build(pattern)
            .map(|re| Pcre {
                flavor,
                engine: Engine::Full(re),
            })
            .map_err(|e| PatternError::Pcre2 {
                column: e.offset().map(|o| o + 1),
                message: e.to_string(),
            })
    }

    pub(crate) fn is_case_insensitive(&self) -> bool {
        self.flavor == Flavor::Ossec
    }

    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        match &self.engine {
            Engine::Fast(re) => re.is_match(text),
            // An error here is a resource limit; Wazuh and OSSEC treat it as no match.
            Engine::Full(re) => re.is_match(text).unwrap_or(false),
            Engine::Literal { .. } => self.literal_span(text).is_some(),
            Engine::Alternatives(_) => self.alternatives_span(text).is_some(),
            Engine::Simple(simple, _) => simple.find(text, None).is_some(),
        }
    }

    /// PCRE2's answer for [`Engine::Alternatives`]: the leftmost start, and at equal
    /// starts the first branch.
    fn alternatives_span(&self, text: &[u8]) -> Option<(usize, usize)> {
        let Engine::Alternatives(branches) = &self.engine else {
            return None;
        };
        let caseless = self.is_case_insensitive();
        let mut best: Option<(usize, usize)> = None;
        for branch in branches.iter() {
            if let Some(at) = branch.leftmost(text, caseless) {
                if best.is_none_or(|(start, _)| at < start) {
                    best = Some((at, at + branch.literal.len()));
                }
            }
        }
        best
    }

    fn literal_span(&self, text: &[u8]) -> Option<(usize, usize)> {
        let Engine::Literal {
            literal,
            at_start,
            at_end,
        } = &self.engine
        else {
            return None;
        };
        let n = literal.len();
        if text.len() < n {
            return None;
        }
        match (at_start, at_end) {
            (true, true) => text.eq_ignore_ascii_case(literal).then_some((0, n)),
            (true, false) => text[..n].eq_ignore_ascii_case(literal).then_some((0, n)),
            _ => text[text.len() - n..]
                .eq_ignore_ascii_case(literal)
                .then(|| (text.len() - n, text.len())),
        }
    }

    /// Where the leftmost match ends, without extracting groups: a `<prematch>` needs
    /// only that, and a plain search is several times cheaper than one with captures.
    pub(crate) fn find_end(&self, text: &[u8]) -> Option<usize> {
        match &self.engine {
            Engine::Literal { .. } => self.literal_span(text).map(|(_, end)| end),
            Engine::Alternatives(_) => self.alternatives_span(text).map(|(_, end)| end),
            Engine::Fast(re) => re.find(text).map(|m| m.end()),
            Engine::Full(re) => re.find(text).ok()?.map(|m| m.end()),
            Engine::Simple(simple, _) => simple.find(text, None).map(|(_, end)| end),
        }
    }

    /// Group spans (the ones PCRE2 reports, up to the highest group that took part; a group
    /// in between that did not take part is empty), match start and match end.
    pub(crate) fn captures(&self, text: &[u8]) -> Option<Found> {
        let ossec = self.flavor == Flavor::Ossec;
        match &self.engine {
            Engine::Literal { .. } => {
                let (start, end) = self.literal_span(text)?;
                Some(Found {
                    groups: Vec::new(),
                    start,
                    end,
                })
            }
            Engine::Alternatives(_) => {
                let (start, end) = self.alternatives_span(text)?;
                Some(Found {
                    groups: Vec::new(),
                    start,
                    end,
                })
            }
            Engine::Fast(re) => {
                let caps = re.captures(text)?;
                let whole = caps.get(0)?;
                let spans = (1..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end())));
                let groups = group_list(spans, ossec);
                Some(Found {
                    groups,
                    start: whole.start(),
                    end: whole.end(),
                })
            }
            Engine::Simple(simple, _) => {
                let mut spans = [None; 32];
                let spans = spans.get_mut(..simple.group_count())?;
                let (start, end) = simple.find(text, Some(spans))?;
                let groups = group_list(spans.iter().copied(), ossec);
                Some(Found { groups, start, end })
            }
            Engine::Full(re) => {
                let caps = re.captures(text).ok()??;
                let whole = caps.get(0)?;
                let spans = (1..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end())));
                let groups = group_list(spans, ossec);
                Some(Found {
                    groups,
                    start: whole.start(),
                    end: whole.end(),
                })
            }
        }
    }

    pub(crate) fn group_count(&self) -> usize {
        match &self.engine {
            Engine::Fast(re) => re.captures_len().saturating_sub(1),
            Engine::Full(re) => re.captures_len().saturating_sub(1),
            Engine::Simple(simple, _) => simple.group_count(),
            Engine::Literal { .. } | Engine::Alternatives(_) => 0,
        }
    }

    pub(crate) fn uses_pcre2(&self) -> bool {
        matches!(self.engine, Engine::Full(_))
    }

    pub(crate) fn uses_simple(&self) -> bool {
        matches!(self.engine, Engine::Simple(..))
    }

    /// Literals one of which starts every match, from the `regex` crate's analysis. Only for
    /// patterns the `regex` crate parsed; case-sensitive.
    pub(crate) fn required_literals(&self) -> Option<Vec<String>> {
        let source = match &self.engine {
            Engine::Fast(re) => re.as_str(),
            Engine::Simple(_, source) => source,
            Engine::Literal { literal, .. } => {
                if literal.is_empty() {
                    return None;
                }
                return Some(vec![String::from_utf8(literal.to_ascii_lowercase()).ok()?]);
            }
            Engine::Alternatives(branches) => {
                let mut out: Vec<String> = branches
                    .iter()
                    .map(|b| {
                        let bytes = if self.is_case_insensitive() {
                            b.literal.to_ascii_lowercase()
                        } else {
                            b.literal.to_vec()
                        };
                        String::from_utf8(bytes).ok()
                    })
                    .collect::<Option<_>>()?;
                out.sort();
                out.dedup();
                return Some(out);
            }
            Engine::Full(_) => return None,
        };
        let hir = crate::simple::parse_bytes(source, false)?;
        let mut seq = Extractor::new().extract(&hir);
        if self.is_case_insensitive() {
            // Case variants collapse once lower-cased; the caller searches ignoring case.
            seq.make_inexact();
        }
        let lits = seq.literals()?;
        if lits.is_empty() || lits.len() > 64 {
            return None;
        }
        let mut out = Vec::with_capacity(lits.len());
        for l in lits {
            if l.as_bytes().is_empty() {
                return None;
            }
            let bytes = if self.is_case_insensitive() {
                l.as_bytes().to_ascii_lowercase()
            } else {
                l.as_bytes().to_vec()
            };
            out.push(String::from_utf8(bytes).ok()?);
        }
        out.sort();
        out.dedup();
        Some(out)
    }
}

/// Groups as Wazuh (every group up to the last that took part, an absent one as empty) or
/// OSSEC (only the groups that took part, at most 64) report them.
fn group_list(
    spans: impl Iterator<Item = Option<(usize, usize)>>,
    ossec: bool,
) -> Vec<(usize, usize)> {
    if ossec {
        return spans.flatten().take(64).collect();
    }
    let all: Vec<Option<(usize, usize)>> = spans.collect();
    let last_set = all.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    all[..last_set]
        .iter()
        .map(|s| s.unwrap_or((0, 0)))
        .collect()
}

/// OSSEC compares `^lit`, `lit$` and `^lit$` as strings when `lit` has only characters from
/// a fixed set with no regex meaning; an unanchored literal still goes to PCRE2.
fn ossec_literal_shortcut(pattern: &str) -> Option<Engine> {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b" !\"#%&',/:;<=>@_`~-".contains(b);
    let b = pattern.as_bytes();
    let body = b.strip_prefix(b"^").unwrap_or(b);
    let body = body.strip_suffix(b"$").unwrap_or(body);
    if !body.iter().all(plain) {
        return None;
    }
    let at_start = b.first() == Some(&b'^');
    let at_end = b.last() == Some(&b'$') && !(b.len() == 1 && at_start);
    if !at_start && !at_end {
        return None;
    }
    let mut literal = b;
    if at_start {
        literal = &literal[1..];
    }
    if at_end {
        literal = &literal[..literal.len().saturating_sub(1)];
    }
    Some(Engine::Literal {
        literal: literal.into(),
        at_start,
        at_end,
    })
}

/// The [`Simple`] form of `pattern`, when `regex-syntax` reads it as PCRE2 does (its `$`
/// aside, which [`Simple`] gives PCRE2's meaning) and it has the simple shape.
fn simple_engine(pattern: &str, caseless: bool) -> Option<Simple> {
    // `\z` is an absolute end in both, which `Simple` would read as PCRE2's `$`.
    if !parses_as_in_pcre2(pattern) || pattern.contains("\\z") {
        return None;
    }
    Simple::new(&crate::simple::parse_bytes(pattern, caseless)?)
}

/// Whether the `regex` crate, with Unicode off, gives this pattern the same meaning PCRE2
/// does. Conservative: anything doubtful goes to PCRE2.
fn rust_regex_reads_it_the_same(pattern: &str) -> bool {
    // `$` also matches before a final newline in PCRE2.
    !pattern.contains('$') && parses_as_in_pcre2(pattern)
}

/// [`rust_regex_reads_it_the_same`] but for `$`.
fn parses_as_in_pcre2(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    // Non-ASCII: PCRE2 without UTF sees bytes, so `[é]` is a two-byte class there.
    if !pattern.is_ascii() {
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
        assert!(!Pcre::compile(r"^user=(\w+) ok", Flavor::Wazuh)
            .unwrap()
            .uses_pcre2());
    }

    #[test]
    fn lookaround_backrefs_and_dollar_use_pcre2() {
        for p in [r"foo(?=bar)", r"(a)\1", r"a++b", r"x{,3}", r"\<tag"] {
            assert!(Pcre::compile(p, Flavor::Wazuh).unwrap().uses_pcre2(), "{p}");
        }
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_pcre2() {
        let p = Pcre::compile("abc$", Flavor::Wazuh).unwrap();
        assert!(p.is_match(b"xabc\n"));
        assert!(!p.is_match(b"abc\nx"));
        // A simple pattern with `$` runs without PCRE2, with PCRE2's `$`.
        let p = Pcre::compile(r"e(\w)$", Flavor::Wazuh).unwrap();
        assert!(matches!(p.engine, Engine::Simple(..)));
        assert!(p.is_match(b"one1\n"));
        assert!(!p.is_match(b"one1\nx"));
        assert_eq!(p.captures(b"xe1\n").map(|f| f.groups), Some(vec![(2, 3)]));
        assert!(!Pcre::compile(r"e\w\z", Flavor::Wazuh)
            .unwrap()
            .is_match(b"e1\n"));
    }

    #[test]
    fn case_sensitive_by_default() {
        let p = Pcre::compile("Failed", Flavor::Wazuh).unwrap();
        assert!(!p.is_match(b"failed"));
        assert!(Pcre::compile("(?i)Failed", Flavor::Wazuh)
            .unwrap()
            .is_match(b"failed"));
    }

    #[test]
    fn literal_alternatives_match_as_pcre2_does() {
        let p = Pcre::compile(r"^error: a b$|^fatal: x\.$|crond", Flavor::Ossec).unwrap();
        assert!(matches!(p.engine, Engine::Alternatives(_)));
        assert!(p.is_match(b"ERROR: A B"));
        assert!(p.is_match(b"error: a b\n"), "$ before a final newline");
        assert!(!p.is_match(b"error: a b c"));
        assert!(!p.is_match(b"x error: a b"));
        assert!(p.is_match(b"fatal: x."));
        assert!(!p.is_match(b"fatal: xy"));
        assert!(p.is_match(b"the CronD daemon"));
        assert_eq!(p.find_end(b"a crond b"), Some(7));
        let w = Pcre::compile("Failed|crond$", Flavor::Wazuh).unwrap();
        assert!(matches!(w.engine, Engine::Alternatives(_)));
        assert!(!w.is_match(b"failed"), "Wazuh's pcre2 is case-sensitive");
        assert!(w.is_match(b"x crond"));
        assert_eq!(
            w.required_literals(),
            Some(vec!["Failed".into(), "crond".into()])
        );
        // Leftmost start wins over branch order.
        let f = Pcre::compile("Failed|crond", Flavor::Wazuh)
            .unwrap()
            .captures(b"crond Failed")
            .unwrap();
        assert_eq!((f.start, f.end), (0, 5));
        for other in [r"a|", r"a(b)|c", r"a.b|c", r"\d+|x", r"^$"] {
            let c = Pcre::compile(other, Flavor::Wazuh).unwrap();
            assert!(!matches!(c.engine, Engine::Alternatives(_)), "{other}");
        }
    }

    #[test]
    fn captures_report_groups_and_span() {
        let p = Pcre::compile(r"user (\w+) from (\S+)", Flavor::Wazuh).unwrap();
        let f = p.captures(b"x user bob from 1.2.3.4 y").unwrap();
        let (g, s, e) = (f.groups, f.start, f.end);
        assert_eq!(g, vec![(7, 10), (16, 23)]);
        assert_eq!((s, e), (2, 23));
    }
}
