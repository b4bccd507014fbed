//! Compiles every pattern in the shared OSSEC and Wazuh rule/decoder corpora.
//!
//! The XML is read with a few regexes rather than a parser: this only needs the text of
//! pattern elements and their `type=` attribute, and the hids engine owns real XML loading.

use picket_matchers::{Dialect, Pattern};
use regex::Regex;
use std::path::{Path, PathBuf};

/// Elements whose text is a pattern, with the dialect Wazuh uses when `type=` is absent.
const PATTERN_ELEMENTS: &[(&str, Dialect)] = &[
    ("regex", Dialect::OsRegex),
    ("prematch", Dialect::OsRegex),
    ("field", Dialect::OsRegex),
    ("match", Dialect::OsMatch),
    ("program_name", Dialect::OsMatch),
    ("hostname", Dialect::OsMatch),
    ("url", Dialect::OsMatch),
    ("user", Dialect::OsMatch),
    ("id", Dialect::OsMatch),
    ("status", Dialect::OsMatch),
    ("extra_data", Dialect::OsMatch),
    ("location", Dialect::OsMatch),
    ("system_name", Dialect::OsMatch),
    ("protocol", Dialect::OsMatch),
    ("srcport", Dialect::OsMatch),
    ("dstport", Dialect::OsMatch),
    ("data", Dialect::OsMatch),
    ("srcgeoip", Dialect::OsMatch),
    ("dstgeoip", Dialect::OsMatch),
    ("action", Dialect::Exact),
    // OSSEC's PCRE2 elements; they take no `type=`.
    ("pcre2", Dialect::OssecPcre2),
    ("prematch_pcre2", Dialect::OssecPcre2),
    ("match_pcre2", Dialect::OssecPcre2),
    ("program_name_pcre2", Dialect::OssecPcre2),
    ("id_pcre2", Dialect::OssecPcre2),
    ("status_pcre2", Dialect::OssecPcre2),
    ("url_pcre2", Dialect::OssecPcre2),
    ("user_pcre2", Dialect::OssecPcre2),
    ("hostname_pcre2", Dialect::OssecPcre2),
    ("extra_data_pcre2", Dialect::OssecPcre2),
    ("srcport_pcre2", Dialect::OssecPcre2),
    ("dstport_pcre2", Dialect::OssecPcre2),
    ("srcgeoip_pcre2", Dialect::OssecPcre2),
    ("dstgeoip_pcre2", Dialect::OssecPcre2),
];

