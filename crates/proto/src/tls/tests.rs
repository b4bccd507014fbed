use serde_json::json;

use super::fingerprint::{is_grease, ja4_alpn, md5_hex};
use super::parser::*;
use super::*;
use crate::{AppEvent, AppParser, Direction};

/// A self-signed P-256 certificate made with
/// `openssl req -x509 -subj "/C=US/O=Picket Test/CN=test.example" -set_serial 0x00c0ffee01
///  -addext subjectAltName=DNS:test.example,DNS:www.test.example,IP:192.0.2.7`;
/// `openssl x509 -fingerprint -sha1` prints BE:65:3F:DC:82:3F:F6:30:F3:CA:CB:36:BA:57:76:36:C3:6C:CA:9E.
/// ```text
/// 0000  30 82 01 ed 30 82 01 93 a0 03 02 01 02 02 05 00   0...0...........
/// 0010  c0 ff ee 01 30 0a 06 08 ...                       ....0...
/// ```
pub(crate) const CERT_HEX: &str = "308201ed30820193a003020102020500c0ffee01300a06082a8648ce3d040302303a310b300906035504061302555331143012060355040a0c0b5069636b657420546573743115301306035504030c0c746573742e6578616d706c65301e170d3236313132373138333235315a170d3237313132373138333235315a303a310b300906035504061302555331143012060355040a0c0b5069636b657420546573743115301306035504030c0c746573742e6578616d706c653059301306072a8648ce3d020106082a8648ce3d030107034200044f0f58fd9440b07c56e2f4ebd5f9950eb7e221df22eaa2cd2aaa33b57991c85b4e9864e4c709f8c668995b058b90c80c571a1dd4bad2470a5253ed6f997bfae4a38185308182301d0603551d0e0416041498edeb4ee48c0e0c8700316dea8dc57496c1db27301f0603551d2304183016801498edeb4ee48c0e0c8700316dea8dc57496c1db27300f0603551d130101ff040530030101ff302f0603551d1104283026820c746573742e6578616d706c6582107777772e746573742e6578616d706c658704c0000207300a06082a8648ce3d040302034800304502202cb70bb77bf784a5c1a0777516549f709c028c4e5601dc23271746aef1a51b2a022100c8a95a442acef33d45018b92ff4a9b00f48b1b5ecca41ff3d847ad8c1c19814b";

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn with_len16(b: Vec<u8>) -> Vec<u8> {
    let mut o = (b.len() as u16).to_be_bytes().to_vec();
    o.extend(b);
    o
}

fn with_len8(b: Vec<u8>) -> Vec<u8> {
    let mut o = vec![b.len() as u8];
    o.extend(b);
    o
}

fn with_len24(b: Vec<u8>) -> Vec<u8> {
    let n = b.len() as u32;
    let mut o = n.to_be_bytes()[1..].to_vec();
    o.extend(b);
    o
}

fn handshake(t: u8, body: Vec<u8>) -> Vec<u8> {
    let mut o = vec![t];
    o.extend(with_len24(body));
    o
}

fn record(content_type: u8, frag: &[u8]) -> Vec<u8> {
    let mut o = vec![content_type, 0x03, 0x01];
    o.extend_from_slice(&(frag.len() as u16).to_be_bytes());
    o.extend_from_slice(frag);
    o
}

fn alpn_ext(names: &[&[u8]]) -> Vec<u8> {
    with_len16(names.iter().flat_map(|n| with_len8(n.to_vec())).collect())
}

/// Builds a ClientHello body: the extension list is given as (type, data) in wire order.
pub(crate) fn client_hello(version: u16, ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend([0x11; 32]); // random
    b.extend(with_len8(vec![0x22; 32])); // session id
    b.extend(with_len16(u16s(ciphers)));
    b.extend([1, 0]); // compression: null
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend(t.to_be_bytes());
        e.extend(with_len16(d.clone()));
    }
    if !exts.is_empty() {
        b.extend(with_len16(e));
    }
    b
}

