//! The engine: a loaded [`Ruleset`] and the per-stream [`Session`] that evaluates lines
//! against it while keeping correlation state (frequency windows, first-time-seen values,
//! ignore timers).
//!
//! The session is sans-IO: the caller passes each line with its source and its time, and
//! gets an [`Outcome`] back. Time comes from the caller, never from the wall clock, so a
//! replay gives the same verdicts every time.

use crate::decoder::{Category, Decoded, DecoderSet};
use crate::fields::Fields;
use crate::lists::CdbList;
use crate::predecode::predecode;
use crate::rules::{CompiledCheck, Condition, Correlate, FieldRef, Lookup, Rule, RuleSet, Test};
use foldhash::{HashMap as FastMap, HashMapExt, HashSet as FastSet, HashSetExt};
use picket_event::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Limits that keep a session's memory bounded whatever the input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Lines longer than this are cut before analysis (OSSEC cuts at 64 KiB too).
    pub max_line: usize,
    /// Entries kept per correlation window.
    pub max_window_events: usize,
    /// Distinct first-time-seen values remembered.
    pub max_fts_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_window_events: 16 * 1024,
            max_fts_values: 1 << 20,
        }
    }
}

/// A loaded ruleset: decoders, rules, lists and the correlation wiring between rules.
#[derive(Debug)]
pub struct Ruleset {
    pub decoders: DecoderSet,
    pub rules: RuleSet,
    pub lists: HashMap<String, CdbList>,
    /// For each rule index: the window it feeds because some rule names it in
    /// `if_matched_sid`.
    sid_window: Vec<Option<usize>>,
    /// For each rule index: the windows it feeds because its groups match some rule's
    /// `if_matched_group` (only used when it feeds no sid window, as OSSEC does).
    group_windows: Vec<Vec<usize>>,
    /// For each rule index: the window it searches.
    searches: Vec<Option<usize>>,
    /// For each window: the longest timeframe of the rules searching it.
    window_timeframe: Vec<u32>,
    /// One multi-pattern scan of the log finds which rule literals occur; conditions whose
    /// literals are all absent are decided without running their pattern.
    prefilter: Option<Prefilter>,
    /// For each decoder index: the interned id of the name it reports.
    decoder_name_id: Vec<u32>,
    /// For each rule: its groups, MITRE ids and file, shared with every match reported.
    rule_info: Vec<RuleInfo>,
    /// For each tree node with many children: its children grouped by the decoder they
    /// require, so an event visits only the children that can match it.
    child_index: Vec<Option<ChildIndex>>,
    /// For each window: the rules that search it.
    window_searchers: Vec<Vec<usize>>,
    /// For each window: whether some searcher walks the whole window (it has no `same_*`
    /// key to index by), so the full list must be kept.
    window_needs_full: Vec<bool>,
    /// For each rule: the facts that rule it out cheaply, tested before its conditions.
    quick: Vec<Quick>,
    /// For each rule: the fields that the rules searching the windows it feeds compare
    /// (`different_*` naming a field; `same_*` ones are part of the correlation key); a
    /// remembered event keeps only these.
    kept_fields: Vec<Box<[String]>>,
}

/// What a tree walk checks before it evaluates a rule's conditions: most rules under a
/// busy parent are ruled out by the decoder they require or by a literal of theirs that
/// the line lacks, and these two tests need no field lookup and no pattern.
#[derive(Debug, Clone, Copy)]
struct Quick {
    /// Interned decoder name the rule requires (`decoded_as`), [`ANY_DECODER`] if none.
    decoder: u32,
    /// A prefilter literal set one of whose literals must occur in the log, since a
    /// non-negated log condition of the rule needs one of them; [`NO_GATE`] when no such
    /// condition has prefilter literals.
    gate: u32,
}

const ANY_DECODER: u32 = u32::MAX - 1;
const NO_GATE: u32 = u32::MAX;

fn build_quick(rules: &RuleSet, prefilter: Option<&Prefilter>) -> Vec<Quick> {
    rules
        .rules
        .iter()
        .map(|rule| {
            // The condition with the fewest alternatives rejects the most lines.
            let gate = rule
                .conditions
                .iter()
                .filter(|c| !c.negate && c.field == FieldRef::Log)
                .filter_map(|c| c.literals)
                .min_by_key(|&set| prefilter.map_or(0, |p| p.set_len(set)));
            Quick {
                decoder: rule.decoded_as_id.unwrap_or(ANY_DECODER),
                gate: gate.unwrap_or(NO_GATE),
            }
        })
        .collect()
}

type RuleInfo = (Arc<[String]>, Arc<[String]>, Arc<str>);

/// A node's children split by `decoded_as`; each list keeps the original order.
#[derive(Debug, Default)]
struct ChildIndex {
    /// Children without `decoded_as`, for events whose decoder no child names.
    any_decoder: Vec<usize>,
    /// Per decoder-name id: children requiring it, plus those without `decoded_as`.
    by_decoder: FastMap<u32, Vec<usize>>,
}

/// Nodes with fewer children than this are walked directly.
const CHILD_INDEX_MIN: usize = 16;

fn build_child_index(rules: &RuleSet) -> Vec<Option<ChildIndex>> {
    rules
        .nodes
        .iter()
        .map(|node| {
            if node.children.len() < CHILD_INDEX_MIN {
                return None;
            }
            let decoder_of = |child: usize| rules.rules[rules.nodes[child].rule].decoded_as_id;
            let mut index = ChildIndex::default();
            let ids: std::collections::BTreeSet<u32> = node
                .children
                .iter()
                .filter_map(|&c| decoder_of(c))
                .collect();
            for &child in &node.children {
                if decoder_of(child).is_none() {
                    index.any_decoder.push(child);
                }
            }
            for id in ids {
                let list: Vec<usize> = node
                    .children
                    .iter()
                    .copied()
                    .filter(|&c| decoder_of(c).is_none_or(|d| d == id))
                    .collect();
                index.by_decoder.insert(id, list);
            }
            Some(index)
        })
        .collect()
}

/// What a frequency rule's `same_*` options (and, unless `global_frequency`, the source)
/// require to be equal, written into `key` (cleared first); false when a field is missing.
/// Events are indexed by it, so a search visits only candidates.
fn correlation_key_into(
    rule: &Rule,
    agent: &str,
    location: &str,
    fields: &Fields,
    key: &mut String,
) -> bool {
    // Each part is written after its length, so that two keys are equal only when every
    // part is: a search then needs no `same_*` test of its own.
    fn part(key: &mut String, value: &str) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = value.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[at..] {
            key.push(char::from(d));
        }
        key.push(':');
        key.push_str(value);
    }
    key.clear();
    if !rule.global_frequency {
        part(key, agent);
    }
    for correlate in &rule.same {
        match correlate {
            Correlate::Field(name) => match fields.get_canonical(name) {
                Some(value) => part(key, value),
                None => return false,
            },
            Correlate::Agent => part(key, agent),
            Correlate::Location => part(key, location),
        }
    }
    true
}

/// A frequency rule's window, indexed by its correlation key.
#[derive(Debug, Default)]
struct KeyedWindow {
    by_key: FastMap<String, VecDeque<Arc<Stored>>>,
    entries: usize,
}

