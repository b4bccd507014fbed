//! Rules: loading OSSEC and Wazuh `<rule>` XML into the tree OSSEC evaluates.
//!
//! Tree shape, reproduced because verdicts depend on it:
//! - Rules with id below 10 are category roots. A rule with no `if_*` parent hangs under
//!   the first root of its category.
//! - `if_sid` hangs the rule under the first node (depth-first) of each listed id;
//!   `if_group` under every node whose groups contain that text; `if_level` under every
//!   node at or above that level. `if_matched_sid` implies `if_sid` of the same id, and
//!   `if_matched_group` implies `if_group`.
//! - Children are kept in descending level order; equal levels keep load order.
//! - `overwrite="yes"` replaces the definition of an existing rule in place.

use crate::decoder::Category;
use crate::error::LoadError;
use crate::fields::canonical;
use crate::xml::Element;
use crate::LoadReport;
use picket_matchers::{Dialect, Pattern};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// What an event field is tested against.
#[derive(Debug, Clone)]
pub enum Test {
    Pattern(Pattern),
    /// IP or CIDR list (`<srcip>`, `<dstip>`), each entry optionally negated with `!`.
    Addresses(Vec<(bool, IpNet)>),
}

/// One `<field>`-like condition: which field, the test, and whether it is negated.
#[derive(Debug, Clone)]
pub struct Condition {
    pub field: FieldRef,
    pub test: Test,
    pub negate: bool,
    /// Prefilter literal set (see the engine): when none of its literals occurs in the log,
    /// the pattern cannot match, so it is not run.
    pub literals: Option<u32>,
}

/// Where a condition looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// The message after the header (`<match>`, `<regex>`).
    Log,
    ProgramName,
    Hostname,
    Location,
    /// `<user>`: the destination user if present, else the source user.
    User,
    /// A decoded field by canonical name.
    Named(String),
}

/// `<list>` lookup kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    MatchKey,
    NotMatchKey,
    MatchKeyValue,
    AddressMatchKey,
    NotAddressMatchKey,
    AddressMatchKeyValue,
}

#[derive(Debug, Clone)]
pub struct ListCondition {
    pub field: FieldRef,
    pub list: String,
    pub lookup: Lookup,
    pub check_value: Option<Pattern>,
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// Parse `a.b.c.d`, `a.b.c.d/nn`, `a.b.c.d/m.m.m.m`, or IPv6 with a prefix length.
    pub fn parse(text: &str) -> Option<IpNet> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    let mask: std::net::Ipv4Addr = p.trim().parse().ok()?;
                    u32::from(mask).count_ones() as u8
                }
            },
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            _ => false,
        }
    }
}

/// OSSEC's `<compiled_rule>`: checks written in code rather than patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompiledCheck {
    /// A GET (or no action) for `/` or a URL without a query string.
    SimpleHttpRequest,
    /// The line starts with an address of a known search-engine crawler range. OSSEC also
    /// confirms Googlebot by reverse and forward DNS; the engine does no I/O, so that part
    /// is left out and such lines do not count as crawlers.
    ValidCrawler,
    /// A name picket does not know: the rule never matches (and loading reports it).
    Unknown,
}

/// `same_*` / `different_*` comparisons in frequency rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlate {
    Field(String),
    Agent,
    Location,
}

/// One rule as loaded.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: u32,
    pub level: u8,
    /// OSSEC's internal ordering weight: level x 100, or level alone with `accuracy="0"`,
    /// and 9900 for level 0 so that grouping rules are tried before any alerting sibling.
    /// Children are sorted on it, `if_level` compares against it, and frequency rules use
    /// it to mark events already counted.
    pub priority: u32,
    pub description: String,
    /// Group names in order, from the enclosing `<group>` and the rule's own `<group>`.
    pub groups: Vec<String>,
    /// The groups as OSSEC stores them (comma-joined), used for `if_group` matching.
    group_text: String,
    pub mitre: Vec<String>,
    pub category: Category,
    pub decoded_as: Option<String>,
    /// `decoded_as` as an interned decoder-name id (set when the ruleset is built), so the
    /// most common test of the rule walk compares integers.
    pub decoded_as_id: Option<u32>,
    pub conditions: Vec<Condition>,
    pub lists: Vec<ListCondition>,
    pub maxsize: Option<usize>,
    pub time: Option<TimeRange>,
    pub weekdays: Option<[bool; 7]>,
    pub first_time_seen: bool,
    pub compiled: Vec<CompiledCheck>,
    pub noalert: bool,
    pub ignore_seconds: Option<u32>,
    // Correlation.
    pub if_sid: Vec<u32>,
    pub if_group: Option<String>,
    pub if_level: Option<u8>,
    pub if_matched_sid: Option<u32>,
    pub if_matched_group: Option<Pattern>,
    pub frequency: Option<u32>,
    pub timeframe: u32,
    pub same: Vec<Correlate>,
    pub different: Vec<Correlate>,
    pub global_frequency: bool,
    pub overwrite: bool,
    pub options: Vec<String>,
    pub file: String,
    pub line: usize,
}

