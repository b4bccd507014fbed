use super::*;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        })
        .collect();
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// Ethernet / IPv4 / TCP SYN, 10.0.0.1:51000 -> 10.0.0.2:80.
/// 0000  00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00   .."3DUfw......E.
/// 0010  00 2c 12 34 40 00 40 06 00 00 0a 00 00 01 0a 00   .,.4@.@.........
/// 0020  00 02 c7 38 00 50 00 00 03 e8 00 00 00 00 60 02   ...8.P........`.
/// 0030  fa f0 00 00 00 00 02 04 05 b4                     ..........
const SYN: &str = "001122334455 66778899aabb 0800
    4500 002c 1234 4000 4006 0000 0a000001 0a000002
    c738 0050 000003e8 00000000 6002 faf0 0000 0000 020405b4";

#[test]
fn ethernet_ipv4_tcp_syn() {
    let bytes = hex(SYN);
    let (info, net) = decode_link(link::ETHERNET, &bytes).expect("ethernet");
    assert_eq!(info.vlan_layers, 0);
    // Destination first on the wire; kept as (source, destination).
    assert_eq!(
        info.macs,
        Some([
            [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb],
            [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]
        ])
    );
    let Network::Ipv4(ip_bytes) = net else {
        panic!("not IPv4: {net:?}");
    };
    let mut notes = Vec::new();
    let ip = decode_ipv4(ip_bytes, false, &mut notes).expect("ipv4");
    assert_eq!(ip.src.to_string(), "10.0.0.1");
    assert_eq!(ip.dst.to_string(), "10.0.0.2");
    assert_eq!(ip.proto, PROTO_TCP);
    assert!(ip.fragment.is_none());
    let t = decode_transport(ip.proto, ip.payload, false, &mut notes).expect("tcp");
    assert_eq!(
        t,
        Transport::Tcp {
            src_port: 51000,
            dst_port: 80,
            seq: 1000,
            ack: 0,
            flags: tcp_flags::SYN,
            window: 0xfaf0,
            payload: &[],
        }
    );
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn qinq_vlan_ids_are_kept_outer_first() {
    // 0000  dst mac, src mac, 88 a8 00 64 81 00 00 c8 08 00, then the IPv4 header above
    let mut bytes = hex("001122334455 66778899aabb 88a8 0064 8100 00c8 0800");
    bytes.extend_from_slice(&hex(SYN)[14..]);
    let (info, net) = decode_link(link::ETHERNET, &bytes).expect("qinq");
    assert_eq!(info.vlan, [100, 200]);
    assert_eq!(info.vlan_layers, 2);
    assert!(matches!(net, Network::Ipv4(_)));
}

#[test]
fn vlan_stack_too_deep_is_an_anomaly() {
    let bytes = hex("001122334455 66778899aabb 8100 0001 8100 0002 8100 0003 8100 0004 0800");
    assert_eq!(
        decode_link(link::ETHERNET, &bytes),
        Err("vlan.too_many_layers")
    );
}

#[test]
fn linux_sll_and_sll2() {
    // SLL: packet type 0, ARPHRD_ETHER, address length 6, address, protocol 0x0800.
    let mut sll = hex("0000 0001 0006 001122334455 0000 0800");
    sll.extend_from_slice(&hex(SYN)[14..]);
    let (info, net) = decode_link(link::LINUX_SLL, &sll).expect("sll");
    assert_eq!(info.kind, LinkKind::Sll);
    assert!(matches!(net, Network::Ipv4(_)));
    // SLL2: protocol 0x86dd first, reserved, ifindex 2, ARPHRD_ETHER, type, halen, addr.
    let mut sll2 = hex("86dd 0000 00000002 0001 00 06 001122334455 0000");
    sll2.extend_from_slice(&hex(IPV6_UDP));
    let (info, net) = decode_link(link::LINUX_SLL2, &sll2).expect("sll2");
    assert_eq!(info.kind, LinkKind::Sll2);
    assert!(matches!(net, Network::Ipv6(_)));
    assert_eq!(
        decode_link(link::LINUX_SLL, &sll[..10]),
        Err("sll.pkt_too_small")
    );
}

#[test]
fn raw_and_loopback_link_types() {
    let ip = hex(SYN)[14..].to_vec();
    for lt in [link::RAW, link::RAW_BSD, link::IPV4] {
        assert!(
            matches!(decode_link(lt, &ip), Ok((_, Network::Ipv4(_)))),
            "{lt}"
        );
    }
    let mut null_le = vec![2, 0, 0, 0];
    null_le.extend_from_slice(&ip);
    assert!(matches!(
        decode_link(link::NULL, &null_le),
        Ok((_, Network::Ipv4(_)))
    ));
    let mut loop_be = vec![0, 0, 0, 24];
    loop_be.extend_from_slice(&hex(IPV6_UDP));
    assert!(matches!(
        decode_link(link::LOOP, &loop_be),
        Ok((_, Network::Ipv6(_)))
    ));
    assert_eq!(
        decode_link(link::RAW, &[0x50, 0]),
        Err("ipraw.invalid_ip_version")
    );
}

#[test]
fn ppp_with_and_without_hdlc_framing() {
    // ff 03 00 21: HDLC address and control, then protocol 0x0021 (IPv4).
    let mut framed = hex("ff03 0021");
    framed.extend_from_slice(&hex(SYN)[14..]);
    let (info, net) = decode_link(link::PPP, &framed).expect("ppp");
    assert_eq!(info.kind, LinkKind::Ppp);
    assert!(matches!(net, Network::Ipv4(_)));
    // A compressed one-byte protocol 0x57 (IPv6).
    let mut compressed = vec![0x57];
    compressed.extend_from_slice(&hex(IPV6_UDP));
    assert!(matches!(
        decode_link(link::PPP, &compressed),
        Ok((_, Network::Ipv6(_)))
    ));
    assert_eq!(
        decode_link(link::PPP, &[0xff, 0x03]),
        Err("ppp.pkt_too_small")
    );
}

/// IPv6 / UDP, 2001:db8::1:5353 -> 2001:db8::2:53, payload "hi".
/// 0000  60 00 00 00 00 0a 11 40 20 01 0d b8 00 00 00 00   `......@ .......
/// 0010  00 00 00 00 00 00 00 01 20 01 0d b8 00 00 00 00   ........ .......
/// 0020  00 00 00 00 00 00 00 02 14 e9 00 35 00 0a 00 00   ...........5....
/// 0030  68 69                                             hi
const IPV6_UDP: &str = "6000 0000 000a 1140
    20010db8000000000000000000000001 20010db8000000000000000000000002
    14e9 0035 000a 0000 6869";

#[test]
fn ipv6_udp() {
    let bytes = hex(IPV6_UDP);
    let mut notes = Vec::new();
    let ip = decode_ipv6(&bytes, false, &mut notes).expect("ipv6");
    assert_eq!(ip.src.to_string(), "2001:db8::1");
    assert_eq!(ip.proto, PROTO_UDP);
    let t = decode_transport(ip.proto, ip.payload, false, &mut notes).expect("udp");
    assert_eq!(
        t,
        Transport::Udp {
            src_port: 5353,
            dst_port: 53,
            payload: b"hi"
        }
    );
}

#[test]
fn ipv6_extension_headers_are_walked() {
    // Hop-by-hop (8 bytes, PadN) -> routing type 0 (8 bytes) -> destination options
    // (8 bytes) -> AH (12 bytes: len field 1 means (1+2)*4) -> fragment (first, more) -> UDP.
    let ext = hex("2b00 0104 00000000
                   3c00 0000 00000000
                   3300 0104 00000000
                   2c01 0000 00000001 00000000
                   1100 0001 deadbeef");
    let mut notes = Vec::new();
    let walk = walk_ipv6_extensions(0, &ext, &mut notes).expect("walk");
    assert_eq!(walk.proto, PROTO_UDP);
    assert_eq!(walk.offset, ext.len());
    assert_eq!(
        walk.fragment,
        Some(Fragment {
            id: 0xdeadbeef,
            offset: 0,
            more: true
        })
    );
    assert!(notes.contains(&"ipv6.rh_type_0"), "{notes:?}");
    // Cut inside the routing header.
    assert_eq!(
        walk_ipv6_extensions(0, &ext[..12], &mut notes),
        Err("ipv6.trunc_exthdr")
    );
}

#[test]
fn ipv4_fragment_fields() {
    // 45 00 00 1c 00 2a 20 01 ...: more fragments, offset 1 (8 bytes), protocol UDP.
    let bytes = hex("4500 001c 002a 2001 4011 0000 c0000201 c0000202 0102030405060708");
    let mut notes = Vec::new();
    let ip = decode_ipv4(&bytes, false, &mut notes).expect("fragment");
    assert_eq!(
        ip.fragment,
        Some(Fragment {
            id: 42,
            offset: 8,
            more: true
        })
    );
    assert_eq!(ip.payload.len(), 8);
}

#[test]
fn malformed_ipv4_headers_are_named() {
    let mut notes = Vec::new();
    let ok = hex(SYN)[14..].to_vec();
    assert_eq!(
        decode_ipv4(&ok[..10], false, &mut notes),
        Err("ipv4.pkt_too_small")
    );
    let mut bad = ok.clone();
    bad[0] = 0x44; // header length 16
    assert_eq!(
        decode_ipv4(&bad, false, &mut notes),
        Err("ipv4.hlen_too_small")
    );
    let mut bad = ok.clone();
    bad[0] = 0x65;
    assert_eq!(
        decode_ipv4(&bad, false, &mut notes),
        Err("ipv4.wrong_ip_version")
    );
    // Total length 0x2c but only 30 bytes captured: truncated unless the snap length did it.
    assert_eq!(
        decode_ipv4(&ok[..30], false, &mut notes),
        Err("ipv4.trunc_pkt")
    );
    let snapped = decode_ipv4(&ok[..30], true, &mut notes).expect("snapped");
    assert!(snapped.truncated);
    let mut bad = ok.clone();
    bad[2..4].copy_from_slice(&[0, 10]);
    assert_eq!(
        decode_ipv4(&bad, false, &mut notes),
        Err("ipv4.iplen_smaller_than_hlen")
    );
}

#[test]
fn ipv4_option_with_bad_length_is_noted_but_decodes() {
    // IHL 6: one option word 0x07 0x09 ... (record route claiming 9 bytes in a 4-byte area).
    let bytes = hex("4600 0018 0000 0000 4011 0000 0a000001 0a000002 07090000");
    let mut notes = Vec::new();
    let ip = decode_ipv4(&bytes, false, &mut notes).expect("decodes");
    assert_eq!(ip.payload.len(), 0);
    assert_eq!(notes, vec!["ipv4.opt_invalid_len"]);
}

#[test]
fn short_and_lying_transport_headers() {
    let mut notes = Vec::new();
    assert_eq!(
        decode_transport(PROTO_TCP, &[0; 10], false, &mut notes),
        Err("tcp.pkt_too_small")
    );
    let mut tcp = hex(SYN)[34..].to_vec();
    tcp[12] = 0x40; // data offset 16 bytes
    assert_eq!(
        decode_transport(PROTO_TCP, &tcp, false, &mut notes),
        Err("tcp.hlen_too_small")
    );
    tcp[12] = 0xf0; // 60 bytes, more than present
    assert_eq!(
        decode_transport(PROTO_TCP, &tcp, false, &mut notes),
        Err("tcp.pkt_too_small")
    );
    // UDP length 200 in an 8-byte datagram.
    let udp = hex("0035 0035 00c8 0000");
    assert_eq!(
        decode_transport(PROTO_UDP, &udp, false, &mut notes),
        Err("udp.hlen_invalid")
    );
    let udp = hex("0035 0035 0004 0000");
    assert_eq!(
        decode_transport(PROTO_UDP, &udp, false, &mut notes),
        Err("udp.hlen_too_small")
    );
    assert_eq!(
        decode_transport(PROTO_ICMP, &[8], false, &mut notes),
        Err("icmpv4.pkt_too_small")
    );
    let icmp = hex("0800 f7ff 0001 0001");
    assert!(matches!(
        decode_transport(PROTO_ICMP, &icmp, false, &mut notes),
        Ok(Transport::Icmp {
            v6: false,
            icmp_type: 8,
            code: 0,
            ..
        })
    ));
}

#[test]
fn no_input_prefix_panics() {
    // Every prefix of every sample, through every link type.
    let samples = [hex(SYN), hex(IPV6_UDP)];
    let mut notes = Vec::new();
    for sample in &samples {
        for end in 0..=sample.len() {
            for lt in [0, 1, 9, 12, 101, 108, 113, 228, 229, 276, 9999] {
                if let Ok((_, net)) = decode_link(lt, &sample[..end]) {
                    let ip = match net {
                        Network::Ipv4(b) => decode_ipv4(b, end < sample.len(), &mut notes),
                        Network::Ipv6(b) => decode_ipv6(b, end < sample.len(), &mut notes),
                        _ => continue,
                    };
                    if let Ok(ip) = ip {
                        let _ = decode_transport(ip.proto, ip.payload, ip.truncated, &mut notes);
                    }
                }
            }
        }
    }
}

#[test]
fn ip_and_transport_headers_are_handed_out_whole() {
    // IPv4 / ICMP router advertisement with one address entry of two words:
    // 09 00 9361 | 01 02 000a | 0e505442 00000000
    let pkt = hex("45000024a1dd00000101b56a0e505442ffffffff 090093610102000a0e50544200000000");
    let mut notes = Vec::new();
    let ip = decode_ipv4(&pkt, false, &mut notes).unwrap();
    assert_eq!(ip.header, &pkt[..20]);
    let t = decode_transport(ip.proto, ip.payload, false, &mut notes).unwrap();
    assert_eq!(
        transport_header(&t, ip.payload).len(),
        16,
        "the address entries are part of the header"
    );
    // A TCP header with an MSS option: the whole 24 bytes, options included.
    let tcp = hex("00140050000000000000000060022000bcc5000002040008");
    let t = decode_transport(PROTO_TCP, &tcp, false, &mut notes).unwrap();
    assert_eq!(transport_header(&t, &tcp), &tcp[..]);
    // An echo request: 8 bytes of header, the rest is data.
    let echo = hex("0800a2ea55150000 6162");
    let t = decode_transport(PROTO_ICMP, &echo, false, &mut notes).unwrap();
    assert_eq!(transport_header(&t, &echo), &echo[..8]);
}
