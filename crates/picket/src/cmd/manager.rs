//! `picket manager`: receives agents' records through the transport (a qrexec socket service,
//! an executable qrexec service on stdin/stdout, TCP with mutual TLS for enrolled agents), runs them through the host engine and
//! stores events and alerts in the data directory's SQLite store. The transport's per-source
//! delivery state is saved in the same transaction as the records it describes, and restored
//! at start, so a restarted manager neither loses nor double-stores an acknowledged record.
//! Transport flags (a forged name in Hello, a sequence gap, a spool reset) and sources that
//! go silent become stored alerts.

use anyhow::{Context, Result};
use picket_event::{Alert, Event, Timestamp};
use picket_manager::{Analysed, Ingest, IngestConfig, Sequenced};
use picket_store::{DeliveryState, Key, Store};
use picket_transport::delivery::SourceState;
use picket_transport::server::{Flag, Incoming, Server, ServerConfig};
use picket_transport::source::{Source, Via};
use picket_transport::tls::{self, Allowlist, Identity};
use std::collections::HashMap;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Data directory holding picket.db (default: $PICKET_DATA_DIR, else
    /// $XDG_DATA_HOME/picket, else ~/.local/share/picket).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Serve a qrexec socket service here (`"<service> <source>\0"` header, then
    /// `picket.Events` or `qubes.Log`).
    #[arg(long, value_name = "PATH")]
    pub listen_unix: Option<PathBuf>,
    /// Serve one connection on stdin/stdout, the source from QREXEC_REMOTE_DOMAIN (an
    /// executable qrexec service).
    #[arg(long)]
    pub qrexec_stdio: bool,
    /// Serve TCP with mutual TLS on ADDR (HOST:PORT); only agents enrolled with
    /// `picket enroll --serve --dir DIR` (the same --tls-dir) are accepted.
    #[arg(long, value_name = "ADDR", requires = "tls_dir")]
    pub listen_tls: Option<String>,
    /// The manager's key, certificate and allowlist, as `picket enroll --serve` keeps them.
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Raise an alert for a source not heard from for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub silent_after: u64,
    /// Active response: the firewall policy whose `[[response.triggers]]` say which alerts
    /// ban or quarantine their source (see `picket fw`). Off when absent.
    #[arg(long, value_name = "POLICY.toml")]
    pub respond_policy: Option<PathBuf>,
    /// The command that carries one request line to the net qube and prints its reply.
    #[arg(
        long,
        value_name = "COMMAND",
        default_value = "qrexec-client-vm sys-firewall picket.Respond"
    )]
    pub respond_command: String,
}

/// Rule ids of the manager's own alerts (outside the OSSEC ranges picket ships).
const RULE_CLAIM_MISMATCH: u64 = 990_001;
const RULE_SEQUENCE_GAP: u64 = 990_002;
const RULE_EPOCH_CHANGED: u64 = 990_003;
const RULE_SILENT: u64 = 990_004;

/// What the sink stores, behind one lock (the store is one SQLite connection). Records are
/// parsed under no lock, the rules run under another ([`Manager`]'s `ingest`), and one
/// writer thread commits the analysed batches (see [`run_writer`]), so that with several
/// agents sending at once batches are parsed while another is analysed and others are
/// written, each batch still acknowledged only once its rows are committed.
struct State {
    store: Store,
    /// Spool epoch per source, from its last Hello (its own lock: the record path reads it
    /// while the writer holds this one).
    epochs: Epochs,
    /// Delivery state per source, as saved with its records.
    delivery: HashMap<String, DeliveryState>,
    /// Sources already reported silent, with the last-seen time the alert was about.
    silenced: HashMap<String, i64>,
    /// Active response, when configured.
    responder: Option<super::active_response::Responder>,
}

/// Batches parsed, analysed or waiting to be stored at once, however many agents send. The
/// others wait with their records still as received, so memory grows with the connections'
/// frames only, not with their parsed events and alert rows (measured: 100 agents flooding
/// took the manager to 900 MB without a gate). More than one per stage, so that the writer
/// finds several batches waiting when a commit ends and commits them together.
const BATCHES_IN_PIPELINE: usize = 8;

