//! Pure packet decoding: link layer to transport header, borrowing from the packet.
//!
//! A problem that stops decoding is an `Err(name)`; one that does not (an odd IP option, a
//! routing header of type 0) is pushed onto `notes` and decoding goes on. Names are
//! Suricata's decoder event names without the `decoder.` prefix (`ipv4.trunc_pkt`), so
//! counters and anomaly records line up with Suricata's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A decoder event name such as `ipv4.trunc_pkt`.
pub type DecodeEvent = &'static str;

/// Link types this decoder understands (tcpdump.org LINKTYPE_ numbers).
pub mod link {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// PPP, possibly with HDLC-like address and control bytes.
    pub const PPP: u32 = 9;
    pub const RAW_BSD: u32 = 12;
    /// OpenBSD's number for raw IP in some old captures.
    pub const RAW_OPENBSD: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Suricata decodes up to three VLAN layers; deeper stacks are an anomaly.
const MAX_VLAN_LAYERS: usize = 3;
/// More IPv6 extension headers than this is an evasion attempt, not a real packet.
const MAX_IPV6_EXT_HEADERS: usize = 16;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_ESP: u8 = 50;

/// The clear part of an IPsec ESP header (RFC 4303); the rest is ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspHeader {
    /// Security Parameters Index: names the one-way security association.
    pub spi: u32,
    pub seq: u32,
}

/// Decodes the ESP header at the start of an IP payload.
pub fn decode_esp(data: &[u8]) -> Result<EspHeader, DecodeEvent> {
    if data.len() < 8 {
        return Err("esp.pkt_too_small");
    }
    Ok(EspHeader {
        spi: be32(data, 0),
        seq: be32(data, 4),
    })
}

/// What the link layer said about the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkInfo {
    /// Outermost VLAN ids first; 0 where absent.
    pub vlan: [u16; 2],
    pub vlan_layers: u8,
    pub kind: LinkKind,
    /// Ethernet: the (source, destination) MAC addresses of the outer frame.
    pub macs: Option<[[u8; 6]; 2]>,
}

/// Which link decoder ran, for the `decoder` counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkKind {
    #[default]
    Ethernet,
    Sll,
    Sll2,
    Raw,
    Null,
    Ppp,
}

/// The network-layer payload a link decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    Arp,
    /// An ethertype or address family this decoder does not follow.
    Other(u16),
}

