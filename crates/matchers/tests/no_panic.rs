//! Generated patterns and texts in every dialect: nothing panics, the three ways of matching
//! agree with each other, and the required literals never rule out a text that matches.

use picket_matchers::{Dialect, Pattern};

/// A small deterministic generator, so a failure names a reproducible case.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn string(&mut self, pieces: &[&str], max: usize) -> String {
        let mut s = String::new();
        for _ in 0..self.below(max + 1) {
            s.push_str(pieces[self.below(pieces.len())]);
        }
        s
    }
}

const PATTERN_PIECES: &[&str] = &[
    "\\d",
    "\\w",
    "\\s",
    "\\S",
    "\\D",
    "\\W",
    "\\p",
    "\\.",
    "\\t",
    "\\(",
    "\\)",
    "\\$",
    "\\|",
    "\\<",
    "\\\\",
    "\\",
    "+",
    "*",
    "?",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "^",
    "$",
    "|",
    "!",
    ".",
    "a",
    "B",
    "1",
    " ",
    "-",
    ":",
    "é",
    "\u{1F600}",
    "(?=",
    "(?i)",
    "\\1",
    "[a-z]",
    "{2,3}",
];
const TEXT_PIECES: &[&str] = &[
    "a",
    "B",
    "b",
    "1",
    "2",
    " ",
    "\t",
    "-",
    ":",
    ".",
    "(",
    ")",
    "$",
    "|",
    "\\",
    "é",
    "\u{1F600}",
    "\0",
    "\n",
    "ab",
    "12",
    "[",
    "]",
];
const DIALECTS: [Dialect; 5] = [
    Dialect::OsMatch,
    Dialect::OsRegex,
    Dialect::Pcre2,
    Dialect::OssecPcre2,
    Dialect::Exact,
];

fn contains_literal(p: &Pattern, text: &str, literals: &[String]) -> bool {
    if p.is_case_insensitive() {
        let lower = text.to_ascii_lowercase();
        literals.iter().any(|l| lower.contains(l.as_str()))
    } else {
        literals.iter().any(|l| text.contains(l.as_str()))
    }
}

#[test]
fn generated_patterns_never_panic_and_agree_with_themselves() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut compiled = 0;
    let mut matched = 0;
    for round in 0..3_000 {
        let pattern = rng.string(PATTERN_PIECES, 8);
        let dialect = DIALECTS[round % DIALECTS.len()];
        let Ok(p) = Pattern::compile(dialect, &pattern) else {
            continue;
        };
        compiled += 1;
        let literals = p.required_literals();
        for _ in 0..8 {
            let text = rng.string(TEXT_PIECES, 12);
            let is = p.is_match(&text);
            let caps = p.captures(&text);
            let end = p.match_end(&text);
            let case = format!("{dialect} {pattern:?} on {text:?}");
            assert!(end.is_none_or(|e| e <= text.len()), "{case}");
            if let Some(c) = &caps {
                assert!(
                    c.match_start <= c.match_end && c.match_end <= text.len(),
                    "{case}"
                );
            }
            // os_regex with groups walks slightly differently (see the crate docs), so only
            // the group-less modes must agree exactly there.
            if dialect != Dialect::OsRegex {
                assert_eq!(is, caps.is_some(), "{case}");
            }
            assert_eq!(is, end.is_some(), "{case}");
            assert_eq!(is, p.is_match_prefiltered(&text), "{case}");
            if is || caps.is_some() {
                matched += 1;
                if let Some(lits) = &literals {
                    assert!(contains_literal(&p, &text, lits), "{case}: {lits:?}");
                }
            }
        }
    }
    assert!(compiled > 1_000, "only {compiled} patterns compiled");
    assert!(matched > 1_000, "only {matched} matches");
}

#[test]
fn overlong_and_nul_patterns_are_errors_not_panics() {
    let long = "a".repeat(picket_matchers::MAX_PATTERN_LEN + 1);
    for d in DIALECTS {
        assert!(Pattern::compile(d, &long).is_err());
        assert!(Pattern::compile(d, "a\0b").is_err());
    }
}
