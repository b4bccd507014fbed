//! `picket fw`: compile, check, diff, apply and roll back the nftables policy; bans.

use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum FwCommand {
    /// Compile a policy and print the nftables ruleset.
    Compile {},
}

pub fn run(_command: FwCommand) -> Result<i32> {
    anyhow::bail!("picket fw is not built yet")
}