/// Decode the link layer of a packet of `link_type`.
pub fn decode_link(link_type: u32, data: &[u8]) -> Result<(LinkInfo, Network<'_>), DecodeEvent> {
    let mut info = LinkInfo::default();
    match link_type {
        link::ETHERNET => {
            if data.len() < 14 {
                return Err("ethernet.pkt_too_small");
            }
            info.kind = LinkKind::Ethernet;
            let mut src = [0u8; 6];
            let mut dst = [0u8; 6];
            src.copy_from_slice(&data[6..12]);
            dst.copy_from_slice(&data[0..6]);
            info.macs = Some([src, dst]);
            let ethertype = be16(data, 12);
            let network = ethertype_payload(&mut info, ethertype, &data[14..])?;
            Ok((info, network))
        }
        link::LINUX_SLL => {
            if data.len() < 16 {
                return Err("sll.pkt_too_small");
            }
            info.kind = LinkKind::Sll;
            let network = ethertype_payload(&mut info, be16(data, 14), &data[16..])?;
            Ok((info, network))
        }
        link::LINUX_SLL2 => {
            if data.len() < 20 {
                return Err("sll2.pkt_too_small");
            }
            info.kind = LinkKind::Sll2;
            let network = ethertype_payload(&mut info, be16(data, 0), &data[20..])?;
            Ok((info, network))
        }
        link::RAW | link::RAW_BSD | link::RAW_OPENBSD => {
            info.kind = LinkKind::Raw;
            match data.first().map(|b| b >> 4) {
                Some(4) => Ok((info, Network::Ipv4(data))),
                Some(6) => Ok((info, Network::Ipv6(data))),
                _ => Err("ipraw.invalid_ip_version"),
            }
        }
        link::IPV4 => {
            info.kind = LinkKind::Raw;
            Ok((info, Network::Ipv4(data)))
        }
        link::IPV6 => {
            info.kind = LinkKind::Raw;
            Ok((info, Network::Ipv6(data)))
        }
        link::NULL | link::LOOP => {
            if data.len() < 4 {
                return Err("ltnull.pkt_too_small");
            }
            info.kind = LinkKind::Null;
            // DLT_NULL stores the family in the writer's byte order, DLT_LOOP in network
            // order; the family values are small, so whichever reading is small is right.
            let raw = [data[0], data[1], data[2], data[3]];
            let family = if link_type == link::LOOP {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le < 0x1_0000 {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            let payload = &data[4..];
            match family {
                2 => Ok((info, Network::Ipv4(payload))),
                // AF_INET6 differs by system: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD,
                // 30 macOS.
                10 | 24 | 28 | 30 => Ok((info, Network::Ipv6(payload))),
                other => Ok((info, Network::Other(other as u16))),
            }
        }
        link::PPP => {
            info.kind = LinkKind::Ppp;
            let mut rest = data;
            if rest.starts_with(&[0xff, 0x03]) {
                rest = &rest[2..];
            }
            // The protocol field is one byte when compressed (its low bit is set).
            let (protocol, header) = match rest.first() {
                Some(b) if b & 1 == 1 => (u16::from(*b), 1),
                Some(_) if rest.len() >= 2 => (be16(rest, 0), 2),
                _ => return Err("ppp.pkt_too_small"),
            };
            let payload = &rest[header..];
            Ok((
                info,
                match protocol {
                    0x21 => Network::Ipv4(payload),
                    0x57 => Network::Ipv6(payload),
                    other => Network::Other(other),
                },
            ))
        }
        _ => Err("link.unsupported_type"),
    }
}

fn ethertype_payload<'a>(
    info: &mut LinkInfo,
    mut ethertype: u16,
    mut rest: &'a [u8],
) -> Result<Network<'a>, DecodeEvent> {
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        if rest.len() < 4 {
            return Err("vlan.header_too_small");
        }
        if usize::from(info.vlan_layers) >= MAX_VLAN_LAYERS {
            return Err("vlan.too_many_layers");
        }
        let id = be16(rest, 0) & 0x0fff;
        if let Some(slot) = info.vlan.get_mut(usize::from(info.vlan_layers)) {
            *slot = id;
        }
        info.vlan_layers += 1;
        ethertype = be16(rest, 2);
        rest = &rest[4..];
    }
    Ok(match ethertype {
        ETHERTYPE_IPV4 => Network::Ipv4(rest),
        ETHERTYPE_IPV6 => Network::Ipv6(rest),
        ETHERTYPE_ARP => Network::Arp,
        other => Network::Other(other),
    })
}

/// A decoded IP header: addresses, the transport protocol and its bytes, and the fragment
/// fields if this is a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport protocol (for a fragment, the protocol of the whole datagram).
    pub proto: u8,
    pub ttl: u8,
    /// The IP header as sent: IPv4 with its options, IPv6 with the extension headers
    /// walked (detection's `ipv4.hdr` and `ipv6.hdr` buffers).
    pub header: &'a [u8],
    /// Transport header and payload (for a fragment: this fragment's bytes).
    pub payload: &'a [u8],
    /// Set when the datagram is cut short by the capture's snapshot length.
    pub truncated: bool,
    pub fragment: Option<Fragment>,
}

/// The fragment fields of an IPv4 header or IPv6 fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    pub id: u32,
    /// Byte offset of this fragment in the datagram.
    pub offset: u32,
    pub more: bool,
}

