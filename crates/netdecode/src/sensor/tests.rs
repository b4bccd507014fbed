//! The pipeline end to end on hand-built packets.

use super::*;
use crate::decode::link;
use picket_event::EveMode;

const CLIENT: [u8; 4] = [192, 168, 1, 10];
const SERVER: [u8; 4] = [93, 184, 216, 34];

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend(((20 + payload.len()) as u16).to_be_bytes());
    p.extend(id.to_be_bytes());
    p.extend(frag.to_be_bytes());
    p.extend([64, proto, 0, 0]);
    p.extend(src);
    p.extend(dst);
    p.extend(payload);
    p
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(sport.to_be_bytes());
    t.extend(dport.to_be_bytes());
    t.extend(seq.to_be_bytes());
    t.extend(ack.to_be_bytes());
    t.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend(payload);
    t
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend(sport.to_be_bytes());
    u.extend(dport.to_be_bytes());
    u.extend(((8 + payload.len()) as u16).to_be_bytes());
    u.extend([0, 0]);
    u.extend(payload);
    u
}

struct Run {
    sensor: Sensor,
    events: Vec<Event>,
    t: i64,
}

impl Run {
    fn new() -> Self {
        Run {
            sensor: Sensor::new(SensorConfig::default()),
            events: Vec::new(),
            t: 1_700_000_000_000_000,
        }
    }

    /// A raw-IP packet, 1 ms after the previous one.
    fn ip(&mut self, packet: &[u8]) {
        self.t += 1000;
        let len = packet.len() as u32;
        self.sensor.process(
            link::RAW,
            Timestamp::from_micros(self.t),
            packet,
            len,
            &mut self.events,
        );
    }

    fn c2s(&mut self, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.ip(&ipv4(
            CLIENT,
            SERVER,
            PROTO_TCP,
            1,
            0,
            &tcp(40000, 80, seq, ack, flags, payload),
        ));
    }

    fn s2c(&mut self, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.ip(&ipv4(
            SERVER,
            CLIENT,
            PROTO_TCP,
            1,
            0,
            &tcp(80, 40000, seq, ack, flags, payload),
        ));
    }

    fn finish(mut self) -> Vec<Value> {
        while self.sensor.finish(&mut self.events) {}
        self.events
            .iter()
            .map(|e| e.to_eve(EveMode::Extended))
            .collect()
    }
}

fn only_flow(events: &[Value]) -> &Value {
    let flows: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "flow")
        .collect();
    assert_eq!(flows.len(), 1, "{events:#?}");
    flows[0]
}

use tcp_flags::{ACK, FIN, PSH, RST, SYN};

#[test]
fn handshake_data_and_close_make_an_sf_flow_record() {
    let mut r = Run::new();
    r.c2s(100, 0, SYN, b"");
    r.s2c(500, 101, SYN | ACK, b"");
    r.c2s(101, 501, ACK, b"");
    r.c2s(101, 501, PSH | ACK, b"GET / HTTP/1.1\r\n\r\n");
    r.s2c(501, 119, ACK, b"");
    r.c2s(119, 501, FIN | ACK, b"");
    r.s2c(501, 120, FIN | ACK, b"");
    r.c2s(120, 502, ACK, b"");
    let events = r.finish();
    let flow = only_flow(&events);
    assert_eq!(flow["src_ip"], "192.168.1.10");
    assert_eq!(flow["dest_port"], 80);
    assert_eq!(flow["proto"], "TCP");
    assert_eq!(flow["ip_v"], 4);
    assert_eq!(flow["flow"]["pkts_toserver"], 5);
    assert_eq!(flow["flow"]["pkts_toclient"], 3);
    assert_eq!(flow["flow"]["state"], "closed");
    assert_eq!(flow["flow"]["reason"], "shutdown");
    assert_eq!(flow["tcp"]["tcp_flags"], "1b");
    assert_eq!(flow["tcp"]["syn"], true);
    assert_eq!(flow["picket"]["conn_state"], "SF");
    assert_eq!(flow["picket"]["history"], "ShADaFf");
    assert_eq!(flow["picket"]["missed_bytes"], 0);
    let cid = community_id_v1(
        0,
        "192.168.1.10".parse().unwrap_or(IpAddr::from([0; 4])),
        "93.184.216.34".parse().unwrap_or(IpAddr::from([0; 4])),
        6,
        40000,
        80,
    );
    assert_eq!(flow["community_id"], Value::from(cid));
    assert!(flow["flow_id"].as_u64().is_some());
}

