//! Exact inspection of one buffer: `content` with its modifiers, `pcre`, `isdataat`, the
//! `byte_*` keywords, `bsize` and `urilen`, in rule order, with a cursor that relative
//! keywords move from.
//!
//! A content that later relative keywords depend on is retried at its next occurrence when
//! the rest fails (Suricata's backtracking), under a step budget so a hostile buffer cannot
//! make one rule cost more than a bounded amount of work; running out counts and fails.

use std::collections::HashMap;

use crate::keywords::{
    ByteExtract, ByteJump, ByteMath, ByteOp, ByteTest, Content, Endian, MathOp, NumBase, Value,
    VarKind,
};
use crate::rule::Match;

/// Regex match limits, as PCRE2 pattern settings: Suricata's defaults.
const MATCH_LIMIT: u32 = 3_500;
const DEPTH_LIMIT: u32 = 1_500;

/// Steps (content searches, regex runs) one buffer inspection may take.
const STEP_BUDGET: u32 = 4_096;

/// Longest pcre capture kept as a variable; longer ones are cut (a variable is evidence
/// for an analyst, not a copy of the traffic).
pub const MAX_CAPTURE_LEN: usize = 1_024;

/// A pcre capture destined for a variable: kind, name, bytes.
pub type Capture = (VarKind, String, Vec<u8>);

/// Compiled regexes, built on first use: ET Open has thousands of `pcre`s and most never
/// meet a candidate, so compiling them all at load would cost seconds and megabytes.
#[derive(Debug, Default)]
pub struct RegexCache {
    map: HashMap<(u32, u16), Option<pcre2::bytes::Regex>>,
    /// `pcrexform` regexes by pattern (as few as the rules that use the transform).
    transforms: HashMap<String, Option<pcre2::bytes::Regex>>,
    /// Regex runs that hit the match or depth limit (counted as not matching).
    pub limit_hits: u64,
    /// Patterns PCRE2 refused (their rules never match).
    pub compile_errors: u64,
    /// Inspections that ran out of their step budget (counted as not matching).
    pub budget_exhausted: u64,
}

fn compile(p: &crate::keywords::Pcre) -> Option<pcre2::bytes::Regex> {
    compile_pattern(&p.pattern, &p.flags)
}

fn compile_pattern(pattern: &str, flags: &str) -> Option<pcre2::bytes::Regex> {
    let mut prefix = format!("(*LIMIT_MATCH={MATCH_LIMIT})(*LIMIT_DEPTH={DEPTH_LIMIT})");
    if flags.contains('G') {
        prefix.push_str("(?U)");
    }
    let anchored = flags.contains('A');
    let pattern = if anchored {
        format!("{prefix}\\G(?:{pattern})")
    } else {
        format!("{prefix}{pattern}")
    };
    let mut b = pcre2::bytes::RegexBuilder::new();
    b.caseless(flags.contains('i'))
        .dotall(flags.contains('s'))
        .multi_line(flags.contains('m'))
        .extended(flags.contains('x'))
        .jit_if_available(true);
    b.build(&pattern).ok()
}

impl RegexCache {
    /// The compiled `pcrexform` pattern (a bare regex, no delimiters or flags), or `None`
    /// when PCRE2 refuses it (counted once).
    pub fn transform_regex(&mut self, pattern: &str) -> Option<&pcre2::bytes::Regex> {
        if !self.transforms.contains_key(pattern) {
            let re = compile_pattern(pattern, "");
            if re.is_none() {
                self.compile_errors += 1;
            }
            self.transforms.insert(pattern.to_string(), re);
        }
        self.transforms.get(pattern).and_then(Option::as_ref)
    }
}

/// What a buffer inspection needs from its rule.
#[derive(Debug)]
pub struct Inspect<'r, 'c> {
    /// Rule index, for the regex cache key.
    pub rule: u32,
    /// byte_extract variables so far.
    pub vars: &'r mut Vec<(String, u64)>,
    pub cache: &'c mut RegexCache,
    /// Captures of the pcres on the matching path, for variables.
    pub captures: Vec<Capture>,
    steps: u32,
}