impl Rule {
    pub fn has_context(&self) -> bool {
        self.if_matched_sid.is_some() || self.if_matched_group.is_some()
    }
}

/// An hour range from `<time>`: minutes after midnight, start inclusive, end exclusive,
/// wrapping over midnight when `start > end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: u32,
    pub end: u32,
    pub negate: bool,
}

impl TimeRange {
    pub fn contains(&self, minute_of_day: u32) -> bool {
        let inside = if self.start <= self.end {
            minute_of_day >= self.start && minute_of_day < self.end
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        };
        inside != self.negate
    }

    /// `6 pm - 8:30 am`, `18:00-08:30`, optionally prefixed with `!`.
    pub fn parse(text: &str) -> Option<TimeRange> {
        let text = text.trim();
        let (negate, text) = match text.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, text),
        };
        let (a, b) = text.split_once('-')?;
        Some(TimeRange {
            start: parse_clock(a)?,
            end: parse_clock(b)?,
            negate,
        })
    }
}

fn parse_clock(text: &str) -> Option<u32> {
    let t = text.trim().to_ascii_lowercase();
    let (t, pm, am) = if let Some(x) = t.strip_suffix("pm") {
        (x.trim().to_string(), true, false)
    } else if let Some(x) = t.strip_suffix("am") {
        (x.trim().to_string(), false, true)
    } else {
        (t, false, false)
    };
    let (h, m) = match t.split_once(':') {
        Some((h, m)) => (h.trim().parse::<u32>().ok()?, m.trim().parse::<u32>().ok()?),
        None => (t.trim().parse::<u32>().ok()?, 0),
    };
    if h > 24 || m > 59 {
        return None;
    }
    let h = match (pm, am) {
        (true, _) if h < 12 => h + 12,
        (_, true) if h == 12 => 0,
        _ => h,
    };
    Some(h * 60 + m)
}

/// `<weekday>`: `weekdays`, `weekends`, day names separated by commas or spaces, `!` negates.
pub fn parse_weekdays(text: &str) -> Option<[bool; 7]> {
    let text = text.trim().to_ascii_lowercase();
    let (negate, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text.clone()),
    };
    let names = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let mut days = [false; 7];
    for word in text.split([',', ' ', '|']).filter(|w| !w.is_empty()) {
        match word {
            "weekdays" => (1..6).for_each(|d| days[d] = true),
            "weekends" => {
                days[0] = true;
                days[6] = true;
            }
            w => {
                let day = names
                    .iter()
                    .position(|n| n.starts_with(w) && w.len() >= 3)?;
                days[day] = true;
            }
        }
    }
    if negate {
        days.iter_mut().for_each(|d| *d = !*d);
    }
    Some(days)
}

/// A node of the evaluation tree. The same rule can sit under several parents.
#[derive(Debug, Clone)]
pub struct Node {
    pub rule: usize,
    pub children: Vec<usize>,
}

/// All rules and their tree.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub nodes: Vec<Node>,
    pub roots: Vec<usize>,
    by_id: HashMap<u32, usize>,
}

fn bool_attr(value: Option<&str>) -> bool {
    matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("yes" | "true" | "1")
    )
}

impl RuleSet {
    pub fn rule_by_id(&self, id: u32) -> Option<&Rule> {
        self.by_id.get(&id).map(|&i| &self.rules[i])
    }

