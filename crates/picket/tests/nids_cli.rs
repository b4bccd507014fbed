//! `picket sensor --rules` as a user runs it: a capture from the shared corpus, a rule file
//! of our own, and the alert in the EVE output with its flow envelope.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(relative: &str) -> Option<PathBuf> {
    let root = match std::env::var_os("PICKET_CORPUS") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let path = root.join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus missing under CI: {}", path.display());
    }
    println!("skip: {} not found", path.display());
    None
}

#[test]
fn sensor_with_rules_writes_alerts_with_the_flow_envelope() {
    let Some(pcap) = corpus("nids/suricata-verify/tests/flowbit-oring/input.pcap") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("picket-nids-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rules = dir.join("local.rules");
    std::fs::write(
        &rules,
        "alert http $EXTERNAL_NET any -> $HOME_NET any (msg:\"picket test root\"; flow:established,to_client; \
         content:\"uid=0|28|root|29|\"; classtype:bad-unknown; sid:9000001; rev:3;)\n\
         alert http any any -> any any (msg:\"picket test uri\"; http.method; content:\"GET\"; \
         http.host; content:\"testmyids\"; sid:9000002;)\n\
         alert tcp any any -> any any (msg:\"never\"; content:\"no such bytes\"; sid:9000003;)\n",
    )
    .expect("rules written");
    let classification = dir.join("classification.config");
    std::fs::write(
        &classification,
        "config classification: bad-unknown,Potentially Bad Traffic,2\n",
    )
    .expect("classification written");
    let eve = dir.join("eve.json");
    let output = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["sensor", "--strict-eve", "--read"])
        .arg(&pcap)
        .arg("--rules")
        .arg(&rules)
        .arg("--classification")
        .arg(&classification)
        .args(["--var", "HOME_NET=[10.0.0.0/8]"])
        .arg("--eve")
        .arg(&eve)
        .output()
        .expect("picket runs");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("3 in the engine"), "{stderr}");
    let text = std::fs::read_to_string(&eve).expect("EVE written");
    let _ = std::fs::remove_dir_all(&dir);
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|e: &serde_json::Value| e["event_type"] == "alert")
        .collect();
    let sids: Vec<u64> = alerts
        .iter()
        .map(|a| a["alert"]["signature_id"].as_u64().expect("sid"))
        .collect();
    assert_eq!(sids.len(), 2, "{alerts:?}");
    assert!(
        sids.contains(&9000001) && sids.contains(&9000002),
        "{sids:?}"
    );
    let root = alerts
        .iter()
        .find(|a| a["alert"]["signature_id"] == 9000001)
        .expect("root alert");
    assert_eq!(root["alert"]["signature"], "picket test root");
    assert_eq!(root["alert"]["category"], "Potentially Bad Traffic");
    assert_eq!(root["alert"]["severity"], 2);
    assert_eq!(root["alert"]["rev"], 3);
    assert_eq!(root["alert"]["action"], "allowed");
    assert_eq!(root["proto"], "TCP");
    assert_eq!(root["src_port"], 80);
    assert_eq!(root["app_proto"], "http");
    assert!(root["flow_id"].is_u64());
    assert!(root["community_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("1:")));
    assert!(root.get("picket").is_none(), "strict EVE");
    let uri = alerts
        .iter()
        .find(|a| a["alert"]["signature_id"] == 9000002)
        .expect("uri alert");
    assert_eq!(uri["http"]["hostname"], "www.testmyids.com");
}
