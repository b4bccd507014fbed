//! Public suffixes, for the `domain` and `tld` transforms.
//!
//! A public suffix is the part of a name under which anyone can register (`com`, `co.uk`,
//! and every label under `*.ck` but `www.ck`); the registrable domain is that suffix plus
//! one label. The list comes from the Public Suffix List file format (one rule per line,
//! `//` comments, `*.` wildcards, `!` exceptions), parsed from bytes here; reading the file
//! is the caller's job. When no file is available, [`PublicSuffixList::builtin`] is a small
//! list of our own covering the common multi-label suffixes, so `bbc.co.uk` still has the
//! registrable domain `bbc.co.uk` rather than `co.uk`.

use std::collections::HashSet;

/// Rules kept from one file at most; the real list has about ten thousand.
pub const MAX_RULES: usize = 200_000;

/// Longest rule kept, in bytes (a DNS name is at most 253).
const MAX_RULE_LEN: usize = 253;

/// Where a list came from, for the load-time message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuffixSource {
    /// Parsed from a Public Suffix List file.
    File,
    /// Picket's own short list.
    Builtin,
}

/// A parsed public suffix list.
#[derive(Debug, Clone)]
pub struct PublicSuffixList {
    /// Plain rules (`co.uk`).
    exact: HashSet<String>,
    /// Wildcard rules by the part after `*.` (`*.ck` is kept as `ck`).
    wildcard: HashSet<String>,
    /// Exception rules without the `!` (`www.ck`).
    exception: HashSet<String>,
    source: SuffixSource,
    /// Lines that were not rules picket can use (too long, more than `MAX_RULES`, a
    /// wildcard not in the leftmost label).
    pub skipped: usize,
}

/// Multi-label suffixes common enough that a missing list file should not misplace them,
/// plus the wildcard-free generic ones. Single-label TLDs need no entry: the default rule
/// makes the last label a suffix.
const BUILTIN: &[&str] = &[
    "co.uk",
    "org.uk",
    "me.uk",
    "ltd.uk",
    "plc.uk",
    "net.uk",
    "ac.uk",
    "gov.uk",
    "nhs.uk",
    "police.uk",
    "sch.uk",
    "com.au",
    "net.au",
    "org.au",
    "edu.au",
    "gov.au",
    "asn.au",
    "id.au",
    "co.nz",
    "net.nz",
    "org.nz",
    "ac.nz",
    "govt.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "go.jp",
    "ad.jp",
    "ed.jp",
    "gr.jp",
    "lg.jp",
    "com.br",
    "net.br",
    "org.br",
    "gov.br",
    "edu.br",
    "com.cn",
    "net.cn",
    "org.cn",
    "gov.cn",
    "edu.cn",
    "ac.cn",
    "com.hk",
    "org.hk",
    "net.hk",
    "edu.hk",
    "gov.hk",
    "com.tw",
    "org.tw",
    "net.tw",
    "edu.tw",
    "gov.tw",
    "co.in",
    "net.in",
    "org.in",
    "firm.in",
    "gen.in",
    "ind.in",
    "ac.in",
    "edu.in",
    "gov.in",
    "res.in",
    "co.za",
    "org.za",
    "net.za",
    "gov.za",
    "ac.za",
    "edu.za",
    "com.mx",
    "org.mx",
    "net.mx",
    "edu.mx",
    "gob.mx",
    "com.ar",
    "org.ar",
    "net.ar",
    "gob.ar",
    "edu.ar",
    "com.tr",
    "org.tr",
    "net.tr",
    "gov.tr",
    "edu.tr",
    "co.kr",
    "or.kr",
    "ne.kr",
    "go.kr",
    "ac.kr",
    "re.kr",
    "com.sg",
    "org.sg",
    "net.sg",
    "edu.sg",
    "gov.sg",
    "com.my",
    "org.my",
    "net.my",
    "edu.my",
    "gov.my",
    "co.id",
    "or.id",
    "ac.id",
    "go.id",
    "web.id",
    "co.th",
    "in.th",
    "ac.th",
    "go.th",
    "or.th",
    "com.vn",
    "net.vn",
    "org.vn",
    "edu.vn",
    "gov.vn",
    "com.ph",
    "org.ph",
    "net.ph",
    "com.pk",
    "org.pk",
    "net.pk",
    "com.sa",
    "org.sa",
    "com.eg",
    "org.eg",
    "co.il",
    "org.il",
    "net.il",
    "ac.il",
    "gov.il",
    "co.at",
    "or.at",
    "ac.at",
    "gv.at",
    "com.pl",
    "net.pl",
    "org.pl",
    "com.ua",
    "org.ua",
    "net.ua",
    "com.ru",
    "org.ru",
    "net.ru",
    "com.es",
    "org.es",
    "nom.es",
    "com.pt",
    "org.pt",
    "com.gr",
    "org.gr",
    "co.ke",
    "or.ke",
    "ac.ke",
    "com.ng",
    "org.ng",
    "com.co",
    "net.co",
    "org.co",
    "com.pe",
    "org.pe",
    "com.ve",
    "co.ve",
    "com.uy",
    "com.ec",
    "com.bo",
    "com.py",
    "cl",
    "gob.cl",
];

