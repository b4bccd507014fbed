//! The journald follower against a fake `journalctl` on PATH (CI may have no journald).
//! One test function: it changes PATH, which no other test in this binary may race with.

use picket_hostsrc::journal::{JournalConfig, JournalSource};
use picket_hostsrc::{Counters, Error, Source};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENTRIES: &str = r#"{"__CURSOR":"s=abc;i=1","__REALTIME_TIMESTAMP":"1700000000000001","MESSAGE":"first","_PID":"10","SYSLOG_IDENTIFIER":"sshd"}
{"__CURSOR":"s=abc;i=2","__REALTIME_TIMESTAMP":"1700000000000002","MESSAGE":[98,97,100,255,33]}
garbage that is not json
{"__CURSOR":"s=abc;i=3","__REALTIME_TIMESTAMP":"1700000000000003","MESSAGE":"third"}
"#;

fn fake_journalctl(dir: &Path) {
    // Records its arguments, prints the entries after the cursor it is given, then follows
    // (sleeps) like the real one.
    let script = r#"#!/bin/sh
here=$(dirname "$0")
echo "$@" >> "$here/args"
after=""
for a in "$@"; do
  case "$a" in --after-cursor=*) after="${a#--after-cursor=}";; esac
done
if [ -n "$after" ]; then
  awk -v c="$after" 'found {print} index($0, "\"" c "\"") {found=1}' "$here/entries"
else
  cat "$here/entries"
fi
exec sleep 30
"#;
    let path = dir.join("journalctl");
    std::fs::write(&path, script).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.join("entries"), ENTRIES).expect("entries");
}

fn collect(source: &mut JournalSource, want: usize) -> Vec<picket_event::Event> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        source
            .poll(Duration::from_millis(100), &mut out)
            .expect("poll");
    }
    out
}

#[test]
fn follows_a_fake_journalctl_on_path_and_resumes_after_its_cursor() {
    let bin = tempfile::tempdir().expect("tempdir");
    fake_journalctl(bin.path());
    let old_path = std::env::var_os("PATH").unwrap_or_default();
    let mut new_path = bin.path().as_os_str().to_owned();
    new_path.push(":");
    new_path.push(&old_path);
    std::env::set_var("PATH", &new_path);

    let state_dir = tempfile::tempdir().expect("tempdir");
    let state = state_dir.path().join("journal.cursor");
    let config = JournalConfig {
        from_start: true,
        ..JournalConfig::default()
    };
    let counters = Arc::new(Counters::default());
    let mut source =
        JournalSource::start(&config, Some(state.clone()), counters.clone()).expect("start");
    let events = collect(&mut source, 3);
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(events[0].event_type, "log");
    assert_eq!(events[0].body["line"], "first");
    assert_eq!(events[0].body["pid"], 10);
    assert_eq!(events[0].body["identifier"], "sshd");
    assert_eq!(
        events[0].timestamp.to_string(),
        "2023-11-14T22:13:20.000001+0000"
    );
    assert_eq!(events[1].body["line"], "bad\u{fffd}!");
    assert_eq!(events[1].body["lossy"], true);
    assert_eq!(events[2].body["line"], "third");
    assert_eq!(source.bad_lines, 1);
    assert_eq!(source.cursor(), Some("s=abc;i=3"));
    // Only the first two were written out before a crash: checkpoint after them.
    drop(source);
    std::fs::write(&state, "s=abc;i=2").expect("state");

    let mut source =
        JournalSource::start(&config, Some(state.clone()), counters.clone()).expect("restart");
    let events = collect(&mut source, 1);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].body["line"], "third");
    source.checkpoint().expect("checkpoint");
    assert_eq!(std::fs::read_to_string(&state).expect("state"), "s=abc;i=3");
    drop(source);
    let args = std::fs::read_to_string(bin.path().join("args")).expect("args");
    let runs: Vec<&str> = args.lines().collect();
    assert!(
        runs[0].contains("--output=json") && runs[0].contains("--follow"),
        "{args}"
    );
    assert!(!runs[0].contains("--after-cursor"), "{args}");
    assert!(runs[1].contains("--after-cursor=s=abc;i=2"), "{args}");

    // Without a cursor and without from_start, only new entries are asked for.
    let fresh =
        JournalSource::start(&JournalConfig::default(), None, counters.clone()).expect("fresh");
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut args = String::new();
    while args.lines().count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        args = std::fs::read_to_string(bin.path().join("args")).expect("args");
    }
    drop(fresh);
    assert!(
        args.lines().nth(2).is_some_and(|l| l.contains("--lines=0")),
        "{args}"
    );

    // No journalctl anywhere on PATH: a clear error.
    std::env::set_var("PATH", state_dir.path());
    let err = JournalSource::start(&JournalConfig::default(), None, counters)
        .expect_err("journalctl missing");
    std::env::set_var("PATH", &old_path);
    assert!(matches!(err, Error::JournalctlMissing { .. }), "{err}");
    assert!(err.to_string().contains("not found"), "{err}");
}
