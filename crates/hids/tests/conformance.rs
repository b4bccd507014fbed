//! Conformance against the rule tests that OSSEC and Wazuh ship with their rulesets.
//!
//! Each case in `corpus/hids/<dialect>/cases.jsonl` is one `log N pass|fail` entry of their
//! `.ini` tests: its lines go through one fresh session in order, and the last line's
//! decoder name, rule id and level are compared with the expectation, as their runners do
//! (OSSEC compares decoder names ignoring case; Wazuh exactly). The pass counts are printed,
//! and the test fails if one drops below the best figure that has landed.

use picket_event::Timestamp;
use picket_hids::{load_ruleset_with, ossec_stock_rule_files, Input, LoadOptions};
use std::path::PathBuf;

/// Best pass counts that have landed; raise them when the engine improves.
const OSSEC_BASELINE: usize = 255;
const OSSEC_ALL_FILES_BASELINE: usize = 251;
const WAZUH_BASELINE: usize = 1489;

fn corpus_root() -> Option<PathBuf> {
    let root = std::env::var_os("PICKET_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    if root.join("hids").is_dir() {
        return Some(root);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "peer corpus missing at {} (required when CI=true)",
            root.display()
        );
    }
    println!(
        "skip: peer corpus not found at {}; set PICKET_CORPUS to run conformance",
        root.display()
    );
    None
}

/// The runners of OSSEC and Wazuh use the wall clock, so their `<time>` and `<weekday>`
/// rules depend on when the suite runs. We pin the clock to a Wednesday at 12:00 UTC
/// (business hours, a weekday) so results are the same on every run.
fn test_clock() -> Timestamp {
    Timestamp::from_civil(2026, 11, 25, 12, 0, 0)
}

struct Case {
    file: String,
    section: String,
    expect_pass: bool,
    rule: String,
    level: String,
    decoder: String,
    lines: Vec<String>,
}

fn read_cases(path: &std::path::Path, percent_escapes: bool) -> Vec<Case> {
    let text = std::fs::read_to_string(path).expect("cases.jsonl readable");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("case is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            let lines = v["lines"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str())
                        .map(|l| {
                            if percent_escapes {
                                l.replace("%%", "%")
                            } else {
                                l.to_string()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            Case {
                file: s("file"),
                section: s("section"),
                expect_pass: s("expect") == "pass",
                rule: s("rule"),
                level: s("alert"),
                decoder: s("decoder"),
                lines,
            }
        })
        .collect()
}

/// Run the cases of one corpus; returns (passed, total, failure descriptions).
pub fn run(
    options: &LoadOptions,
    ruleset_root: PathBuf,
    cases_path: PathBuf,
    case_insensitive_decoder: bool,
    percent: bool,
) -> (usize, usize, Vec<String>) {
    let (ruleset, report) = load_ruleset_with(&[ruleset_root], options).expect("ruleset loads");
    println!("{}", report.describe().lines().next().unwrap_or(""));
    // Wazuh's runner skips its `*geoip*` test files (they need a GeoIP database), and so do we.
    let cases: Vec<Case> = read_cases(&cases_path, percent)
        .into_iter()
        .filter(|c| !c.file.contains("geoip"))
        .collect();
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let mut session = ruleset.session();
        let mut last = None;
        for line in case.lines.iter().filter(|l| !l.is_empty()) {
            last = Some(session.process(Input {
                line,
                location: "stdin",
                agent: "000",
                default_hostname: "picket",
                time: test_clock(),
            }));
        }
        let (rule, level, decoder) = match &last {
            Some(o) => (
                o.rule
                    .as_ref()
                    .map(|r| r.id.to_string())
                    .unwrap_or_default(),
                o.rule
                    .as_ref()
                    .map(|r| r.level.to_string())
                    .unwrap_or_default(),
                o.decoder.clone().unwrap_or_default(),
            ),
            None => Default::default(),
        };
        let decoder_ok = if case_insensitive_decoder {
            decoder.eq_ignore_ascii_case(&case.decoder)
        } else {
            decoder == case.decoder
        };
        let all = rule == case.rule && level == case.level && decoder_ok && !decoder.is_empty();
        let ok = if case.expect_pass {
            all
        } else {
            !all || case.rule.is_empty()
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "{} [{}] expect {} {}:{}:{} got {}:{}:{} | {}",
                case.file,
                case.section,
                if case.expect_pass { "pass" } else { "fail" },
                case.rule,
                case.level,
                case.decoder,
                rule,
                level,
                decoder,
                case.lines
                    .last()
                    .map(|l| l.chars().take(160).collect::<String>())
                    .unwrap_or_default()
            ));
        }
    }
    (passed, cases.len(), failures)
}