impl<'r, 'c> Inspect<'r, 'c> {
    pub fn new(rule: u32, vars: &'r mut Vec<(String, u64)>, cache: &'c mut RegexCache) -> Self {
        Inspect {
            rule,
            vars,
            cache,
            captures: Vec::new(),
            steps: 0,
        }
    }

    fn var(&self, name: &str) -> Option<u64> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    fn value_i64<T: Copy + Into<i64>>(&self, v: &Value<T>) -> Option<i64> {
        match v {
            Value::Num(n) => Some((*n).into()),
            Value::Var(name) => self.var(name).and_then(|x| i64::try_from(x).ok()),
        }
    }

    fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps == STEP_BUDGET {
            self.cache.budget_exhausted += 1;
        }
        self.steps < STEP_BUDGET
    }

    /// Whether `matches` (the inspections of one buffer, in order, identified by their
    /// index `first..` in the rule's list for the regex cache) all hold on `data`.
    pub fn run(&mut self, matches: &[Match], base: u16, data: &[u8]) -> bool {
        self.at(matches, base, 0, data, 0)
    }

    fn at(&mut self, ms: &[Match], base: u16, i: usize, data: &[u8], cursor: usize) -> bool {
        let Some(m) = ms.get(i) else {
            return true;
        };
        let id = base.saturating_add(i as u16);
        match m {
            Match::Content(c) => self.content(ms, base, i, c, data, cursor),
            Match::Pcre(p) => {
                if !self.step() {
                    return false;
                }
                let key = (self.rule, id);
                let re = self.cache.map.entry(key).or_insert_with(|| compile(p));
                let Some(re) = re.as_ref() else {
                    self.cache.compile_errors += 1;
                    return false;
                };
                let start = if p.relative {
                    cursor.min(data.len())
                } else {
                    0
                };
                let subject = &data[start..];
                let kept = self.captures.len();
                let wants_vars = !p.negated
                    && (!p.captures.is_empty()
                        || re
                            .capture_names()
                            .iter()
                            .flatten()
                            .any(|n| VarKind::from_group_name(n).is_some()));
                let found = if wants_vars {
                    match re.captures(subject) {
                        Ok(Some(caps)) => {
                            let names = re.capture_names();
                            let group = |g: usize| caps.get(g).map(|m| m.as_bytes());
                            for (i, (kind, name)) in p.captures.iter().enumerate() {
                                if let Some(b) = group(i + 1) {
                                    self.captures.push((*kind, name.clone(), capped(b)));
                                }
                            }
                            for (g, n) in names.iter().enumerate() {
                                let named = n.as_deref().and_then(VarKind::from_group_name);
                                if let (Some((kind, name)), Some(b)) = (named, group(g)) {
                                    self.captures.push((kind, name.to_string(), capped(b)));
                                }
                            }
                            caps.get(0).map(|m| start + m.end())
                        }
                        Ok(None) => None,
                        Err(_) => {
                            self.cache.limit_hits += 1;
                            return false;
                        }
                    }
                } else {
                    match re.find(subject) {
                        Ok(m) => m.map(|m| start + m.end()),
                        Err(_) => {
                            self.cache.limit_hits += 1;
                            return false;
                        }
                    }
                };
                match (found, p.negated) {
                    (Some(end), false) => {
                        let ok = self.at(ms, base, i + 1, data, end);
                        if !ok {
                            self.captures.truncate(kept);
                        }
                        ok
                    }
                    (None, true) => self.at(ms, base, i + 1, data, cursor),
                    _ => false,
                }
            }
            Match::IsDataAt(d) => {
                let Some(size) = self.value_i64(&d.size) else {
                    return false;
                };
                let from = if d.relative { cursor as i64 } else { 0 };
                let present = from + size < data.len() as i64;
                if present != d.negated {
                    self.at(ms, base, i + 1, data, cursor)
                } else {
                    false
                }
            }
            Match::ByteTest(t) => {
                if byte_test(self, t, data, cursor) {
                    self.at(ms, base, i + 1, data, cursor)
                } else {
                    false
                }
            }
            Match::ByteJump(j) => match byte_jump(self, j, data, cursor) {
                Some(next) => self.at(ms, base, i + 1, data, next),
                None => false,
            },
            Match::ByteExtract(e) => match byte_extract(e, data, cursor) {
                Some((value, next)) => {
                    self.vars.push((e.name.clone(), value));
                    let ok = self.at(ms, base, i + 1, data, next);
                    // Kept on success: later buffers of the rule may use the variable.
                    if !ok {
                        self.vars.pop();
                    }
                    ok
                }
                None => false,
            },
            Match::ByteMath(bm) => match byte_math(self, bm, data, cursor) {
                Some(value) => {
                    self.vars.push((bm.result.clone(), value));
                    let ok = self.at(ms, base, i + 1, data, cursor);
                    if !ok {
                        self.vars.pop();
                    }
                    ok
                }
                None => false,
            },
            Match::Bsize(cmp) | Match::Urilen(cmp, _) => {
                cmp.matches(data.len() as u64) && self.at(ms, base, i + 1, data, cursor)
            }
            // The buffer exists (absence is decided by the caller): `absent` fails unless
            // `or_else` lets the other inspections decide.
            Match::Absent(or_else) => *or_else && self.at(ms, base, i + 1, data, cursor),
            Match::Uint(cmp) => {
                let value = std::str::from_utf8(data)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok());
                value.is_some_and(|v| cmp.matches(v)) && self.at(ms, base, i + 1, data, cursor)
            }
            Match::OneOf(negated, names) => {
                let listed = names.iter().any(|n| n.as_bytes() == data);
                listed != *negated && self.at(ms, base, i + 1, data, cursor)
            }
            // Refused at engine build; never reached.
            Match::Base64Decode(_) | Match::Asn1(_) => false,
        }
    }

    fn content(
        &mut self,
        ms: &[Match],
        base: u16,
        i: usize,
        c: &Content,
        data: &[u8],
        cursor: usize,
    ) -> bool {
        let Some((start, end)) = self.window(c, data.len(), cursor) else {
            return c.negated && self.at(ms, base, i + 1, data, cursor);
        };
        let plen = c.pattern.len();
        // Later relative keywords depend on where this content matched: try each
        // occurrence. Otherwise the first one decides.
        let backtrack = !c.negated && later_relative(&ms[i + 1..]);
        let mut from = start;
        loop {
            if !self.step() {
                return false;
            }
            let found = if from + plen <= end {
                find(&data[from..end], &c.pattern, c.nocase).map(|p| from + p)
            } else {
                None
            };
            let found = match found {
                Some(p) if c.endswith && p + plen != data.len() => {
                    // Only an occurrence ending the buffer counts.
                    find_last(&data[from..end], &c.pattern, c.nocase)
                        .map(|q| from + q)
                        .filter(|&q| q + plen == data.len())
                }
                other => other,
            };
            match (found, c.negated) {
                (None, true) => return self.at(ms, base, i + 1, data, cursor),
                (Some(_), true) | (None, false) => return false,
                (Some(p), false) => {
                    if self.at(ms, base, i + 1, data, p + plen) {
                        return true;
                    }
                    if !backtrack {
                        return false;
                    }
                    from = p + 1;
                }
            }
        }
    }

    /// The byte range a content may occupy, or `None` when it is empty.
    fn window(&self, c: &Content, len: usize, cursor: usize) -> Option<(usize, usize)> {
        let len = len as i64;
        let (mut start, mut end);
        if c.distance.is_some() || c.within.is_some() {
            let distance = match &c.distance {
                Some(v) => self.value_i64(v)?,
                None => 0,
            };
            start = cursor as i64 + distance;
            end = match &c.within {
                Some(v) => cursor as i64 + distance + self.value_i64(v)?,
                None => len,
            };
        } else {
            start = match &c.offset {
                Some(v) => self.value_i64(v)?,
                None => 0,
            };
            end = match &c.depth {
                Some(v) => start + self.value_i64(v)?,
                None => len,
            };
        }
        if c.startswith {
            start = start.max(0);
            end = end.min(start + c.pattern.len() as i64);
        }
        start = start.max(0);
        end = end.min(len);
        (start <= end).then_some((start as usize, end as usize))
    }
}

