//! The engine's first layer: rules grouped by transport, app-layer protocol and direction,
//! and, per group and buffer, one multi-pattern automaton over each rule's fast pattern.
//!
//! The prefilter only narrows: it answers "which rules could match this packet or
//! transaction", and a later stage verifies each candidate exactly. So the automata are
//! ASCII case-insensitive even for case-sensitive patterns (a false candidate is cheap; a
//! missed one is a missed alert), and rules without a usable fast pattern (only negated
//! contents, or no content) are candidates whenever their group and ports match.
//!
//! Fast pattern choice follows Suricata's idea: an explicit `fast_pattern` wins (with its
//! `offset,length` slice); otherwise the longest non-negated content, preferring an
//! app-layer buffer over the raw payload when lengths tie, since it is the more specific
//! place to look.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind};

use crate::buffers::PAYLOAD;
use crate::header::PortExpr;
use crate::keywords::FastPattern as FastPatternOpt;
use crate::rule::Rule;
use crate::ruleset::LoadedRule;

/// The bytes a rule is prefiltered on, and the buffer they must appear in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastPattern {
    /// Canonical buffer name.
    pub buffer: &'static str,
    /// The pattern (an explicit `fast_pattern:o,l` slice is already applied).
    pub bytes: Vec<u8>,
    /// Whether the content was `nocase`.
    pub nocase: bool,
}

/// Picks the rule's fast pattern, or `None` when it has no non-negated content.
pub fn fast_pattern(rule: &Rule) -> Option<FastPattern> {
    // Contents under a transform are matched against transformed bytes, while the
    // prefilter sees the buffer as it is. Case transforms are harmless (the automata ignore
    // ASCII case) and `dotprefix` only adds a leading dot, so a pattern found in the
    // transformed buffer is, without that dot, in the original one. `domain` and `tld` keep
    // a suffix of the name, so what is in it is in the name. Other transforms make a content
    // unusable here. So does `absent: or_else`: the rule also matches when the buffer is
    // missing, where no pattern can be found.
    let usable = |b: &crate::rule::BufferMatches| {
        !b.matches
            .iter()
            .any(|m| matches!(m, crate::rule::Match::Absent(_)))
            && b.transforms.iter().all(|(t, _)| {
                matches!(
                    *t,
                    "dotprefix"
                        | "to_lowercase"
                        | "to_uppercase"
                        | "header_lowercase"
                        | "domain"
                        | "tld"
                )
            })
    };
    let strip_dot =
        |b: &crate::rule::BufferMatches| b.transforms.iter().any(|(t, _)| *t == "dotprefix");
    let candidates = || {
        rule.buffers
            .iter()
            .filter(|b| usable(b))
            .flat_map(move |b| {
                b.matches.iter().filter_map(move |m| match m {
                    crate::rule::Match::Content(c) => {
                        let mut c = std::borrow::Cow::Borrowed(c);
                        if strip_dot(b) && c.pattern.first() == Some(&b'.') {
                            c.to_mut().pattern.remove(0);
                        }
                        (!c.pattern.is_empty()).then_some((b.buffer, c))
                    }
                    _ => None,
                })
            })
    };
    if let Some((buffer, c)) = candidates().find(|(_, c)| c.fast_pattern.is_some() && !c.negated) {
        let bytes = match c.fast_pattern {
            Some(FastPatternOpt::Chop(o, l)) => {
                let (o, l) = (usize::from(o), usize::from(l));
                c.pattern.get(o..o + l).unwrap_or(&c.pattern).to_vec()
            }
            _ => c.pattern.clone(),
        };
        return Some(FastPattern {
            buffer,
            bytes,
            nocase: c.nocase,
        });
    }
    candidates()
        .filter(|(_, c)| !c.negated)
        .enumerate()
        .max_by_key(|(i, (buffer, c))| (c.pattern.len(), *buffer != PAYLOAD, std::cmp::Reverse(*i)))
        .map(|(_, (buffer, c))| FastPattern {
            buffer,
            bytes: c.pattern.clone(),
            nocase: c.nocase,
        })
}

/// Which way a rule looks, from its `flow` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowDirection {
    /// `flow:to_server` (or `from_client`).
    ToServer,
    /// `flow:to_client` (or `from_server`).
    ToClient,
    /// No direction given.
    Either,
}

/// What a group of rules applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// `tcp`, `udp`, `icmp` or `ip` (any transport).
    pub transport: &'static str,
    /// App-layer protocol, or `None` for packet rules.
    pub app: Option<String>,
    /// Direction.
    pub direction: FlowDirection,
}

/// The traffic a prefilter query is about.
#[derive(Debug, Clone, Copy)]
pub struct Traffic<'a> {
    /// `tcp`, `udp`, `icmp` or another transport name.
    pub transport: &'a str,
    /// The detected app-layer protocol, if any.
    pub app: Option<&'a str>,
    /// True for client-to-server data.
    pub to_server: bool,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

/// A port expression flattened into sorted, disjoint inclusive ranges, so the per-match
/// port test is a short scan instead of a walk of the expression tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PortSet(Box<[(u16, u16)]>);

