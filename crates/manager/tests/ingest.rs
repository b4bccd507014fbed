//! Ingest through picket's own ruleset (`rules/` at the top of the repository) into a
//! temporary store.

use picket_event::{Event, Timestamp};
use picket_hids::{load_ruleset, Ruleset};
use picket_manager::{store_analysed, Ingest, IngestConfig, Sequenced};
use picket_store::{AlertQuery, Store};
use serde_json::Value;
use std::path::Path;

const BRUTE_FORCE: &str = "\
Nov 27 10:02:11 sys-net sshd[1601]: Invalid user admin from 198.51.100.23 port 36100
Nov 27 10:02:12 sys-net sshd[1601]: Failed password for invalid user admin from 198.51.100.23 port 36100 ssh2
Nov 27 10:02:15 sys-net sshd[1602]: Failed password for user from 198.51.100.23 port 36102 ssh2
Nov 27 10:02:16 sys-net sshd[1603]: Failed password for user from 198.51.100.23 port 36104 ssh2
Nov 27 10:02:17 sys-net sshd[1604]: Failed password for user from 198.51.100.23 port 36106 ssh2
Nov 27 10:02:18 sys-net sshd[1605]: Failed password for user from 198.51.100.23 port 36108 ssh2
Nov 27 10:02:19 sys-net sshd[1606]: Failed password for user from 198.51.100.23 port 36110 ssh2
Nov 27 10:02:20 sys-net sshd[1607]: Failed password for user from 198.51.100.23 port 36112 ssh2
Nov 27 10:02:30 sys-net sshd[1610]: Accepted password for user from 198.51.100.23 port 36120 ssh2";

const T0: i64 = 1_795_766_531; // 2026-11-27T10:02:11Z

fn ruleset() -> Ruleset {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let (ruleset, report) = load_ruleset(&[root]).expect("picket's ruleset loads");
    assert!(report.rules > 100, "{}", report.describe());
    ruleset
}

fn log_batch(text: &str, first_seq: u64) -> Vec<Sequenced> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let mut event = Event::new(Timestamp::from_secs(T0 + i as i64), "log");
            event.body = serde_json::json!({ "path": "/var/log/auth.log", "line": line });
            Sequenced::new(Some(first_seq + i as u64), event)
        })
        .collect()
}

fn stored_rules(store: &Store, source: Option<&str>) -> Vec<u64> {
    let mut rows = store
        .alerts(&AlertQuery {
            source: source.map(str::to_string),
            limit: Some(1000),
            ..AlertQuery::default()
        })
        .expect("query");
    rows.reverse();
    rows.iter()
        .map(|r| {
            let eve: Value = serde_json::from_str(&r.eve).expect("json");
            eve["alert"]["signature_id"].as_u64().expect("sid")
        })
        .collect()
}

#[test]
fn ssh_brute_force_through_the_default_ruleset_is_stored_as_alerts() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(&ruleset, IngestConfig::default());
    let now = Timestamp::from_secs(T0 + 60);
    let report = ingest
        .ingest(&mut store, "sys-net", 1, log_batch(BRUTE_FORCE, 1), now)
        .expect("ingest");
    assert_eq!((report.received, report.stored, report.analysed), (9, 9, 9));
    let rules = stored_rules(&store, Some("sys-net"));
    assert!(rules.contains(&100111), "brute force alert: {rules:?}");
    assert!(rules.contains(&100113), "login after failures: {rules:?}");
    assert_eq!(report.alerts as usize, rules.len());

    // The brute-force alert as stored: EVE alert with the cause's envelope and our fields.
    let rows = store
        .alerts(&AlertQuery {
            rule_id: Some(100111),
            ..AlertQuery::default()
        })
        .expect("query");
    let eve: Value = serde_json::from_str(&rows[0].eve).expect("json");
    assert_eq!(eve["event_type"], "alert");
    assert_eq!(eve["host"], "sys-net");
    assert_eq!(eve["src_ip"], "198.51.100.23");
    assert_eq!(eve["picket"]["level"], 10);
    assert_eq!(eve["alert"]["severity"], 2);
    assert!(eve["picket"]["full_log"]
        .as_str()
        .expect("full_log")
        .contains("Failed password"));
    assert_eq!(rows[0].part, 1, "stored as a part of its cause");

    // The same batch again (a lost ack): nothing new stored, nothing analysed again.
    let again = ingest
        .ingest(&mut store, "sys-net", 1, log_batch(BRUTE_FORCE, 1), now)
        .expect("resend");
    assert_eq!((again.stored, again.duplicates, again.alerts), (0, 9, 0));
    assert_eq!(stored_rules(&store, None), rules);
    let seen = store.sources().expect("sources");
    assert_eq!(seen[0].name, "sys-net");
    assert_eq!(seen[0].events, 18);
}

