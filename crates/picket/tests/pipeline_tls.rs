//! The TCP pipeline with mutual TLS, with real processes on loopback: `picket enroll` on both
//! sides, `picket manager --listen-tls`, `picket agent --manager-tls` tailing an SSH brute
//! force, and `picket alerts --json` reading what was stored. An agent whose key the manager
//! never enrolled is refused, and the manager goes on serving the enrolled one.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{alerts, picket, sid, Running};

/// Runs `picket enroll --serve` for `manager_dir` and the agent side for `agent_dir` as
/// `name`, as an operator would: reads the command the manager prints and runs it. Returns
/// the manager's fingerprint.
fn enroll(manager_dir: &Path, agent_dir: &Path, name: &str) -> String {
    let mut serve = Running(
        picket()
            .args([
                "enroll",
                "--serve",
                "--listen",
                "127.0.0.1:0",
                "--timeout",
                "20",
            ])
            .arg("--dir")
            .arg(manager_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("enroll --serve starts"),
    );
    let stdout = serve.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let command = loop {
        let line = lines
            .next()
            .expect("enroll --serve printed the command")
            .unwrap();
        if let Some(rest) = line.trim().strip_prefix("picket enroll ") {
            break rest.to_owned();
        }
    };
    // `--manager ADDR --token T --pin FP --name <NAME>`
    let words: Vec<&str> = command.split_whitespace().collect();
    let arg = |flag: &str| {
        let i = words.iter().position(|w| *w == flag).unwrap();
        words[i + 1].to_owned()
    };
    let pin = arg("--pin");
    let out = picket()
        .args([
            "enroll",
            "--manager",
            &arg("--manager"),
            "--token",
            &arg("--token"),
        ])
        .args(["--pin", &pin, "--name", name, "--dir"])
        .arg(agent_dir)
        .output()
        .expect("enroll runs");
    assert!(
        out.status.success(),
        "agent enrolment: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = serve.0.wait().expect("enroll --serve ends");
    assert!(status.success(), "enroll --serve succeeded");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains(&format!("enrolled {name}"))),
        "{rest:?}"
    );
    pin
}

fn failures(ip: &str, from: u64, n: u64) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "Nov 27 10:00:{:02} web sshd[1234]: Failed password for root from {ip} port {} \
                 ssh2\n",
                i % 60,
                40000 + i
            )
        })
        .collect()
}

fn agent_config(dir: &Path, host: &str, log: &Path) -> PathBuf {
    let config = dir.join(format!("{host}.toml"));
    std::fs::write(
        &config,
        format!(
            "state_dir = {:?}\nhost = {host:?}\n[heartbeat]\ninterval_secs = 1\n\
             [[logfile]]\npath = {:?}\nfrom_start = true\n",
            dir.join(format!("state-{host}")).to_string_lossy(),
            log.to_string_lossy()
        ),
    )
    .unwrap();
    config
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn enrolled_agent_delivers_over_tls_and_a_stranger_is_refused() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("picket-pipeline-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let manager_tls = dir.join("manager-tls");
    let agent_tls = dir.join("agent-tls");
    let pin = enroll(&manager_tls, &agent_tls, "laptop");

    // The stranger has a key and pins the right manager, but enrolled with another one.
    let stranger_tls = dir.join("stranger-tls");
    enroll(&dir.join("other-manager-tls"), &stranger_tls, "stranger");
    std::fs::write(
        stranger_tls.join("manager.pin"),
        format!("127.0.0.1:1 {pin}\n"),
    )
    .unwrap();

    const FAILURES: u64 = 8;
    let log = dir.join("auth.log");
    std::fs::write(&log, failures("203.0.113.9", 0, FAILURES)).unwrap();
    let stranger_log = dir.join("stranger.log");
    std::fs::write(&stranger_log, failures("198.51.100.77", 0, FAILURES)).unwrap();

    let data = dir.join("data");
    let addr = format!("127.0.0.1:{}", free_port());
    let manager_err = dir.join("manager.err");
    let start_manager = || {
        Running(
            picket()
                .args(["manager", "--listen-tls", &addr, "--tls-dir"])
                .arg(&manager_tls)
                .arg("--data-dir")
                .arg(&data)
                .stdin(Stdio::null())
                .stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&manager_err)
                        .unwrap(),
                )
                .spawn()
                .expect("manager starts"),
        )
    };
    let mut manager = start_manager();
    let agent = |host: &str, log: &Path, tls: &Path| {
        Running(
            picket()
                .args(["agent", "--config"])
                .arg(agent_config(&dir, host, log))
                .args(["--manager-tls", &addr, "--tls-dir"])
                .arg(tls)
                .stdin(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("{host}.err"))).unwrap())
                .spawn()
                .expect("agent starts"),
        )
    };
    // Started together with the manager: the agents retry until it listens.
    let _stranger = agent("stranger", &stranger_log, &stranger_tls);
    let _laptop = agent("laptop", &log, &agent_tls);

    let db = data.join("picket.db");
    let sshd = |found: &[serde_json::Value]| {
        found
            .iter()
            .filter(|a| matches!(sid(a), 100110 | 100111))
            .count() as u64
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = loop {
        let found = alerts(&db);
        if sshd(&found) >= FAILURES {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "alerts did not arrive; got {found:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        found.iter().any(|a| sid(a) == 100111),
        "brute force detected: {found:#?}"
    );
    for alert in &found {
        assert_eq!(alert["host"], "laptop", "stored under the enrolled name");
    }

    // The manager logged the stranger's refusal.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let err = std::fs::read_to_string(&manager_err).unwrap_or_default();
        if let Some(line) = err
            .lines()
            .find(|l| l.contains("connection from ? closed") && l.contains("not enrolled"))
        {
            eprintln!("manager: {line}");
            break;
        }
        assert!(Instant::now() < deadline, "no refusal logged: {err}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The enrolled agent is still served after the refusal.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(failures("203.0.113.10", 20, 2).as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let found = loop {
        let found = alerts(&db);
        if found.iter().any(|a| a.to_string().contains("203.0.113.10")) {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "later lines not stored: {found:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for alert in &found {
        assert_eq!(alert["host"], "laptop", "nothing stored from the stranger");
        assert!(!alert.to_string().contains("198.51.100.77"), "{alert}");
    }
    // The manager goes down; lines written meanwhile wait in the agent's spool and arrive
    // once it is back (the agent reconnects by itself).
    drop(manager);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(failures("203.0.113.11", 30, 2).as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    manager = start_manager();
    let deadline = Instant::now() + Duration::from_secs(8);
    while !alerts(&db)
        .iter()
        .any(|a| a.to_string().contains("203.0.113.11"))
    {
        assert!(
            Instant::now() < deadline,
            "lines spooled while the manager was down never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for alert in alerts(&db) {
        assert_eq!(alert["host"], "laptop", "nothing stored from the stranger");
    }
    drop(manager);

    // The stranger saw its refusal too (not only the manager not listening yet).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let err = std::fs::read_to_string(dir.join("stranger.err")).unwrap_or_default();
        if let Some(line) = err
            .lines()
            .find(|l| l.contains("manager link") && !l.contains("Connection refused"))
        {
            eprintln!("stranger: {line}");
            break;
        }
        assert!(Instant::now() < deadline, "stranger saw no refusal: {err}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
