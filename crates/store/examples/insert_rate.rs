//! Insert rate of the store alone, without the rest of picket:
//! `cargo run --release -p picket-store --example insert_rate -- [EVENTS] [ALERT_EVERY] [LOG]`.
//! `picket bench store` is the full benchmark; this one builds in seconds. Every
//! `ALERT_EVERY`-th event also gets an alert row (0: none). `DROP_INDEXES=a,b` drops those
//! indexes first, to measure what each costs, and `EXTRA_SQL=...` runs after them. `SOURCES=N` sends batches from N sources in
//! turn. `MANY=1` stores each batch with `Batch::insert_rows` instead of row by row.

use picket_event::EveMode;
use picket_event::{Alert, Event, Timestamp};
use picket_store::{AlertColumns, Key, Row, Store};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(Ok(300_000), |a| a.parse())?;
    let alert_every: u64 = args.next().map_or(Ok(2), |a| a.parse())?;
    let lines: Vec<String> = match args.next() {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .take(100_000)
            .map(str::to_string)
            .collect(),
        None => vec!["Nov 27 10:02:15 sys-net sshd[1602]: Failed password for user from 198.51.100.23 port 36102 ssh2".into()],
    };
    let dir = std::env::temp_dir().join(format!("picket-insert-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut store = Store::open(dir.join("picket.db"))?;
    if let Ok(drop) = std::env::var("DROP_INDEXES") {
        let conn = rusqlite::Connection::open(dir.join("picket.db"))?;
        for index in drop.split(',').filter(|i| !i.is_empty()) {
            conn.execute_batch(&format!("DROP INDEX {index}"))?;
        }
    }
    // EXTRA_SQL=...: run after the drops, to measure an index that might replace them.
    if let Ok(sql) = std::env::var("EXTRA_SQL") {
        rusqlite::Connection::open(dir.join("picket.db"))?.execute_batch(&sql)?;
    }
    let base = Timestamp::now().as_secs();
    let mut rows = 0u64;
    let wall = Instant::now();
    let mut seq = 0u64;
    // SOURCES=N: batches come from N sources in turn, as from N agents at once.
    let sources: u64 = std::env::var("SOURCES").map_or(Ok(1), |n| n.parse())?;
    let names: Vec<String> = (0..sources.max(1))
        .map(|i| format!("qube-{i:03}"))
        .collect();
    let mut batches = 0usize;
    let mut store_cpu = 0.0f64;
    // MANY=1: through `Batch::insert_rows`, as the manager's writer stores.
    let many = std::env::var_os("MANY").is_some();
    while seq < events {
        let source = &names[batches % names.len()];
        batches += 1;
        let mut pending: Vec<(Key<'_>, Event)> = Vec::with_capacity(2000);
        for _ in 0..1000 {
            let line = &lines[(seq % lines.len() as u64) as usize];
            let mut event = Event::new(Timestamp::from_secs(base + (seq / 100) as i64), "log");
            event.host = Some(source.clone());
            event.body = serde_json::json!({"path": "/var/log/auth.log", "line": line});
            pending.push((Key::new(source, seq), event.clone()));
            rows += 1;
            if alert_every > 0 && seq.is_multiple_of(alert_every) {
                let mut alert = Alert {
                    engine: "hids".into(),
                    // Forty rules, as the demo story raises, so the rule index is not one key.
                    signature_id: 100100 + seq % 40,
                    rev: 1,
                    signature: "sshd: failed login for user from 198.51.100.23".into(),
                    category: "syslog,sshd,authentication_failed".into(),
                    severity: 3 - (seq % 3) as u8,
                    level: Some((seq % 16) as u8),
                    groups: vec![
                        "syslog".into(),
                        "sshd".into(),
                        "authentication_failed".into(),
                    ],
                    mitre: vec!["T1110".into()],
                }
                .into_event(&event);
                alert.picket.insert("full_log".into(), line.as_str().into());
                pending.push((Key::new(source, seq).part(1), alert));
                rows += 1;
            }
            seq += 1;
        }
        let eves: Vec<String> = if many {
            pending
                .iter()
                .map(|(_, e)| e.to_eve_line(EveMode::Extended))
                .collect()
        } else {
            Vec::new()
        };
        // Only the store's own work is timed: building the events stands in for the sender.
        let cpu_before = thread_cpu_seconds();
        let mut batch = store.batch()?;
        if many {
            let rows: Vec<Row<'_>> = pending
                .iter()
                .zip(&eves)
                .map(|((key, e), eve)| Row {
                    key: *key,
                    timestamp: e.timestamp,
                    event_type: &e.event_type,
                    alert: AlertColumns::of(e),
                    eve,
                })
                .collect();
            batch.insert_rows(&rows)?;
        } else {
            for (key, event) in &pending {
                batch.insert(*key, event)?;
            }
        }
        batch.commit()?;
        store_cpu += thread_cpu_seconds() - cpu_before;
    }
    let secs = wall.elapsed().as_secs_f64();
    store.checkpoint()?;
    let size = store.size()?;
    println!(
        "{events} events ({rows} rows) in {secs:.2} s: {:.0} events/s, {:.0} rows/s, {:.1} MB; \
         store alone {store_cpu:.2} s CPU: {:.0} rows per CPU-second",
        events as f64 / secs,
        rows as f64 / secs,
        size.file_bytes as f64 / 1e6,
        rows as f64 / store_cpu.max(0.001)
    );
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// CPU time of the calling thread in seconds, from the scheduler's nanosecond count (the
/// tick counts in `stat` are too coarse for one batch).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}