fn later_relative(rest: &[Match]) -> bool {
    rest.iter().any(|m| match m {
        Match::Content(c) => c.distance.is_some() || c.within.is_some(),
        Match::Pcre(p) => p.relative,
        Match::IsDataAt(d) => d.relative,
        Match::ByteTest(t) => t.relative,
        Match::ByteJump(j) => j.relative,
        Match::ByteExtract(e) => e.relative,
        Match::ByteMath(m) => m.relative,
        _ => false,
    })
}

fn capped(b: &[u8]) -> Vec<u8> {
    b[..b.len().min(MAX_CAPTURE_LEN)].to_vec()
}

/// First position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8], nocase: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if !nocase {
        return memchr::memmem::find(hay, needle);
    }
    let first = needle[0];
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = 0;
    while i <= last_start {
        let rel = memchr::memchr2(lo, up, &hay[i..=last_start])?;
        let p = i + rel;
        if hay[p..p + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// Last position of `needle` in `hay`.
fn find_last(hay: &[u8], needle: &[u8], nocase: bool) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    let p = hay.len() - needle.len();
    let tail = &hay[p..];
    let same = if nocase {
        tail.eq_ignore_ascii_case(needle)
    } else {
        tail == needle
    };
    same.then_some(p)
}

/// Reads `n` bytes at `at` as a number: binary in `endian` order, or text in `base`.
fn read_number(
    data: &[u8],
    at: i64,
    n: usize,
    endian: Option<Endian>,
    string: Option<NumBase>,
) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let bytes = data.get(at..at.checked_add(n)?)?;
    if let Some(base) = string {
        let text = std::str::from_utf8(bytes).ok()?.trim();
        let radix = match base {
            NumBase::Hex => 16,
            NumBase::Dec => 10,
            NumBase::Oct => 8,
        };
        let text = if radix == 16 {
            text.trim_start_matches("0x").trim_start_matches("0X")
        } else {
            text
        };
        return u64::from_str_radix(text, radix).ok();
    }
    if n == 0 || n > 8 {
        return None;
    }
    let little = matches!(endian, Some(Endian::Little));
    let mut v: u64 = 0;
    if little {
        for &b in bytes.iter().rev() {
            v = (v << 8) | u64::from(b);
        }
    } else {
        for &b in bytes {
            v = (v << 8) | u64::from(b);
        }
    }
    Some(v)
}

