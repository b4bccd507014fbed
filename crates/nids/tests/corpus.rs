//! Loads the shared corpus: ET Open (loaded share must not fall below what has been reached)
//! and every `*.rules` file of suricata-verify (no panic). Parse → render → parse must give
//! back the same rule for everything that loads.

use std::path::{Path, PathBuf};
use std::time::Instant;

use picket_nids::{Classifications, LoadOptions, Ruleset};

/// The loaded share reached on ET Open 2024-04-21 (all 24,827 enabled rules, as Suricata);
/// the test fails below it.
const ET_OPEN_MIN_LOADED_PERCENT: f64 = 100.0;

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("PICKET_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus not found at {} (CI=true)", dir.display());
    }
    println!("skip: corpus not found at {}", dir.display());
    None
}

fn rules_files(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                rules_files(&p, true, out);
            }
        } else if p.extension().is_some_and(|x| x == "rules") {
            out.push(p);
        }
    }
}

fn round_trip(set: &Ruleset) -> usize {
    let mut failures = 0;
    for lr in &set.rules {
        let text = lr.rule.to_string();
        match picket_nids::parse_line(&text) {
            Ok(again) if again == *lr.rule => {}
            Ok(_) => {
                failures += 1;
                if failures <= 5 {
                    eprintln!(
                        "round trip changed {}:{}\n  {text}",
                        set.sources[lr.source], lr.line
                    );
                }
            }
            Err(e) => {
                failures += 1;
                if failures <= 5 {
                    eprintln!(
                        "round trip failed {}:{}: {e}\n  {text}",
                        set.sources[lr.source], lr.line
                    );
                }
            }
        }
    }
    failures
}

#[test]
fn et_open_loads_at_least_the_reached_share() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("nids/rules/et-open-2024-04-21");
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "missing {}",
            dir.display()
        );
        println!("skip: {} missing", dir.display());
        return;
    }
    let class = std::fs::read_to_string(dir.join("classification.config"))
        .ok()
        .map(|t| Classifications::parse(&t).0);
    let mut files = Vec::new();
    rules_files(&dir, false, &mut files);
    let started = Instant::now();
    let mut set = Ruleset::new(LoadOptions {
        classifications: class,
        ..LoadOptions::default()
    });
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read rules");
        set.add_source(&f.display().to_string(), &text);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "et-open: {} loaded, {} skipped, {} disabled, {:.2} % loaded, {secs:.3} s",
        set.rules.len(),
        set.skipped.len(),
        set.disabled,
        set.loaded_percent()
    );
    for (k, n) in set.skips_by_keyword().iter().take(15) {
        println!("  {n:>6} {k}");
    }
    assert!(
        set.loaded_percent() >= ET_OPEN_MIN_LOADED_PERCENT,
        "loaded {:.2} % < {ET_OPEN_MIN_LOADED_PERCENT} %",
        set.loaded_percent()
    );
    assert_eq!(
        set.rules.len() + set.skipped.len(),
        24_827,
        "enabled rule count of ET Open changed"
    );
    // The target is 2 s (Suricata: about 11 s); optimised builds take 0.2-0.5 s here.
    if !cfg!(debug_assertions) {
        assert!(
            secs <= 2.0,
            "loading ET Open took {secs:.3} s, over the 2 s target"
        );
    }
    assert_eq!(round_trip(&set), 0, "parse(render(rule)) != rule");

    let started = Instant::now();
    let prefilter = picket_nids::prefilter::Prefilter::build(&set.rules).expect("prefilter builds");
    let s = prefilter.stats();
    println!(
        "et-open prefilter: {} groups, {} automata, {} rules with a fast pattern, {} without, built in {:.3} s",
        s.groups,
        s.automata,
        s.with_fast_pattern,
        s.without_fast_pattern,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        s.with_fast_pattern + s.without_fast_pattern,
        set.rules.len()
    );
    assert!(
        s.with_fast_pattern * 100 >= set.rules.len() * 95,
        "most ET Open rules have a fast pattern"
    );
}

#[test]
fn every_suricata_verify_rules_file_loads_without_panic() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("nids/suricata-verify/tests");
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "missing {}",
            dir.display()
        );
        println!("skip: {} missing", dir.display());
        return;
    }
    let mut files = Vec::new();
    rules_files(&dir, true, &mut files);
    let mut set = Ruleset::new(LoadOptions::default());
    for f in &files {
        let bytes = std::fs::read(f).expect("read rules");
        // each test is its own ruleset in suricata-verify: sids repeat across tests
        let mut one = Ruleset::new(LoadOptions::default());
        one.add_source(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
        set.disabled += one.disabled;
        set.sources.append(&mut one.sources);
        let base = set.sources.len() - 1;
        set.rules.extend(one.rules.into_iter().map(|mut r| {
            r.source = base;
            r
        }));
        set.skipped.extend(one.skipped.into_iter().map(|mut s| {
            s.source = base;
            s
        }));
    }
    println!(
        "suricata-verify: {} files, {} loaded, {} skipped, {} disabled ({:.2} %)",
        files.len(),
        set.rules.len(),
        set.skipped.len(),
        set.disabled,
        set.loaded_percent()
    );
    for (k, n) in set.skips_by_keyword().iter().take(20) {
        println!("  {n:>6} {k}");
    }
    assert!(files.len() > 100, "expected hundreds of rules files");
    assert_eq!(round_trip(&set), 0, "parse(render(rule)) != rule");
}
