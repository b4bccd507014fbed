//! Reading nft's own listings: which objects a table holds, and a line diff of two listings.

use std::fmt::Write as _;

use crate::compile::{Compiled, TABLE};

/// Lines compared at most by [`line_diff`]; longer listings are reported as differing in size.
pub const MAX_DIFF_LINES: usize = 20_000;

/// The kind of a named object in a table listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Chain,
    Set,
    Map,
}

/// The chains, sets and maps that `nft list table` printed, in order. nft prints each as
/// `\t<kind> <name> {` one level inside the table.
pub fn listed_objects(listing: &str) -> Vec<(ObjectKind, String)> {
    let mut out = Vec::new();
    for line in listing.lines() {
        let Some(rest) = line.strip_prefix('\t') else {
            continue;
        };
        if rest.starts_with('\t') {
            continue;
        }
        let mut words = rest.split(' ');
        let kind = match words.next() {
            Some("chain") => ObjectKind::Chain,
            Some("set") => ObjectKind::Set,
            Some("map") => ObjectKind::Map,
            _ => continue,
        };
        if let (Some(name), Some("{")) = (words.next(), words.next()) {
            out.push((kind, name.to_string()));
        }
    }
    out
}

/// Commands that delete what the live table holds but the new script does not define, to run
/// in the same transaction after the script (whose `flush table` has emptied those chains).
pub fn stale_deletions(live_listing: &str, compiled: &Compiled) -> String {
    let mut out = String::new();
    let objects = listed_objects(live_listing);
    // Chains first: a stale rule could only reference a set from a stale chain.
    for (kind, name) in &objects {
        if *kind == ObjectKind::Chain && !compiled.chains.contains(name) {
            let _ = writeln!(out, "delete chain {TABLE} {name}");
        }
    }
    for (kind, name) in &objects {
        match kind {
            ObjectKind::Set if !compiled.sets.contains(name) => {
                let _ = writeln!(out, "delete set {TABLE} {name}");
            }
            ObjectKind::Map => {
                let _ = writeln!(out, "delete map {TABLE} {name}");
            }
            _ => {}
        }
    }
    out
}

/// A minimal line diff: `-` lines only in `old`, `+` lines only in `new`, in order.
/// Empty when the two are equal line for line.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a == b {
        return String::new();
    }
    if a.len() > MAX_DIFF_LINES || b.len() > MAX_DIFF_LINES {
        return format!("listings differ ({} lines against {})\n", a.len(), b.len());
    }
    // Longest common subsequence table, filled from the end.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[at(i, j + 1)] >= lcs[at(i + 1, j)]) {
            let _ = writeln!(out, "+{}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "-{}", a[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_stale() {
        let listing = "table inet picket {\n\tset ban4 {\n\t\ttype ipv4_addr\n\t}\n\tset pin4_old_x_org {\n\t}\n\tchain forward {\n\t\tjump src_old\n\t}\n\tchain src_old {\n\t}\n}\n";
        let compiled = Compiled {
            script: String::new(),
            chains: vec!["forward".into()],
            sets: vec!["ban4".into()],
        };
        assert_eq!(
            stale_deletions(listing, &compiled),
            "delete chain inet picket src_old\ndelete set inet picket pin4_old_x_org\n"
        );
    }

    #[test]
    fn diff_shows_changes_only() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nb\nc\n"), "");
        assert_eq!(line_diff("a\nb\nc\n", "a\nx\nc\n"), "+x\n-b\n");
    }
}