pub(crate) fn server_hello(version: u16, cipher: u16, exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend([0x33; 32]);
    b.extend(with_len8(vec![0x22; 32]));
    b.extend(cipher.to_be_bytes());
    b.push(0);
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend(t.to_be_bytes());
        e.extend(with_len16(d.clone()));
    }
    b.extend(with_len16(e));
    b
}

/// The spec's worked example (JA4.md "Example"), with GREASE added the way Chrome sends it:
/// 15 ciphers and 16 extensions not counting GREASE, ALPN h2 first. The record starts:
/// ```text
/// 0000  16 03 01 01 xx 01 00 01 xx 03 03 11 11 11 11 11   ................
/// ```
pub(crate) fn spec_example_hello() -> Vec<u8> {
    let ciphers = [
        0x1a1a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
        0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let sni = with_len16({
        let mut v = vec![0];
        v.extend(with_len16(b"example.com".to_vec()));
        v
    });
    let sigalgs = with_len16(u16s(&[
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ]));
    let exts: Vec<(u16, Vec<u8>)> = vec![
        (0x2a2a, vec![]),
        (0x001b, vec![2, 0, 2]),
        (0x0000, sni),
        (0x0033, vec![0, 0]),
        (0x0010, alpn_ext(&[b"h2", b"http/1.1"])),
        (0x4469, vec![]),
        (0x0017, vec![]),
        (0x002d, vec![1, 1]),
        (0x000d, sigalgs),
        (0x0005, vec![1, 0, 0, 0, 0]),
        (0x0023, vec![]),
        (0x0012, vec![]),
        (0x002b, with_len8(u16s(&[0x3a3a, 0x0304, 0x0303]))),
        (0xff01, vec![0]),
        (0x000b, with_len8(vec![0])),
        (0x000a, with_len16(u16s(&[0x4a4a, 0x001d, 0x0017, 0x0018]))),
        (0x0015, vec![0; 7]),
        (0x5a5a, vec![0]),
    ];
    record(22, &handshake(1, client_hello(0x0303, &ciphers, &exts)))
}

pub(crate) fn tls13_server_flight() -> Vec<u8> {
    let sh = server_hello(
        0x0303,
        0x1301,
        &[(0x002b, vec![0x03, 0x04]), (0x0033, vec![0, 0x1d, 0, 0])],
    );
    let mut o = record(22, &handshake(2, sh));
    o.extend(record(20, &[1]));
    o.extend(record(23, &[0xaa; 40]));
    o
}

pub(crate) fn tls12_server_flight() -> Vec<u8> {
    let sh = server_hello(
        0x0303,
        0xc02f,
        &[
            (0xff01, vec![0]),
            (0x0010, alpn_ext(&[b"h2"])),
            (0x000b, vec![1, 0]),
        ],
    );
    let cert = unhex(CERT_HEX);
    let certmsg = with_len24(with_len24(cert));
    let mut hs = handshake(2, sh);
    hs.extend(handshake(11, certmsg));
    hs.extend(handshake(14, vec![]));
    record(22, &hs)
}

fn feed(p: &mut TlsParser, d: Direction, data: &[u8], out: &mut Vec<AppEvent>) {
    p.feed(d, data, out);
}

#[test]
fn spec_example_gives_the_spec_fingerprint() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    feed(&mut p, Direction::ToServer, &spec_example_hello(), &mut out);
    let ch = p.client_hello().expect("parsed");
    let j = ja4(ch, 't');
    assert_eq!(j.hash, "t13d1516h2_8daaf6152771_e5627efa2ab1");
    assert_eq!(
        j.raw,
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_\
         0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
         0403,0804,0401,0503,0805,0501,0806,0601"
    );
    assert_eq!(ch.sni.as_deref(), Some(&b"example.com"[..]));
    // The spec's "-o" example.
    assert_eq!(j.original, "t13d1516h2_acb858a92679_18f69afefd3d");
    assert_eq!(
        j.raw_original,
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_\
         001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_\
         0403,0804,0401,0503,0805,0501,0806,0601"
    );
}

