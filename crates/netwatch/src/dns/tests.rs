#![allow(clippy::unwrap_used)]

use super::*;
use picket_proto::dns::parse_message;

const CONFIG: &str = r#"
sinkhole = "address"
canaries = ["vault.corp.example"]

[default]
block = ["doubleclick.net"]

[[source]]
address = "10.137.0.20"
name = "matrix"
mode = "allowlist"
allow = ["matrix.org"]

[[pin]]
domain = "matrix.org"
source = "10.137.0.20"
set4 = "matrix4"
set6 = "matrix6"

[detect]
window_secs = 60
max_queries_per_window = 20
max_txt_null_per_window = 5
max_unique_subdomains = 10
"#;

fn guard() -> Guard {
    Guard::new(&GuardConfig::from_toml(CONFIG).unwrap(), 42).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ask(g: &mut Guard, secs: i64, client: &str, name: &str, qtype: u16) -> QueryOutcome {
    let msg = wire::query(0x1234, name, qtype);
    g.on_query(Query {
        now: Timestamp::from_secs(1_700_000_000 + secs),
        client: addr(client),
        server: addr("10.137.0.1:53"),
        transport: Transport::Udp,
        message: &msg,
    })
}

/// An upstream answer to `forwarded` with one A record.
fn upstream_answer(forwarded: &[u8], a: [u8; 4], ttl: u32) -> Vec<u8> {
    let end = wire::question_end(forwarded).unwrap();
    let mut r = wire::reply(forwarded, Some(end), 0, Some((1, ttl, &a)));
    // The qtype is A; wire::reply answers with the question's name.
    r[2] |= 0x80;
    r
}

fn alerts(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event_type == "alert")
        .map(|e| e.body["signature_id"].as_u64().unwrap())
        .collect()
}

#[test]
fn suffix_matching_respects_label_boundaries_and_case() {
    let set = DomainSet::new(&["Matrix.ORG."]);
    assert_eq!(set.matched("matrix.org"), Some("matrix.org"));
    assert_eq!(set.matched("x.matrix.org"), Some("matrix.org"));
    assert_eq!(set.matched("evilmatrix.org"), None);
    assert_eq!(set.matched("matrix.org.evil.com"), None);
    assert_eq!(normalise("X.Matrix.Org."), "x.matrix.org");
}

#[test]
fn prefixes_match_the_most_specific_source() {
    let p = Prefix::parse("10.137.0.0/24").unwrap();
    assert!(p.contains("10.137.0.99".parse().unwrap()));
    assert!(!p.contains("10.137.1.1".parse().unwrap()));
    assert!(p.contains("::ffff:10.137.0.5".parse().unwrap()));
    assert!(Prefix::parse("10.0.0.0/33").is_err());
    assert!(Prefix::parse("fd00::/8")
        .unwrap()
        .contains("fd12::1".parse().unwrap()));
}

#[test]
fn config_errors_name_the_key() {
    let e = GuardConfig::from_toml("[detect]\nwindow_sec = 3\n").unwrap_err();
    assert!(e.to_string().contains("window_sec"), "{e}");
    let e = GuardConfig::from_toml("[[source]]\naddress = \"10.0.0.300\"\n").unwrap_err();
    assert!(e.to_string().starts_with("source[0].address"), "{e}");
    let e =
        GuardConfig::from_toml("[[pin]]\ndomain = \"a.org\"\nset4 = \"x; flush\"\n").unwrap_err();
    assert!(e.to_string().starts_with("pin[0].set4"), "{e}");
    let e = GuardConfig::from_toml("[detect]\nentropy_bits = 0.0\n").unwrap_err();
    assert!(e.to_string().starts_with("detect.entropy_bits"), "{e}");
}

