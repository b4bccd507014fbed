//! picket-firewall: a per-source policy compiled to nftables in picket's own table.
//!
//! Everything here is pure: the policy is parsed from text, compiled to an nft script and to
//! Qubes firewall rule lines, and response requests are validated and decided as values. The
//! `picket fw` and `picket respond` commands do the I/O (running `nft`, keeping state).

pub mod net;
pub mod policy;

pub use net::{Cidr, Domain, Endpoint, IfName, PortRange, Seconds, Transport};
pub use policy::{
    pin_set_names, AllowRule, Dest, DnsPin, KillSwitch, Policy, PolicyError, Proto, ResponseConfig,
    Source, SourceMatch, Trigger, TriggerAction, TriggerTarget, Unlisted,
};
pub mod compile;

pub use compile::{compile_nft, compile_qubes, Compiled};
pub mod listing;
pub mod response;
pub mod state;

pub use response::{decide, AlertFields, Decision, Limits, Refusal, Request};
pub use state::{QuarantineTarget, ResponseState};