/// Rows the writer puts in one transaction at most when several batches wait. Each commit
/// rewrites the B-tree pages the batch touched (the ends of the indexes) into the WAL, so
/// fewer, larger commits write less; a cap keeps one commit from holding every batch back.
const ROWS_PER_COMMIT: usize = 8192;

/// How long mimalloc keeps freed pages before handing them back, in milliseconds. The agent
/// purges at once for its idle footprint; in the manager, a hundred connection threads
/// each freeing its batch's pages at once made the madvise calls and the TLB shootdowns
/// they cost a twentieth of its CPU in the 100-agent flood, for some 20 MB of peak
/// memory saved.
const PURGE_DELAY_MS: &str = "10";

/// EVE text the writer commits between two checkpoints: about as much WAL as SQLite's
/// default checkpoint at 8192 pages held (the rows plus their index entries).
const EVE_BYTES_PER_CHECKPOINT: usize = 16 * 1024 * 1024;

/// The writer's own checkpoint, at this many WAL pages (256 MiB), bounds the WAL should the
/// checkpoint thread fall behind or stop.
const WAL_PAGES_BOUND: u32 = 65_536;

type Epochs = Arc<Mutex<HashMap<String, u64>>>;

/// An analysed batch on its way to the writer, with the channel on which its connection
/// waits for the commit before it acknowledges.
struct Job {
    first_seq: Option<u64>,
    analysed: Analysed,
    done: std::sync::mpsc::SyncSender<Result<(), String>>,
}

/// A counting gate: at most `limit` holders of [`Gate::enter`] at once.
struct Gate {
    inside: Mutex<usize>,
    freed: std::sync::Condvar,
    limit: usize,
}

struct Pass<'g>(&'g Gate);

impl Gate {
    fn new(limit: usize) -> Gate {
        Gate {
            inside: Mutex::new(0),
            freed: std::sync::Condvar::new(),
            limit: limit.max(1),
        }
    }

    fn enter(&self) -> Result<Pass<'_>, ()> {
        let mut inside = self.inside.lock().map_err(|_| ())?;
        while *inside >= self.limit {
            inside = self.freed.wait(inside).map_err(|_| ())?;
        }
        *inside += 1;
        Ok(Pass(self))
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if let Ok(mut inside) = self.0.inside.lock() {
            *inside = inside.saturating_sub(1);
        }
        self.0.freed.notify_one();
    }
}

/// A running manager's shared parts.
pub struct Manager {
    state: Arc<Mutex<State>>,
    server: Server,
    pub db: PathBuf,
}

pub fn data_dir(arg: Option<&Path>) -> Result<PathBuf> {
    match arg {
        Some(dir) => Ok(dir.to_path_buf()),
        None => picket_store::default_data_dir()
            .context("no data directory: set --data-dir, PICKET_DATA_DIR or HOME"),
    }
}

