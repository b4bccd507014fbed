//! picket-nids: the Suricata rule language.
//!
//! Sans-IO: the caller reads files and hands their text to [`Ruleset::add_source`]; nothing
//! here touches the file system or the network.
//!
//! A rule file is split into logical rules ([`source`]): blank lines and comments are dropped,
//! commented-out rules (`# alert ...`) are counted as disabled, and lines ending in `\` are
//! joined, keeping a map back to each physical line so every diagnostic carries the file's
//! own line and column. Each rule is then parsed ([`rule::parse_rule`]) into typed values.
//!
//! A rule that fails is *skipped*, not fatal: the [`RuleError`] names the keyword that caused
//! it (or the header part: `action`, `protocol`, `address`, `port`, `direction`,
//! `variable`), so a load report can say which missing features cost the most rules.
//! Keywords Suricata has but picket does not implement are told apart from misspellings
//! ([`ErrorKind::UnsupportedKeyword`] vs [`ErrorKind::UnknownKeyword`]).
//!
//! Options apply in order with Suricata's buffer semantics: a sticky buffer keyword selects
//! where later payload keywords look; a legacy modifier moves the content just before it.

pub mod buffers;
pub mod classification;
pub mod engine;
pub mod error;
pub mod header;
pub mod keywords;
mod options;
pub mod prefilter;
pub mod public_suffix;
mod render;
pub mod rule;
pub mod ruleset;
pub mod source;
pub mod vars;

pub use classification::{Classifications, Classtype, ReferenceSystems};
pub use engine::{Engine, EngineConfig, EngineError, EngineStats};
pub use error::{ErrorKind, Position, RuleError};
pub use header::{Action, AddressExpr, Cidr, Direction, Header, PortExpr, Protocol};
pub use public_suffix::{PublicSuffixList, SuffixSource};
pub use render::content_text;
pub use rule::{
    parse_rule, AppLayerProtocol, BufferMatches, Checksum, HeaderCheck, Match, Meta, Rule,
};
pub use ruleset::{LoadOptions, LoadedRule, ResolvedHeader, Ruleset, SkippedRule};
pub use source::RuleText;
pub use vars::{Variables, VarsError};

/// Parses a single rule written on one line (line 1, column 1).
pub fn parse_line(text: &str) -> Result<Rule, RuleError> {
    parse_rule(&RuleText::single(text))
}
