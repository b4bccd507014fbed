//! A matcher for the simple regexes most decoders and rules are written in:
//! `^for (\S+) from (\S+) port \d+`, `user (\S+) from (\S+)`, `^Failed \S+ `.
//!
//! Such a pattern is a sequence of steps, each a byte set repeated between a minimum and a
//! maximum number of times (a literal byte is a set of one, or two ignoring case), with
//! capture groups around runs of steps, an optional `^` and an optional `$`. When every
//! step whose count can vary is followed by bytes it cannot match (`\S+` then a space, `\d+`
//! then a letter or the end), the greedy walk is the only one that can succeed: a shorter
//! run would leave a byte of the set where the next step needs one outside it. The match
//! is then found without backtracking, in one pass per start position, and the spans are
//! exactly those a backtracking engine (PCRE2) or the `regex` crate reports.
//!
//! Patterns outside that shape (nested alternation, repeated groups, lazy quantifiers,
//! word boundaries, lookaround, a variable step followed by a byte it can match) are
//! refused at compile time and left to the general engines. A top-level alternation is
//! accepted when each branch has the shape: branches are tried in order at each start
//! position, which is PCRE2's leftmost-first rule.
//!
//! `$` is PCRE2's: the end of the text, or just before a newline that ends it.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A set of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    #[inline]
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6) & 3] & (1 << (b & 63)) != 0
    }

    fn intersects(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    fn union(&mut self, other: &ByteSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// The members, when there are at most two (for a `memchr` search).
    fn few(&self) -> Option<(u8, u8)> {
        let mut members = (0..=255u8).filter(|&b| self.contains(b));
        let first = members.next()?;
        let second = members.next().unwrap_or(first);
        members.next().is_none().then_some((first, second))
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Group `g` (0-based) starts here.
    Open(usize),
    /// Group `g` ends here.
    Close(usize),
    /// Between `min` and `max` bytes of `set`, as many as there are.
    Step { set: ByteSet, min: u32, max: u32 },
    /// PCRE2's `$`.
    End,
    /// A run of single bytes, compared at once (ignoring ASCII case when `caseless`, the
    /// bytes then lower-cased): what consecutive one-byte steps become.
    Lit { bytes: Box<[u8]>, caseless: bool },
}

#[derive(Clone, Debug)]
struct Branch {
    anchored: bool,
    ops: Box<[Op]>,
    /// The bytes a match of this branch can start with; None when it may start empty.
    first: Option<ByteSet>,
}

/// A compiled simple pattern; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Simple {
    branches: Box<[Branch]>,
    groups: usize,
    /// The bytes any match starts with, and, when they are one or two, those bytes.
    first: Option<(ByteSet, Option<(u8, u8)>)>,
    anchored: bool,
}

/// The longest group list a match reports; more groups make the pattern not simple.
const MAX_GROUPS: usize = 32;

/// `pattern` read over bytes with Unicode off (the form [`Simple::new`] expects), or None
/// when `regex-syntax` cannot read it.
pub(crate) fn parse_bytes(pattern: &str, caseless: bool) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(caseless)
        .build()
        .parse(pattern)
        .ok()
}

impl Simple {
    /// The simple form of `hir` (parsed with Unicode off), or None when it is not simple.
    pub(crate) fn new(hir: &Hir) -> Option<Simple> {
        let groups = hir.properties().explicit_captures_len();
        if groups > MAX_GROUPS {
            return None;
        }
        let mut branches = Vec::new();
        for parts in branch_parts(hir)? {
            let mut ops = Vec::new();
            let mut anchored = false;
            for (i, part) in parts.iter().enumerate() {
                flatten(part, &mut ops, &mut anchored, i == 0)?;
            }
            let ops = merge_literals(ops);
            if !deterministic(&ops) {
                return None;
            }
            let first = first_set(&ops);
            branches.push(Branch {
                anchored,
                ops: ops.into(),
                first,
            });
        }
        let anchored = branches.iter().all(|b| b.anchored);
        let mut first: Option<ByteSet> = Some(ByteSet::default());
        for branch in &branches {
            match (&mut first, &branch.first) {
                (Some(all), Some(set)) => all.union(set),
                _ => first = None,
            }
        }
        Some(Simple {
            branches: branches.into(),
            groups,
            first: first.map(|set| (set, set.few())),
            anchored,
        })
    }

    pub(crate) fn group_count(&self) -> usize {
        self.groups
    }

