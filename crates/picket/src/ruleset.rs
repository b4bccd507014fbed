//! Choosing the host ruleset: the roots given with `--ruleset`, or the embedded default.

use anyhow::{Context, Result};
use picket_hids::{load_embedded, load_ruleset, LoadReport, Ruleset};
use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Load `roots` in order, or picket's embedded default ruleset when none is given.
pub fn load(roots: &[PathBuf]) -> Result<(Ruleset, LoadReport)> {
    if roots.is_empty() {
        return load_embedded(DEFAULT_RULESET).context("loading picket's embedded default ruleset");
    }
    let names: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    load_ruleset(roots).with_context(|| format!("loading ruleset {}", names.join(", ")))
}

/// The embedded demo sample.
pub fn demo_sample() -> &'static str {
    DEFAULT_RULESET
        .iter()
        .find(|f| f.path == "samples/demo.log")
        .map_or("", |f| f.contents)
}
