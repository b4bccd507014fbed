//! Loading rule text into a ruleset: parse each rule, resolve its variables, check its
//! classtype and sid, and keep a report of what was skipped and why.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

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

/// A rule header with every variable replaced by its value. Each part is shared with
/// every other rule of the ruleset that resolves to the same expression.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ResolvedHeader {
    pub src: Arc<AddressExpr>,
    pub src_ports: Arc<PortExpr>,
    pub dst: Arc<AddressExpr>,
    pub dst_ports: Arc<PortExpr>,
}

/// One shared copy of each distinct value, so that tens of thousands of rules writing
/// `$HOME_NET` or `$HTTP_PORTS` hold pointers to one expression rather than a copy each
/// (with ET Open the resolved copies alone were some 7 MiB).
#[derive(Debug)]
struct Interned<T: Eq + Hash + ?Sized> {
    shared: HashSet<Arc<T>>,
    /// Written expression (already shared) to its resolved form.
    resolved: HashMap<Arc<T>, Arc<T>>,
}

impl<T: Eq + Hash + ?Sized> Default for Interned<T> {
    fn default() -> Self {
        Interned {
            shared: HashSet::new(),
            resolved: HashMap::new(),
        }
    }
}

impl<T: Eq + Hash + ?Sized> Interned<T> {
    /// The shared copy equal to `value`, which becomes the shared copy if there is none.
    fn share(&mut self, value: Arc<T>) -> Arc<T> {
        if let Some(shared) = self.shared.get(&value) {
            return shared.clone();
        }
        self.shared.insert(value.clone());
        value
    }

    /// The shared resolved form of the shared written form `written`, resolving it the
    /// first time it is seen.
    fn resolve<E>(
        &mut self,
        written: &Arc<T>,
        resolve: impl FnOnce(&T) -> Result<Arc<T>, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(r) = self.resolved.get(written) {
            return Ok(r.clone());
        }
        let r = self.share(resolve(written)?);
        self.resolved.insert(written.clone(), r.clone());
        Ok(r)
    }
}

/// The interning tables of a ruleset being loaded.
#[derive(Debug, Default)]
struct Shared {
    addresses: Interned<AddressExpr>,
    ports: Interned<PortExpr>,
    classtypes: Interned<str>,
}

/// A rule that loaded, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The parsed rule. Boxed so that the ruleset's array, which grows by doubling while
    /// rules load and is copied once more when the engine keeps what it can evaluate,
    /// moves small entries: with ET Open, arrays of whole rules left some 20 MB of freed
    /// but still resident memory behind at the load's end (mimalloc returns freed pages to
    /// the system only after a delay).
    pub rule: Box<Rule>,
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
    shared: Shared,
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
                    rule: Box::new(rule),
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
        let vars = &self.options.vars;
        let shared = &mut self.shared;
        let h = &mut rule.header;
        h.src = shared.addresses.share(h.src.clone());
        h.dst = shared.addresses.share(h.dst.clone());
        h.src_ports = shared.ports.share(h.src_ports.clone());
        h.dst_ports = shared.ports.share(h.dst_ports.clone());
        if let Some(ct) = rule.meta.classtype.take() {
            rule.meta.classtype = Some(shared.classtypes.share(ct));
        }
        let h = &rule.header;
        let undefined = |name: String| {
            let off = rt.text.find(&format!("${name}")).unwrap_or(0);
            RuleError {
                position: rt.position(off),
                keyword: "variable".into(),
                kind: ErrorKind::UndefinedVariable(name),
            }
        };
        let address = |e: &AddressExpr| vars.resolve_address(e).map(Arc::new);
        let port = |e: &PortExpr| vars.resolve_port(e).map(Arc::new);
        let resolved = ResolvedHeader {
            src: shared
                .addresses
                .resolve(&h.src, address)
                .map_err(undefined)?,
            src_ports: shared
                .ports
                .resolve(&h.src_ports, port)
                .map_err(undefined)?,
            dst: shared
                .addresses
                .resolve(&h.dst, address)
                .map_err(undefined)?,
            dst_ports: shared
                .ports
                .resolve(&h.dst_ports, port)
                .map_err(undefined)?,
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
                    ErrorKind::UnknownClasstype(ct.to_string()),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The memory budget with ET Open rests on this: rules that write the same address
    /// or port expression hold one shared copy, written and resolved.
    #[test]
    fn rules_with_the_same_variables_share_one_expression() {
        let mut rs = Ruleset::new(LoadOptions::default());
        rs.add_source(
            "t.rules",
            "alert http $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:\"a\"; classtype:trojan-activity; sid:1;)\n\
             alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:\"b\"; classtype:trojan-activity; sid:2;)\n\
             alert tcp [$HOME_NET] any -> any 80 (msg:\"c\"; sid:3;)\n",
        );
        assert_eq!(rs.rules.len(), 3, "{:?}", rs.skipped);
        let (a, b, c) = (&rs.rules[0], &rs.rules[1], &rs.rules[2]);
        assert!(Arc::ptr_eq(&a.rule.header.src, &b.rule.header.src));
        assert!(Arc::ptr_eq(
            &a.rule.header.dst_ports,
            &b.rule.header.dst_ports
        ));
        assert!(Arc::ptr_eq(&a.resolved.src, &b.resolved.src));
        assert!(Arc::ptr_eq(&a.resolved.dst, &b.resolved.dst));
        assert!(Arc::ptr_eq(&a.resolved.src_ports, &b.resolved.src_ports));
        assert!(Arc::ptr_eq(&a.resolved.dst_ports, &b.resolved.dst_ports));
        let (ca, cb) = (
            a.rule.meta.classtype.as_ref(),
            b.rule.meta.classtype.as_ref(),
        );
        assert!(Arc::ptr_eq(ca.unwrap(), cb.unwrap()));
        // Written differently, so not the same written expression; `[$HOME_NET]` resolves
        // to a group holding HOME_NET's value, not to HOME_NET's value itself.
        assert!(!Arc::ptr_eq(&a.rule.header.src, &c.rule.header.src));
        assert_eq!(a.resolved.src_ports, c.resolved.src_ports);
        assert!(Arc::ptr_eq(&a.resolved.src_ports, &c.resolved.src_ports));
        // Sharing must not change what a rule says.
        assert_eq!(a.rule.header.src.to_string(), "$HOME_NET");
        assert_ne!(*a.resolved.src, AddressExpr::Any);
        assert_eq!(*c.resolved.dst_ports, PortExpr::Port(80));
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod size_tests {
    use super::*;
    use crate::rule::Match;

    /// ET Open loads some 25,000 rules and 70,000 inspections for the sensor's whole
    /// life: these sizes are multiplied by that. Grow them only knowingly (box what few
    /// rules use instead).
    #[test]
    fn rule_representation_stays_compact() {
        assert!(std::mem::size_of::<LoadedRule>() <= 56, "LoadedRule");
        assert!(std::mem::size_of::<Match>() <= 104, "Match");
        assert!(std::mem::size_of::<Rule>() <= 360, "Rule");
        println!(
            "LoadedRule {} B, Rule {} B, Match {} B",
            std::mem::size_of::<LoadedRule>(),
            std::mem::size_of::<Rule>(),
            std::mem::size_of::<Match>()
        );
    }
}
