//! The store against a real SQLite file in a temporary directory.

use picket_event::{Alert, Event, Timestamp};
use picket_store::{AlertQuery, DeliveryState, Key, Retention, Store, MIGRATIONS};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const T0: i64 = 1_790_000_000; // 2026-09-21, seconds

fn log_event(secs: i64, line: &str) -> Event {
    let mut event = Event::new(Timestamp::from_secs(secs), "log");
    event.body = serde_json::json!({ "line": line, "location": "/var/log/auth.log" });
    event
}

fn alert_event(secs: i64, rule: u64, level: u8, text: &str) -> Event {
    let cause = log_event(secs, text);
    Alert {
        engine: "hids".into(),
        signature_id: rule,
        rev: 1,
        signature: text.into(),
        category: "test".into(),
        severity: Alert::severity_from_level(level),
        level: Some(level),
        groups: vec!["test".into()],
        mitre: Vec::new(),
    }
    .into_event(&cause)
}

fn temp() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("picket.db");
    (dir, path)
}

fn pragma(store_path: &std::path::Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(store_path).expect("open");
    conn.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    })
    .expect("pragma")
}

#[test]
fn migrations_apply_from_empty_and_reopen_is_idempotent() {
    let (_dir, path) = temp();
    let latest = MIGRATIONS.last().expect("migrations").version;
    {
        let mut store = Store::open(&path).expect("create");
        assert_eq!(store.schema_version().expect("version"), latest);
        let event = log_event(T0, "first");
        store.insert_events("work", [(1, &event)]).expect("insert");
    }
    assert_eq!(pragma(&path, "journal_mode"), "wal");
    assert_eq!(pragma(&path, "auto_vacuum"), "2", "incremental auto_vacuum");
    for _ in 0..3 {
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.schema_version().expect("version"), latest);
        assert_eq!(store.count().expect("count"), 1, "reopening keeps the data");
    }
    let reader = Store::open_read_only(&path).expect("read-only open");
    assert_eq!(reader.count().expect("count"), 1);
}

#[test]
fn newer_schema_is_refused_not_downgraded() {
    let (_dir, path) = temp();
    drop(Store::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 999).expect("bump");
    }
    let error = Store::open(&path).expect_err("newer schema");
    assert!(error.to_string().contains("newer"), "{error}");
    assert!(Store::open_read_only(&path).is_err());
}

#[test]
fn read_only_open_of_missing_file_says_so_and_creates_nothing() {
    let (_dir, path) = temp();
    let error = Store::open_read_only(&path).expect_err("missing");
    assert!(error.to_string().contains("no database"), "{error}");
    assert!(!path.exists());
}

#[test]
fn duplicate_source_and_sequence_is_stored_once() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).expect("open");
    let events: Vec<Event> = (0..10).map(|i| log_event(T0 + i, "line")).collect();
    let first = store
        .insert_events(
            "work",
            events.iter().enumerate().map(|(i, e)| (i as u64, e)),
        )
        .expect("first delivery");
    assert_eq!((first.inserted, first.duplicates), (10, 0));
    // The resend after a lost ack, overlapping with new events.
    let again = store
        .insert_events(
            "work",
            events.iter().enumerate().map(|(i, e)| (i as u64 + 5, e)),
        )
        .expect("second delivery");
    assert_eq!((again.inserted, again.duplicates), (5, 5));
    // The same sequence number from another source is another event.
    let other = store
        .insert_events("personal", [(0, &events[0])])
        .expect("other source");
    assert_eq!(other.inserted, 1);
    // An alert derived from event 3 is a separate part of the same key.
    let mut batch = store.batch().expect("batch");
    let alert_key = Key::new("work", 3).part(1);
    assert!(batch
        .insert(alert_key, &alert_event(T0, 5716, 5, "x"))
        .expect("alert"));
    assert!(!batch
        .insert(alert_key, &alert_event(T0, 5716, 5, "x"))
        .expect("alert again"));
    // A new spool epoch restarts the numbering: seq 3 again is a new event.
    let new_epoch = Key {
        epoch: 2,
        ..Key::new("work", 3)
    };
    assert!(batch.insert(new_epoch, &events[0]).expect("new epoch"));
    // Records without sequence numbers (qubes.Log lines) are all kept.
    let unsequenced = Key {
        seq: None,
        ..Key::new("work", 0)
    };
    assert!(batch.insert(unsequenced, &events[0]).expect("line"));
    assert!(batch
        .insert(unsequenced, &events[0])
        .expect("same line again"));
    batch.commit().expect("commit");
    assert_eq!(store.count().expect("count"), 20);
    // u64 sequence numbers above i64::MAX stay distinct.
    let high = store
        .insert_events("work", [(u64::MAX, &events[0]), (u64::MAX - 1, &events[1])])
        .expect("high");
    assert_eq!(high.inserted, 2);
}