    /// The leftmost-first match: its span, and the span of each group that took part
    /// written into `spans` (which must hold [`Simple::group_count`] entries).
    pub(crate) fn find(
        &self,
        text: &[u8],
        mut spans: Option<&mut [Option<(usize, usize)>]>,
    ) -> Option<(usize, usize)> {
        let mut opened = [0usize; MAX_GROUPS];
        let last_start = if self.anchored { 0 } else { text.len() };
        let mut start = 0;
        while start <= last_start {
            if let Some((set, few)) = &self.first {
                // Skip to the next byte a match can start with.
                let rest = text.get(start..)?;
                let skip = match few {
                    Some((a, b)) if a == b => memchr::memchr(*a, rest),
                    Some((a, b)) => memchr::memchr2(*a, *b, rest),
                    None => rest.iter().position(|&c| set.contains(c)),
                };
                start += skip?;
                if start > last_start {
                    return None;
                }
            }
            for branch in self.branches.iter() {
                if branch.anchored && start != 0 {
                    continue;
                }
                if let Some(spans) = spans.as_deref_mut() {
                    spans.iter_mut().for_each(|s| *s = None);
                }
                if let Some(end) = run(branch, text, start, &mut opened, spans.as_deref_mut()) {
                    return Some((start, end));
                }
            }
            start += 1;
        }
        None
    }
}

/// The top-level branches of `hir`, each as the parts to concatenate. `regex-syntax`
/// factors a common prefix out of an alternation (`^a|^b` becomes `^(?:a|b)`); a
/// concatenation holding one alternation is expanded back into branches (`^a`, `^b`),
/// which keeps their order and so the leftmost-first choice. None for more alternations.
fn branch_parts(hir: &Hir) -> Option<Vec<Vec<&Hir>>> {
    match hir.kind() {
        HirKind::Alternation(alternatives) => Some(alternatives.iter().map(|a| vec![a]).collect()),
        HirKind::Concat(parts) => {
            let mut alternations = parts
                .iter()
                .enumerate()
                .filter(|(_, p)| matches!(p.kind(), HirKind::Alternation(_)));
            let Some((at, alternation)) = alternations.next() else {
                return Some(vec![vec![hir]]);
            };
            if alternations.next().is_some() {
                return None;
            }
            let HirKind::Alternation(alternatives) = alternation.kind() else {
                return None;
            };
            Some(
                alternatives
                    .iter()
                    .map(|branch| {
                        let mut these: Vec<&Hir> = parts[..at].iter().collect();
                        these.push(branch);
                        these.extend(parts[at + 1..].iter());
                        these
                    })
                    .collect(),
            )
        }
        _ => Some(vec![vec![hir]]),
    }
}

/// One attempt of `branch` at `start`: where it ends, or None.
#[inline]
fn run(
    branch: &Branch,
    text: &[u8],
    start: usize,
    opened: &mut [usize; MAX_GROUPS],
    mut spans: Option<&mut [Option<(usize, usize)>]>,
) -> Option<usize> {
    let mut at = start;
    for op in branch.ops.iter() {
        match op {
            Op::Step { set, min, max } => {
                let mut count = 0u32;
                while count < *max {
                    match text.get(at) {
                        Some(&b) if set.contains(b) => {
                            at += 1;
                            count += 1;
                        }
                        _ => break,
                    }
                }
                if count < *min {
                    return None;
                }
            }
            Op::Open(g) => {
                if let Some(slot) = opened.get_mut(*g) {
                    *slot = at;
                }
            }
            Op::Close(g) => {
                if let Some(slot) = spans.as_deref_mut().and_then(|s| s.get_mut(*g)) {
                    *slot = Some((opened.get(*g).copied().unwrap_or(at), at));
                }
            }
            Op::End => {
                let ends = at == text.len() || (at + 1 == text.len() && text[at] == b'\n');
                if !ends {
                    return None;
                }
            }
            Op::Lit { bytes, caseless } => {
                let end = at + bytes.len();
                let window = text.get(at..end)?;
                let same = if *caseless {
                    window.eq_ignore_ascii_case(bytes)
                } else {
                    window == &bytes[..]
                };
                if !same {
                    return None;
                }
                at = end;
            }
        }
    }
    Some(at)
}

/// What a one-byte step matches, as a literal byte: `(byte, None)` for one byte, `(lower,
/// Some(true))` for an ASCII letter in either case, and `(byte, Some(false))` for a letter
/// in one case only (which only a case-sensitive run may hold).
fn literal_byte(set: &ByteSet) -> Option<(u8, Option<bool>)> {
    let (a, b) = set.few()?;
    if a == b {
        return Some((a, a.is_ascii_alphabetic().then_some(false)));
    }
    (a.is_ascii_uppercase() && b == a.to_ascii_lowercase()).then_some((b, Some(true)))
}

