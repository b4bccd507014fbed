//! The engine driven by the sensor over real captures from the shared corpus: our own rules
//! raise the alerts they should, with the flow envelope and app-layer object, and every
//! record, alerts included, validates against Suricata 8's EVE schema in strict mode.
#![allow(clippy::unwrap_used)]

use picket_capture::{CaptureFile, PacketSource};
use picket_event::EveMode;
use picket_netdecode::{EncryptionHandling, Sensor, SensorConfig};
use picket_nids::{Classifications, Engine, EngineConfig, LoadOptions, Ruleset};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus(relative: &str) -> Option<PathBuf> {
    let root = match std::env::var_os("PICKET_CORPUS") {
        Some(r) => PathBuf::from(r),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    let p = root.join(relative);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus missing under CI: {}", p.display());
    }
    println!("skip: {} not found", p.display());
    None
}

const CLASSIFICATION: &str = "config classification: bad-unknown,Potentially Bad Traffic,2\n\
config classification: trojan-activity,A Network Trojan was detected,1\n";

/// Runs `pcap` through a sensor with `rules`; returns strict EVE records as JSON.
fn run(pcap: &Path, rules: &str) -> Vec<Value> {
    run_with(pcap, rules, SensorConfig::default())
}

fn run_with(pcap: &Path, rules: &str, config: SensorConfig) -> Vec<Value> {
    let (classes, _) = Classifications::parse(CLASSIFICATION);
    let mut set = Ruleset::new(LoadOptions {
        classifications: Some(classes.clone()),
        ..LoadOptions::default()
    });
    set.add_source("test.rules", rules);
    assert!(set.skipped.is_empty(), "{:?}", set.skipped);
    let engine = Engine::new(set.rules, Some(classes), EngineConfig::default()).unwrap();
    assert!(
        engine.unsupported().is_empty(),
        "{:?}",
        engine.unsupported()
    );
    let mut sensor = Sensor::new(config);
    sensor.set_inspector(Box::new(engine));
    let mut file = CaptureFile::open(pcap).unwrap();
    let mut events = Vec::new();
    while let Ok(Some(p)) = file.next_packet() {
        sensor.process(p.link_type, p.ts, p.data, p.orig_len, &mut events);
    }
    while sensor.finish(&mut events) {}
    events
        .iter()
        .map(|e| {
            let mut line = Vec::new();
            e.write_eve(EveMode::Strict, &mut line).unwrap();
            serde_json::from_slice(&line).unwrap()
        })
        .collect()
}

fn alerts(events: &[Value], sid: u64) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == "alert" && e["alert"]["signature_id"] == sid)
        .collect()
}

fn validate(events: &[Value]) {
    let Some(path) = corpus("nids/schema/eve-suricata-8.0.6.schema.json") else {
        return;
    };
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    for e in events {
        let errors: Vec<String> = v.iter_errors(e).map(|x| x.to_string()).collect();
        assert!(errors.is_empty(), "{e}: {errors:?}");
    }
}

#[test]
fn http_payload_and_sticky_buffer_rules_alert_with_the_http_object() {
    let Some(pcap) = corpus("nids/suricata-verify/tests/flowbit-oring/input.pcap") else {
        return;
    };
    let rules = r#"alert http any any -> any any (msg:"picket uri"; flow:established,to_server; http.uri; content:"/"; http.host; content:"testmyids.com"; classtype:bad-unknown; metadata:created_at 2026_11_27, confidence High; sid:1000001; rev:2;)
alert tcp any any -> any any (msg:"picket root"; content:"uid=0|28|root|29|"; sid:1000002;)
alert http any any -> any any (msg:"picket flowbit setter"; flow:to_server; http.header; content:"testmyids"; flowbits:set,seen; flowbits:noalert; sid:1000003;)
alert http any any -> any any (msg:"picket flowbit checker"; flow:to_client; http.stat_code; content:"200"; flowbits:isset,seen; sid:1000004;)
alert http any any -> any any (msg:"picket never"; flowbits:isset,other; sid:1000005;)
alert tcp any any -> any any (msg:"picket syn"; flags:S,12; sid:1000006;)
"#;
    let events = run(&pcap, rules);
    validate(&events);
    let uri = alerts(&events, 1000001);
    assert_eq!(uri.len(), 1, "{events:?}");
    let a = uri[0];
    assert_eq!(a["alert"]["category"], "Potentially Bad Traffic");
    assert_eq!(a["alert"]["severity"], 2);
    assert_eq!(a["alert"]["rev"], 2);
    assert_eq!(a["alert"]["metadata"]["confidence"][0], "High");
    assert_eq!(a["app_proto"], "http");
    assert_eq!(a["http"]["hostname"], "www.testmyids.com");
    assert_eq!(a["direction"], "to_server");
    assert_eq!(a["dest_port"], 80);
    assert!(a["flow_id"].is_u64() && a["community_id"].is_string());
    let root = alerts(&events, 1000002);
    assert_eq!(root.len(), 1);
    assert_eq!(root[0]["src_port"], 80, "the response packet carries it");
    assert!(alerts(&events, 1000003).is_empty(), "noalert");
    assert_eq!(alerts(&events, 1000004).len(), 1, "flowbit set earlier");
    assert!(alerts(&events, 1000005).is_empty());
    assert_eq!(alerts(&events, 1000006).len(), 1, "one SYN");
    let flow = events
        .iter()
        .find(|e| e["event_type"] == "flow" && e["app_proto"] == "http")
        .unwrap();
    assert_eq!(flow["flow"]["alerted"], true);
}

