//! Choosing the host ruleset: the roots given with `--ruleset`, or the embedded default.

use anyhow::{Context, Result};
use picket_hids::{
    load_embedded, load_ruleset_with, rule_includes_from_conf, LoadOptions, LoadReport, Ruleset,
};
use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Load `roots` in order, or picket's embedded default ruleset when none is given.
pub fn load(roots: &[PathBuf]) -> Result<(Ruleset, LoadReport)> {
    load_with_conf(roots, None)
}

/// Like [`load`], loading only the rule files an `ossec.conf` includes, in its order.
pub fn load_with_conf(
    roots: &[PathBuf],
    ossec_conf: Option<&std::path::Path>,
) -> Result<(Ruleset, LoadReport)> {
    if roots.is_empty() {
        return load_embedded(DEFAULT_RULESET).context("loading picket's embedded default ruleset");
    }
    let mut options = LoadOptions::default();
    if let Some(conf) = ossec_conf {
        let text =
            std::fs::read_to_string(conf).with_context(|| format!("reading {}", conf.display()))?;
        let files = rule_includes_from_conf(&text)
            .with_context(|| format!("parsing {}", conf.display()))?;
        options.rule_files = Some(files);
    }
    let names: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    load_ruleset_with(roots, &options)
        .with_context(|| format!("loading ruleset {}", names.join(", ")))
}

/// The embedded demo sample.
pub fn demo_sample() -> &'static str {
    DEFAULT_RULESET
        .iter()
        .find(|f| f.path == "samples/demo.log")
        .map_or("", |f| f.contents)
}