/// Consecutive one-byte steps merged into [`Op::Lit`] runs.
fn merge_literals(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    let mut run: Vec<u8> = Vec::new();
    let mut mode: Option<bool> = None;
    let flush = |out: &mut Vec<Op>, run: &mut Vec<u8>, mode: &mut Option<bool>| {
        if !run.is_empty() {
            out.push(Op::Lit {
                bytes: std::mem::take(run).into(),
                caseless: mode.unwrap_or(false),
            });
        }
        *mode = None;
    };
    for op in ops {
        let single = match &op {
            Op::Step {
                set,
                min: 1,
                max: 1,
            } => literal_byte(set),
            _ => None,
        };
        match single {
            Some((byte, want)) => {
                if want.is_some() && mode.is_some() && want != mode {
                    flush(&mut out, &mut run, &mut mode);
                }
                if want.is_some() {
                    mode = want;
                }
                run.push(byte);
            }
            None => {
                flush(&mut out, &mut run, &mut mode);
                out.push(op);
            }
        }
    }
    flush(&mut out, &mut run, &mut mode);
    out
}

/// The bytes a literal run can start with.
fn lit_first(bytes: &[u8], caseless: bool) -> ByteSet {
    let mut set = ByteSet::default();
    if let Some(&b) = bytes.first() {
        set.insert(b);
        if caseless {
            set.insert(b.to_ascii_uppercase());
        }
    }
    set
}

/// Append the ops of `hir` to `ops`; None when it is not of the simple shape. `leading`
/// says whether nothing that consumes or asserts has been seen yet (where `^` may stand).
fn flatten(hir: &Hir, ops: &mut Vec<Op>, anchored: &mut bool, leading: bool) -> Option<()> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(literal) => {
            for &b in literal.0.iter() {
                let mut set = ByteSet::default();
                set.insert(b);
                ops.push(Op::Step {
                    set,
                    min: 1,
                    max: 1,
                });
            }
        }
        HirKind::Class(class) => ops.push(Op::Step {
            set: class_set(class)?,
            min: 1,
            max: 1,
        }),
        HirKind::Look(Look::Start) if leading && ops.is_empty() && !*anchored => {
            *anchored = true;
        }
        HirKind::Look(Look::End) => ops.push(Op::End),
        HirKind::Look(_) => return None,
        HirKind::Repetition(rep) => {
            let set = match rep.sub.kind() {
                HirKind::Class(class) => class_set(class)?,
                HirKind::Literal(literal) if literal.0.len() == 1 => {
                    let mut set = ByteSet::default();
                    set.insert(literal.0[0]);
                    set
                }
                _ => return None,
            };
            let max = rep.max.unwrap_or(u32::MAX);
            // A lazy repetition whose count can vary stops at the shortest run; refused.
            if !rep.greedy && max != rep.min {
                return None;
            }
            ops.push(Op::Step {
                set,
                min: rep.min,
                max,
            });
        }
        HirKind::Capture(capture) => {
            let g = usize::try_from(capture.index).ok()?.checked_sub(1)?;
            if g >= MAX_GROUPS {
                return None;
            }
            ops.push(Op::Open(g));
            flatten(&capture.sub, ops, anchored, false)?;
            ops.push(Op::Close(g));
        }
        HirKind::Concat(parts) => {
            for (i, part) in parts.iter().enumerate() {
                flatten(part, ops, anchored, leading && i == 0)?;
            }
        }
        HirKind::Alternation(_) => return None,
    }
    // Nothing may follow `$` but group ends: the walk checks it where it stands.
    let mut after_end = false;
    for op in ops.iter() {
        match op {
            Op::End => after_end = true,
            Op::Step { .. } if after_end => return None,
            _ => {}
        }
    }
    Some(())
}

fn class_set(class: &Class) -> Option<ByteSet> {
    let mut set = ByteSet::default();
    match class {
        Class::Bytes(bytes) => {
            for range in bytes.iter() {
                for b in range.start()..=range.end() {
                    set.insert(b);
                }
            }
        }
        Class::Unicode(unicode) => {
            for range in unicode.iter() {
                let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                if end > 0x7f {
                    return None;
                }
                for b in start..=end {
                    set.insert(b as u8);
                }
            }
        }
    }
    (set.len() > 0).then_some(set)
}

