//! Compiles arbitrary pattern bytes in every matcher dialect and runs them on arbitrary text:
//! nothing may panic, and a compiled pattern's answers must agree with each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_matchers::{Dialect, Pattern};

const DIALECTS: [Dialect; 5] = [
    Dialect::OsMatch,
    Dialect::OsRegex,
    Dialect::Pcre2,
    Dialect::OssecPcre2,
    Dialect::Exact,
];

fuzz_target!(|data: &[u8]| {
    // First byte picks the dialect; the rest is `pattern \xff text` (0xff never occurs in
    // UTF-8, so it cannot be confused with pattern text).
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (pattern, text) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    let (Ok(pattern), text) = (std::str::from_utf8(pattern), String::from_utf8_lossy(text)) else {
        return;
    };
    let dialect = DIALECTS[usize::from(pick) % DIALECTS.len()];
    let Ok(p) = Pattern::compile(dialect, pattern) else {
        return;
    };
    let is = p.is_match(&text);
    let end = p.match_end(&text);
    assert_eq!(is, end.is_some());
    assert!(end.is_none_or(|e| e <= text.len()));
    if let Some(c) = p.captures(&text) {
        assert!(c.match_start <= c.match_end && c.match_end <= text.len());
    }
    if is {
        if let Some(lits) = p.required_literals() {
            let found = if p.is_case_insensitive() {
                let lower = text.to_ascii_lowercase();
                lits.iter().any(|l| lower.contains(l.as_str()))
            } else {
                lits.iter().any(|l| text.contains(l.as_str()))
            };
            assert!(found, "required literal missing");
        }
    }
});
