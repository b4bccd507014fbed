//! `picket-agent`: the host agent alone, as `picket agent` runs it once it has checked its
//! arguments and configuration. It links only the agent (sources, spool, transport client),
//! so what an idle agent keeps resident in every qube is the agent's own code and data, not
//! the pages of the manager, the store, the sensor and the rule engines, nor those of the
//! argument and TOML parsers `picket agent` ran before.
//!
//! Its arguments are `picket agent`'s, except that the configuration comes as JSON in
//! `--config-json`; run `picket agent` rather than this.

use anyhow::{bail, Context, Result};
use picket_hostsrc::config::AgentConfig;
use std::ffi::OsString;
use std::path::PathBuf;

// No `#[global_allocator]`: the agent uses glibc's malloc, which `picket agent` tunes through
// the environment (see `agent::LEAN_TUNABLES`). mimalloc, which `picket` uses, kept 740 KiB of
// its arena resident in an idle agent against glibc's 420 KiB, and its code is not linked here.

// The whole agent module is shared with `picket`; its command-line front and what
// `picket up` and `picket demo` use from it are not needed here.
#[allow(dead_code)]
#[path = "../cmd/agent.rs"]
mod agent;

fn main() {
    let code = match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("picket: {error:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run() -> Result<i32> {
    let (args, config) = parse(std::env::args_os().skip(1))?;
    agent::start(&args, config)
}

/// The arguments `picket agent` hands on (see `agent::exec_lean`).
fn parse(argv: impl Iterator<Item = OsString>) -> Result<(agent::Args, AgentConfig)> {
    let mut args = agent::Args {
        config: PathBuf::from("-"),
        output: None,
        check_config: false,
        manager_unix: None,
        manager_tls: None,
        tls_dir: None,
        qrexec_target: None,
        source_name: None,
    };
    let mut config = None;
    let mut argv = argv;
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .with_context(|| format!("{} needs a value", flag.to_string_lossy()))?;
        let text = || {
            value
                .to_str()
                .map(str::to_owned)
                .with_context(|| format!("{}: not UTF-8", flag.to_string_lossy()))
        };
        match flag.to_str() {
            Some("--config-json") => {
                let config_json = text()?;
                config = Some(
                    serde_json::from_str::<AgentConfig>(&config_json).context("--config-json")?,
                );
            }
            Some("--output") => args.output = Some(value.into()),
            Some("--manager-unix") => args.manager_unix = Some(value.into()),
            Some("--tls-dir") => args.tls_dir = Some(value.into()),
            Some("--manager-tls") => args.manager_tls = Some(text()?),
            Some("--qrexec-target") => args.qrexec_target = Some(text()?),
            Some("--source-name") => args.source_name = Some(text()?),
            _ => bail!(
                "picket-agent: unknown argument {}; run `picket agent`, which runs this",
                flag.to_string_lossy()
            ),
        }
    }
    let config = config.context("picket-agent is run by `picket agent` (no --config-json)")?;
    Ok((args, config))
}
