//! `picket verify`: run suricata-verify tests against `picket sensor` and report by category.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<i32> {
    anyhow::bail!("picket verify is not built yet")
}