#[test]
fn rejected_and_unanswered_connections() {
    let mut r = Run::new();
    r.c2s(100, 0, SYN, b"");
    r.s2c(0, 101, RST | ACK, b"");
    let events = r.finish();
    let flow = only_flow(&events);
    assert_eq!(flow["picket"]["conn_state"], "REJ");
    assert_eq!(flow["picket"]["history"], "Sr");

    let mut r = Run::new();
    r.c2s(100, 0, SYN, b"");
    r.c2s(100, 0, SYN, b"");
    let events = r.finish();
    assert_eq!(only_flow(&events)["picket"]["conn_state"], "S0");
}

#[test]
fn first_packet_syn_ack_flips_the_roles() {
    let mut r = Run::new();
    r.s2c(500, 101, SYN | ACK, b"");
    r.c2s(101, 501, ACK, b"");
    let events = r.finish();
    let flow = only_flow(&events);
    assert_eq!(
        flow["src_ip"], "192.168.1.10",
        "the SYN-ACK's receiver opened the flow"
    );
    assert_eq!(flow["picket"]["history"], "^hA");
}

#[test]
fn lost_segment_the_server_acknowledged_is_missed_bytes() {
    let mut r = Run::new();
    r.c2s(100, 0, SYN, b"");
    r.s2c(500, 101, SYN | ACK, b"");
    r.c2s(101, 501, ACK, b"");
    r.c2s(101, 501, PSH | ACK, b"aaaa");
    // Bytes 105..115 never reach the sensor, but the server acknowledges them.
    r.c2s(115, 501, PSH | ACK, b"cccc");
    r.s2c(501, 119, ACK, b"");
    let events = r.finish();
    let flow = only_flow(&events);
    assert_eq!(flow["picket"]["missed_bytes"], 10);
    let history = flow["picket"]["history"].as_str().unwrap_or_default();
    assert!(history.contains('G'), "{history}");
}

#[test]
fn fragmented_udp_is_reassembled_into_one_flow() {
    let payload: Vec<u8> = (0..40u8).collect();
    let datagram = udp(5000, 9999, &payload);
    // First 24 bytes (8-byte aligned) with more-fragments, then the rest at offset 3*8.
    let mut r = Run::new();
    r.ip(&ipv4(
        CLIENT,
        SERVER,
        PROTO_UDP,
        77,
        0x2000,
        &datagram[..24],
    ));
    r.ip(&ipv4(CLIENT, SERVER, PROTO_UDP, 77, 3, &datagram[24..]));
    assert_eq!(r.sensor.defrag_stats().ipv4_reassembled, 1);
    let events = r.finish();
    let flow = only_flow(&events);
    assert_eq!(flow["src_port"], 5000);
    assert_eq!(flow["dest_port"], 9999);
    assert_eq!(flow["picket"]["conn_state"], "S0");
}

#[test]
fn malformed_packets_become_anomaly_events() {
    let mut r = Run::new();
    let mut bad = ipv4(CLIENT, SERVER, PROTO_TCP, 1, 0, &[0; 8]);
    bad[3] = 200; // total length past the end, and not snapped
    r.ip(&bad);
    r.ip(&ipv4(CLIENT, SERVER, PROTO_TCP, 1, 0, &[0; 8])); // TCP header cut short
    let events = r.finish();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["event_type"] == "anomaly")
        .filter_map(|e| e["anomaly"]["event"].as_str())
        .collect();
    assert_eq!(
        kinds,
        vec!["decoder.ipv4.trunc_pkt", "decoder.tcp.pkt_too_small"]
    );
    assert!(events.iter().all(|e| e["event_type"] != "flow"));
}

#[test]
fn dns_over_udp_reaches_the_parser_with_the_flow_envelope() {
    // A query for example.org, type A.
    let query = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'e', b'x',
        b'a', b'm', b'p', b'l', b'e', 0x03, b'o', b'r', b'g', 0x00, 0x00, 0x01, 0x00, 0x01,
    ];
    let mut r = Run::new();
    r.ip(&ipv4(
        CLIENT,
        SERVER,
        PROTO_UDP,
        9,
        0,
        &udp(53000, 53, &query),
    ));
    let events = r.finish();
    let dns: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "dns").collect();
    assert!(!dns.is_empty(), "{events:#?}");
    let flow = only_flow(&events);
    assert_eq!(dns[0]["flow_id"], flow["flow_id"]);
    assert_eq!(
        dns[0]["src_ip"], "192.168.1.10",
        "a query comes from the client"
    );
    assert_eq!(dns[0]["community_id"], flow["community_id"]);
    assert_eq!(flow["app_proto"], "dns");
}