impl Ruleset {
    pub(crate) fn new(
        mut decoders: DecoderSet,
        mut rules: RuleSet,
        lists: HashMap<String, CdbList>,
    ) -> Ruleset {
        let prefilter = build_prefilter(&mut rules, &mut decoders);
        // Intern decoder names: decoders report a name, rules test it with `decoded_as`.
        let mut decoder_name_ids: HashMap<String, u32> = HashMap::new();
        for decoder in decoders.decoders() {
            let next = decoder_name_ids.len() as u32;
            decoder_name_ids.entry(decoder.name.clone()).or_insert(next);
        }
        for rule in &mut rules.rules {
            if let Some(name) = &rule.decoded_as {
                // A name no decoder reports can never match: give it an id no decoder has.
                rule.decoded_as_id = Some(decoder_name_ids.get(name).copied().unwrap_or(u32::MAX));
            }
        }
        let child_index = build_child_index(&rules);
        let quick = build_quick(&rules, prefilter.as_ref());
        let rule_info: Vec<RuleInfo> = rules
            .rules
            .iter()
            .map(|r| {
                (
                    r.groups.clone().into(),
                    r.mitre.clone().into(),
                    r.file.as_str().into(),
                )
            })
            .collect();
        let decoder_name_id: Vec<u32> = decoders
            .decoders()
            .iter()
            .map(|d| decoder_name_ids.get(&d.name).copied().unwrap_or(u32::MAX))
            .collect();
        let count = rules.rules.len();
        let mut sid_window = vec![None; count];
        let mut group_windows = vec![Vec::new(); count];
        let mut searches = vec![None; count];
        let mut window_timeframe: Vec<u32> = Vec::new();
        for (index, rule) in rules.rules.iter().enumerate() {
            if let Some(sid) = rule.if_matched_sid {
                let Some(target) = rules.index_of(sid) else {
                    continue;
                };
                let window = *sid_window[target].get_or_insert_with(|| {
                    window_timeframe.push(0);
                    window_timeframe.len() - 1
                });
                searches[index] = Some(window);
                window_timeframe[window] = window_timeframe[window].max(rule.timeframe);
            } else if let Some(pattern) = &rule.if_matched_group {
                window_timeframe.push(rule.timeframe);
                let window = window_timeframe.len() - 1;
                searches[index] = Some(window);
                for (other, candidate) in rules.rules.iter().enumerate() {
                    if candidate.groups.iter().any(|g| pattern.is_match(g))
                        || pattern.is_match(&candidate.groups.join(","))
                    {
                        group_windows[other].push(window);
                    }
                }
            }
        }
        let mut window_searchers = vec![Vec::new(); window_timeframe.len()];
        let mut window_needs_full = vec![false; window_timeframe.len()];
        for (index, window) in searches.iter().enumerate() {
            if let Some(window) = window {
                window_searchers[*window].push(index);
                if rules.rules[index].same.is_empty() {
                    window_needs_full[*window] = true;
                }
            }
        }
        let kept_fields = (0..count)
            .map(|index| {
                let windows: &[usize] = match &sid_window[index] {
                    Some(window) => std::slice::from_ref(window),
                    None => &group_windows[index],
                };
                let mut names: Vec<String> = Vec::new();
                for &window in windows {
                    for &searcher in &window_searchers[window] {
                        let rule = &rules.rules[searcher];
                        for correlate in &rule.different {
                            if let Correlate::Field(name) = correlate {
                                if !names.contains(name) {
                                    names.push(name.clone());
                                }
                            }
                        }
                    }
                }
                names.into_boxed_slice()
            })
            .collect();
        Ruleset {
            decoders,
            rules,
            lists,
            sid_window,
            group_windows,
            searches,
            window_timeframe,
            prefilter,
            decoder_name_id,
            rule_info,
            child_index,
            window_searchers,
            window_needs_full,
            quick,
            kept_fields,
        }
    }

    /// A new session with empty correlation state.
    pub fn session(&self) -> Session<'_> {
        self.session_with_limits(Limits::default())
    }

    pub fn session_with_limits(&self, limits: Limits) -> Session<'_> {
        Session {
            ruleset: self,
            limits,
            windows: vec![VecDeque::new(); self.window_timeframe.len()],
            fts_seen: FastSet::new(),
            ignored_since: FastMap::new(),
            stats: SessionStats::default(),
            program_cache: FastMap::new(),
            scan: LiteralScan {
                marks: ScanMarks {
                    literal: vec![0; self.prefilter.as_ref().map_or(0, Prefilter::literal_count)],
                    set: vec![0; self.prefilter.as_ref().map_or(0, Prefilter::set_count)],
                    generation: 0,
                },
                scanned: false,
                folded: Vec::new(),
            },
            keyed: FastMap::new(),
            key_buffer: String::new(),
            decoded: Decoded::default(),
            last_source: (Arc::from(""), Arc::from("")),
        }
    }
}

/// One line to analyse, with the facts about it that do not come from its text.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub line: &'a str,
    /// Where it was read: a file path, "journald", a qrexec service...
    pub location: &'a str,
    /// The authenticated source (agent or qube); correlation never mixes sources.
    pub agent: &'a str,
    /// Hostname to use when the line's header names none.
    pub default_hostname: &'a str,
    pub time: Timestamp,
}

/// The rule that matched an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub id: u32,
    pub level: u8,
    /// With `$(field)` substituted.
    pub description: String,
    /// Shared with the rule: reporting a match copies no strings.
    pub groups: Arc<[String]>,
    pub mitre: Arc<[String]>,
    pub file: Arc<str>,
}

/// Everything known about one analysed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub full_log: String,
    pub timestamp: Option<String>,
    pub hostname: String,
    pub program_name: Option<String>,
    pub log: String,
    pub location: String,
    /// The reported decoder name and the top-level decoder's name.
    pub decoder: Option<String>,
    pub parent_decoder: Option<String>,
    pub fields: Fields,
    pub rule: Option<MatchedRule>,
    /// Whether an alert is raised: a rule matched with level above 0 and was not
    /// suppressed by its `ignore` timer.
    pub alert: bool,
}

/// Everything known about one analysed line, borrowed from the line and the session (see
/// [`Session::analyse`]); [`Analysis::to_outcome`] makes the owned [`Outcome`].
#[derive(Debug, Clone, Copy)]
pub struct Analysis<'s> {
    pub full_log: &'s str,
    pub timestamp: Option<&'s str>,
    pub hostname: &'s str,
    pub program_name: Option<&'s str>,
    pub log: &'s str,
    pub location: &'s str,
    /// The reported decoder name and the top-level decoder's name.
    pub decoder: Option<&'s str>,
    pub parent_decoder: Option<&'s str>,
    pub fields: &'s Fields,
    /// Index of the rule that matched.
    rule: Option<usize>,
    /// Whether an alert is raised, as [`Outcome::alert`].
    pub alert: bool,
    ruleset: &'s Ruleset,
}

impl Analysis<'_> {
    /// The id of the rule that matched.
    pub fn rule_id(&self) -> Option<u32> {
        self.rule.map(|index| self.ruleset.rules.rules[index].id)
    }

    /// The level of the rule that matched.
    pub fn rule_level(&self) -> Option<u8> {
        self.rule.map(|index| self.ruleset.rules.rules[index].level)
    }

    /// The rule that matched, with its description's `$(field)`s substituted.
    pub fn matched_rule(&self) -> Option<MatchedRule> {
        let index = self.rule?;
        let rule = &self.ruleset.rules.rules[index];
        let (groups, mitre, file) = &self.ruleset.rule_info[index];
        Some(MatchedRule {
            id: rule.id,
            level: rule.level,
            description: substitute_description(
                &rule.description,
                self.fields,
                self.hostname,
                self.program_name,
            ),
            groups: Arc::clone(groups),
            mitre: Arc::clone(mitre),
            file: Arc::clone(file),
        })
    }

    /// The owned copy of everything, as [`Session::process`] returns it.
    pub fn to_outcome(&self) -> Outcome {
        Outcome {
            full_log: self.full_log.to_string(),
            timestamp: self.timestamp.map(str::to_string),
            hostname: self.hostname.to_string(),
            program_name: self.program_name.map(str::to_string),
            log: self.log.to_string(),
            location: self.location.to_string(),
            decoder: self.decoder.map(str::to_string),
            parent_decoder: self.parent_decoder.map(str::to_string),
            fields: self.fields.clone(),
            rule: self.matched_rule(),
            alert: self.alert,
        }
    }
}

