//! The `os_regex` dialect (OSSEC's `OSRegex`, used by `<regex>`, `<prematch>` and decoders).
//!
//! # Syntax
//! - Top-level `|` separates alternatives, tried in order; the first that matches wins. A `|`
//!   inside parentheses is an error.
//! - `^` at the very start and `$` at the very end of an alternative anchor it. Anywhere else
//!   they are literal characters.
//! - Escapes: `\d \D \w \W \s \S \p \.` are classes (see `classes.rs`), `\t \( \) \\ \$ \| \<`
//!   are literal characters. Any other escape is an error: `\[`, `\n`, `\/`, `\-` are rejected.
//! - `+` and `*` are quantifiers only right after an escape (`\d+`, `\.*`, `\(*`). Elsewhere
//!   they are literal: `a+` matches the text `a+`.
//! - `(` and `)` mark a capture group; one level only, no nesting. `[`, `]`, `{`, `}`, `?` and
//!   `.` are literal characters.
//! - Matching ignores ASCII case.
//!
//! # Matching
//! OSSEC does not backtrack like a regex engine. It walks the text once per start position
//! with a cursor in the pattern. A quantified class keeps consuming until the *next* pattern
//! element matches the current character, then hands over at once (so it is lazy, not
//! greedy), and only the last four such hand-overs are remembered for a retry when something
//! later fails. Where a character matches both the class and the next element, the character
//! is consumed by both. The reported end of the match is the last character the walk
//! accepted, which for a trailing `\w+` is the first character of the run. Decoders depend on
//! every one of these details, so [`exec`] reproduces the walk step by step rather than
//! translating to a real regex; a literal-only alternative uses a substring search that gives
//! the same answers (a test checks the two against each other).
//!
//! Whether captures are asked for changes the walk slightly (OSSEC records group boundaries
//! only when the pattern was compiled to return substrings, and one end-of-text step moves the
//! pattern cursor only in that mode). [`OsRegex::captures`] is that mode, which decoders'
//! `<regex>` uses; [`OsRegex::find_end`] and [`OsRegex::is_match`] are the other, which rules
//! and `<prematch>` use.

use crate::classes::{class_matches, fold, Class};
use crate::finder::{commonness, find_ignore_case, Finder};
use crate::{Found, PatternError};

const BACKSLASH: u8 = b'\\';
/// Both parentheses compile to this byte: the walk only needs to know a group boundary is here.
const MARK: u8 = b'(';

#[derive(Clone, Debug)]
pub(crate) struct OsRegex {
    alternatives: Vec<Alternative>,
    /// Whether the whole pattern has a group. OSSEC records boundaries only if so, even for
    /// alternatives without one.
    has_groups: bool,
    /// Literals one of which every match contains (one per alternative), lower-cased.
    required: Option<Vec<Vec<u8>>>,
    /// Search for `required`, to reject most texts without walking the pattern.
    prefilter: Option<Finder>,
}

#[derive(Clone, Debug)]
struct Alternative {
    /// The compiled alternative: literal bytes (lower-cased), `\` followed by a class code,
    /// `+`/`*`, and `(` for every group boundary. Anchors are removed and kept as flags.
    code: Vec<u8>,
    begin: bool,
    end: bool,
    /// Offsets in `code` of the group boundaries, in order.
    marks: Vec<usize>,
    /// Set when the alternative has no classes, quantifiers or groups: the bytes it must match.
    literal: Option<Vec<u8>>,
    /// Searches for `literal` when the alternative is unanchored.
    literal_finder: Option<Finder>,
}

impl OsRegex {
    pub(crate) fn compile(pattern: &str) -> Result<OsRegex, PatternError> {
        let bytes = pattern.as_bytes();
        let mut code = Vec::with_capacity(bytes.len());
        let mut depth: i32 = 0;
        let mut groups = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == BACKSLASH {
                let Some(&next) = bytes.get(i + 1) else {
                    return Err(PatternError::TrailingBackslash {
                        column: column(pattern, i),
                    });
                };
                let Some(class) = Class::from_escape(next) else {
                    return Err(PatternError::UnknownEscape {
                        column: column(pattern, i),
                        escape: pattern[i + 1..].chars().next().unwrap_or('?'),
                    });
                };
                code.push(BACKSLASH);
                code.push(class as u8);
                i += 2;
                continue;
            }
            let mut out = b;
            if b == b'(' {
                depth += 1;
            } else if b == b')' {
                out = MARK;
                depth -= 1;
                groups += 1;
            }
            if depth > 1 {
                return Err(PatternError::BadParenthesis {
                    column: column(pattern, i),
                    reason: "nested group (OSSEC allows one level)",
                });
            }
            if depth < 0 {
                return Err(PatternError::BadParenthesis {
                    column: column(pattern, i),
                    reason: "`)` without a matching `(`",
                });
            }
            if b == b'|' && depth != 0 {
                return Err(PatternError::BadParenthesis {
                    column: column(pattern, i),
                    reason: "`|` inside a group",
                });
            }
            code.push(fold(out));
            i += 1;
        }
        if depth != 0 {
            return Err(PatternError::BadParenthesis {
                column: column(pattern, pattern.len()),
                reason: "group not closed",
            });
        }