fn apply_mask(v: u64, mask: Option<u64>) -> u64 {
    match mask {
        Some(m) if m != 0 => (v & m) >> m.trailing_zeros(),
        Some(_) => 0,
        None => v,
    }
}

fn byte_test(ctx: &Inspect<'_, '_>, t: &ByteTest, data: &[u8], cursor: usize) -> bool {
    let (Some(n), Some(target), Some(offset)) = (
        ctx.value_i64(&t.nbytes),
        match &t.value {
            Value::Num(v) => Some(*v),
            Value::Var(name) => ctx.var(name),
        },
        ctx.value_i64(&t.offset),
    ) else {
        return false;
    };
    let at = if t.relative {
        cursor as i64 + offset
    } else {
        offset
    };
    let Some(v) = read_number(data, at, n as usize, t.endian, t.string) else {
        return false;
    };
    let v = apply_mask(v, t.bitmask);
    let hit = match t.op {
        ByteOp::Lt => v < target,
        ByteOp::Gt => v > target,
        ByteOp::Le => v <= target,
        ByteOp::Ge => v >= target,
        ByteOp::Eq => v == target,
        ByteOp::And => v & target != 0,
        ByteOp::Or => v ^ target != 0,
    };
    hit != t.negated
}

fn byte_jump(ctx: &Inspect<'_, '_>, j: &ByteJump, data: &[u8], cursor: usize) -> Option<usize> {
    let n = ctx.value_i64(&j.nbytes)?;
    let offset = ctx.value_i64(&j.offset)?;
    let at = if j.relative {
        cursor as i64 + offset
    } else {
        offset
    };
    let v = if n == 0 {
        // Nothing to read, but the place to read it must still be in the buffer.
        (0..=data.len() as i64).contains(&at).then_some(0)?
    } else {
        read_number(data, at, n as usize, j.endian, j.string)?
    };
    let mut v = apply_mask(v, j.bitmask).checked_mul(u64::from(j.multiplier.unwrap_or(1)))?;
    if j.align && v % 4 != 0 {
        v += 4 - v % 4;
    }
    let v = i64::try_from(v).ok()?;
    let from = if j.from_beginning {
        0
    } else if j.from_end {
        data.len() as i64
    } else {
        at + n
    };
    let next = from
        .checked_add(v)?
        .checked_add(i64::from(j.post_offset.unwrap_or(0)))?;
    // A negative post_offset that would land before the buffer lands at its start.
    let next = if j.post_offset.is_some_and(|o| o < 0) {
        next.max(0)
    } else {
        next
    };
    // A jump may land at the very end of the buffer but not beyond it.
    (0..=data.len() as i64)
        .contains(&next)
        .then_some(next as usize)
}