#[test]
fn allowed_name_is_forwarded_and_answer_restores_id_and_fills_pins() {
    let mut g = guard();
    let out = ask(&mut g, 0, "10.137.0.20:5000", "Chat.Matrix.org", 1);
    let Action::Forward { id, message } = out.action else {
        panic!("not forwarded: {:?}", out.action)
    };
    assert_eq!(wire::id(&message), Some(id));
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].body["type"], "request");
    assert_eq!(out.events[0].picket["netwatch"]["verdict"], "forwarded");
    assert_eq!(out.events[0].picket["qube"], "matrix");

    // A spoofed answer with the right id but another question is ignored.
    let spoof = upstream_answer(&wire::query(id, "evil.org", 1), [6, 6, 6, 6], 30);
    assert!(g
        .on_upstream(Timestamp::from_secs(1_700_000_000), &spoof)
        .is_none());
    assert_eq!(g.counters().upstream_unmatched, 1);

    let answer = upstream_answer(&message, [192, 0, 2, 7], 30);
    let a = g
        .on_upstream(Timestamp::from_secs(1_700_000_001), &answer)
        .unwrap();
    assert_eq!(wire::id(&a.reply), Some(0x1234));
    assert_eq!(a.client, addr("10.137.0.20:5000"));
    // TTL 30 is clamped up to the default minimum of 60 s.
    assert_eq!(
        a.publish,
        vec![NftElement {
            set: "matrix4".into(),
            addr: "192.0.2.7".parse().unwrap(),
            timeout_secs: 60
        }]
    );
    assert_eq!(a.events[0].body["type"], "response");
    assert_eq!(a.events[0].body["answers"][0]["rdata"], "192.0.2.7");
    assert_eq!(
        nft_batch("inet picket", &a.publish),
        "add element inet picket matrix4 { 192.0.2.7 timeout 60s }\n"
    );
    assert_eq!(g.pending(), 0);

    // The same address again soon after is not re-published.
    let out = ask(&mut g, 2, "10.137.0.20:5001", "matrix.org", 1);
    let Action::Forward { message, .. } = out.action else {
        panic!()
    };
    let a = g
        .on_upstream(
            Timestamp::from_secs(1_700_000_002),
            &upstream_answer(&message, [192, 0, 2, 7], 30),
        )
        .unwrap();
    assert!(a.publish.is_empty());
}

#[test]
fn pins_only_for_their_source() {
    let mut g = guard();
    // Another source, under the default (open) policy: forwarded, but no pin applies.
    let out = ask(&mut g, 0, "10.137.0.30:5000", "matrix.org", 1);
    let Action::Forward { message, .. } = out.action else {
        panic!()
    };
    let a = g
        .on_upstream(
            Timestamp::from_secs(1_700_000_001),
            &upstream_answer(&message, [192, 0, 2, 7], 300),
        )
        .unwrap();
    assert!(a.publish.is_empty());
}

#[test]
fn allowlist_sinkholes_everything_else_with_zero_address() {
    let mut g = guard();
    let out = ask(&mut g, 0, "10.137.0.20:5000", "evilmatrix.org", 1);
    let Action::Reply(reply) = out.action else {
        panic!()
    };
    let msg = parse_message(&reply).unwrap();
    assert_eq!(msg.header.id, 0x1234);
    assert_eq!(msg.header.rcode(), 0);
    assert_eq!(
        msg.answers[0].rdata,
        picket_proto::dns::parser::RData::A([0, 0, 0, 0])
    );
    assert_eq!(alerts(&out.events), vec![sid::NOT_ALLOWED]);
    // Query event, alert, answer event.
    let kinds: Vec<_> = out.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["dns", "alert", "dns"]);
    assert_eq!(out.events[2].body["type"], "response");
    assert_eq!(out.events[2].picket["netwatch"]["verdict"], "not_allowed");

    let out = ask(&mut g, 0, "10.137.0.20:5000", "evil.org", 28);
    let Action::Reply(reply) = out.action else {
        panic!()
    };
    let msg = parse_message(&reply).unwrap();
    assert_eq!(
        msg.answers[0].rdata,
        picket_proto::dns::parser::RData::Aaaa([0; 16])
    );
}