#[test]
fn correlation_never_mixes_sources() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(&ruleset, IngestConfig::default());
    let now = Timestamp::from_secs(T0 + 60);
    // The same failures, split between two qubes line by line: neither reaches the
    // brute-force threshold on its own.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, record) in log_batch(BRUTE_FORCE, 1).into_iter().enumerate() {
        if i % 2 == 0 {
            a.push(record);
        } else {
            b.push(record);
        }
    }
    ingest.ingest(&mut store, "work", 0, a, now).expect("a");
    ingest.ingest(&mut store, "personal", 0, b, now).expect("b");
    let rules = stored_rules(&store, None);
    assert!(!rules.contains(&100111), "{rules:?}");
    assert_eq!(ingest.sessions(), 2);
}

#[test]
fn forged_host_is_replaced_and_flagged() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(&ruleset, IngestConfig::default());
    let mut batch = log_batch(BRUTE_FORCE, 1);
    batch[8].event.host = Some("vault".into());
    let report = ingest
        .ingest(&mut store, "work", 0, batch, Timestamp::from_secs(T0))
        .expect("ingest");
    assert_eq!(report.host_mismatches, 1);
    let rows = store
        .alerts(&AlertQuery {
            rule_id: Some(100113),
            ..AlertQuery::default()
        })
        .expect("query");
    let eve: Value = serde_json::from_str(&rows[0].eve).expect("json");
    assert_eq!(eve["host"], "work");
    assert_eq!(eve["picket"]["claimed_host"], "vault");
    assert_eq!(rows[0].source, "work");
}

#[test]
fn fim_change_to_rc_local_raises_the_qubes_startup_alert() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(&ruleset, IngestConfig::default());
    let mut event = Event::new(Timestamp::from_secs(T0), "fim");
    event.body = serde_json::json!({
        "action": "modified", "path": "/rw/config/rc.local", "detected": "realtime"
    });
    let report = ingest
        .ingest(
            &mut store,
            "work",
            0,
            vec![Sequenced::new(Some(1), event)],
            Timestamp::from_secs(T0),
        )
        .expect("ingest");
    assert_eq!(report.alerts, 1);
    assert_eq!(stored_rules(&store, None), vec![101501]);
}

#[test]
fn session_limit_evicts_the_least_recently_used_and_counts_it() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(
        &ruleset,
        IngestConfig {
            max_sessions: 2,
            ..IngestConfig::default()
        },
    );
    for (i, source) in ["a", "b", "a", "c", "d"].iter().enumerate() {
        ingest
            .ingest(
                &mut store,
                source,
                0,
                log_batch(BRUTE_FORCE, 100 * i as u64 + 1),
                Timestamp::from_secs(T0),
            )
            .expect("ingest");
    }
    assert_eq!(ingest.sessions(), 2);
    assert_eq!(ingest.counters().sessions_evicted, 2);
    assert_eq!(ingest.counters().received, 45);
}

