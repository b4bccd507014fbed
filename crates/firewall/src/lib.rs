//! picket-firewall: a per-source policy compiled to nftables in picket's own table.
//!
//! Everything here is pure: the policy is parsed from text, compiled to an nft script and to
//! Qubes firewall rule lines, and response requests are validated and decided as values. The
//! `picket fw` and `picket respond` commands do the I/O (running `nft`, keeping state).
//!
//! - [`Policy::load`] / [`Policy::from_str`]: the TOML policy, errors naming file, line, key.
//! - [`Policy::dns_pins`]: for the DNS guard, the nft sets it fills per source and domain.
//! - [`compile_nft`], [`compile_qubes`]: the nft script (`table inet picket` only) and the
//!   Qubes firewall rule lines.
//! - [`decide`]: active response for the manager. An alert's rule id, level, groups and
//!   addresses go in; the requests to send to the net qube's `picket.Respond` come out, with
//!   allowlisted targets refused here already (the net qube checks again):
//!
//! ```
//! use picket_firewall::{decide, AlertFields, Decision, Limits, Policy};
//! let policy = Policy::from_str(r#"
//! [response]
//! manager_qube = "picket-manager"
//! manager = ["10.137.0.50"]
//! [[response.trigger]]
//! rules = [5712]
//! action = "ban"
//! timeout = "30m"
//! "#, "policy.toml").unwrap();
//! let limits = Limits::from_policy(&policy);
//! let alert = AlertFields { rule_id: 5712, level: 10, groups: &[], src_ip: Some("203.0.113.9"), dest_ip: None };
//! let decisions = decide(&policy, &limits, &alert);
//! let Decision::Send(request) = &decisions[0] else { panic!() };
//! assert_eq!(request.to_line(), "ban 203.0.113.9 1800"); // the line picket.Respond takes
//! ```

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