impl PublicSuffixList {
    /// Parses a list in the Public Suffix List format. Both the ICANN and the private
    /// sections count, as in browsers. Lines are read up to their first whitespace;
    /// anything unusable is counted in `skipped`, never an error.
    pub fn parse(bytes: &[u8]) -> PublicSuffixList {
        let mut list = PublicSuffixList::empty(SuffixSource::File);
        for line in bytes.split(|b| *b == b'\n') {
            let rule = line
                .split(|b| b.is_ascii_whitespace())
                .find(|w| !w.is_empty())
                .unwrap_or(&[]);
            if rule.is_empty() || rule.starts_with(b"//") {
                continue;
            }
            let Ok(rule) = std::str::from_utf8(rule) else {
                list.skipped += 1;
                continue;
            };
            list.add(rule);
        }
        list
    }

    /// Picket's own short list, for hosts without a Public Suffix List file.
    pub fn builtin() -> PublicSuffixList {
        let mut list = PublicSuffixList::empty(SuffixSource::Builtin);
        for rule in BUILTIN {
            list.add(rule);
        }
        list
    }

    fn empty(source: SuffixSource) -> PublicSuffixList {
        PublicSuffixList {
            exact: HashSet::new(),
            wildcard: HashSet::new(),
            exception: HashSet::new(),
            source,
            skipped: 0,
        }
    }

    fn add(&mut self, rule: &str) {
        if rule.len() > MAX_RULE_LEN || self.len() >= MAX_RULES {
            self.skipped += 1;
            return;
        }
        let rule = rule.trim_end_matches('.').to_lowercase();
        if let Some(rest) = rule.strip_prefix('!') {
            if !rest.is_empty() && !rest.contains('*') {
                self.exception.insert(rest.to_string());
                return;
            }
        } else if let Some(rest) = rule.strip_prefix("*.") {
            if !rest.is_empty() && !rest.contains('*') {
                self.wildcard.insert(rest.to_string());
                return;
            }
        } else if !rule.is_empty() && !rule.contains('*') {
            self.exact.insert(rule);
            return;
        }
        // A wildcard elsewhere than the leftmost label: the format allows it in theory,
        // the list has none, and the algorithm below does not handle it.
        self.skipped += 1;
    }

    /// Rules held.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len() + self.exception.len()
    }

    /// Whether the list holds no rule (every name then has its last label as suffix).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the rules came from.
    pub fn source(&self) -> SuffixSource {
        self.source
    }

    /// The public suffix of `name` (`co.uk` for `www.bbc.co.uk`), as a suffix of `name`
    /// itself; `None` for a name that is not a sequence of non-empty labels. Matching
    /// ignores ASCII case and one trailing dot. A name no rule covers has its last label
    /// as suffix (the list's implicit `*` rule).
    pub fn suffix<'a>(&self, name: &'a [u8]) -> Option<&'a [u8]> {
        let name = name.strip_suffix(b".").unwrap_or(name);
        let labels = label_starts(name)?;
        let n = labels.len();
        let lower = String::from_utf8_lossy(name).to_lowercase();
        let tail = |i: usize| -> &str { lower.get(labels[i]..).unwrap_or("") };
        // A byte index into `name` that is also valid in `lower` only when lowercasing kept
        // every length; non-ASCII names whose case mapping changes length match nothing.
        if lower.len() != name.len() {
            return Some(&name[labels[n - 1]..]);
        }
        // An exception rule wins over everything: its suffix is the rule minus a label.
        if let Some(i) = (0..n).find(|&i| self.exception.contains(tail(i))) {
            return (i + 1 < n).then(|| &name[labels[i + 1]..]);
        }
        // Otherwise the matching rule with the most labels; the default rule has one.
        let mut best = n - 1;
        for i in 0..n {
            if self.exact.contains(tail(i)) {
                best = best.min(i);
            }
            if i > 0 && self.wildcard.contains(tail(i)) {
                best = best.min(i - 1);
            }
        }
        Some(&name[labels[best]..])
    }

    /// The registrable domain of `name`: its public suffix and one label more
    /// (`bbc.co.uk` for `www.bbc.co.uk`). `None` when `name` is itself a public suffix or
    /// not a valid name.
    pub fn registrable<'a>(&self, name: &'a [u8]) -> Option<&'a [u8]> {
        let trimmed = name.strip_suffix(b".").unwrap_or(name);
        let suffix = self.suffix(trimmed)?;
        let head = trimmed.get(..trimmed.len() - suffix.len())?;
        let head = head.strip_suffix(b".")?;
        let start = head.iter().rposition(|b| *b == b'.').map_or(0, |p| p + 1);
        Some(&trimmed[start..])
    }
}

