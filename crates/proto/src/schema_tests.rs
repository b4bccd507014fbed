//! Every EVE body the loggers produce, wrapped in a minimal EVE envelope, must validate against
//! Suricata 8.0.6's strict schema (it rejects any field it does not name). The sample inputs
//! are the ones the per-protocol unit tests use, so a logger change that breaks the schema
//! fails here.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::{AppEvent, AppParser, Direction, Transport};

/// Where the shared corpus lives (`PICKET_CORPUS`, else `../shared/corpus` beside the
/// repository), if it is there at all.
pub(crate) fn shared_corpus(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("PICKET_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let p = root.join(rel);
    if p.exists() {
        Some(p)
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("corpus file {} missing and CI=true", p.display());
    } else {
        println!("skip: corpus file {} not found", p.display());
        None
    }
}

fn envelope(ev: &AppEvent, app_proto: &str) -> Value {
    let mut e = json!({
        "timestamp": "2026-11-27T12:00:00.000000+0000",
        "flow_id": 1234567890u64,
        "event_type": ev.event_type,
        "src_ip": "192.0.2.1",
        "src_port": 40000,
        "dest_ip": "198.51.100.2",
        "dest_port": 443,
        "proto": "TCP",
        "app_proto": app_proto,
    });
    if let Value::Object(m) = &mut e {
        m.insert(ev.event_type.to_string(), ev.body.clone());
    }
    e
}

/// Every event each protocol's sample flows produce.
fn sample_events() -> Vec<(&'static str, AppEvent)> {
    let mut all = Vec::new();
    let mut run = |p: &mut dyn AppParser, steps: &[(Direction, Vec<u8>)]| {
        let mut out = Vec::new();
        for (d, b) in steps {
            p.feed(*d, b, &mut out);
        }
        p.finish(&mut out);
        let proto = p.app_proto();
        all.extend(out.into_iter().map(|e| (proto, e)));
    };
    {
        use crate::dns::tests::{response_with, QUERY, RESPONSE};
        let mut soa = vec![2, b'n', b's', 0xc0, 0x10, 1, b'h', 0xc0, 0x10];
        soa.extend_from_slice(&[0; 20]);
        let mut with_opt = QUERY.to_vec();
        with_opt[11] = 1;
        with_opt.extend_from_slice(&[0, 0, 0x29, 4, 0xd0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 2, 1, 2]);
        let steps = vec![
            (Direction::ToServer, with_opt),
            (Direction::ToClient, response_with(16, &[1, b'a', 1, b'b'])),
            (Direction::ToServer, QUERY.to_vec()),
            (Direction::ToClient, RESPONSE.to_vec()),
            (Direction::ToClient, response_with(6, &soa)),
            (
                Direction::ToClient,
                response_with(33, &[0, 1, 0, 2, 1, 0xbb, 0xc0, 0x10]),
            ),
            (Direction::ToClient, response_with(28, &[0; 16])),
            (Direction::ToClient, response_with(16, &[2, b'h', b'i'])),
            (Direction::ToClient, response_with(65, &[0, 1, 0])),
            (Direction::ToClient, response_with(99, &[1, 2])),
        ];
        run(&mut crate::dns::DnsParser::new(Transport::Udp), &steps);
    }
    {
        use crate::tls::tests::{spec_example_hello, tls12_server_flight, tls13_server_flight};
        for server in [tls12_server_flight(), tls13_server_flight(), Vec::new()] {
            let steps = vec![
                (Direction::ToServer, spec_example_hello()),
                (Direction::ToClient, server),
            ];
            run(&mut crate::tls::TlsParser::new(), &steps);
        }
    }
    {
        use crate::ssh::tests::{client_flight, server_flight};
        let steps = vec![
            (Direction::ToServer, client_flight()),
            (Direction::ToClient, server_flight()),
        ];
        run(&mut crate::ssh::SshParser::new(), &steps);
        let steps = vec![(Direction::ToServer, b"SSH-1.5-x\n".to_vec())];
        run(&mut crate::ssh::SshParser::new(), &steps);
    }
    {
        use crate::http::tests::{REQUESTS, RESPONSES};
        let steps = vec![
            (Direction::ToServer, REQUESTS.to_vec()),
            (Direction::ToClient, RESPONSES.to_vec()),
            (Direction::ToServer, b"GET /late HTTP/1.1\r\n\r\n".to_vec()),
        ];
        let cfg = crate::http::HttpConfig {
            log_bodies: true,
            ..Default::default()
        };
        run(&mut crate::http::HttpParser::with_config(cfg), &steps);
        let steps = vec![(Direction::ToClient, b"HTTP/1.1 2XX Odd\r\n\r\n".to_vec())];
        run(&mut crate::http::HttpParser::new(), &steps);
    }
    all
}

#[test]
fn every_logger_output_validates_against_suricata_8_schema() {
    let Some(path) = shared_corpus("nids/schema/eve-suricata-8.0.6.schema.json") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut events = sample_events();
    // DNS records as the version 2 logger writes them validate too.
    let v2 = crate::dns::DnsLogConfig {
        version: 2,
        ..Default::default()
    };
    let dns: Vec<AppEvent> = events
        .iter()
        .filter(|(_, e)| e.event_type == "dns")
        .flat_map(|(_, e)| v2.records(&e.body))
        .map(|body| AppEvent::new("dns", body))
        .collect();
    assert!(!dns.is_empty());
    events.extend(dns.into_iter().map(|e| ("dns", e)));
    let mut per_type: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    for (proto, ev) in &events {
        let doc = envelope(ev, proto);
        *per_type.entry(ev.event_type).or_default() += 1;
        let errs: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        if !errs.is_empty() {
            failures.push(format!("{doc}\n  {}", errs.join("\n  ")));
        }
    }
    println!(
        "schema: {}/{} EVE records valid ({per_type:?})",
        events.len() - failures.len(),
        events.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn schema_rejects_an_unknown_field_so_the_check_can_fail() {
    let Some(path) = shared_corpus("nids/schema/eve-suricata-8.0.6.schema.json") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let ev = AppEvent::new("dns", json!({"version": 3, "not_a_field": 1}));
    assert!(!validator.is_valid(&envelope(&ev, "dns")));
}
