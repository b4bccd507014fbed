#![no_main]
//! Any bytes as a rule file: loading never panics, and every rule that loads renders to text
//! that parses back to the same rule.
use libfuzzer_sys::fuzz_target;
use picket_nids::{parse_line, LoadOptions, Ruleset};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut set = Ruleset::new(LoadOptions::default());
    set.add_source("fuzz.rules", &text);
    for lr in &set.rules {
        let rendered = lr.rule.to_string();
        let again = parse_line(&rendered).unwrap_or_else(|e| panic!("{rendered}: {e}"));
        assert_eq!(again, lr.rule, "{rendered}");
    }
});
