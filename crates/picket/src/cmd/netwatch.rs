//! The flow-analytics stage of `picket sensor`: sensor events in, netwatch alerts out.
//!
//! This file does the I/O the sans-IO core (`picket_netwatch::analytics`) leaves out: it
//! reads the TOML, the list files it names (relative to the TOML's directory) and the state
//! file, and writes the state file back at the end.

use anyhow::{bail, Context, Result};
use picket_event::Event;
use picket_netwatch::analytics::{synth, Analytics, Config, Snapshot};
use std::path::{Path, PathBuf};

/// Options of the analytics stage, flattened into `picket sensor`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    /// Run flow analytics with this configuration (TOML; see examples/netwatch/), or
    /// `default` for the built-in defaults.
    #[arg(long = "netwatch", value_name = "CONFIG.toml|default")]
    pub config: Option<PathBuf>,
    /// Baselines and recent alert keys: read at start if the file exists, written at the end.
    /// Without it every run starts from nothing (and replays give identical alerts).
    #[arg(
        long = "netwatch-state",
        value_name = "STATE.json",
        requires = "config"
    )]
    pub state: Option<PathBuf>,
}

/// Runs the analytics over the sensor's events, in packet time.
#[derive(Debug)]
pub struct Stage {
    analytics: Analytics,
    state: Option<PathBuf>,
    alerts: Vec<Event>,
}