#[test]
fn timeouts_follow_packet_time() {
    let mut r = Run::new();
    r.ip(&ipv4(CLIENT, SERVER, PROTO_UDP, 1, 0, &udp(1, 2, b"x")));
    // 31 s later, in packet time, another flow's packet drives the sweep.
    r.t += 31_000_000;
    r.ip(&ipv4(CLIENT, SERVER, PROTO_UDP, 1, 0, &udp(3, 4, b"y")));
    let timed_out: Vec<&Event> = r.events.iter().filter(|e| e.event_type == "flow").collect();
    assert_eq!(timed_out.len(), 1);
    assert_eq!(
        timed_out[0].to_eve(EveMode::Strict)["flow"]["reason"],
        "timeout"
    );
}

fn ipv6(src: u8, dst: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend((payload.len() as u16).to_be_bytes());
    p.extend([next, 64]);
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[15] = src;
    p.extend(a);
    a[15] = dst;
    p.extend(a);
    p.extend(payload);
    p
}

#[test]
fn ipv6_fragments_reassemble_through_the_fragment_header() {
    let datagram = udp(6000, 7000, &[0xab; 32]);
    let frag = |offset: u16, more: bool, bytes: &[u8]| {
        // Fragment header: next header UDP, reserved, offset<<3 | M, id 0x01020304.
        let mut h = vec![PROTO_UDP, 0];
        h.extend(((offset << 3) | u16::from(more)).to_be_bytes());
        h.extend([1, 2, 3, 4]);
        h.extend(bytes);
        ipv6(1, 2, 44, &h)
    };
    let mut r = Run::new();
    r.ip(&frag(2, false, &datagram[16..]));
    r.ip(&frag(0, true, &datagram[..16]));
    assert_eq!(r.sensor.defrag_stats().ipv6_reassembled, 1);
    let events = r.finish();
    let flow = only_flow(&events);
    assert_eq!(flow["src_ip"], "2001::1");
    assert_eq!(flow["dest_port"], 7000);
    // One packet: the completing fragment's 48 bytes of headers and the 40-byte datagram.
    assert_eq!(flow["flow"]["pkts_toserver"], 1);
    assert_eq!(flow["flow"]["bytes_toserver"], 48 + 40);
}

/// DNS over TCP: a two-byte length, then the query for example.org.
fn dns_over_tcp_query() -> Vec<u8> {
    let mut msg = vec![0, 29];
    msg.extend([
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'e', b'x',
        b'a', b'm', b'p', b'l', b'e', 0x03, b'o', b'r', b'g', 0x00, 0x00, 0x01, 0x00, 0x01,
    ]);
    msg
}

/// A client segment from port 40000 to the server's DNS port 53.
fn client_to_dns_over_tcp(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    ipv4(
        CLIENT,
        SERVER,
        PROTO_TCP,
        1,
        0,
        &tcp(40000, 53, seq, 501, flags, payload),
    )
}

#[test]
fn out_of_order_tcp_reaches_the_parser_in_order() {
    let msg = dns_over_tcp_query();
    let client = client_to_dns_over_tcp;
    let server = |seq: u32, ack: u32, flags: u8| {
        ipv4(
            SERVER,
            CLIENT,
            PROTO_TCP,
            1,
            0,
            &tcp(53, 40000, seq, ack, flags, b""),
        )
    };
    let mut r = Run::new();
    r.ip(&client(100, SYN, b""));
    r.ip(&server(500, 101, SYN | ACK));
    r.ip(&client(101, ACK, b""));
    // The second half arrives first.
    r.ip(&client(101 + 12, PSH | ACK, &msg[12..]));
    assert!(r.events.iter().all(|e| e.event_type != "dns"));
    r.ip(&client(101, PSH | ACK, &msg[..12]));
    let events = r.finish();
    let dns = events.iter().filter(|e| e["event_type"] == "dns").count();
    assert!(dns >= 1, "{events:#?}");
    let flow = only_flow(&events);
    assert_eq!(flow["app_proto"], "dns");
    assert_eq!(flow["picket"]["missed_bytes"], 0);
}

