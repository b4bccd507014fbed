//! Internet checksums (RFC 1071) of a packet's headers, for the `*-csum` keywords.

use picket_netdecode::inspect::PacketView;

use crate::rule::Checksum;

/// Adds `data` to a ones' complement sum as big-endian 16-bit words (an odd last byte is
/// padded with zero).
fn add(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Whether the data, checksum field included, sums to all ones.
fn sums_to_ones(sum: u32) -> bool {
    let mut s = sum;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s == 0xffff
}

/// The sum of the IPv4 or IPv6 pseudo-header for transport protocol `proto`.
fn pseudo_header(ip: &[u8], proto: u8, len: usize) -> Option<u32> {
    match ip.first()? >> 4 {
        4 if ip.len() >= 20 => {
            let len = u16::try_from(len).ok()?;
            let sum = add(0, &ip[12..20]);
            Some(add(sum, &[0, proto, (len >> 8) as u8, len as u8]))
        }
        6 if ip.len() >= 40 => {
            // The destination is the final one; a routing header that names another is
            // rare enough that the header's own destination is taken.
            let len = u32::try_from(len).ok()?.to_be_bytes();
            let sum = add(0, &ip[8..40]);
            Some(add(sum, &[len[0], len[1], len[2], len[3], 0, 0, 0, proto]))
        }
        _ => None,
    }
}

/// Whether the checksum `which` asks about is valid in `p`; `None` when the packet has no
/// such header (a TCP checksum of a UDP packet, an IPv4 one of an IPv6 packet).
pub(super) fn ok(which: Checksum, p: &PacketView<'_>) -> Option<bool> {
    let version = p.ip_header.first()? >> 4;
    let (want_version, want_proto) = match which {
        Checksum::Ipv4 => {
            return (version == 4).then(|| sums_to_ones(add(0, p.ip_header)));
        }
        Checksum::Tcpv4 => (4, 6),
        Checksum::Tcpv6 => (6, 6),
        Checksum::Udpv4 => (4, 17),
        Checksum::Udpv6 => (6, 17),
        Checksum::Icmpv4 => (4, 1),
        Checksum::Icmpv6 => (6, 58),
    };
    if version != want_version || p.proto != want_proto || p.l4_header.len() < 4 {
        return None;
    }
    let h = p.l4_header;
    if which == Checksum::Udpv4 && h.len() >= 8 && h[6] == 0 && h[7] == 0 {
        // IPv4 UDP may leave the checksum out.
        return Some(true);
    }
    let len = h.len() + p.payload.len();
    let start = if which == Checksum::Icmpv4 {
        0
    } else {
        pseudo_header(p.ip_header, want_proto, len)?
    };
    Some(sums_to_ones(add(add(start, h), p.payload)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use picket_event::Timestamp;
    use picket_netdecode::inspect::TcpHeader;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn view<'a>(ip: &'a [u8], l4: &'a [u8], payload: &'a [u8], proto: u8) -> PacketView<'a> {
        PacketView {
            ts: Timestamp::from_secs(0),
            flow_id: 1,
            src: "192.168.1.5".parse().unwrap(),
            dst: "192.168.1.1".parse().unwrap(),
            sport: 0,
            dport: 0,
            proto,
            ttl: 64,
            to_server: true,
            established: false,
            reassembled: false,
            tcp: (proto == 6).then_some(TcpHeader {
                flags: 2,
                seq: 0,
                ack: 0,
                window: 0,
            }),
            icmp: (proto == 1).then_some((8, 0)),
            payload,
            ip_header: ip,
            l4_header: l4,
            app_proto: None,
            payload_encrypted: false,
        }
    }

    #[test]
    fn icmp_echo_and_its_ip_header_are_valid_and_a_flipped_bit_is_not() {
        // An ICMP echo request 192.168.1.5 -> 192.168.1.1, id 0x5515, as captured.
        let ip = hex("4500001c000100004001f789c0a80105c0a80101");
        let icmp = hex("0800a2ea55150000");
        let p = view(&ip, &icmp, &[], 1);
        assert_eq!(ok(Checksum::Ipv4, &p), Some(true));
        assert_eq!(ok(Checksum::Icmpv4, &p), Some(true));
        assert_eq!(ok(Checksum::Tcpv4, &p), None, "not a TCP packet");
        assert_eq!(ok(Checksum::Icmpv6, &p), None, "not an IPv6 packet");
        let mut bad = icmp.clone();
        bad[7] ^= 1;
        assert_eq!(ok(Checksum::Icmpv4, &view(&ip, &bad, &[], 1)), Some(false));
        let mut bad_ip = ip.clone();
        bad_ip[8] = 63;
        assert_eq!(
            ok(Checksum::Ipv4, &view(&bad_ip, &icmp, &[], 1)),
            Some(false)
        );
    }

    #[test]
    fn tcp_checksum_covers_the_pseudo_header() {
        // A SYN 192.168.0.1:20 -> 255.255.255.255:80 with an MSS option, as captured.
        let ip = hex("4500002c000100004006ba22c0a80001ffffffff");
        let tcp = hex("00140050000000000000000060022000bcc5000002040008");
        let p = view(&ip, &tcp, &[], 6);
        assert_eq!(ok(Checksum::Tcpv4, &p), Some(true));
        let mut moved = ip.clone();
        moved[15] = 2; // another source address: the pseudo-header no longer adds up
        assert_eq!(
            ok(Checksum::Tcpv4, &view(&moved, &tcp, &[], 6)),
            Some(false)
        );
    }

    #[test]
    fn udp_over_ipv4_without_a_checksum_is_valid() {
        let ip = hex("4500001c000000004011ba28c0a80001ffffffff");
        let udp = hex("0035005000080000");
        assert_eq!(ok(Checksum::Udpv4, &view(&ip, &udp, &[], 17)), Some(true));
    }
}