    pub fn index_of(&self, id: u32) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Load the `<group>` elements of one rule file. Rules whose parent is not loaded yet
    /// are returned, to be placed by [`RuleSet::place_pending`] once every file is read.
    pub fn load(
        &mut self,
        path: &Path,
        roots: &[Element],
        report: &mut LoadReport,
    ) -> Result<Vec<Rule>, LoadError> {
        let mut pending = Vec::new();
        for group in roots {
            if group.name.eq_ignore_ascii_case("var") {
                continue;
            }
            if !group.name.eq_ignore_ascii_case("group") {
                report.unsupported(format!("rule file element <{}>", group.name));
                continue;
            }
            let group_name = group.attr("name").unwrap_or("").to_string();
            for element in &group.children {
                if !element.name.eq_ignore_ascii_case("rule") {
                    report.unsupported(format!("group element <{}>", element.name));
                    continue;
                }
                // Like Wazuh, one invalid rule is skipped (and reported) rather than failing
                // the whole ruleset; malformed XML still fails the load.
                let placed = parse_rule(path, element, &group_name, report)
                    .and_then(|rule| self.insert(path, rule, report));
                match placed {
                    Ok(Some(unplaced)) => pending.push(unplaced),
                    Ok(None) => {}
                    Err(error) => report.skipped.push(error.to_string()),
                }
            }
        }
        Ok(pending)
    }

    /// Place rules whose parents appeared in later files, repeating while progress is
    /// made. What still has no parent is reported as skipped, as OSSEC and Wazuh skip it.
    pub fn place_pending(&mut self, mut pending: Vec<Rule>, report: &mut LoadReport) {
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for rule in pending {
                let path = std::path::PathBuf::from(&rule.file);
                match self.insert(&path, rule, report) {
                    Ok(Some(unplaced)) => still.push(unplaced),
                    Ok(None) => {}
                    Err(e) => report.skipped.push(e.to_string()),
                }
            }
            pending = still;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for r in pending {
            let reason = if !r.if_sid.is_empty() {
                format!("if_sid {:?}", r.if_sid)
            } else if let Some(g) = &r.if_group {
                format!("if_group {g:?}")
            } else if let Some(l) = r.if_level {
                format!("if_level {l}")
            } else {
                "its category".to_string()
            };
            report.skipped.push(format!(
                "{}:{}: rule {}: no parent found for {reason}",
                r.file, r.line, r.id
            ));
        }
    }

    fn insert(
        &mut self,
        path: &Path,
        rule: Rule,
        report: &mut LoadReport,
    ) -> Result<Option<Rule>, LoadError> {
        if rule.overwrite {
            if let Some(&existing) = self.by_id.get(&rule.id) {
                let old = &self.rules[existing];
                // The replaced rule keeps its place in the tree and its correlation links.
                let mut replacement = rule;
                replacement.if_sid = old.if_sid.clone();
                replacement.if_group = old.if_group.clone();
                replacement.if_level = old.if_level;
                replacement.if_matched_sid = old.if_matched_sid;
                replacement.if_matched_group = old.if_matched_group.clone();
                replacement.lists = old.lists.clone();
                if replacement.mitre.is_empty() {
                    replacement.mitre = old.mitre.clone();
                }
                self.rules[existing] = replacement;
                report.overwritten += 1;
                return Ok(None);
            }
        } else if self.by_id.contains_key(&rule.id) {
            return Err(LoadError::Invalid {
                path: path.into(),
                line: rule.line,
                owner: format!("rule {}", rule.id),
                message: "duplicate rule id (use overwrite=\"yes\" to replace it)".into(),
            });
        }
        let index = self.rules.len();
        let id = rule.id;
        self.rules.push(rule);
        if !self.attach(index) {
            return Ok(self.rules.pop());
        }
        self.by_id.insert(id, index);
        Ok(None)
    }

