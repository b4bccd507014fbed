//! `picket agent`: runs the host sources of its configuration file, each on its own thread,
//! and writes their records as EVE JSON lines to stdout or `--output`. Each source's position
//! is saved only after its records are written and flushed, so a restart resumes after the
//! last record written.
//!
//! With `--manager-unix`, `--manager-tls` or `--qrexec-target`, records go to the manager instead: sources
//! append them to an on-disk spool in the state directory (saved before each source's
//! bookmark moves), and a link thread drains the spool through the transport client,
//! reconnecting after errors. `--output` still writes JSON lines as well when given.
//!
//! The agent runs in every qube, so its resident memory counts. `picket agent` checks its
//! arguments and configuration, then runs `picket-agent` (built beside it from
//! `src/bin/picket-agent.rs`), which holds only this module: none of the manager, store,
//! sensor or rule engines, no argument or TOML parser touched at start-up. Without that
//! binary (or with `PICKET_AGENT_IN_PROCESS` set) the agent runs in this process.

use anyhow::{Context, Result};
use picket_event::{EveMode, Event};
use picket_hostsrc::config::AgentConfig;
use picket_hostsrc::fim::FimSource;
use picket_hostsrc::heartbeat::{Heartbeat, Registry};
use picket_hostsrc::honeytoken::HoneytokenSource;
use picket_hostsrc::journal::JournalSource;
use picket_hostsrc::signals::StopSignals;
use picket_hostsrc::tail::Tailer;
use picket_hostsrc::{Counters, Source};
use picket_transport::client::{describe_qrexec_exit, ClientConfig, Link, QrexecClient, TlsClient};
use picket_transport::server::EVENTS_SERVICE;
use picket_transport::spool::{Spool, SpoolConfig};
use picket_transport::tls::{Fingerprint, Identity};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent's configuration file (TOML).
    #[arg(long, short, default_value = "/etc/picket/agent.toml")]
    pub config: PathBuf,
    /// Append records here instead of writing them to stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Send records to a manager's qrexec socket service at PATH (the agent writes the
    /// `"picket.Events <source>\0"` header qrexec would, naming itself --source-name).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["qrexec_target", "manager_tls"])]
    pub manager_unix: Option<PathBuf>,
    /// Send records over TCP with mutual TLS to a manager's `--listen-tls` address, using
    /// the key and manager pin `picket enroll` left in --tls-dir.
    #[arg(
        long,
        value_name = "HOST:PORT",
        requires = "tls_dir",
        conflicts_with = "qrexec_target"
    )]
    pub manager_tls: Option<String>,
    /// The agent side of `picket enroll --dir DIR`: its key, certificate and manager pin.
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Send records through `qrexec-client-vm QUBE picket.Events`.
    #[arg(long, value_name = "QUBE")]
    pub qrexec_target: Option<String>,
    /// Source name in the socket header of --manager-unix (default: the configured host,
    /// else "localhost"). Over qrexec, dom0 names the source and this is unused.
    #[arg(long, value_name = "NAME")]
    pub source_name: Option<String>,
}

/// Where the agent sends its records.
#[derive(Debug, Clone)]
pub enum Target {
    /// A qrexec socket service at this path, with the header naming `source`.
    Unix { path: PathBuf, source: String },
    /// `qrexec-client-vm QUBE picket.Events`.
    Qrexec(String),
    /// TCP with mutual TLS to `addr`, presenting `identity` and accepting only `pin`.
    Tls {
        addr: String,
        identity: Box<Identity>,
        pin: Fingerprint,
        /// The name the manager granted at enrolment, claimed in Hello.
        name: Option<String>,
    },
}

/// File in the agent's TLS directory naming the pinned manager and the granted name:
/// `<enrolment addr> <fingerprint> <name>` (older files lack the name).
pub const MANAGER_PIN_FILE: &str = "manager.pin";

