//! The `picket` command: every role (manager, agent, sensor, decoy) and every tool in one
//! binary. Each subcommand lives in its own module under `cmd/`; this file only dispatches.

mod cmd;
mod ruleset;

use anyhow::Result;

/// The whole process allocates through mimalloc: the sensor builds and frees a JSON object
/// per flow record, and the host engine a few strings per line; with glibc's allocator that
/// churn was about a quarter of the sensor's engine time (`picket sensor --bench`).
/// Its `no_thp` feature stops it from asking for transparent huge pages: each first touch
/// of a fresh 2 MiB region then zeroed the whole region, which cost the sensor a fifth of its
/// CPU time and 33 MiB of peak RSS with ET Open loaded.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "picket",
    version,
    about = "Attack early warning, detection, delay and denial for Qubes OS and Linux"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run picket on this host with embedded defaults and show what it detects on bundled samples.
    Demo(cmd::demo::Args),
    /// Test log lines against OSSEC/Wazuh decoders and rules, as ossec-logtest does.
    Logtest(cmd::logtest::Args),
    /// Benchmarks of the engines.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Network sensor: read captures or an interface and write EVE JSON.
    Sensor(cmd::sensor::Args),
    /// Host agent: read logs, watch file integrity and honeytokens, send to the manager.
    Agent(cmd::agent::Args),
    /// Manager: receive events from agents, analyse, store, alert.
    Manager(cmd::manager::Args),
    /// Enrol a TCP agent with a manager (keys and pins).
    Enroll(cmd::enroll::Args),
    /// Show stored alerts.
    Alerts(cmd::alerts::Args),
    /// Run manager and agent on this host with embedded defaults.
    Up(cmd::up::Args),
    /// Suricata rule tools.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
    /// DNS guard for a net qube: per-source policy, sinkhole, canaries, nft sets.
    Dns(cmd::dns::Args),
    /// VPN leak monitor: alert on anything leaving by the uplink that is not tunnel traffic.
    Leak(cmd::leak::Args),
    /// Per-source firewall on nftables: compile, check, diff, apply, rollback, bans.
    #[command(subcommand)]
    Fw(cmd::fw::FwCommand),
    /// The picket.Respond qrexec service: ban, unban, quarantine, release.
    Respond(cmd::respond::Args),
    /// Run suricata-verify tests against picket sensor and report pass rates by category.
    Verify(cmd::verify::Args),
}

fn main() {
    let cli = Cli::parse();
    let result: Result<i32> = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Logtest(args) => cmd::logtest::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Sensor(args) => cmd::sensor::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Manager(args) => cmd::manager::run(args),
        Command::Enroll(args) => cmd::enroll::run(args),
        Command::Alerts(args) => cmd::alerts::run(args),
        Command::Up(args) => cmd::up::run(args),
        Command::Rules(command) => cmd::rules::run(command),
        Command::Dns(args) => cmd::dns::run(args),
        Command::Leak(args) => cmd::leak::run(args),
        Command::Fw(command) => cmd::fw::run(command),
        Command::Respond(args) => cmd::respond::run(args),
        Command::Verify(args) => cmd::verify::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("picket: {error:#}");
            std::process::exit(2);
        }
    }
}