/// The value `byte_math` stores, or `None` when the bytes are not there or the operation
/// has no result (division by zero). Arithmetic wraps at 64 bits.
fn byte_math(ctx: &Inspect<'_, '_>, m: &ByteMath, data: &[u8], cursor: usize) -> Option<u64> {
    let n = ctx.value_i64(&m.nbytes)?;
    let offset = ctx.value_i64(&m.offset)?;
    let rvalue = match &m.rvalue {
        Value::Num(v) => *v,
        Value::Var(name) => ctx.var(name)?,
    };
    let at = if m.relative {
        cursor as i64 + offset
    } else {
        offset
    };
    let v = apply_mask(
        read_number(data, at, usize::try_from(n).ok()?, m.endian, m.string)?,
        m.bitmask,
    );
    Some(match m.op {
        MathOp::Add => v.wrapping_add(rvalue),
        MathOp::Sub => v.wrapping_sub(rvalue),
        MathOp::Mul => v.wrapping_mul(rvalue),
        MathOp::Div => v.checked_div(rvalue)?,
        MathOp::Shl => v.checked_shl(u32::try_from(rvalue).ok()?).unwrap_or(0),
        MathOp::Shr => v.checked_shr(u32::try_from(rvalue).ok()?).unwrap_or(0),
    })
}