    fn new_node(&mut self, rule: usize) -> usize {
        self.nodes.push(Node {
            rule,
            children: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Insert `node` into `list` before the first entry of lower level.
    fn insert_sorted(rules: &[Rule], nodes: &[Node], list: &mut Vec<usize>, node: usize) {
        let priority = rules[nodes[node].rule].priority;
        let at = list
            .iter()
            .position(|&n| priority > rules[nodes[n].rule].priority)
            .unwrap_or(list.len());
        list.insert(at, node);
    }

    fn add_child(&mut self, parent: usize, rule: usize) {
        let node = self.new_node(rule);
        let mut children = std::mem::take(&mut self.nodes[parent].children);
        Self::insert_sorted(&self.rules, &self.nodes, &mut children, node);
        self.nodes[parent].children = children;
    }

    /// Place a freshly pushed rule in the tree. Returns false when no parent was found.
    fn attach(&mut self, index: usize) -> bool {
        let rule = &self.rules[index];
        if rule.id < 10 {
            let node = self.new_node(index);
            let mut roots = std::mem::take(&mut self.roots);
            Self::insert_sorted(&self.rules, &self.nodes, &mut roots, node);
            self.roots = roots;
            return true;
        }
        if !rule.if_sid.is_empty() {
            let mut any = false;
            for sid in rule.if_sid.clone() {
                let roots = self.roots.clone();
                for parent in self.nodes_for_sid(&roots, sid) {
                    let category = self.rules[self.nodes[parent].rule].category;
                    self.rules[index].category = category;
                    self.add_child(parent, index);
                    any = true;
                }
            }
            return any;
        }
        if let Some(level) = rule.if_level {
            let targets: Vec<usize> = self
                .preorder()
                .into_iter()
                .filter(|&n| {
                    let candidate = &self.rules[self.nodes[n].rule];
                    candidate.priority >= u32::from(level) * 100
                        && candidate.id != self.rules[index].id
                })
                .collect();
            for parent in &targets {
                self.add_child(*parent, index);
            }
            return !targets.is_empty();
        }
        if let Some(group) = rule.if_group.clone() {
            let needle = group.to_ascii_lowercase();
            let id = rule.id;
            let targets: Vec<usize> = self
                .preorder()
                .into_iter()
                .filter(|&n| {
                    let r = &self.rules[self.nodes[n].rule];
                    r.id != id && r.group_text.to_ascii_lowercase().contains(&needle)
                })
                .collect();
            for parent in &targets {
                self.add_child(*parent, index);
            }
            return !targets.is_empty();
        }
        let category = rule.category;
        match self
            .roots
            .iter()
            .copied()
            .find(|&n| self.rules[self.nodes[n].rule].category == category)
        {
            Some(root) => {
                self.add_child(root, index);
                true
            }
            None => false,
        }
    }

    /// Nodes in depth-first pre-order, as OSSEC walks them when attaching.
    fn preorder(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<usize> = self.roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            out.push(n);
            stack.extend(self.nodes[n].children.iter().rev().copied());
        }
        out
    }

    /// The nodes of rule `id` that receive an `if_sid` child, as OSSEC picks them: in each
    /// sibling list, the first node with that id (its later siblings and its own subtree
    /// are not searched); lists that do not hold it are searched through their children.
    /// A rule that sits under several parents therefore gets the child under each copy.
    fn nodes_for_sid(&self, list: &[usize], id: u32) -> Vec<usize> {
        let mut found = Vec::new();
        self.collect_sid_nodes(list, id, &mut found, 0);
        found
    }

    fn collect_sid_nodes(&self, list: &[usize], id: u32, found: &mut Vec<usize>, depth: usize) {
        if depth > 64 {
            return;
        }
        for &node in list {
            if self.rules[self.nodes[node].rule].id == id {
                found.push(node);
                return;
            }
            self.collect_sid_nodes(&self.nodes[node].children, id, found, depth + 1);
        }
    }
}

fn parse_rule(
    path: &Path,
    element: &Element,
    group_name: &str,
    report: &mut LoadReport,
) -> Result<Rule, LoadError> {
    let line = element.line;
    let id_text = element.attr("id").unwrap_or("");
    let invalid_owner = |owner: String, message: String| LoadError::Invalid {
        path: path.into(),
        line,
        owner,
        message,
    };
    let id: u32 = id_text
        .trim()
        .parse()
        .map_err(|_| invalid_owner("rule".into(), format!("bad or missing id {id_text:?}")))?;
    let owner = format!("rule {id}");
    let invalid = |message: String| invalid_owner(owner.clone(), message);
    let level_text = element.attr("level").unwrap_or("");
    let level: u8 = match level_text.trim().parse::<u8>() {
        Ok(l) if l <= 16 => l,
        _ => {
            return Err(invalid(format!(
                "bad or missing level {level_text:?} (0 to 16)"
            )))
        }
    };
    let number = |name: &str| -> Result<Option<u32>, LoadError> {
        match element.attr(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| invalid(format!("{name}={v:?} is not a number"))),
        }
    };
    let frequency = number("frequency")?;
    if let Some(f) = frequency {
        // Wazuh accepts 2 to 9999; OSSEC also takes 0 and 1, which mean "any earlier event".
        if f > 9999 {
            return Err(invalid(format!("frequency {f} must be at most 9999")));
        }
    }
    let timeframe = number("timeframe")?.unwrap_or(360);
    let maxsize = number("maxsize")?.map(|v| v as usize);
    let ignore_seconds = number("ignore")?;
    let noalert = element.attr("noalert").is_some_and(|v| v.trim() != "0");
    let accuracy = number("accuracy")?.unwrap_or(1);
    let priority = match (level, accuracy) {
        (0, _) => 9900,
        (l, 0) => u32::from(l),
        (l, _) => u32::from(l) * 100,
    };
    let overwrite = bool_attr(element.attr("overwrite"));
    for (key, _) in &element.attributes {
        let key = key.to_ascii_lowercase();
        if ![
            "id",
            "level",
            "frequency",
            "timeframe",
            "maxsize",
            "ignore",
            "noalert",
            "overwrite",
            "accuracy",
        ]
        .contains(&key.as_str())
        {
            report.unsupported(format!("rule attribute {key}"));
        }
    }

    let mut rule = Rule {
        id,
        level,
        priority,
        description: String::new(),
        groups: Vec::new(),
        group_text: String::new(),
        mitre: Vec::new(),
        category: Category::Syslog,
        decoded_as: None,
        decoded_as_id: None,
        conditions: Vec::new(),
        lists: Vec::new(),
        maxsize,
        time: None,
        weekdays: None,
        first_time_seen: false,
        compiled: Vec::new(),
        noalert,
        ignore_seconds,
        if_sid: Vec::new(),
        if_group: None,
        if_level: None,
        if_matched_sid: None,
        if_matched_group: None,
        frequency,
        timeframe,
        same: Vec::new(),
        different: Vec::new(),
        global_frequency: false,
        overwrite,
        options: Vec::new(),
        file: path.display().to_string(),
        line,
    };

    // Pattern texts are concatenated when an element repeats, as OSSEC does; keep them
    // until all children are read, then compile.
    struct PendingPattern {
        field: FieldRef,
        text: String,
        dialect: Dialect,
        negate: bool,
        line: usize,
        element: String,
    }
    let mut pending: Vec<PendingPattern> = Vec::new();
    let mut groups_text = group_name.to_string();
    let mut addresses: HashMap<String, Vec<(bool, IpNet)>> = HashMap::new();
    let mut address_order: Vec<(String, bool)> = Vec::new();

    for child in &element.children {
        let tag = child.name.to_ascii_lowercase();
        let text = child.text.as_str();
        let negate = bool_attr(child.attr("negate"));
        let dialect_for = |default: Dialect| -> Result<Dialect, LoadError> {
            match child.attr("type").map(|t| t.trim().to_ascii_lowercase()) {
                None => Ok(default),
                Some(t) => match t.as_str() {
                    "osmatch" => Ok(Dialect::OsMatch),
                    "osregex" => Ok(Dialect::OsRegex),
                    "pcre2" => Ok(Dialect::Pcre2),
                    _ => Err(invalid(format!("<{tag}> has unknown type {t:?}"))),
                },
            }
        };
        let push_pattern = |field: FieldRef,
                            default: Dialect,
                            pending: &mut Vec<PendingPattern>|
         -> Result<(), LoadError> {
            let dialect = dialect_for(default)?;
            if let Some(p) = pending
                .iter_mut()
                .find(|p| p.field == field && p.element == tag)
            {
                p.text.push_str(text);
                return Ok(());
            }
            pending.push(PendingPattern {
                field,
                text: text.to_string(),
                dialect,
                negate,
                line: child.line,
                element: tag.clone(),
            });
            Ok(())
        };
        // OSSEC's `<pcre2>` and `<match_pcre2>`, `<user_pcre2>`...: the same tests with
        // caseless PCRE2 patterns.
        if let Some(base) =
            tag.strip_suffix("_pcre2")
                .or(if tag == "pcre2" { Some("regex") } else { None })
        {
            let field = match base {
                "match" | "regex" => FieldRef::Log,
                "program_name" => FieldRef::ProgramName,
                "hostname" => FieldRef::Hostname,
                "user" => FieldRef::User,
                other => FieldRef::Named(canonical(other).to_string()),
            };
            // Repeated elements concatenate, as everywhere in OSSEC's loader.
            if let Some(p) = pending.iter_mut().find(|p| p.element == tag) {
                p.text.push_str(text);
                continue;
            }
            pending.push(PendingPattern {
                field,
                text: text.to_string(),
                dialect: Dialect::OssecPcre2,
                negate,
                line: child.line,
                element: tag.clone(),
            });
            continue;
        }
        match tag.as_str() {
            "match" => push_pattern(FieldRef::Log, Dialect::OsMatch, &mut pending)?,
            "regex" => push_pattern(FieldRef::Log, Dialect::OsRegex, &mut pending)?,
            "program_name" => push_pattern(FieldRef::ProgramName, Dialect::OsMatch, &mut pending)?,
            "hostname" => push_pattern(FieldRef::Hostname, Dialect::OsMatch, &mut pending)?,
            "location" => push_pattern(FieldRef::Location, Dialect::OsMatch, &mut pending)?,
            "user" => push_pattern(FieldRef::User, Dialect::OsMatch, &mut pending)?,
            "srcport" | "dstport" | "url" | "id" | "status" | "extra_data" | "data" | "action"
            | "protocol" | "system_name" | "srcgeoip" | "dstgeoip" => push_pattern(
                FieldRef::Named(canonical(&tag).to_string()),
                Dialect::OsMatch,
                &mut pending,
            )?,
            "field" => {
                let Some(name) = child.attr("name") else {
                    return Err(invalid("<field> without a name attribute".into()));
                };
                let dialect = dialect_for(Dialect::OsRegex)?;
                pending.push(PendingPattern {
                    field: FieldRef::Named(canonical(name.trim()).to_string()),
                    text: text.to_string(),
                    dialect,
                    negate,
                    line: child.line,
                    element: format!("field name={name:?}"),
                });
            }
            "srcip" | "dstip" => {
                let mut entries = Vec::new();
                for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (neg, addr) = match part.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, part),
                    };
                    let net = IpNet::parse(addr).ok_or_else(|| {
                        invalid(format!("<{tag}> {part:?} is not an address or network"))
                    })?;
                    entries.push((neg, net));
                }
                if !addresses.contains_key(&tag) {
                    address_order.push((tag.clone(), negate));
                }
                addresses.entry(tag.clone()).or_default().extend(entries);
            }
            "decoded_as" => rule.decoded_as = Some(text.trim().to_string()),
            "category" => {
                rule.category = Category::parse(text)
                    .ok_or_else(|| invalid(format!("unknown category {text:?}")))?;
            }
            "description" => rule.description.push_str(text),
            "group" => {
                groups_text.push_str(text);
            }
            "if_sid" => {
                for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
                    let sid = part
                        .trim()
                        .parse()
                        .map_err(|_| invalid(format!("if_sid {part:?} is not a rule id")))?;
                    rule.if_sid.push(sid);
                }
            }
            "if_group" => rule.if_group = Some(text.trim().to_string()),
            "if_level" => {
                rule.if_level = Some(
                    text.trim()
                        .parse()
                        .map_err(|_| invalid(format!("if_level {text:?} is not a level")))?,
                );
            }
            "if_matched_sid" => {
                rule.if_matched_sid =
                    Some(text.trim().parse().map_err(|_| {
                        invalid(format!("if_matched_sid {text:?} is not a rule id"))
                    })?);
            }
            "if_matched_group" => {
                let pattern = Pattern::compile(Dialect::OsMatch, text.trim()).map_err(|e| {
                    LoadError::Pattern {
                        path: path.into(),
                        line: child.line,
                        owner: owner.clone(),
                        element: tag.clone(),
                        message: e.to_string(),
                    }
                })?;
                rule.if_matched_group = Some(pattern);
                if rule.if_group.is_none() && rule.if_sid.is_empty() {
                    rule.if_group = Some(text.trim().to_string());
                }
            }
            "if_fts" => rule.first_time_seen = true,
            "time" => {
                rule.time = Some(
                    TimeRange::parse(text)
                        .ok_or_else(|| invalid(format!("bad <time> {text:?}")))?,
                )
            }
            "weekday" => {
                rule.weekdays = Some(
                    parse_weekdays(text)
                        .ok_or_else(|| invalid(format!("bad <weekday> {text:?}")))?,
                )
            }
            "list" => {
                let field_name = child.attr("field").unwrap_or("").trim();
                let field = match field_name {
                    "user" => FieldRef::User,
                    "hostname" => FieldRef::Hostname,
                    "program_name" => FieldRef::ProgramName,
                    "location" => FieldRef::Location,
                    "" => return Err(invalid("<list> without a field attribute".into())),
                    other => FieldRef::Named(canonical(other).to_string()),
                };
                let lookup = match child.attr("lookup").map(str::trim).unwrap_or("match_key") {
                    "match_key" => Lookup::MatchKey,
                    "not_match_key" => Lookup::NotMatchKey,
                    "match_key_value" => Lookup::MatchKeyValue,
                    "address_match_key" => Lookup::AddressMatchKey,
                    "not_address_match_key" => Lookup::NotAddressMatchKey,
                    "address_match_key_value" => Lookup::AddressMatchKeyValue,
                    other => return Err(invalid(format!("unknown list lookup {other:?}"))),
                };
                let check_value = match child.attr("check_value") {
                    Some(v) => Some(Pattern::compile(Dialect::OsRegex, v).map_err(|e| {
                        LoadError::Pattern {
                            path: path.into(),
                            line: child.line,
                            owner: owner.clone(),
                            element: "list check_value".into(),
                            message: e.to_string(),
                        }
                    })?),
                    None => None,
                };
                rule.lists.push(ListCondition {
                    field,
                    list: text.trim().to_string(),
                    lookup,
                    check_value,
                });
            }
            "options" => {
                for option in text.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                    rule.options.push(option.to_string());
                }
            }
            "mitre" => {
                for id in child
                    .children
                    .iter()
                    .filter(|c| c.name.eq_ignore_ascii_case("id"))
                {
                    rule.mitre.push(id.text.trim().to_string());
                }
            }
            "global_frequency" => rule.global_frequency = true,
            "same_field" | "not_same_field" | "different_field" => {
                let field = canonical(text.trim()).to_string();
                if tag == "same_field" {
                    rule.same.push(Correlate::Field(field));
                } else {
                    rule.different.push(Correlate::Field(field));
                }
            }
            "compiled_rule" => {
                let check = match text.trim() {
                    "is_simple_http_request" => CompiledCheck::SimpleHttpRequest,
                    "is_valid_crawler" => CompiledCheck::ValidCrawler,
                    other => {
                        report.unsupported(format!("compiled_rule {other}"));
                        CompiledCheck::Unknown
                    }
                };
                rule.compiled.push(check);
            }
            "info" | "pci_dss" | "gdpr" | "hipaa" | "nist_800_53" | "tsc" | "gpg13" | "cve"
            | "var" => {}
            "check_diff" | "if_matched_regex" | "ignore" | "check_if_ignored" => {
                report.unsupported(format!("rule <{tag}>"));
            }
            other => {
                if let Some(correlate) = correlate_element(other) {
                    if other.starts_with("same_") {
                        rule.same.push(correlate);
                    } else {
                        rule.different.push(correlate);
                    }
                } else {
                    report.unsupported(format!("rule <{other}>"));
                }
            }
        }
    }

    for (tag, negate) in address_order {
        let entries = addresses.remove(&tag).unwrap_or_default();
        rule.conditions.push(Condition {
            field: FieldRef::Named(tag),
            test: Test::Addresses(entries),
            negate,
            literals: None,
        });
    }
    for p in pending {
        let pattern = Pattern::compile(p.dialect, &p.text).map_err(|e| LoadError::Pattern {
            path: path.into(),
            line: p.line,
            owner: owner.clone(),
            element: p.element.clone(),
            message: e.to_string(),
        })?;
        rule.conditions.push(Condition {
            field: p.field,
            test: Test::Pattern(pattern),
            negate: p.negate,
            literals: None,
        });
    }
    // Cheap field tests first, the full-log patterns after them.
    rule.conditions
        .sort_by_key(|c| matches!(c.field, FieldRef::Log));

    rule.groups = groups_text
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    rule.group_text = groups_text;
    if rule.if_matched_sid.is_some() && rule.if_sid.is_empty() && rule.if_group.is_none() {
        rule.if_sid.push(rule.if_matched_sid.unwrap_or_default());
    }
    if (rule.frequency.is_some() || !rule.same.is_empty() || !rule.different.is_empty())
        && !rule.has_context()
    {
        return Err(invalid(
            "frequency and same_/different_ options need if_matched_sid or if_matched_group".into(),
        ));
    }
    if rule.description.is_empty() && !rule.overwrite {
        report.missing_descriptions += 1;
    }
    Ok(rule)
}

