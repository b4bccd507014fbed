use serde_json::json;

use super::parser::*;
use super::*;
use crate::{AppEvent, AppParser, Direction, ParseError, Transport};

const CLIENT_BANNER: &[u8] = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n";
/// A server that talks before its banner (allowed by RFC 4253 section 4.2).
const SERVER_BANNER: &[u8] = b"Welcome\r\nSSH-2.0-dropbear_2022.83\r\n";

/// Builds an unencrypted binary packet carrying a KEXINIT with the given ten name-lists.
/// The start of the client's packet:
/// ```text
/// 0000  00 00 00 dc 08 14 00 01 02 03 04 05 06 07 08 09   ................
/// 0010  0a 0b 0c 0d 0e 0f 00 00 00 24 63 75 72 76 65 32   .........$curve2
/// ```
pub(crate) fn kexinit_packet(lists: [&str; 10]) -> Vec<u8> {
    let mut payload = vec![MSG_KEXINIT];
    payload.extend(0u8..16); // cookie
    for l in lists {
        payload.extend((l.len() as u32).to_be_bytes());
        payload.extend(l.as_bytes());
    }
    payload.extend([0, 0, 0, 0, 0]); // first_kex_packet_follows, reserved
    let pad = 8 - (payload.len() + 5) % 8;
    let pad = if pad < 4 { pad + 8 } else { pad };
    let len = (1 + payload.len() + pad) as u32;
    let mut p = len.to_be_bytes().to_vec();
    p.push(pad as u8);
    p.extend(payload);
    p.extend(std::iter::repeat_n(0u8, pad));
    p
}

pub(crate) fn client_flight() -> Vec<u8> {
    let mut v = CLIENT_BANNER.to_vec();
    v.extend(kexinit_packet([
        "curve25519-sha256,ecdh-sha2-nistp256",
        "ssh-ed25519",
        "chacha20-poly1305@openssh.com,aes128-ctr",
        "chacha20-poly1305@openssh.com,aes128-ctr",
        "umac-64-etm@openssh.com,hmac-sha2-256",
        "umac-64-etm@openssh.com,hmac-sha2-256",
        "none,zlib@openssh.com",
        "none,zlib@openssh.com",
        "",
        "",
    ]));
    v
}

pub(crate) fn server_flight() -> Vec<u8> {
    let mut v = SERVER_BANNER.to_vec();
    v.extend(kexinit_packet([
        "curve25519-sha256,ecdh-sha2-nistp256",
        "ssh-ed25519,rsa-sha2-256",
        "aes128-ctr",
        "aes128-ctr,aes256-gcm@openssh.com",
        "hmac-sha2-256",
        "hmac-sha2-512",
        "none",
        "none",
        "",
        "",
    ]));
    // Key exchange continues; the parser must ignore what follows KEXINIT.
    v.extend([0, 0, 0, 12, 10, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    v
}

fn run(client: &[u8], server: &[u8]) -> (SshParser, Vec<AppEvent>) {
    let mut p = SshParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, client, &mut out);
    p.feed(Direction::ToClient, server, &mut out);
    (p, out)
}

#[test]
fn banner_splits_proto_software_and_comments() {
    let (b, used) = parse_line(CLIENT_BANNER).expect("parses");
    assert_eq!(used, CLIENT_BANNER.len());
    assert_eq!(
        b,
        Some(Banner {
            proto_version: "2.0".into(),
            software_version: "OpenSSH_8.9p1".into(),
            comments: Some("Ubuntu-3ubuntu0.6".into()),
        })
    );
    assert_eq!(
        parse_line(b"SSH-2.0-x"),
        Err(ParseError::Incomplete { needed: 1 })
    );
    assert!(parse_line(b"SSH-2.0\r\n").is_err());
}

#[test]
fn hassh_and_hassh_server_match_the_public_definition() {
    let (p, out) = run(&client_flight(), &server_flight());
    let c = p.hassh().expect("client kexinit");
    assert_eq!(
        c.string,
        "curve25519-sha256,ecdh-sha2-nistp256;chacha20-poly1305@openssh.com,aes128-ctr;\
         umac-64-etm@openssh.com,hmac-sha2-256;none,zlib@openssh.com"
    );
    // md5 computed independently (Python hashlib) from the string above.
    assert_eq!(c.hash, "ac29ecc577efbcf842470d0d7a1c9800");
    let s = p.hassh_server().expect("server kexinit");
    assert_eq!(
        s.string,
        "curve25519-sha256,ecdh-sha2-nistp256;aes128-ctr,aes256-gcm@openssh.com;hmac-sha2-512;none"
    );
    assert_eq!(s.hash, "f1c5692a8c948fff391d6afecff6e564");
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].body,
        json!({
            "client": {"proto_version": "2.0", "software_version": "OpenSSH_8.9p1",
                       "hassh": {"hash": c.hash, "string": c.string}},
            "server": {"proto_version": "2.0", "software_version": "dropbear_2022.83",
                       "hassh": {"hash": s.hash, "string": s.string}},
        })
    );
}

#[test]
fn byte_at_a_time_matches_whole_flights() {
    let (_, a) = run(&client_flight(), &server_flight());
    let mut p = SshParser::new();
    let mut b = Vec::new();
    for x in client_flight() {
        p.feed(Direction::ToServer, &[x], &mut b);
    }
    for x in server_flight() {
        p.feed(Direction::ToClient, &[x], &mut b);
    }
    assert_eq!(a, b);
}