impl Manager {
    pub fn open(data_dir: &Path) -> Result<Manager> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let db = data_dir.join(picket_store::DB_FILE_NAME);
        let store = Store::open_with(
            &db,
            &picket_store::Options {
                wal_autocheckpoint: WAL_PAGES_BOUND,
                ..picket_store::Options::default()
            },
        )
        .with_context(|| format!("opening {}", db.display()))?;
        // A connection of its own checkpoints for the writer (see `run_checkpointer`).
        let checkpointer =
            Store::open(&db).with_context(|| format!("opening {} again", db.display()))?;
        let (wal_grew, wal_grown) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("manager-checkpoint".into())
            .spawn(move || run_checkpointer(&checkpointer, &wal_grown))
            .context("starting the checkpoint thread")?;
        let (ruleset, _) = crate::ruleset::load(&[])?;
        let ruleset: &'static _ = Box::leak(Box::new(ruleset));
        let ingest = Ingest::new(ruleset, IngestConfig::default());
        let saved = store.delivery_states()?;
        let mut delivery = HashMap::new();
        let mut epochs = HashMap::new();
        for s in &saved {
            delivery.insert(s.source.clone(), s.clone());
            epochs.insert(s.source.clone(), s.epoch);
        }
        let ingest = Arc::new(Mutex::new(ingest));
        let epochs: Epochs = Arc::new(Mutex::new(epochs));
        let state = Arc::new(Mutex::new(State {
            store,
            epochs: epochs.clone(),
            delivery,
            silenced: HashMap::new(),
            responder: None,
        }));
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(BATCHES_IN_PIPELINE);
        {
            let state = state.clone();
            std::thread::Builder::new()
                .name("manager-writer".into())
                .spawn(move || run_writer(&state, &queue, &wal_grew))
                .context("starting the writer thread")?;
        }
        let sink_state = state.clone();
        let sink_ingest = ingest.clone();
        let stages = Arc::new(Gate::new(BATCHES_IN_PIPELINE));
        let server = Server::new(ServerConfig::default(), move |item: Incoming| {
            let poisoned = || "manager state lock poisoned".to_string();
            match item {
                Incoming::Records {
                    source,
                    first_seq,
                    records,
                } => {
                    let _pass = stages.enter().map_err(|_| poisoned())?;
                    let epoch = epochs
                        .lock()
                        .map_err(|_| poisoned())?
                        .get(&source.name)
                        .copied()
                        .unwrap_or(0);
                    let now = Timestamp::now();
                    // Each record's bytes move into its `Sequenced`, to be stored as they
                    // came when nothing in them changes.
                    let batch: Vec<Sequenced> = records
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| Sequenced::parse(first_seq.map(|f| f + i as u64), r, now))
                        .collect();
                    let analysed = sink_ingest.lock().map_err(|_| poisoned())?.analyse(
                        &source.name,
                        epoch,
                        batch,
                    );
                    let (done, committed) = std::sync::mpsc::sync_channel(1);
                    jobs.send(Job {
                        first_seq,
                        analysed,
                        done,
                    })
                    .map_err(|_| "the manager's writer stopped".to_string())?;
                    committed
                        .recv()
                        .map_err(|_| "the manager's writer stopped".to_string())?
                }
                other => {
                    let mut state = sink_state.lock().map_err(|_| poisoned())?;
                    state.accept(other).map_err(|e| format!("{e:#}"))
                }
            }
        });
        {
            let mut receiver = server
                .receiver()
                .lock()
                .map_err(|_| anyhow::anyhow!("receiver lock poisoned"))?;
            // The store keys sources by name alone, and the receiver by name and channel:
            // restore each under every channel it may come back on.
            for s in saved {
                for via in [Via::Qrexec, Via::Tls, Via::Local] {
                    if let Ok(source) = Source::new(&s.source, via) {
                        receiver.restore(
                            source,
                            SourceState {
                                epoch: s.epoch,
                                stored: s.stored,
                                duplicates: s.duplicates,
                                gaps: s.gaps,
                            },
                        );
                    }
                }
            }
        }
        Ok(Manager { state, server, db })
    }

    /// Turn alerts into `picket.Respond` requests as `policy`'s triggers say, sent with
    /// `command`; every outcome is stored as a `response` event.
    pub fn enable_response(&self, policy: &Path, command: Vec<String>) -> Result<()> {
        let (responder, receiver) = super::active_response::Responder::new(policy)?;
        self.state
            .lock()
            .map_err(|_| anyhow::anyhow!("manager state lock poisoned"))?
            .responder = Some(responder);
        let state = self.state.clone();
        std::thread::Builder::new()
            .name("response".into())
            .spawn(move || {
                super::active_response::run_worker(receiver, command, |event| {
                    let source = event.host.clone().unwrap_or_default();
                    let stored = state
                        .lock()
                        .map_err(|_| anyhow::anyhow!("manager state lock poisoned"))
                        .and_then(|mut s| s.store_event(&source, &event));
                    if let Err(e) = stored {
                        eprintln!("picket manager: cannot store a response: {e:#}");
                    }
                });
            })
            .context("cannot start the response worker")?;
        Ok(())
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Raise one alert per source silent longer than `after` (once per silence).
    pub fn check_silent(&self, after: Duration) -> Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("manager state lock poisoned"))?;
        state.check_silent(after)
    }
}

