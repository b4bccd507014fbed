use anyhow::{bail, Result};

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Load Suricata rule files and report what loaded and what was skipped, by keyword.
    Check {
        /// Rule files or directories.
        files: Vec<std::path::PathBuf>,
    },
}

pub fn run(command: RulesCommand) -> Result<i32> {
    match command {
        RulesCommand::Check { .. } => bail!("`picket rules check` is not built yet"),
    }
}