#[test]
fn many_rows_at_once_store_each_new_key_once_in_order() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).expect("open");
    // 70 rows: statements of 32, 32, 4 and 2 rows.
    let events: Vec<(Key<'_>, Event)> = (0..70u64)
        .map(|i| {
            if i % 2 == 1 {
                (
                    Key::new("work", i / 2).part(1),
                    alert_event(T0, 5700 + i, 5, "x"),
                )
            } else {
                (Key::new("work", i / 2), log_event(T0 + i as i64, "line"))
            }
        })
        .collect();
    let eves: Vec<String> = events
        .iter()
        .map(|(_, e)| e.to_eve_line(picket_event::EveMode::Extended))
        .collect();
    let rows: Vec<picket_store::Row<'_>> = events
        .iter()
        .zip(&eves)
        .map(|((key, e), eve)| picket_store::Row {
            key: *key,
            timestamp: e.timestamp,
            event_type: &e.event_type,
            alert: picket_store::AlertColumns::of(e),
            eve,
        })
        .collect();
    let mut batch = store.batch().expect("batch");
    assert_eq!(batch.insert_rows(&rows).expect("insert"), 70);
    // A resend overlapping the end, and one duplicate inside the same statement.
    let again = [rows[60], rows[69], rows[0], rows[0]];
    assert_eq!(batch.insert_rows(&again).expect("again"), 0);
    let report = batch.commit().expect("commit");
    assert_eq!((report.inserted, report.duplicates), (70, 4));
    assert_eq!(store.count().expect("count"), 70);
    assert_eq!(store.count_type("alert").expect("count"), 35);
    // Rows keep their order (the follow cursor) and their alert columns.
    let alerts = store
        .alerts(&AlertQuery {
            rule_id: Some(5701),
            ..AlertQuery::default()
        })
        .expect("query");
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].id, alerts[0].seq, alerts[0].part),
        (2, Some(0), 1)
    );
}

#[test]
fn uncommitted_batch_is_rolled_back() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).expect("open");
    {
        let mut batch = store.batch().expect("batch");
        batch
            .insert(Key::new("work", 1), &log_event(T0, "lost"))
            .expect("insert");
    }
    assert_eq!(store.count().expect("count"), 0);
}

fn filled(path: &std::path::Path, n: u64) -> Store {
    let mut store = Store::open(path).expect("open");
    let padding = "x".repeat(200);
    let mut batch = store.batch().expect("batch");
    for i in 0..n {
        let event = if i % 10 == 0 {
            alert_event(T0 + i as i64, 5700 + i % 7, (i % 16) as u8, &padding)
        } else {
            log_event(T0 + i as i64, &padding)
        };
        batch.insert(Key::new("work", i), &event).expect("insert");
    }
    batch.commit().expect("commit");
    store
}

#[test]
fn retention_by_size_shrinks_the_file() {
    let (_dir, path) = temp();
    let mut store = filled(&path, 40_000);
    store.checkpoint().expect("checkpoint");
    let before = store.size().expect("size");
    assert!(before.file_bytes > 8_000_000, "{before:?}");
    let max = 2_000_000;
    let report = store
        .apply_retention(
            &Retention {
                max_age: None,
                max_bytes: Some(max),
            },
            Timestamp::from_secs(T0),
        )
        .expect("retention");
    let after = store.size().expect("size");
    assert!(report.deleted_by_size > 30_000, "{report:?}");
    assert_eq!(report.deleted_by_age, 0);
    assert!(report.pages_freed > 0, "{report:?}");
    assert!(after.used_bytes() <= max, "{after:?}");
    assert!(
        after.file_bytes <= max + 64 * 1024,
        "the file itself shrank: {before:?} -> {after:?}"
    );
    let on_disk = std::fs::metadata(&path).expect("stat").len();
    assert!(on_disk <= max + 64 * 1024, "{on_disk}");
    // The newest survive; the oldest went first.
    let newest = store
        .alerts(&AlertQuery {
            limit: Some(1),
            ..AlertQuery::default()
        })
        .expect("query");
    assert_eq!(newest[0].seq, Some(39_990));
    store.integrity_check().expect("intact");
    // Under the limit nothing more is deleted.
    let again = store
        .apply_retention(
            &Retention {
                max_age: None,
                max_bytes: Some(max),
            },
            Timestamp::from_secs(T0),
        )
        .expect("retention");
    assert_eq!(again.deleted_by_size, 0);
}

