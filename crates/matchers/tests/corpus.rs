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
