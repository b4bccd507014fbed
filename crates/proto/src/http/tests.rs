use serde_json::json;

use super::parser::*;
use super::*;
use crate::{AppEvent, AppParser, Direction, ParseError, Stage, Transport};

/// Two pipelined requests in one segment:
/// ```text
/// 0000  47 45 54 20 2f 61 20 48 54 54 50 2f 31 2e 31 0d   GET /a HTTP/1.1.
/// 0010  0a 48 6f 73 74 3a 20 65 78 61 6d 70 6c 65 2e 63   .Host: example.c
/// ```
pub(crate) const REQUESTS: &[u8] = b"GET /a HTTP/1.1\r\nHost: example.com:8080\r\n\
User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n\
POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\
Referer: http://example.com/a\r\n\r\nhello world";

/// Their responses: a length-delimited HTML page, then a chunked JSON body ("hello" + " json").
pub(crate) const RESPONSES: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
Content-Length: 5\r\n\r\n<p/>\n\
HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\
Location: /upload/1\r\n\r\n5\r\nhello\r\n5;ext=1\r\n json\r\n0\r\nX-Trailer: 1\r\n\r\n";

fn run(p: &mut HttpParser, client: &[u8], server: &[u8]) -> Vec<AppEvent> {
    let mut out = Vec::new();
    p.feed(Direction::ToServer, client, &mut out);
    p.feed(Direction::ToClient, server, &mut out);
    out
}

#[test]
fn pipelined_requests_pair_with_responses_in_order() {
    let mut p = HttpParser::new();
    let ev = run(&mut p, REQUESTS, RESPONSES);
    assert_eq!(ev.len(), 2);
    let a = &ev[0].body;
    assert_eq!(a["hostname"], "example.com");
    assert_eq!(a["http_port"], 8080);
    assert_eq!(a["url"], "/a");
    assert_eq!(a["http_user_agent"], "curl/8.5.0");
    assert_eq!(a["http_method"], "GET");
    assert_eq!(a["protocol"], "HTTP/1.1");
    assert_eq!(a["status"], 200);
    assert_eq!(a["http_content_type"], "text/html");
    assert_eq!(a["length"], 5);
    assert_eq!(
        a["request_headers"][1],
        json!({"name": "User-Agent", "value": "curl/8.5.0"})
    );
    let b = &ev[1].body;
    assert_eq!(b["url"], "/upload");
    assert_eq!(b["http_method"], "POST");
    assert_eq!(b["status"], 201);
    assert_eq!(b["redirect"], "/upload/1");
    assert_eq!(b["http_refer"], "http://example.com/a");
    assert_eq!(b["length"], 10);
    let tx = p.last_transaction().expect("kept");
    assert_eq!(tx.request_body, b"hello world");
    assert_eq!(tx.response_body, b"hello json");
}

#[test]
fn byte_at_a_time_matches_whole_segments() {
    let mut whole = HttpParser::new();
    let a = run(&mut whole, REQUESTS, RESPONSES);
    let mut p = HttpParser::new();
    let mut b = Vec::new();
    for x in REQUESTS {
        p.feed(Direction::ToServer, std::slice::from_ref(x), &mut b);
    }
    for x in RESPONSES {
        p.feed(Direction::ToClient, std::slice::from_ref(x), &mut b);
    }
    assert_eq!(a, b);
    assert_eq!(
        p.last_transaction().map(|t| t.response_body.clone()),
        Some(b"hello json".to_vec())
    );
}

#[test]
fn body_prefix_is_capped_but_length_is_counted() {
    let cfg = HttpConfig {
        body_limit: 4,
        log_bodies: true,
        ..Default::default()
    };
    let mut p = HttpParser::with_config(cfg);
    let ev = run(
        &mut p,
        b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\n0123456789",
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    );
    let tx = p.last_transaction().expect("kept");
    assert_eq!(tx.request_body, b"0123");
    assert_eq!(tx.request_body_len, 10);
    assert_eq!(ev[0].body["http_request_body"], "MDEyMw==");
    assert_eq!(ev[0].body["http_response_body_printable"], "abc");
}

