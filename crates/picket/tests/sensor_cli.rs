//! `picket sensor` as a user runs it: read a capture, write EVE lines, and in strict mode
//! leave out picket's own object.

use std::path::{Path, PathBuf};
use std::process::Command;

fn capture(name: &str) -> Option<PathBuf> {
    let root = match std::env::var_os("PICKET_CORPUS") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let path = root.join("nids/pcaps/ndpi").join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus missing under CI: {}", path.display());
    }
    println!("skip: capture {} not found", path.display());
    None
}

fn run(args: &[&str]) -> Vec<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!("picket-sensor-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let eve = dir.join(format!("eve-{}.json", args.len()));
    let status = Command::new(env!("CARGO_BIN_EXE_picket"))
        .arg("sensor")
        .args(args)
        .arg("--eve")
        .arg(&eve)
        .status()
        .expect("picket runs");
    assert!(status.success(), "picket sensor {args:?} failed: {status}");
    let text = std::fs::read_to_string(&eve).expect("EVE written");
    let _ = std::fs::remove_dir_all(&dir);
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn sensor_writes_flow_dns_and_stats_records() {
    let Some(pcap) = capture("dns.pcap") else {
        return;
    };
    let pcap = pcap.to_string_lossy().into_owned();
    let events = run(&["--read", &pcap]);
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(kinds.contains(&"flow"), "{kinds:?}");
    assert!(kinds.contains(&"dns"), "{kinds:?}");
    assert_eq!(
        kinds.last(),
        Some(&"stats"),
        "the final record is the stats summary"
    );
    let flow = events
        .iter()
        .find(|e| e["event_type"] == "flow")
        .expect("a flow");
    assert!(flow["community_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("1:")));
    assert!(flow["picket"]["conn_state"].is_string());

    let strict = run(&["--read", &pcap, "--strict-eve"]);
    assert_eq!(strict.len(), events.len());
    assert!(strict.iter().all(|e| e.get("picket").is_none()));
}