/// Whether the greedy walk is the only one that can succeed: every step whose count can
/// vary is followed by bytes it cannot match, up to the first step that must match at
/// least once (or `$`, which needs the end or a final newline).
fn deterministic(ops: &[Op]) -> bool {
    for (i, op) in ops.iter().enumerate() {
        let Op::Step { set, min, max } = op else {
            continue;
        };
        if min == max {
            continue;
        }
        let mut follow = ByteSet::default();
        for next in &ops[i + 1..] {
            match next {
                Op::Step {
                    set: next_set,
                    min: next_min,
                    ..
                } => {
                    follow.union(next_set);
                    if *next_min > 0 {
                        break;
                    }
                }
                Op::End => {
                    follow.insert(b'\n');
                    break;
                }
                Op::Lit { bytes, caseless } => {
                    follow.union(&lit_first(bytes, *caseless));
                    break;
                }
                Op::Open(_) | Op::Close(_) => {}
            }
        }
        if set.intersects(&follow) {
            return false;
        }
    }
    true
}

/// The bytes a match of `ops` starts with, or None when it may match the empty text.
fn first_set(ops: &[Op]) -> Option<ByteSet> {
    let mut first = ByteSet::default();
    for op in ops {
        match op {
            Op::Step { set, min, .. } => {
                first.union(set);
                if *min > 0 {
                    return Some(first);
                }
            }
            Op::Lit { bytes, caseless } => {
                first.union(&lit_first(bytes, *caseless));
                return Some(first);
            }
            Op::End => return None,
            Op::Open(_) | Op::Close(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn compile(pattern: &str, caseless: bool) -> Option<Simple> {
        Simple::new(&parse_bytes(pattern, caseless).unwrap())
    }

    #[test]
    fn refuses_patterns_that_need_backtracking_or_more() {
        for p in [
            r"\S+\d",
            r"a.*b",
            r"(ab)+",
            r"a|b(cd|e)",
            r"\bword",
            r"x+?y",
            r"a?a",
            r"\w+$\w",
        ] {
            assert!(compile(p, false).is_none(), "{p}");
        }
        for p in [
            r"^for (\S+) from (\S+) port \d+",
            r"\d+ \w+$",
            r"^a|^b (\S+)",
        ] {
            assert!(compile(p, false).is_some(), "{p}");
        }
    }

    #[test]
    fn reports_the_spans_a_backtracking_engine_reports() {
        let patterns = [
            (r"^for (\S+) from (\S+) port \d+", false),
            (r"user (\S+) from (\S+)", false),
            (r"from (\S+) port \d+ \w+$", false),
            (r"^from (\d+): |^from (\S+) ", false),
            (r" from (\S+)$| from (\S+) port (\d+)$", false),
            (r"^Failed \S+ ", true),
            (r"(\d{1,3})\.(\d{1,3})x?y", false),
            (r"[a-c]*d", false),
            (r"id=(\d*)", false),
            (r"", false),
        ];
        let texts = [
            "for root from 1.2.3.4 port 22 ssh2",
            "x user bob from 1.2.3.4 y",
            "Failed password for invalid user x from 1.2.3.4 port 22 ssh2",
            "Failed password for invalid user x from 1.2.3.4 port 22 ssh2\n",
            "from 10.0.0.1: 11: bye",
            "from 10: bye",
            "from 10.0.0.1 port 5",
            "FAILED pw ",
            "12.345y 1.2xy 1234.5y",
            "abcabdd cd",
            "id= id=42",
            "",
            "\n",
        ];
        for (pattern, caseless) in patterns {
            let Some(simple) = compile(pattern, caseless) else {
                panic!("{pattern:?} is simple");
            };
            let regex = regex::bytes::RegexBuilder::new(pattern)
                .unicode(false)
                .case_insensitive(caseless)
                .build()
                .unwrap();
            for text in texts {
                // `$` before a final newline is PCRE2's; compare on texts without one.
                if pattern.contains('$') && text.ends_with('\n') {
                    continue;
                }
                let mut spans = vec![None; simple.group_count()];
                let found = simple.find(text.as_bytes(), Some(&mut spans));
                let caps = regex.captures(text.as_bytes());
                assert_eq!(
                    found,
                    caps.as_ref()
                        .and_then(|c| c.get(0))
                        .map(|m| (m.start(), m.end())),
                    "{pattern:?} on {text:?}"
                );
                if let Some(caps) = caps {
                    let expected: Vec<Option<(usize, usize)>> = (1..caps.len())
                        .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
                        .collect();
                    assert_eq!(spans, expected, "groups of {pattern:?} on {text:?}");
                }
            }
        }
    }

    #[test]
    fn dollar_also_matches_before_a_final_newline() {
        let simple = compile(r"port (\d+)$", false).unwrap();
        let mut spans = vec![None; 1];
        assert_eq!(simple.find(b"port 22\n", Some(&mut spans)), Some((0, 7)));
        assert_eq!(spans, vec![Some((5, 7))]);
        assert_eq!(simple.find(b"port 22\nx", None), None);
    }
}