#[test]
fn overlapping_segments_with_different_bytes_raise_a_stream_anomaly() {
    let mut r = Run::new();
    r.c2s(100, 0, SYN, b"");
    r.s2c(500, 101, SYN | ACK, b"");
    r.c2s(101, 501, ACK, b"");
    // Two versions of bytes 105..109 wait behind a hole at 101..105.
    r.c2s(105, 501, PSH | ACK, b"GOOD");
    r.c2s(105, 501, PSH | ACK, b"EVIL");
    r.c2s(101, 501, PSH | ACK, b"GET ");
    let events = r.finish();
    let stream: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "anomaly" && e["anomaly"]["type"] == "stream")
        .collect();
    assert_eq!(stream.len(), 1, "{events:#?}");
    assert_eq!(
        stream[0]["anomaly"]["event"],
        "stream.reassembly_overlap_different_data"
    );
}

fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .collect()
}

#[test]
fn netflow_writes_one_record_per_direction_with_swapped_endpoints() {
    let mut r = Run::new();
    r.sensor = Sensor::new(SensorConfig {
        netflow: true,
        ..SensorConfig::default()
    });
    r.c2s(100, 0, SYN, b"");
    // The reply comes from further away: a lower TTL.
    let mut reply = ipv4(
        SERVER,
        CLIENT,
        PROTO_TCP,
        1,
        0,
        &tcp(80, 40000, 500, 101, SYN | ACK, b""),
    );
    reply[8] = 50;
    r.ip(&reply);
    r.c2s(101, 501, ACK, b"");
    r.c2s(101, 501, FIN | ACK, b"");
    let events = r.finish();
    let netflows = of_type(&events, "netflow");
    assert_eq!(netflows.len(), 2, "{events:#?}");
    let (out, back) = (netflows[0], netflows[1]);
    assert_eq!(out["src_ip"], "192.168.1.10");
    assert_eq!(out["dest_port"], 80);
    assert_eq!(out["netflow"]["pkts"], 3);
    assert_eq!(out["netflow"]["bytes"], 120);
    assert_eq!(out["netflow"]["min_ttl"], 64);
    assert_eq!(out["netflow"]["max_ttl"], 64);
    assert_eq!(out["tcp"]["tcp_flags"], "13");
    assert_eq!(back["src_ip"], "93.184.216.34");
    assert_eq!(back["src_port"], 80);
    assert_eq!(back["dest_ip"], "192.168.1.10");
    assert_eq!(back["netflow"]["pkts"], 1);
    assert_eq!(back["netflow"]["min_ttl"], 50);
    assert_eq!(back["tcp"]["tcp_flags"], "12");
    assert_eq!(back["flow_id"], out["flow_id"]);
    assert_eq!(out["netflow"]["start"], only_flow(&events)["flow"]["start"]);
}

#[test]
fn netflow_of_a_one_way_flow_is_one_record_and_off_by_default() {
    let mut r = Run::new();
    r.ip(&ipv4(
        CLIENT,
        SERVER,
        PROTO_UDP,
        1,
        0,
        &udp(5000, 9999, b"x"),
    ));
    assert!(of_type(&r.finish(), "netflow").is_empty());
    let mut r = Run::new();
    r.sensor = Sensor::new(SensorConfig {
        netflow: true,
        ..SensorConfig::default()
    });
    r.ip(&ipv4(
        CLIENT,
        SERVER,
        PROTO_UDP,
        1,
        0,
        &udp(5000, 9999, b"x"),
    ));
    r.ip(&ipv4(
        CLIENT,
        SERVER,
        PROTO_UDP,
        2,
        0,
        &udp(5000, 9999, b"yy"),
    ));
    let events = r.finish();
    let netflows = of_type(&events, "netflow");
    assert_eq!(netflows.len(), 1);
    assert_eq!(netflows[0]["netflow"]["pkts"], 2);
    assert_eq!(netflows[0]["src_port"], 5000);
}

const CLIENT_MAC: [u8; 6] = [0xd8, 0xcb, 0x8a, 0xed, 0xa1, 0x46];
const ROUTER_MAC: [u8; 6] = [0x00, 0x15, 0x17, 0x0d, 0x06, 0xf7];

/// An Ethernet frame carrying IPv4.
fn frame(src: [u8; 6], dst: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend(src);
    f.extend([0x08, 0x00]);
    f.extend(ip);
    f
}