/// Byte offsets where each label of `name` starts; `None` for an empty name or an empty
/// label (`a..b`, `.a`).
fn label_starts(name: &[u8]) -> Option<Vec<usize>> {
    if name.is_empty() {
        return None;
    }
    let mut starts = vec![0];
    for (i, b) in name.iter().enumerate() {
        if *b == b'.' {
            starts.push(i + 1);
        }
    }
    let ends = starts.iter().skip(1).map(|s| s - 1).chain([name.len()]);
    if starts.iter().zip(ends).any(|(s, e)| s >= &e) {
        return None;
    }
    Some(starts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SAMPLE: &[u8] = b"// a comment line\n\
        // ===BEGIN ICANN DOMAINS===\n\
        com\n\
        uk\n\
        co.uk\n\
        \n\
        *.ck\n\
        !www.ck\n\
        jp\n\
        *.kawasaki.jp\n\
        !city.kawasaki.jp\n\
        io  trailing words are ignored\n\
        // ===BEGIN PRIVATE DOMAINS===\n\
        github.io\n\
        a.*.bad\n";

    fn s<'a>(list: &PublicSuffixList, name: &'a str) -> Option<&'a str> {
        list.suffix(name.as_bytes())
            .map(|b| std::str::from_utf8(b).unwrap())
    }

    fn d<'a>(list: &PublicSuffixList, name: &'a str) -> Option<&'a str> {
        list.registrable(name.as_bytes())
            .map(|b| std::str::from_utf8(b).unwrap())
    }

    #[test]
    fn plain_wildcard_and_exception_rules_follow_the_list_algorithm() {
        let list = PublicSuffixList::parse(SAMPLE);
        assert_eq!(list.source(), SuffixSource::File);
        assert_eq!(list.skipped, 1, "the mid-name wildcard");
        assert_eq!(s(&list, "www.bbc.co.uk"), Some("co.uk"));
        assert_eq!(d(&list, "www.bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(d(&list, "suricata.io"), Some("suricata.io"));
        assert_eq!(s(&list, "suricata.io"), Some("io"));
        // Wildcards: every label under ck is a suffix, but www.ck is an exception.
        assert_eq!(s(&list, "a.b.ck"), Some("b.ck"));
        assert_eq!(d(&list, "a.b.ck"), Some("a.b.ck"));
        assert_eq!(s(&list, "www.ck"), Some("ck"));
        assert_eq!(d(&list, "www.ck"), Some("www.ck"));
        assert_eq!(s(&list, "x.city.kawasaki.jp"), Some("kawasaki.jp"));
        assert_eq!(s(&list, "x.town.kawasaki.jp"), Some("town.kawasaki.jp"));
        // The private section counts.
        assert_eq!(d(&list, "oisf.github.io"), Some("oisf.github.io"));
        // No rule: the last label. Case and a trailing dot do not matter.
        assert_eq!(s(&list, "host.example.zz"), Some("zz"));
        assert_eq!(d(&list, "WWW.Example.COM."), Some("Example.COM"));
    }

    #[test]
    fn names_that_are_suffixes_or_malformed_have_no_registrable_domain() {
        let list = PublicSuffixList::parse(SAMPLE);
        assert_eq!(d(&list, "co.uk"), None);
        assert_eq!(d(&list, "com"), None);
        assert_eq!(s(&list, "localhost"), Some("localhost"));
        for bad in ["", ".", "a..b", ".a", "a.b.."] {
            assert_eq!(s(&list, bad), None, "{bad:?}");
            assert_eq!(d(&list, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hostile_lists_and_names_do_not_panic() {
        let mut junk = Vec::new();
        for i in 0..2000u32 {
            junk.extend_from_slice(&i.to_le_bytes());
            junk.extend_from_slice(b"\n!*.\n*\n!\n\xff\xfe\n");
        }
        let list = PublicSuffixList::parse(&junk);
        for name in [
            &b"\xff.\xfe"[..],
            b"\xc3\xa9.com",
            b"*.ck",
            b"!www.ck",
            b"\n",
        ] {
            let _ = list.suffix(name);
            let _ = list.registrable(name);
        }
        let long = "a.".repeat(300) + "com";
        assert_eq!(d(&list, &long), Some("a.com"));
    }

    #[test]
    fn builtin_list_knows_common_multi_label_suffixes() {
        let list = PublicSuffixList::builtin();
        assert_eq!(list.source(), SuffixSource::Builtin);
        assert_eq!(d(&list, "news.bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(s(&list, "news.bbc.co.uk"), Some("co.uk"));
        assert_eq!(d(&list, "www.suricata.io"), Some("suricata.io"));
    }

    #[test]
    fn the_system_list_when_present() {
        let Ok(bytes) = std::fs::read("/usr/share/publicsuffix/public_suffix_list.dat") else {
            eprintln!("skip: no /usr/share/publicsuffix/public_suffix_list.dat");
            return;
        };
        let list = PublicSuffixList::parse(&bytes);
        assert!(list.len() > 5000, "{} rules", list.len());
        assert_eq!(d(&list, "www.bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(s(&list, "www.bbc.co.uk"), Some("co.uk"));
        assert_eq!(d(&list, "oisf.github.io"), Some("oisf.github.io"));
    }
}