/// Counters of a session, including every limit that was hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub lines: u64,
    pub decoded: u64,
    pub matched: u64,
    pub alerts: u64,
    pub truncated_lines: u64,
    pub dropped_fields: u64,
    pub window_evictions: u64,
    pub fts_full: u64,
}

#[derive(Debug)]
struct Stored {
    time: i64,
    /// Shared with the other events of the same source (see [`Session::shared_source`]).
    agent: Arc<str>,
    location: Arc<str>,
    /// The rule that alerted: its [`Ruleset::kept_fields`] name the values in `kept`.
    rule: u32,
    kept: KeptFields,
    matched: AtomicU32,
}

/// The values of an event's fields that a later search may compare, in the order of the
/// names they were kept for. Most events are remembered and few fields are ever compared,
/// so copying only those (in two allocations) is much cheaper than cloning [`Fields`].
#[derive(Debug, Default)]
struct KeptFields {
    text: Box<str>,
    /// Per name: the value's byte range in `text`, `None` when the event lacked it.
    ranges: Box<[Option<(u32, u32)>]>,
}

impl KeptFields {
    fn new(names: &[String], fields: &Fields) -> KeptFields {
        if names.is_empty() {
            return KeptFields::default();
        }
        let mut text = String::new();
        let mut ranges = Vec::with_capacity(names.len());
        for name in names {
            ranges.push(fields.get_canonical(name).and_then(|value| {
                let start = u32::try_from(text.len()).ok()?;
                let end = u32::try_from(text.len() + value.len()).ok()?;
                text.push_str(value);
                Some((start, end))
            }));
        }
        KeptFields {
            text: text.into_boxed_str(),
            ranges: ranges.into_boxed_slice(),
        }
    }

    /// The value kept for `name`, given the names it was kept for.
    fn get(&self, names: &[String], name: &str) -> Option<&str> {
        let at = names.iter().position(|n| n == name)?;
        let (start, end) = (*self.ranges.get(at)?)?;
        self.text.get(start as usize..end as usize)
    }
}

/// What a rule can look at in the event being analysed.
struct View<'e> {
    log: &'e str,
    program_name: Option<&'e str>,
    hostname: &'e str,
    location: &'e str,
    agent: &'e str,
    decoder_index: Option<usize>,
    /// Interned id of the reported decoder name.
    decoder_name_id: Option<u32>,
    category: Category,
    fields: &'e Fields,
    time: Timestamp,
    /// Set (to the rule's priority) when a frequency rule fires for this event.
    matched: u32,
}

impl View<'_> {
    fn value(&self, field: &FieldRef) -> Option<&str> {
        match field {
            FieldRef::Log => Some(self.log),
            FieldRef::ProgramName => self.program_name,
            FieldRef::Hostname => Some(self.hostname),
            FieldRef::Location => Some(self.location),
            FieldRef::User => self
                .fields
                .get("dstuser")
                .or_else(|| self.fields.get("srcuser")),
            FieldRef::Named(name) => self.fields.get_canonical(name),
        }
    }
}

/// Correlation state for one stream of lines (one agent, one logtest run...).
#[derive(Debug)]
pub struct Session<'r> {
    ruleset: &'r Ruleset,
    limits: Limits,
    windows: Vec<VecDeque<Arc<Stored>>>,
    fts_seen: FastSet<String>,
    ignored_since: FastMap<usize, i64>,
    stats: SessionStats,
    /// Program name to the decoders that apply to it; bounded by [`PROGRAM_CACHE_MAX`].
    program_cache: FastMap<String, Box<[u32]>>,
    /// Per frequency rule with `same_*` options: its window indexed by correlation key.
    keyed: FastMap<usize, KeyedWindow>,
    /// Reused to build correlation keys without an allocation per search.
    key_buffer: String,
    scan: LiteralScan,
    /// The current line's decoding, reused between lines.
    decoded: Decoded,
    /// The agent and location of the last event remembered for correlation.
    last_source: (Arc<str>, Arc<str>),
}

/// The multi-pattern scan behind [`LiteralScan`]: which of a few thousand literals occur
/// in a line. Each literal is indexed by one 4-byte window of it (3 bytes for 3-byte
/// literals). The scan looks at every text position in two steps:
///
/// 1. The byte pair there is looked up in a bitmap of the pairs that begin an indexed
///    window, directly indexed (no hashing). Windows are chosen to begin with a pair that
///    is rare in log text (see [`COMMON_PAIRS`]), so most positions stop here.
/// 2. Otherwise the 4-byte (and 3-byte) window there is hashed into a second bitmap, and
///    only on a hit is it looked up in a small open-addressed map from window to the
///    literals indexed by it, each then compared in full.
///
/// Unlike an automaton walk, the positions are independent of each other (no chain of
/// table lookups, where a multi-megabyte DFA over these literals waited on a cache miss at
/// almost every byte), and every table is small enough for the L1 or L2 cache.
///
/// Callers never ask about one literal: they ask whether any literal of a *set* occurs (the
/// alternatives a pattern needs one of). Sets are interned when the ruleset is built, and a
/// literal found marks every set that holds it, so each question is one load afterwards,
/// however many alternatives the set has.
#[derive(Debug)]
struct Prefilter {
    /// Every literal, lower-cased, one after another: literal `l` is
    /// `literal_bytes[literal_start[l]..literal_start[l + 1]]`.
    literal_bytes: Vec<u8>,
    literal_start: Vec<u32>,
    /// Bit `p` is set when some indexed window begins with the byte pair `p` (first byte
    /// in the low half).
    pairs: Box<[u64; PAIR_BITMAP_WORDS]>,
    /// Literals of 4 bytes or more, by a 4-byte window.
    long: WindowTable,
    /// Literals of exactly 3 bytes, by all of them.
    short: WindowTable,
    /// For each literal `l`: the sets holding it are
    /// `sets_of[sets_of_start[l]..sets_of_start[l + 1]]`.
    sets_of_start: Vec<u32>,
    sets_of: Vec<u32>,
    /// For each set: how many literals it holds.
    set_len: Vec<u32>,
}

const PAIR_BITMAP_WORDS: usize = (1 << 16) / 64;

