//! `picket bench`: throughput and memory of the engines, measured in-process.

use crate::ruleset;
use anyhow::{bail, Context, Result};
use picket_event::Timestamp;
use picket_hids::Input;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Host log analysis: lines per CPU-second and peak memory.
    Hids(HidsArgs),
}

#[derive(Debug, clap::Args)]
pub struct HidsArgs {
    /// Ruleset roots (default: picket's embedded ruleset).
    #[arg(long = "ruleset", value_name = "DIR")]
    pub rulesets: Vec<PathBuf>,
    /// Log file to replay, one line per event (for example the output of
    /// shared/tools/gen_syslog_mix.py --seed 1 -n 1000000).
    #[arg(long)]
    pub input: PathBuf,
}

pub fn run(command: BenchCommand) -> Result<i32> {
    match command {
        BenchCommand::Hids(args) => hids(args),
    }
}

/// Resident memory high-water mark of this process, in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of this process in seconds, from /proc (clock ticks of 1/100 s).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn hids(args: HidsArgs) -> Result<i32> {
    let (ruleset, report) = ruleset::load(&args.rulesets)?;
    eprintln!(
        "ruleset: {}",
        report.describe().lines().next().unwrap_or("")
    );
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut session = ruleset.session();
    let rss_loaded = peak_rss_kib().unwrap_or(0);
    let cpu_start = cpu_seconds().unwrap_or(0.0);
    let wall = Instant::now();
    let mut buffer = Vec::with_capacity(4096);
    let mut lines = 0u64;
    let mut bytes = 0u64;
    let mut checkpoints = Vec::new();
    let mut next_checkpoint = total_bytes / 4;
    let time = Timestamp::now();
    loop {
        buffer.clear();
        let n = reader.read_until(b'\n', &mut buffer)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        let line = String::from_utf8_lossy(&buffer);
        let line = line.trim_end_matches(['\n', '\r']);
        // Event time advances one second per 100 lines, a realistic rate for correlation
        // windows, and stays independent of the wall clock.
        let _ = session.process(Input {
            line,
            location: "bench",
            agent: "bench",
            default_hostname: "bench",
            time: Timestamp::from_secs(time.as_secs() + (lines / 100) as i64),
        });
        lines += 1;
        if total_bytes > 0 && bytes >= next_checkpoint {
            checkpoints.push((lines, peak_rss_kib().unwrap_or(0)));
            next_checkpoint += total_bytes / 4;
        }
    }
    let elapsed = wall.elapsed().as_secs_f64();
    let cpu = (cpu_seconds().unwrap_or(0.0) - cpu_start).max(0.01);
    if lines == 0 {
        bail!("{} holds no lines", args.input.display());
    }
    let stats = session.stats();
    println!("hids bench: {lines} lines, {:.1} MB", bytes as f64 / 1e6);
    println!("  wall {elapsed:.2} s, cpu {cpu:.2} s");
    println!(
        "  {:.0} events/s wall, {:.0} events per CPU-second",
        lines as f64 / elapsed,
        lines as f64 / cpu
    );
    println!(
        "  decoded {}, matched {}, alerts {}",
        stats.decoded, stats.matched, stats.alerts
    );
    println!(
        "  peak RSS: {} KiB after loading rules, {} KiB at the end",
        rss_loaded,
        peak_rss_kib().unwrap_or(0)
    );
    for (at, rss) in checkpoints {
        println!("    peak RSS after {at} lines: {rss} KiB");
    }
    Ok(0)
}