#[test]
fn blocked_domain_nxdomain_mode() {
    let config = format!(
        "{}\n",
        CONFIG.replace("sinkhole = \"address\"", "sinkhole = \"nxdomain\"")
    );
    let mut g = Guard::new(&GuardConfig::from_toml(&config).unwrap(), 1).unwrap();
    let out = ask(&mut g, 0, "10.137.0.30:5000", "ads.DoubleClick.net", 1);
    let Action::Reply(reply) = out.action else {
        panic!()
    };
    assert_eq!(parse_message(&reply).unwrap().header.rcode(), 3);
    assert_eq!(alerts(&out.events), vec![sid::BLOCKED]);
    assert_eq!(
        out.events[0].picket["netwatch"]["matched"],
        "doubleclick.net"
    );
    // Deduplicated within the window.
    let out = ask(&mut g, 1, "10.137.0.30:5000", "ads.doubleclick.net", 1);
    assert!(alerts(&out.events).is_empty());
}

#[test]
fn canary_is_critical_and_answered_like_any_name() {
    let mut g = guard();
    let out = ask(&mut g, 0, "10.137.0.30:5000", "vault.corp.example", 1);
    assert!(matches!(out.action, Action::Forward { .. }));
    let alert = out.events.iter().find(|e| e.event_type == "alert").unwrap();
    assert_eq!(alert.body["signature_id"], sid::CANARY);
    assert_eq!(alert.body["severity"], 1);
    assert_eq!(alert.endpoints.src_ip.as_deref(), Some("10.137.0.30"));
    assert_eq!(alert.picket["netwatch"]["canary"], "vault.corp.example");
    // Under an allowlist the canary gets exactly what any unlisted name gets.
    let out = ask(&mut g, 0, "10.137.0.20:5000", "vault.corp.example", 1);
    assert!(matches!(out.action, Action::Reply(_)));
    assert_eq!(alerts(&out.events), vec![sid::CANARY]);
}

#[test]
fn tunnelling_signals_alert_with_their_numbers() {
    let mut g = guard();
    // High entropy and long labels.
    let out = ask(
        &mut g,
        0,
        "10.137.0.30:5000",
        "mzxw6ytboi4dqnrxgq3tmobzga2dkmrtgyzdoobrgm.t.example.com",
        16,
    );
    let ids = alerts(&out.events);
    assert!(ids.contains(&sid::HIGH_ENTROPY), "{ids:?}");
    let a = out
        .events
        .iter()
        .find(|e| e.body["signature_id"] == sid::HIGH_ENTROPY)
        .unwrap();
    assert!(a.picket["netwatch"]["entropy_bits"].as_f64().unwrap() >= 4.0);
    assert_eq!(a.picket["netwatch"]["parent"], "example.com");
    // Many unique subdomains, many TXT queries, then the rate.
    let mut seen = Vec::new();
    for i in 0..25 {
        let out = ask(
            &mut g,
            1,
            "10.137.0.30:5000",
            &format!("c{i}.t.example.com"),
            16,
        );
        seen.extend(alerts(&out.events));
    }
    assert!(seen.contains(&sid::UNIQUE_SUBDOMAINS), "{seen:?}");
    assert!(seen.contains(&sid::TXT_NULL_VOLUME), "{seen:?}");
    assert!(seen.contains(&sid::QUERY_RATE), "{seen:?}");
    // Each once per window.
    assert_eq!(seen.iter().filter(|s| **s == sid::QUERY_RATE).count(), 1);
}

#[test]
fn ordinary_names_raise_nothing() {
    let mut g = guard();
    for name in [
        "www.google.com",
        "safebrowsing.googleapis.com",
        "d1x2y3z4.cloudfront.net",
        "debian.map.fastlydns.net",
        "www.bbc.co.uk",
    ] {
        let out = ask(&mut g, 0, "10.137.0.30:5000", name, 1);
        assert!(alerts(&out.events).is_empty(), "{name}");
    }
}