/// Decode an IPv4 header. `snapped` says the capture cut this packet short, so a total
/// length beyond the captured bytes is the capture's doing, not the packet's.
pub fn decode_ipv4<'a>(
    data: &'a [u8],
    snapped: bool,
    notes: &mut Vec<DecodeEvent>,
) -> Result<IpPacket<'a>, DecodeEvent> {
    if data.len() < 20 {
        return Err("ipv4.pkt_too_small");
    }
    if data[0] >> 4 != 4 {
        return Err("ipv4.wrong_ip_version");
    }
    let hlen = usize::from(data[0] & 0x0f) * 4;
    if hlen < 20 {
        return Err("ipv4.hlen_too_small");
    }
    if data.len() < hlen {
        return Err("ipv4.trunc_pkt");
    }
    let total = usize::from(be16(data, 2));
    if total < hlen {
        return Err("ipv4.iplen_smaller_than_hlen");
    }
    let mut truncated = false;
    let end = if total > data.len() {
        if !snapped {
            return Err("ipv4.trunc_pkt");
        }
        truncated = true;
        data.len()
    } else {
        // Ethernet pads short frames; the IP length says where the datagram ends.
        total
    };
    check_ipv4_options(&data[20..hlen], notes);
    let frag = be16(data, 6);
    let more = frag & 0x2000 != 0;
    let offset = u32::from(frag & 0x1fff) * 8;
    let fragment = (more || offset != 0).then_some(Fragment {
        id: u32::from(be16(data, 4)),
        offset,
        more,
    });
    Ok(IpPacket {
        src: IpAddr::V4(Ipv4Addr::new(data[12], data[13], data[14], data[15])),
        dst: IpAddr::V4(Ipv4Addr::new(data[16], data[17], data[18], data[19])),
        proto: data[9],
        ttl: data[8],
        header: &data[..hlen],
        payload: &data[hlen..end],
        truncated,
        fragment,
    })
}

fn check_ipv4_options(mut options: &[u8], notes: &mut Vec<DecodeEvent>) {
    let mut seen = [false; 256];
    while let Some(&kind) = options.first() {
        match kind {
            0 => break,
            1 => options = &options[1..],
            _ => {
                let Some(&len) = options.get(1) else {
                    notes.push("ipv4.opt_malformed");
                    return;
                };
                let len = usize::from(len);
                if len < 2 || len > options.len() {
                    notes.push("ipv4.opt_invalid_len");
                    return;
                }
                if std::mem::replace(&mut seen[usize::from(kind)], true) {
                    notes.push("ipv4.opt_duplicate");
                }
                options = &options[len..];
            }
        }
    }
}

/// Decode an IPv6 header and its extension headers up to the transport header.
pub fn decode_ipv6<'a>(
    data: &'a [u8],
    snapped: bool,
    notes: &mut Vec<DecodeEvent>,
) -> Result<IpPacket<'a>, DecodeEvent> {
    if data.len() < 40 {
        return Err("ipv6.pkt_too_small");
    }
    if data[0] >> 4 != 6 {
        return Err("ipv6.wrong_ip_version");
    }
    let payload_len = usize::from(be16(data, 4));
    let mut truncated = false;
    let end = if payload_len == 0 {
        // A jumbogram (or a zero length the sender got wrong): take what was captured.
        data.len()
    } else if 40 + payload_len > data.len() {
        if !snapped {
            return Err("ipv6.trunc_pkt");
        }
        truncated = true;
        data.len()
    } else {
        40 + payload_len
    };
    let mut src = [0u8; 16];
    src.copy_from_slice(&data[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&data[24..40]);
    let body = &data[40..end];
    let walk = walk_ipv6_extensions(data[6], body, notes)?;
    Ok(IpPacket {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: walk.proto,
        ttl: data[7],
        header: &data[..40 + walk.offset],
        payload: &body[walk.offset..],
        truncated,
        fragment: walk.fragment,
    })
}

/// Where the extension headers end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Walk {
    pub proto: u8,
    pub offset: usize,
    pub fragment: Option<Fragment>,
}

