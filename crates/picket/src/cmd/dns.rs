//! `picket dns`: the DNS guard for a net qube.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<i32> {
    anyhow::bail!("picket dns is not built yet")
}

/// `picket bench dns`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

pub fn bench(_args: BenchArgs) -> Result<i32> {
    anyhow::bail!("picket bench dns is not built yet")
}