impl State {
    fn accept(&mut self, item: Incoming) -> Result<()> {
        match item {
            Incoming::Hello { source, hello } => {
                if let Ok(mut epochs) = self.epochs.lock() {
                    epochs.insert(source.name, hello.epoch);
                }
            }
            // Records go through the writer thread; see `Manager::open`.
            Incoming::Records { .. } => {}
            Incoming::Heartbeat { source, .. } => {
                let mut tx = self.store.batch()?;
                tx.saw_source(&source.name, Timestamp::now(), 0)?;
                tx.commit()?;
            }
            Incoming::Flag { source, flag } => {
                let (rule, level, text) = match &flag {
                    Flag::ClaimMismatch { claimed } => (
                        RULE_CLAIM_MISMATCH,
                        10,
                        format!(
                            "picket: agent claimed to be {claimed:?}, but is {}",
                            source.name
                        ),
                    ),
                    Flag::SequenceGap {
                        missing,
                        resumed_at,
                    } => {
                        if let Some(d) = self.delivery.get_mut(&source.name) {
                            d.gaps += missing;
                        }
                        (
                            RULE_SEQUENCE_GAP,
                            7,
                            format!(
                                "picket: {missing} records from {} lost before {resumed_at}",
                                source.name
                            ),
                        )
                    }
                    Flag::EpochChanged { old, new } => (
                        RULE_EPOCH_CHANGED,
                        7,
                        format!(
                            "picket: spool of {} restarted (epoch {old} to {new})",
                            source.name
                        ),
                    ),
                };
                self.store_alert(&source.name, rule, level, &text)?;
            }
            Incoming::Closed { source, error } => {
                if let Some(error) = error {
                    let name = source.map_or_else(|| "?".to_string(), |s| s.name);
                    eprintln!("picket manager: connection from {name} closed: {error}");
                }
            }
        }
        Ok(())
    }

    /// Store analysed batches, each with the delivery state it brings, in one transaction:
    /// all of them are committed, or none.
    fn records(&mut self, jobs: &[Job]) -> Result<()> {
        let now = Timestamp::now();
        let mut tx = self.store.batch()?;
        // Delivery states saved in this transaction, applied to `self.delivery` only once
        // it commits (the same source may come twice, over two channels).
        let mut saved: Vec<DeliveryState> = Vec::new();
        let mut rows = Vec::new();
        for job in jobs {
            let analysed = &job.analysed;
            let source = analysed.source.as_str();
            let epoch = analysed.epoch;
            let count = analysed.report.received;
            // Many rows per statement: the writer thread is the pipeline's slower stage.
            rows.clear();
            analysed.store_rows(&mut rows);
            tx.insert_rows(&rows)?;
            if let (Some(first), true) = (job.first_seq, count > 0) {
                let mut d = saved
                    .iter()
                    .rev()
                    .find(|d| d.source == source)
                    .or_else(|| self.delivery.get(source))
                    .cloned()
                    .unwrap_or_default();
                if d.epoch != epoch {
                    d = DeliveryState::default();
                }
                d.source = source.to_string();
                d.epoch = epoch;
                d.stored = first + count - 1;
                tx.save_delivery(&d)?;
                saved.push(d);
            }
            tx.saw_source(source, now, count)?;
        }
        tx.commit()?;
        for d in saved {
            self.delivery.insert(d.source.clone(), d);
        }
        for job in jobs {
            let source = job.analysed.source.as_str();
            self.silenced.remove(source);
            if let Some(responder) = self.responder.as_mut() {
                let mut dropped = Vec::new();
                for row in job.analysed.rows.iter().filter(|r| r.alert.is_some()) {
                    dropped.extend(responder.on_alert(source, &row.eve));
                }
                for outcome in dropped {
                    let event = super::active_response::response_event(
                        &outcome,
                        "dropped",
                        "response queue full",
                    );
                    self.store_event(source, &event)?;
                }
            }
        }
        Ok(())
    }

