//! `picket leak`: watch the uplink for anything that is not tunnel traffic.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<i32> {
    anyhow::bail!("picket leak is not built yet")
}