impl PortSet {
    fn from_expr(e: &PortExpr) -> PortSet {
        PortSet(port_ranges(e, 0).into_boxed_slice())
    }

    fn matches(&self, port: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }
}

fn normalise_ports(mut r: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    r.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for (lo, hi) in r {
        if let Some(last) = out.last_mut() {
            if u32::from(lo) <= u32::from(last.1) + 1 {
                last.1 = last.1.max(hi);
                continue;
            }
        }
        out.push((lo, hi));
    }
    out
}

fn complement_ports(r: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut out = Vec::with_capacity(r.len() + 1);
    let mut next: u32 = 0;
    for &(lo, hi) in r {
        if u32::from(lo) > next {
            out.push((next as u16, lo - 1));
        }
        next = u32::from(hi) + 1;
    }
    if next <= u32::from(u16::MAX) {
        out.push((next as u16, u16::MAX));
    }
    out
}

/// The ports `e` matches, with [`PortExpr::matches`]'s reading: an unresolved variable
/// matches nothing, a group is its positive items (all ports when there are none) less
/// its negated ones.
fn port_ranges(e: &PortExpr, depth: usize) -> Vec<(u16, u16)> {
    if depth > 64 {
        return Vec::new();
    }
    match e {
        PortExpr::Any => vec![(0, u16::MAX)],
        PortExpr::Port(p) => vec![(*p, *p)],
        PortExpr::Range(lo, hi) => {
            let (lo, hi) = (lo.unwrap_or(0), hi.unwrap_or(u16::MAX));
            if lo <= hi {
                vec![(lo, hi)]
            } else {
                Vec::new()
            }
        }
        PortExpr::Var(_) => Vec::new(),
        PortExpr::Group(items) => {
            let (mut pos, mut neg, mut any_positive) = (Vec::new(), Vec::new(), false);
            for item in items {
                match item {
                    PortExpr::Not(inner) => neg.extend(port_ranges(inner, depth + 1)),
                    other => {
                        any_positive = true;
                        pos.extend(port_ranges(other, depth + 1));
                    }
                }
            }
            let pos = if any_positive {
                normalise_ports(pos)
            } else {
                vec![(0, u16::MAX)]
            };
            let keep = complement_ports(&normalise_ports(neg));
            crate::engine::addr::intersect(&pos, &keep)
        }
        PortExpr::Not(inner) => complement_ports(&normalise_ports(port_ranges(inner, depth + 1))),
    }
}

/// What a rule needs before it is worth verifying: its group, and its ports.
#[derive(Debug)]
struct Gate {
    group: u32,
    src_ports: PortSet,
    dst_ports: PortSet,
    /// `<>`: the ports may also match the other way round.
    both: bool,
}

impl Gate {
    fn ports_match(&self, t: &Traffic<'_>) -> bool {
        (self.src_ports.matches(t.src_port) && self.dst_ports.matches(t.dst_port))
            || (self.both
                && self.src_ports.matches(t.dst_port)
                && self.dst_ports.matches(t.src_port))
    }
}

/// One automaton per buffer over the distinct fast patterns of every group, so a buffer
/// is scanned once however many groups apply; a match leads through `starts`/`rules`
/// (pattern id -> rule ids) to the rules, which are then gated by group and ports.
///
/// The automaton is walked byte by byte through its [`Automaton`] interface rather than
/// with an overlapping-match iterator: a prefilter only needs the set of patterns present,
/// and the patterns a state reports are always the same, so a match state is looked at
/// once per query. Runs of zeros in binary payloads otherwise report `|00 00 00|` and its
/// kin at every byte (4 million matches for 2 thousand distinct ones on the corpus).
#[derive(Debug)]
struct BufferAutomaton {
    buffer: &'static str,
    scanner: Scanner,
    /// `rules[starts[p]..starts[p + 1]]` are the rules whose fast pattern is pattern `p`.
    starts: Vec<u32>,
    rules: Vec<u32>,
}

/// How a buffer's patterns are looked for.
#[derive(Debug)]
enum Scanner {
    /// Walked byte by byte (app-layer buffers: short, many small pattern sets).
    Nfa(contiguous::NFA),
    /// Hashed windows, verified (the raw payload: long buffers, thousands of patterns).
    Windows(WindowFilter),
}

/// Figures about a built prefilter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefilterStats {
    /// Number of groups.
    pub groups: usize,
    /// Rules with a fast pattern.
    pub with_fast_pattern: usize,
    /// Rules without one.
    pub without_fast_pattern: usize,
    /// Automata built (one per buffer).
    pub automata: usize,
    /// Distinct fast patterns (ASCII case folded) over all automata.
    pub patterns: usize,
    /// Heap bytes of the automata.
    pub automata_bytes: usize,
}