fn dns_message(response: bool) -> Vec<u8> {
    let flags: [u8; 2] = if response { [0x81, 0x80] } else { [0x01, 0x00] };
    let mut m = vec![0x12, 0x34, flags[0], flags[1], 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend(b"\x07example\x03com\x00\x00\x01\x00\x01");
    m
}

#[test]
fn ethernet_addresses_follow_each_record_orientation() {
    let mut r = Run::new();
    r.sensor = Sensor::new(SensorConfig {
        netflow: true,
        ethernet: true,
        ..SensorConfig::default()
    });
    let query = ipv4(
        CLIENT,
        SERVER,
        PROTO_UDP,
        1,
        0,
        &udp(5353, 53, &dns_message(false)),
    );
    let answer = ipv4(
        SERVER,
        CLIENT,
        PROTO_UDP,
        2,
        0,
        &udp(53, 5353, &dns_message(true)),
    );
    for (f, (src, dst)) in [
        (query, (CLIENT_MAC, ROUTER_MAC)),
        (answer, (ROUTER_MAC, CLIENT_MAC)),
    ] {
        r.t += 1000;
        let f = frame(src, dst, &f);
        let len = f.len() as u32;
        r.sensor.process(
            link::ETHERNET,
            Timestamp::from_micros(r.t),
            &f,
            len,
            &mut r.events,
        );
    }
    let events = r.finish();
    let dns = of_type(&events, "dns");
    assert_eq!(dns.len(), 2, "{events:#?}");
    assert_eq!(dns[0]["ether"]["src_mac"], "d8:cb:8a:ed:a1:46");
    assert_eq!(dns[0]["ether"]["dest_mac"], "00:15:17:0d:06:f7");
    // The response is written from the server: its frame's addresses as they are.
    assert_eq!(dns[1]["src_ip"], "93.184.216.34");
    assert_eq!(dns[1]["ether"]["src_mac"], "00:15:17:0d:06:f7");
    let flow = only_flow(&events);
    assert_eq!(flow["ether"]["src_macs"], json!(["d8:cb:8a:ed:a1:46"]));
    assert_eq!(flow["ether"]["dest_macs"], json!(["00:15:17:0d:06:f7"]));
    let netflows = of_type(&events, "netflow");
    assert_eq!(netflows.len(), 2);
    assert_eq!(
        netflows[1]["ether"]["dest_macs"],
        json!(["d8:cb:8a:ed:a1:46"])
    );
    assert_eq!(
        netflows[1]["ether"]["src_macs"],
        json!(["00:15:17:0d:06:f7"])
    );
}

#[test]
fn ethernet_addresses_are_left_out_unless_asked_for() {
    let mut r = Run::new();
    let q = frame(
        CLIENT_MAC,
        ROUTER_MAC,
        &ipv4(
            CLIENT,
            SERVER,
            PROTO_UDP,
            1,
            0,
            &udp(5353, 53, &dns_message(false)),
        ),
    );
    let len = q.len() as u32;
    r.sensor.process(
        link::ETHERNET,
        Timestamp::from_micros(r.t),
        &q,
        len,
        &mut r.events,
    );
    let events = r.finish();
    assert!(
        events.iter().all(|e| e.get("ether").is_none()),
        "{events:#?}"
    );
}

/// An HTTP exchange after the handshake: the request, then the response (which
/// acknowledges the request). Returns the bytes of each.
fn http_exchange(r: &mut Run) -> (u32, u32) {
    let req: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    r.c2s(100, 0, SYN, b"");
    r.s2c(500, 101, SYN | ACK, b"");
    r.c2s(101, 501, ACK, b"");
    r.c2s(101, 501, PSH | ACK, req);
    r.s2c(501, 101 + req.len() as u32, PSH | ACK, resp);
    (req.len() as u32, resp.len() as u32)
}

fn http_records(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event_type == "http")
        .map(|e| e.to_eve(EveMode::Extended))
        .collect()
}

