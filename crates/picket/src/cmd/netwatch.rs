//! The flow-analytics stage of `picket sensor`: sensor events in, netwatch alerts out.

use anyhow::Result;
use picket_event::Event;
use std::path::PathBuf;

/// Options of the analytics stage, flattened into `picket sensor`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    /// Flow analytics configuration (TOML).
    #[arg(long = "netwatch", value_name = "CONFIG.toml")]
    pub config: Option<PathBuf>,
}

/// Runs the analytics over the sensor's events, in packet time.
#[derive(Debug)]
pub struct Stage {}

impl Stage {
    pub fn from_args(_args: &StageArgs) -> Result<Option<Stage>> {
        Ok(None)
    }

    /// Look at the events the sensor just produced and append any alerts they raise.
    pub fn observe(&mut self, _events: &mut Vec<Event>) {}

    /// End of input: append alerts that only the end can decide.
    pub fn finish(&mut self, _events: &mut Vec<Event>) {}
}

/// `picket bench flows`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

pub fn bench(_args: BenchArgs) -> Result<i32> {
    anyhow::bail!("picket bench flows is not built yet")
}
