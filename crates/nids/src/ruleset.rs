//! Loading rule text into a ruleset: parse each rule, resolve its variables, check its
//! classtype and sid, and keep a report of what was skipped and why.

use std::collections::{BTreeMap, HashSet};

use crate::classification::Classifications;
use crate::error::{ErrorKind, RuleError};
use crate::header::{AddressExpr, PortExpr};
use crate::rule::{parse_rule, Rule};
use crate::source::split_rules;
use crate::vars::Variables;

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Variables for `$HOME_NET` and friends.
    pub vars: Variables,
    /// When set, a classtype must be defined here.
    pub classifications: Option<Classifications>,
    /// Also load commented-out rules (`# alert ...`).
    pub include_disabled: bool,
}

/// A rule header with every variable replaced by its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ResolvedHeader {
    pub src: AddressExpr,
    pub src_ports: PortExpr,
    pub dst: AddressExpr,
    pub dst_ports: PortExpr,
}

/// A rule that loaded, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The parsed rule.
    pub rule: Rule,
    /// The header with variables resolved.
    pub resolved: ResolvedHeader,
    /// Index into [`Ruleset::sources`].
    pub source: usize,
    /// First line of the rule in its source.
    pub line: u32,
}

/// A rule that was not loaded.
#[derive(Debug, Clone)]
pub struct SkippedRule {
    /// Index into [`Ruleset::sources`].
    pub source: usize,
    /// Where and why.
    pub error: RuleError,
}

/// Loaded rules plus the load report.
#[derive(Debug, Default)]
pub struct Ruleset {
    options: LoadOptions,
    /// Names of the sources added (file paths, usually).
    pub sources: Vec<String>,
    /// Rules that loaded.
    pub rules: Vec<LoadedRule>,
    /// Rules that did not, with the reason.
    pub skipped: Vec<SkippedRule>,
    /// Commented-out rules that were not loaded (when `include_disabled` is off).
    pub disabled: usize,
    seen_sids: HashSet<(u32, u64)>,
}

impl Ruleset {
    /// An empty ruleset that will load with these options.
    pub fn new(options: LoadOptions) -> Self {
        Ruleset {
            options,
            ..Ruleset::default()
        }
    }

    /// Parses the text of one rule file named `name` and adds what loads.
    pub fn add_source(&mut self, name: &str, text: &str) {
        let source = self.sources.len();
        self.sources.push(name.to_string());
        for rt in split_rules(text) {
            if rt.disabled && !self.options.include_disabled {
                self.disabled += 1;
                continue;
            }
            match self.load_one(&rt) {
                Ok((rule, resolved)) => self.rules.push(LoadedRule {
                    rule,
                    resolved,
                    source,
                    line: rt.line(),
                }),
                Err(error) => self.skipped.push(SkippedRule { source, error }),
            }
        }
    }

    fn load_one(
        &mut self,
        rt: &crate::source::RuleText,
    ) -> Result<(Rule, ResolvedHeader), RuleError> {
        let mut rule = parse_rule(rt)?;
        rule.shrink_to_fit();
        let h = &rule.header;
        let vars = &self.options.vars;
        let undefined = |name: String| {
            let off = rt.text.find(&format!("${name}")).unwrap_or(0);
            RuleError {
                position: rt.position(off),
                keyword: "variable".into(),
                kind: ErrorKind::UndefinedVariable(name),
            }
        };
        let resolved = ResolvedHeader {
            src: vars.resolve_address(&h.src).map_err(undefined)?,
            src_ports: vars.resolve_port(&h.src_ports).map_err(undefined)?,
            dst: vars.resolve_address(&h.dst).map_err(undefined)?,
            dst_ports: vars.resolve_port(&h.dst_ports).map_err(undefined)?,
        };
        let keyword_error = |kw: &str, kind: ErrorKind| {
            let off = rt.text.find(&format!("{kw}:")).unwrap_or(0);
            RuleError {
                position: rt.position(off),
                keyword: kw.into(),
                kind,
            }
        };
        if let (Some(cls), Some(ct)) = (&self.options.classifications, &rule.meta.classtype) {
            if cls.get(ct).is_none() {
                return Err(keyword_error(
                    "classtype",
                    ErrorKind::UnknownClasstype(ct.clone()),
                ));
            }
        }
        let key = (rule.meta.gid.unwrap_or(1), rule.meta.sid);
        if !self.seen_sids.insert(key) {
            return Err(keyword_error("sid", ErrorKind::DuplicateSid(rule.meta.sid)));
        }
        Ok((rule, resolved))
    }

    /// Skipped rules counted by the keyword that caused each skip, most frequent first.
    pub fn skips_by_keyword(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &self.skipped {
            *counts.entry(s.error.keyword.as_str()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Share of enabled rules that loaded, in percent (100 when there were none).
    pub fn loaded_percent(&self) -> f64 {
        let total = self.rules.len() + self.skipped.len();
        if total == 0 {
            100.0
        } else {
            self.rules.len() as f64 * 100.0 / total as f64
        }
    }
}
