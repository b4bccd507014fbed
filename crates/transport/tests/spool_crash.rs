//! A spool writer killed with SIGKILL mid-stream loses nothing it reported appended, and the
//! next open resumes the numbering. The writer is this same test executable, re-run with
//! `PICKET_SPOOL_CHILD` set so that only `child_writer` does anything.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use picket_transport::spool::{Appended, FsyncPolicy, Spool, SpoolConfig};

const CHILD_ENV: &str = "PICKET_SPOOL_CHILD";

fn record(seq: u64) -> Vec<u8> {
    format!(
        "{{\"event_type\":\"log\",\"n\":{seq},\"pad\":\"{}\"}}",
        "x".repeat((seq % 200) as usize)
    )
    .into_bytes()
}

fn config() -> SpoolConfig {
    let mut c = SpoolConfig::with_max_bytes(64 << 20);
    c.segment_bytes = 256 << 10;
    c.fsync = FsyncPolicy::Never;
    c
}

/// The child: appends forever, printing each sequence once `append` returned.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut spool = Spool::open(&dir, config()).expect("child opens spool");
    let mut out = std::io::stdout().lock();
    loop {
        let next = spool.last_seq() + 1;
        match spool.append(&record(next)).expect("append") {
            Appended::Stored(seq) => {
                assert_eq!(seq, next);
                use std::io::Write;
                writeln!(out, "appended {seq}").expect("stdout");
                out.flush().expect("flush");
            }
            Appended::Dropped => panic!("unexpected drop"),
        }
        if spool.last_seq().is_multiple_of(1000) {
            spool.ack(spool.last_seq() - 500).expect("ack");
        }
    }
}

fn run_child_until(dir: &std::path::Path, at_least: u64) -> u64 {
    let exe = std::env::current_exe().expect("test exe");
    let mut child = Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped");
    let mut last = 0u64;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read");
        if let Some(n) = line.strip_prefix("appended ") {
            last = n.parse().expect("number");
            if last >= at_least {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    last
}

#[test]
fn sigkilled_writer_loses_nothing_it_reported() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut reported = 0;
    for round in 1..=3u64 {
        let before = reported;
        reported = run_child_until(dir.path(), before + 5_000 * round);
        let mut spool = Spool::open(dir.path(), config()).expect("reopen after kill");
        assert!(
            spool.last_seq() >= reported,
            "round {round}: spool ends at {} but child reported {reported}",
            spool.last_seq()
        );
        let acked = spool.acked();
        let all = spool.read_from(1, usize::MAX, usize::MAX).expect("read");
        assert_eq!(all.first().map(|r| r.0), Some(acked + 1), "round {round}");
        for (i, (seq, body)) in all.iter().enumerate() {
            assert_eq!(*seq, acked + 1 + i as u64);
            assert_eq!(body, &record(*seq), "round {round} seq {seq}");
        }
        assert_eq!(spool.counters().dropped, 0);
        reported = spool.last_seq();
    }
}
