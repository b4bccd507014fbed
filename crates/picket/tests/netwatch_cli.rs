//! `picket sensor --netwatch` as a user runs it: a real capture, a blocklist file, EVE alerts
//! out; the same run twice gives the same alerts; state saved and restored; and the demo
//! capture raises every analytics alert kind.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn capture(name: &str) -> Option<PathBuf> {
    let root = match std::env::var_os("PICKET_CORPUS") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let path = root.join("nids/pcaps/chrissanders-packets").join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus missing under CI: {}", path.display());
    }
    println!("skip: capture {} not found", path.display());
    None
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("picket-netwatch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn picket(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(args)
        .output()
        .expect("picket runs")
}

/// Run the sensor and return the netwatch alerts it wrote.
fn sensor(read: &Path, extra: &[&std::ffi::OsStr], eve: &Path) -> Vec<Value> {
    let mut args: Vec<&std::ffi::OsStr> = vec!["sensor".as_ref(), "--read".as_ref(), read.as_ref()];
    args.extend_from_slice(extra);
    args.push("--eve".as_ref());
    args.push(eve.as_ref());
    let out = picket(&args);
    assert!(
        out.status.success(),
        "picket sensor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(eve)
        .expect("EVE written")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
        .filter(|e| e["event_type"] == "alert" && e["picket"]["engine"] == "netwatch")
        .collect()
}

#[test]
fn blocklisted_address_and_host_name_in_a_real_capture_alert() {
    let Some(pcap) = capture("cryptowall4_c2.pcapng") else {
        return;
    };
    let dir = temp_dir("block");
    // The capture's C2 server, by address (CIDR) and, separately, by the HTTP Host it was
    // reached under (hosts-file format).
    std::fs::write(dir.join("by-ip.txt"), "# c2\n184.170.149.0/24\n").unwrap();
    std::fs::write(
        dir.join("by-name.hosts"),
        "127.0.0.1 localhost\n0.0.0.0 homealldaylong.com\n",
    )
    .unwrap();
    let config = dir.join("netwatch.toml");
    std::fs::write(
        &config,
        "[[policy]]\nname = \"ip\"\nblock = [\"by-ip.txt\"]\n[[policy]]\nname = \"names\"\nblock = [\"by-name.hosts\"]\n",
    )
    .unwrap();
    let alerts = sensor(
        &pcap,
        &["--netwatch".as_ref(), config.as_ref()],
        &dir.join("eve.json"),
    );
    let block: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9_100_001)
        .collect();
    assert_eq!(block.len(), 2, "{alerts:#?}");
    let by_ip = block
        .iter()
        .find(|a| a["picket"]["netwatch"]["policy"] == "ip")
        .unwrap();
    assert_eq!(by_ip["dest_ip"], "184.170.149.44");
    assert_eq!(by_ip["picket"]["netwatch"]["list"], "by-ip.txt");
    assert_eq!(by_ip["picket"]["netwatch"]["line"], 2);
    assert_eq!(by_ip["picket"]["netwatch"]["entry"], "184.170.149.0/24");
    assert_eq!(by_ip["alert"]["category"], "Potentially Bad Traffic");
    let by_name = block
        .iter()
        .find(|a| a["picket"]["netwatch"]["policy"] == "names")
        .unwrap();
    assert_eq!(by_name["picket"]["netwatch"]["entry"], "homealldaylong.com");
    assert_eq!(
        by_name["picket"]["netwatch"]["dest_name"],
        "homealldaylong.com"
    );
    let text = by_name["alert"]["signature"].as_str().unwrap();
    assert!(text.contains("by-name.hosts line 2"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_list_line_and_unknown_key_stop_the_sensor_with_their_place() {
    let Some(pcap) = capture("tcp_handshake.pcapng") else {
        return;
    };
    let dir = temp_dir("bad");
    std::fs::write(dir.join("l.txt"), "10.0.0.1\n10.0.0.0/99\n").unwrap();
    let config = dir.join("netwatch.toml");
    std::fs::write(&config, "[[policy]]\nblock = [\"l.txt\"]\n").unwrap();
    let run = |config: &Path| {
        picket(&[
            "sensor".as_ref(),
            "--read".as_ref(),
            pcap.as_ref(),
            "--netwatch".as_ref(),
            config.as_ref(),
            "--eve".as_ref(),
            dir.join("eve.json").as_ref(),
        ])
    };
    let out = run(&config);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("l.txt:2"), "{err}");
    std::fs::write(&config, "[scan]\nport_threshold = 5\n").unwrap();
    let out = run(&config);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("port_threshold") && err.contains("netwatch.toml"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo capture, written by `picket bench flows --demo-pcap`.
fn demo_pcap(dir: &Path) -> PathBuf {
    let pcap = dir.join("demo.pcap");
    let out = picket(&[
        "bench".as_ref(),
        "flows".as_ref(),
        "--demo-pcap".as_ref(),
        pcap.as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pcap
}

fn demo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/netwatch/demo.toml")
}

#[test]
fn demo_capture_raises_every_alert_kind_and_replays_identically() {
    let dir = temp_dir("demo");
    let pcap = demo_pcap(&dir);
    let config = demo_config();
    let first = sensor(
        &pcap,
        &["--netwatch".as_ref(), config.as_ref()],
        &dir.join("a.json"),
    );
    let mut sids: Vec<u64> = first
        .iter()
        .map(|a| a["alert"]["signature_id"].as_u64().unwrap())
        .collect();
    sids.sort_unstable();
    assert_eq!(
        sids,
        (9_100_001..=9_100_012).collect::<Vec<u64>>(),
        "{first:#?}"
    );
    for a in &first {
        assert!(a["picket"]["netwatch"]["kind"].is_string(), "{a}");
        let text = a["alert"]["signature"].as_str().unwrap();
        assert!(text.chars().any(|c| c.is_ascii_digit()), "{text}");
    }
    let second = sensor(
        &pcap,
        &["--netwatch".as_ref(), config.as_ref()],
        &dir.join("b.json"),
    );
    assert_eq!(first, second, "the same capture must give the same alerts");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn state_file_carries_baselines_and_dedup_across_runs() {
    let dir = temp_dir("state");
    let pcap = demo_pcap(&dir);
    let config = demo_config();
    let state = dir.join("state.json");
    let args: [&std::ffi::OsStr; 4] = [
        "--netwatch".as_ref(),
        config.as_ref(),
        "--netwatch-state".as_ref(),
        state.as_ref(),
    ];
    let first = sensor(&pcap, &args, &dir.join("a.json"));
    assert_eq!(first.len(), 12);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert!(saved["baselines"]["10.137.0.10"]["flows"].as_u64().unwrap() > 20);
    // The second pass over the same hours finds every alert already raised within the hour.
    let second = sensor(&pcap, &args, &dir.join("b.json"));
    assert!(second.is_empty(), "{second:#?}");
    // Without a configuration, defaults run (and the state flag needs --netwatch).
    let out = picket(&[
        "sensor".as_ref(),
        "--read".as_ref(),
        pcap.as_ref(),
        "--netwatch".as_ref(),
        "default".as_ref(),
        "--eve".as_ref(),
        dir.join("c.json").as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
