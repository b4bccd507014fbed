use serde_json::json;

use super::parser::{parse_message, read_name, MAX_NAME_JUMPS};
use super::*;
use crate::parse::{Cursor, ParseError};
use crate::{AppEvent, AppParser, Direction, Transport};

/// A query for www.example.com A, id 0x1234, RD set:
/// ```text
/// 0000  12 34 01 00 00 01 00 00 00 00 00 00 03 77 77 77   .4...........www
/// 0010  07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01 00   .example.com....
/// 0020  01                                                .
/// ```
pub(crate) const QUERY: &[u8] = &[
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x77, 0x77, 0x77,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00,
    0x01,
];

/// Its answer: CNAME www.example.com -> example.com (pointer c0 10), then example.com A
/// 93.184.216.34, both TTL 3600:
/// ```text
/// 0000  12 34 81 80 00 01 00 02 00 00 00 00 03 77 77 77   .4...........www
/// 0010  07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01 00   .example.com....
/// 0020  01 c0 0c 00 05 00 01 00 00 0e 10 00 02 c0 10 c0   ................
/// 0030  10 00 01 00 01 00 00 0e 10 00 04 5d b8 d8 22      ...........].."
/// ```
pub(crate) const RESPONSE: &[u8] = &[
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x77, 0x77, 0x77,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00,
    0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x02, 0xc0, 0x10, 0xc0,
    0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, 0x5d, 0xb8, 0xd8, 0x22,
];

fn feed_all(p: &mut dyn AppParser, d: Direction, data: &[u8]) -> Vec<AppEvent> {
    let mut out = Vec::new();
    p.feed(d, data, &mut out);
    out
}

/// Builds a response to QUERY carrying one answer of `rrtype` with `rdata`, owner name c0 0c.
pub(crate) fn response_with(rrtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut m = RESPONSE[..33].to_vec();
    m[7] = 1; // ancount = 1
    m.extend_from_slice(&[0xc0, 0x0c]);
    m.extend_from_slice(&rrtype.to_be_bytes());
    m.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x3c]);
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(rdata);
    m
}

#[test]
fn query_logs_as_eve_v3_request() {
    let mut p = DnsParser::new(Transport::Udp);
    let ev = feed_all(&mut p, Direction::ToServer, QUERY);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event_type, "dns");
    assert_eq!(
        ev[0].body,
        json!({"version": 3, "type": "request", "tx_id": 0, "id": 0x1234, "flags": "100",
               "rd": true, "opcode": 0, "rcode": "NOERROR",
               "queries": [{"rrname": "www.example.com", "rrtype": "A"}]})
    );
}

#[test]
fn response_follows_compression_and_groups_answers() {
    let mut p = DnsParser::new(Transport::Udp);
    let ev = feed_all(&mut p, Direction::ToClient, RESPONSE);
    assert_eq!(
        ev[0].body,
        json!({"version": 3, "type": "response", "tx_id": 0, "id": 0x1234, "flags": "8180", "qr": true,
               "rd": true, "ra": true, "opcode": 0, "rcode": "NOERROR",
               "queries": [{"rrname": "www.example.com", "rrtype": "A"}],
               "answers": [
                 {"rrname": "www.example.com", "rrtype": "CNAME", "ttl": 3600, "rdata": "example.com"},
                 {"rrname": "example.com", "rrtype": "A", "ttl": 3600, "rdata": "93.184.216.34"}],
               "grouped": {"CNAME": ["example.com"], "A": ["93.184.216.34"]}})
    );
}

#[test]
fn tcp_framing_byte_at_a_time_matches_whole_feed() {
    let mut framed = Vec::new();
    for m in [QUERY, RESPONSE] {
        framed.extend_from_slice(&(m.len() as u16).to_be_bytes());
        framed.extend_from_slice(m);
    }
    let mut whole = DnsParser::new(Transport::Tcp);
    let a = feed_all(&mut whole, Direction::ToServer, &framed);
    let mut bytewise = DnsParser::new(Transport::Tcp);
    let mut b = Vec::new();
    for byte in &framed {
        bytewise.feed(Direction::ToServer, std::slice::from_ref(byte), &mut b);
    }
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
}