#[test]
fn ja3_drops_grease_and_hashes_the_string() {
    let mut p = TlsParser::new();
    feed(
        &mut p,
        Direction::ToServer,
        &spec_example_hello(),
        &mut Vec::new(),
    );
    let s = ja3_string(p.client_hello().expect("parsed"));
    assert_eq!(
        s,
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
         27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0"
    );
    assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5_hex(&s).len(), 32);
}

#[test]
fn grease_values_are_exactly_the_rfc8701_set() {
    let all: Vec<u16> = (0..=0xffffu16).filter(|v| is_grease(*v)).collect();
    assert_eq!(all.len(), 16);
    assert!(all.iter().all(|v| v & 0x0f0f == 0x0a0a));
}

/// Follows the spec text, not FoxIO's code: non-alphanumeric first/last ALPN bytes print as
/// the first and last hex characters. FoxIO's ja4.py and Rust code print "99" for 0xBA 0xAD.
#[test]
fn non_ascii_alpn_uses_hex_first_and_last_chars_per_spec() {
    assert_eq!(ja4_alpn(Some(&[0xba, 0xad])), "bd");
    for (bytes, want) in [
        (&[0xab][..], "ab"),
        (&[0x20], "20"),
        (&[0xab, 0xcd], "ad"),
        (&[0x20, 0x61], "21"),
        (&[0x30, 0xab], "3b"),
        (&[0x61, 0x20], "60"),
        (&[0x30, 0x31, 0xab, 0xcd], "3d"),
        (&[0x30, 0xab, 0xcd, 0x31], "01"),
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"x", "xx"),
        (b"", "00"),
    ] {
        assert_eq!(ja4_alpn(Some(bytes)), want, "{bytes:02x?}");
    }
    assert_eq!(ja4_alpn(None), "00");
}

/// A ClientHello whose only extension is SNI: the sorted extension list (SNI and ALPN removed)
/// is empty, so per the spec JA4_c is "000000000000" (Suricata 7 hashes "_" instead).
#[test]
fn sni_only_hello_has_zero_extension_hash_per_spec() {
    let sni = with_len16({
        let mut v = vec![0];
        v.extend(with_len16(b"github.com".to_vec()));
        v
    });
    let body = client_hello(0x0301, &[0x0039, 0x0035, 0x00ff], &[(0x0000, sni)]);
    let ch = parse_client_hello(&body).expect("parses");
    let j = ja4(&ch, 't');
    assert_eq!(
        j.hash,
        format!("t10d030100_{}_000000000000", &j.hash[11..23])
    );
    assert!(j.raw.ends_with("_0035,0039,00ff_"), "{}", j.raw);
    // And no ciphers at all gives a zero cipher hash.
    let ch = parse_client_hello(&client_hello(0x0303, &[], &[])).expect("parses");
    assert_eq!(ja4(&ch, 't').hash, "t12i000000_000000000000_000000000000");
}

#[test]
fn byte_at_a_time_gives_the_same_events_as_whole_flights() {
    let client = spec_example_hello();
    let server = tls12_server_flight();
    let mut whole = TlsParser::new();
    let mut a = Vec::new();
    whole.feed(Direction::ToServer, &client, &mut a);
    whole.feed(Direction::ToClient, &server, &mut a);
    let mut bytewise = TlsParser::new();
    let mut b = Vec::new();
    for x in &client {
        bytewise.feed(Direction::ToServer, std::slice::from_ref(x), &mut b);
    }
    for x in &server {
        bytewise.feed(Direction::ToClient, std::slice::from_ref(x), &mut b);
    }
    assert_eq!(a.len(), 1);
    assert_eq!(a, b);
}