/// The hids corpus: under `PICKET_CORPUS`, else `../shared/corpus` beside the repository.
fn corpus_root() -> Option<PathBuf> {
    let corpus = std::env::var_os("PICKET_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let root = corpus.join("hids");
    if root.join("ossec").is_dir() && root.join("wazuh/as-tested").is_dir() {
        return Some(root);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("corpus missing at {} and CI=true", root.display());
    }
    println!("skip: corpus missing at {}", root.display());
    None
}

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            xml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "xml") {
            out.push(p);
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

struct Extracted {
    file: String,
    element: &'static str,
    dialect: Dialect,
    pattern: String,
}

fn extract(root: &Path) -> Vec<Extracted> {
    let comment = Regex::new(r"(?s)<!--.*?-->").expect("static regex");
    let type_attr =
        Regex::new(r#"(?:^|[ \t\r\n])type[ \t]*=[ \t]*["']([^"']*)["']"#).expect("static regex");
    let elements: Vec<(&str, Dialect, Regex)> = PATTERN_ELEMENTS
        .iter()
        .map(|&(name, d)| {
            let re = Regex::new(&format!(
                r"(?s)<{name}([ \t\r\n][^>]*)?>(.*?)</{name}[ \t\r\n]*>"
            ))
            .expect("element regex");
            (name, d, re)
        })
        .collect();
    let mut files = Vec::new();
    for sub in [
        "ossec/rules",
        "ossec/etc",
        "wazuh/as-tested/rules",
        "wazuh/as-tested/decoders",
    ] {
        xml_files(&root.join(sub), &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let Ok(raw) = std::fs::read_to_string(&f) else {
            continue;
        };
        let text = comment.replace_all(&raw, "");
        for (name, default, re) in &elements {
            for c in re.captures_iter(&text) {
                let attrs = c.get(1).map_or("", |m| m.as_str());
                let typed = (*default != Dialect::OssecPcre2)
                    .then(|| type_attr.captures(attrs))
                    .flatten();
                // An unknown `type=` makes Wazuh warn and keep the default.
                let dialect = typed
                    .and_then(|t| Dialect::from_wazuh_type(&t[1]))
                    .unwrap_or(*default);
                out.push(Extracted {
                    file: f.strip_prefix(root).unwrap_or(&f).display().to_string(),
                    element: name,
                    dialect,
                    pattern: unescape(&c[2]),
                });
            }
        }
    }
    out
}

#[test]
fn every_corpus_pattern_compiles() {
    let Some(root) = corpus_root() else {
        return;
    };
    let patterns = extract(&root);
    assert!(
        patterns.len() > 1000,
        "extraction found only {}",
        patterns.len()
    );
    let mut failures = Vec::new();
    let mut by_dialect = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    let mut time_by_dialect = std::collections::BTreeMap::<&str, std::time::Duration>::new();
    let mut on_pcre2_engine = 0;
    let mut with_literals = 0;
    for p in &patterns {
        let entry = by_dialect.entry(p.dialect.wazuh_name()).or_default();
        entry.1 += 1;
        let started = std::time::Instant::now();
        let result = Pattern::compile(p.dialect, &p.pattern);
        *time_by_dialect.entry(p.dialect.wazuh_name()).or_default() += started.elapsed();
        match result {
            Ok(c) => {
                entry.0 += 1;
                on_pcre2_engine += usize::from(c.uses_pcre2_engine());
                with_literals += usize::from(c.required_literals().is_some());
            }
            Err(e) => failures.push(format!(
                "{} <{}> {}: {:?}: {e}",
                p.file, p.element, p.dialect, p.pattern
            )),
        }
    }
    let compiled = patterns.len() - failures.len();
    println!("compiled {compiled} of {} corpus patterns", patterns.len());
    for (d, (ok, all)) in &by_dialect {
        let took = time_by_dialect.get(d).copied().unwrap_or_default();
        println!("  {d}: {ok}/{all} in {took:?}");
    }
    println!("  pcre2 patterns needing the PCRE2 engine: {on_pcre2_engine}");
    println!("  patterns with a required-literal set: {with_literals}");
    for f in &failures {
        println!("FAILED {f}");
    }
    assert!(
        failures.is_empty(),
        "{} patterns failed to compile",
        failures.len()
    );
}

/// Log lines of the corpus rule tests, whole and from after the first `": "` (where a
/// decoder's patterns usually start), to hold pattern engines to PCRE2's answers.
fn corpus_log_texts(root: &Path) -> Vec<String> {
    let line_list = Regex::new(r#""lines": \[(.*)\]"#).expect("static regex");
    let item = Regex::new(r#""((?:[^"\\]|\\.)*)""#).expect("static regex");
    let mut out = Vec::new();
    for file in ["ossec/cases.jsonl", "wazuh/cases.jsonl"] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for case in text.lines() {
            let Some(list) = line_list.captures(case) else {
                continue;
            };
            for quoted in item.captures_iter(&list[1]) {
                let line = quoted[1].replace("\\\"", "\"").replace("\\\\", "\\");
                if let Some(at) = line.find(": ") {
                    out.push(line[at + 2..].to_string());
                }
                out.push(line);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn simple_engine_agrees_with_pcre2_on_corpus_logs() {
    let Some(root) = corpus_root() else {
        return;
    };
    let texts = corpus_log_texts(&root);
    assert!(texts.len() > 1000, "found only {} log texts", texts.len());
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for p in extract(&root) {
        if !matches!(p.dialect, Dialect::Pcre2 | Dialect::OssecPcre2) {
            continue;
        }
        let Ok(pattern) = Pattern::compile(p.dialect, &p.pattern) else {
            continue;
        };
        if !pattern.uses_simple_engine() {
            continue;
        }
        let reference = pcre2::bytes::RegexBuilder::new()
            .utf(false)
            .caseless(p.dialect == Dialect::OssecPcre2)
            .jit_if_available(true)
            .build(&p.pattern)
            .expect("PCRE2 compiles what the simple engine accepts");
        checked += 1;
        for text in &texts {
            let ours = pattern.captures(text);
            let theirs = reference.captures(text.as_bytes()).ok().flatten();
            let ours_span = ours.as_ref().map(|c| (c.match_start, c.match_end));
            let theirs_span = theirs
                .as_ref()
                .and_then(|c| c.get(0))
                .map(|m| (m.start(), m.end()));
            let group_texts = |c: &pcre2::bytes::Captures<'_>| -> Vec<String> {
                (1..c.len())
                    .filter_map(|i| c.get(i))
                    .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                    .collect()
            };
            let same_groups = match (&ours, &theirs) {
                (Some(o), Some(t)) => {
                    let ours: Vec<String> = o
                        .groups
                        .iter()
                        .filter(|g| !g.is_empty())
                        .map(|g| g.to_string())
                        .collect();
                    let theirs: Vec<String> = group_texts(t)
                        .into_iter()
                        .filter(|g| !g.is_empty())
                        .collect();
                    ours == theirs
                }
                _ => true,
            };
            if ours_span != theirs_span || !same_groups {
                disagreements.push(format!(
                    "{} {:?} on {text:?}: ours {ours_span:?}, PCRE2 {theirs_span:?}",
                    p.file, p.pattern
                ));
            }
        }
    }
    println!(
        "{checked} simple patterns checked against PCRE2 on {} texts",
        texts.len()
    );
    for d in disagreements.iter().take(20) {
        println!("DISAGREE {d}");
    }
    assert!(
        checked > 100,
        "only {checked} patterns run on the simple engine"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements",
        disagreements.len()
    );
}