#[test]
fn retention_by_age_removes_only_older_events() {
    let (_dir, path) = temp();
    let mut store = filled(&path, 1000);
    let now = Timestamp::from_secs(T0 + 1000);
    let report = store
        .apply_retention(
            &Retention {
                max_age: Some(Duration::from_secs(300)),
                max_bytes: None,
            },
            now,
        )
        .expect("retention");
    assert_eq!(report.deleted_by_age, 700);
    assert_eq!(store.count().expect("count"), 300);
}

#[test]
fn alert_filters_use_the_alert_index_and_never_sort_or_scan_the_table() {
    let (_dir, path) = temp();
    let store = filled(&path, 2000);
    // With statistics, as the manager keeps them (each retention pass refreshes them).
    store.analyze().expect("analyze");
    let plan = |query: AlertQuery| store.explain(&query).expect("explain").join(" | ");
    let filters = [
        ("all", AlertQuery::default()),
        (
            "rule",
            AlertQuery {
                rule_id: Some(5701),
                ..AlertQuery::default()
            },
        ),
        (
            "severity",
            AlertQuery {
                max_severity: Some(1),
                ..AlertQuery::default()
            },
        ),
        (
            "level",
            AlertQuery {
                min_level: Some(14),
                ..AlertQuery::default()
            },
        ),
        (
            "rule, severity and level",
            AlertQuery {
                rule_id: Some(5701),
                max_severity: Some(2),
                min_level: Some(3),
                ..AlertQuery::default()
            },
        ),
        (
            "since",
            AlertQuery {
                since: Some(Timestamp::from_secs(T0 + 1500)),
                ..AlertQuery::default()
            },
        ),
        (
            "rule since",
            AlertQuery {
                rule_id: Some(5701),
                since: Some(Timestamp::from_secs(T0 + 1500)),
                ..AlertQuery::default()
            },
        ),
        (
            "follow",
            AlertQuery {
                after_id: Some(1000),
                ..AlertQuery::default()
            },
        ),
    ];
    for (name, query) in filters {
        let plan = plan(query);
        println!("{name}: {plan}");
        // Word by word: `events_alert` must not match a longer name.
        let words: Vec<&str> = plan.split_whitespace().collect();
        assert!(
            words
                .windows(2)
                .any(|w| w[0] == "INDEX" && (w[1] == "events_alert" || w[1] == "events_ts")),
            "{name}: an index: {plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{name}: no sort: {plan}");
        if name.contains("since") {
            // Seeks to the first id at or after `since` instead of walking every alert.
            assert!(
                plan.contains("SEARCH events USING INDEX events_alert (id>?)")
                    && plan.contains("SEARCH events USING COVERING INDEX events_ts (ts>?)"),
                "{name}: {plan}"
            );
        }
    }
    // The id bound changes nothing in what `since` returns, alone or with `until`.
    for (since, until) in [
        (1500, None),
        (1995, None),
        (5000, None),
        (0, None),
        (500, Some(900)),
    ] {
        let got: Vec<i64> = store
            .alerts(&AlertQuery {
                since: Some(Timestamp::from_secs(T0 + since)),
                until: until.map(|u| Timestamp::from_secs(T0 + u)),
                limit: Some(10_000),
                ..AlertQuery::default()
            })
            .expect("query")
            .iter()
            .map(|r| r.id)
            .collect();
        let want: Vec<i64> = store
            .alerts(&AlertQuery {
                limit: Some(10_000),
                ..AlertQuery::default()
            })
            .expect("query")
            .iter()
            .filter(|r| {
                let secs = r.timestamp.as_secs() - T0;
                secs >= since && until.is_none_or(|u| secs < u)
            })
            .map(|r| r.id)
            .collect();
        assert_eq!(got, want, "since {since} until {until:?}");
    }
    // And the filters return what they say.
    let rule = store
        .alerts(&AlertQuery {
            rule_id: Some(5701),
            limit: Some(1000),
            ..AlertQuery::default()
        })
        .expect("query");
    assert!(!rule.is_empty());
    assert!(rule.iter().all(|r| r.eve.contains("\"signature_id\":5701")));
    let severe = store
        .alerts(&AlertQuery {
            min_level: Some(12),
            limit: Some(1000),
            ..AlertQuery::default()
        })
        .expect("query");
    assert!(!severe.is_empty());
    for row in &severe {
        let eve: serde_json::Value = serde_json::from_str(&row.eve).expect("json");
        assert!(eve["picket"]["level"].as_u64().expect("level") >= 12);
        assert_eq!(eve["alert"]["severity"], 1);
    }
    assert!(severe.windows(2).all(|w| w[0].id > w[1].id), "newest first");
}