        let alternatives: Vec<Alternative> = split_alternatives(&code)
            .into_iter()
            .map(Alternative::new)
            .collect();
        let required: Option<Vec<Vec<u8>>> = alternatives
            .iter()
            .map(Alternative::required_literal)
            .collect();
        // When every alternative is a plain literal, its own search is the prefilter; when
        // every one is anchored at the start and begins with a literal byte, the walk gives
        // up at the first mismatch, which is cheaper than scanning the whole text for a
        // literal. An anchored alternative that begins with a class (`^\p*\w+\s+...%`)
        // can walk far into every line before it fails, so it keeps the prefilter.
        let all_literal = alternatives.iter().all(|a| a.literal.is_some());
        let all_anchored_on_literal = alternatives
            .iter()
            .all(|a| a.begin && matches!(tokens(&a.code).first(), Some(Token::Literal(_))));
        let prefilter = if all_literal || all_anchored_on_literal {
            None
        } else {
            required.as_deref().and_then(Finder::new)
        };
        Ok(OsRegex {
            alternatives,
            has_groups: groups > 0,
            required,
            prefilter,
        })
    }

    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        self.find_end(text).is_some()
    }

    /// `is_match` for a caller that has already seen one of the required literals in `text`.
    pub(crate) fn is_match_prefiltered(&self, text: &[u8]) -> bool {
        self.alternatives
            .iter()
            .any(|alt| alt.run(text, None).is_some())
    }

    /// The OSSEC end position of the match, without recording groups (rules, `<prematch>`).
    pub(crate) fn find_end(&self, text: &[u8]) -> Option<usize> {
        if let Some(pre) = &self.prefilter {
            if !pre.is_match(text) {
                return None;
            }
        }
        self.alternatives
            .iter()
            .find_map(|alt| alt.run(text, None))
            .map(|last| end_after(text, last))
    }

    /// Matches recording groups (decoders' `<regex>`). Returns the group spans, the match start
    /// (best effort: OSSEC does not compute one) and the OSSEC end position.
    pub(crate) fn captures(&self, text: &[u8]) -> Option<Found> {
        if let Some(pre) = &self.prefilter {
            if !pre.is_match(text) {
                return None;
            }
        }
        for alt in &self.alternatives {
            let mut bounds = vec![None; alt.marks.len()];
            let recorder = self.has_groups.then_some(&mut bounds[..]);
            let mut attempt_start = None;
            let Some(last) = alt.run_with_start(text, recorder, &mut attempt_start) else {
                continue;
            };
            let end = end_after(text, last);
            // OSSEC copies groups pairwise and stops at the first boundary that was never set.
            let mut groups = Vec::with_capacity(bounds.len() / 2);
            for pair in bounds.chunks_exact(2) {
                let (Some(s), Some(e)) = (pair[0], pair[1]) else {
                    break;
                };
                // OSSEC computes the length unsigned; a reversed pair makes its allocation fail
                // and the whole match is reported as failed.
                if e < s {
                    return None;
                }
                groups.push((s, e));
            }
            let start = attempt_start.map_or(end, |s| usize::try_from(s).unwrap_or(0).min(end));
            return Some(Found { groups, start, end });
        }
        None
    }

    pub(crate) fn required_literals(&self) -> Option<Vec<String>> {
        let lits = self.required.as_ref()?;
        let mut out = Vec::with_capacity(lits.len());
        for l in lits {
            out.push(String::from_utf8(l.clone()).ok()?);
        }
        out.sort();
        out.dedup();
        Some(out)
    }

    /// The group count of the alternative with the most groups.
    pub(crate) fn group_count(&self) -> usize {
        self.alternatives
            .iter()
            .map(|a| a.marks.len() / 2)
            .max()
            .unwrap_or(0)
    }
}