/// Follow IPv6 extension headers from `next_header` over `body`. Stops at a fragment
/// header that really fragments (the rest is only readable after reassembly), at the
/// transport header, or at a header it does not know.
pub fn walk_ipv6_extensions(
    mut next_header: u8,
    body: &[u8],
    notes: &mut Vec<DecodeEvent>,
) -> Result<Ipv6Walk, DecodeEvent> {
    let mut offset = 0usize;
    let mut seen: u8 = 0;
    for count in 0.. {
        if count > MAX_IPV6_EXT_HEADERS {
            return Err("ipv6.exthdr_too_many");
        }
        let rest = &body[offset..];
        let (bit, len) = match next_header {
            0 => {
                if count != 0 {
                    notes.push("ipv6.hopopts_not_first");
                }
                (1u8, ext_len_8(rest)?)
            }
            43 => {
                if rest.len() >= 3 && rest[2] == 0 {
                    notes.push("ipv6.rh_type_0");
                }
                (2, ext_len_8(rest)?)
            }
            60 => (4, ext_len_8(rest)?),
            51 => {
                if rest.len() < 8 {
                    return Err("ipv6.trunc_exthdr");
                }
                let len = (usize::from(rest[1]) + 2) * 4;
                if rest.len() < len {
                    return Err("ipv6.trunc_exthdr");
                }
                if be16(rest, 2) != 0 {
                    notes.push("ipv6.exthdr_ah_res_not_null");
                }
                (8, len)
            }
            44 => {
                if rest.len() < 8 {
                    return Err("ipv6.trunc_exthdr");
                }
                if seen & 16 != 0 {
                    notes.push("ipv6.exthdr_dupl_fh");
                }
                let field = be16(rest, 2);
                let frag_offset = u32::from(field >> 3) * 8;
                let more = field & 1 != 0;
                if rest[1] != 0 || field & 0x6 != 0 {
                    notes.push("ipv6.fh_non_zero_reserved_field");
                }
                if frag_offset == 0 && !more {
                    // An atomic fragment: nothing to reassemble.
                    notes.push("ipv6.exthdr_useless_fh");
                    seen |= 16;
                    next_header = rest[0];
                    offset += 8;
                    continue;
                }
                let id = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
                return Ok(Ipv6Walk {
                    proto: rest[0],
                    offset: offset + 8,
                    fragment: Some(Fragment {
                        id,
                        offset: frag_offset,
                        more,
                    }),
                });
            }
            59 => {
                if !rest.is_empty() {
                    notes.push("ipv6.data_after_none_header");
                }
                return Ok(Ipv6Walk {
                    proto: 59,
                    offset: body.len(),
                    fragment: None,
                });
            }
            proto => {
                return Ok(Ipv6Walk {
                    proto,
                    offset,
                    fragment: None,
                })
            }
        };
        if seen & bit != 0 && bit != 4 {
            notes.push(match bit {
                1 => "ipv6.exthdr_dupl_hh",
                2 => "ipv6.exthdr_dupl_rh",
                _ => "ipv6.exthdr_dupl_ah",
            });
        }
        seen |= bit;
        next_header = rest[0];
        offset += len;
    }
    Err("ipv6.exthdr_too_many")
}

/// Length of a hop-by-hop, routing or destination options header: `(len + 1) * 8`.
fn ext_len_8(rest: &[u8]) -> Result<usize, DecodeEvent> {
    if rest.len() < 2 {
        return Err("ipv6.trunc_exthdr");
    }
    let len = (usize::from(rest[1]) + 1) * 8;
    if rest.len() < len {
        return Err("ipv6.trunc_exthdr");
    }
    Ok(len)
}

/// TCP flag bits.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// The transport header of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        payload: &'a [u8],
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: &'a [u8],
    },
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
        payload: &'a [u8],
    },
    /// Any other IP protocol: flows are kept by address pair and protocol.
    Other { proto: u8, payload: &'a [u8] },
}

impl Transport<'_> {
    pub fn payload(&self) -> &[u8] {
        match self {
            Transport::Tcp { payload, .. }
            | Transport::Udp { payload, .. }
            | Transport::Icmp { payload, .. }
            | Transport::Other { payload, .. } => payload,
        }
    }
}

/// The transport header bytes of `data` (the bytes `transport` was decoded from): the
/// TCP header with options, the UDP header, the ICMP header with its type's fixed fields.
/// Empty for other protocols.
pub fn transport_header<'a>(transport: &Transport<'_>, data: &'a [u8]) -> &'a [u8] {
    let len = match *transport {
        Transport::Tcp { payload, .. } => data.len().saturating_sub(payload.len()),
        Transport::Udp { .. } => 8,
        Transport::Icmp { v6, icmp_type, .. } => icmp_header_len(v6, icmp_type, data),
        Transport::Other { .. } => 0,
    };
    &data[..len.min(data.len())]
}