/// The agent's TLS identity, manager pin and granted name from what `picket enroll` left in
/// `dir`. A missing key is an error, not a new key: a key the manager never enrolled is
/// refused anyway, and saying so here is clearer than a handshake failure.
fn load_enrolment(dir: &Path) -> Result<(Identity, Fingerprint, Option<String>)> {
    let pin_path = dir.join(MANAGER_PIN_FILE);
    let text = std::fs::read_to_string(&pin_path).with_context(|| {
        format!(
            "reading {} (enrol first: picket enroll --manager ... --dir {})",
            pin_path.display(),
            dir.display()
        )
    })?;
    // `<enrolment addr> <fingerprint> [<granted name>]`; the address is only where
    // enrolment happened.
    let mut fields = text.split_whitespace().skip(1);
    let pin: Fingerprint = fields
        .next()
        .with_context(|| format!("{}: no fingerprint", pin_path.display()))?
        .parse()
        .with_context(|| format!("{}: bad fingerprint", pin_path.display()))?;
    let name = fields.next().map(str::to_owned);
    if !dir.join("identity.key").exists() || !dir.join("identity.crt").exists() {
        anyhow::bail!(
            "no agent key in {} (enrol first: picket enroll --manager ... --dir {})",
            dir.display(),
            dir.display()
        );
    }
    let (identity, _) = Identity::load_or_create(dir, "picket-agent")
        .with_context(|| format!("agent key in {}", dir.display()))?;
    Ok((identity, pin, name))
}

type Output = Arc<Mutex<Box<dyn Write + Send>>>;
type SharedSpool = Arc<Mutex<Spool>>;

/// Allocator settings the agent runs with, for its memory budget: mimalloc's use of transparent
/// huge pages makes each touched 2 MiB of heap resident, and purging freed pages at once
/// (instead of after 10 ms of further activity, which an idle agent never has) returns the
/// start-up baseline walk's memory. Measured: about 2.5 MB less resident memory at idle.
const THP_ENV: &str = "MIMALLOC_ALLOW_THP";
const PURGE_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Run again with the allocator settings above unless they are already set, freed pages
/// purged after `purge_delay_ms` (the agent: 0). The manager uses it too (its connection
/// threads' heaps made 100 flooding agents cost 900 MB resident with huge pages, 136 MB
/// without), with a delay: see `manager::PURGE_DELAY_MS`.
pub fn reexec_without_huge_pages(who: &str, purge_delay_ms: &str) -> Result<()> {
    if std::env::var_os(THP_ENV).is_none() {
        // The allocator reads its options before main, so they take a fresh exec to change.
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().context("finding picket's own executable")?;
        let error = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(THP_ENV, "0")
            .env(
                PURGE_ENV,
                std::env::var_os(PURGE_ENV).unwrap_or_else(|| purge_delay_ms.into()),
            )
            .exec();
        eprintln!("{who}: re-exec without huge pages failed ({error}); going on");
    }
    Ok(())
}

pub fn run(args: Args) -> Result<i32> {
    let config = AgentConfig::load(&args.config)?;
    if args.check_config {
        println!("{}: ok", args.config.display());
        return Ok(0);
    }
    if let Some(lean) = lean_binary() {
        exec_lean(&lean, &args, &config)?;
    }
    reexec_without_huge_pages("picket agent", "0")?;
    start(&args, config)
}

/// glibc's malloc settings for `picket-agent`, which uses the system allocator. Measured with
/// the agent footprint test's tree (anonymous memory of the idle agent after a baseline of
/// 10,101 paths): 804 KiB with glibc's defaults, 724 KiB with one arena, 420 KiB adding the
/// thresholds, 320 KiB without the thread cache.
/// - One arena, not one per thread: the baseline's hashing threads each left an arena of
///   freed memory behind, and the agent's few threads seldom contend for the lock.
/// - Buffers from 16 KiB up (the hashing threads' read buffers, a walk batch) are mapped
///   apart and unmapped when freed, and the heap gives back its top once 16 KiB are free, so
///   the walk's peak does not stay resident.
/// - No per-thread cache of freed blocks: the chunks it holds are never merged with their
///   neighbours, which kept the walk's freed paths resident. The baseline took no longer.
/// - No cache of finished threads' stacks: the agent starts threads only at its start and in
///   a full check.
///
/// What the agent starts (journalctl, qrexec-client-vm) inherits them, to no harm.
pub const LEAN_TUNABLES: &str = "glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=16384:\
                                 glibc.malloc.trim_threshold=16384:glibc.malloc.tcache_count=0:\
                                 glibc.pthread.stack_cache_size=0";
