//! A small capture of our own in which every flow-analytics alert kind fires under
//! `examples/netwatch/demo.toml`: two days of made-up traffic from two qubes.
//!
//! Payloads are zeros: the sensor counts captured bytes, so uploads are kept to a few MB and
//! the demo configuration's transfer limits are scaled to match.

use super::synth::Rng;
use std::net::Ipv4Addr;

/// Monday 2026-01-05 00:00:00 UTC, in microseconds.
const DAY0_US: i64 = 1_767_571_200_000_000;
const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

struct Packet {
    ts_us: i64,
    bytes: Vec<u8>,
    orig_len: u32,
}

/// Builds the packet list; written out sorted by time.
struct Capture {
    packets: Vec<Packet>,
    rng: Rng,
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
        sum += word;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One side of a TCP connection: addresses, ports and the next sequence number.
#[derive(Clone, Copy)]
struct End {
    ip: Ipv4Addr,
    port: u16,
    seq: u32,
}

impl Capture {
    /// A TCP segment from `a` to `b` with `len` bytes of zeros as payload.
    fn tcp(&mut self, ts_us: i64, a: &mut End, b: &End, flags: u8, len: u32) {
        let mut p = Vec::with_capacity(54);
        // Ethernet: made-up locally administered MACs, IPv4.
        p.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = 40 + len.min(65_495) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&a.ip.octets());
        ip[16..20].copy_from_slice(&b.ip.octets());
        let sum = checksum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(&ip);
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&a.port.to_be_bytes());
        tcp[2..4].copy_from_slice(&b.port.to_be_bytes());
        tcp[4..8].copy_from_slice(&a.seq.to_be_bytes());
        if flags & ACK != 0 {
            tcp[8..12].copy_from_slice(&b.seq.to_be_bytes());
        }
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&64_240u16.to_be_bytes());
        p.extend_from_slice(&tcp);
        p.resize(p.len() + len as usize, 0);
        let advance = len + u32::from(flags & (SYN | FIN) != 0);
        a.seq = a.seq.wrapping_add(advance);
        self.packets.push(Packet {
            ts_us,
            bytes: p,
            orig_len: 54 + len,
        });
    }

    fn ends(&mut self, client: Ipv4Addr, server: Ipv4Addr, dport: u16) -> (End, End) {
        let c = End {
            ip: client,
            port: 32_768 + self.rng.below(28_000) as u16,
            seq: self.rng.next_u64() as u32,
        };
        let s = End {
            ip: server,
            port: dport,
            seq: self.rng.next_u64() as u32,
        };
        (c, s)
    }

    /// A complete connection: handshake, `up` bytes sent in 1448-byte segments, keepalives every 5 minutes for `secs`, `down` bytes back,
    /// and a clean close.
    #[allow(clippy::too_many_arguments)]
    fn session(
        &mut self,
        t_us: i64,
        client: Ipv4Addr,
        server: Ipv4Addr,
        dport: u16,
        secs: i64,
        up: u64,
        down: u64,
    ) {
        let (mut c, mut s) = self.ends(client, server, dport);
        let rtt = 20_000;
        let mut t = t_us;
        self.tcp(t, &mut c, &s, SYN, 0);
        self.tcp(t + rtt, &mut s, &c, SYN | ACK, 0);
        self.tcp(t + 2 * rtt, &mut c, &s, ACK, 0);
        t += 3 * rtt;
        let mut left = up;
        while left > 0 {
            let n = left.min(1448) as u32;
            self.tcp(t, &mut c, &s, PSH | ACK, n);
            t += 100;
            left -= u64::from(n);
        }
        let end = t_us + secs * 1_000_000;
        while t + 300_000_000 < end {
            t += 300_000_000;
            self.tcp(t, &mut c, &s, ACK, 0);
            self.tcp(t + rtt, &mut s, &c, ACK, 0);
        }
        t = t.max(end);
        let mut left = down;
        while left > 0 {
            let n = left.min(1448) as u32;
            self.tcp(t, &mut s, &c, PSH | ACK, n);
            t += 100;
            left -= u64::from(n);
        }
        self.tcp(t, &mut c, &s, FIN | ACK, 0);
        self.tcp(t + rtt, &mut s, &c, FIN | ACK, 0);
        self.tcp(t + 2 * rtt, &mut c, &s, ACK, 0);
    }

    /// A refused connection attempt (SYN, RST).
    fn refused(&mut self, t_us: i64, client: Ipv4Addr, server: Ipv4Addr, dport: u16) {
        let (mut c, mut s) = self.ends(client, server, dport);
        self.tcp(t_us, &mut c, &s, SYN, 0);
        self.tcp(t_us + 1_000, &mut s, &c, RST | ACK, 0);
    }

    /// An unanswered connection attempt.
    fn unanswered(&mut self, t_us: i64, client: Ipv4Addr, server: Ipv4Addr, dport: u16) {
        let (mut c, s) = self.ends(client, server, dport);
        self.tcp(t_us, &mut c, &s, SYN, 0);
    }

    fn pcap(mut self) -> Vec<u8> {
        self.packets.sort_by_key(|p| p.ts_us);
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65_535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        for p in &self.packets {
            let secs = p.ts_us.div_euclid(1_000_000) as u32;
            let micros = p.ts_us.rem_euclid(1_000_000) as u32;
            out.extend_from_slice(&secs.to_le_bytes());
            out.extend_from_slice(&micros.to_le_bytes());
            out.extend_from_slice(&(p.bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&p.orig_len.to_le_bytes());
            out.extend_from_slice(&p.bytes);
        }
        out
    }
}