/// Length of an ICMP message's header: the type's fixed fields before its data (RFC 792,
/// RFC 950, RFC 1256). Error messages carry the offending datagram as data after 8 bytes.
fn icmp_header_len(v6: bool, icmp_type: u8, data: &[u8]) -> usize {
    if v6 {
        return 8;
    }
    match icmp_type {
        // Timestamp and timestamp reply: three 32-bit timestamps.
        13 | 14 => 20,
        // Address mask request and reply: the mask.
        17 | 18 => 12,
        // Router advertisement: one entry of `entry size` words per address.
        9 => {
            let (addrs, words) = (
                usize::from(data.get(4).copied().unwrap_or(0)),
                usize::from(data.get(5).copied().unwrap_or(0)),
            );
            8 + addrs * words * 4
        }
        _ => 8,
    }
}

/// Decode the transport header of protocol `proto`. `truncated` says the capture cut the
/// datagram short, so a length field beyond the bytes at hand is not an anomaly.
pub fn decode_transport<'a>(
    proto: u8,
    data: &'a [u8],
    truncated: bool,
    notes: &mut Vec<DecodeEvent>,
) -> Result<Transport<'a>, DecodeEvent> {
    match proto {
        PROTO_TCP => {
            if data.len() < 20 {
                return Err("tcp.pkt_too_small");
            }
            let hlen = usize::from(data[12] >> 4) * 4;
            if hlen < 20 {
                return Err("tcp.hlen_too_small");
            }
            if data.len() < hlen {
                return Err("tcp.pkt_too_small");
            }
            check_tcp_options(&data[20..hlen], notes);
            Ok(Transport::Tcp {
                src_port: be16(data, 0),
                dst_port: be16(data, 2),
                seq: be32(data, 4),
                ack: be32(data, 8),
                flags: data[13],
                window: be16(data, 14),
                payload: &data[hlen..],
            })
        }
        PROTO_UDP => {
            if data.len() < 8 {
                return Err("udp.pkt_too_small");
            }
            let len = usize::from(be16(data, 4));
            if len < 8 {
                return Err("udp.hlen_too_small");
            }
            let end = if len > data.len() {
                if !truncated {
                    return Err("udp.hlen_invalid");
                }
                data.len()
            } else {
                len
            };
            Ok(Transport::Udp {
                src_port: be16(data, 0),
                dst_port: be16(data, 2),
                payload: &data[8..end],
            })
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            let v6 = proto == PROTO_ICMPV6;
            if data.len() < 4 {
                return Err(if v6 {
                    "icmpv6.pkt_too_small"
                } else {
                    "icmpv4.pkt_too_small"
                });
            }
            Ok(Transport::Icmp {
                v6,
                icmp_type: data[0],
                code: data[1],
                payload: &data[4..],
            })
        }
        other => Ok(Transport::Other {
            proto: other,
            payload: data,
        }),
    }
}

fn check_tcp_options(mut options: &[u8], notes: &mut Vec<DecodeEvent>) {
    let mut seen = [false; 256];
    while let Some(&kind) = options.first() {
        match kind {
            0 => break,
            1 => options = &options[1..],
            _ => {
                let Some(&len) = options.get(1) else {
                    notes.push("tcp.invalid_optlen");
                    return;
                };
                let len = usize::from(len);
                if len < 2 || len > options.len() {
                    notes.push("tcp.invalid_optlen");
                    return;
                }
                // Only the well-known single-use options (MSS, window scale, SACK
                // permitted, timestamps) are duplicates when repeated.
                if matches!(kind, 2 | 3 | 4 | 8)
                    && std::mem::replace(&mut seen[usize::from(kind)], true)
                {
                    notes.push("tcp.opt_duplicate");
                }
                options = &options[len..];
            }
        }
    }
}

pub(crate) fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

pub(crate) fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

#[cfg(test)]
mod tests;