    fn store_event(&mut self, source: &str, event: &Event) -> Result<()> {
        let epoch = self
            .epochs
            .lock()
            .ok()
            .and_then(|e| e.get(source).copied())
            .unwrap_or(0);
        let mut tx = self.store.batch()?;
        tx.insert(
            Key {
                source,
                epoch,
                seq: None,
                part: 0,
            },
            event,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn store_alert(&mut self, source: &str, rule: u64, level: u8, text: &str) -> Result<()> {
        let mut cause = Event::new(Timestamp::now(), "picket");
        cause.host = Some(source.to_string());
        let alert = Alert {
            engine: "manager".into(),
            signature_id: rule,
            rev: 1,
            signature: text.to_string(),
            category: "picket".into(),
            severity: Alert::severity_from_level(level),
            level: Some(level),
            groups: vec!["picket".into()],
            mitre: Vec::new(),
        }
        .into_event(&cause);
        self.store_event(source, &alert)
    }

    fn check_silent(&mut self, after: Duration) -> Result<()> {
        let silent = self.store.silent_sources(Timestamp::now(), after)?;
        for s in silent {
            let last = s.last_seen.as_micros();
            if self.silenced.get(&s.name) == Some(&last) {
                continue;
            }
            let text = format!(
                "picket: source {} silent for more than {} s",
                s.name,
                after.as_secs()
            );
            self.store_alert(&s.name, RULE_SILENT, 10, &text)?;
            self.silenced.insert(s.name, last);
        }
        Ok(())
    }
}

/// The writer thread: takes analysed batches as connections hand them over, commits every
/// batch waiting (up to [`ROWS_PER_COMMIT`] rows) in one transaction, and tells each
/// connection the outcome, on which it acknowledges or fails. Ends when the server (the
/// last sender) is gone.
fn run_writer(
    state: &Mutex<State>,
    queue: &std::sync::mpsc::Receiver<Job>,
    wal_grew: &std::sync::mpsc::SyncSender<()>,
) {
    let mut since_checkpoint = 0usize;
    while let Ok(first) = queue.recv() {
        let mut rows = first.analysed.rows.len();
        let mut group = vec![first];
        while rows < ROWS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => {
                    rows += job.analysed.rows.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let result = match state.lock() {
            Ok(mut state) => state.records(&group).map_err(|e| format!("{e:#}")),
            Err(_) => Err("manager state lock poisoned".to_string()),
        };
        if result.is_ok() {
            since_checkpoint += group
                .iter()
                .flat_map(|job| &job.analysed.rows)
                .map(|row| row.eve.len())
                .sum::<usize>();
            if since_checkpoint >= EVE_BYTES_PER_CHECKPOINT {
                // Full: a checkpoint is already asked for, and it copies these rows too.
                let _ = wal_grew.try_send(());
                since_checkpoint = 0;
            }
        }
        for job in group {
            // A connection that went away no longer waits for its answer.
            let _ = job.done.send(result.clone());
        }
    }
}

/// The checkpoint thread: copies the WAL into the database each time the writer says it
/// grew, on its own connection, so that the copy and its syncs (measured: a seventh of the
/// writer's CPU in the 100-agent flood) run beside the writer instead of inside its commits.
/// Passive: it never waits for the writer, which restarts the WAL once all of it is copied.
fn run_checkpointer(store: &Store, wal_grown: &std::sync::mpsc::Receiver<()>) {
    while wal_grown.recv().is_ok() {
        if let Err(e) = store.checkpoint_passive() {
            eprintln!("picket manager: checkpoint failed: {e}");
        }
    }
}

pub fn run(args: Args) -> Result<i32> {
    super::agent::reexec_without_huge_pages("picket manager", PURGE_DELAY_MS)?;
    let dir = data_dir(args.data_dir.as_deref())?;
    let manager = Manager::open(&dir)?;
    if let Some(policy) = &args.respond_policy {
        let command: Vec<String> = args
            .respond_command
            .split_whitespace()
            .map(str::to_string)
            .collect();
        manager.enable_response(policy, command)?;
        eprintln!(
            "picket manager: active response per {} via `{}`",
            policy.display(),
            args.respond_command
        );
    }
    let after = Duration::from_secs(args.silent_after.max(1));
    if args.qrexec_stdio {
        let result = manager.server().serve_qrexec_stdio();
        manager.check_silent(after)?;
        return match result {
            Ok(()) => Ok(0),
            Err(e) => {
                eprintln!("picket manager: {e}");
                Ok(1)
            }
        };
    }
    if args.listen_unix.is_none() && args.listen_tls.is_none() {
        anyhow::bail!(
            "nothing to serve: give --listen-unix PATH, --listen-tls ADDR or --qrexec-stdio"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("installing the signal handler")?;
    }
    if let Some(path) = &args.listen_unix {
        spawn_unix(&manager, path)?;
        eprintln!("picket manager: listening on {}", path.display());
    }
    if let (Some(addr), Some(dir)) = (&args.listen_tls, &args.tls_dir) {
        spawn_tls(&manager, addr, dir)?;
    }
    eprintln!("picket manager: storing in {}", manager.db.display());
    supervise(&manager, after, &stop)?;
    if let Some(path) = &args.listen_unix {
        let _ = std::fs::remove_file(path);
    }
    Ok(0)
}

/// Bind `path` (replacing a stale socket) and serve it on a thread.
pub fn spawn_unix(manager: &Manager, path: &Path) -> Result<std::thread::JoinHandle<()>> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
    let server = manager.server().clone();
    let handle = std::thread::Builder::new()
        .name("manager-unix".into())
        .spawn(move || {
            if let Err(e) = server.serve_unix_socket(listener) {
                eprintln!("picket manager: socket service stopped: {e}");
            }
        })
        .context("starting the socket thread")?;
    Ok(handle)
}

/// Serve TCP with mutual TLS on `addr` on a thread, with the key and allowlist in `dir`.
fn spawn_tls(manager: &Manager, addr: &str, dir: &Path) -> Result<()> {
    let (identity, _) = Identity::load_or_create(dir, "picket-manager")
        .with_context(|| format!("manager key in {}", dir.display()))?;
    let allowlist = Arc::new(Allowlist::open(dir.join(super::enroll::ALLOWLIST_FILE))?);
    if allowlist.is_empty() {
        eprintln!(
            "picket manager: no agent enrolled in {} yet (picket enroll --serve)",
            dir.display()
        );
    }
    let config = tls::server_config(&identity, allowlist.clone())?;
    let listener = TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    eprintln!(
        "picket manager: mutual TLS on {} (certificate sha256:{})",
        listener.local_addr()?,
        identity.fingerprint()
    );
    let server = manager.server().clone();
    std::thread::Builder::new()
        .name("manager-tls".into())
        .spawn(move || {
            if let Err(e) = server.serve_tls(listener, config, allowlist) {
                eprintln!("picket manager: TLS service stopped: {e}");
            }
        })
        .context("starting the TLS thread")?;
    Ok(())
}

/// Run the silence check until `stop`.
pub fn supervise(manager: &Manager, after: Duration, stop: &AtomicBool) -> Result<()> {
    let every = (after / 4).clamp(Duration::from_millis(200), Duration::from_secs(10));
    let mut next = Instant::now() + every;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if Instant::now() >= next {
            manager.check_silent(after)?;
            next = Instant::now() + every;
        }
    }
    Ok(())
}
