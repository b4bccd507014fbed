//! Address expressions flattened into sorted, disjoint ranges, so a rule's address test is
//! a binary search however long its list (ET Open's block lists hold hundreds of entries
//! per rule, and a linear walk of them dominated the per-packet cost).

use std::net::IpAddr;

use crate::header::AddressExpr;

/// A set of IPv4 and IPv6 addresses as inclusive ranges, sorted and disjoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn normalise<T: Ord + Copy>(mut r: Vec<(T, T)>, next: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    r.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(r.len());
    for (lo, hi) in r {
        if let Some(last) = out.last_mut() {
            // Overlapping or adjacent ranges merge.
            if next(last.1).is_none_or(|n| lo <= n) {
                if hi > last.1 {
                    last.1 = hi;
                }
                continue;
            }
        }
        out.push((lo, hi));
    }
    out
}

fn complement<T: Ord + Copy>(
    r: &[(T, T)],
    min: T,
    max: T,
    next: impl Fn(T) -> Option<T>,
    prev: impl Fn(T) -> Option<T>,
) -> Vec<(T, T)> {
    let mut out = Vec::with_capacity(r.len() + 1);
    let mut start = Some(min);
    for &(lo, hi) in r {
        if let Some(s) = start {
            if lo > s {
                if let Some(p) = prev(lo) {
                    out.push((s, p));
                }
            }
        }
        start = next(hi);
    }
    if let Some(s) = start {
        out.push((s, max));
    }
    out
}

/// Intersection of two sorted, disjoint range lists.
/// The intersection of two sorted, disjoint lists of inclusive ranges.
pub(crate) fn intersect<T: Ord + Copy>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn find<T: Ord + Copy>(r: &[(T, T)], v: T) -> bool {
    let i = r.partition_point(|&(lo, _)| lo <= v);
    i > 0 && r[i - 1].1 >= v
}

impl AddrSet {
    /// Every address.
    pub fn any() -> Self {
        AddrSet {
            v4: vec![(0, u32::MAX)],
            v6: vec![(0, u128::MAX)],
        }
    }

    /// The set an expression denotes (an unresolved variable counts as any address).
    pub fn from_expr(e: &AddressExpr) -> Self {
        match e {
            AddressExpr::Any | AddressExpr::Var(_) => Self::any(),
            AddressExpr::Net(c) => {
                let mut s = AddrSet {
                    v4: Vec::new(),
                    v6: Vec::new(),
                };
                match c.addr {
                    IpAddr::V4(a) => {
                        let mask = u32::MAX.checked_shl(32 - u32::from(c.prefix)).unwrap_or(0);
                        let lo = u32::from(a) & mask;
                        s.v4.push((lo, lo | !mask));
                    }
                    IpAddr::V6(a) => {
                        let mask = u128::MAX
                            .checked_shl(128 - u32::from(c.prefix))
                            .unwrap_or(0);
                        let lo = u128::from(a) & mask;
                        s.v6.push((lo, lo | !mask));
                    }
                }
                s
            }
            AddressExpr::Group(items) => {
                // Positive items unite (all addresses when there are none); negated ones
                // are then taken away, as Suricata reads `[a, b, !c]`.
                let (mut pos4, mut pos6, mut neg4, mut neg6) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let mut any_positive = false;
                for i in items {
                    match i {
                        AddressExpr::Not(inner) => {
                            let s = Self::from_expr(inner);
                            neg4.extend(s.v4);
                            neg6.extend(s.v6);
                        }
                        other => {
                            any_positive = true;
                            let s = Self::from_expr(other);
                            pos4.extend(s.v4);
                            pos6.extend(s.v6);
                        }
                    }
                }
                let pos = if any_positive {
                    AddrSet {
                        v4: normalise(pos4, |x: u32| x.checked_add(1)),
                        v6: normalise(pos6, |x: u128| x.checked_add(1)),
                    }
                } else {
                    Self::any()
                };
                if neg4.is_empty() && neg6.is_empty() {
                    return pos;
                }
                let keep = AddrSet {
                    v4: normalise(neg4, |x: u32| x.checked_add(1)),
                    v6: normalise(neg6, |x: u128| x.checked_add(1)),
                }
                .complement();
                AddrSet {
                    v4: intersect(&pos.v4, &keep.v4),
                    v6: intersect(&pos.v6, &keep.v6),
                }
            }
            AddressExpr::Not(inner) => Self::from_expr(inner).complement(),
        }
    }

    fn complement(&self) -> AddrSet {
        AddrSet {
            v4: complement(
                &self.v4,
                0,
                u32::MAX,
                |x| x.checked_add(1),
                |x| x.checked_sub(1),
            ),
            v6: complement(
                &self.v6,
                0,
                u128::MAX,
                |x| x.checked_add(1),
                |x| x.checked_sub(1),
            ),
        }
    }

    /// Whether `ip` is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }

    /// The IPv4 addresses of a set that holds no IPv6 address and at most `max` IPv4
    /// ones, for an exact-address index.
    pub fn small_v4(&self, max: u64) -> Option<Vec<u32>> {
        if !self.v6.is_empty() {
            return None;
        }
        let total: u64 = self.v4.iter().map(|(lo, hi)| u64::from(hi - lo) + 1).sum();
        if total > max {
            return None;
        }
        Some(self.v4.iter().flat_map(|&(lo, hi)| lo..=hi).collect())
    }

    /// The IPv4 and IPv6 ranges, inclusive, sorted and disjoint.
    pub fn ranges(&self) -> (&[V4Range], &[V6Range]) {
        (&self.v4, &self.v6)
    }

    /// Whether the set holds every address.
    pub fn is_any(&self) -> bool {
        self.v4 == [(0, u32::MAX)] && self.v6 == [(0, u128::MAX)]
    }
}

/// An inclusive IPv4 range, as numbers.
pub type V4Range = (u32, u32);
/// An inclusive IPv6 range, as numbers.
pub type V6Range = (u128, u128);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn set(s: &str) -> AddrSet {
        AddrSet::from_expr(&AddressExpr::parse(s).unwrap())
    }

    #[test]
    fn agrees_with_the_expression() {
        for expr in [
            "any",
            "10.0.0.0/8",
            "[10.0.0.0/8,192.168.1.1,!10.1.0.0/16]",
            "![10.0.0.0/8,172.16.0.0/12]",
            "[1.2.3.4,1.2.3.5,1.2.3.6,2001:db8::/32]",
            "!1.2.3.4",
            "[0.0.0.0/0,!127.0.0.1]",
        ] {
            let e = AddressExpr::parse(expr).unwrap();
            let s = AddrSet::from_expr(&e);
            for ip in [
                "10.1.2.3",
                "10.2.0.1",
                "192.168.1.1",
                "192.168.1.2",
                "1.2.3.4",
                "1.2.3.6",
                "1.2.3.7",
                "172.16.5.5",
                "127.0.0.1",
                "0.0.0.0",
                "255.255.255.255",
                "2001:db8::1",
                "::1",
            ] {
                let ip: IpAddr = ip.parse().unwrap();
                assert_eq!(s.contains(ip), e.matches(ip), "{expr} {ip}");
            }
        }
        assert!(set("any").is_any());
        assert!(!set("!1.2.3.4").is_any());
    }
}