#[test]
fn passive_stream_data_is_parsed_when_the_peer_acknowledges_it() {
    let mut r = Run::new();
    let (req, resp) = http_exchange(&mut r);
    // The response arrived but the client has not acknowledged it: not parsed yet.
    assert!(http_records(&r.events).is_empty(), "{:#?}", r.events);
    assert!(r.sensor.reassembly_stats().memuse >= u64::from(resp));
    // Packet 6: the client's acknowledgement completes the transaction.
    r.c2s(101 + req, 501 + resp, ACK, b"");
    let http = http_records(&r.events);
    assert_eq!(http.len(), 1, "{:#?}", r.events);
    assert_eq!(http[0]["pcap_cnt"], 6);
    assert_eq!(http[0]["pkt_src"], "wire/pcap");
    // Transactions are written in the flow's direction, whichever packet completed them.
    assert_eq!(http[0]["src_port"], 40000);
    assert_eq!(http[0]["http"]["status"], 200);
    assert_eq!(r.sensor.reassembly_stats().memuse, 0);
    let events = r.finish();
    assert_eq!(
        events.iter().filter(|e| e["event_type"] == "http").count(),
        1
    );
}

#[test]
fn passive_stream_data_never_acknowledged_is_parsed_at_flow_end() {
    let mut r = Run::new();
    http_exchange(&mut r);
    // The client resets instead of acknowledging: still nothing parsed.
    r.c2s(128, 0, RST, b"");
    assert!(http_records(&r.events).is_empty());
    let events = r.finish();
    let http: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "http")
        .collect();
    assert_eq!(http.len(), 1, "{events:#?}");
    assert_eq!(http[0]["pkt_src"], "stream (flow timeout)");
    assert!(http[0].get("pcap_cnt").is_none());
    assert_eq!(only_flow(&events)["app_proto"], "http");
}

#[test]
fn inline_stream_data_is_parsed_on_arrival() {
    let mut config = SensorConfig::default();
    config.reassembly.inline = true;
    let mut r = Run::new();
    r.sensor = Sensor::new(config);
    http_exchange(&mut r);
    let http = http_records(&r.events);
    assert_eq!(http.len(), 1, "{:#?}", r.events);
    assert_eq!(http[0]["pcap_cnt"], 5);
}

#[test]
fn one_sided_capture_is_parsed_on_arrival() {
    // Only the client's side was captured: no acknowledgement will ever be seen, so the
    // DNS-over-TCP query is parsed as it arrives.
    let msg = dns_over_tcp_query();
    let client = client_to_dns_over_tcp;
    let mut r = Run::new();
    r.ip(&client(100, SYN, b""));
    r.ip(&client(101, PSH | ACK, &msg));
    let dns: Vec<&Event> = r.events.iter().filter(|e| e.event_type == "dns").collect();
    assert_eq!(dns.len(), 1, "{:#?}", r.events);
    assert_eq!(dns[0].extra["pcap_cnt"], 2);
}

fn esp(spi: u32, seq: u32) -> Vec<u8> {
    let mut e = spi.to_be_bytes().to_vec();
    e.extend(seq.to_be_bytes());
    e.extend([0xde, 0xad, 0xbe, 0xef]);
    e
}

#[test]
fn esp_security_associations_are_flows_of_their_own_with_the_spi() {
    let mut r = Run::new();
    r.sensor = Sensor::new(SensorConfig {
        netflow: true,
        ..SensorConfig::default()
    });
    for (spi, seq) in [(123, 1), (321, 1), (123, 2), (321, 2)] {
        r.ip(&ipv4(CLIENT, SERVER, PROTO_ESP, 1, 0, &esp(spi, seq)));
    }
    // Too short for an ESP header: an anomaly, no flow.
    r.ip(&ipv4(CLIENT, SERVER, PROTO_ESP, 1, 0, &[0, 0, 1]));
    let events = r.finish();
    let flows = of_type(&events, "flow");
    assert_eq!(flows.len(), 2, "{events:#?}");
    let mut spis: Vec<u64> = flows
        .iter()
        .map(|f| f["spi"].as_u64().expect("spi"))
        .collect();
    spis.sort();
    assert_eq!(spis, [123, 321]);
    assert!(flows
        .iter()
        .all(|f| f["flow"]["pkts_toserver"] == 2 && f["proto"] == "ESP"));
    assert_ne!(flows[0]["flow_id"], flows[1]["flow_id"]);
    let netflows = of_type(&events, "netflow");
    assert_eq!(netflows.len(), 2);
    assert!(netflows
        .iter()
        .all(|n| n["spi"].is_u64() && n["netflow"]["pkts"] == 2));
    let anomalies = of_type(&events, "anomaly");
    assert_eq!(anomalies.len(), 1);
    assert_eq!(
        anomalies[0]["anomaly"]["event"],
        "decoder.esp.pkt_too_small"
    );
}
