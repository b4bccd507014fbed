//! Test-only capture reading: a deliberately naive pcap / pcapng reader, L2-L4 decoder
//! (Ethernet/VLAN/SLL/raw/loopback, IPv4/6, GRE incl. ERSPAN, VXLAN, Geneve) and TCP payload
//! collector that keeps the first 64 KiB of each direction in sequence order, stopping at the
//! first hole. Enough to get handshakes out of the shared pcaps until the capture and netdecode
//! crates offer the real thing; never used outside tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The shared corpus: `PICKET_CORPUS`, else `../shared/corpus` beside the repository.
pub fn corpus_root() -> PathBuf {
    std::env::var_os("PICKET_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

pub const KEEP_PER_DIRECTION: usize = 65_536;

// ---------- pcap / pcapng ----------

pub fn rd16(b: &[u8], le: bool) -> u16 {
    let a = [b[0], b[1]];
    if le {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    }
}

pub fn rd32(b: &[u8], le: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

/// (link type, frame bytes) for every packet in a pcap or pcapng file.
pub fn read_capture(data: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    if data.len() < 24 {
        return out;
    }
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    if magic == 0x0a0d0d0a {
        let mut le = true;
        let mut links: Vec<u32> = Vec::new();
        let mut off = 0;
        while off + 12 <= data.len() {
            let bt = rd32(&data[off..], le);
            if bt == 0x0a0d0d0a {
                le = u32::from_le_bytes([
                    data[off + 8],
                    data[off + 9],
                    data[off + 10],
                    data[off + 11],
                ]) == 0x1a2b3c4d;
                links.clear();
            }
            let blen = rd32(&data[off + 4..], le) as usize;
            if blen < 12 || off + blen > data.len() {
                break;
            }
            let body = &data[off + 8..off + blen - 4];
            match bt {
                1 if body.len() >= 2 => links.push(u32::from(rd16(body, le))),
                6 if body.len() >= 20 => {
                    let iface = rd32(body, le) as usize;
                    let cap = rd32(&body[12..], le) as usize;
                    if let (Some(l), Some(f)) = (links.get(iface), body.get(20..20 + cap)) {
                        out.push((*l, f.to_vec()));
                    }
                }
                3 if body.len() >= 4 => {
                    if let Some(l) = links.first() {
                        out.push((*l, body[4..].to_vec()));
                    }
                }
                _ => {}
            }
            off += blen;
        }
        return out;
    }
    let le = match magic {
        0xa1b2c3d4 | 0xa1b23c4d => true,
        0xd4c3b2a1 | 0x4d3cb2a1 => false,
        _ => return out,
    };
    let link = rd32(&data[20..], le);
    let mut off = 24;
    while off + 16 <= data.len() {
        let cap = rd32(&data[off + 8..], le) as usize;
        let Some(f) = data.get(off + 16..off + 16 + cap) else {
            break;
        };
        out.push((link, f.to_vec()));
        off += 16 + cap;
    }
    out
}

// ---------- decoding ----------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint(pub IpAddr, pub u16);

pub struct Segment {
    pub src: Endpoint,
    pub dst: Endpoint,
    /// 6 for TCP, 17 for UDP.
    pub proto: u8,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub payload: Vec<u8>,
}

pub fn ether(f: &[u8], depth: u32, out: &mut Vec<Segment>) {
    if f.len() < 14 {
        return;
    }
    let mut et = u16::from_be_bytes([f[12], f[13]]);
    let mut off = 14;
    while (et == 0x8100 || et == 0x88a8) && f.len() >= off + 4 {
        et = u16::from_be_bytes([f[off + 2], f[off + 3]]);
        off += 4;
    }
    by_ethertype(et, &f[off..], depth, out);
}

pub fn by_ethertype(et: u16, p: &[u8], depth: u32, out: &mut Vec<Segment>) {
    match et {
        0x0800 | 0x86dd => ip(p, depth, out),
        0x6558 => ether(p, depth + 1, out),
        _ => {}
    }
}

pub fn link(lt: u32, f: &[u8], out: &mut Vec<Segment>) {
    match lt {
        1 => ether(f, 0, out),
        101 | 12 | 14 | 228 | 229 => ip(f, 0, out),
        0 | 108 if f.len() > 4 => ip(&f[4..], 0, out),
        113 if f.len() > 16 => by_ethertype(u16::from_be_bytes([f[14], f[15]]), &f[16..], 0, out),
        276 if f.len() > 20 => by_ethertype(u16::from_be_bytes([f[0], f[1]]), &f[20..], 0, out),
        _ => {}
    }
}

pub fn ip(p: &[u8], depth: u32, out: &mut Vec<Segment>) {
    if depth > 4 || p.is_empty() {
        return;
    }
    let (src, dst, mut proto, mut off, end) = match p[0] >> 4 {
        4 if p.len() >= 20 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
            let frag = u16::from_be_bytes([p[6], p[7]]) & 0x1fff;
            if frag != 0 || ihl < 20 {
                return;
            }
            (
                IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
                IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])),
                p[9],
                ihl,
                total.max(ihl),
            )
        }
        6 if p.len() >= 40 => {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&p[8..24]);
            d.copy_from_slice(&p[24..40]);
            let plen = usize::from(u16::from_be_bytes([p[4], p[5]]));
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                p[6],
                40,
                (40 + plen).min(p.len()),
            )
        }
        _ => return,
    };
    // IPv6 extension headers.
    while matches!(proto, 0 | 43 | 60) && off + 8 <= end {
        proto = p[off];
        off += (usize::from(p[off + 1]) + 1) * 8;
    }
    if off > end {
        return;
    }
    let l4 = &p[off..end];
    match proto {
        6 if l4.len() >= 20 => {
            let doff = usize::from(l4[12] >> 4) * 4;
            if doff < 20 || doff > l4.len() {
                return;
            }
            out.push(Segment {
                src: Endpoint(src, u16::from_be_bytes([l4[0], l4[1]])),
                dst: Endpoint(dst, u16::from_be_bytes([l4[2], l4[3]])),
                proto: 6,
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                syn: l4[13] & 0x02 != 0,
                ack: l4[13] & 0x10 != 0,
                payload: l4[doff..].to_vec(),
            });
        }
        17 if l4.len() >= 8 => {
            let dport = u16::from_be_bytes([l4[2], l4[3]]);
            let u = &l4[8..];
            if dport == 4789 && u.len() > 8 {
                ether(&u[8..], depth + 1, out);
            } else if dport == 6081 && u.len() > 8 {
                let opt = usize::from(u[0] & 0x3f) * 4;
                let et = u16::from_be_bytes([u[2], u[3]]);
                if let Some(inner) = u.get(8 + opt..) {
                    by_ethertype(et, inner, depth + 1, out);
                }
            } else {
                out.push(Segment {
                    src: Endpoint(src, u16::from_be_bytes([l4[0], l4[1]])),
                    dst: Endpoint(dst, dport),
                    proto: 17,
                    seq: 0,
                    syn: false,
                    ack: false,
                    payload: u.to_vec(),
                });
            }
        }
        4 | 41 => ip(l4, depth + 1, out),
        47 if l4.len() >= 4 => {
            let flags = u16::from_be_bytes([l4[0], l4[1]]);
            let et = u16::from_be_bytes([l4[2], l4[3]]);
            let mut h = 4;
            for bit in [0x8000u16, 0x2000, 0x1000] {
                if flags & bit != 0 {
                    h += 4;
                }
            }
            let Some(inner) = l4.get(h..) else { return };
            match et {
                0x88be if inner.len() > 8 => ether(&inner[8..], depth + 1, out),
                0x22eb if inner.len() > 12 => ether(&inner[12..], depth + 1, out),
                _ => by_ethertype(et, inner, depth + 1, out),
            }
        }
        _ => {}
    }
}