/// The work qube, learned on day 0 and misbehaving on day 1.
pub const DEMO_WORK_QUBE: Ipv4Addr = Ipv4Addr::new(10, 137, 0, 10);
/// The Matrix qube, whose allowlist holds 198.51.100.50 only.
pub const DEMO_MATRIX_QUBE: Ipv4Addr = Ipv4Addr::new(10, 137, 0, 20);

/// The demo capture as classic pcap bytes. The same bytes every time.
pub fn demo_pcap() -> Vec<u8> {
    let mut cap = Capture {
        packets: Vec::new(),
        rng: Rng::new(2026),
    };
    let work = DEMO_WORK_QUBE;
    let web = |i: u8| Ipv4Addr::new(198, 51, 100, 10 + i);
    // Day 0, 09:00-17:00: office hours, short HTTPS sessions at irregular times to a few
    // sites, a few kB up each. This is what the work qube's baseline learns.
    let mut t = DAY0_US + 9 * HOUR_US;
    while t < DAY0_US + 17 * HOUR_US {
        let site = web(cap.rng.below(6) as u8);
        let secs = 1 + cap.rng.below(30) as i64;
        let up = 500 + cap.rng.below(3000);
        cap.session(t, work, site, 443, secs, up, 3000);
        t += 60_000_000 + cap.rng.below(900_000_000) as i64;
    }
    let day1 = DAY0_US + DAY_US;
    // 03:00: activity in an hour the baseline never saw (quiet_hour).
    for k in 0..4 {
        cap.session(
            day1 + 3 * HOUR_US + k * 120_000_000,
            work,
            web(1),
            443,
            5,
            800,
            5000,
        );
    }
    // 10:00: a blocklisted address (blocklist).
    cap.session(
        day1 + 10 * HOUR_US,
        work,
        Ipv4Addr::new(192, 0, 2, 66),
        443,
        2,
        600,
        900,
    );
    // 10:10: 600 kB up, where the baseline's largest was a few kB (large_transfer_relative).
    cap.session(
        day1 + 10 * HOUR_US + 600_000_000,
        work,
        Ipv4Addr::new(203, 0, 113, 80),
        443,
        30,
        600_000,
        2000,
    );
    // 10:20: 3 MB up, over the demo's fixed limit of 2 MB (large_transfer).
    cap.session(
        day1 + 10 * HOUR_US + 1_200_000_000,
        work,
        Ipv4Addr::new(203, 0, 113, 81),
        443,
        60,
        3_000_000,
        2000,
    );
    // 11:00: a 2-hour SSH session from a qube whose sessions last seconds
    // (long_session_relative), and a 5-hour one, over the fixed limit (long_session).
    cap.session(
        day1 + 11 * HOUR_US,
        work,
        Ipv4Addr::new(203, 0, 113, 90),
        22,
        2 * 3600,
        50_000,
        80_000,
    );
    cap.session(
        day1 + 11 * HOUR_US + 60_000_000,
        work,
        Ipv4Addr::new(203, 0, 113, 91),
        22,
        5 * 3600,
        50_000,
        80_000,
    );
    // 12:00-12:15: a connection every 60 s, give or take half a second (beacon).
    for k in 0..15 {
        let jitter = cap.rng.below(1_000_000) as i64 - 500_000;
        cap.session(
            day1 + 12 * HOUR_US + k * 60_000_000 + jitter,
            work,
            Ipv4Addr::new(203, 0, 113, 77),
            8443,
            1,
            300,
            300,
        );
    }
    // 15:00: the work qube probes 40 ports of one host, all refused (port_scan outbound),
    // then 30 hosts on port 445, none answering (sweep outbound).
    for p in 0..40u16 {
        cap.refused(
            day1 + 15 * HOUR_US + i64::from(p) * 100_000,
            work,
            Ipv4Addr::new(198, 51, 100, 200),
            20 + p,
        );
    }
    for h in 0..30u8 {
        cap.unanswered(
            day1 + 15 * HOUR_US + 10_000_000 + i64::from(h) * 100_000,
            work,
            Ipv4Addr::new(198, 51, 100, 100 + h),
            445,
        );
    }
    // 16:00: someone outside probes 40 ports of the work qube (port_scan inbound).
    for p in 0..40u16 {
        cap.refused(
            day1 + 16 * HOUR_US + i64::from(p) * 100_000,
            Ipv4Addr::new(203, 0, 113, 200),
            work,
            1000 + p,
        );
    }
    // 16:10: the same outsider tries port 22 on 30 addresses of the qubes' network, none
    // answering (sweep inbound).
    for h in 0..30u8 {
        cap.unanswered(
            day1 + 16 * HOUR_US + 600_000_000 + i64::from(h) * 100_000,
            Ipv4Addr::new(203, 0, 113, 200),
            Ipv4Addr::new(10, 137, 0, 100 + h),
            22,
        );
    }
    // Day 1, 12:30: the Matrix qube reaches its server (allowed), then another host
    // (not_allowlisted).
    let matrix = DEMO_MATRIX_QUBE;
    cap.session(
        day1 + 12 * HOUR_US + 1_800_000_000,
        matrix,
        Ipv4Addr::new(198, 51, 100, 50),
        443,
        10,
        2000,
        9000,
    );
    cap.session(
        day1 + 12 * HOUR_US + 1_900_000_000,
        matrix,
        Ipv4Addr::new(203, 0, 113, 99),
        443,
        10,
        2000,
        9000,
    );
    cap.pcap()
}
