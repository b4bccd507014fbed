//! The tailer against real files: rotation, truncation, long lines, bad UTF-8, and a restarted
//! reader that must neither lose nor repeat a line.

use picket_hostsrc::tail::{TailConfig, Tailer};
use picket_hostsrc::{Counters, Source};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn append(path: &Path, text: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text).expect("append");
}

fn tailer(path: &Path, state: &Path) -> Tailer {
    let mut config = TailConfig::new(path);
    config.from_start = true;
    config.max_line = 64;
    Tailer::new(
        vec![config],
        Some(state.to_path_buf()),
        Arc::new(Counters::default()),
    )
    .expect("tailer")
}

fn lines(t: &mut Tailer) -> Vec<String> {
    let mut out = Vec::new();
    t.poll(Duration::from_millis(0), &mut out).expect("poll");
    // A second poll picks up a file that replaced a rotated one.
    t.poll(Duration::from_millis(0), &mut out).expect("poll");
    out.iter()
        .map(|e| e.body["line"].as_str().expect("line").to_string())
        .collect()
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let state = dir.path().join("state/tail.json");
    (dir, log, state)
}

#[test]
fn partial_line_waits_for_its_newline() {
    let (_dir, log, state) = setup();
    append(&log, b"one\ntw");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["one"]);
    append(&log, b"o\n");
    assert_eq!(lines(&mut t), ["two"]);
}

#[test]
fn restart_resumes_without_loss_or_duplicate() {
    let (_dir, log, state) = setup();
    append(&log, b"a1\na2\na3\npart");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["a1", "a2", "a3"]);
    t.checkpoint().expect("checkpoint");
    drop(t);
    append(&log, b"ial\na4\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["partial", "a4"]);
    t.checkpoint().expect("checkpoint");
    drop(t);
    let mut t = tailer(&log, &state);
    assert!(lines(&mut t).is_empty());
}

#[test]
fn lines_read_but_not_checkpointed_are_read_again() {
    let (_dir, log, state) = setup();
    append(&log, b"x1\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["x1"]);
    t.checkpoint().expect("checkpoint");
    append(&log, b"x2\n");
    assert_eq!(lines(&mut t), ["x2"]);
    drop(t); // crashed before writing x2 out
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["x2"]);
}

#[test]
fn rename_and_create_rotation_while_running() {
    let (dir, log, state) = setup();
    append(&log, b"old1\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["old1"]);
    append(&log, b"old2\n");
    std::fs::rename(&log, dir.path().join("app.log.1")).expect("rename");
    append(&dir.path().join("app.log.1"), b"old3 late\n");
    append(&log, b"new1\n");
    assert_eq!(lines(&mut t), ["old2", "old3 late", "new1"]);
    append(&log, b"new2\n");
    assert_eq!(lines(&mut t), ["new2"]);
    assert_eq!(t.stats().rotations, 1);
}

#[test]
fn rotation_while_stopped_finishes_the_old_file_first() {
    let (dir, log, state) = setup();
    append(&log, b"r1\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["r1"]);
    t.checkpoint().expect("checkpoint");
    drop(t);
    append(&log, b"r2\n");
    std::fs::rename(&log, dir.path().join("app.log-20261127")).expect("rename");
    append(&log, b"r3\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["r2", "r3"]);
    t.checkpoint().expect("checkpoint");
    drop(t);
    let mut t = tailer(&log, &state);
    append(&log, b"r4\n");
    assert_eq!(lines(&mut t), ["r4"]);
}

#[test]
fn copytruncate_starts_again_at_zero() {
    let (_dir, log, state) = setup();
    append(&log, b"before1\nbefore2\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["before1", "before2"]);
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .expect("truncate");
    append(&log, b"after\n");
    assert_eq!(lines(&mut t), ["after"]);
    assert_eq!(t.stats().truncations, 1);
}

#[test]
fn truncation_while_stopped_is_noticed() {
    let (_dir, log, state) = setup();
    append(&log, b"a long first line\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t).len(), 1);
    t.checkpoint().expect("checkpoint");
    drop(t);
    std::fs::write(&log, b"short\n").expect("rewrite in place");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["short"]);
}

#[test]
fn long_lines_are_cut_and_counted_and_the_rest_skipped_across_restart() {
    let (_dir, log, state) = setup();
    let long = "x".repeat(100);
    append(&log, format!("{long}\nnext\n").as_bytes());
    let mut t = tailer(&log, &state);
    let got = lines(&mut t);
    assert_eq!(got, ["x".repeat(64), "next".to_string()]);
    assert_eq!(t.stats().lines_cut, 1);
    // A cut line whose end has not arrived yet: the rest is skipped even after a restart.
    append(&log, "y".repeat(80).as_bytes());
    assert_eq!(lines(&mut t), ["y".repeat(64)]);
    t.checkpoint().expect("checkpoint");
    drop(t);
    append(&log, b"yyyy tail of the long line\nafter\n");
    let mut t = tailer(&log, &state);
    assert_eq!(lines(&mut t), ["after"]);
}

#[test]
fn invalid_utf8_is_passed_on_lossily() {
    let (_dir, log, state) = setup();
    append(&log, b"caf\xe9 \xff\r\nok\n");
    let mut t = tailer(&log, &state);
    let mut out = Vec::new();
    t.poll(Duration::ZERO, &mut out).expect("poll");
    assert_eq!(out[0].body["line"], "caf\u{fffd} \u{fffd}");
    assert_eq!(out[0].body["lossy"], true);
    assert_eq!(out[0].event_type, "log");
    assert!(out[1].body.get("lossy").is_none());
}

#[test]
fn without_bookmark_starts_at_end_by_default() {
    let (_dir, log, _state) = setup();
    append(&log, b"history\n");
    let mut t = Tailer::new(
        vec![TailConfig::new(&log)],
        None,
        Arc::new(Counters::default()),
    )
    .expect("tailer");
    assert!(lines(&mut t).is_empty());
    append(&log, b"fresh\n");
    assert_eq!(lines(&mut t), ["fresh"]);
}

#[test]
fn many_lines_over_many_restarts_arrive_exactly_once() {
    let (dir, log, state) = setup();
    let mut seen = Vec::new();
    let mut next = 0;
    for round in 0..20 {
        for _ in 0..(round * 7 + 3) {
            append(&log, format!("line {next}\n").as_bytes());
            next += 1;
        }
        if round % 5 == 4 {
            std::fs::rename(&log, dir.path().join(format!("app.log.{round}"))).expect("rotate");
            append(&log, format!("line {next}\n").as_bytes());
            next += 1;
        }
        let mut t = tailer(&log, &state);
        seen.extend(lines(&mut t));
        t.checkpoint().expect("checkpoint");
    }
    let expected: Vec<String> = (0..next).map(|i| format!("line {i}")).collect();
    assert_eq!(seen, expected);
}