/// The 1-based character column of byte offset `at`.
fn column(pattern: &str, at: usize) -> usize {
    let at = at.min(pattern.len());
    pattern.char_indices().take_while(|&(i, _)| i < at).count() + 1
}

/// Splits at `|` bytes. Class codes never equal `|`, so an escaped `\|` survives.
fn split_alternatives(code: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut start = 0;
    while i < code.len() {
        if code[i] == BACKSLASH {
            i += 2;
            continue;
        }
        if code[i] == b'|' {
            out.push(code[start..i].to_vec());
            start = i + 1;
        }
        i += 1;
    }
    out.push(code[start..].to_vec());
    out
}

/// Where the decoder continues after a match whose last accepted character is `last`: the
/// next character, unless `last` is already the end of the text. `-1` (a leading `\x*` that
/// matched nothing) continues at 0.
fn end_after(text: &[u8], last: isize) -> usize {
    if last < 0 {
        return 0;
    }
    let last = last as usize;
    if last < text.len() && text[last] != 0 {
        last + 1
    } else {
        last.min(text.len())
    }
}

/// Whether `run` makes a better required literal than `best`: longer, or as long with a
/// rarer byte (a prefilter on `%` rules out far more log lines than one on `:`).
fn better_literal(run: &[u8], best: &[u8]) -> bool {
    let rarest = |l: &[u8]| l.iter().map(|&b| commonness(b)).min().unwrap_or(u8::MAX);
    run.len() > best.len()
        || (run.len() == best.len() && !run.is_empty() && rarest(run) < rarest(best))
}

/// What a compiled byte is, for the analyses that walk the code.
enum Token {
    /// A byte that must equal the (folded) text byte.
    Literal(u8),
    /// A class escape, with its quantifier if any.
    Class { code: u8, quantifier: Option<u8> },
    /// A group boundary.
    Mark,
}

fn tokens(code: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        match code[i] {
            BACKSLASH => {
                let c = code.get(i + 1).copied().unwrap_or(0);
                let q = code.get(i + 2).copied().filter(|&q| q == b'+' || q == b'*');
                out.push(Token::Class {
                    code: c,
                    quantifier: q,
                });
                i += if q.is_some() { 3 } else { 2 };
            }
            MARK => {
                out.push(Token::Mark);
                i += 1;
            }
            b => {
                out.push(Token::Literal(b));
                i += 1;
            }
        }
    }
    out
}

impl Alternative {
    fn new(mut code: Vec<u8>) -> Alternative {
        let begin = code.first() == Some(&b'^');
        if begin {
            code.remove(0);
        }
        let end = code.last() == Some(&b'$');
        if end {
            code.pop();
        }
        let mut marks = Vec::new();
        let mut i = 0;
        while i < code.len() {
            match code[i] {
                BACKSLASH => i += 2,
                MARK => {
                    marks.push(i);
                    i += 1;
                }
                _ => i += 1,
            }
        }
        let literal = Self::literal_only(&code);
        let literal_finder = match &literal {
            Some(lit) if !begin => Finder::new(std::slice::from_ref(lit)),
            _ => None,
        };
        Alternative {
            code,
            begin,
            end,
            marks,
            literal,
            literal_finder,
        }
    }

    /// The bytes of an alternative made only of literals and single-character escapes.
    fn literal_only(code: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(code.len());
        for t in tokens(code) {
            match t {
                Token::Literal(b) => out.push(b),
                Token::Class {
                    code,
                    quantifier: None,
                } => out.push(Class::exact_byte(code)?),
                _ => return None,
            }
        }
        // The empty alternative has quirks of its own (see `run_literal`), so the walk takes it.
        (!out.is_empty()).then_some(out)
    }

