//! Active response with real processes: an SSH brute force reaches `picket manager`, the
//! policy's trigger for the failed-login rules asks for a ban of the attacker, and the request line
//! goes to the response command (here a script standing in for `qrexec-client-vm <netvm>
//! picket.Respond`). A trigger aimed at an allowlisted address is refused in the manager.
//! Every outcome is stored as a `response` event.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{picket, Running};

/// The stored `response` events (`picket alerts` shows alerts only).
fn responses(db: &Path) -> Vec<serde_json::Value> {
    let Ok(store) = picket_store::Store::open_read_only(db) else {
        return Vec::new();
    };
    store
        .events_of_type("response", 100)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect()
}

#[test]
fn brute_force_alert_bans_its_source_and_allowlisted_targets_are_refused() {
    let dir = std::env::temp_dir().join(format!("picket-response-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let socket = dir.join("m.sock");
    let requests = dir.join("requests.txt");
    let script = dir.join("respond.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread line\necho \"$line\" >> {}\necho ok\n",
            requests.display()
        ),
    )
    .unwrap();
    let _ = Command::new("chmod").arg("+x").arg(&script).status();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[dns]\nguard = [\"10.139.1.1\"]\n\
         [[source]]\nname = \"work\"\naddr = \"10.137.0.20\"\nallow = [ { proto = \"tcp\", ports = [443] } ]\n\
         [response]\nmanager_qube = \"picket-manager\"\nmanager = [\"10.137.0.50\"]\n\
         allowlist = [\"198.51.100.0/24\"]\nban_timeout = \"10m\"\nmax_ban_timeout = \"1d\"\n\
         [[response.trigger]]\nrules = [100110, 100111]\naction = \"ban\"\ntimeout = \"30m\"\n",
    )
    .unwrap();
    let log = dir.join("auth.log");
    let mut text = String::new();
    for (attacker, first_port) in [("203.0.113.9", 40000), ("198.51.100.7", 50000)] {
        for i in 0..8 {
            text.push_str(&format!(
                "Nov 27 10:00:{i:02} web sshd[1234]: Failed password for root from {attacker} \
                 port {} ssh2\n",
                first_port + i
            ));
        }
    }
    std::fs::write(&log, text).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = {:?}\n[[logfile]]\npath = {:?}\nfrom_start = true\n",
            dir.join("state").to_string_lossy(),
            log.to_string_lossy()
        ),
    )
    .unwrap();

    let _manager = Running(
        picket()
            .args(["manager", "--data-dir"])
            .arg(&data)
            .arg("--listen-unix")
            .arg(&socket)
            .arg("--respond-policy")
            .arg(&policy)
            .arg("--respond-command")
            .arg(&script)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _agent = Running(
        picket()
            .args(["agent", "--config"])
            .arg(&config)
            .arg("--manager-unix")
            .arg(&socket)
            .args(["--source-name", "web"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let db = data.join("picket.db");
    let deadline = Instant::now() + Duration::from_secs(25);
    let found = loop {
        let found = responses(&db);
        if found.len() >= 2 {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "responses did not arrive in time: {found:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let sent: Vec<_> = found
        .iter()
        .filter(|r| r["response"]["status"] == "sent")
        .collect();
    assert_eq!(sent.len(), 1, "one ban sent: {found:#?}");
    assert_eq!(sent[0]["response"]["request"], "ban 203.0.113.9 1800");
    assert_eq!(sent[0]["response"]["reply"], "ok");
    assert_eq!(sent[0]["host"], "web");
    let refused: Vec<_> = found
        .iter()
        .filter(|r| r["response"]["status"] == "refused")
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "the allowlisted attacker is refused: {found:#?}"
    );
    assert_eq!(refused[0]["response"]["target"], "198.51.100.7");
    // Only the permitted request reached the net qube, once.
    let lines = std::fs::read_to_string(&requests).unwrap();
    assert_eq!(lines, "ban 203.0.113.9 1800\n");
    let _ = std::fs::remove_dir_all(&dir);
}