#[test]
fn alerts_below_the_configured_level_are_not_stored() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(
        &ruleset,
        IngestConfig {
            min_alert_level: 10,
            ..IngestConfig::default()
        },
    );
    let report = ingest
        .ingest(
            &mut store,
            "work",
            0,
            log_batch(BRUTE_FORCE, 1),
            Timestamp::from_secs(T0),
        )
        .expect("ingest");
    let rules = stored_rules(&store, None);
    assert_eq!(rules, vec![100111, 100113], "only levels 10 and 12");
    assert!(report.below_alert_level >= 5, "{report:?}");
    assert_eq!(report.stored, 9, "every event is stored all the same");
}

#[test]
fn pipelined_analyse_then_store_gives_the_same_alerts_as_ingest() {
    let ruleset = ruleset();
    let now = Timestamp::from_secs(T0 + 60);
    let dir = tempfile::tempdir().expect("temp");
    let mut one = Store::open(dir.path().join("one.db")).expect("store");
    Ingest::new(&ruleset, IngestConfig::default())
        .ingest(&mut one, "sys-net", 0, log_batch(BRUTE_FORCE, 1), now)
        .expect("ingest");
    let mut two = Store::open(dir.path().join("two.db")).expect("store");
    let mut ingest = Ingest::new(&ruleset, IngestConfig::default());
    let analysed = ingest.analyse("sys-net", 0, log_batch(BRUTE_FORCE, 1));
    let report = store_analysed(&mut two, &analysed, now).expect("store");
    assert_eq!((report.stored, report.duplicates), (9, 0));
    assert_eq!(stored_rules(&two, None), stored_rules(&one, None));
    // A resend that slips past the transport is stored once, alerts included.
    let again = ingest.analyse("sys-net", 0, log_batch(BRUTE_FORCE, 1));
    let report = store_analysed(&mut two, &again, now).expect("store again");
    assert_eq!((report.stored, report.duplicates), (0, 9));
    assert_eq!(two.count().expect("count"), one.count().expect("count"));
}

#[test]
fn received_text_is_stored_as_is_only_when_nothing_in_it_changes() {
    let dir = tempfile::tempdir().expect("temp");
    let mut store = Store::open(dir.path().join("picket.db")).expect("store");
    let ruleset = ruleset();
    let mut ingest = Ingest::new(&ruleset, IngestConfig::default());
    let line =
        "Nov 27 10:02:11 sys-net sshd[1601]: Invalid user admin from 198.51.100.23 port 36100";
    // Spaced and ordered as no writer of ours would: the text shows which way it was stored.
    let record = |host: &str| {
        format!(
            "{{\"event_type\": \"log\", \"host\": \"{host}\", \"log\": {{\"line\": \"{line}\"}}, \
             \"timestamp\": \"2026-11-27T10:02:11.000000+0000\"}}"
        )
        .into_bytes()
    };
    let now = Timestamp::from_secs(T0);
    let batch = vec![
        // Names the authenticated source: stored as received.
        Sequenced::parse(Some(1), record("work"), now),
        // Names another host: rewritten with the source, the claim kept aside.
        Sequenced::parse(Some(2), record("vault"), now),
        // Not JSON: kept as a log line.
        Sequenced::parse(Some(3), b"plain text".to_vec(), now),
    ];
    assert_eq!(
        batch[0].received.as_deref().map(str::as_bytes),
        Some(&record("work")[..])
    );
    assert!(batch[2].received.is_none());
    let analysed = ingest.analyse("work", 0, batch);
    store_analysed(&mut store, &analysed, now).expect("store");
    let logs = store.events_of_type("log", 10).expect("logs");
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert!(logs.contains(&String::from_utf8(record("work")).expect("utf8")));
    let rewritten = logs
        .iter()
        .map(|eve| serde_json::from_str::<Value>(eve).expect("json"))
        .find(|eve| eve["picket"]["claimed_host"] == "vault")
        .expect("the forged record, rewritten");
    assert_eq!(rewritten["host"], "work");
    assert_eq!(rewritten["log"]["line"], line);
    assert!(logs.iter().any(|eve| eve.contains("plain text")));
    // Both analysed, the first raising its alert.
    assert_eq!(analysed.report.analysed, 3);
    assert!(analysed.report.alerts >= 1);
}
