//! picket-netwatch: early warning on encrypted traffic.
//!
//! - [`analytics`]: per-source baselines and flow alerts (allow/block lists, long sessions,
//!   odd hours, beaconing, scans, large transfers), fed by flow records on packet time.
//! - [`dns`]: the DNS guard's sans-IO core (policy, canaries, tunnelling detection, pins).
//! - [`leak`]: the VPN leak monitor's verdict on packets leaving by the uplink.
//!
//! Nothing here does I/O; `picket sensor`, `picket dns` and `picket leak` move the bytes.

pub mod analytics;
pub mod dns;
pub mod leak;