/// The 256 byte pairs most frequent in log text, most frequent first, lower-cased: a
/// literal is indexed by a window that does not begin with one of them when it can, so
/// that the pair bitmap rejects most text positions. Counted over about 4,200 log lines
/// of many programs (the non-JSON log samples of the OSSEC and Wazuh rule tests and the
/// fail2ban filter test logs); only the ranking matters, and any typical log text gives a
/// similar one.
const COMMON_PAIRS: [&[u8; 2]; 256] = [
    b": ", b" \"", b"st", b"er", b"00", b".1", b"on", b" f", b"at", b"te", b"se", b"ti", b"20",
    b" 1", b"\":", b"in", b", ", b" s", b"e ", b"re", b"es", b"2.", b" t", b"ro", b"me", b"il",
    b"or", b"19", b"t ", b"0.", b"ma", b"\" ", b"d ", b"en", b"ec", b"nt", b"ed", b"os", b"us",
    b".2", b"ai", b"fa", b"01", b"10", b" a", b"n ", b"ss", b"r ", b"co", b"am", b"de", b"om",
    b"16", b"ch", b" p", b" d", b"id", b"le", b".0", b"ho", b"0 ", b" u", b"lo", b"io", b":0",
    b"92", b"ct", b"-0", b":2", b" i", b"\",", b"1.", b"th", b"12", b"tc", b"0:", b"na", b"so",
    b" c", b"=\"", b"xx", b"tr", b"ne", b"pr", b"11", b"17", b"al", b":1", b"23", b"n:", b" r",
    b"# ", b"1 ", b"]:", b"ca", b"im", b"8.", b"ac", b" [", b"to", b"\"m", b"] ", b"ue", b" l",
    b"ru", b"em", b"ve", b"ut", b" {", b"ic", b"13", b"js", b"t\"", b"og", b" 2", b"an", b"ce",
    b"li", b"au", b"no", b"05", b"h\"", b"fi", b":3", b"e\"", b"lj", b"m ", b"{ ", b" }", b"e=",
    b"po", b"ta", b"ot", b"fr", b"ar", b":5", b"ge", b"he", b"14", b"s ", b"8 ", b"ur", b"it",
    b" m", b" e", b"68", b"un", b"t_", b"\"h", b"fo", b"-1", b"18", b"tp", b"\"2", b"1:", b"et",
    b"\"t", b"02", b"d=", b"ex", b"4:", b"[1", b"15", b"7:", b"9 ", b"tt", b"sr", b"o ", b" h",
    b"sh", b" ,", b":4", b"3.", b" 0", b"da", b"08", b"p ", b"ou", b" n", b"as", b"rc", b".4",
    b"ng", b"ri", b"\"1", b"nd", b"is", b"t:", b"sc", b"21", b"ra", b"mp", b"5.", b"rt", b"pa",
    b"e_", b" o", b".3", b"3:", b"34", b"-2", b"ap", b"di", b"  ", b"04", b"gi", b".c", b"d:",
    b"c ", b"=1", b"=0", b"t=", b"4 ", b"3 ", b"pe", b"ty", b"si", b"ip", b"ad", b"22", b"07",
    b"5 ", b"sy", b"2 ", b"ys", b"24", b"40", b"27", b"mo", b"6:", b"y ", b" '", b"03", b".5",
    b" (", b"06", b"2:", b"45", b"ie", b"e:", b"el", b"l ", b"la", b"9:", b"pl", b"' ", b"5-",
    b"pt", b"oc", b" b", b"wa", b" -", b"ni", b"25", b"8:", b"09",
];

/// How common a byte pair is in log text: 256 for the most common, 0 for one not among
/// [`COMMON_PAIRS`].
fn pair_commonness(pair: [u8; 2]) -> u32 {
    COMMON_PAIRS
        .iter()
        .position(|&&p| p == pair)
        .map_or(0, |rank| 256 - rank as u32)
}

/// Bits of a window's hash: the window bitmaps are 2^16 bits, 8 KiB.
const WINDOW_HASH_BITS: u32 = 16;

fn window_hash(window: u32) -> usize {
    (window.wrapping_mul(0x9E37_79B1) >> (32 - WINDOW_HASH_BITS)) as usize
}

/// Literals indexed by one window of each; see [`Prefilter`].
#[derive(Debug)]
struct WindowTable {
    /// Bit `h` is set when some window hashes to `h`: one probe decides whether to look
    /// the window up. A fixed-size array, so that the probe needs no bounds check.
    bits: Box<[u64; WINDOW_BITMAP_WORDS]>,
    /// Open addressing by [`window_hash`], linear probing: `(window, first, end)` means
    /// the entries of `window` are `entries[first..end]`. Window 0 marks an empty slot
    /// (literals hold no NUL byte, so no window is 0).
    slots: Box<[(u32, u32, u32)]>,
    entries: Vec<WindowEntry>,
}

const WINDOW_BITMAP_WORDS: usize = (1 << WINDOW_HASH_BITS) / 64;

/// 16 bytes, so that the entries a scan touches stay in the L1 cache.
#[derive(Debug, Clone, Copy)]
struct WindowEntry {
    /// The literal's first 8 bytes (little-endian, zero beyond its end): most candidates
    /// are rejected by one compare, and literals of up to 8 bytes are confirmed by it.
    head: u64,
    /// The window (three bytes and a zero for 3-byte literals).
    window: u32,
    literal: u16,
    /// Where the window sits in the literal.
    offset: u8,
    /// The literal's length, capped at 255 (longer ones are compared in full anyway).
    len: u8,
}

impl WindowEntry {
    /// None when the ids or offsets do not fit the compact fields.
    fn new(window: u32, offset: usize, literal: usize, bytes: &[u8]) -> Option<WindowEntry> {
        let mut head = [0u8; 8];
        let take = bytes.len().min(8);
        head[..take].copy_from_slice(&bytes[..take]);
        Some(WindowEntry {
            head: u64::from_le_bytes(head),
            window,
            literal: u16::try_from(literal).ok()?,
            offset: u8::try_from(offset).ok()?,
            len: bytes.len().min(255) as u8,
        })
    }

    fn head_mask(&self) -> u64 {
        if self.len >= 8 {
            u64::MAX
        } else {
            (1u64 << (u32::from(self.len) * 8)) - 1
        }
    }
}

impl WindowTable {
    fn new(mut entries: Vec<WindowEntry>) -> WindowTable {
        entries.sort_by_key(|e| (e.window, e.literal));
        let mut bits = Box::new([0u64; WINDOW_BITMAP_WORDS]);
        for entry in &entries {
            let h = window_hash(entry.window);
            bits[h / 64] |= 1 << (h % 64);
        }
        // At most half full, so a missing window ends its probe quickly.
        let distinct = entries
            .windows(2)
            .filter(|w| w[0].window != w[1].window)
            .count()
            + 1;
        let capacity = (distinct * 2).next_power_of_two().max(16);
        let mut slots = vec![(0u32, 0u32, 0u32); capacity].into_boxed_slice();
        let mut first = 0;
        while first < entries.len() {
            let window = entries[first].window;
            let mut end = first;
            while end < entries.len() && entries[end].window == window {
                end += 1;
            }
            let mut slot = window_hash(window) & (capacity - 1);
            while slots[slot].0 != 0 {
                slot = (slot + 1) & (capacity - 1);
            }
            slots[slot] = (window, first as u32, end as u32);
            first = end;
        }
        WindowTable {
            bits,
            slots,
            entries,
        }
    }

    /// Whether some indexed window may be `window`: one probe of the bitmap.
    #[inline]
    fn may_hold(&self, window: u32) -> bool {
        let h = window_hash(window);
        self.bits[(h / 64) % WINDOW_BITMAP_WORDS] & (1 << (h % 64)) != 0
    }

    /// The entries indexed by exactly `window`.
    fn candidates(&self, window: u32) -> &[WindowEntry] {
        let h = window_hash(window);
        let mask = self.slots.len() - 1;
        let mut slot = h & mask;
        // The map is at most half full: the probe ends at an empty slot.
        for _ in 0..self.slots.len() {
            let (key, first, end) = self.slots[slot];
            if key == window {
                return self
                    .entries
                    .get(first as usize..end as usize)
                    .unwrap_or_default();
            }
            if key == 0 {
                break;
            }
            slot = (slot + 1) & mask;
        }
        &[]
    }
}

/// Bytes of padding after the folded text, so that every position has a 4-byte window
/// and every literal start an 8-byte head.
const SCAN_PADDING: usize = 7;

/// What one scan found: `literal[i] == generation` when literal `i` occurs in the current
/// log, `set[s] == generation` when some literal of set `s` does.
#[derive(Debug)]
struct ScanMarks {
    literal: Vec<u32>,
    set: Vec<u32>,
    generation: u32,
}