const TUNABLES_ENV: &str = "GLIBC_TUNABLES";

/// Environment variable that keeps `picket agent` in its own process.
pub const IN_PROCESS_ENV: &str = "PICKET_AGENT_IN_PROCESS";

/// `picket-agent` beside this executable, unless told to stay in this process.
fn lean_binary() -> Option<PathBuf> {
    if std::env::var_os(IN_PROCESS_ENV).is_some() {
        return None;
    }
    let lean = std::env::current_exe().ok()?.with_file_name("picket-agent");
    lean.is_file().then_some(lean)
}

/// Replace this process with `picket-agent`, handing it the checked configuration as JSON
/// (so it needs no TOML parser) and the arguments that say where records go. Returns only if
/// the exec failed, after saying so.
fn exec_lean(lean: &Path, args: &Args, config: &AgentConfig) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(lean);
    command
        .arg("--config-json")
        .arg(serde_json::to_string(config).context("encoding the configuration")?);
    let paths = [
        ("--output", &args.output),
        ("--manager-unix", &args.manager_unix),
        ("--tls-dir", &args.tls_dir),
    ];
    for (flag, value) in paths {
        if let Some(value) = value {
            command.arg(flag).arg(value);
        }
    }
    let texts = [
        ("--manager-tls", &args.manager_tls),
        ("--qrexec-target", &args.qrexec_target),
        ("--source-name", &args.source_name),
    ];
    for (flag, value) in texts {
        if let Some(value) = value {
            command.arg(flag).arg(value);
        }
    }
    // Settings the user gave come after ours, so that theirs win.
    let mut tunables = std::ffi::OsString::from(LEAN_TUNABLES);
    if let Some(theirs) = std::env::var_os(TUNABLES_ENV).filter(|t| !t.is_empty()) {
        tunables.push(":");
        tunables.push(theirs);
    }
    command.env(TUNABLES_ENV, tunables);
    let error = command.exec();
    eprintln!(
        "picket agent: running {} failed ({error}); running in this process",
        lean.display()
    );
    Ok(())
}

/// The agent as `picket agent` and `picket-agent` run it, its arguments and configuration
/// checked: stops on SIGINT, SIGTERM or SIGHUP, read by the main thread from a signalfd.
pub fn start(args: &Args, config: AgentConfig) -> Result<i32> {
    let target = match (&args.manager_unix, &args.qrexec_target) {
        _ if args.manager_tls.is_some() => {
            let dir = args
                .tls_dir
                .as_deref()
                .context("--manager-tls needs --tls-dir")?;
            let (identity, pin, name) = load_enrolment(dir)?;
            Some(Target::Tls {
                addr: args.manager_tls.clone().unwrap_or_default(),
                identity: Box::new(identity),
                pin,
                name,
            })
        }
        (Some(path), _) => Some(Target::Unix {
            path: path.clone(),
            source: args
                .source_name
                .clone()
                .or_else(|| config.host.clone())
                .unwrap_or_else(|| "localhost".into()),
        }),
        (None, Some(qube)) => Some(Target::Qrexec(qube.clone())),
        (None, None) => None,
    };
    // Before any thread starts, so that every thread inherits the blocked signals.
    let signals = StopSignals::install().context("setting up the stop signals")?;
    run_inner(
        config,
        args.output.as_deref(),
        target,
        Arc::new(AtomicBool::new(false)),
        Some(&signals),
    )
}