// ---------- naive TCP collection ----------

#[derive(Default)]
pub struct HalfStream {
    isn: Option<u32>,
    segs: BTreeMap<u32, Vec<u8>>,
    /// This side sent the opening SYN (without ACK): it is the client.
    pub opened: bool,
}

impl HalfStream {
    pub fn add(&mut self, seg: &Segment) {
        if seg.syn {
            self.opened |= !seg.ack;
            self.isn = Some(seg.seq.wrapping_add(1));
            return;
        }
        if seg.payload.is_empty() {
            return;
        }
        let base = *self.isn.get_or_insert(seg.seq);
        let rel = seg.seq.wrapping_sub(base);
        if (rel as usize) < KEEP_PER_DIRECTION {
            self.segs.entry(rel).or_insert_with(|| seg.payload.clone());
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for (&rel, data) in &self.segs {
            let rel = rel as usize;
            if rel > out.len() {
                break; // a hole: stop at the first gap
            }
            let skip = out.len() - rel;
            if skip < data.len() {
                out.extend_from_slice(&data[skip..]);
            }
            if out.len() >= KEEP_PER_DIRECTION {
                break;
            }
        }
        out
    }
}

/// UDP datagrams kept per flow.
pub const KEEP_DATAGRAMS: usize = 64;

/// One UDP payload; `forward` means it came from the flow's first sender.
pub type Datagram = (bool, Vec<u8>);

/// What one capture holds: TCP halves keyed by directional 4-tuple, and UDP flows keyed by the
/// direction of their first datagram, each datagram tagged "from the first sender".
#[derive(Default)]
pub struct Capture {
    pub tcp: HashMap<(Endpoint, Endpoint), HalfStream>,
    pub udp: HashMap<(Endpoint, Endpoint), Vec<Datagram>>,
}

pub fn collect(path: &Path) -> Capture {
    let data = std::fs::read(path).unwrap_or_default();
    let mut cap = Capture::default();
    for (lt, frame) in read_capture(&data) {
        let mut segs = Vec::new();
        link(lt, &frame, &mut segs);
        for s in segs {
            if s.proto == 6 {
                cap.tcp.entry((s.src, s.dst)).or_default().add(&s);
                continue;
            }
            let (key, forward) = if cap.udp.contains_key(&(s.dst, s.src)) {
                ((s.dst, s.src), false)
            } else {
                ((s.src, s.dst), true)
            };
            let flow = cap.udp.entry(key).or_default();
            if flow.len() < KEEP_DATAGRAMS {
                flow.push((forward, s.payload));
            }
        }
    }
    cap
}