impl Prefilter {
    /// Index `literals` (lower-cased, none shorter than 3 bytes, none holding a NUL, at
    /// most 65536 of them; None otherwise), and the `sets` of literal ids callers will ask
    /// about.
    fn new(literals: &[String], sets: &[Vec<u32>]) -> Option<Prefilter> {
        if literals.iter().any(|l| l.len() < 3 || l.contains('\0')) {
            return None;
        }
        // How many literals contain each 4-byte window: among windows that begin with
        // equally rare pairs, the one the fewest other literals share is taken, so a window
        // met in the text leads to few literals to compare.
        let mut sharing: HashMap<u32, u32> = HashMap::new();
        let windows = |bytes: &[u8]| -> Vec<u32> {
            bytes
                .windows(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect()
        };
        for literal in literals {
            let mut these = windows(literal.as_bytes());
            these.sort_unstable();
            these.dedup();
            for w in these {
                *sharing.entry(w).or_insert(0) += 1;
            }
        }
        let mut long = Vec::new();
        let mut short = Vec::new();
        let mut pairs = Box::new([0u64; PAIR_BITMAP_WORDS]);
        let mut literal_bytes = Vec::new();
        let mut literal_start = Vec::with_capacity(literals.len() + 1);
        for (id, literal) in literals.iter().enumerate() {
            let bytes = literal.as_bytes();
            literal_start.push(u32::try_from(literal_bytes.len()).ok()?);
            literal_bytes.extend_from_slice(bytes);
            let window = if bytes.len() == 3 {
                let window = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]);
                short.push(WindowEntry::new(window, 0, id, bytes)?);
                window
            } else {
                let these = windows(bytes);
                let (offset, &window) = these.iter().enumerate().min_by_key(|(i, w)| {
                    let [a, b, _, _] = w.to_le_bytes();
                    // A shared window costs a compare per literal sharing it whenever
                    // it occurs; a common pair costs a hash at every position it occurs.
                    // Weighed so, literals are spread thin and most pairs are rare.
                    (
                        pair_commonness([a, b]) + 16 * sharing.get(w).copied().unwrap_or(0),
                        *i,
                    )
                })?;
                long.push(WindowEntry::new(window, offset, id, bytes)?);
                window
            };
            let pair = (window & 0xffff) as usize;
            pairs[pair / 64] |= 1 << (pair % 64);
        }
        literal_start.push(u32::try_from(literal_bytes.len()).ok()?);
        let mut sets_of_start = vec![0u32; literals.len() + 1];
        for set in sets {
            for &literal in set {
                sets_of_start[literal as usize + 1] += 1;
            }
        }
        for l in 0..literals.len() {
            sets_of_start[l + 1] += sets_of_start[l];
        }
        let mut fill = sets_of_start.clone();
        let mut sets_of = vec![0u32; sets.iter().map(Vec::len).sum()];
        for (set_id, set) in sets.iter().enumerate() {
            for &literal in set {
                sets_of[fill[literal as usize] as usize] = set_id as u32;
                fill[literal as usize] += 1;
            }
        }
        Some(Prefilter {
            literal_bytes,
            literal_start,
            pairs,
            long: WindowTable::new(long),
            short: WindowTable::new(short),
            sets_of_start,
            sets_of,
            set_len: sets.iter().map(|s| s.len() as u32).collect(),
        })
    }

    fn set_count(&self) -> usize {
        self.set_len.len()
    }

    fn literal_count(&self) -> usize {
        self.literal_start.len().saturating_sub(1)
    }

    fn set_len(&self, set: u32) -> u32 {
        self.set_len.get(set as usize).copied().unwrap_or(0)
    }

    /// Mark in `marks` every literal that occurs in `text`, and every set holding one;
    /// `text` is followed in `padded` by [`SCAN_PADDING`] bytes.
    fn scan(&self, padded: &[u8], marks: &mut ScanMarks) {
        let len = padded.len().saturating_sub(SCAN_PADDING);
        for (at, w) in padded.windows(4).take(len).enumerate() {
            let pair = usize::from(u16::from_le_bytes([w[0], w[1]]));
            if self.pairs[(pair / 64) % PAIR_BITMAP_WORDS] & (1 << (pair % 64)) == 0 {
                continue;
            }
            let window = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            if self.long.may_hold(window) {
                self.probe(&self.long, window, padded, len, at, marks);
            }
            let window = window & 0x00ff_ffff;
            if self.short.may_hold(window) {
                self.probe(&self.short, window, padded, len, at, marks);
            }
        }
    }

    /// The rare path of [`Prefilter::scan`], kept out of line so the loop over positions
    /// stays small.
    #[inline(never)]
    fn probe(
        &self,
        table: &WindowTable,
        window: u32,
        padded: &[u8],
        len: usize,
        at: usize,
        marks: &mut ScanMarks,
    ) {
        for entry in table.candidates(window) {
            self.confirm(entry, padded, len, at, marks);
        }
    }

    fn confirm(
        &self,
        entry: &WindowEntry,
        padded: &[u8],
        len: usize,
        at: usize,
        marks: &mut ScanMarks,
    ) {
        let Some(start) = at.checked_sub(entry.offset as usize) else {
            return;
        };
        let Some(head) = padded.get(start..start + 8) else {
            return;
        };
        let head = u64::from_le_bytes([
            head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
        ]);
        if head & entry.head_mask() != entry.head {
            return;
        }
        let id = entry.literal as usize;
        // The head matched; a longer literal must also fit in the text, padding excluded.
        if entry.len > 8 {
            let first = self.literal_start.get(id).copied().unwrap_or(0) as usize;
            let last = self.literal_start.get(id + 1).copied().unwrap_or(0) as usize;
            let literal = self.literal_bytes.get(first..last).unwrap_or_default();
            let found = padded
                .get(start..len)
                .is_some_and(|rest| rest.starts_with(literal));
            if !found {
                return;
            }
        }
        let generation = marks.generation;
        match marks.literal.get_mut(id) {
            Some(slot) if *slot != generation => *slot = generation,
            // Already found in this line: its sets are marked.
            _ => return,
        }
        let first = self.sets_of_start.get(id).copied().unwrap_or(0) as usize;
        let last = self.sets_of_start.get(id + 1).copied().unwrap_or(0) as usize;
        for &set in self.sets_of.get(first..last).unwrap_or_default() {
            if let Some(slot) = marks.set.get_mut(set as usize) {
                *slot = generation;
            }
        }
    }
}

/// Which prefilter literal sets occur in the current log, found by one scan done lazily.
#[derive(Debug)]
struct LiteralScan {
    marks: ScanMarks,
    scanned: bool,
    /// The current line, ASCII-lower-cased, reused between lines.
    folded: Vec<u8>,
}

impl LiteralScan {
    fn next_line(&mut self) {
        let marks = &mut self.marks;
        marks.generation = marks.generation.wrapping_add(1);
        if marks.generation == 0 {
            marks.literal.iter_mut().for_each(|g| *g = 0);
            marks.set.iter_mut().for_each(|g| *g = 0);
            marks.generation = 1;
        }
        self.scanned = false;
    }

    /// Whether some literal of `set` occurs in `log`.
    #[inline]
    fn any_present(&mut self, prefilter: Option<&Prefilter>, log: &str, set: u32) -> bool {
        if !self.scanned {
            self.scan(prefilter, log);
        }
        self.marks.set.get(set as usize) == Some(&self.marks.generation)
    }

    #[inline(never)]
    fn scan(&mut self, prefilter: Option<&Prefilter>, log: &str) {
        self.scanned = true;
        if let Some(prefilter) = prefilter {
            self.folded.clear();
            self.folded
                .extend(log.bytes().map(|b| b.to_ascii_lowercase()));
            self.folded.extend_from_slice(&[0; SCAN_PADDING]);
            prefilter.scan(&self.folded, &mut self.marks);
        }
    }
}

/// Distinct program names whose decoder candidates are cached per session.
const PROGRAM_CACHE_MAX: usize = 4096;