/// Reusable per-query state: generation stamps that deduplicate rules, patterns and match
/// states without sorting, and the groups that apply to the current traffic.
#[derive(Debug, Default)]
pub struct Scratch {
    generation: u32,
    rule_seen: Vec<u32>,
    /// Per automaton, per pattern.
    pattern_seen: Vec<Vec<u32>>,
    /// Per automaton, per state id (grown to the highest match state met; state ids are
    /// offsets into the automaton, so this is bounded by its size).
    state_seen: Vec<Vec<u32>>,
    applies: Vec<bool>,
}

impl Scratch {
    fn next_generation(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: old stamps could collide with the new generation.
            self.rule_seen.iter_mut().for_each(|s| *s = 0);
            self.pattern_seen.iter_mut().flatten().for_each(|s| *s = 0);
            self.state_seen.iter_mut().flatten().for_each(|s| *s = 0);
            self.generation = 1;
        }
        self.generation
    }
}

/// Rules grouped and indexed by fast pattern.
#[derive(Debug)]
pub struct Prefilter {
    keys: Vec<GroupKey>,
    /// Per group: rules with no usable fast pattern, candidates whenever the group and
    /// ports match.
    without_fast_pattern: Vec<Vec<u32>>,
    automata: Vec<BufferAutomaton>,
    /// Per rule (index into the slice the prefilter was built from); `None` when left out.
    gates: Vec<Option<Gate>>,
    stats: PrefilterStats,
}

/// Why a prefilter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PrefilterError {
    /// The automaton could not be built (too many or too large patterns).
    #[error("building the automaton for buffer {buffer}: {source}")]
    Build {
        /// The buffer whose automaton failed.
        buffer: &'static str,
        /// The underlying error.
        source: aho_corasick::BuildError,
    },
}

fn group_key(rule: &Rule) -> GroupKey {
    let direction = match rule.flow.as_ref().and_then(|f| f.to_server) {
        Some(true) => FlowDirection::ToServer,
        Some(false) => FlowDirection::ToClient,
        None => FlowDirection::Either,
    };
    let app = rule.app_layer().map(|a| match a {
        "http1" | "http2" => "http".to_string(),
        a => a.to_string(),
    });
    GroupKey {
        transport: rule.header.protocol.transport(),
        app,
        direction,
    }
}

impl Prefilter {
    /// Groups `rules` and builds the automata.
    pub fn build(rules: &[LoadedRule]) -> Result<Prefilter, PrefilterError> {
        Self::build_excluding(rules, &[])
    }

    /// Like [`Prefilter::build`], leaving out rule `i` when `exclude[i]` is set (the caller
    /// finds those candidates another way, as the engine does for address-only rules).
    pub fn build_excluding(
        rules: &[LoadedRule],
        exclude: &[bool],
    ) -> Result<Prefilter, PrefilterError> {
        let mut key_ids: std::collections::BTreeMap<GroupKey, u32> = Default::default();
        let mut gates = Vec::with_capacity(rules.len());
        let mut stats = PrefilterStats::default();
        let mut without: Vec<Vec<u32>> = Vec::new();
        // Per buffer: distinct (case-folded) patterns and, per pattern, its rules.
        type PerBuffer = (
            std::collections::HashMap<Vec<u8>, usize>,
            Vec<Vec<u8>>,
            Vec<Vec<u32>>,
        );
        let mut per_buffer: std::collections::BTreeMap<&'static str, PerBuffer> =
            Default::default();
        for (i, lr) in rules.iter().enumerate() {
            if exclude.get(i).copied().unwrap_or(false) {
                gates.push(None);
                continue;
            }
            let next = key_ids.len() as u32;
            let group = *key_ids.entry(group_key(&lr.rule)).or_insert(next);
            if without.len() <= group as usize {
                without.resize_with(group as usize + 1, Vec::new);
            }
            gates.push(Some(Gate {
                group,
                src_ports: PortSet::from_expr(&lr.resolved.src_ports),
                dst_ports: PortSet::from_expr(&lr.resolved.dst_ports),
                both: lr.rule.header.direction != crate::header::Direction::ToDst,
            }));
            match fast_pattern(&lr.rule) {
                Some(fp) => {
                    let (ids, patterns, rules_of) = per_buffer.entry(fp.buffer).or_default();
                    let folded = fp.bytes.to_ascii_lowercase();
                    let id = *ids.entry(folded).or_insert_with(|| {
                        patterns.push(fp.bytes);
                        rules_of.push(Vec::new());
                        patterns.len() - 1
                    });
                    rules_of[id].push(i as u32);
                    stats.with_fast_pattern += 1;
                }
                None => {
                    without[group as usize].push(i as u32);
                    stats.without_fast_pattern += 1;
                }
            }
        }
        let mut keys: Vec<(GroupKey, u32)> = key_ids.into_iter().collect();
        keys.sort_by_key(|(_, id)| *id);
        let keys: Vec<GroupKey> = keys.into_iter().map(|(k, _)| k).collect();
        let mut automata = Vec::with_capacity(per_buffer.len());
        for (buffer, (_, patterns, rules_of)) in per_buffer {
            // The raw payload is most of the bytes scanned and carries most patterns: there
            // a window filter is about twice as fast as the automaton walk on the corpus.
            // Elsewhere a contiguous NFA: as fast as a DFA (a DFA over ET Open's payload
            // patterns is 26 MB and misses the cache on most bytes) at a tenth of the size.
            let scanner = if buffer == PAYLOAD {
                Scanner::Windows(WindowFilter::new(&patterns))
            } else {
                Scanner::Nfa(
                    contiguous::NFA::builder()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .prefilter(false)
                        .build(&patterns)
                        .map_err(|source| PrefilterError::Build { buffer, source })?,
                )
            };
            let mut starts = Vec::with_capacity(rules_of.len() + 1);
            let mut flat = Vec::with_capacity(rules_of.iter().map(Vec::len).sum());
            starts.push(0);
            for rs in rules_of {
                flat.extend(rs);
                starts.push(flat.len() as u32);
            }
            stats.patterns += patterns.len();
            stats.automata_bytes += match &scanner {
                Scanner::Nfa(nfa) => nfa.memory_usage(),
                Scanner::Windows(w) => w.memory_usage(),
            };
            automata.push(BufferAutomaton {
                buffer,
                scanner,
                starts,
                rules: flat,
            });
        }
        stats.groups = keys.len();
        stats.automata = automata.len();
        without.shrink_to_fit();
        Ok(Prefilter {
            keys,
            without_fast_pattern: without,
            automata,
            gates,
            stats,
        })
    }

