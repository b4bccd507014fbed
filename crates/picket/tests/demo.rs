//! `picket demo` is the first command a newcomer runs: it must work from a fresh clone with
//! the embedded scenario and ruleset, send it through the real pipeline (agent, transport,
//! manager, rules, store), and show the alerts of the whole story.

use std::process::Command;

#[test]
fn demo_shows_alerts_from_the_embedded_sample() {
    let output = Command::new(env!("CARGO_BIN_EXE_picket"))
        .arg("demo")
        .output()
        .expect("picket runs");
    assert!(
        output.status.success(),
        "picket demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains("alerts from"))
        .expect("a summary line");
    let alerts: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(
        alerts >= 20,
        "expected the bundled story to raise alerts, got: {summary}"
    );
    // Brute force, sudo to a root shell, rc.local changed (real FIM), a Qubes policy denial,
    // the honeytoken read and the agent going silent.
    for rule in ["100111", "100202", "101501", "101121", "990010", "990004"] {
        assert!(
            text.contains(rule),
            "rule {rule} missing from the demo output"
        );
    }
}

#[test]
fn demo_eve_lines_are_alert_records() {
    let output = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["demo", "--eve"])
        .output()
        .expect("picket runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let mut count = 0;
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("EVE JSON line");
        assert_eq!(value["event_type"], "alert");
        assert!(value["alert"]["signature_id"].as_u64().is_some());
        count += 1;
    }
    assert!(count >= 20, "only {count} EVE alerts");
    assert!(
        text.contains("\"signature_id\":990004"),
        "no silent-agent alert"
    );
}
