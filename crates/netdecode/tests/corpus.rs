//! The shared capture corpus through the whole sensor pipeline, in process.
//!
//! * every capture runs without a panic (each file gets its own sensor, so a failure names
//!   the file), and every EVE record written in strict mode validates against Suricata
//!   8.0.6's EVE schema;
//! * on the SYN-flood captures the flow table never holds more than its cap.
//!
//! Corpus paths default to `../shared/corpus` beside the repository; `PICKET_CORPUS`
//! overrides the corpus root. A missing corpus fails under `CI=true` and is skipped
//! otherwise.

use picket_capture::{CaptureFile, PacketSource};
use picket_event::EveMode;
use picket_netdecode::flow::FlowConfig;
use picket_netdecode::{Sensor, SensorConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_root() -> PathBuf {
    match std::env::var_os("PICKET_CORPUS") {
        Some(root) => PathBuf::from(root),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// The directory, or `None` after printing why the test is skipped.
fn corpus_dir(relative: &str) -> Option<PathBuf> {
    let dir = corpus_root().join(relative);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus missing under CI: {}", dir.display());
    }
    println!("skip: corpus directory {} not found", dir.display());
    None
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[derive(Default)]
struct Run {
    files: usize,
    unreadable: usize,
    packets: u64,
    events: BTreeMap<String, u64>,
    invalid: Vec<String>,
}

/// Run one file through a fresh sensor; validate each event if a validator is given.
fn run_file(
    path: &Path,
    config: &SensorConfig,
    validator: Option<&jsonschema::Validator>,
    run: &mut Run,
) {
    let mut file = match CaptureFile::open(path) {
        Ok(file) => file,
        Err(_) => {
            run.unreadable += 1;
            return;
        }
    };
    run.files += 1;
    let mut sensor = Sensor::new(config.clone());
    let mut events = Vec::new();
    let check = |events: &mut Vec<picket_event::Event>, run: &mut Run| {
        for event in events.drain(..) {
            *run.events.entry(event.event_type.clone()).or_default() += 1;
            if let Some(validator) = validator {
                let mut line = Vec::new();
                event
                    .write_eve(EveMode::Strict, &mut line)
                    .expect("in-memory write");
                let value: serde_json::Value = serde_json::from_slice(&line).expect("EVE is JSON");
                if !validator.is_valid(&value) && run.invalid.len() < 20 {
                    let why: Vec<String> = validator
                        .iter_errors(&value)
                        .map(|e| e.to_string())
                        .take(3)
                        .collect();
                    run.invalid.push(format!(
                        "{}: {} ({})",
                        path.display(),
                        String::from_utf8_lossy(&line),
                        why.join("; ")
                    ));
                }
            }
        }
    };
    loop {
        match file.next_packet() {
            Ok(Some(p)) => {
                run.packets += 1;
                sensor.process(p.link_type, p.ts, p.data, p.orig_len, &mut events);
                check(&mut events, run);
            }
            Ok(None) => break,
            Err(_) => {
                run.unreadable += 1;
                break;
            }
        }
    }
    while sensor.finish(&mut events) {
        check(&mut events, run);
    }
    check(&mut events, run);
    events.push(sensor.stats_event(picket_event::Timestamp::from_secs(0), Default::default()));
    check(&mut events, run);
}

fn schema_validator() -> Option<jsonschema::Validator> {
    let path = corpus_dir("nids/schema")?.join("eve-suricata-8.0.6.schema.json");
    let text = std::fs::read_to_string(&path).expect("schema readable");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    Some(jsonschema::validator_for(&schema).expect("schema compiles"))
}

#[test]
fn every_corpus_capture_runs_and_every_strict_eve_record_validates() {
    let Some(nids) = corpus_dir("nids/pcaps") else {
        return;
    };
    let Some(ja4) = corpus_dir("fingerprints/ja4/pcap") else {
        return;
    };
    let Some(validator) = schema_validator() else {
        return;
    };
    // The schema must be able to fail: picket's own object is outside it.
    let mut probe = picket_event::Event::new(picket_event::Timestamp::from_secs(0), "flow");
    probe
        .picket
        .insert("conn_state".into(), serde_json::Value::from("SF"));
    assert!(!validator.is_valid(&probe.to_eve(EveMode::Extended)));
    assert!(validator.is_valid(&probe.to_eve(EveMode::Strict)));
    let mut files = Vec::new();
    files_under(&nids, &mut files);
    let nids_files = files.len();
    files_under(&ja4, &mut files);
    let config = SensorConfig::default();
    let mut run = Run::default();
    for path in &files {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut one = Run::default();
            run_file(path, &config, Some(&validator), &mut one);
            one
        }));
        match result {
            Ok(one) => {
                run.files += one.files;
                run.unreadable += one.unreadable;
                run.packets += one.packets;
                for (k, v) in one.events {
                    *run.events.entry(k).or_default() += v;
                }
                run.invalid.extend(one.invalid);
            }
            Err(_) => panic!("the sensor panicked on {}", path.display()),
        }
    }
    let total: u64 = run.events.values().sum();
    println!(
        "corpus: {} files ({} from nids/pcaps), {} read, {} unreadable or truncated, {} packets",
        files.len(),
        nids_files,
        run.files,
        run.unreadable,
        run.packets
    );
    println!(
        "schema: {total} strict EVE records validated, {} invalid; by type {:?}",
        run.invalid.len(),
        run.events
    );
    assert!(
        run.invalid.is_empty(),
        "records failing the EVE schema:\n{}",
        run.invalid.join("\n")
    );
    assert!(
        nids_files >= 600,
        "expected the 600-odd corpus captures, found {nids_files}"
    );
    assert!(
        run.packets > 150_000,
        "too few packets decoded: {}",
        run.packets
    );
    for kind in ["flow", "anomaly", "stats"] {
        assert!(
            run.events.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} events"
        );
    }
}

#[test]
fn syn_floods_keep_the_flow_table_under_its_cap() {
    let Some(nids) = corpus_dir("nids/pcaps") else {
        return;
    };
    let mut files = Vec::new();
    files_under(&nids, &mut files);
    let floods: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().contains("syn"))
        })
        .collect();
    assert!(
        !floods.is_empty(),
        "no SYN-flood captures in {}",
        nids.display()
    );
    const CAP: usize = 500;
    let config = SensorConfig {
        flow: FlowConfig {
            max_flows: CAP,
            ..FlowConfig::default()
        },
        ..SensorConfig::default()
    };
    let mut total_flows = 0;
    for path in floods {
        let Ok(mut file) = CaptureFile::open(path) else {
            continue;
        };
        let mut sensor = Sensor::new(config.clone());
        let mut events = Vec::new();
        while let Ok(Some(p)) = file.next_packet() {
            sensor.process(p.link_type, p.ts, p.data, p.orig_len, &mut events);
            events.clear();
            assert!(
                sensor.flows().len() <= CAP,
                "{}: {} flows held",
                path.display(),
                sensor.flows().len()
            );
        }
        let stats = sensor.flows().stats();
        assert!(stats.peak_active <= CAP as u64);
        assert!(sensor.reassembly_stats().memuse as usize <= config.reassembly.memcap);
        assert!(sensor.defrag_stats().memuse as usize <= config.defrag.memcap);
        total_flows += stats.total;
        println!(
            "{}: {} flows, peak {} held, {} evicted",
            path.display(),
            stats.total,
            stats.peak_active,
            stats.evicted
        );
    }
    // The captures must really push past the cap, or the test proves nothing.
    assert!(
        total_flows > 10 * CAP as u64,
        "only {total_flows} flows: the flood captures are too small"
    );
}