    /// The longest run of bytes that every match of this alternative contains contiguously.
    ///
    /// Each literal consumes exactly one text character, and the next element is compared
    /// with the next character, so a run of literals appears verbatim; no step of the walk
    /// skips a literal. Escapes break the run. Group boundaries consume nothing, but the run
    /// is cut there too, to stay on the safe side.
    fn required_literal(&self) -> Option<Vec<u8>> {
        let mut best: Vec<u8> = Vec::new();
        let mut run: Vec<u8> = Vec::new();
        let mut toks = tokens(&self.code);
        // When an unquantified escape fails to match during a run and at most one byte of the
        // pattern follows it, OSSEC declares the match complete: that final byte is optional.
        if let [.., Token::Class {
            quantifier: None, ..
        }, Token::Literal(_)] = toks[..]
        {
            toks.pop();
        }
        for t in toks {
            // Escapes, even single-character ones like `\(`, are left out: at the end of the
            // text OSSEC's final check can step over one escape that follows a run.
            let byte = match t {
                Token::Literal(b) => Some(b),
                _ => None,
            };
            match byte {
                Some(b) => run.push(b),
                None => {
                    if better_literal(&run, &best) {
                        best = std::mem::take(&mut run);
                    }
                    run.clear();
                }
            }
        }
        if better_literal(&run, &best) {
            best = run;
        }
        (!best.is_empty()).then_some(best)
    }

    /// Runs this alternative; returns the index of the last accepted character (OSSEC's return
    /// pointer), which may be -1.
    fn run(&self, text: &[u8], bounds: Option<&mut [Option<usize>]>) -> Option<isize> {
        self.run_with_start(text, bounds, &mut None)
    }

    fn run_with_start(
        &self,
        text: &[u8],
        bounds: Option<&mut [Option<usize>]>,
        start: &mut Option<isize>,
    ) -> Option<isize> {
        match (&self.literal, bounds) {
            (Some(lit), _) => {
                let last = self.run_literal(lit, text)?;
                *start = Some(last + 1 - lit.len() as isize);
                Some(last)
            }
            (None, bounds) => exec(self, text, bounds, start),
        }
    }

    /// The walk's result for a literal-only alternative, found by substring search. The walk
    /// restarts one character after each failed attempt's start, so it finds the leftmost
    /// occurrence; with `$` it keeps going until an occurrence ends the text.
    fn run_literal(&self, lit: &[u8], text: &[u8]) -> Option<isize> {
        // The walk stops at a NUL byte as C strings do.
        let text = match memchr::memchr(0, text) {
            Some(nul) => &text[..nul],
            None => text,
        };
        let n = lit.len();
        let start = match (self.begin, self.end) {
            (true, true) => (text.len() == n && text.eq_ignore_ascii_case(lit)).then_some(0),
            (true, false) => (text.len() >= n && text[..n].eq_ignore_ascii_case(lit)).then_some(0),
            (false, true) => (text.len() >= n && text[text.len() - n..].eq_ignore_ascii_case(lit))
                .then(|| text.len() - n),
            (false, false) => match &self.literal_finder {
                Some(f) => f.find(text),
                None => find_ignore_case(text, lit),
            },
        }?;
        Some((start + n) as isize - 1)
    }
}

