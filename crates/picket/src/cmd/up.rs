//! `picket up`: a manager and an agent in one process, with embedded defaults, so one
//! command shows the whole pipeline on this host without root. The manager listens on a
//! Unix socket in the data directory and stores into its `picket.db`; the agent tails
//! `logs/auth.log` and watches `watched/` there (both created if missing), and sends through
//! the same transport a qube's agent uses. Ctrl-C stops both.

use super::agent::{self, Target};
use super::manager::{self, Manager};
use anyhow::{Context, Result};
use picket_hostsrc::config::AgentConfig;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory (default: $PICKET_DATA_DIR, else $XDG_DATA_HOME/picket, else
    /// ~/.local/share/picket).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Raise an alert for a source not heard from for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub silent_after: u64,
}

/// The agent's embedded configuration, inside `dir`.
fn agent_config(dir: &Path) -> Result<AgentConfig> {
    let text = format!(
        "state_dir = {state:?}\n\
         [heartbeat]\ninterval_secs = 30\n\
         [[logfile]]\npath = {log:?}\n\
         [fim]\npaths = [{fim:?}]\nrealtime = true\nfull_check_interval = 0\n",
        state = dir.join("agent").to_string_lossy(),
        log = dir.join("logs/auth.log").to_string_lossy(),
        fim = dir.join("watched").to_string_lossy(),
    );
    AgentConfig::parse(&text, Path::new("<embedded agent config>"))
        .context("the embedded agent configuration")
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 31)
        .unwrap_or_else(|| "localhost".into())
}

pub fn run(args: Args) -> Result<i32> {
    let dir = manager::data_dir(args.data_dir.as_deref())?;
    for sub in ["logs", "watched", "agent"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let log = dir.join("logs/auth.log");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("creating {}", log.display()))?;
    let config = agent_config(&dir)?;
    let manager = Manager::open(&dir)?;
    let socket = dir.join("picket.sock");
    let _listener = manager::spawn_unix(&manager, &socket)?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("installing the signal handler")?;
    }
    let target = Target::Unix {
        path: socket.clone(),
        source: host_name(),
    };
    let agent_stop = stop.clone();
    let agent = std::thread::Builder::new()
        .name("agent".into())
        .spawn(move || {
            let result = agent::run_with(config, None, Some(target), agent_stop.clone());
            // An agent that stopped by itself (a source failed) stops the whole.
            agent_stop.store(true, Ordering::SeqCst);
            result
        })
        .context("starting the agent")?;

    let db = manager.db.display().to_string();
    println!("picket is up (Ctrl-C stops it).");
    println!("  database:  {db}");
    println!("  socket:    {}", socket.display());
    println!("  tailing:   {}", log.display());
    println!("  watching:  {}", dir.join("watched").display());
    println!("See the alerts with:");
    println!("  picket alerts --db {db} --follow");

    let after = Duration::from_secs(args.silent_after.max(1));
    let supervised = manager::supervise(&manager, after, &stop);
    stop.store(true, Ordering::SeqCst);
    let agent_result = agent
        .join()
        .map_err(|_| anyhow::anyhow!("the agent thread panicked"))?;
    let _ = std::fs::remove_file(&socket);
    supervised?;
    agent_result
}