#[test]
fn hostile_messages_never_panic_and_are_answered_or_dropped() {
    let mut g = guard();
    // Too short: dropped.
    let out = g.on_query(Query {
        now: Timestamp::from_secs(0),
        client: addr("10.0.0.1:1"),
        server: addr("10.0.0.2:53"),
        transport: Transport::Udp,
        message: &[1, 2, 3],
    });
    assert_eq!(out.action, Action::Drop);
    // A compression loop: FORMERR, an anomaly and one alert.
    let mut looped = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let out = g.on_query(Query {
        now: Timestamp::from_secs(0),
        client: addr("10.0.0.1:1"),
        server: addr("10.0.0.2:53"),
        transport: Transport::Udp,
        message: &looped,
    });
    let Action::Reply(reply) = out.action else {
        panic!()
    };
    assert_eq!(reply[3] & 0x0f, wire::rcode::FORMERR);
    assert_eq!(reply[..2], [0xab, 0xcd]);
    assert_eq!(alerts(&out.events), vec![sid::MALFORMED]);
    // Pseudo-random garbage of every length.
    let mut x: u32 = 7;
    for len in 0..600usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = g.on_query(Query {
            now: Timestamp::from_secs(1),
            client: addr("10.0.0.1:1"),
            server: addr("10.0.0.2:53"),
            transport: Transport::Tcp,
            message: &bytes,
        });
        let _ = g.on_upstream(Timestamp::from_secs(1), &bytes);
    }
}

#[test]
fn pending_queries_are_capped_and_expire_as_servfail() {
    let config = format!("{CONFIG}\n[limits]\nmax_pending = 3\npending_timeout_ms = 1000\n");
    let mut g = Guard::new(&GuardConfig::from_toml(&config).unwrap(), 9).unwrap();
    for i in 0..3 {
        let out = ask(
            &mut g,
            0,
            "10.137.0.30:5000",
            &format!("n{i}.example.org"),
            1,
        );
        assert!(matches!(out.action, Action::Forward { .. }));
    }
    let out = ask(&mut g, 0, "10.137.0.30:5000", "n4.example.org", 1);
    let Action::Reply(reply) = out.action else {
        panic!()
    };
    assert_eq!(reply[3] & 0x0f, wire::rcode::SERVFAIL);
    assert_eq!(g.counters().pending_full, 1);
    assert!(g.expire(Timestamp::from_secs(1_700_000_000)).is_empty());
    let expired = g.expire(Timestamp::from_secs(1_700_000_002));
    assert_eq!(expired.len(), 3);
    assert_eq!(parse_message(&expired[0].reply).unwrap().header.rcode(), 2);
    assert_eq!(wire::id(&expired[0].reply), Some(0x1234));
    assert_eq!(g.pending(), 0);
}

#[test]
fn source_table_is_bounded_under_a_flood_of_sources() {
    let config = format!("{CONFIG}\n[limits]\nmax_sources = 16\n");
    let mut g = Guard::new(&GuardConfig::from_toml(&config).unwrap(), 9).unwrap();
    for i in 0..1000u32 {
        let client = format!("10.{}.{}.{}:53", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        let out = ask(&mut g, 0, &client, &format!("x{i}.example.org"), 1);
        if let Action::Forward { message, .. } = out.action {
            let _ = g.on_upstream(
                Timestamp::from_secs(1_700_000_000),
                &upstream_answer(&message, [1, 2, 3, 4], 60),
            );
        }
    }
    assert_eq!(g.detector.tracked_sources(), 16);
    assert_eq!(g.counters().sources_untracked, 984);
}

#[test]
fn canary_with_fixed_address_answers_it() {
    let config = CONFIG.replace(
        "canaries = [\"vault.corp.example\"]",
        "canaries = [\"vault.corp.example\"]\ncanary_answer = \"10.9.9.9\"",
    );
    let mut g = Guard::new(&GuardConfig::from_toml(&config).unwrap(), 1).unwrap();
    let out = ask(&mut g, 0, "10.137.0.30:5000", "db.vault.corp.example", 1);
    let Action::Reply(reply) = out.action else {
        panic!()
    };
    let msg = parse_message(&reply).unwrap();
    assert_eq!(
        msg.answers[0].rdata,
        picket_proto::dns::parser::RData::A([10, 9, 9, 9])
    );
}
