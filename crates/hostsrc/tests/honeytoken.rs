//! Honeytokens with real fanotify (as root) and real inotify.

use picket_hostsrc::honeytoken::{HoneytokenConfig, HoneytokenSource, Method};
use picket_hostsrc::{Counters, Source};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn token(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("passwords.kdbx");
    std::fs::write(&path, b"bait").expect("write token");
    std::fs::canonicalize(&path).expect("canonical")
}

fn wait_for(source: &mut HoneytokenSource, limit: Duration) -> Vec<picket_event::Event> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while out.is_empty() && Instant::now() < deadline {
        source
            .poll(Duration::from_millis(100), &mut out)
            .expect("poll");
    }
    out
}

#[test]
fn fanotify_names_the_process_that_opened_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = token(dir.path());
    let config = HoneytokenConfig {
        paths: vec![path.clone()],
        method: Method::Fanotify,
    };
    let mut source = match HoneytokenSource::start(&config, Arc::new(Counters::default())) {
        Ok(s) => s,
        Err(e) if nix::unistd::geteuid().as_raw() != 0 => {
            println!("SKIPPED fanotify test: not root and fanotify refused ({e})");
            return;
        }
        Err(e) => panic!("fanotify as root: {e}"),
    };
    // The shell opens the token itself and stays alive, so /proc/PID/exe can be read.
    let mut child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("exec 3< \"$1\"; read -r x <&3; sleep 2")
        .arg("sh")
        .arg(&path)
        .spawn()
        .expect("spawn sh");
    let events = wait_for(&mut source, Duration::from_secs(3));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.event_type, "honeytoken");
    assert_eq!(e.body["method"], "fanotify");
    assert_eq!(e.body["path"], path.to_string_lossy().as_ref());
    assert_eq!(e.body["pid"], child.id());
    let sh = std::fs::canonicalize("/bin/sh").expect("sh");
    assert_eq!(e.body["exe"], sh.to_string_lossy().as_ref());
    assert_eq!(e.body["uid"], nix::unistd::getuid().as_raw());
    let access = e.body["access"].as_array().expect("access");
    assert!(access.contains(&serde_json::json!("open")), "{access:?}");
}

#[test]
fn inotify_fallback_sees_the_open_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = token(dir.path());
    let config = HoneytokenConfig {
        paths: vec![path.clone()],
        method: Method::Inotify,
    };
    let mut source =
        HoneytokenSource::start(&config, Arc::new(Counters::default())).expect("inotify");
    assert_eq!(source.method(), "inotify");
    let status = std::process::Command::new("cat")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("cat");
    assert!(status.success());
    let events = wait_for(&mut source, Duration::from_secs(3));
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.body["method"], "inotify");
    assert!(e.body.get("pid").is_none());
    assert!(e.body["note"]
        .as_str()
        .unwrap_or("")
        .contains("no process information"));
}

#[test]
fn untouched_token_stays_quiet_and_missing_token_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = token(dir.path());
    let config = HoneytokenConfig {
        paths: vec![path],
        method: Method::Auto,
    };
    let mut source =
        HoneytokenSource::start(&config, Arc::new(Counters::default())).expect("start");
    let mut out = Vec::new();
    source
        .poll(Duration::from_millis(200), &mut out)
        .expect("poll");
    assert!(out.is_empty(), "{out:#?}");
    let missing = HoneytokenConfig {
        paths: vec![dir.path().join("absent")],
        method: Method::Auto,
    };
    let err = HoneytokenSource::start(&missing, Arc::new(Counters::default()))
        .expect_err("missing token");
    assert!(err.to_string().contains("absent"), "{err}");
}