fn byte_extract(e: &ByteExtract, data: &[u8], cursor: usize) -> Option<(u64, usize)> {
    let at = if e.relative {
        cursor as i64 + i64::from(e.offset)
    } else {
        i64::from(e.offset)
    };
    let n = usize::from(e.nbytes);
    let mut v = read_number(data, at, n, e.endian, e.string)?;
    v = v.checked_mul(u64::from(e.multiplier.unwrap_or(1)))?;
    if let Some(a) = e.align.filter(|a| *a > 1) {
        let a = u64::from(a);
        if v % a != 0 {
            v += a - v % a;
        }
    }
    Some((v, usize::try_from(at).ok()? + n))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn matches(opts: &str, data: &[u8]) -> bool {
        let r =
            crate::parse_line(&format!("alert tcp any any -> any any ({opts} sid:1;)")).unwrap();
        let b = &r.buffers[0];
        let mut vars = Vec::new();
        let mut cache = RegexCache::default();
        Inspect::new(0, &mut vars, &mut cache).run(&b.matches, 0, data)
    }

    #[test]
    fn content_modifiers() {
        let d = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
        assert!(matches(r#"content:"GET"; depth:3;"#, d));
        assert!(!matches(r#"content:"GET"; offset:1;"#, d));
        assert!(matches(r#"content:"get"; nocase; startswith;"#, d));
        assert!(!matches(r#"content:"get";"#, d));
        assert!(matches(
            r#"content:"Host|3a| "; content:"example"; distance:0; within:7;"#,
            d
        ));
        assert!(!matches(
            r#"content:"Host|3a| "; content:"example"; distance:1; within:7;"#,
            d
        ));
        assert!(matches(r#"content:"|0d 0a 0d 0a|"; endswith;"#, d));
        assert!(!matches(r#"content:"HTTP"; endswith;"#, d));
        assert!(matches(r#"content:!"POST";"#, d));
        assert!(!matches(r#"content:!"GET"; depth:3;"#, d));
        assert!(matches(
            r#"content:"/"; content:"HTTP"; distance:-20; within:30;"#,
            d
        ));
    }

    #[test]
    fn backtracking_finds_the_second_occurrence() {
        // The first "a=" is followed by "x", the second by "1": a relative content after it
        // must try both.
        let d = b"a=x&a=1";
        assert!(matches(
            r#"content:"a="; content:"1"; distance:0; within:1;"#,
            d
        ));
        assert!(!matches(
            r#"content:"a="; content:"2"; distance:0; within:1;"#,
            d
        ));
    }

    #[test]
    fn pcre_flags_and_relative() {
        let d = b"User-Agent: EvilBot/1.0\r\n";
        assert!(matches(r#"pcre:"/evilbot\/\d/i";"#, d));
        assert!(!matches(r#"pcre:"/evilbot/";"#, d));
        assert!(matches(r#"content:"User-Agent"; pcre:"/^: Evil/R";"#, d));
        assert!(!matches(r#"content:"User-Agent"; pcre:"/^Evil/R";"#, d));
        assert!(matches(r#"pcre:!"/curl/";"#, d));
        // Catastrophic backtracking is cut by the match limit, not run to completion.
        let long = vec![b'a'; 4000];
        assert!(!matches(r#"pcre:"/(a+)+b/";"#, &long));
    }

    #[test]
    fn pcre_captures_fill_variables_on_the_matching_path() {
        let r = crate::parse_line(
            r#"alert tcp any any -> any any (pcre:"/^([0-9.]+) ([a-z]+) (?P<alert_ua>[a-z]+)/,flow:version,pkt:os"; content:"end"; sid:1;)"#,
        )
        .unwrap();
        let b = &r.buffers[0];
        let mut vars = Vec::new();
        let mut cache = RegexCache::default();
        let mut insp = Inspect::new(0, &mut vars, &mut cache);
        assert!(insp.run(&b.matches, 0, b"5.0 linux mozilla end"));
        let mut got: Vec<_> = insp
            .captures
            .iter()
            .map(|(k, n, v)| (*k, n.as_str(), v.as_slice()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (VarKind::Flow, "version", &b"5.0"[..]),
                (VarKind::Pkt, "os", &b"linux"[..]),
                (VarKind::Alert, "ua", &b"mozilla"[..]),
            ]
        );
        // When a later inspection fails, nothing is captured.
        let mut insp = Inspect::new(0, &mut vars, &mut cache);
        assert!(!insp.run(&b.matches, 0, b"5.0 linux mozilla"));
        assert!(insp.captures.is_empty());
    }

    #[test]
    fn isdataat_dsize_like_offsets() {
        let d = b"ABCDEFGH";
        assert!(matches("isdataat:7;", d));
        assert!(!matches("isdataat:8;", d));
        assert!(matches(r#"content:"ABC"; isdataat:4,relative;"#, d));
        assert!(!matches(r#"content:"ABC"; isdataat:5,relative;"#, d));
        assert!(matches(r#"content:"GH"; isdataat:!1,relative;"#, d));
    }

    #[test]
    fn byte_keywords() {
        // length 0x0005 big-endian, then 5 bytes, then "END"
        let d = b"\x00\x05helloEND";
        assert!(matches("byte_test:2,=,5,0;", d));
        assert!(matches("byte_test:2,>,4,0;", d));
        assert!(!matches("byte_test:2,<,5,0;", d));
        assert!(matches("byte_test:2,!=,6,0;", d));
        assert!(matches("byte_test:2,=,1280,0,little;", d));
        assert!(matches("byte_test:1,&,4,1;", d));
        assert!(matches(r#"byte_jump:2,0; content:"END"; within:3;"#, d));
        assert!(!matches(r#"byte_jump:2,0; content:"hel"; within:3;"#, d));
        assert!(matches(
            r#"byte_extract:2,0,len; content:"hello"; distance:0; within:len;"#,
            d
        ));
        assert!(matches("byte_test:1,=,5,0,string,dec;", b"5 apples"));
        assert!(matches("byte_test:2,=,255,0,string,hex;", b"ff"));
    }

    #[test]
    fn byte_math_stores_a_variable_for_later_keywords() {
        // 0x22 << 2 = 0x88
        let d = b"\x45\x22\x00\x28\x88";
        assert!(matches(
            "byte_math:bytes 1, offset 1, oper <<, rvalue 2, result r; byte_test:1,=,r,4;",
            d
        ));
        // byte_extract feeds rvalue; 0x22 + 0x45 = 0x67
        assert!(matches(
            "byte_extract:1,0,x,relative; byte_math:bytes 1, offset 1, oper +, rvalue x, result r; byte_test:1,>,r,4;",
            d
        ));
        // relative to the cursor, and subtraction wraps rather than failing
        assert!(matches(
            r#"content:"|22|"; byte_math:bytes 1, offset 0, oper -, rvalue 1, result r, relative; byte_test:1,<,r,0;"#,
            b"\x01\x22\x00"
        ));
        assert!(!matches(
            "byte_math:bytes 1, offset 0, oper /, rvalue 0, result r; byte_test:1,>,r,0;",
            d
        ));
        assert!(!matches(
            "byte_math:bytes 2, offset 4, oper +, rvalue 0, result r; byte_test:1,>,r,0;",
            d
        ));
    }

    #[test]
    fn byte_jump_zero_bytes_and_negative_post_offset() {
        let d = b"NSLO\x0a\x95\x00\x20rest";
        // 0 bytes: no jump, then post_offset moves back to the start of the buffer.
        assert!(matches(
            r#"content:"|0A 95 00 20|"; byte_jump:0,0,relative,post_offset -8; pcre:"/^NSLO/R";"#,
            d
        ));
        // Landing before the start is clamped to the start.
        assert!(matches(
            r#"content:"|0A 95 00 20|"; byte_jump:0,0,relative,post_offset -10; pcre:"/^NSLO/R";"#,
            d
        ));
        // A byte_extract variable of value 0 as the byte count.
        assert!(matches(
            r#"content:"|00 00 00|"; byte_extract:1,4,n,relative; byte_jump:n,0,relative; isdataat:1,relative;"#,
            b"\x00\x00\x00\x05\x34\x23\x06\x00\x21\x0a"
        ));
        assert!(!matches("byte_jump:0,20;", d));
    }
}