/// Give each log-pattern condition (and each decoder pattern) the set of its required
/// literals, and build one case-insensitive [`Prefilter`] over all of them. Case-insensitive
/// presence is a superset of exact presence, so the prefilter never rejects a text the
/// pattern would match.
fn build_prefilter(rules: &mut RuleSet, decoders: &mut DecoderSet) -> Option<Prefilter> {
    let mut literals: Vec<String> = Vec::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut sets: Vec<Vec<u32>> = Vec::new();
    let mut set_ids: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut intern = |pattern: &picket_matchers::Pattern| -> Option<u32> {
        let required = pattern.required_literals()?;
        // Very short literals occur in almost every line: they would cost the scan a
        // report per occurrence and rule out almost nothing.
        if required.is_empty() || required.iter().any(|l| l.len() < 3) {
            return None;
        }
        let mut these = Vec::with_capacity(required.len());
        for literal in required {
            let key = literal.to_ascii_lowercase();
            let id = *ids.entry(key.clone()).or_insert_with(|| {
                literals.push(key);
                (literals.len() - 1) as u32
            });
            these.push(id);
        }
        these.sort_unstable();
        these.dedup();
        let set = *set_ids.entry(these.clone()).or_insert_with(|| {
            sets.push(these);
            (sets.len() - 1) as u32
        });
        Some(set)
    };
    for (pattern, slot) in decoders.prematch_slots() {
        *slot = intern(pattern);
    }
    for rule in &mut rules.rules {
        for condition in &mut rule.conditions {
            if condition.field != FieldRef::Log {
                continue;
            }
            let Test::Pattern(pattern) = &condition.test else {
                continue;
            };
            condition.literals = intern(pattern);
        }
    }
    if literals.is_empty() {
        return None;
    }
    // Literals are lower-cased and the scan runs over a lower-cased copy of the line.
    let prefilter = Prefilter::new(&literals, &sets);
    if prefilter.is_none() {
        // Without the prefilter every pattern runs: slower, still correct.
        for rule in &mut rules.rules {
            for condition in &mut rule.conditions {
                condition.literals = None;
            }
        }
        for (_, slot) in decoders.prematch_slots() {
            *slot = None;
        }
    }
    prefilter
}

fn ip_list_matches(entries: &[(bool, crate::rules::IpNet)], value: &str) -> bool {
    // OSSEC's semantics: once a negated entry has been seen, a hit means "no" and reaching
    // the end means "yes".
    let ip: Option<IpAddr> = value.trim().parse().ok();
    let mut verdict_on_hit = true;
    for (negated, net) in entries {
        if *negated {
            verdict_on_hit = false;
        }
        if ip.as_ref().is_some_and(|ip| net.contains(ip)) {
            return verdict_on_hit;
        }
    }
    !verdict_on_hit
}

fn compiled_check(check: CompiledCheck, view: &View<'_>) -> bool {
    match check {
        CompiledCheck::SimpleHttpRequest => {
            let Some(url) = view.fields.get_canonical("url") else {
                return false;
            };
            if view
                .fields
                .get_canonical("action")
                .is_some_and(|a| !a.eq_ignore_ascii_case("GET"))
            {
                return false;
            }
            url == "/" || !url.contains('?')
        }
        CompiledCheck::ValidCrawler => {
            const CRAWLER_PREFIXES: &[&str] = &[
                "72.14.", "209.85.", "65.55.", "207.46.", "74.6.", "72.30.", "67.195.",
            ];
            CRAWLER_PREFIXES.iter().any(|p| view.log.starts_with(p))
        }
        CompiledCheck::Unknown => false,
    }
}

