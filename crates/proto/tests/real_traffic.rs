//! Every pcap in the shared corpus (`fingerprints/ja4/pcap` and `nids/pcaps`) through
//! [`picket_proto::detect`] and the chosen parser: nothing may panic, and every EVE record the
//! loggers produce from real traffic must validate against Suricata 8.0.6's schema. The counts
//! per event type are printed and must stay at or above the floors below.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{collect, Capture};
use picket_proto::{detect, AppEvent, Direction, Transport};
use serde_json::{json, Value};

/// Events produced when this test was written; a drop means a parser got worse. HTTP went
/// from 1621 to 1616 when the pending-transaction limit rose from 32 to 512: pipelined
/// requests beyond 32 used to push the oldest out to be logged alone, which gave extra
/// records.
const FLOORS: &[(&str, usize)] = &[("dns", 2825), ("http", 1616), ("ssh", 18), ("tls", 891)];

fn shared() -> Option<PathBuf> {
    let p = common::corpus_root();
    if p.join("nids/schema/eve-suricata-8.0.6.schema.json")
        .exists()
    {
        Some(p)
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("shared corpus missing at {} and CI=true", p.display());
    } else {
        println!("skip: shared corpus not found at {}", p.display());
        None
    }
}

fn pcaps_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            pcaps_under(&p, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "pcap" | "pcapng" | "cap"))
        {
            out.push(p);
        }
    }
}

fn events_of(cap: &Capture) -> Vec<(&'static str, AppEvent)> {
    let mut all = Vec::new();
    let mut keys: Vec<_> = cap.tcp.keys().copied().collect();
    keys.sort();
    for (a, b) in keys {
        // Each connection once, from its client's side: the SYN sender, else the higher port.
        let opened = |x, y| cap.tcp.get(&(x, y)).is_some_and(|h| h.opened);
        let client_is_a = opened(a, b) || (!opened(b, a) && a.1 > b.1);
        if !client_is_a {
            continue;
        }
        let c = cap.tcp.get(&(a, b)).map(|h| h.bytes()).unwrap_or_default();
        let s = cap.tcp.get(&(b, a)).map(|h| h.bytes()).unwrap_or_default();
        let parser = if c.is_empty() {
            detect(Transport::Tcp, b.1, a.1, Direction::ToClient, &s)
        } else {
            detect(Transport::Tcp, a.1, b.1, Direction::ToServer, &c)
        };
        let Some(mut p) = parser else { continue };
        let mut out = Vec::new();
        p.feed(Direction::ToServer, &c, &mut out);
        p.feed(Direction::ToClient, &s, &mut out);
        p.finish(&mut out);
        let proto = p.app_proto();
        all.extend(out.into_iter().map(|e| (proto, e)));
    }
    let mut ukeys: Vec<_> = cap.udp.keys().copied().collect();
    ukeys.sort();
    for (a, b) in ukeys {
        let Some(dgrams) = cap.udp.get(&(a, b)) else {
            continue;
        };
        let Some((_, first)) = dgrams.first() else {
            continue;
        };
        let Some(mut p) = detect(Transport::Udp, a.1, b.1, Direction::ToServer, first) else {
            continue;
        };
        let mut out = Vec::new();
        for (forward, d) in dgrams {
            let dir = if *forward {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            p.feed(dir, d, &mut out);
        }
        p.finish(&mut out);
        let proto = p.app_proto();
        all.extend(out.into_iter().map(|e| (proto, e)));
    }
    all
}

#[test]
fn corpus_pcaps_parse_without_panic_and_log_schema_valid_eve() {
    let Some(root) = shared() else { return };
    let text = std::fs::read_to_string(root.join("nids/schema/eve-suricata-8.0.6.schema.json"))
        .expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut pcaps = Vec::new();
    pcaps_under(&root.join("fingerprints/ja4/pcap"), &mut pcaps);
    pcaps_under(&root.join("nids/pcaps"), &mut pcaps);
    let started = std::time::Instant::now();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    // PROTO_DUMP=file.jsonl writes every record, for eyeballing.
    let mut dump = std::env::var_os("PROTO_DUMP").and_then(|p| std::fs::File::create(p).ok());
    for path in &pcaps {
        let cap = collect(path);
        for (proto, ev) in events_of(&cap) {
            *counts.entry(ev.event_type).or_default() += 1;
            let doc = json!({
                "timestamp": "2026-11-27T12:00:00.000000+0000",
                "event_type": ev.event_type,
                "app_proto": proto,
                ev.event_type: ev.body,
            });
            if let Some(f) = dump.as_mut() {
                use std::io::Write as _;
                let _ = writeln!(f, "{doc}");
            }
            if failures.len() < 20 {
                let errs: Vec<String> =
                    validator.iter_errors(&doc).map(|e| e.to_string()).collect();
                if !errs.is_empty() {
                    failures.push(format!(
                        "{}: {doc}\n  {}",
                        path.display(),
                        errs.join("\n  ")
                    ));
                }
            }
        }
    }
    println!(
        "real traffic: {} pcaps in {:.1?}, events {counts:?}, {} schema failures",
        pcaps.len(),
        started.elapsed(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (t, floor) in FLOORS {
        let n = counts.get(t).copied().unwrap_or(0);
        assert!(n >= *floor, "{t}: {n} events, floor {floor}");
    }
}