/// OSSEC's pattern walk over one alternative. `bounds` receives group boundaries when the
/// caller asked for substrings, `attempt_start` the first character the successful attempt
/// accepted (OSSEC does not track it; it is kept for the match span). Returns the index of
/// the last accepted character.
///
/// Indexing past either end reads as NUL, like the C strings the original walks, and a NUL
/// inside the text ends it the same way.
fn exec(
    alt: &Alternative,
    text: &[u8],
    mut bounds: Option<&mut [Option<usize>]>,
    attempt_start: &mut Option<isize>,
) -> Option<isize> {
    let code = &alt.code[..];
    let p = |i: usize| -> u8 { code.get(i).copied().unwrap_or(0) };
    let t = |i: isize| -> u8 {
        if i < 0 {
            return 0;
        }
        text.get(i as usize).copied().unwrap_or(0)
    };
    let recording = bounds.is_some();
    let mut record = |at: usize, value: isize| {
        if let Some(b) = bounds.as_deref_mut() {
            if let Ok(k) = alt.marks.binary_search(&at) {
                b[k] = Some(value.max(0) as usize);
            }
        }
    };
    let is_quant = |b: u8| b == b'+' || b == b'*';

    let mut pt: usize = 0;
    let mut st: isize = 0;
    let mut last: Option<isize> = Some(0);

    // When the alternative starts with a literal byte, an attempt at any other character
    // fails at once and changes nothing but `last` (to None), so the walk can jump straight
    // to the next character that could start a match, or to the end of the text (a NUL
    // included, where the walk stops anyway).
    let first_literal = match p(0) {
        0 | BACKSLASH | MARK => None,
        c => Some(c),
    };
    let next_start = |from: isize| -> isize {
        let (Some(c), Ok(from)) = (first_literal, usize::try_from(from)) else {
            return from;
        };
        let hay = text.get(from..).unwrap_or(&[]);
        let found = memchr::memchr3(c, c.to_ascii_uppercase(), 0, hay);
        (from + found.unwrap_or(hay.len())) as isize
    };
    if !alt.begin && first_literal.is_some() {
        let q = next_start(0);
        if q > 0 {
            st = q;
            last = None;
        }
    }
    let mut in_run = false;
    let mut restart_at: Option<isize> = None;
    // Up to four (pattern, text) positions to resume a quantified class from.
    let mut retry: [Option<(usize, isize)>; 4] = [None; 4];

    while t(st) != 0 {
        'step: {
            // A group boundary or the end of the pattern at the cursor.
            match p(pt) {
                0 if !alt.end => return last,
                MARK => {
                    record(pt, st);
                    pt += 1;
                    if p(pt) == 0 && !alt.end {
                        return last;
                    }
                }
                _ => {}
            }

            if p(pt) == BACKSLASH {
                if class_matches(p(pt + 1), t(st)) {
                    let mut next = pt + 2;
                    if !is_quant(p(next)) {
                        // A single class character: consumed, move on.
                        pt = next;
                        restart_at.get_or_insert(st);
                        last = Some(st);
                        attempt_start.get_or_insert(st);
                        break 'step;
                    }
                    if p(next) == b'*' {
                        in_run = true;
                    }
                    if in_run {
                        // Inside a run: see whether the element after the quantifier takes
                        // this character, and hand over to it if so.
                        next += 1;
                        let mut advance: Option<usize> = None;
                        if p(next) == MARK {
                            next += 1;
                        }
                        if p(next) == 0 {
                            advance = Some(1);
                        } else if p(next) == BACKSLASH {
                            if class_matches(p(next + 1), t(st)) {
                                advance = Some(if is_quant(p(next + 2)) { 0 } else { 2 });
                            }
                        } else if p(next) == fold(t(st)) {
                            in_run = false;
                            advance = Some(1);
                        }
                        if let Some(adv) = advance {
                            if recording && p(next - 1) == MARK {
                                let at = if in_run && adv == 1 { st + 1 } else { st };
                                record(next - 1, at);
                            }
                            if p(next) == 0 {
                                // The run is the last element: keep consuming; the accepted
                                // end is deliberately not moved.
                                break 'step;
                            }
                            next += adv;
                            if let Some(slot) = retry.iter_mut().find(|s| s.is_none()) {
                                *slot = Some((pt, st));
                            }
                            pt = next;
                        }
                    } else {
                        // First character of a `+` run.
                        next += 1;
                        if recording && p(next) == MARK {
                            let at = if t(st + 1) == 0 { st + 1 } else { st };
                            record(next, at);
                        }
                        in_run = true;
                    }
                    last = Some(st);
                    attempt_start.get_or_insert(st);
                    break 'step;
                } else if (p(pt + 2) == 0 || p(pt + 3) == 0) && in_run && last.is_some() {
                    // The final run ended: the match is complete unless `$` wants more.
                    last = Some(st);
                    if !alt.end {
                        return last;
                    }
                } else if p(pt + 2) == b'+' && in_run {
                    // A run ended: move past it and look at this character again.
                    pt += 3;
                    st -= 1;
                    in_run = false;
                    break 'step;
                } else if p(pt + 2) == b'*' {
                    // An empty `*` run: skip it and look at this character again.
                    pt += 3;
                    st -= 1;
                    last = Some(st);
                    in_run = false;
                    break 'step;
                }
                in_run = false;
            } else if p(pt) == fold(t(st)) {
                pt += 1;
                restart_at.get_or_insert(st);
                last = Some(st);
                attempt_start.get_or_insert(st);
                break 'step;
            }

            // Mismatch: resume the latest remembered run, or start over.
            if let Some(slot) = retry.iter_mut().rev().find(|s| s.is_some()) {
                if let Some((rp, rs)) = slot.take() {
                    pt = rp;
                    st = rs;
                }
                break 'step;
            }
            if alt.begin {
                return None;
            }
            if let Some(r) = restart_at.take() {
                st = r;
            }
            pt = 0;
            last = None;
            *attempt_start = None;
            if first_literal.is_some() {
                st = next_start(st + 1) - 1;
            }
        }
        st += 1;
    }

    // End of text. In substring mode OSSEC first skips trailing `\x*` elements to find a
    // final group boundary and records it; that also moves the cursor for the checks below.
    if recording {
        while p(pt) != MARK && p(pt) != 0 {
            if p(pt) == BACKSLASH && p(pt + 2) == b'*' {
                pt += 3;
            } else {
                break;
            }
        }
        if p(pt) == MARK {
            record(pt, st);
        }
    }

    // What is left of the pattern may only be a group boundary, the run in progress, and
    // `*` runs that can be empty. The cursor moves as each test reads, as in the original.
    let skip_mark = |pt: &mut usize| {
        if p(*pt) == MARK {
            *pt += 1;
        }
    };
    skip_mark(&mut pt);
    if p(pt) == 0 {
        return last;
    }
    if p(pt) == BACKSLASH && in_run {
        pt += 2;
        if is_quant(p(pt)) {
            pt += 1;
            skip_mark(&mut pt);
            if p(pt) == 0 {
                return last;
            }
            if p(pt) == BACKSLASH {
                pt += 2;
                if p(pt) == b'*' {
                    pt += 1;
                    skip_mark(&mut pt);
                    if p(pt) == 0 {
                        return last;
                    }
                }
            }
        }
    }
    if p(pt) == BACKSLASH {
        pt += 2;
        if p(pt) == b'*' {
            pt += 1;
            skip_mark(&mut pt);
            if p(pt) == 0 {
                return last;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_pattern_starting_with_a_class_is_prefiltered_on_its_rarest_literal() {
        // Wazuh's cisco-ios prematch runs on every line of every program; without a
        // prefilter its walk goes deep into lines that lack the `%` it needs.
        let re = OsRegex::compile(r"^\p*\w+\s+\d*\s\d+:\d+:\d+:\s+%").unwrap();
        assert_eq!(re.required_literals(), Some(vec!["%".to_string()]));
        assert!(re.prefilter.is_some());
        assert!(re.is_match(b"*Mar  1 18:46:11: %LINK-5-CHANGED: Interface up"));
        assert!(!re.is_match(b"Mar  1 18:46:11: LINK-5-CHANGED: Interface up"));
        // Anchored on a literal byte: the walk fails at once, no prefilter needed.
        assert!(OsRegex::compile(r"^Failed \S+ ")
            .unwrap()
            .prefilter
            .is_none());
    }

    /// A small deterministic generator, so failures reproduce.
    struct XorShift(u64);
    impl XorShift {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    #[test]
    fn literal_shortcut_agrees_with_the_walk() {
        let pieces = [
            "a", "b", "A", "ab", "\\(", "\\$", "\\t", "-", " ", "+", "*", "$", "^",
        ];
        let text_pieces = ["a", "b", "B", "(", "$", "\t", "-", " ", "+", "*", "ab", "^"];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut compared = 0;
        for _ in 0..4_000 {
            let mut pattern = String::new();
            for _ in 0..1 + rng.below(5) {
                pattern.push_str(pieces[rng.below(pieces.len())]);
            }
            let Ok(re) = OsRegex::compile(&pattern) else {
                continue;
            };
            let mut text = String::new();
            for _ in 0..rng.below(10) {
                text.push_str(text_pieces[rng.below(text_pieces.len())]);
            }
            for alt in &re.alternatives {
                if let Some(lit) = &alt.literal {
                    compared += 1;
                    assert_eq!(
                        alt.run_literal(lit, text.as_bytes()),
                        exec(alt, text.as_bytes(), None, &mut None),
                        "pattern {pattern:?} text {text:?}"
                    );
                }
            }
        }
        assert!(
            compared > 1_000,
            "only {compared} literal alternatives compared"
        );
    }

    #[test]
    fn trailing_run_does_not_move_the_reported_end() {
        let re = OsRegex::compile(r"\w+").expect("valid");
        assert_eq!(re.find_end(b"abc"), Some(1));
        let re = OsRegex::compile(r"^(\S+) \S+ (\S+)").expect("valid");
        let found = re.captures(b"host1 sshd root rest").expect("matches");
        assert_eq!(found.groups, vec![(0, 5), (11, 15)]);
        assert_eq!(found.end, 12);
    }

    #[test]
    fn substring_mode_can_differ_from_plain_matching() {
        // Only with groups does OSSEC skip trailing `\x*` elements before its final check.
        // (Found by comparing both of OSSEC's modes on generated patterns; it is rare.)
        let re = OsRegex::compile(r"(\d*\s+\w*)").expect("valid");
        assert_eq!(re.find_end(b"1"), None);
        assert_eq!(re.captures(b"1").map(|f| f.end), Some(1));
    }
}
