//! suricata-verify through `picket verify`: print the pass / fail / not-applicable table by
//! category, and fail when any category's pass count drops below the committed baseline
//! (`tests/baselines/suricata-verify.json`: the best that has landed; raise it as the engine
//! improves with `picket verify --write-baseline tests/baselines/suricata-verify.json`).
//!
//! The table goes to this process's standard error through the child's inherited handle,
//! which cargo's output capture does not swallow, so it shows in every CI log.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn corpus() -> Option<PathBuf> {
    let root = match std::env::var_os("PICKET_CORPUS") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let dir = root.join("nids/suricata-verify");
    if dir.join("tests").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("suricata-verify corpus missing under CI: {}", dir.display());
    }
    println!(
        "skip: suricata-verify corpus not found at {}",
        dir.display()
    );
    None
}

#[test]
fn suricata_verify_pass_counts_hold_the_baseline() {
    let Some(dir) = corpus() else {
        return;
    };
    let baseline =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/baselines/suricata-verify.json");
    assert!(
        baseline.is_file(),
        "baseline missing: {}",
        baseline.display()
    );
    let status = Command::new(env!("CARGO_BIN_EXE_picket"))
        .arg("verify")
        .arg("--tests")
        .arg(&dir)
        .arg("--baseline")
        .arg(&baseline)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .expect("picket verify runs");
    assert!(
        status.success(),
        "suricata-verify pass counts fell below {} (REGRESSION lines above; \
         `picket verify -v` lists every failing test with its reason): {status}",
        baseline.display()
    );
}