/// The agent proper, once configured: runs until `stop` is set or a source fails. Records go
/// to `output` (a file), to `target` (through the spool), or to stdout when neither is given.
pub fn run_with(
    config: AgentConfig,
    output: Option<&Path>,
    target: Option<Target>,
    stop: Arc<AtomicBool>,
) -> Result<i32> {
    run_inner(config, output, target, stop, None)
}

/// [`run_with`], also stopping when `signals` reads a stop signal.
fn run_inner(
    config: AgentConfig,
    output: Option<&Path>,
    target: Option<Target>,
    stop: Arc<AtomicBool>,
    signals: Option<&StopSignals>,
) -> Result<i32> {
    let out: Option<Box<dyn Write + Send>> = match output {
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ))),
        None if target.is_none() => Some(Box::new(std::io::BufWriter::new(std::io::stdout()))),
        None => None,
    };
    let out: Option<Output> = out.map(|o| Arc::new(Mutex::new(o)));
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("creating state_dir {}", config.state_dir.display()))?;
    let spool: Option<SharedSpool> = match &target {
        Some(_) => {
            let dir = config.state_dir.join("spool");
            let spool = Spool::open(&dir, SpoolConfig::default())
                .with_context(|| format!("opening the spool in {}", dir.display()))?;
            Some(Arc::new(Mutex::new(spool)))
        }
        None => None,
    };
    let (failed_tx, failed_rx) = mpsc::channel::<String>();
    let mut registry = Registry::default();
    let mut threads = Vec::new();
    let state = |name: &str| Some(config.state_dir.join(name));
    let host = config.host.clone();

    let mut spawn = |name: &str, make: Box<dyn FnOnce() -> Result<Box<dyn Source>> + Send>| {
        let out = out.clone();
        let spool = spool.clone();
        let stop = stop.clone();
        let failed = failed_tx.clone();
        let host = host.clone();
        let thread_name = format!("src-{name}");
        let handle = std::thread::Builder::new()
            .name(thread_name)
            .stack_size(256 * 1024)
            .spawn(move || {
                let result = make().and_then(|source| {
                    run_source(source, out.as_ref(), spool.as_ref(), &stop, host)
                });
                if let Err(e) = result {
                    let _ = failed.send(format!("{e:#}"));
                }
            });
        match handle {
            Ok(h) => threads.push(h),
            Err(e) => {
                let _ = failed_tx.send(format!("starting the {name} thread: {e}"));
            }
        }
    };

    if !config.logfile.is_empty() {
        let counters = registry.register("tail");
        let files = config.logfile.clone();
        let path = state("tail.json");
        spawn(
            "tail",
            Box::new(move || Ok(Box::new(Tailer::new(files, path, counters)?) as Box<dyn Source>)),
        );
    }
    if let Some(journal) = config.journald.clone() {
        let counters = registry.register("journald");
        let path = state("journal.cursor");
        spawn(
            "journald",
            Box::new(move || {
                Ok(Box::new(JournalSource::start(&journal, path, counters)?) as Box<dyn Source>)
            }),
        );
    }
    if let Some(mut fim) = config.fim.clone() {
        // Hashing a honeytoken would set it off: FIM leaves them alone.
        if let Some(h) = &config.honeytokens {
            // Under a FIM root, ignore patterns name paths as seen from that root.
            let root = fim.root.clone();
            fim.ignore.extend(h.paths.iter().map(|p| {
                match root.as_deref().and_then(|r| p.strip_prefix(r).ok()) {
                    Some(rest) => format!("/{}", rest.to_string_lossy()),
                    None => p.to_string_lossy().into_owned(),
                }
            }));
        }
        let counters = registry.register("fim");
        let path = state("fim.baseline");
        spawn(
            "fim",
            Box::new(move || {
                Ok(Box::new(FimSource::start(fim, path, counters)?) as Box<dyn Source>)
            }),
        );
    }
    if let Some(honey) = config.honeytokens.clone() {
        let counters: Arc<Counters> = registry.register("honeytoken");
        spawn(
            "honeytoken",
            Box::new(move || {
                let source = HoneytokenSource::start(&honey, counters)?;
                if let Some(why) = source.fallback_reason() {
                    eprintln!(
                        "picket agent: honeytokens use inotify, without process information: {why}"
                    );
                }
                Ok(Box::new(source) as Box<dyn Source>)
            }),
        );
    }
    // The heartbeat runs on the main thread, between its waits for a stop signal: a thread
    // of its own cost the idle agent its stack and the allocator's per-thread heap pages
    // (measured in the agent footprint test) for one record a minute.
    let mut heartbeat = (config.heartbeat.interval_secs > 0).then(|| {
        let interval = Duration::from_secs(config.heartbeat.interval_secs);
        (Heartbeat::new(registry, interval), interval, Instant::now())
    });
    let link = match (target, &spool) {
        (Some(target), Some(spool)) => {
            let spool = spool.clone();
            let stop = stop.clone();
            // The name claimed in Hello, which the manager compares with the name it
            // authenticated (a mismatch is alert 990001): over TLS the name granted at
            // enrolment; else the configured host, else the socket header's name, else (over
            // qrexec, where dom0 names the source) the host name, which in Qubes is the
            // qube's name.
            let name = match &target {
                Target::Tls {
                    name: Some(name), ..
                } => name.clone(),
                Target::Unix { source, .. } => config.host.clone().unwrap_or(source.clone()),
                Target::Qrexec(_) | Target::Tls { .. } => config
                    .host
                    .clone()
                    .or_else(own_host_name)
                    .unwrap_or_else(|| "localhost".into()),
            };
            Some(
                std::thread::Builder::new()
                    .name("link".into())
                    .spawn(move || run_link(&target, &name, &spool, &stop))
                    .context("starting the link thread")?,
            )
        }
        _ => None,
    };
    drop(failed_tx);

    // Wait for a stop signal or a source that cannot go on, beating in between.
    let mut failure = None;
    let mut beat: Vec<Event> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut wait = Duration::from_secs(1);
        if let Some((source, interval, next)) = heartbeat.as_mut() {
            let now = Instant::now();
            if now >= *next {
                beat.push(source.record());
                if let Err(e) = deliver(&mut beat, out.as_ref(), spool.as_ref(), &host) {
                    failure = Some(format!("heartbeat source: {e:#}"));
                    break;
                }
                // From the due time, not from now, so a late wake-up does not drift.
                *next += *interval;
                if *next <= now {
                    *next = now + *interval;
                }
            }
            wait = wait.min(next.saturating_duration_since(now));
        }
        let received = match signals {
            Some(signals) => {
                if signals.wait(wait) {
                    break;
                }
                failed_rx.try_recv().map_err(|e| match e {
                    mpsc::TryRecvError::Empty => mpsc::RecvTimeoutError::Timeout,
                    mpsc::TryRecvError::Disconnected => mpsc::RecvTimeoutError::Disconnected,
                })
            }
            None => failed_rx.recv_timeout(wait.min(Duration::from_millis(500))),
        };
        match received {
            Ok(message) => {
                failure = Some(message);
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    if let Some(link) = link {
        let _ = link.join();
    }
    if let Some(out) = &out {
        if let Ok(mut out) = out.lock() {
            let _ = out.flush();
        }
    }
    match failure {
        Some(message) => {
            eprintln!("picket agent: {message}");
            Ok(1)
        }
        None => Ok(0),
    }
}

/// Drain the spool to the manager until `stop`, reconnecting (with a growing pause, at most
/// 5 s) after any error; unacked records stay in the spool meanwhile.
fn run_link(target: &Target, name: &str, spool: &Mutex<Spool>, stop: &AtomicBool) {
    let mut pause = Duration::from_millis(100);
    let mut last_error = String::new();
    while !stop.load(Ordering::SeqCst) {
        let result = connect_and_run(target, name, spool, stop);
        match result {
            Ok(()) => pause = Duration::from_millis(100),
            Err(e) => {
                let message = format!("{e:#}");
                if message != last_error {
                    eprintln!("picket agent: manager link: {message}; retrying");
                    last_error = message;
                }
            }
        }
        let until = Instant::now() + pause;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// How long a TLS connect and handshake may take before the link retries.
const TLS_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn connect_and_run(
    target: &Target,
    name: &str,
    spool: &Mutex<Spool>,
    stop: &AtomicBool,
) -> Result<()> {
    let config = ClientConfig::new(name);
    let lock = || {
        spool
            .lock()
            .map_err(|_| anyhow::anyhow!("spool lock poisoned"))
    };
    match target {
        Target::Unix { path, source } => {
            let mut conn = UnixStream::connect(path)
                .with_context(|| format!("connecting to {}", path.display()))?;
            conn.write_all(format!("{EVENTS_SERVICE} {source}\0").as_bytes())?;
            let mut link = Link::handshake(conn, &mut *lock()?, config)?;
            link.run(spool, stop)?;
        }
        Target::Qrexec(qube) => {
            let mut client =
                QrexecClient::spawn(QrexecClient::command(qube), &mut *lock()?, config)?;
            let result = client.link.run(spool, stop);
            let status = client.finish()?;
            result.with_context(|| describe_qrexec_exit(status))?;
        }
        Target::Tls {
            addr,
            identity,
            pin,
            ..
        } => {
            let mut link = TlsClient::connect(
                addr.as_str(),
                identity,
                *pin,
                &mut *lock()?,
                config,
                TLS_CONNECT_TIMEOUT,
            )
            .with_context(|| format!("connecting to {addr} (TLS)"))?;
            link.run(spool, stop)?;
        }
    }
    Ok(())
}

/// This machine's host name, if it has one.
fn own_host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Write `batch` to the output and the spool (each flushed or synced), naming `host` where
/// a record names none, and empty it.
fn deliver(
    batch: &mut Vec<Event>,
    out: Option<&Output>,
    spool: Option<&SharedSpool>,
    host: &Option<String>,
) -> Result<()> {
    for event in batch.iter_mut() {
        if event.host.is_none() {
            event.host = host.clone();
        }
    }
    if let Some(out) = out {
        let mut out = out
            .lock()
            .map_err(|_| anyhow::anyhow!("output lock poisoned"))?;
        for event in batch.iter() {
            event
                .write_eve(EveMode::Extended, &mut *out)
                .and_then(|_| out.write_all(b"\n"))
                .context("writing records")?;
        }
        out.flush().context("writing records")?;
    }
    if let Some(spool) = spool {
        let mut spool = spool
            .lock()
            .map_err(|_| anyhow::anyhow!("spool lock poisoned"))?;
        for event in batch.iter() {
            spool
                .append(event.to_eve_line(EveMode::Extended).as_bytes())
                .context("spooling records")?;
        }
        spool.sync().context("spooling records")?;
    }
    batch.clear();
    Ok(())
}

fn run_source(
    mut source: Box<dyn Source>,
    out: Option<&Output>,
    spool: Option<&SharedSpool>,
    stop: &AtomicBool,
    host: Option<String>,
) -> Result<()> {
    let mut batch: Vec<Event> = Vec::new();
    let name = source.name().to_string();
    while !stop.load(Ordering::SeqCst) {
        source
            .poll(Duration::from_secs(1), &mut batch)
            .with_context(|| format!("{name} source"))?;
        if batch.is_empty() {
            continue;
        }
        deliver(&mut batch, out, spool, &host)?;
        // Only now that the records are out may the source move its bookmark past them.
        source
            .checkpoint()
            .with_context(|| format!("{name} source: saving its position"))?;
    }
    source
        .checkpoint()
        .with_context(|| format!("{name} source: saving its position"))?;
    Ok(())
}
