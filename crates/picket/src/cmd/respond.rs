//! `picket respond`: the `picket.Respond` qrexec service in a net qube.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<i32> {
    anyhow::bail!("picket respond is not built yet")
}