fn substitute_description(
    template: &str,
    fields: &Fields,
    view_hostname: &str,
    program: Option<&str>,
) -> String {
    if !template.contains("$(") {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) => {
                let name = &after[..end];
                let value = match name {
                    "hostname" => Some(view_hostname),
                    "program_name" => program,
                    other => fields.get(other),
                };
                out.push_str(value.unwrap_or(""));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl Session<'_> {
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Analyse one line, returning an owned [`Outcome`]. [`Session::analyse`] is the same
    /// analysis without copying the line's parts and fields out of the session.
    pub fn process(&mut self, input: Input<'_>) -> Outcome {
        self.analyse(input).to_outcome()
    }

    /// Analyse one line. The [`Analysis`] borrows the line and the session's scratch: a
    /// caller that keeps little (a counter, or fields of the events that alert) copies only
    /// that, and the session allocates nothing per line once its buffers have grown.
    pub fn analyse<'s>(&'s mut self, input: Input<'s>) -> Analysis<'s> {
        self.stats.lines += 1;
        let mut line = input.line;
        if line.len() > self.limits.max_line {
            let mut end = self.limits.max_line;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line = &line[..end];
            self.stats.truncated_lines += 1;
        }
        let ruleset: &'s Ruleset = self.ruleset;
        let pre = predecode(line);
        self.scan.next_line();
        // Taken out for the walk (which borrows the session mutably) and put back before
        // the analysis borrows it.
        let mut decoded = std::mem::take(&mut self.decoded);
        let prefilter = ruleset.prefilter.as_ref();
        let scan = &mut self.scan;
        let mut present = |set: u32| scan.any_present(prefilter, pre.log, set);
        match pre.program_name {
            Some(program) => {
                let cache = &mut self.program_cache;
                if !cache.contains_key(program) {
                    if cache.len() >= PROGRAM_CACHE_MAX {
                        cache.clear();
                    }
                    let c = ruleset.decoders.candidates_for_program(program).into();
                    cache.insert(program.to_string(), c);
                }
                let candidates = cache.get(program).map_or(&[][..], |c| &c[..]);
                ruleset.decoders.decode_candidates(
                    Some(program),
                    pre.log,
                    candidates,
                    &mut present,
                    &mut decoded,
                );
            }
            None => {
                ruleset
                    .decoders
                    .decode_candidates(None, pre.log, &[], &mut present, &mut decoded)
            }
        }
        self.stats.dropped_fields += decoded.dropped_fields as u64;
        let decoder = decoded.decoder.map(|i| &ruleset.decoders.decoders()[i]);
        if decoder.is_some() {
            self.stats.decoded += 1;
        }
        let hostname = pre.hostname.unwrap_or(input.default_hostname);
        let mut view = View {
            log: pre.log,
            program_name: pre.program_name,
            hostname,
            location: input.location,
            agent: input.agent,
            decoder_index: decoded.decoder,
            decoder_name_id: decoded.decoder.map(|i| ruleset.decoder_name_id[i]),
            category: decoder.map_or(Category::Syslog, |d| d.category),
            fields: &decoded.fields,
            time: input.time,
            matched: 0,
        };

        let mut matched: Option<usize> = None;
        for &root in &ruleset.rules.roots {
            let rule_index = ruleset.rules.nodes[root].rule;
            if ruleset.rules.rules[rule_index].category != view.category
                || !self.may_match(rule_index, &view)
            {
                continue;
            }
            if let Some(found) = self.check_node(root, &mut view, 0) {
                matched = Some(found);
                break;
            }
        }

        let mut alert = false;
        if let Some(index) = matched {
            self.stats.matched += 1;
            let rule = &ruleset.rules.rules[index];
            if rule.level > 0 && !self.ignored(index, rule, input.time) {
                alert = true;
                self.stats.alerts += 1;
                self.remember(index, &view, &decoded.fields);
            }
        }
        let parent = decoded.parent;
        self.decoded = decoded;
        Analysis {
            full_log: pre.full_log,
            timestamp: pre.timestamp,
            hostname,
            program_name: pre.program_name,
            log: pre.log,
            location: input.location,
            decoder: decoder.map(|d| d.name.as_str()),
            parent_decoder: parent.map(|i| ruleset.decoders.decoders()[i].name.as_str()),
            fields: &self.decoded.fields,
            rule: matched,
            alert,
            ruleset,
        }
    }

    /// OSSEC's `ignore="N"`: after a rule alerts, it stays quiet for N seconds.
    fn ignored(&mut self, index: usize, rule: &Rule, time: Timestamp) -> bool {
        let Some(seconds) = rule.ignore_seconds else {
            return false;
        };
        let now = time.as_secs();
        match self.ignored_since.get(&index).copied() {
            None => {
                self.ignored_since.insert(index, now);
                false
            }
            Some(since) if now - since < i64::from(seconds) => true,
            Some(_) => {
                self.ignored_since.remove(&index);
                false
            }
        }
    }

    /// Keep an alerting event for the frequency rules that look back at it.
    fn remember(&mut self, index: usize, view: &View<'_>, fields: &Fields) {
        let ruleset = self.ruleset;
        let single;
        let targets: &[usize] = match ruleset.sid_window[index] {
            Some(window) => {
                single = [window];
                &single
            }
            None => &ruleset.group_windows[index],
        };
        if targets.is_empty() {
            return;
        }
        let (agent, location) = self.shared_source(view.agent, view.location);
        let stored = Arc::new(Stored {
            time: view.time.as_secs(),
            agent,
            location,
            rule: index as u32,
            kept: KeptFields::new(&ruleset.kept_fields[index], fields),
            matched: AtomicU32::new(view.matched),
        });
        let now = view.time.as_secs();
        for &window in targets {
            let horizon = now - i64::from(ruleset.window_timeframe[window]);
            if ruleset.window_needs_full[window] {
                let list = &mut self.windows[window];
                while list.front().is_some_and(|e| e.time < horizon) {
                    list.pop_front();
                }
                if list.len() >= self.limits.max_window_events {
                    list.pop_front();
                    self.stats.window_evictions += 1;
                }
                list.push_back(Arc::clone(&stored));
            }
            for &searcher in &ruleset.window_searchers[window] {
                let rule = &ruleset.rules.rules[searcher];
                if rule.same.is_empty() {
                    continue;
                }
                if !correlation_key_into(
                    rule,
                    view.agent,
                    view.location,
                    fields,
                    &mut self.key_buffer,
                ) {
                    continue;
                }
                let horizon = now - i64::from(rule.timeframe);
                let keyed = self.keyed.entry(searcher).or_default();
                if keyed.entries >= self.limits.max_window_events {
                    // Drop what has aged out everywhere, then, if still full, the oldest.
                    keyed.by_key.retain(|_, list| {
                        while list.front().is_some_and(|e| e.time < horizon) {
                            list.pop_front();
                        }
                        !list.is_empty()
                    });
                    keyed.entries = keyed.by_key.values().map(VecDeque::len).sum();
                    if keyed.entries >= self.limits.max_window_events {
                        let oldest = keyed
                            .by_key
                            .iter()
                            .filter_map(|(k, l)| l.front().map(|e| (e.time, k.clone())))
                            .min();
                        if let Some((_, k)) = oldest {
                            if let Some(list) = keyed.by_key.get_mut(&k) {
                                list.pop_front();
                                keyed.entries -= 1;
                                self.stats.window_evictions += 1;
                            }
                        }
                    }
                }
                // Most events repeat a key already held: look it up before copying it.
                if !keyed.by_key.contains_key(self.key_buffer.as_str()) {
                    keyed
                        .by_key
                        .insert(self.key_buffer.clone(), VecDeque::new());
                }
                let Some(list) = keyed.by_key.get_mut(self.key_buffer.as_str()) else {
                    continue;
                };
                while list.front().is_some_and(|e| e.time < horizon) {
                    list.pop_front();
                    keyed.entries -= 1;
                }
                list.push_back(Arc::clone(&stored));
                keyed.entries += 1;
            }
        }
    }

    /// The agent and location of a stored event, as shared strings: a stream has few
    /// sources, and consecutive events mostly share the last one's, so this spares two
    /// allocations per remembered event.
    fn shared_source(&mut self, agent: &str, location: &str) -> (Arc<str>, Arc<str>) {
        let last = &mut self.last_source;
        if *last.0 != *agent {
            last.0 = Arc::from(agent);
        }
        if *last.1 != *location {
            last.1 = Arc::from(location);
        }
        (Arc::clone(&last.0), Arc::clone(&last.1))
    }

    fn check_node(&mut self, node: usize, view: &mut View<'_>, depth: usize) -> Option<usize> {
        let ruleset = self.ruleset;
        // The tree is built from parents that exist before their children, so it has no
        // cycles; the depth cap is a guard against a ruleset we did not foresee.
        if depth > 64 {
            return None;
        }
        let index = ruleset.rules.nodes[node].rule;
        let rule = &ruleset.rules.rules[index];
        if !self.conditions_hold(index, rule, view) {
            return None;
        }
        let children: &[usize] = match &ruleset.child_index[node] {
            // Only the children that can match this event's decoder (plus those that do not
            // test the decoder), in their original order.
            Some(index) => view
                .decoder_name_id
                .and_then(|id| index.by_decoder.get(&id))
                .unwrap_or(&index.any_decoder),
            None => &ruleset.rules.nodes[node].children,
        };
        for &child in children {
            if !self.may_match(ruleset.rules.nodes[child].rule, view) {
                continue;
            }
            if let Some(found) = self.check_node(child, view, depth + 1) {
                return Some(found);
            }
        }
        if rule.noalert {
            return None;
        }
        Some(index)
    }

    /// The cheap tests of [`Quick`]: false when the rule cannot match this event.
    #[inline]
    fn may_match(&mut self, index: usize, view: &View<'_>) -> bool {
        let ruleset = self.ruleset;
        let quick = ruleset.quick[index];
        if quick.decoder != ANY_DECODER && view.decoder_name_id != Some(quick.decoder) {
            return false;
        }
        if quick.gate != NO_GATE {
            // The scan is lazy: run it (or reuse this line's) through `any_present`.
            return self
                .scan
                .any_present(ruleset.prefilter.as_ref(), view.log, quick.gate);
        }
        true
    }

    fn conditions_hold(&mut self, index: usize, rule: &Rule, view: &mut View<'_>) -> bool {
        if let Some(expected) = rule.decoded_as_id {
            if view.decoder_name_id != Some(expected) {
                return false;
            }
        }
        for Condition {
            field,
            test,
            negate,
            literals,
        } in &rule.conditions
        {
            let Some(value) = view.value(field) else {
                return false;
            };
            if let Some(set) = *literals {
                if !self.any_literal_present(view.log, set) {
                    // The pattern cannot match this log.
                    if !*negate {
                        return false;
                    }
                    continue;
                }
            }
            let hit = match test {
                Test::Pattern(pattern) => pattern.is_match(value),
                Test::Addresses(entries) => ip_list_matches(entries, value),
            };
            if hit == *negate {
                return false;
            }
        }
        if let Some(maxsize) = rule.maxsize {
            if view.log.len() < maxsize {
                return false;
            }
        }
        if rule.time.is_some() || rule.weekdays.is_some() {
            let civil = view.time.civil();
            if let Some(range) = &rule.time {
                if !range.contains(civil.hour * 60 + civil.minute) {
                    return false;
                }
            }
            if let Some(days) = &rule.weekdays {
                if !days[civil.weekday as usize % 7] {
                    return false;
                }
            }
        }
        for check in &rule.compiled {
            if !compiled_check(*check, view) {
                return false;
            }
        }
        if rule.first_time_seen && !self.first_time_seen(view) {
            return false;
        }
        for list in &rule.lists {
            let value = match &list.field {
                // Lists look at the source user first, unlike `<user>`.
                FieldRef::User => view
                    .fields
                    .get("srcuser")
                    .or_else(|| view.fields.get("dstuser")),
                other => view.value(other),
            };
            let Some(value) = value else {
                return false;
            };
            let Some(cdb) = self.find_list(&list.list) else {
                return false;
            };
            let ok = match list.lookup {
                Lookup::MatchKey => cdb.get(value).is_some(),
                Lookup::NotMatchKey => cdb.get(value).is_none(),
                Lookup::MatchKeyValue => match (cdb.get(value), &list.check_value) {
                    (Some(v), Some(p)) => p.is_match(v),
                    (Some(_), None) => true,
                    (None, _) => false,
                },
                Lookup::AddressMatchKey => cdb.get_address(value).is_some(),
                Lookup::NotAddressMatchKey => cdb.get_address(value).is_none(),
                Lookup::AddressMatchKeyValue => match (cdb.get_address(value), &list.check_value) {
                    (Some(v), Some(p)) => p.is_match(v),
                    (Some(_), None) => true,
                    (None, _) => false,
                },
            };
            if !ok {
                return false;
            }
        }
        if rule.has_context() && !self.search_window(index, rule, view) {
            return false;
        }
        true
    }

    fn any_literal_present(&mut self, log: &str, set: u32) -> bool {
        self.scan
            .any_present(self.ruleset.prefilter.as_ref(), log, set)
    }

    fn find_list(&self, path: &str) -> Option<&CdbList> {
        let lists = &self.ruleset.lists;
        lists.get(path).or_else(|| {
            let base = path.rsplit('/').next().unwrap_or(path);
            lists.get(base)
        })
    }

    fn first_time_seen(&mut self, view: &View<'_>) -> bool {
        let Some(index) = view.decoder_index else {
            return false;
        };
        let decoder = &self.ruleset.decoders.decoders()[index];
        if decoder.fts.is_empty() {
            return false;
        }
        let mut key = decoder.name.clone();
        for name in &decoder.fts {
            key.push('\u{1f}');
            let value = match name.as_str() {
                "name" => Some(decoder.name.as_str()),
                "location" => Some(view.location),
                other => view.fields.get(other),
            };
            key.push_str(value.unwrap_or(""));
        }
        if self.fts_seen.contains(&key) {
            return false;
        }
        if self.fts_seen.len() >= self.limits.max_fts_values {
            self.stats.fts_full += 1;
            return true;
        }
        self.fts_seen.insert(key);
        true
    }

    /// Look back through the window this rule searches, as OSSEC's frequency logic does.
    fn search_window(&mut self, index: usize, rule: &Rule, view: &mut View<'_>) -> bool {
        let Some(window) = self.ruleset.searches[index] else {
            return false;
        };
        let now = view.time.as_secs();
        let needed = rule.frequency.map_or(0, |f| f.saturating_sub(2));
        let mut count = 0u32;
        let mut most_recent: Option<Arc<Stored>> = None;
        let candidates = if rule.same.is_empty() {
            Some(&self.windows[window])
        } else {
            // Only events with the same correlation key can pass the `same_*` tests below.
            let Some(keyed) = self.keyed.get(&index) else {
                return false;
            };
            if !correlation_key_into(
                rule,
                view.agent,
                view.location,
                view.fields,
                &mut self.key_buffer,
            ) {
                return false;
            }
            keyed.by_key.get(self.key_buffer.as_str())
        };
        let Some(candidates) = candidates else {
            return false;
        };
        let kept_fields = &self.ruleset.kept_fields;
        for stored in candidates.iter().rev() {
            if now - stored.time > i64::from(rule.timeframe) {
                return false;
            }
            // A keyed search (`same_*` options) sees only events whose key equals this
            // one's: same source and same values. Otherwise only the source is compared.
            if rule.same.is_empty() && !rule.global_frequency && *stored.agent != *view.agent {
                continue;
            }
            let names = kept_fields
                .get(stored.rule as usize)
                .map_or(&[][..], |n| &n[..]);
            let different_ok = rule.different.iter().all(|c| match c {
                Correlate::Field(name) => match (
                    stored.kept.get(names, name),
                    view.fields.get_canonical(name),
                ) {
                    (Some(a), Some(b)) => a != b,
                    _ => true,
                },
                Correlate::Agent => *stored.agent != *view.agent,
                Correlate::Location => *stored.location != *view.location,
            });
            if !different_ok {
                continue;
            }
            // An earlier event already used by an alert at this level or above ends the
            // search, so one burst raises one alert.
            if stored.matched.load(Ordering::Relaxed) >= rule.priority {
                return false;
            }
            if count < needed {
                count += 1;
                if most_recent.is_none() {
                    most_recent = Some(Arc::clone(stored));
                }
                continue;
            }
            view.matched = rule.priority;
            if let Some(mark) = most_recent {
                mark.matched.store(rule.priority, Ordering::Relaxed);
            }
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::IpNet;

    #[test]
    fn ip_lists_follow_ossec_negation() {
        let net = |s: &str| IpNet::parse(s).unwrap();
        let plain = vec![(false, net("10.0.0.0/8"))];
        assert!(ip_list_matches(&plain, "10.1.1.1"));
        assert!(!ip_list_matches(&plain, "11.1.1.1"));
        let negated = vec![(true, net("10.0.0.0/8"))];
        assert!(!ip_list_matches(&negated, "10.1.1.1"));
        assert!(ip_list_matches(&negated, "11.1.1.1"));
        assert!(ip_list_matches(&negated, "not an ip"));
    }

    #[test]
    fn prefilter_finds_exactly_the_literals_present() {
        let literals: Vec<String> = [
            "abc",
            "session opened",
            "opened for",
            "xyz",
            "ssion",
            "abcd",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // One set per literal, plus one holding two of them.
        let mut sets: Vec<Vec<u32>> = (0..literals.len() as u32).map(|l| vec![l]).collect();
        sets.push(vec![0, 3]);
        let prefilter = Prefilter::new(&literals, &sets).unwrap();
        for text in [
            "",
            "ab",
            "abc",
            "xabcd",
            "session opened for user root",
            "the session closed; xy",
            "end with xyz",
            "ssionssion",
        ] {
            let mut marks = ScanMarks {
                literal: vec![0; literals.len()],
                set: vec![0; sets.len()],
                generation: 7,
            };
            let mut padded = text.as_bytes().to_vec();
            padded.extend_from_slice(&[0; SCAN_PADDING]);
            prefilter.scan(&padded, &mut marks);
            for (id, literal) in literals.iter().enumerate() {
                let present = text.contains(literal.as_str());
                assert_eq!(marks.literal[id] == 7, present, "{literal:?} in {text:?}");
                assert_eq!(
                    marks.set[id] == 7,
                    present,
                    "set of {literal:?} in {text:?}"
                );
            }
            assert_eq!(
                marks.set[literals.len()] == 7,
                text.contains("abc") || text.contains("xyz"),
                "set of two in {text:?}"
            );
        }
        assert!(
            Prefilter::new(&["ab".to_string()], &[vec![0]]).is_none(),
            "too short to index"
        );
    }

    #[test]
    fn kept_fields_hold_only_the_named_values() {
        let mut f = Fields::default();
        f.set("srcip", "1.2.3.4");
        f.set("user", "alice");
        f.set("data", "x");
        let names = [
            "dstuser".to_string(),
            "url".to_string(),
            "extra_data".to_string(),
        ];
        let kept = KeptFields::new(&names, &f);
        assert_eq!(kept.get(&names, "dstuser"), Some("alice"));
        assert_eq!(kept.get(&names, "url"), None, "absent in the event");
        // As `Fields::get_canonical` answers: `extra_data` falls back to `data`.
        assert_eq!(kept.get(&names, "extra_data"), Some("x"));
        assert_eq!(kept.get(&names, "srcip"), None, "not kept");
        let none = KeptFields::new(&[], &f);
        assert_eq!(none.get(&[], "srcip"), None);
    }

    #[test]
    fn description_substitution() {
        let mut f = Fields::default();
        f.set("srcip", "1.2.3.4");
        assert_eq!(
            substitute_description("from $(srcip) on $(hostname)$(", &f, "h", None),
            "from 1.2.3.4 on h$("
        );
    }
}