#[test]
fn ssh1_has_banner_but_no_hassh() {
    let (p, mut out) = run(b"SSH-1.5-1.2.27\n", b"SSH-1.5-1.2.27\n\x00\x00\x01\x04");
    assert!(p.hassh().is_none());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].body["server"]["proto_version"], "1.5");
    let mut p2 = SshParser::new();
    p2.feed(Direction::ToServer, b"SSH-2.0-x\r\n", &mut out);
    p2.finish(&mut out);
    assert_eq!(out.len(), 2, "finish logs a half-seen handshake");
}

#[test]
fn limits_stop_a_side_without_panicking() {
    // A banner line that never ends.
    let mut p = SshParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, &[b'A'; MAX_LINE + 10], &mut out);
    assert_eq!(p.stats.malformed, 1);
    // Too many lines before the banner.
    let mut p = SshParser::new();
    p.feed(
        Direction::ToClient,
        &b"hi\n".repeat(MAX_PRE_BANNER_LINES + 1),
        &mut out,
    );
    assert_eq!(p.stats.malformed, 1);
    // A packet claiming 1 MB.
    assert_eq!(
        parse_packet(&[0x00, 0x10, 0x00, 0x00, 4]),
        Err(ParseError::Limit {
            what: "ssh packet length"
        })
    );
    // Padding longer than the packet.
    assert!(matches!(
        parse_packet(&[0, 0, 0, 4, 9, 20, 0, 0]),
        Err(ParseError::Malformed { .. })
    ));
    // A KEXINIT whose name-list length runs past its end.
    let mut k = vec![0u8; 16];
    k.extend([0, 0, 1, 0, b'a']);
    assert!(matches!(
        parse_kexinit(&k),
        Err(ParseError::Malformed { .. })
    ));
}

#[test]
fn gap_stops_the_side() {
    let mut p = SshParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, CLIENT_BANNER, &mut out);
    p.gap(Direction::ToServer, 100);
    p.feed(
        Direction::ToServer,
        &client_flight()[CLIENT_BANNER.len()..],
        &mut out,
    );
    assert!(p.hassh().is_none());
    assert_eq!(p.stats.gaps, 1);
}

#[test]
fn detect_by_banner_either_side_and_by_port() {
    let d = crate::detect(
        Transport::Tcp,
        40000,
        2200,
        Direction::ToServer,
        CLIENT_BANNER,
    );
    assert_eq!(d.map(|p| p.app_proto()), Some("ssh"));
    let d = crate::detect(
        Transport::Tcp,
        2200,
        40000,
        Direction::ToClient,
        b"SSH-2.0-x\r\n",
    );
    assert_eq!(d.map(|p| p.app_proto()), Some("ssh"));
    let d = crate::detect(Transport::Tcp, 40000, 22, Direction::ToServer, b"");
    assert_eq!(d.map(|p| p.app_proto()), Some("ssh"));
}

/// An unencrypted binary packet with the given payload (message type first) and 4 bytes of
/// padding.
fn packet(payload: &[u8]) -> Vec<u8> {
    let len = (1 + payload.len() + 4) as u32;
    let mut p = len.to_be_bytes().to_vec();
    p.push(4);
    p.extend(payload);
    p.extend([0; 4]);
    p
}

#[test]
fn encrypted_per_side_after_its_newkeys() {
    let (mut p, out) = run(&client_flight(), &server_flight());
    assert_eq!(out.len(), 1, "logged at KEXINIT, not held until NEWKEYS");
    assert!(!p.encrypted(Direction::ToServer) && !p.encrypted(Direction::ToClient));
    let mut out = Vec::new();
    // ECDH init, then NEWKEYS and ciphertext in the same segment.
    let mut client = packet(&[30, 0, 0, 0, 4, 1, 2, 3, 4]);
    client.extend(packet(&[MSG_NEWKEYS]));
    client.extend([0xde; 64]);
    p.feed(Direction::ToServer, &client, &mut out);
    assert!(p.encrypted(Direction::ToServer));
    assert!(
        !p.encrypted(Direction::ToClient),
        "the server has not sent NEWKEYS"
    );
    // The server's side, one byte at a time (its flight ended mid-packet).
    let mut server = packet(&[31; 40]);
    server.extend(packet(&[MSG_NEWKEYS]));
    let mut fresh = SshParser::new();
    for x in server_flight()[..server_flight().len() - 2]
        .iter()
        .chain(&server)
    {
        fresh.feed(Direction::ToClient, &[*x], &mut out);
    }
    assert!(fresh.encrypted(Direction::ToClient));
    assert!(out.is_empty(), "the client never spoke: nothing to log yet");
}

#[test]
fn a_broken_key_exchange_is_not_called_encrypted() {
    let (mut p, _) = run(&client_flight(), &server_flight());
    let mut out = Vec::new();
    // A packet claiming 1 MB stops the side; its bytes stay open to content rules.
    p.feed(
        Direction::ToServer,
        &[0x00, 0x10, 0x00, 0x00, 4, 21],
        &mut out,
    );
    p.feed(Direction::ToServer, &packet(&[MSG_NEWKEYS]), &mut out);
    assert!(!p.encrypted(Direction::ToServer));
    assert_eq!(p.stats.malformed, 1);
}