#[test]
fn handshake_split_across_records_is_reassembled() {
    let hs = handshake(1, parse_body_of(&spec_example_hello()));
    let (x, y) = hs.split_at(50);
    let mut data = record(22, x);
    data.extend(record(22, y));
    let mut p = TlsParser::new();
    p.feed(Direction::ToServer, &data, &mut Vec::new());
    assert_eq!(
        ja4(p.client_hello().expect("parsed"), 't').hash,
        "t13d1516h2_8daaf6152771_e5627efa2ab1"
    );
}

fn parse_body_of(rec: &[u8]) -> Vec<u8> {
    rec[9..].to_vec()
}

#[test]
fn tls12_flight_logs_certificate_and_fingerprints() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    assert!(out.is_empty(), "nothing logged before the server answers");
    p.feed(Direction::ToClient, &tls12_server_flight(), &mut out);
    assert_eq!(out.len(), 1);
    let b = &out[0].body;
    assert_eq!(b["sni"], "example.com");
    assert_eq!(b["version"], "TLS 1.2");
    assert_eq!(b["subject"], "C=US, O=Picket Test, CN=test.example");
    assert_eq!(b["issuerdn"], "C=US, O=Picket Test, CN=test.example");
    assert_eq!(b["serial"], "00:C0:FF:EE:01");
    assert_eq!(
        b["fingerprint"],
        "be:65:3f:dc:82:3f:f6:30:f3:ca:cb:36:ba:57:76:36:c3:6c:ca:9e"
    );
    assert_eq!(b["notbefore"], "2026-11-27T18:32:51");
    assert_eq!(b["notafter"], "2027-11-27T18:32:51");
    assert_eq!(
        b["subjectaltname"],
        json!(["test.example", "www.test.example", "192.0.2.7"])
    );
    assert_eq!(b["ja4"], "t13d1516h2_8daaf6152771_e5627efa2ab1");
    assert_eq!(b["client_alpns"], json!(["h2", "http/1.1"]));
    assert_eq!(b["server_alpns"], json!(["h2"]));
    assert_eq!(b["ja3s"]["string"], "771,49199,65281-16-11");
    assert_eq!(b["ja3s"]["hash"], md5_hex("771,49199,65281-16-11"));
    // Later encrypted records do not log again.
    p.feed(Direction::ToClient, &record(23, &[1; 20]), &mut out);
    p.finish(&mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn tls13_logs_at_server_hello_and_ignores_dummy_ccs() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    // Middlebox-compatibility CCS from the client must not end client-side parsing.
    p.feed(Direction::ToServer, &record(20, &[1]), &mut out);
    p.feed(Direction::ToClient, &tls13_server_flight(), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].body["version"], "TLS 1.3");
    assert!(out[0].body.get("subject").is_none());
}

#[test]
fn encrypted_per_side_once_its_handshake_is_done() {
    // TLS 1.2: each side turns encrypted at its own ChangeCipherSpec.
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    p.feed(Direction::ToClient, &tls12_server_flight(), &mut out);
    assert!(!p.encrypted(Direction::ToServer) && !p.encrypted(Direction::ToClient));
    p.feed(Direction::ToServer, &record(20, &[1]), &mut out);
    assert!(p.encrypted(Direction::ToServer), "client past its CCS");
    assert!(
        !p.encrypted(Direction::ToClient),
        "server still in the clear"
    );
    p.feed(Direction::ToClient, &record(20, &[1]), &mut out);
    assert!(p.encrypted(Direction::ToClient));

    // TLS 1.3: the server side right after its ServerHello; the client's dummy CCS does not
    // count, its first encrypted record (type 23, its Finished) does.
    let mut p = TlsParser::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    p.feed(Direction::ToServer, &record(20, &[1]), &mut out);
    p.feed(Direction::ToClient, &tls13_server_flight(), &mut out);
    assert!(p.encrypted(Direction::ToClient));
    assert!(!p.encrypted(Direction::ToServer));
    p.feed(Direction::ToServer, &record(23, &[7; 40]), &mut out);
    assert!(p.encrypted(Direction::ToServer));

    // Bytes that are not TLS never count as encrypted: content rules keep seeing them.
    let mut p = TlsParser::new();
    p.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    assert!(!p.encrypted(Direction::ToServer));
}

