use anyhow::{bail, Result};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Host log analysis throughput.
    Hids,
}

pub fn run(command: BenchCommand) -> Result<i32> {
    match command {
        BenchCommand::Hids => bail!("`picket bench hids` is not built yet"),
    }
}
