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

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

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
    // transformed buffer is, without that dot, in the original one. Other transforms make a
    // content unusable here.
    let usable = |b: &crate::rule::BufferMatches| {
        b.transforms.iter().all(|(t, _)| {
            matches!(
                *t,
                "dotprefix" | "to_lowercase" | "to_uppercase" | "header_lowercase"
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

#[derive(Debug)]
struct BufferAutomaton {
    buffer: &'static str,
    automaton: AhoCorasick,
    /// Pattern id → rule index.
    rule_of: Vec<usize>,
}

/// One group: its rules, their ports, and the automata.
#[derive(Debug)]
pub struct Group {
    /// What the group covers.
    pub key: GroupKey,
    /// Rule indexes (into the slice the prefilter was built from) in the group.
    pub rules: Vec<usize>,
    /// Rules with no usable fast pattern: candidates whenever the group and ports match.
    pub without_fast_pattern: Vec<usize>,
    automata: Vec<BufferAutomaton>,
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
    /// Automata built (one per group and buffer).
    pub automata: usize,
}

/// Rules grouped and indexed by fast pattern.
#[derive(Debug)]
pub struct Prefilter {
    groups: Vec<Group>,
    /// Per rule: (source ports, destination ports), resolved.
    ports: Vec<(PortExpr, PortExpr, bool)>,
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
        let mut by_key: std::collections::BTreeMap<GroupKey, Vec<usize>> = Default::default();
        for (i, lr) in rules.iter().enumerate() {
            if exclude.get(i).copied().unwrap_or(false) {
                continue;
            }
            by_key.entry(group_key(&lr.rule)).or_default().push(i);
        }
        let mut stats = PrefilterStats::default();
        let mut groups = Vec::with_capacity(by_key.len());
        for (key, members) in by_key {
            let mut per_buffer: std::collections::BTreeMap<
                &'static str,
                (Vec<Vec<u8>>, Vec<usize>),
            > = Default::default();
            let mut without = Vec::new();
            for &i in &members {
                match fast_pattern(&rules[i].rule) {
                    Some(fp) => {
                        let entry = per_buffer.entry(fp.buffer).or_default();
                        entry.0.push(fp.bytes);
                        entry.1.push(i);
                        stats.with_fast_pattern += 1;
                    }
                    None => {
                        without.push(i);
                        stats.without_fast_pattern += 1;
                    }
                }
            }
            let mut automata = Vec::with_capacity(per_buffer.len());
            for (buffer, (patterns, rule_of)) in per_buffer {
                let automaton = AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .map_err(|source| PrefilterError::Build { buffer, source })?;
                automata.push(BufferAutomaton {
                    buffer,
                    automaton,
                    rule_of,
                });
            }
            stats.automata += automata.len();
            groups.push(Group {
                key,
                rules: members,
                without_fast_pattern: without,
                automata,
            });
        }
        stats.groups = groups.len();
        let ports = rules
            .iter()
            .map(|lr| {
                let both = lr.rule.header.direction != crate::header::Direction::ToDst;
                (
                    lr.resolved.src_ports.clone(),
                    lr.resolved.dst_ports.clone(),
                    both,
                )
            })
            .collect();
        Ok(Prefilter {
            groups,
            ports,
            stats,
        })
    }

    /// Figures about the build.
    pub fn stats(&self) -> PrefilterStats {
        self.stats
    }

    /// The groups, in key order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
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

    fn ports_match(&self, rule: usize, t: &Traffic<'_>) -> bool {
        let Some((sp, dp, both)) = self.ports.get(rule) else {
            return false;
        };
        (sp.matches(t.src_port) && dp.matches(t.dst_port))
            || (*both && sp.matches(t.dst_port) && dp.matches(t.src_port))
    }

    /// Candidate rules for this traffic, given the buffers available now as
    /// `(buffer name, bytes)`. Sorted, without duplicates.
    pub fn candidates(&self, traffic: &Traffic<'_>, buffers: &[(&str, &[u8])]) -> Vec<usize> {
        let mut out = Vec::new();
        for g in self
            .groups
            .iter()
            .filter(|g| Self::group_applies(&g.key, traffic))
        {
            out.extend(
                g.without_fast_pattern
                    .iter()
                    .copied()
                    .filter(|&r| self.ports_match(r, traffic)),
            );
            for a in &g.automata {
                for (_, data) in buffers.iter().filter(|(name, _)| *name == a.buffer) {
                    for m in a.automaton.find_overlapping_iter(*data) {
                        let r = a.rule_of[m.pattern().as_usize()];
                        if self.ports_match(r, traffic) {
                            out.push(r);
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
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
}