fn report(name: &str, passed: usize, total: usize, failures: &[String], baseline: usize) {
    println!(
        "{name}: {passed} passed, {} failed of {total} cases",
        total - passed
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-failures.txt"));
    let _ = std::fs::write(&out, failures.join("\n"));
    for f in failures.iter().take(15) {
        println!("  FAIL {f}");
    }
    println!("  (all failures in {})", out.display());
    assert!(
        passed >= baseline,
        "{name}: {passed} passed, below the landed baseline of {baseline}"
    );
}

/// Why picket fails the cases it fails, one line each. OSSEC 4.x fails the same six.
const OSSEC_KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "Windows local interactive logon success - type 2",
        "agent-forwarded Windows line ('(host) ip->WinEvtLog'): needs the manager's agent header parsing, not logtest's",
    ),
    (
        "Snort alert fast format.",
        "first-time-seen rule 20100 fires on a fresh session, as in OSSEC (whose runner fails it too)",
    ),
    (
        "Snort drop fast format.",
        "first-time-seen rule 20100 fires on a fresh session, as in OSSEC (whose runner fails it too)",
    ),
    (
        "Blacklisted user agent (known malicious user agent).",
        "rule order: 31101 (level 5, 4xx) sorts before 31508, as in OSSEC (whose runner fails it too)",
    ),
    (
        "POST request received.",
        "rule order: 31101 (level 5, 4xx) sorts before 31530, as in OSSEC (whose runner fails it too)",
    ),
];

fn explain(failures: &[String], known: &[(&str, &str)]) {
    for failure in failures {
        let reason = known
            .iter()
            .find(|(section, _)| failure.contains(&format!("[{section}]")))
            .map_or("not yet explained", |(_, why)| why);
        println!(
            "  reason: {} -> {reason}",
            failure.split(" expect").next().unwrap_or(failure)
        );
    }
}

/// OSSEC's cases, with the rule files OSSEC's stock `ossec.conf` includes: the ruleset as
/// OSSEC's own runner loads it.
#[test]
fn ossec_rule_tests() {
    let Some(root) = corpus_root() else { return };
    let options = LoadOptions {
        rule_files: Some(ossec_stock_rule_files()),
    };
    let (passed, total, failures) = run(
        &options,
        root.join("hids/ossec"),
        root.join("hids/ossec/cases.jsonl"),
        true,
        true,
    );
    explain(&failures, OSSEC_KNOWN_FAILURES);
    report("ossec", passed, total, &failures, OSSEC_BASELINE);
}

/// The same cases with every rule file of the corpus loaded, including those the stock
/// configuration leaves out. The doas cases expect no alert because OSSEC never loads
/// `openbsd_rules.xml`; loading it, picket raises the doas alerts those cases rule out.
#[test]
fn ossec_rule_tests_all_files() {
    let Some(root) = corpus_root() else { return };
    let (passed, total, failures) = run(
        &LoadOptions::default(),
        root.join("hids/ossec"),
        root.join("hids/ossec/cases.jsonl"),
        true,
        true,
    );
    report(
        "ossec-all-files",
        passed,
        total,
        &failures,
        OSSEC_ALL_FILES_BASELINE,
    );
}

#[test]
fn wazuh_rule_tests() {
    let Some(root) = corpus_root() else { return };
    let (passed, total, failures) = run(
        &LoadOptions::default(),
        root.join("hids/wazuh/as-tested"),
        root.join("hids/wazuh/cases.jsonl"),
        false,
        false,
    );
    report("wazuh", passed, total, &failures, WAZUH_BASELINE);
}

/// Picket's own ruleset and its own cases (in the repository, so they always run). Every
/// case must pass.
#[test]
fn picket_default_ruleset_cases() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let (passed, total, failures) = run(
        &LoadOptions::default(),
        root.clone(),
        root.join("tests/cases.jsonl"),
        false,
        false,
    );
    report("picket", passed, total, &failures, total);
    assert!(
        total >= 80,
        "picket's ruleset should ship at least 80 cases, found {total}"
    );
}
