//! Rules found by address: ET Open's block lists (Spamhaus DROP, Tor relays, compromised
//! hosts) are thousands of rules with no content at all, only a source or destination
//! list. Tried on every packet of their group they were almost all of the verification
//! work; here the address space is cut into segments at every range boundary, and each
//! segment lists the rules whose set covers it, so a lookup is one binary search.

use std::net::IpAddr;

use super::addr::AddrSet;

/// Sorted segment starts and, per segment, the rules covering it (a flat CSR array).
#[derive(Debug)]
struct Segments<T> {
    starts: Vec<T>,
    /// `rules[offsets[i]..offsets[i + 1]]` cover segment `i`.
    offsets: Vec<u32>,
    rules: Vec<u32>,
}

impl<T: Copy + Ord> Segments<T> {
    fn build(entries: &[(T, T, u32)], next: impl Fn(T) -> Option<T>) -> Self {
        let mut starts: Vec<T> = entries
            .iter()
            .flat_map(|&(lo, hi, _)| std::iter::once(lo).chain(next(hi)))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let segment = |x: T| starts.partition_point(|&s| s <= x).saturating_sub(1);
        let mut counts = vec![0u32; starts.len() + 1];
        for &(lo, hi, _) in entries {
            for c in &mut counts[segment(lo)..=segment(hi)] {
                *c += 1;
            }
        }
        let mut offsets = Vec::with_capacity(counts.len());
        let mut total = 0u32;
        for c in &counts[..starts.len()] {
            offsets.push(total);
            total += c;
        }
        offsets.push(total);
        let mut fill = offsets.clone();
        let mut rules = vec![0u32; total as usize];
        for &(lo, hi, rule) in entries {
            for s in segment(lo)..=segment(hi) {
                rules[fill[s] as usize] = rule;
                fill[s] += 1;
            }
        }
        Segments {
            starts,
            offsets,
            rules,
        }
    }

    fn lookup(&self, x: T) -> &[u32] {
        let i = self.starts.partition_point(|&s| s <= x);
        if i == 0 {
            return &[];
        }
        let (from, to) = (self.offsets[i - 1] as usize, self.offsets[i] as usize);
        &self.rules[from..to]
    }

    fn heap_bytes(&self) -> usize {
        self.starts.capacity() * std::mem::size_of::<T>()
            + (self.offsets.capacity() + self.rules.capacity()) * 4
    }
}

/// Rules indexed by the address sets of one side (source or destination).
#[derive(Debug)]
pub struct AddrIndex {
    v4: Segments<u32>,
    v6: Segments<u128>,
}

/// Sets covering more than this many IPv4 addresses (a /8) are not indexed: a wide set
/// (`$EXTERNAL_NET`) would be listed in most segments and select the rule for most
/// packets anyway.
const MAX_V4_COVERAGE: u64 = 1 << 24;
/// The same for IPv6 (a /40).
const MAX_V6_COVERAGE: u128 = 1 << 88;

/// Whether `set` is narrow enough to index.
pub fn narrow(set: &AddrSet) -> bool {
    let (v4, v6) = set.ranges();
    let c4: u64 = v4.iter().map(|&(lo, hi)| u64::from(hi - lo) + 1).sum();
    let c6 = v6.iter().fold(0u128, |acc, &(lo, hi)| {
        acc.saturating_add((hi - lo).saturating_add(1))
    });
    c4 <= MAX_V4_COVERAGE && c6 <= MAX_V6_COVERAGE
}

impl AddrIndex {
    /// Indexes `(rule, set)` pairs.
    pub fn build<'a>(sets: impl IntoIterator<Item = (u32, &'a AddrSet)>) -> Self {
        let (mut e4, mut e6) = (Vec::new(), Vec::new());
        for (rule, set) in sets {
            let (v4, v6) = set.ranges();
            e4.extend(v4.iter().map(|&(lo, hi)| (lo, hi, rule)));
            e6.extend(v6.iter().map(|&(lo, hi)| (lo, hi, rule)));
        }
        AddrIndex {
            v4: Segments::build(&e4, |x: u32| x.checked_add(1)),
            v6: Segments::build(&e6, |x: u128| x.checked_add(1)),
        }
    }

    /// The rules whose set holds `ip`.
    pub fn lookup(&self, ip: IpAddr) -> &[u32] {
        match ip {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::header::AddressExpr;

    fn set(s: &str) -> AddrSet {
        AddrSet::from_expr(&AddressExpr::parse(s).unwrap())
    }

    #[test]
    fn lookup_agrees_with_the_sets() {
        let sets = [
            set("[10.0.0.0/24,10.0.2.0/23]"),
            set("[10.0.0.128/25,192.168.1.1,2001:db8::/48]"),
            set("[10.0.1.0/24,2001:db8::1]"),
            set("255.255.255.255"),
            set("0.0.0.0"),
        ];
        assert!(sets.iter().all(narrow));
        assert!(!narrow(&set("!10.0.0.0/8")));
        let index = AddrIndex::build(sets.iter().enumerate().map(|(i, s)| (i as u32, s)));
        for ip in [
            "10.0.0.1",
            "10.0.0.200",
            "10.0.1.5",
            "10.0.3.255",
            "10.0.4.0",
            "9.255.255.255",
            "192.168.1.1",
            "192.168.1.2",
            "255.255.255.255",
            "0.0.0.0",
            "2001:db8::1",
            "2001:db8:0:1::",
            "2001:db8:1::",
            "::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut got: Vec<u32> = index.lookup(ip).to_vec();
            got.sort_unstable();
            let want: Vec<u32> = (0..sets.len() as u32)
                .filter(|&i| sets[i as usize].contains(ip))
                .collect();
            assert_eq!(got, want, "{ip}");
        }
    }
}
