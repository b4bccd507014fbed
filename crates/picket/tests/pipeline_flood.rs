//! 100 agents flooding one real `picket manager` process at once, each over its own
//! connection to the manager's qrexec socket service (the `"picket.Events <qube>\0"` header
//! qrexec writes, then the framed protocol from an on-disk spool, as `picket agent` sends).
//! Every event must be stored exactly once and acknowledged, the manager's memory must stay
//! bounded, and the ingest rate (rules on) is printed.

#![allow(clippy::unwrap_used)]

use picket_event::{Event, Timestamp};
use picket_store::Store;
use picket_transport::client::{ClientConfig, Link};
use picket_transport::spool::{Spool, SpoolConfig};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const AGENTS: usize = 100;
const EVENTS_PER_AGENT: u64 = 2_000;
/// The manager's peak resident memory must stay under this (it holds 100 sessions of the
/// rules, a 16 MiB page cache and the batches in flight).
const MAX_MANAGER_HWM_KIB: u64 = 256 * 1024;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A field of /proc/PID/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// User plus system CPU seconds of a process.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn hundred_agents_flood_one_manager_and_every_event_is_stored_once() {
    let dir = std::env::temp_dir().join(format!("picket-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let socket = dir.join("m.sock");
    let manager = Running(
        Command::new(env!("CARGO_BIN_EXE_picket"))
            .args(["manager", "--data-dir"])
            .arg(&data)
            .arg("--listen-unix")
            .arg(&socket)
            .args(["--silent-after", "3600"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = manager.0.id();

    // Each agent's spool, filled before the clock starts: log lines from the demo story
    // (brute force, sudo, policy denials...), so the rules raise alerts as they would.
    let sample: Vec<&str> = include_str!("../../../rules/samples/demo.log")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let base = Timestamp::now().as_secs();
    let mut spools = Vec::new();
    for a in 0..AGENTS {
        let mut spool =
            Spool::open(dir.join(format!("spool-{a}")), SpoolConfig::default()).unwrap();
        for i in 0..EVENTS_PER_AGENT {
            let mut event = Event::new(Timestamp::from_secs(base + (i / 100) as i64), "log");
            // As `picket agent` names its host (the qube's name, which qrexec authenticates).
            event.host = Some(format!("qube-{a:03}"));
            event.body = serde_json::json!({
                "path": "/var/log/auth.log",
                "line": sample[(i as usize + a) % sample.len()],
            });
            spool
                .append(
                    event
                        .to_eve_line(picket_event::EveMode::Extended)
                        .as_bytes(),
                )
                .unwrap();
        }
        spool.sync().unwrap();
        spools.push(spool);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the manager did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let cpu_before = cpu_seconds(pid);

    let barrier = Arc::new(Barrier::new(AGENTS + 1));
    let socket = Arc::new(socket);
    let threads: Vec<_> = spools
        .into_iter()
        .enumerate()
        .map(|(a, mut spool)| {
            let barrier = barrier.clone();
            let socket = socket.clone();
            std::thread::spawn(move || {
                let name = format!("qube-{a:03}");
                barrier.wait();
                let mut conn = UnixStream::connect(&*socket).unwrap();
                conn.write_all(format!("picket.Events {name}\0").as_bytes())
                    .unwrap();
                let mut link =
                    Link::handshake(conn, &mut spool, ClientConfig::new(name.as_str())).unwrap();
                link.drain(&mut spool).unwrap();
                // Acknowledged means committed: everything must be acked now.
                assert_eq!(spool.acked(), spool.last_seq(), "{name}");
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    let hwm = status_kib(pid, "VmHWM:");
    let total = AGENTS as u64 * EVENTS_PER_AGENT;

    let store = Store::open_read_only(data.join("picket.db")).unwrap();
    assert_eq!(
        store.count_type("log").unwrap(),
        total,
        "every event stored exactly once"
    );
    let alerts = store.count_type("alert").unwrap();
    assert!(alerts > total / 4, "the rules ran: {alerts} alerts");
    let delivery = store.delivery_states().unwrap();
    assert_eq!(delivery.len(), AGENTS);
    for d in &delivery {
        assert_eq!(d.stored, EVENTS_PER_AGENT, "{d:?}");
    }
    println!(
        "flood: {AGENTS} agents, {total} events ({alerts} alerts) in {seconds:.2} s: {:.0} \
         events/s wall, {:.0} events per manager CPU-second ({cpu:.2} s CPU); manager VmHWM \
         {:.1} MB",
        total as f64 / seconds,
        total as f64 / cpu.max(0.01),
        hwm as f64 / 1024.0
    );
    assert!(
        hwm < MAX_MANAGER_HWM_KIB,
        "manager peak memory {hwm} KiB over {MAX_MANAGER_HWM_KIB} KiB"
    );
    drop(manager);
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}