    /// Figures about the build.
    pub fn stats(&self) -> PrefilterStats {
        self.stats
    }

    /// The group keys.
    pub fn group_keys(&self) -> &[GroupKey] {
        &self.keys
    }

    fn group_applies(key: &GroupKey, t: &Traffic<'_>) -> bool {
        let transport_ok = key.transport == "ip" || key.transport == t.transport;
        let app_ok = match &key.app {
            None => true,
            Some(a) => t.app == Some(a.as_str()),
        };
        let dir_ok = match key.direction {
            FlowDirection::Either => true,
            FlowDirection::ToServer => t.to_server,
            FlowDirection::ToClient => !t.to_server,
        };
        transport_ok && app_ok && dir_ok
    }

    /// Candidate rules for this traffic, given the buffers available now as
    /// `(buffer name, bytes)`. Sorted, without duplicates.
    pub fn candidates(&self, traffic: &Traffic<'_>, buffers: &[(&str, &[u8])]) -> Vec<usize> {
        let mut out = Vec::new();
        self.candidates_into(traffic, buffers, &mut Scratch::default(), &mut out);
        let mut out: Vec<usize> = out.into_iter().map(|r| r as usize).collect();
        out.sort_unstable();
        out
    }

    /// Appends to `out` the candidate rules for this traffic, each once, in no particular
    /// order. `scratch` is reused between calls to save allocations.
    pub fn candidates_into(
        &self,
        traffic: &Traffic<'_>,
        buffers: &[(&str, &[u8])],
        scratch: &mut Scratch,
        out: &mut Vec<u32>,
    ) {
        if scratch.rule_seen.len() < self.gates.len() {
            scratch.rule_seen.resize(self.gates.len(), 0);
        }
        if scratch.pattern_seen.len() < self.automata.len() {
            scratch
                .pattern_seen
                .resize_with(self.automata.len(), Vec::new);
            scratch
                .state_seen
                .resize_with(self.automata.len(), Vec::new);
        }
        scratch.applies.clear();
        scratch
            .applies
            .extend(self.keys.iter().map(|k| Self::group_applies(k, traffic)));
        if !scratch.applies.iter().any(|&a| a) {
            return;
        }
        let generation = scratch.next_generation();
        for (g, rules) in self.without_fast_pattern.iter().enumerate() {
            if !scratch.applies[g] {
                continue;
            }
            for &r in rules {
                if self.gates[r as usize]
                    .as_ref()
                    .is_some_and(|gate| gate.ports_match(traffic))
                {
                    out.push(r);
                }
            }
        }
        let Scratch {
            rule_seen,
            pattern_seen,
            state_seen,
            applies,
            ..
        } = scratch;
        for (ai, a) in self.automata.iter().enumerate() {
            let (Some(seen), Some(states)) = (pattern_seen.get_mut(ai), state_seen.get_mut(ai))
            else {
                continue;
            };
            // Offers the rules of pattern `p`, found for the first time in this query.
            let mut offer = |p: usize| {
                let (Some(&from), Some(&to)) = (a.starts.get(p), a.starts.get(p + 1)) else {
                    return;
                };
                for &r in a.rules.get(from as usize..to as usize).unwrap_or(&[]) {
                    let Some(Some(gate)) = self.gates.get(r as usize) else {
                        continue;
                    };
                    let Some(stamp) = rule_seen.get_mut(r as usize) else {
                        continue;
                    };
                    if *stamp == generation
                        || !applies.get(gate.group as usize).copied().unwrap_or(false)
                        || !gate.ports_match(traffic)
                    {
                        continue;
                    }
                    *stamp = generation;
                    out.push(r);
                }
            };
            for (_, data) in buffers.iter().filter(|(name, _)| *name == a.buffer) {
                if data.is_empty() {
                    continue;
                }
                if seen.len() < a.starts.len() {
                    seen.resize(a.starts.len(), 0);
                }
                match &a.scanner {
                    Scanner::Windows(w) => w.scan(data, seen, generation, &mut offer),
                    Scanner::Nfa(nfa) => {
                        Self::walk(nfa, data, seen, states, generation, &mut offer)
                    }
                }
            }
        }
    }