#[test]
fn rdata_types_render_as_suricata_prints_them() {
    let cases: Vec<(u16, Vec<u8>, serde_json::Value)> = vec![
        (
            28,
            vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            json!({"rdata": "2001:0db8:0000:0000:0000:0000:0000:0001"}),
        ),
        // MX 10 mail.<c0 10 = example.com>
        (
            15,
            vec![0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 0x10],
            json!({"rdata": "mail.example.com"}),
        ),
        (
            16,
            vec![5, b'v', b'=', b's', b'p', b'f', 2, b' ', b'x'],
            json!({"rdata": "v=spf"}),
        ),
        (12, vec![0xc0, 0x0c], json!({"rdata": "www.example.com"})),
        (10, vec![0x00, 0x41], json!({"rdata": "\\x00A"})),
        // SRV 1 2 443 -> example.com
        (
            33,
            vec![0, 1, 0, 2, 0x01, 0xbb, 0xc0, 0x10],
            json!({"srv": {"priority": 1, "weight": 2, "port": 443, "name": "example.com"}}),
        ),
        // HTTPS 1 . alpn=h2,h3 port=443
        (
            65,
            vec![
                0, 1, 0, 0, 1, 0, 6, 2, b'h', b'2', 2, b'h', b'3', 0, 3, 0, 2, 1, 0xbb,
            ],
            json!({"rdata": "1 <root> alpn=h2,h3 port=443"}),
        ),
    ];
    for (t, rd, want) in cases {
        let msg = response_with(t, &rd);
        let m = parse_message(&msg).expect("parses");
        let body = dns_body(&m, 0);
        let ans = &body["answers"][0];
        for (k, v) in want.as_object().expect("object") {
            assert_eq!(&ans[k], v, "type {t}");
        }
    }
}

#[test]
fn soa_goes_to_soa_object_in_answers_and_authorities() {
    // mname ns.<example.com>, rname hostmaster.<example.com>, then five u32s.
    let mut rd = vec![2, b'n', b's', 0xc0, 0x10];
    rd.extend_from_slice(&[
        10, b'h', b'o', b's', b't', b'm', b'a', b's', b't', b'e', b'r', 0xc0, 0x10,
    ]);
    for v in [2024u32, 7200, 3600, 1209600, 300] {
        rd.extend_from_slice(&v.to_be_bytes());
    }
    let msg = response_with(6, &rd);
    let body = dns_body(&parse_message(&msg).expect("parses"), 0);
    assert_eq!(
        body["answers"][0]["soa"],
        json!({"mname": "ns.example.com", "rname": "hostmaster.example.com", "serial": 2024,
               "refresh": 7200, "retry": 3600, "expire": 1209600, "minimum": 300})
    );
    assert_eq!(body["grouped"]["SOA"][0]["serial"], 2024);
}

#[test]
fn pointer_to_itself_is_rejected_not_looped() {
    // Header, then a question whose name is c0 0c: a pointer to its own offset.
    let mut m = QUERY[..12].to_vec();
    m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    assert!(matches!(
        parse_message(&m),
        Err(ParseError::Malformed { .. })
    ));
}

#[test]
fn forward_pointer_is_rejected() {
    let mut m = QUERY[..12].to_vec();
    m.extend_from_slice(&[0xc0, 0x0e, 0, 0, 1, 0, 1]);
    assert!(parse_message(&m).is_err());
}

#[test]
fn pointer_chain_longer_than_jump_limit_is_a_limit_error() {
    // offset 0: a real name "a"; then a chain where each pointer points at the previous one.
    let mut m = vec![1, b'a', 0];
    let mut prev = 0u16;
    for _ in 0..(MAX_NAME_JUMPS + 4) {
        let here = m.len() as u16;
        m.extend_from_slice(&(0xc000 | prev).to_be_bytes());
        prev = here;
    }
    let mut c = Cursor::new(&m);
    c.skip(prev as usize).expect("in range");
    assert_eq!(
        read_name(&m, &mut c),
        Err(ParseError::Limit {
            what: "dns name compression jumps"
        })
    );
    // A short chain of the same shape is fine.
    let mut c = Cursor::new(&m);
    c.skip(3 + 2 * 4).expect("in range");
    assert_eq!(read_name(&m, &mut c).expect("short chain").text, "a");
}

#[test]
fn truncated_message_counts_malformed_and_logs_nothing() {
    for cut in [5, 20, RESPONSE.len() - 1] {
        let mut p = DnsParser::new(Transport::Udp);
        assert!(feed_all(&mut p, Direction::ToClient, &RESPONSE[..cut]).is_empty());
        assert_eq!(p.stats.malformed, 1);
    }
}

#[test]
fn rdlength_past_end_is_malformed() {
    let mut msg = response_with(1, &[1, 2, 3, 4]);
    let n = msg.len();
    msg[n - 5] = 0x40; // rdlength 0x0040 > what remains
    assert!(matches!(
        parse_message(&msg),
        Err(ParseError::Malformed { .. })
    ));
}