#[test]
fn time_source_and_text_filters() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).expect("open");
    let mut batch = store.batch().expect("batch");
    batch
        .insert(
            Key::new("work", 1),
            &alert_event(T0, 1, 5, "sshd brute force 100%"),
        )
        .expect("a");
    batch
        .insert(
            Key::new("vault", 1),
            &alert_event(T0 + 60, 2, 5, "sudo to root"),
        )
        .expect("b");
    batch
        .insert(
            Key::new("work", 2),
            &alert_event(T0 + 120, 3, 5, "sshd_login"),
        )
        .expect("c");
    batch.commit().expect("commit");
    let ids = |query: AlertQuery| -> Vec<u64> {
        store
            .alerts(&query)
            .expect("query")
            .iter()
            .map(|r| {
                let eve: serde_json::Value = serde_json::from_str(&r.eve).expect("json");
                eve["alert"]["signature_id"].as_u64().expect("sid")
            })
            .collect()
    };
    assert_eq!(
        ids(AlertQuery {
            source: Some("work".into()),
            ..AlertQuery::default()
        }),
        vec![3, 1]
    );
    assert_eq!(
        ids(AlertQuery {
            since: Some(Timestamp::from_secs(T0 + 30)),
            until: Some(Timestamp::from_secs(T0 + 120)),
            ..AlertQuery::default()
        }),
        vec![2]
    );
    assert_eq!(
        ids(AlertQuery {
            text: Some("SSHD".into()),
            ..AlertQuery::default()
        }),
        vec![3, 1],
        "case-insensitive"
    );
    // % and _ are literal characters, not wildcards.
    assert_eq!(
        ids(AlertQuery {
            text: Some("100%".into()),
            ..AlertQuery::default()
        }),
        vec![1]
    );
    assert_eq!(
        ids(AlertQuery {
            text: Some("d_l".into()),
            ..AlertQuery::default()
        }),
        vec![3]
    );
    assert_eq!(
        ids(AlertQuery {
            limit: Some(2),
            ..AlertQuery::default()
        }),
        vec![3, 2]
    );
}

#[test]
fn follow_cursor_returns_only_new_rows_in_order() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).expect("open");
    store
        .insert_events("work", [(1, &alert_event(T0, 1, 5, "old"))])
        .expect("old");
    let cursor = store.last_id().expect("last id");
    let follow = AlertQuery {
        after_id: Some(cursor),
        ..AlertQuery::default()
    };
    assert!(store.alerts(&follow).expect("none yet").is_empty());
    let news = [
        alert_event(T0 + 1, 2, 5, "new one"),
        log_event(T0 + 2, "not an alert"),
        alert_event(T0 + 3, 3, 5, "new two"),
    ];
    store
        .insert_events(
            "work",
            news.iter().enumerate().map(|(i, e)| (10 + i as u64, e)),
        )
        .expect("new");
    let rows = store.alerts(&follow).expect("follow");
    assert_eq!(rows.len(), 2);
    assert!(rows[0].eve.contains("new one") && rows[1].eve.contains("new two"));
    assert!(rows[0].id > cursor && rows[1].id > rows[0].id);
    let next = AlertQuery {
        after_id: Some(rows[1].id),
        ..AlertQuery::default()
    };
    assert!(store.alerts(&next).expect("caught up").is_empty());
}