#[test]
fn tls_and_threshold_rules() {
    let Some(pcap) = corpus("nids/suricata-verify/tests/tls/tls-cert-issuer/tls.pcap") else {
        return;
    };
    let rules = r#"alert tls any any -> any any (msg:"picket subject"; tls.cert_subject; content:"CN=SELKS"; endswith; sid:2000001;)
alert tls any any -> any any (msg:"picket ja3"; ja3.hash; content:"308b0bd904abbef5e0034a1ff7a78920"; threshold:type limit, track by_rule, count 2, seconds 600; sid:2000002;)
alert tls any any -> any any (msg:"picket issuer legacy"; tls.issuerdn:"O=Stamus"; sid:2000003;)
alert tcp any any -> any 443 (msg:"picket client hello"; flow:to_server; content:"|16 03|"; depth:2; detection_filter:track by_dst, count 3, seconds 600; sid:2000004;)
alert tcp any any -> any 443 (msg:"picket client hello unfiltered"; flow:to_server; content:"|16 03|"; depth:2; sid:2000005;)
"#;
    let events = run(&pcap, rules);
    validate(&events);
    let tls_records = events.iter().filter(|e| e["event_type"] == "tls").count();
    let with_cert = events
        .iter()
        .filter(|e| e["event_type"] == "tls" && e["tls"]["subject"].is_string())
        .count();
    assert!(with_cert >= 4, "{with_cert}");
    let subject = alerts(&events, 2000001);
    assert_eq!(subject.len(), with_cert);
    assert_eq!(subject[0]["direction"], "to_client");
    assert!(subject[0]["tls"]["subject"].is_string());
    assert_eq!(alerts(&events, 2000002).len(), 2, "threshold limit 2");
    assert_eq!(alerts(&events, 2000003).len(), with_cert);
    let all = alerts(&events, 2000005).len();
    assert!(all > 3, "{all}");
    assert_eq!(
        alerts(&events, 2000004).len(),
        all - 3,
        "detection_filter: the first 3 are quiet"
    );
    assert!(tls_records >= with_cert);
}

#[test]
fn encryption_handling_modes_on_tls_application_data() {
    let Some(pcap) = corpus("nids/suricata-verify/tests/tls/tls-cert-issuer/tls.pcap") else {
        return;
    };
    // 1: raw content on the client's application data records; 2: an app-layer buffer;
    // 3: header and flow keywords only.
    let rules = r#"alert tcp any any -> any 443 (msg:"appdata header"; flow:established,to_server; content:"|17 03|"; depth:2; sid:1;)
alert tls any any -> any any (msg:"subject"; tls.cert_subject; content:"CN=SELKS"; sid:2;)
alert tcp any any -> any 443 (msg:"client data"; flow:established,to_server; dsize:>0; sid:3;)
"#;
    let count = |handling: EncryptionHandling| {
        let events = run_with(
            &pcap,
            rules,
            SensorConfig {
                encryption: handling,
                ..SensorConfig::default()
            },
        );
        let flows = events.iter().filter(|e| e["event_type"] == "flow").count();
        ([1, 2, 3].map(|sid| alerts(&events, sid).len()), flows)
    };
    let (full, flows_full) = count(EncryptionHandling::Full);
    let (default, flows_default) = count(EncryptionHandling::Default);
    let (bypass, flows_bypass) = count(EncryptionHandling::Bypass);
    println!("alerts for sids 1, 2, 3: full {full:?}, default {default:?}, bypass {bypass:?}");
    assert!(full[0] > 0, "full inspects the ciphertext");
    assert_eq!(default[0], 0, "default does not");
    assert_eq!(bypass[0], 0);
    assert!(full[1] > 0);
    assert_eq!(
        default[1], full[1],
        "app-layer buffers are inspected in every mode"
    );
    assert_eq!(bypass[1], full[1]);
    assert_eq!(
        default[2], full[2],
        "default still runs header and flow keywords"
    );
    assert!(
        bypass[2] < full[2],
        "bypass skips the encrypted packets altogether"
    );
    assert_eq!(
        (flows_default, flows_bypass),
        (flows_full, flows_full),
        "flows still logged"
    );
}