#[test]
fn hello_retry_request_keeps_the_second_client_hello() {
    let hrr_random: [u8; 32] = [
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8,
        0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8,
        0x33, 0x9c,
    ];
    let mut hrr = server_hello(0x0303, 0x1301, &[(0x002b, vec![3, 4])]);
    hrr[2..34].copy_from_slice(&hrr_random);
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    p.feed(
        Direction::ToClient,
        &record(22, &handshake(2, hrr)),
        &mut out,
    );
    assert!(out.is_empty());
    p.feed(Direction::ToServer, &record(20, &[1]), &mut out);
    let second = client_hello(0x0303, &[0x1301], &[(0x002b, with_len8(vec![3, 4]))]);
    p.feed(
        Direction::ToServer,
        &record(22, &handshake(1, second)),
        &mut out,
    );
    assert_eq!(p.client_hellos().len(), 2);
    assert!(p.handshake().hello_retry);
}

#[test]
fn resumed_session_is_flagged() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    let sh = server_hello(0x0303, 0xc02f, &[]);
    let mut flight = record(22, &handshake(2, sh));
    flight.extend(record(20, &[1]));
    p.feed(Direction::ToClient, &flight, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].body["session_resumed"], true);
}

#[test]
fn non_tls_bytes_stop_the_direction_without_events() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    p.finish(&mut out);
    assert!(out.is_empty());
    assert_eq!(p.stats.malformed, 1);
}

#[test]
fn truncated_and_lying_hellos_are_malformed_not_panics() {
    let rec = spec_example_hello();
    let body = parse_body_of(&rec);
    for cut in [0, 1, 2, 34, 35, 60, body.len() - 1] {
        assert!(parse_client_hello(&body[..cut]).is_err(), "cut {cut}");
    }
    // Extension length larger than the extension block.
    let mut bad = client_hello(0x0303, &[0x1301], &[(0x0000, vec![0, 1])]);
    let n = bad.len();
    bad[n - 3] = 9;
    assert!(matches!(
        parse_client_hello(&bad),
        Err(crate::ParseError::Malformed { .. })
    ));
}

#[test]
fn oversized_handshake_message_stops_the_direction() {
    // A handshake header claiming 1 MiB.
    let mut p = TlsParser::new();
    p.feed(
        Direction::ToServer,
        &record(22, &[1, 0x10, 0x00, 0x00, 3, 3]),
        &mut Vec::new(),
    );
    assert_eq!(p.stats.too_large, 1);
    // A record longer than TLS allows is rejected at the header.
    assert!(parse_record_header(&[22, 3, 3, 0x48, 0x01]).is_err());
}