#[test]
fn tcp_direction_stops_after_a_broken_frame_and_after_a_gap() {
    let mut p = DnsParser::new(Transport::Tcp);
    let mut junk = vec![0, 3, 1, 2, 3];
    junk.extend_from_slice(&(QUERY.len() as u16).to_be_bytes());
    junk.extend_from_slice(QUERY);
    assert!(feed_all(&mut p, Direction::ToServer, &junk).is_empty());
    // The other direction is unaffected until a gap.
    let mut framed = (RESPONSE.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(RESPONSE);
    assert_eq!(feed_all(&mut p, Direction::ToClient, &framed).len(), 1);
    p.gap(Direction::ToClient, 10);
    assert!(feed_all(&mut p, Direction::ToClient, &framed).is_empty());
}

#[test]
fn detect_by_content_and_by_port() {
    let d = crate::detect(Transport::Udp, 40000, 5000, Direction::ToServer, QUERY);
    assert_eq!(d.map(|p| p.app_proto()), Some("dns"));
    let d = crate::detect(Transport::Udp, 40000, 53, Direction::ToServer, b"");
    assert_eq!(d.map(|p| p.app_proto()), Some("dns"));
    let d = crate::detect(
        Transport::Udp,
        40000,
        5000,
        Direction::ToServer,
        b"hello there!!",
    );
    assert!(d.is_none());
}

#[test]
fn txt_strings_become_separate_answers_and_grouped_items() {
    let msg = response_with(16, &[3, b'o', b'n', b'e', 3, b't', b'w', b'o']);
    let body = dns_body(&parse_message(&msg).expect("parses"), 7);
    assert_eq!(body["tx_id"], 7);
    assert_eq!(body["answers"][0]["rdata"], "one");
    assert_eq!(body["answers"][1]["rdata"], "two");
    assert_eq!(body["grouped"]["TXT"], json!(["one", "two"]));
}

#[test]
fn edns_options_are_logged_and_empty_opt_is_not() {
    // QUERY plus one additional: root OPT, udp size 1232, one option (code 10, 2 bytes).
    let mut m = QUERY.to_vec();
    m[11] = 1; // arcount
    m.extend_from_slice(&[0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x06]);
    m.extend_from_slice(&[0x00, 0x0a, 0x00, 0x02, 0xbe, 0xef]);
    let body = dns_body(&parse_message(&m).expect("parses"), 0);
    assert_eq!(
        body["additionals"],
        json!([{"rrname": "<root>", "rrtype": "OPT", "ttl": 0,
                "opt": [{"code": 10, "data": "beef"}]}])
    );
    let mut m = QUERY.to_vec();
    m[11] = 1;
    m.extend_from_slice(&[0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x00]);
    let body = dns_body(&parse_message(&m).expect("parses"), 0);
    assert!(body.get("additionals").is_none());
}

#[test]
fn version_2_log_splits_questions_and_filters_by_side_and_type() {
    use crate::dns::DnsLogConfig;
    let request = serde_json::json!({"version": 3, "type": "request", "id": 7, "tx_id": 0,
        "opcode": 0, "queries": [{"rrname": "a.example", "rrtype": "A"},
                                 {"rrname": "a.example", "rrtype": "MX"}]});
    let response = serde_json::json!({"version": 3, "type": "response", "id": 7, "rcode": "NOERROR",
        "queries": [{"rrname": "a.example", "rrtype": "A"}],
        "answers": [{"rrname": "a.example", "rrtype": "A", "ttl": 5, "rdata": "192.0.2.1"}]});
    let v2 = DnsLogConfig {
        version: 2,
        ..Default::default()
    };
    let q = v2.records(&request);
    assert_eq!(q.len(), 2);
    assert_eq!(q[1]["type"], "query");
    assert_eq!(q[1]["rrtype"], "MX");
    let a = v2.records(&response);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["type"], "answer");
    assert_eq!(a[0]["rrname"], "a.example");
    assert!(a[0].get("queries").is_none());
    let mx_responses = DnsLogConfig {
        version: 2,
        requests: false,
        types: Some(vec!["MX".into()]),
        ..Default::default()
    };
    assert!(mx_responses.records(&request).is_empty());
    assert!(mx_responses.records(&response).is_empty());
    let v3 = DnsLogConfig::default();
    assert_eq!(v3.records(&request), std::slice::from_ref(&request));
}
