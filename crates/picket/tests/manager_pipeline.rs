//! The real pipeline with real processes: `picket manager` on a Unix socket (the qrexec socket
//! service's protocol), `picket agent` tailing an SSH brute force into it, and
//! `picket alerts --json` reading what was stored.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{alerts, picket, sid, Running};

#[test]
fn brute_force_through_manager_is_stored_once_under_the_real_source() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("picket-manager-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = dir.join("data");
    let socket = dir.join("m.sock");
    let log = dir.join("auth.log");
    const FAILURES: u64 = 8;
    let mut text = String::new();
    for i in 0..FAILURES {
        text.push_str(&format!(
            "Nov 27 10:00:{i:02} web sshd[1234]: Failed password for root from 203.0.113.9 \
             port {} ssh2\n",
            40000 + i
        ));
    }
    std::fs::write(&log, text).expect("log written");
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = {:?}\nhost = \"forged\"\n[heartbeat]\ninterval_secs = 1\n\
             [[logfile]]\npath = {:?}\nfrom_start = true\n",
            dir.join("state").to_string_lossy(),
            log.to_string_lossy()
        ),
    )
    .expect("config written");

    let _manager = Running(
        picket()
            .args(["manager", "--data-dir"])
            .arg(&data)
            .arg("--listen-unix")
            .arg(&socket)
            .args(["--silent-after", "2"])
            .stdin(Stdio::null())
            .spawn()
            .expect("manager starts"),
    );
    let agent = Running(
        picket()
            .args(["agent", "--config"])
            .arg(&config)
            .arg("--manager-unix")
            .arg(&socket)
            .args(["--source-name", "realqube"])
            .stdin(Stdio::null())
            .spawn()
            .expect("agent starts"),
    );

    // Every failed login raises either 100110 or, once, the brute force 100111.
    let db = data.join("picket.db");
    let deadline = Instant::now() + Duration::from_secs(25);
    let found = loop {
        let found = alerts(&db);
        let sshd = found
            .iter()
            .filter(|a| matches!(sid(a), 100110 | 100111))
            .count() as u64;
        let claim = found.iter().any(|a| sid(a) == 990001);
        if sshd >= FAILURES && claim {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "alerts did not arrive in time; got {found:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    let brute: Vec<_> = found.iter().filter(|a| sid(a) == 100111).collect();
    assert_eq!(brute.len(), 1, "one brute-force alert: {found:#?}");
    assert_eq!(brute[0]["host"], "realqube");
    assert_eq!(brute[0]["picket"]["claimed_host"], "forged");
    for alert in &found {
        assert_eq!(alert["host"], "realqube", "stored under the real source");
    }
    let claim = found
        .iter()
        .find(|a| sid(a) == 990001)
        .expect("claim mismatch alert");
    assert!(claim["alert"]["signature"]
        .as_str()
        .is_some_and(|s| s.contains("forged")));

    // The agent stops: its source goes silent and raises its own alert.
    drop(agent);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !alerts(&db)
        .iter()
        .any(|a| sid(a) == 990004 && a["host"] == "realqube")
    {
        assert!(Instant::now() < deadline, "no silence alert in time");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn count_rule(db: &Path, rule: u64) -> usize {
    let out = picket()
        .args([
            "alerts",
            "--json",
            "-n",
            "1000000",
            "--rule",
            &rule.to_string(),
            "--db",
        ])
        .arg(db)
        .output()
        .expect("picket alerts runs");
    if !out.status.success() {
        return 0;
    }
    out.stdout.iter().filter(|&&b| b == b'\n').count()
}

fn start_manager(data: &Path, socket: &Path) -> Running {
    Running(
        picket()
            .args(["manager", "--data-dir"])
            .arg(data)
            .arg("--listen-unix")
            .arg(socket)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("manager starts"),
    )
}

#[test]
fn manager_killed_mid_stream_loses_and_repeats_nothing() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("picket-manager-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = dir.join("data");
    let socket = dir.join("m.sock");
    let log = dir.join("auth.log");
    // One failed login from each of N addresses: exactly N alerts of rule 100110.
    const N: usize = 10_000;
    let mut text = String::new();
    for i in 0..N {
        text.push_str(&format!(
            "Nov 27 10:00:00 web sshd[1234]: Failed password for root from 10.{}.{}.{} \
             port 40000 ssh2\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    std::fs::write(&log, text).expect("log written");
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = {:?}\n[heartbeat]\ninterval_secs = 0\n\
             [[logfile]]\npath = {:?}\nfrom_start = true\n",
            dir.join("state").to_string_lossy(),
            log.to_string_lossy()
        ),
    )
    .expect("config written");

    let db = data.join("picket.db");
    let mut manager = start_manager(&data, &socket);
    let _agent = Running(
        picket()
            .args(["agent", "--config"])
            .arg(&config)
            .arg("--manager-unix")
            .arg(&socket)
            .args(["--source-name", "work"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("agent starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(25);
    while count_rule(&db, 100110) == 0 {
        assert!(Instant::now() < deadline, "nothing stored in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL mid-stream (or just after the end, if the machine is fast), then restart.
    manager.0.kill().expect("kill -9 the manager");
    manager.0.wait().expect("reaped");
    let before = count_rule(&db, 100110);
    eprintln!("{before} of {N} stored before the kill");
    let _manager = start_manager(&data, &socket);
    loop {
        let stored = count_rule(&db, 100110);
        assert!(
            stored <= N,
            "{stored} alerts for {N} lines: some stored twice"
        );
        if stored == N {
            eprintln!(
                "all {N} stored, {:?} left before the deadline",
                deadline - Instant::now()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {stored} of {N} stored in time ({before} before the kill)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count_rule(&db, 990002), 0, "no sequence gap after restart");
    assert_eq!(count_rule(&db, 990003), 0, "no spool reset after restart");
    let _ = std::fs::remove_dir_all(&dir);
}
