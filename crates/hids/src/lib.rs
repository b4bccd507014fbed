//! The host analysis engine: OSSEC and Wazuh decoders and rules, loaded unchanged.
//!
//! [`load_ruleset`] reads one or more ruleset roots laid out as OSSEC and Wazuh lay theirs
//! out (`rules/`, plus `decoders/` or `etc/decoder.xml`, plus `lists/`). A
//! [`Ruleset`]'s [`Session`] then analyses lines: pre-decoding (syslog header), decoding
//! (fields), and rule matching with correlation. Everything a ruleset uses that picket does
//! not implement is counted by name in the [`LoadReport`], never skipped silently.
//!
//! No I/O happens after loading: sessions take lines and times and return outcomes.

mod decoder;
mod engine;
mod error;
mod fields;
mod lists;
mod load;
mod predecode;
mod rules;
pub mod xml;

pub use decoder::{Category, Decoder, DecoderSet};
pub use engine::{Analysis, Input, Limits, MatchedRule, Outcome, Ruleset, Session, SessionStats};
pub use error::LoadError;
pub use fields::Fields;
pub use lists::CdbList;
pub use load::{
    load_embedded, load_ruleset, load_ruleset_with, ossec_stock_rule_files,
    rule_includes_from_conf, EmbeddedFile, LoadOptions,
};
pub use predecode::{predecode, PreDecoded};
pub use rules::Rule;

use std::collections::BTreeMap;

/// What loading found: counts, and everything not supported, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub decoder_files: usize,
    pub rule_files: usize,
    pub decoders: usize,
    pub rules: usize,
    pub lists: usize,
    pub overwritten: usize,
    pub missing_descriptions: usize,
    /// Features present in the ruleset that picket does not implement, with how often.
    pub unsupported: BTreeMap<String, usize>,
    /// Rules that could not be placed (their parent never appeared), with the reason.
    pub skipped: Vec<String>,
}

impl LoadReport {
    pub(crate) fn unsupported(&mut self, what: String) {
        *self.unsupported.entry(what).or_insert(0) += 1;
    }

    /// One line per unsupported feature and skipped rule, for humans.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} decoders from {} files, {} rules from {} files, {} lists",
            self.decoders, self.decoder_files, self.rules, self.rule_files, self.lists
        );
        for (what, count) in &self.unsupported {
            out.push_str(&format!("\n  unsupported: {what} ({count}x)"));
        }
        for skipped in &self.skipped {
            out.push_str(&format!("\n  skipped: {skipped}"));
        }
        out
    }
}