#[test]
fn certificate_parser_rejects_garbage() {
    let cert = unhex(CERT_HEX);
    for cut in [0, 1, 4, 30, 200, cert.len() - 100] {
        assert!(x509::parse_certificate(&cert[..cut]).is_err(), "cut {cut}");
    }
    assert!(x509::parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn detect_picks_tls_by_record_header_then_port() {
    let d = crate::detect(
        crate::Transport::Tcp,
        50000,
        8080,
        Direction::ToServer,
        &spec_example_hello(),
    );
    assert_eq!(d.map(|p| p.app_proto()), Some("tls"));
    let d = crate::detect(crate::Transport::Tcp, 50000, 443, Direction::ToServer, b"");
    assert_eq!(d.map(|p| p.app_proto()), Some("tls"));
}

#[test]
fn early_tls13_draft_server_hello_has_no_session_id_or_compression() {
    // draft-18: version 0x7f12, random, cipher TLS_AES_128_GCM_SHA256, one extension.
    let mut body = vec![0x7f, 0x12];
    body.extend([7u8; 32]);
    body.extend([0x13, 0x01]);
    body.extend(with_len16(vec![0x00, 0x28, 0x00, 0x00]));
    let sh = parse_server_hello(&body).expect("draft server hello parses");
    assert_eq!(sh.cipher, 0x1301);
    assert_eq!(sh.extensions, vec![0x28]);
    assert_eq!(logger::version_name(sh.version()), "TLS 1.3 draft-18");
}

#[test]
fn version_names_follow_suricata() {
    use logger::version_name;
    assert_eq!(version_name(0x7f0e), "TLS 1.3 draft-<16");
    assert_eq!(version_name(0x7f1c), "TLS 1.3 draft-28");
    assert_eq!(version_name(0xfb17), "TLS 1.3 draft-23-fb");
    assert_eq!(version_name(0x1234), "4660");
    assert_eq!(version_name(0), "UNDETERMINED");
}

#[test]
fn pre_draft16_server_hello_writes_0x0304_in_the_draft_layout() {
    let mut body = vec![0x03, 0x04];
    body.extend([9u8; 32]);
    body.extend([0xc0, 0x2b]);
    body.extend(with_len16(vec![]));
    let sh = parse_server_hello(&body).expect("pre-draft-16 server hello parses");
    assert_eq!(sh.cipher, 0xc02b);
    assert_eq!(logger::version_name(sh.version()), "TLS 1.3 draft-<16");
    assert!(is_tls13(sh.version()));
}

#[test]
fn handshake_buffers_hold_randoms_and_certificates_until_inspected() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    p.feed(Direction::ToClient, &tls12_server_flight(), &mut out);
    assert_eq!(out.len(), 1);
    let mut bufs = Vec::new();
    p.detect_buffers(None, &mut bufs);
    let get = |name: &str| -> Vec<Vec<u8>> {
        bufs.iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, b)| b.to_vec())
            .collect()
    };
    assert_eq!(get("tls.random.client"), [vec![0x11; 32]]);
    assert_eq!(get("tls.random.server"), [vec![0x33; 32]]);
    assert_eq!(get("tls.certs.server"), [unhex(CERT_HEX)]);
    assert!(get("tls.certs.client").is_empty());
    drop(bufs);
    // Once the logged record was inspected, the next bytes free the certificates.
    p.feed(Direction::ToClient, &record(23, &[1; 20]), &mut out);
    let mut bufs = Vec::new();
    p.detect_buffers(None, &mut bufs);
    assert!(!bufs.iter().any(|(n, _)| n.starts_with("tls.certs")));
}

#[test]
fn certificate_request_waits_for_the_client_certificate() {
    let mut p = TlsParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &spec_example_hello(), &mut out);
    let sh = server_hello(0x0303, 0xc02f, &[(0xff01, vec![0])]);
    let mut hs = handshake(2, sh);
    hs.extend(handshake(11, with_len24(with_len24(unhex(CERT_HEX)))));
    // CertificateRequest: certificate types, signature algorithms, no CA names.
    hs.extend(handshake(13, vec![1, 1, 0, 2, 4, 1, 0, 0]));
    hs.extend(handshake(14, vec![]));
    p.feed(Direction::ToClient, &record(22, &hs), &mut out);
    assert!(
        out.is_empty(),
        "the handshake is not over before the client's certificate"
    );
    let client = handshake(11, with_len24(with_len24(unhex(CERT_HEX))));
    p.feed(Direction::ToServer, &record(22, &client), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(p.handshake().client_cert_count, 1);
    let mut bufs = Vec::new();
    p.detect_buffers(None, &mut bufs);
    assert!(bufs
        .iter()
        .any(|(n, b)| *n == "tls.client.subject" && *b == b"C=US, O=Picket Test, CN=test.example"));
    assert_eq!(p.parse_errors(), 0);
}
