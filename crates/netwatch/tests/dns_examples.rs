//! The example configurations under examples/dns/ load, so the README's commands work.
#![allow(clippy::unwrap_used)]

use picket_netwatch::dns::{Guard, GuardConfig};
use picket_netwatch::leak::LeakConfig;

fn example(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/dns/");
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

#[test]
fn example_guard_config_loads() {
    let config = GuardConfig::from_toml(&example("guard.toml")).unwrap();
    assert_eq!(config.sources.len(), 1);
    assert_eq!(config.pins[0].set4.as_deref(), Some("matrix_v4"));
    Guard::new(&config, 1).unwrap();
}

#[test]
fn example_leak_config_loads() {
    let config = LeakConfig::from_toml(&example("leak.toml")).unwrap();
    assert_eq!(config.endpoints.len(), 2);
}
