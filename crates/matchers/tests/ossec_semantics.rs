//! os_regex and os_match behaviour on real decoder and rule patterns and on the dialect's
//! corner cases. Each expectation is what OSSEC/Wazuh's own matcher returns for the same input
//! (checked against it when these cases were written); the comments explain the surprising ones.

use picket_matchers::{Dialect, Pattern};

/// `(pattern, text, Some((match_end, groups)))` for os_regex with group extraction (a decoder's
/// `<regex>`); `None` means no match.
#[allow(clippy::type_complexity)]
const CAPTURE_CASES: &[(&str, &str, Option<(usize, &[&str])>)] = &[
    // sshd "Accepted", after the prematch: the trailing `(\S+)` run stops the reported end at
    // its first character (`5` of 50022), so the end is 42, not 47.
    (
        r#"^ \S+ for (\S+) from (\S+) port (\S+)"#,
        " password for root from 192.168.1.5 port 50022 ssh2",
        Some((42, &["root", "192.168.1.5", "50022"])),
    ),
    (
        r#"^(\S+) \S+ (\S+)"#,
        "host1 sshd root rest",
        Some((12, &["host1", "root"])),
    ),
    (
        r#"^for (\S+) from (\S+) port (\d+)"#,
        "for invalid user admin from 10.0.0.1 port 22 ssh2",
        None,
    ),
    (
        r#"(\S+) from (\S+)"#,
        " user admin from 10.0.0.9 port 4242",
        Some((18, &["admin", "10.0.0.9"])),
    ),
    (
        r#"^for (\S+) from (\S+)$"#,
        "for root from 1.2.3.4",
        Some((15, &["root", "1.2.3.4"])),
    ),
    (
        r#"^for (\S+) from (\S+)$"#,
        "for root from 1.2.3.4 extra",
        None,
    ),
    (
        r#" from (\S+)$| from (\S+) port (\d+)$"#,
        " from 10.1.1.1 port 5555",
        Some((21, &["10.1.1.1", "5555"])),
    ),
    (
        r#"[client (\S+):(\d+)] (\S+): "#,
        "[client 10.0.0.1:4444] AH01630: client denied",
        Some((32, &["10.0.0.1", "4444", "AH01630"])),
    ),
    (
        r#"^ (\S+):(\d+)] |^ (\S+)] "#,
        " 10.0.0.2] File does not exist",
        Some((11, &["10.0.0.2"])),
    ),
    (
        r#"^for user (\w+)"#,
        "for user bob by (uid=0)",
        Some((10, &["bob"])),
    ),
    (
        r#"by (\S+)\(uid=(\d+)\)"#,
        "session opened by root(uid=0)",
        Some((29, &["root", "0"])),
    ),
    (
        r#"COMMAND=(\.+)"#,
        "user : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls -la",
        Some((52, &["/bin/ls -la"])),
    ),
    (
        r#"^\s*(\S+)\s*:"#,
        "    alice : TTY=pts/1 ; PWD=/home/alice",
        Some((11, &["alice"])),
    ),
    (
        r#"(\S+)\s+:\s+HOST"#,
        "bob : HOST=box : x",
        Some((10, &["bob"])),
    ),
    (r#"^(\w+) (\d+)"#, "Ab 12", Some((4, &["Ab", "12"]))),
    (r#"(\d+)"#, "abc", None),
    // Runs are lazy: `\w+` hands over to `\s*` as soon as `\s*` may start, and the failed
    // attempt at `hello` restarts one character later, so the group is `orld`.
    (r#"(\w+)\s*$"#, "hello world  ", Some((11, &["orld"]))),
    (
        // A `\.*` run that reaches the end of the text never moves the reported end.
        r#"^(\.*)$"#,
        "anything at all",
        Some((1, &["anything at all"])),
    ),
    (r#"^(\S+)"#, "-", Some((1, &["-"]))),
    // `\.` is any character, not a dot: it takes the `2` and the group ends at once.
    (r#"^(\d+)\.(\d+)"#, "12.34", Some((2, &["1", ""]))),
    (r#"(\d+)\p(\d+)"#, "x12.34y", Some((5, &["12", "34"]))),
    // A group whose boundaries were never both recorded is not reported.
    (r#"user=(\S*)"#, "user=", Some((5, &[]))),
    (r#"\s(\w+)\s"#, "a bcd e", Some((6, &["bcd"]))),
];

/// `(pattern, text, Some(match_end))` for os_regex without group extraction (a rule's
/// `<regex>` or a decoder's `<prematch>`).
const MATCH_END_CASES: &[(&str, &str, Option<usize>)] = &[
    (r#"\w+"#, "abc", Some(1)),
    (r#"^\w+"#, "abc def", Some(4)),
    ("abc", "xxabcxx", Some(5)),
    ("abc$", "xxabcabc", Some(8)),
    ("^abc$", "abc", Some(3)),
    // `+` after a literal is itself literal.
    ("a+", "a+", Some(2)),
    ("a+", "aaa", None),
    (r#"\d+\."#, "12.", Some(2)),
    (r#"\.*"#, "", Some(0)),
    // A leading empty `*` run reports an end before the text, which the decoder reads as 0.
    (r#"\d*"#, "abc", Some(0)),
    (r#"^Failed \S+ "#, "Failed password for root", Some(16)),
    (
        r#"^error: PAM: Authentication \w+ "#,
        "error: PAM: Authentication failure for root",
        Some(35),
    ),
    (
        r#"\)\p* session \w+ |^session \w+ "#,
        "pam_unix(sshd:session): session opened for user",
        Some(39),
    ),
    (
        "^[warn] |^[notice] |^[error] ",
        "[error] [client 1.2.3.4] x",
        Some(8),
    ),
    (
        r#"[client \S+:\d+] \S+:"#,
        "[client 1.2.3.4:80] AH0001: x",
        Some(27),
    ),
    (
        r#"^\S+\s+:\s+HOST=\S+\s+:\s+\.+;"#,
        "bob : HOST=box : x ; y",
        Some(20),
    ),
    (r#"\S+\d"#, "abc", None),
    (r#"\d+a"#, "12b12a", Some(6)),
    (r#"^\d+$"#, "123", Some(1)),
    (r#"^\d+$"#, "123a", None),
    (r#"x\d+y|ab"#, "q ab", Some(4)),
    // Case never matters.
    ("FAILED", "failed", Some(6)),
    ("Failed", "FAILED", Some(6)),
    // `\s` is the space character only; `\p` does not include `/`; `\w` includes `-`.
    (r#"\s"#, "a\tb", None),
    (r#"\t"#, "a\tb", Some(2)),
    (r#"\p"#, "a/b", None),
    (r#"\w"#, "-", Some(1)),
    (r#"\w"#, ".", None),
    (r#"a\|b"#, "a|b", Some(3)),
    (r#"\(x\)"#, "(x)", Some(3)),
    (r#"\$5"#, "cost $5", Some(7)),
    (r#"\<b"#, "<b>", Some(2)),
];

#[test]
fn os_regex_captures_and_end_reproduce_ossec() {
    let mut failures = Vec::new();
    for &(pattern, text, want) in CAPTURE_CASES {
        let p = Pattern::compile(Dialect::OsRegex, pattern).expect(pattern);
        let got = p.captures(text).map(|c| (c.match_end, c.groups));
        let want = want.map(|(end, groups)| (end, groups.to_vec()));
        if got != want {
            failures.push(format!(
                "{pattern:?} on {text:?}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn os_regex_match_end_reproduces_ossec() {
    let mut failures = Vec::new();
    for &(pattern, text, want) in MATCH_END_CASES {
        let p = Pattern::compile(Dialect::OsRegex, pattern).expect(pattern);
        let got = p.match_end(text);
        if got != want || p.is_match(text) != want.is_some() {
            failures.push(format!(
                "{pattern:?} on {text:?}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn os_regex_rejects_what_ossec_rejects_with_a_column() {
    let cases: &[(&str, usize)] = &[
        (r"^foo\[bar", 5),
        (r"a\nb", 2),
        ("ab\\", 3),
        ("(a(b))", 3),
        ("a)b", 2),
        ("(a|b)", 3),
        ("(ab", 4),
        ("é\\/", 2),
    ];
    for &(pattern, column) in cases {
        let err = Pattern::compile(Dialect::OsRegex, pattern).expect_err(pattern);
        assert_eq!(err.column(), Some(column), "{pattern}: {err}");
    }
}

#[test]
fn os_regex_top_level_alternatives_anchor_separately() {
    let p = Pattern::compile(Dialect::OsRegex, "^Invalid user|^Illegal user").expect("compiles");
    assert!(p.is_match("Illegal user bob"));
    assert!(!p.is_match("x Illegal user bob"));
    assert_eq!(p.match_end("Invalid user bob"), Some(12));
}

#[test]
fn os_regex_required_literals_are_sound_for_the_prefilter() {
    let p = Pattern::compile(Dialect::OsRegex, r"^Failed \S+ for (\S+) from").expect("ok");
    assert_eq!(p.required_literals(), Some(vec!["failed ".to_string()]));
    // The final byte after an escape can be skipped by OSSEC's walk, so `b` is not required.
    let p = Pattern::compile(Dialect::OsRegex, r"\D+\D\Sb").expect("ok");
    assert!(p.is_match("$\t  -\t12A1"));
    assert_eq!(p.required_literals(), None);
}

#[test]
fn os_match_is_literal_alternation_ignoring_case() {
    let p = Pattern::compile(Dialect::OsMatch, "authentication failure|FAILED LOGIN").expect("ok");
    assert!(p.is_match("pam_unix: Authentication Failure; logname="));
    assert!(p.is_match("login: failed login for root"));
    assert!(!p.is_match("authentication succeeded"));
    let c = p.captures("x FAILED LOGIN y").expect("matches");
    assert_eq!((c.match_start, c.match_end), (2, 14));
}

#[test]
fn wazuh_pcre2_is_case_sensitive_and_ossec_pcre2_is_not() {
    let w = Pattern::compile(Dialect::Pcre2, r"^Failed (\S+)").expect("ok");
    let o = Pattern::compile(Dialect::OssecPcre2, r"^Failed (\S+)").expect("ok");
    assert!(!w.is_match("FAILED password"));
    assert_eq!(
        o.captures("FAILED password").map(|c| c.groups),
        Some(vec!["password"])
    );
    // OSSEC compares an anchored plain literal as a string.
    let lit = Pattern::compile(Dialect::OssecPcre2, "^Accepted").expect("ok");
    assert_eq!(lit.match_end("accepted publickey"), Some(8));
    assert_eq!(
        Pattern::compile(Dialect::OssecPcre2, "").err(),
        Some(picket_matchers::PatternError::Empty)
    );
}

#[test]
fn os_regex_match_start_is_where_the_successful_attempt_began() {
    let p = Pattern::compile(Dialect::OsRegex, r"(\S+) from (\S+)").expect("valid");
    let c = p
        .captures(" user admin from 10.0.0.9 port 4242")
        .expect("matches");
    assert_eq!((c.match_start, c.match_end), (6, 18));
    let p = Pattern::compile(Dialect::OsRegex, "port").expect("valid");
    let c = p.captures("from x port 22").expect("matches");
    assert_eq!((c.match_start, c.match_end), (7, 11));
}

/// Every case in `tests/cases/ossec_walk.tsv` (generated patterns and texts, with the answers
/// of the C matcher) must come out the same here.
#[test]
fn generated_walk_cases_match_the_c_matcher() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/ossec_walk.tsv");
    let table = std::fs::read_to_string(path).expect("case table is part of the crate");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, line) in table.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [mode, pattern, text, expected @ ..] = cols.as_slice() else {
            panic!("line {}: too few columns", n + 1);
        };
        let dialect = if *mode == "M" {
            Dialect::OsMatch
        } else {
            Dialect::OsRegex
        };
        let got: Vec<String> = match Pattern::compile(dialect, pattern) {
            Err(_) => vec!["E".into()],
            Ok(p) => match *mode {
                "M" => vec![if p.is_match(text) { "1" } else { "0" }.into()],
                "R" => vec![p.match_end(text).map_or("-".into(), |e| e.to_string())],
                _ => match p.captures(text) {
                    None => vec!["-".into()],
                    Some(c) => std::iter::once(c.match_end.to_string())
                        .chain(c.groups.iter().map(|g| g.to_string()))
                        .collect(),
                },
            },
        };
        checked += 1;
        if got != expected {
            failures.push(format!(
                "line {}: {mode} {pattern:?} on {text:?}: want {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    assert!(checked > 3_000, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