#[test]
fn silent_sources_are_those_not_heard_from_in_time() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).expect("open");
    let at = Timestamp::from_secs;
    store.expect_source("vault", at(T0)).expect("expect");
    let mut batch = store.batch().expect("batch");
    batch.saw_source("work", at(T0), 10).expect("work");
    batch
        .saw_source("personal", at(T0 + 50), 3)
        .expect("personal");
    batch.commit().expect("commit");
    let mut batch = store.batch().expect("batch");
    batch
        .saw_source("work", at(T0 + 100), 5)
        .expect("work again");
    // A late-arriving older time never moves last_seen back.
    batch.saw_source("personal", at(T0 + 10), 1).expect("late");
    batch.commit().expect("commit");
    let silent = store
        .silent_sources(at(T0 + 120), Duration::from_secs(60))
        .expect("silent");
    let names: Vec<&str> = silent.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["vault", "personal"], "longest silent first");
    assert_eq!(silent[0].events, 0);
    let all = store.sources().expect("sources");
    let work = all.iter().find(|s| s.name == "work").expect("work");
    assert_eq!(
        (work.events, work.first_seen, work.last_seen),
        (15, at(T0), at(T0 + 100))
    );
}

/// Environment flag that turns [`kill9_child_writer`] into the writer process.
const CHILD_ENV: &str = "PICKET_STORE_KILL9_CHILD";
const BATCH: u64 = 100;

/// The child half of the kill -9 test: inserts batches forever and reports each commit.
#[test]
fn kill9_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open(&path).expect("child open");
    let event = log_event(T0, &"y".repeat(300));
    for batch_number in 0u64.. {
        let mut batch = store.batch().expect("batch");
        for i in 0..BATCH {
            batch
                .insert(Key::new("work", batch_number * BATCH + i), &event)
                .expect("insert");
        }
        batch
            .save_delivery(&DeliveryState {
                source: "work".into(),
                stored: (batch_number + 1) * BATCH - 1,
                ..DeliveryState::default()
            })
            .expect("delivery state");
        batch.commit().expect("commit");
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "committed {batch_number}").expect("report");
        out.flush().expect("flush");
    }
}

#[test]
fn kill_9_mid_insert_leaves_every_committed_batch() {
    let (_dir, path) = temp();
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "kill9_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut reported = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read");
        if let Some(n) = line.strip_prefix("committed ") {
            let n: u64 = n.trim().parse().expect("batch number");
            reported = Some(n);
            if n >= 200 {
                break;
            }
        }
    }
    // SIGKILL, in the middle of whatever batch comes next.
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let last = reported.expect("the writer committed something");
    let store = Store::open(&path).expect("reopen after kill");
    store.integrity_check().expect("consistent after kill -9");
    let rows = store.count().expect("count");
    assert!(
        rows >= (last + 1) * BATCH,
        "{rows} rows, batch {last} reported committed"
    );
    assert_eq!(rows % BATCH, 0, "no batch is half stored: {rows}");
    let conn = rusqlite::Connection::open(&path).expect("open");
    let (min, max, distinct): (i64, i64, i64) = conn
        .query_row(
            "SELECT min(seq), max(seq), count(DISTINCT seq) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("seq range");
    assert_eq!(
        (min, distinct),
        (0, max + 1),
        "every committed batch, contiguous"
    );
}

#[test]
fn another_connection_checkpoints_for_the_writer_and_the_wal_restarts() {
    let (_dir, path) = temp();
    let mut writer = Store::open_with(
        &path,
        &picket_store::Options {
            wal_autocheckpoint: 0,
            ..picket_store::Options::default()
        },
    )
    .expect("writer");
    let checkpointer = Store::open(&path).expect("checkpointer");
    let write = |writer: &mut Store, from: u64| {
        let events: Vec<Event> = (0..500)
            .map(|i| log_event(T0 + i, &format!("line {i} {}", "x".repeat(200))))
            .collect();
        writer
            .insert_events(
                "work",
                events.iter().enumerate().map(|(i, e)| (from + i as u64, e)),
            )
            .expect("insert");
    };
    write(&mut writer, 0);
    let first = checkpointer.checkpoint_passive().expect("checkpoint");
    assert!(first.wal_frames > 10, "{first:?}");
    assert_eq!(first.checkpointed, first.wal_frames, "nothing held it back");
    // The writer's next transaction starts the WAL over instead of growing it.
    write(&mut writer, 1000);
    let second = checkpointer.checkpoint_passive().expect("checkpoint");
    assert!(
        second.wal_frames < 2 * first.wal_frames,
        "{first:?} then {second:?}"
    );
    assert_eq!(second.checkpointed, second.wal_frames);
    assert_eq!(writer.count().expect("count"), 1000);
    writer.integrity_check().expect("intact");
}