    /// Walks `nfa` over `data`, offering each pattern found and not yet `seen`.
    fn walk(
        nfa: &contiguous::NFA,
        data: &[u8],
        seen: &mut [u32],
        states: &mut Vec<u32>,
        generation: u32,
        offer: &mut impl FnMut(usize),
    ) {
        // Unanchored searches are always supported by a Standard automaton.
        let Ok(mut sid) = nfa.start_state(Anchored::No) else {
            return;
        };
        for &byte in data {
            sid = nfa.next_state(Anchored::No, sid, byte);
            if !nfa.is_special(sid) || !nfa.is_match(sid) {
                continue;
            }
            let s = sid.as_usize();
            if states.len() <= s {
                states.resize(s + 1, 0);
            }
            // This state's patterns were all offered earlier in this query.
            if states.get(s) == Some(&generation) {
                continue;
            }
            if let Some(st) = states.get_mut(s) {
                *st = generation;
            }
            for k in 0..nfa.match_len(sid) {
                let p = nfa.match_pattern(sid, k).as_usize();
                // A pattern seen once in this query has already offered its rules.
                match seen.get_mut(p) {
                    Some(st) if *st != generation => *st = generation,
                    _ => continue,
                }
                offer(p);
            }
        }
    }
}

/// Bit `i` of a bit set, false when `i` is past its end.
#[inline(always)]
fn bit(set: &[u64], i: u32) -> bool {
    set.get((i >> 6) as usize)
        .is_some_and(|w| w & (1u64 << (i & 63)) != 0)
}

fn set_bit(set: &mut [u64], i: u32) {
    if let Some(w) = set.get_mut((i >> 6) as usize) {
        *w |= 1u64 << (i & 63);
    }
}

#[inline(always)]
fn mix(x: u32) -> u32 {
    x.wrapping_mul(0x9E37_79B1)
}

/// How common a byte is in traffic, so a pattern is indexed by its rarest window: zero
/// runs, padding and whitespace would make a window hit (and a table probe) at most bytes.
fn byte_weight(b: u8) -> u32 {
    match b {
        0 => 8,
        0xff | b' ' | b'\r' | b'\n' => 4,
        1..=8 => 3,
        b'a'..=b'z' | b'0'..=b'9' => 2,
        _ => 1,
    }
}

/// An open-addressed map from a gram (1, 2 or 4 folded bytes) to the `(pattern, window
/// offset)` pairs indexed by it. Twice as many slots as keys, so probes stay short; its
/// size is fixed by the patterns, whatever the traffic.
#[derive(Debug, Default)]
struct GramTable {
    mask: usize,
    /// `(gram, start, end)` into `entries`; `start == end` is an empty slot.
    slots: Vec<(u32, u32, u32)>,
    entries: Vec<(u32, u32)>,
}

impl GramTable {
    fn build(mut items: Vec<(u32, u32, u32)>) -> GramTable {
        items.sort_unstable();
        items.dedup();
        let keys = items.chunk_by(|a, b| a.0 == b.0).count();
        let cap = (keys * 2).next_power_of_two().max(8);
        let mut slots = vec![(0u32, 0u32, 0u32); cap];
        let mut entries = Vec::with_capacity(items.len());
        for run in items.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(g, _, _)) = run.first() else {
                continue;
            };
            let start = entries.len() as u32;
            entries.extend(run.iter().map(|&(_, p, k)| (p, k)));
            let mut s = (mix(g) >> 8) as usize & (cap - 1);
            // At most half the slots are taken, so an empty one is always found.
            while slots.get(s).is_some_and(|e| e.1 != e.2) {
                s = (s + 1) & (cap - 1);
            }
            if let Some(slot) = slots.get_mut(s) {
                *slot = (g, start, entries.len() as u32);
            }
        }
        GramTable {
            mask: cap - 1,
            slots,
            entries,
        }
    }

    #[inline(always)]
    fn get(&self, g: u32) -> &[(u32, u32)] {
        let mut s = (mix(g) >> 8) as usize & self.mask;
        // Bounded: the table always has an empty slot.
        for _ in 0..self.slots.len() {
            let Some(&(k, a, b)) = self.slots.get(s) else {
                return &[];
            };
            if a == b {
                return &[];
            }
            if k == g {
                return self.entries.get(a as usize..b as usize).unwrap_or(&[]);
            }
            s = (s + 1) & self.mask;
        }
        &[]
    }

    fn memory_usage(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u32, u32, u32)>()
            + self.entries.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

/// Bits in the hashed 4-byte-window presence set (32 KiB).
const QUAD_BITS: u32 = 18;