#[test]
fn head_response_has_no_body_and_interim_responses_are_skipped() {
    let mut p = HttpParser::new();
    let ev = run(
        &mut p,
        b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
    );
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].body["url"], "/x");
    assert_eq!(ev[0].body["length"], 0);
    assert_eq!(ev[1].body["url"], "/y");
    assert_eq!(ev[1].body["status"], 404);
}

#[test]
fn header_count_and_size_limits_hold() {
    let cfg = HttpConfig {
        max_headers: 3,
        max_head: 200,
        ..Default::default()
    };
    let mut p = HttpParser::with_config(cfg.clone());
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..6 {
        req.extend(format!("X-{i}: v\r\n").as_bytes());
    }
    req.extend(b"\r\n");
    p.feed(Direction::ToServer, &req, &mut Vec::new());
    let mut out = Vec::new();
    p.finish(&mut out);
    assert_eq!(
        out[0].body["request_headers"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(p.stats.headers_dropped, 3);

    let mut p = HttpParser::with_config(cfg);
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(vec![b'a'; 300]);
    p.feed(Direction::ToServer, &big, &mut Vec::new());
    assert_eq!(p.stats.head_too_large, 1);
    assert_eq!(
        parse_head(&big, 200, 10).map(|_| ()),
        Err(ParseError::Limit {
            what: "http header block size"
        })
    );
}

#[test]
fn finish_logs_unanswered_requests_and_close_delimited_responses() {
    let mut p = HttpParser::new();
    let mut out = run(
        &mut p,
        b"GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    );
    assert!(out.is_empty());
    p.finish(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].body["length"], 11);
    assert!(out[1].body.get("status").is_none());
}

#[test]
fn malformed_input_stops_a_side_without_panicking() {
    let mut p = HttpParser::new();
    let ev = run(
        &mut p,
        b"GET / HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert!(ev.is_empty());
    assert_eq!(p.stats.malformed, 1);
    let mut p = HttpParser::new();
    p.feed(
        Direction::ToClient,
        b"\x16\x03\x01\x00\x05hello\r\n\r\n",
        &mut Vec::new(),
    );
    assert_eq!(p.stats.malformed, 1);
    assert!(parse_chunk_size(b"fffffffffffffffffff\r\n").is_err());
}

#[test]
fn upgrade_stops_parsing_both_sides() {
    let mut p = HttpParser::new();
    let ev = run(
        &mut p,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello",
    );
    assert_eq!(ev.len(), 1);
    let mut out = Vec::new();
    p.feed(
        Direction::ToServer,
        b"GET /not-http HTTP/1.1\r\n\r\n",
        &mut out,
    );
    p.finish(&mut out);
    assert!(out.is_empty());
}

#[test]
fn gap_inside_a_known_length_body_keeps_sync() {
    let mut p = HttpParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    p.feed(
        Direction::ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
        &mut out,
    );
    p.gap(Direction::ToClient, 5);
    p.feed(Direction::ToClient, b"xyz", &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].body["length"], 10);
}

#[test]
fn detect_http_by_method_or_status_line_then_port() {
    let d = crate::detect(Transport::Tcp, 40000, 9999, Direction::ToServer, REQUESTS);
    assert_eq!(d.map(|p| p.app_proto()), Some("http"));
    let d = crate::detect(Transport::Tcp, 9999, 40000, Direction::ToClient, RESPONSES);
    assert_eq!(d.map(|p| p.app_proto()), Some("http"));
    let d = crate::detect(Transport::Tcp, 40000, 80, Direction::ToServer, b"");
    assert_eq!(d.map(|p| p.app_proto()), Some("http"));
    assert!(!looks_like_request(b"GETX / HTTP/1.1"));
}

#[test]
fn blank_line_flood_and_slow_heads_stay_bounded() {
    let mut p = HttpParser::new();
    let mut out = Vec::new();
    for _ in 0..100_000 {
        p.feed(Direction::ToServer, b"\r\n", &mut out);
    }
    assert_eq!(p.buffered(), 0);
    // A 57 KB head fed a byte at a time is scanned incrementally and still parses.
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..2500 {
        head.extend(format!("X-Pad-{i:05}: {}\r\n", "v".repeat(8)).as_bytes());
    }
    head.extend(b"\r\n");
    assert!(head.len() < HttpConfig::default().max_head);
    let started = std::time::Instant::now();
    for b in &head {
        p.feed(Direction::ToServer, std::slice::from_ref(b), &mut out);
    }
    p.finish(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(p.stats.headers_dropped, 2400);
    // Quadratic rescanning would take minutes here; linear takes milliseconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn status_line_is_not_a_request_line() {
    assert!(parse_request_line(b"HTTP/1.1 200 OK").is_err());
    assert!(parse_request_line(b"GET / HTTP/1.1").is_ok());
}

#[cfg(feature = "ja4plus")]
#[test]
fn ja4h_counts_headers_without_cookie_and_referer_and_sorts_cookies_by_name() {
    let req = b"GET /p HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\nCookie: b-x=2; b=1; a=3\r\n\
Referer: http://r/\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n";
    let mut p = HttpParser::new();
    let mut out = Vec::new();
    p.feed(Direction::ToServer, req, &mut out);
    p.finish(&mut out);
    let r = p
        .last_transaction()
        .and_then(|t| t.request.as_ref())
        .expect("request");
    let j = super::fingerprint::ja4h(r);
    assert!(j.hash.starts_with("ge11cr03enus_"), "{}", j.hash);
    assert_eq!(
        j.raw_original,
        "ge11cr03enus_Host,User-Agent,Accept-Language_b-x,b,a_b-x=2,b=1,a=3"
    );
    // No cookies: the raw form ends after the header list.
    let mut p = HttpParser::new();
    p.feed(
        Direction::ToServer,
        b"HEAD / HTTP/1.0\r\nHost: h\r\n\r\n",
        &mut out,
    );
    p.finish(&mut out);
    let r = p
        .last_transaction()
        .and_then(|t| t.request.as_ref())
        .expect("request");
    let j = super::fingerprint::ja4h(r);
    assert_eq!(j.raw_original, "he10nn010000_Host_");
    assert!(j.hash.ends_with("_000000000000_000000000000"));
}

#[test]
fn a_complete_request_is_offered_once_before_its_response() {
    let mut p = HttpParser::new();
    let mut out = Vec::new();
    p.feed(
        Direction::ToServer,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel",
        &mut out,
    );
    assert!(out.is_empty());
    // Responses are not offered early, and a request still missing body bytes is not either.
    p.progress(Direction::ToClient, &mut out);
    assert!(out.is_empty());
    p.progress(Direction::ToServer, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].stage, Stage::Request);
    assert!(!out[0].logged());
    assert_eq!(out[0].tx_id, Some(0));
    assert_eq!(out[0].body["url"], "/a");
    out.clear();
    p.feed(Direction::ToServer, b"lo", &mut out);
    p.progress(Direction::ToServer, &mut out);
    p.progress(Direction::ToServer, &mut out);
    assert_eq!(out.len(), 1, "each request is offered once");
    assert_eq!((out[0].tx_id, &out[0].body["url"]), (Some(1), &json!("/b")));
    // The snapshot's own body is found by its id while the transaction is pending.
    let mut bufs = Vec::new();
    p.detect_buffers(Some(1), &mut bufs);
    assert!(bufs.contains(&("http.request_body", &b"hello"[..])));
    out.clear();
    // The partial response shows in a snapshot taken later; the finished records carry
    // Stage::Response (request already inspected) and their ids.
    p.feed(
        Direction::ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].stage, Stage::Response);
    assert_eq!(out[0].tx_id, Some(0));
    assert_eq!(out[0].body["status"], 200);
    out.clear();
    // A request never offered (the flow ended first) is logged whole.
    p.feed(Direction::ToServer, b"GET /c HTTP/1.1\r\n\r\n", &mut out);
    p.finish(&mut out);
    let stages: Vec<_> = out.iter().map(|e| (e.tx_id, e.stage)).collect();
    assert_eq!(
        stages,
        [(Some(1), Stage::Response), (Some(2), Stage::Whole)]
    );
}