fn correlate_element(tag: &str) -> Option<Correlate> {
    let name = tag
        .strip_prefix("same_")
        .or_else(|| tag.strip_prefix("different_"))
        .or_else(|| tag.strip_prefix("not_same_"))?;
    Some(match name {
        "source_ip" | "srcip" => Correlate::Field("srcip".into()),
        "dstip" => Correlate::Field("dstip".into()),
        "src_port" | "srcport" => Correlate::Field("srcport".into()),
        "dst_port" | "dstport" => Correlate::Field("dstport".into()),
        "user" | "dstuser" => Correlate::Field("dstuser".into()),
        "srcuser" => Correlate::Field("srcuser".into()),
        "location" => Correlate::Location,
        "agent" => Correlate::Agent,
        "id" => Correlate::Field("id".into()),
        "url" => Correlate::Field("url".into()),
        "protocol" => Correlate::Field("protocol".into()),
        "action" => Correlate::Field("action".into()),
        "data" => Correlate::Field("data".into()),
        "extra_data" => Correlate::Field("extra_data".into()),
        "status" => Correlate::Field("status".into()),
        "system_name" => Correlate::Field("system_name".into()),
        "srcgeoip" => Correlate::Field("srcgeoip".into()),
        "dstgeoip" => Correlate::Field("dstgeoip".into()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_masks() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(&"10.9.8.7".parse().unwrap()));
        assert!(!net.contains(&"11.0.0.1".parse().unwrap()));
        let mask = IpNet::parse("192.168.1.0/255.255.255.0").unwrap();
        assert_eq!(mask.prefix, 24);
        assert!(IpNet::parse("::1/128")
            .unwrap()
            .contains(&"::1".parse().unwrap()));
        assert!(IpNet::parse("300.1.1.1").is_none());
    }

    #[test]
    fn time_ranges_wrap_midnight() {
        let night = TimeRange::parse("6 pm - 8:30 am").unwrap();
        assert!(night.contains(23 * 60));
        assert!(night.contains(8 * 60 + 29));
        assert!(!night.contains(12 * 60));
        let day = TimeRange::parse("!08:00-18:00").unwrap();
        assert!(day.contains(20 * 60));
    }

    #[test]
    fn weekdays() {
        let d = parse_weekdays("weekends").unwrap();
        assert!(d[0] && d[6] && !d[3]);
        let d = parse_weekdays("monday,tuesday").unwrap();
        assert!(d[1] && d[2] && !d[0]);
    }
}

#[cfg(test)]
mod tree_tests {
    use super::*;

    fn load(xml_text: &str) -> RuleSet {
        let mut set = RuleSet::default();
        let mut report = LoadReport::default();
        let roots = crate::xml::parse(xml_text).unwrap();
        let pending = set.load(Path::new("t.xml"), &roots, &mut report).unwrap();
        set.place_pending(pending, &mut report);
        set
    }

    #[test]
    fn grouping_rules_sort_before_alerting_siblings() {
        let set = load(
            r#"<group name="g"><rule id="1" level="0" noalert="1"><category>syslog</category><description>root</description></rule>
            <rule id="100" level="14"><match>a</match><description>a</description></rule>
            <rule id="101" level="2"><match>b</match><description>b</description></rule>
            <rule id="102" level="0"><match>c</match><description>c</description></rule>
            <rule id="103" level="14"><match>d</match><description>d</description></rule></group>"#,
        );
        let root = set.roots[0];
        let order: Vec<u32> = set.nodes[root]
            .children
            .iter()
            .map(|&c| set.rules[set.nodes[c].rule].id)
            .collect();
        assert_eq!(order, vec![102, 100, 103, 101]);
    }
}