/// A presence filter over the 4-byte window at each position, for large pattern sets over
/// long buffers (the raw payload), where walking an automaton byte by byte costs a cache
/// miss or a branch per byte. Each pattern is indexed by one window: patterns of 4 bytes
/// or more by their rarest 4-byte window (hashed into a bit set), shorter ones by their
/// rarest byte pair or their single byte. A 64 Ki-bit set over the first two bytes of
/// every indexed window rejects most positions with one load; a window hit is then
/// verified by comparing the whole pattern at its place, so the patterns reported are
/// exactly those present. Everything is ASCII case folded.
#[derive(Debug)]
struct WindowFilter {
    /// Folded patterns, by pattern id.
    patterns: Vec<Vec<u8>>,
    /// Over `w & 0xffff` for every window `w` that could hit below.
    first: Box<[u64]>,
    singles: [u64; 4],
    single_table: GramTable,
    pairs: Box<[u64]>,
    pair_table: GramTable,
    quads: Box<[u64]>,
    quad_table: GramTable,
}

static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

#[inline(always)]
fn fold(b: u8) -> u32 {
    u32::from(FOLD[usize::from(b)])
}

impl WindowFilter {
    fn new(patterns: &[Vec<u8>]) -> WindowFilter {
        let mut first = vec![0u64; 1 << 10].into_boxed_slice();
        let mut pairs = vec![0u64; 1 << 10].into_boxed_slice();
        let mut quads = vec![0u64; 1 << (QUAD_BITS - 6)].into_boxed_slice();
        let mut singles = [0u64; 4];
        let (mut single_items, mut pair_items, mut quad_items) =
            (Vec::new(), Vec::new(), Vec::new());
        let folded: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        for (id, f) in folded.iter().enumerate() {
            let id = id as u32;
            let weight = |w: &[u8]| w.iter().map(|&b| byte_weight(b)).sum::<u32>();
            match f.as_slice() {
                [] => {}
                [b] => {
                    let b = u32::from(*b);
                    set_bit(&mut singles, b);
                    single_items.push((b, id, 0));
                    // Any window starting with this byte may hit.
                    for x in 0..256u32 {
                        set_bit(&mut first, b | (x << 8));
                    }
                }
                f if f.len() < 4 => {
                    let Some((k, w)) = f.windows(2).enumerate().min_by_key(|(_, w)| weight(w))
                    else {
                        continue;
                    };
                    let g = u32::from(w[0]) | (u32::from(w[1]) << 8);
                    set_bit(&mut pairs, g);
                    set_bit(&mut first, g);
                    pair_items.push((g, id, k as u32));
                }
                f => {
                    let Some((k, w)) = f.windows(4).enumerate().min_by_key(|(_, w)| weight(w))
                    else {
                        continue;
                    };
                    let g = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    set_bit(&mut quads, mix(g) >> (32 - QUAD_BITS));
                    set_bit(&mut first, g & 0xffff);
                    quad_items.push((g, id, k as u32));
                }
            }
        }
        WindowFilter {
            patterns: folded,
            first,
            singles,
            single_table: GramTable::build(single_items),
            pairs,
            pair_table: GramTable::build(pair_items),
            quads,
            quad_table: GramTable::build(quad_items),
        }
    }

    fn memory_usage(&self) -> usize {
        (self.first.len() + self.pairs.len() + self.quads.len()) * 8
            + self.patterns.iter().map(|p| p.capacity()).sum::<usize>()
            + self.single_table.memory_usage()
            + self.pair_table.memory_usage()
            + self.quad_table.memory_usage()
    }

    /// Verifies the patterns `cands` indexed by the window at `i`, reporting each one
    /// present and not yet `seen` in this query.
    #[inline(always)]
    fn verify(
        &self,
        d: &[u8],
        i: usize,
        cands: &[(u32, u32)],
        seen: &mut [u32],
        generation: u32,
        report: &mut impl FnMut(usize),
    ) {
        for &(p, k) in cands {
            let p = p as usize;
            if seen.get(p).is_none_or(|&s| s == generation) {
                continue;
            }
            let Some(start) = i.checked_sub(k as usize) else {
                continue;
            };
            let Some(pat) = self.patterns.get(p) else {
                continue;
            };
            let present = start
                .checked_add(pat.len())
                .and_then(|end| d.get(start..end))
                .is_some_and(|w| w.eq_ignore_ascii_case(pat));
            if present {
                if let Some(s) = seen.get_mut(p) {
                    *s = generation;
                }
                report(p);
            }
        }
    }

