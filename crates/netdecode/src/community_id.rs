//! Community ID v1: a flow identifier that Zeek, Suricata, Arkime and Elastic compute the
//! same way, so records from different tools join on one string.
//!
//! `"1:" + base64(SHA1(seed ‖ addr_a ‖ addr_b ‖ proto ‖ 0 ‖ port_a ‖ port_b))`, all in
//! network byte order, with the endpoints ordered so that both directions of a flow hash
//! alike. ICMP types that come in request/reply pairs use the type and its counterpart as
//! the "ports"; other ICMP messages are one-way and keep their order.

use crate::decode::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use sha1::{Digest, Sha1};
use std::net::IpAddr;

const PROTO_SCTP: u8 = 132;

/// For ICMP: the counterpart of a request or reply type, if it has one.
fn icmp_counterpart(v6: bool, icmp_type: u8) -> Option<u8> {
    if v6 {
        Some(match icmp_type {
            128 => 129,
            129 => 128,
            130 => 131,
            131 => 130,
            133 => 134,
            134 => 133,
            135 => 136,
            136 => 135,
            139 => 140,
            140 => 139,
            144 => 145,
            145 => 144,
            _ => return None,
        })
    } else {
        Some(match icmp_type {
            8 => 0,
            0 => 8,
            13 => 14,
            14 => 13,
            15 => 16,
            16 => 15,
            10 => 9,
            9 => 10,
            17 => 18,
            18 => 17,
            _ => return None,
        })
    }
}

/// The (port, port) pair an ICMP message hashes and keys by, and whether it is one-way.
pub fn icmp_ports(v6: bool, icmp_type: u8, code: u8) -> (u16, u16, bool) {
    match icmp_counterpart(v6, icmp_type) {
        Some(other) => (u16::from(icmp_type), u16::from(other), false),
        None => (u16::from(icmp_type), u16::from(code), true),
    }
}

/// Compute the Community ID of a flow seen from `src` to `dst`. For ICMP pass the type
/// as `src_port` and the code as `dst_port`; the mapping to counterpart types is done here.
pub fn community_id_v1(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    src_port: u16,
    dst_port: u16,
) -> String {
    let mut sport = src_port;
    let mut dport = dst_port;
    let mut one_way = false;
    let has_ports = matches!(
        proto,
        PROTO_TCP | PROTO_UDP | PROTO_SCTP | PROTO_ICMP | PROTO_ICMPV6
    );
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        let (a, b, o) = icmp_ports(
            proto == PROTO_ICMPV6,
            u8::try_from(src_port).unwrap_or(u8::MAX),
            u8::try_from(dst_port).unwrap_or(u8::MAX),
        );
        sport = a;
        dport = b;
        one_way = o;
    }
    let (a, b, pa, pb) = if one_way || ordered(&src, sport, &dst, dport) {
        (src, dst, sport, dport)
    } else {
        (dst, src, dport, sport)
    };
    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    hash_addr(&mut hasher, &a);
    hash_addr(&mut hasher, &b);
    hasher.update([proto, 0]);
    if has_ports {
        hasher.update(pa.to_be_bytes());
        hasher.update(pb.to_be_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64_into(&digest, &mut out);
    out
}

/// Is (a, pa) the smaller endpoint? Addresses compare first, then ports.
fn ordered(a: &IpAddr, pa: u16, b: &IpAddr, pb: u16) -> bool {
    let (ka, kb) = (addr_bytes(a), addr_bytes(b));
    ka < kb || (ka == kb && pa < pb)
}

fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&v4.octets());
            out
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn hash_addr(hasher: &mut Sha1, addr: &IpAddr) {
    match addr {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(v6.octets()),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64_into(input: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
        out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(ALPHABET[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(ALPHABET[n as usize & 63])
        } else {
            '='
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    // The vectors published with the specification's reference implementations.
    #[test]
    fn spec_vectors_seed_0() {
        let cases = [
            (
                "1.2.3.4",
                "5.6.7.8",
                PROTO_TCP,
                1122,
                3344,
                "1:wCb3OG7yAFWelaUydu0D+125CLM=",
            ),
            (
                "1.2.3.4",
                "5.6.7.8",
                PROTO_UDP,
                1122,
                3344,
                "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
            ),
            (
                "1.2.3.4",
                "5.6.7.8",
                PROTO_ICMP,
                8,
                0,
                "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
            ),
            (
                "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
                "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
                PROTO_ICMPV6,
                128,
                0,
                "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=",
            ),
        ];
        for (src, dst, proto, sp, dp, want) in cases {
            assert_eq!(community_id_v1(0, ip(src), ip(dst), proto, sp, dp), want);
        }
    }

    #[test]
    fn spec_vectors_seed_1() {
        assert_eq!(
            community_id_v1(1, ip("1.2.3.4"), ip("5.6.7.8"), PROTO_TCP, 1122, 3344),
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="
        );
        assert_eq!(
            community_id_v1(1, ip("1.2.3.4"), ip("5.6.7.8"), PROTO_UDP, 1122, 3344),
            "1:OShq+iKDAMVouh/4bMxB9Sz4amw="
        );
        assert_eq!(
            community_id_v1(1, ip("1.2.3.4"), ip("5.6.7.8"), PROTO_ICMP, 8, 0),
            "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="
        );
    }

    #[test]
    fn both_directions_hash_alike() {
        assert_eq!(
            community_id_v1(0, ip("5.6.7.8"), ip("1.2.3.4"), PROTO_TCP, 3344, 1122),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        // An echo reply joins its request.
        assert_eq!(
            community_id_v1(0, ip("5.6.7.8"), ip("1.2.3.4"), PROTO_ICMP, 0, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
    }

    #[test]
    fn base64_pads() {
        let mut s = String::new();
        base64_into(b"ab", &mut s);
        assert_eq!(s, "YWI=");
        s.clear();
        base64_into(b"abcd", &mut s);
        assert_eq!(s, "YWJjZA==");
    }
}
