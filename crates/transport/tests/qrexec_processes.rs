//! Agent and manager as separate processes over pipes, the way qrexec connects them: the
//! agent runs a command whose stdin/stdout reach the manager's service, and the service
//! learns the caller from `QREXEC_REMOTE_DOMAIN`. The manager process is this test
//! helper binary `picket-transport-test-peer` (testpeer/main.rs).

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use picket_transport::client::{ClientConfig, Pump, QrexecClient};
use picket_transport::spool::{Spool, SpoolConfig};

/// What the child manager stored, read back: per source, its epoch and the stored records.
struct Stored {
    epoch: HashMap<String, u64>,
    records: Vec<(String, u64, String)>,
    flags: Vec<String>,
}

fn read_store(path: &Path) -> Stored {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut s = Stored {
        epoch: HashMap::new(),
        records: Vec::new(),
        flags: Vec::new(),
    };
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        match f.as_slice() {
            ["H", src, epoch] => {
                s.epoch
                    .insert((*src).to_owned(), epoch.parse().expect("epoch"));
            }
            ["R", src, seq, rec] => s.records.push((
                (*src).to_owned(),
                seq.parse().expect("seq"),
                (*rec).to_owned(),
            )),
            ["F", src, flag] => s.flags.push(format!("{src} {flag}")),
            _ => {} // a line torn by SIGKILL is not acked, so it will come again
        }
    }
    s
}

fn manager_command(out: &Path, remote: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_picket-transport-test-peer"));
    c.arg(out)
        .env("QREXEC_REMOTE_DOMAIN", remote)
        .stderr(Stdio::null());
    c
}

fn fill(spool: &mut Spool, n: u64) {
    for i in 0..n {
        spool
            .append(format!("{{\"event_type\":\"log\",\"i\":{i}}}").as_bytes())
            .expect("append");
    }
}

#[test]
fn agent_and_manager_processes_over_pipes_with_forged_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("store.tsv");
    let mut spool = Spool::open(dir.path().join("spool"), SpoolConfig::default()).expect("spool");
    fill(&mut spool, 3000);
    // The agent claims to be dom0; the service was told by "dom0" (env) it is `work`.
    let mut client = QrexecClient::spawn(
        manager_command(&out, "work"),
        &mut spool,
        ClientConfig::new("dom0"),
    )
    .expect("spawn");
    client.link.drain(&mut spool).expect("drain");
    assert_eq!(spool.acked(), 3000);
    let status = client.finish().expect("wait");
    assert!(status.success(), "{status:?}");
    let stored = read_store(&out);
    assert_eq!(stored.records.len(), 3000);
    assert!(
        stored.records.iter().all(|r| r.0 == "work"),
        "source comes from dom0 only"
    );
    assert!(stored
        .records
        .iter()
        .enumerate()
        .all(|(i, r)| r.1 == i as u64 + 1));
    assert!(
        stored
            .flags
            .iter()
            .any(|f| f.starts_with("work ClaimMismatch") && f.contains("dom0")),
        "forged claim flagged: {:?}",
        stored.flags
    );
    assert_eq!(spool.counters().segments, 0, "acked segments deleted");
}

/// SIGKILL the manager in mid-stream, start it again: no acknowledged record is lost and
/// none is stored twice.
#[test]
fn manager_killed_mid_stream_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("store.tsv");
    let mut spool = Spool::open(dir.path().join("spool"), SpoolConfig::default()).expect("spool");
    let total = 20_000;
    fill(&mut spool, total);
    let mut config = ClientConfig::new("work");
    config.batch_records = 50;
    config.window = 400;
    let mut kills = 0;
    while spool.acked() < total {
        let mut client =
            QrexecClient::spawn(manager_command(&out, "work"), &mut spool, config.clone())
                .expect("spawn");
        let acked_at_start = spool.acked();
        let result = loop {
            match client.link.pump(&mut spool) {
                Ok(Pump::Idle) => break Ok(()),
                Ok(Pump::Progress) => {}
                Err(e) => break Err(e),
            }
            if kills < 3 && spool.acked() > acked_at_start + 2_000 {
                client.child_mut().kill().expect("SIGKILL manager");
                kills += 1;
            }
        };
        let acked_before_kill = spool.acked();
        let _ = client.finish();
        if result.is_ok() {
            break;
        }
        // Everything acked so far must be in the store already.
        let stored = read_store(&out);
        let have: std::collections::BTreeSet<u64> = stored.records.iter().map(|r| r.1).collect();
        assert!(
            (1..=acked_before_kill).all(|s| have.contains(&s)),
            "acked record lost"
        );
    }
    assert_eq!(kills, 3);
    let stored = read_store(&out);
    let seqs: Vec<u64> = stored.records.iter().map(|r| r.1).collect();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "each record stored exactly once, in order"
    );
}