/// Load a configuration and its list files. `default` means the built-in configuration.
pub fn load(path: &Path) -> Result<Analytics> {
    if path.as_os_str() == "default" {
        return Ok(Analytics::with_defaults());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read netwatch config {}", path.display()))?;
    let config =
        Config::from_toml(&text).with_context(|| format!("netwatch config {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for name in config.list_files() {
        let full = base.join(&name);
        let text = std::fs::read_to_string(&full).with_context(|| {
            format!(
                "cannot read list file {} (from {})",
                full.display(),
                path.display()
            )
        })?;
        files.push((name, text));
    }
    let (analytics, skipped) = match Analytics::new(config, &files) {
        Ok(built) => built,
        Err(picket_netwatch::analytics::BuildError::MalformedLists(lines)) => {
            for line in lines.iter().take(20) {
                eprintln!("picket netwatch: {line}");
            }
            bail!(
                "netwatch config {}: {} malformed list line(s) (set skip_malformed_list_lines = true to skip them)",
                path.display(),
                lines.len()
            );
        }
        Err(error) => {
            return Err(error).with_context(|| format!("netwatch config {}", path.display()))
        }
    };
    for line in skipped.iter().take(20) {
        eprintln!("picket netwatch: skipped {line}");
    }
    if skipped.len() > 20 {
        eprintln!(
            "picket netwatch: ... {} skipped lines in all",
            skipped.len()
        );
    }
    Ok(analytics)
}

impl Stage {
    pub fn from_args(args: &StageArgs) -> Result<Option<Stage>> {
        let Some(path) = &args.config else {
            return Ok(None);
        };
        let mut analytics = load(path)?;
        if let Some(state) = &args.state {
            match std::fs::read(state) {
                Ok(bytes) => {
                    let snapshot: Snapshot = serde_json::from_slice(&bytes).with_context(|| {
                        format!("netwatch state {} is not valid", state.display())
                    })?;
                    analytics
                        .restore(snapshot)
                        .with_context(|| format!("netwatch state {}", state.display()))?;
                    eprintln!(
                        "picket netwatch: restored {} baselines from {}",
                        analytics.sources(),
                        state.display()
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot read netwatch state {}", state.display()))
                }
            }
        }
        Ok(Some(Stage {
            analytics,
            state: args.state.clone(),
            alerts: Vec::new(),
        }))
    }

    /// Look at the events the sensor just produced and append any alerts they raise.
    pub fn observe(&mut self, events: &mut Vec<Event>) {
        for event in events.iter_mut() {
            // Analytics reads records as JSON values; the sensor keeps flow records typed.
            event.materialize();
            self.analytics.observe(event, &mut self.alerts);
        }
        events.append(&mut self.alerts);
    }

    /// End of input: append alerts that only the end can decide, save the state and say
    /// what the limits did.
    pub fn finish(&mut self, events: &mut Vec<Event>) {
        // The sensor's last drain of its flow table arrives here without an observe call.
        self.observe(events);
        self.analytics.finish(events);
        let c = self.analytics.counters();
        eprintln!(
            "picket netwatch: {} flows, {} alerts ({} deduplicated), {} sources; limits hit: sources {}, destinations {}, beacon pairs {}, scan keys {}, name resets {}, dedup {}",
            c.flows, c.alerts, c.alerts_deduplicated, self.analytics.sources(),
            c.sources_dropped, c.destinations_dropped, c.beacon_pairs_dropped,
            c.scan_keys_dropped, c.names_reset, c.dedup_full
        );
        if let Some(path) = &self.state {
            if let Err(error) = save_state(path, &self.analytics.snapshot()) {
                eprintln!("picket netwatch: {error:#}");
            }
        }
    }
}

/// Write the state next to its final name, then rename, so a crash never leaves half a file.
fn save_state(path: &Path, snapshot: &Snapshot) -> Result<()> {
    let bytes = serde_json::to_vec(snapshot).context("cannot serialise netwatch state")?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .with_context(|| format!("cannot write netwatch state {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write netwatch state {}", path.display()))?;
    Ok(())
}

/// `picket bench flows`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Flow records to generate.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Seed of the generator (the same seed gives the same records).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Local sources the records come from.
    #[arg(long, default_value_t = 50)]
    sources: u32,
    /// Analytics configuration (default: the built-in one).
    #[arg(long, value_name = "CONFIG.toml")]
    netwatch: Option<PathBuf>,
    /// Do not benchmark: write the demo capture (two days of made-up traffic in which every
    /// alert kind fires under examples/netwatch/demo.toml) to this file and exit.
    #[arg(long, value_name = "OUT.pcap")]
    demo_pcap: Option<PathBuf>,
}

/// CPU time the calling thread has run, from `/proc/thread-self/schedstat` (Linux).
fn thread_cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Peak resident set size in KiB, from `/proc/self/status` (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn bench(args: BenchArgs) -> Result<i32> {
    if let Some(path) = &args.demo_pcap {
        let bytes = picket_netwatch::analytics::demo::demo_pcap();
        std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "picket: wrote {} ({} bytes); now run: picket sensor --read {} --netwatch examples/netwatch/demo.toml --eve demo.json",
            path.display(),
            bytes.len(),
            path.display()
        );
        return Ok(0);
    }
    let mut analytics = match &args.netwatch {
        Some(path) => load(path)?,
        None => Analytics::with_defaults(),
    };
    let Some(_) = thread_cpu_secs() else {
        bail!("picket bench flows needs /proc/thread-self/schedstat (Linux)");
    };
    // Records are generated in batches and only the analytics' share of CPU is counted.
    let mut records = synth::mixed_traffic(args.seed, args.records, args.sources);
    let mut batch: Vec<Event> = Vec::with_capacity(10_000);
    let mut alerts = Vec::new();
    let (mut cpu, mut done, mut alert_count) = (0.0f64, 0usize, 0usize);
    let wall = std::time::Instant::now();
    loop {
        batch.clear();
        batch.extend(records.by_ref().take(10_000));
        if batch.is_empty() {
            break;
        }
        let before = thread_cpu_secs().unwrap_or(0.0);
        for event in &batch {
            analytics.observe(event, &mut alerts);
        }
        cpu += thread_cpu_secs().unwrap_or(0.0) - before;
        done += batch.len();
        alert_count += alerts.len();
        alerts.clear();
    }
    let c = analytics.counters();
    println!(
        "bench flows: {done} records (seed {}, {} sources), {alert_count} alerts; analytics {:.3} s CPU: {:.0} records per CPU-second; total wall {:.3} s; {} baselines, {} beacon pairs ({} refused at the cap), {} scan keys ({} refused); peak RSS {} MiB",
        args.seed,
        args.sources,
        cpu,
        done as f64 / cpu.max(1e-9),
        wall.elapsed().as_secs_f64(),
        analytics.sources(),
        analytics.beacon_pairs(),
        c.beacon_pairs_dropped,
        analytics.scan_keys(),
        c.scan_keys_dropped,
        peak_rss_kib().map_or("?".to_string(), |k| (k / 1024).to_string()),
    );
    Ok(0)
}