    /// Reports each pattern present in `d` once (patterns already `seen` in this query
    /// are not reported again).
    fn scan(&self, d: &[u8], seen: &mut [u32], generation: u32, mut report: impl FnMut(usize)) {
        // The window at `i` holds the folded bytes `i..i + 4`, zero past the end (a
        // padded window can only hit a pattern that then fails verification for want of
        // bytes).
        let mut w = 0u32;
        for (j, &b) in d.iter().take(4).enumerate() {
            w |= fold(b) << (8 * j);
        }
        // The first-two-bytes test rejects most positions: it stays in the loop, the rest
        // is out of line.
        let mut i = 0;
        for &next in d.get(4..).unwrap_or(&[]) {
            if bit(&self.first, w & 0xffff) {
                self.hit(d, i, w, seen, generation, &mut report);
            }
            w = (w >> 8) | (fold(next) << 24);
            i += 1;
        }
        while i < d.len() {
            if bit(&self.first, w & 0xffff) {
                self.hit(d, i, w, seen, generation, &mut report);
            }
            w >>= 8;
            i += 1;
        }
    }

    /// Looks up and verifies the patterns the window `w` at `i` may start.
    #[inline(never)]
    fn hit(
        &self,
        d: &[u8],
        i: usize,
        w: u32,
        seen: &mut [u32],
        generation: u32,
        report: &mut impl FnMut(usize),
    ) {
        let g2 = w & 0xffff;
        if bit(&self.singles, w & 0xff) {
            self.verify(
                d,
                i,
                self.single_table.get(w & 0xff),
                seen,
                generation,
                report,
            );
        }
        if bit(&self.pairs, g2) {
            self.verify(d, i, self.pair_table.get(g2), seen, generation, report);
        }
        if bit(&self.quads, mix(w) >> (32 - QUAD_BITS)) {
            self.verify(d, i, self.quad_table.get(w), seen, generation, report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{LoadOptions, Ruleset};

    fn rule(opts: &str) -> Rule {
        crate::parse_line(&format!("alert tcp any any -> any any ({opts} sid:1;)")).unwrap()
    }

    #[test]
    fn fast_pattern_choice() {
        let fp = fast_pattern(&rule(
            r#"content:"longer one"; content:"short"; fast_pattern;"#,
        ))
        .unwrap();
        assert_eq!(fp.bytes, b"short");
        let fp = fast_pattern(&rule(r#"content:"abcdef"; fast_pattern:2,3;"#)).unwrap();
        assert_eq!(fp.bytes, b"cde");
        let fp = fast_pattern(&rule(
            r#"content:"abc"; content:!"negated-longest"; content:"abcd"; nocase;"#,
        ))
        .unwrap();
        assert_eq!((fp.bytes.as_slice(), fp.nocase), (&b"abcd"[..], true));
        let fp = fast_pattern(&rule(r#"content:"pay1"; http.uri; content:"uri1";"#)).unwrap();
        assert_eq!(fp.buffer, "http.uri", "an app-layer buffer wins a tie");
        assert!(fast_pattern(&rule(r#"content:!"x"; pcre:"/y/";"#)).is_none());
        let r = crate::parse_line(
            r#"alert dns any any -> any any (dns.query; dotprefix; content:".evil.com"; sid:1;)"#,
        )
        .unwrap();
        let fp = fast_pattern(&r).unwrap();
        assert_eq!(
            fp.bytes, b"evil.com",
            "dotprefix: the pattern without its leading dot"
        );
        let r = crate::parse_line(
            r#"alert http any any -> any any (http.uri; url_decode; content:"/a b"; sid:1;)"#,
        )
        .unwrap();
        assert!(
            fast_pattern(&r).is_none(),
            "other transforms make a content unusable"
        );
    }

    #[test]
    fn groups_and_candidates() {
        let mut set = Ruleset::new(LoadOptions::default());
        set.add_source(
            "t.rules",
            r#"alert http any any -> any any (flow:to_server; http.uri; content:"/admin"; sid:1;)
alert http any any -> any any (flow:to_client; file.data; content:"<script"; sid:2;)
alert tcp any any -> any 22 (content:"SSH-"; sid:3;)
alert tcp any any -> any any (flow:to_server; dsize:0; sid:4;)
alert udp any any -> any 53 (content:"|00 01|"; sid:5;)
alert dns any any -> any any (dns.query; content:"evil"; sid:6;)
"#,
        );
        assert_eq!(set.rules.len(), 6, "{:?}", set.skipped);
        let p = Prefilter::build(&set.rules).unwrap();
        let s = p.stats();
        assert_eq!((s.with_fast_pattern, s.without_fast_pattern), (5, 1));
        let http_req = Traffic {
            transport: "tcp",
            app: Some("http"),
            to_server: true,
            src_port: 40000,
            dst_port: 80,
        };
        let c = p.candidates(
            &http_req,
            &[("http.uri", b"/ADMIN/login"), ("payload", b"GET /ADMIN")],
        );
        assert_eq!(
            c,
            [0, 3],
            "uri rule (case-insensitive prefilter) and the pattern-less tcp rule"
        );
        let http_resp = Traffic {
            to_server: false,
            src_port: 80,
            dst_port: 40000,
            ..http_req
        };
        assert_eq!(
            p.candidates(
                &http_resp,
                &[("http.uri", b"/admin"), ("file.data", b"<script>")]
            ),
            [1]
        );
        let ssh = Traffic {
            transport: "tcp",
            app: None,
            to_server: true,
            src_port: 5000,
            dst_port: 22,
        };
        assert_eq!(p.candidates(&ssh, &[("payload", b"SSH-2.0-x")]), [2, 3]);
        let other_port = Traffic {
            dst_port: 2222,
            ..ssh
        };
        assert_eq!(p.candidates(&other_port, &[("payload", b"SSH-2.0-x")]), [3]);
        let dns = Traffic {
            transport: "udp",
            app: Some("dns"),
            to_server: true,
            src_port: 5353,
            dst_port: 53,
        };
        assert_eq!(
            p.candidates(
                &dns,
                &[
                    ("payload", b"\x12\x34\x00\x01"),
                    ("dns.query", b"www.evil.com")
                ]
            ),
            [4, 5]
        );
    }

    /// Both scanners (the window filter on the payload, the automaton walk elsewhere) offer
    /// every rule whose fast pattern occurs, and no other, even where patterns overlap,
    /// nest, repeat, share windows or match states, are shorter than a window, are all
    /// zeros, sit at either end of the buffer or differ from it in ASCII case.
    #[test]
    fn candidates_are_exactly_the_rules_whose_pattern_occurs() {
        let patterns: [&[u8]; 22] = [
            b"\x00\x00\x00",
            b"\x00\x00\x00\x00\x00",
            b"\x00\x01",
            b"abcd",
            b"bcd",
            b"cd",
            b"Dab",
            b"a",
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x01",
            b"ccc",
            b"\x00",
            b"B",
            b"\x00\x00\x00\x00",
            b"aBcDa",
            b"xabcdx",
            b"ab\x00\x00cd",
            b"\xff\xff",
            b"\xffAb",
            b"dcba\x01",
            b"\x01\x01\x01\x01\x01\x01",
            b"CdCdCd",
            b"zz",
        ];
        let hex = |p: &[u8]| -> String { p.iter().map(|b| format!("|{b:02x}|")).collect() };
        let text: String = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "alert tcp any any -> any any (content:\"{}\"; sid:{};)\n\
                     alert http any any -> any any (http.uri; content:\"{}\"; sid:{};)\n",
                    hex(p),
                    2 * i + 1,
                    hex(p),
                    2 * i + 2
                )
            })
            .collect();
        let mut set = Ruleset::new(LoadOptions::default());
        set.add_source("t.rules", &text);
        assert_eq!(set.rules.len(), 2 * patterns.len(), "{:?}", set.skipped);
        let p = Prefilter::build(&set.rules).unwrap();
        let traffic = Traffic {
            transport: "tcp",
            app: Some("http"),
            to_server: true,
            src_port: 1,
            dst_port: 2,
        };
        let mut scratch = Scratch::default();
        // Small alphabets, so every pattern turns up in some buffers and not in others;
        // then every byte value, for safety on arbitrary input.
        let all: Vec<u8> = (0..=255).collect();
        let alphabets: [&[u8]; 4] = [
            b"\x00\x01abcdABCD",
            b"\x00\xffaAbBcCdDxzZ",
            b"\x00\x01",
            &all,
        ];
        let mut x: u32 = 12345;
        for alphabet in alphabets {
            for round in 0..3000 {
                let len = (round % 70) as usize;
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        alphabet[(x >> 16) as usize % alphabet.len()]
                    })
                    .collect();
                for (buffer, parity) in [("payload", 0), ("http.uri", 1)] {
                    let mut got = Vec::new();
                    p.candidates_into(&traffic, &[(buffer, &data)], &mut scratch, &mut got);
                    got.sort_unstable();
                    let want: Vec<u32> = (0..patterns.len() as u32)
                        .filter(|&i| {
                            let pat = patterns[i as usize];
                            data.windows(pat.len()).any(|w| w.eq_ignore_ascii_case(pat))
                        })
                        .map(|i| 2 * i + parity)
                        .collect();
                    assert_eq!(got, want, "{buffer} {data:?}");
                }
            }
        }
    }

    /// The window filter's hash table and bit sets stay consistent with many patterns
    /// sharing grams, and a pattern longer than the buffer is never reported.
    #[test]
    fn window_filter_many_patterns() {
        let mut pats: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| format!("k{i}x{}", i % 7).into_bytes())
            .collect();
        pats.push(b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec());
        let f = WindowFilter::new(&pats);
        let mut seen = vec![0u32; pats.len()];
        let data = b"..K17X3..k2999x3.\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let mut got = Vec::new();
        f.scan(data, &mut seen, 1, |p| got.push(p));
        got.sort_unstable();
        let want: Vec<usize> = (0..pats.len())
            .filter(|&i| {
                data.windows(pats[i].len())
                    .any(|w| w.eq_ignore_ascii_case(&pats[i]))
            })
            .collect();
        assert_eq!(got, want);
        assert!(want.contains(&17) && want.contains(&2999));
        // Seen patterns are not reported again within the same query.
        let mut again = Vec::new();
        f.scan(data, &mut seen, 1, |p| again.push(p));
        assert!(again.is_empty());
    }
}
