//! Rule syntax, feature by feature, and every error class with the line:column it reports.

use picket_nids::buffers::PAYLOAD;
use picket_nids::keywords::{FastPattern, FlowbitCmd, NumCmp, Track, Value};
use picket_nids::{
    parse_line, Action, AddressExpr, Classifications, Direction, ErrorKind, HeaderCheck,
    LoadOptions, Match, PortExpr, Position, Rule, Ruleset,
};

const H: &str = "alert tcp $HOME_NET any -> $EXTERNAL_NET 80";

fn ok(opts: &str) -> Rule {
    let text = format!("{H} ({opts})");
    match parse_line(&text) {
        Ok(r) => {
            // every rule that parses renders back to an equal rule
            let again = parse_line(&r.to_string()).expect("rendered rule parses");
            assert_eq!(again, r, "round trip of {text}\nrendered {r}");
            r
        }
        Err(e) => panic!("{text}: {e}"),
    }
}

/// Parses `text` (one line) and returns (keyword, column, kind) of the error.
fn fails(text: &str) -> (String, u32, ErrorKind) {
    match parse_line(text) {
        Ok(r) => panic!("expected an error for {text}, parsed {r:?}"),
        Err(e) => {
            assert_eq!(e.position.line, 1);
            (e.keyword, e.position.column, e.kind)
        }
    }
}

fn col(text: &str, needle: &str) -> u32 {
    text.find(needle).expect("needle") as u32 + 1
}

fn content(r: &Rule, i: usize) -> (&'static str, picket_nids::keywords::Content) {
    let (b, c) = r.contents().nth(i).expect("content");
    (b, c.clone())
}

#[test]
fn header_fields() {
    let r = parse_line("drop udp [10.0.0.0/8,!10.1.0.0/16] [1024:,!2000] <> any :1023 (sid:1;)")
        .unwrap();
    assert_eq!(r.header.action, Action::Drop);
    assert_eq!(r.header.protocol.name, "udp");
    assert_eq!(r.header.direction, Direction::Both);
    assert!(matches!(&*r.header.src, AddressExpr::Group(g) if g.len() == 2));
    assert_eq!(*r.header.dst_ports, PortExpr::Range(None, Some(1023)));
    for a in [
        "alert",
        "pass",
        "drop",
        "reject",
        "rejectsrc",
        "rejectdst",
        "rejectboth",
    ] {
        assert!(
            parse_line(&format!("{a} ip any any -> any any (sid:1;)")).is_ok(),
            "{a}"
        );
    }
    for p in [
        "http", "dns", "tls", "ssh", "smb", "ftp", "smtp", "icmp", "tcp-pkt", "http2",
    ] {
        let r = parse_line(&format!("alert {p} any any -> any any (sid:1;)")).unwrap();
        assert_eq!(r.header.protocol.name, p);
    }
    let r = parse_line("alert http any any => any any (sid:1;)").unwrap();
    assert_eq!(r.header.direction, Direction::Transactional);
    let r = parse_line("alert ip [2001:db8::/32, ::1] any -> any [80:90, 443] (sid:1;)").unwrap();
    assert_eq!(r.header.src.to_string(), "[2001:db8::/32,::1]");
}

#[test]
fn metadata_keywords() {
    let r = ok(
        r#"msg:"ET \"quoted\" a\;b"; reference:url,example.com/a; reference:cve,2021-44228; classtype:trojan-activity; priority:2; gid:1; sid:2000001; rev:7; metadata:created_at 2020_01_01, signature_severity Major;"#,
    );
    assert_eq!(r.meta.msg.as_deref(), Some("ET \"quoted\" a;b"));
    assert_eq!(r.meta.sid, 2000001);
    assert_eq!(r.meta.rev, Some(7));
    assert_eq!(r.meta.gid, Some(1));
    assert_eq!(r.meta.priority, Some(2));
    assert_eq!(r.meta.classtype.as_deref(), Some("trojan-activity"));
    assert_eq!(r.meta.references.len(), 2);
    assert_eq!(r.meta.references[1].system, "cve");
    let md: Vec<_> = r.meta.metadata().collect();
    assert_eq!(
        md,
        [
            ("created_at", "2020_01_01"),
            ("signature_severity", "Major")
        ]
    );
}

#[test]
fn content_and_modifiers() {
    let r = ok(
        r#"content:"GET|20|/"; depth:5; offset:0; nocase; content:!"x|3b|y"; distance:0; within:10; content:"abc"; startswith; endswith; fast_pattern; content:"r"; rawbytes; sid:1;"#,
    );
    let (b, c0) = content(&r, 0);
    assert_eq!(b, PAYLOAD);
    assert_eq!(c0.pattern, b"GET /");
    assert!(c0.nocase && c0.depth == Some(Value::Num(5)) && c0.offset == Some(Value::Num(0)));
    let (_, c1) = content(&r, 1);
    assert!(
        c1.negated
            && c1.pattern == b"x;y"
            && c1.distance == Some(Value::Num(0))
            && c1.within == Some(Value::Num(10))
    );
    let (_, c2) = content(&r, 2);
    assert!(c2.startswith && c2.endswith && c2.fast_pattern == Some(FastPattern::Whole));
    assert!(content(&r, 3).1.rawbytes);
    let r = ok(r#"content:"abcdef"; fast_pattern:1,3; sid:1;"#);
    assert_eq!(content(&r, 0).1.fast_pattern, Some(FastPattern::Chop(1, 3)));
    let r = ok(r#"content:"abc"; fast_pattern:only; sid:1;"#);
    assert_eq!(content(&r, 0).1.fast_pattern, Some(FastPattern::Only));
}

#[test]
fn sticky_buffers_and_legacy_modifiers() {
    let r = ok(
        r#"content:"payload"; http.uri; content:"/a"; http.host; content:"h"; pkt_data; content:"p2"; sid:1;"#,
    );
    let bufs: Vec<_> = r
        .contents()
        .map(|(b, c)| (b, String::from_utf8_lossy(&c.pattern).into_owned()))
        .collect();
    assert_eq!(
        bufs,
        [
            (PAYLOAD, "payload".into()),
            (PAYLOAD, "p2".into()),
            ("http.uri", "/a".into()),
            ("http.host", "h".into())
        ]
    );
    // legacy modifier moves the content it follows; the sticky buffer is not changed
    let r = ok(r#"content:"GET"; http_method; content:"/x"; http_uri; content:"p"; sid:1;"#);
    let bufs: Vec<_> = r.contents().map(|(b, _)| b).collect();
    assert_eq!(bufs, ["http.method", "http.uri", PAYLOAD]);
    for (kw, buf) in [
        ("http_uri", "http.uri"),
        ("http_raw_uri", "http.uri.raw"),
        ("http_header", "http.header"),
        ("http_raw_header", "http.header.raw"),
        ("http_cookie", "http.cookie"),
        ("http_method", "http.method"),
        ("http_client_body", "http.request_body"),
        ("http_server_body", "http.response_body"),
        ("http_stat_code", "http.stat_code"),
        ("http_user_agent", "http.user_agent"),
        ("http_host", "http.host"),
        ("http_raw_host", "http.host.raw"),
    ] {
        let r = ok(&format!(r#"content:"x"; {kw}; sid:1;"#));
        assert_eq!(content(&r, 0).0, buf, "{kw}");
    }
    for kw in [
        "http.uri",
        "http.host",
        "http.method",
        "http.user_agent",
        "http.header",
        "http.stat_code",
        "http.request_body",
        "http.response_body",
        "file.data",
        "file_data",
        "http.header_names",
        "http.content_type",
        "http.cookie",
        "http.request_line",
        "http_content_type",
    ] {
        ok(&format!(r#"{kw}; content:"x"; sid:1;"#));
    }
    for kw in ["dns.query", "dns_query"] {
        let r = parse_line(&format!(
            r#"alert dns any any -> any any ({kw}; content:"x"; sid:1;)"#
        ))
        .unwrap();
        assert_eq!(content(&r, 0).0, "dns.query");
    }
    for kw in [
        "tls.sni",
        "tls.cert_subject",
        "tls.cert_issuer",
        "ja3.hash",
        "ja3_hash",
        "ja4.hash",
        "tls.certs",
        "tls_sni",
    ] {
        parse_line(&format!(
            r#"alert tls any any -> any any ({kw}; content:"x"; sid:1;)"#
        ))
        .unwrap();
    }
    for kw in ["ssh.proto", "ssh.software", "ssh.hassh", "ssh_proto"] {
        parse_line(&format!(
            r#"alert ssh any any -> any any ({kw}; content:"x"; sid:1;)"#
        ))
        .unwrap();
    }
    // transforms belong to the buffer
    let r = parse_line(r#"alert dns any any -> any any (dns.query; dotprefix; content:".evil.com"; endswith; sid:1;)"#).unwrap();
    assert_eq!(r.buffers[0].transforms[0].0, "dotprefix");
    // bsize goes to the current buffer; urilen to the URI
    let r = ok(r#"http.uri; bsize:>10; urilen:<100; sid:1;"#);
    assert!(matches!(
        r.buffers[0].matches[..],
        [
            Match::Bsize(NumCmp::Gt(10)),
            Match::Urilen(NumCmp::Lt(100), false)
        ]
    ));
}

#[test]
fn pcre_and_payload_keywords() {
    let r = ok(
        r#"content:"a"; pcre:"/^b[\x22\;]c/Ri"; isdataat:!10,relative; byte_test:4,>,100,0,relative,little; byte_jump:2,0,relative,align; byte_extract:1,0,len,relative; isdataat:len,relative; dsize:>10; sid:1;"#,
    );
    let m = &r.buffers[0].matches;
    assert!(
        matches!(&m[1], Match::Pcre(p) if p.relative && p.flags == "i" && p.pattern == r"^b[\x22\;]c")
    );
    assert!(matches!(&m[2], Match::IsDataAt(d) if d.negated && d.relative));
    assert!(matches!(&m[3], Match::ByteTest(_)));
    assert!(matches!(&m[4], Match::ByteJump(j) if j.align));
    assert!(matches!(&m[5], Match::ByteExtract(e) if e.name == "len"));
    assert!(matches!(&m[6], Match::IsDataAt(d) if d.size == Value::Var(Box::new("len".into()))));
    assert_eq!(r.checks, [HeaderCheck::Dsize(NumCmp::Gt(10))]);
    // a pcre buffer letter puts the pcre in that buffer
    let r = ok(r#"pcre:"/\/admin/U"; sid:1;"#);
    assert_eq!(r.buffers[0].buffer, "http.uri");
    // unescaped quote inside pcre is fine, as in Suricata
    ok(r#"pcre:"/^["']?post/Ri"; sid:1;"#);
}

#[test]
fn flow_state_and_header_keywords() {
    let r = ok("flow:established,to_server; flowbits:set,a; flowbits:isset,b|c; flowbits:noalert; threshold:type limit, track by_src, count 1, seconds 60; flags:S,12; ttl:<5; ip_proto:tcp; ack:0; seq:1; window:!512; app-layer-protocol:!http; target:dest_ip; sid:1;");
    assert_eq!(r.flow.as_ref().and_then(|f| f.to_server), Some(true));
    assert_eq!(r.flowbits.len(), 3);
    assert_eq!(r.flowbits[1].names, ["b", "c"]);
    assert_eq!(r.flowbits[2].cmd, FlowbitCmd::NoAlert);
    assert!(r.noalert);
    assert_eq!(r.threshold.map(|t| t.track), Some(Track::BySrc));
    assert!(r.checks.contains(&HeaderCheck::IpProto(NumCmp::Eq(6))));
    assert!(r.checks.contains(&HeaderCheck::Window(true, 512)));
    assert_eq!(r.app_layer_protocols.len(), 1);
    assert!(r.app_layer_protocols[0].negated);
    assert_eq!(r.app_layer_protocols[0].names, ["http"]);
    let r = parse_line("alert icmp any any -> any any (itype:8; icode:0; detection_filter:track by_dst, count 5, seconds 10; sid:1;)").unwrap();
    assert!(r.detection_filter.is_some());
    assert!(r.checks.contains(&HeaderCheck::Itype(NumCmp::Eq(8))));
}

#[test]
fn multi_line_rule_reports_the_physical_line_and_column() {
    let text = "# header comment\nalert tcp any any -> any any ( \\\n    msg:\"x\"; \\\n    frobnicate; sid:1;)\n";
    let mut set = Ruleset::new(LoadOptions::default());
    set.add_source("t.rules", text);
    assert_eq!(set.rules.len(), 0);
    let e = &set.skipped[0].error;
    assert_eq!(e.keyword, "frobnicate");
    assert_eq!(e.position, Position { line: 4, column: 5 });
    assert_eq!(e.kind, ErrorKind::UnknownKeyword);
    set.add_source("u.rules", "alert tcp any any -> any any (msg:\"a\"; \\\n sid:9;)\n# alert tcp any any -> any any (sid:10;)\n");
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.rules[0].line, 1);
    assert_eq!(set.disabled, 1);
}

#[test]
fn every_error_class_with_its_column() {
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        fn(&ErrorKind) -> bool,
    );
    let cases: Vec<Case> = vec![
        ("alrt tcp any any -> any any (sid:1;)", "action", "alrt", |k| matches!(k, ErrorKind::UnknownAction(_))),
        ("alert tpc any any -> any any (sid:1;)", "protocol", "tpc", |k| matches!(k, ErrorKind::UnknownProtocol(_))),
        ("alert tcp any any -> any (sid:1;)", "header", "alert", |k| matches!(k, ErrorKind::MalformedHeader(_))),
        ("alert tcp 1.2.3.999 any -> any any (sid:1;)", "address", "1.2.3.999", |k| matches!(k, ErrorKind::BadAddress(_))),
        ("alert tcp any 70000 -> any any (sid:1;)", "port", "70000", |k| matches!(k, ErrorKind::BadPort(_))),
        ("alert tcp any any <- any any (sid:1;)", "direction", "<-", |k| matches!(k, ErrorKind::BadDirection(_))),
        ("alert tcp any any -> any any sid:1;", "options", "alert", |k| *k == ErrorKind::MissingParentheses),
        ("alert tcp any any -> any any (msg:\"x; sid:1;)", "msg", "msg", |k| *k == ErrorKind::UnterminatedString),
        ("alert tcp any any -> any any (msg:\"x\"; sid:1)", "sid", "sid", |k| *k == ErrorKind::MissingSemicolon),
        ("alert tcp any any -> any any (frob; sid:1;)", "frob", "frob", |k| *k == ErrorKind::UnknownKeyword),
        ("alert tcp any any -> any any (lua:x.lua; sid:1;)", "lua", "lua", |k| *k == ErrorKind::UnsupportedKeyword),
        ("alert tcp any any -> any any (content; sid:1;)", "content", "content", |k| *k == ErrorKind::MissingValue),
        ("alert tcp any any -> any any (content:\"a\"; nocase:1; sid:1;)", "nocase", "nocase", |k| *k == ErrorKind::UnexpectedValue),
        ("alert tcp any any -> any any (content:\"a\"; depth:x y; sid:1;)", "depth", "depth", |k| matches!(k, ErrorKind::InvalidValue(_))),
        ("alert tcp any any -> any any (content:\"|4G|\"; sid:1;)", "content", "content", |k| matches!(k, ErrorKind::BadHex(_))),
        ("alert tcp any any -> any any (content:\"a\\x\"; sid:1;)", "content", "content", |k| *k == ErrorKind::BadEscape('x')),
        ("alert tcp any any -> any any (distance:0; content:\"a\"; sid:1;)", "distance", "distance", |k| *k == ErrorKind::NoPrecedingContent),
        ("alert tcp any any -> any any (content:\"a\"; depth:4; distance:0; sid:1;)", "distance", "distance", |k| matches!(k, ErrorKind::Conflict(_))),
        ("alert tcp any any -> any any (content:\"a\"; nocase; nocase; sid:1;)", "nocase", "nocase; sid", |k| matches!(k, ErrorKind::Conflict(_))),
        ("alert tcp any any -> any any (msg:\"no sid\";)", "sid", "(", |k| *k == ErrorKind::MissingSid),
        ("alert dns any any -> any any (http.uri; content:\"a\"; sid:1;)", "http.uri", "http.uri", |k| matches!(k, ErrorKind::ProtocolConflict(_))),
        ("alert tcp any any -> any any (content:\"abc\"; depth:2; sid:1;)", "depth", "depth", |k| matches!(k, ErrorKind::InvalidValue(_))),
        ("alert tcp any any -> any any (content:\"a\"; http_uri; http_header; sid:1;)", "http_header", "http_header", |k| matches!(k, ErrorKind::Conflict(_))),
        ("alert tcp any any -> any any (content:\"a\"; fast_pattern; content:\"b\"; fast_pattern; sid:1;)", "fast_pattern", "fast_pattern; sid", |k| matches!(k, ErrorKind::Conflict(_))),
        ("alert tcp any any -> any any (byte_test:4,>,x,0; sid:1;)", "byte_test", "byte_test", |k| matches!(k, ErrorKind::InvalidValue(_))),
        ("alert tcp any any -> any any (flowbits:set; sid:1;)", "flowbits", "flowbits", |k| matches!(k, ErrorKind::InvalidValue(_))),
        ("alert tcp any any -> any any (pcre:\"/a/Xq\"; sid:1;)", "pcre", "pcre", |k| matches!(k, ErrorKind::InvalidValue(_))),
        ("alert tcp any any -> any any (threshold:type limit, count 1; sid:1;)", "threshold", "threshold", |k| matches!(k, ErrorKind::InvalidValue(_))),
        ("alert tcp any any -> any any (sid:0;)", "sid", "sid", |k| matches!(k, ErrorKind::InvalidValue(_))),
    ];
    for (text, keyword, at, kind) in cases {
        let (kw, column, k) = fails(text);
        assert_eq!(kw, keyword, "{text}");
        assert_eq!(column, col(text, at), "{text}: {k}");
        assert!(kind(&k), "{text}: unexpected {k:?}");
    }
}

#[test]
fn load_time_errors_variables_classtypes_duplicates() {
    let (cls, _) = Classifications::parse("config classification: trojan-activity,Trojan,1\n");
    let mut set = Ruleset::new(LoadOptions {
        classifications: Some(cls),
        ..LoadOptions::default()
    });
    set.add_source(
        "v.rules",
        "alert tcp $NOPE_NET any -> any any (sid:1;)\nalert tcp any any -> any any (classtype:nope; sid:2;)\nalert tcp any any -> any any (classtype:trojan-activity; sid:3;)\nalert tcp any any -> any any (sid:3;)\n",
    );
    assert_eq!(set.rules.len(), 1);
    let errs: Vec<_> = set
        .skipped
        .iter()
        .map(|s| {
            (
                s.error.keyword.as_str(),
                s.error.position,
                s.error.kind.clone(),
            )
        })
        .collect();
    assert_eq!(
        errs[0],
        (
            "variable",
            Position {
                line: 1,
                column: 11
            },
            ErrorKind::UndefinedVariable("NOPE_NET".into())
        )
    );
    assert_eq!(
        errs[1],
        (
            "classtype",
            Position {
                line: 2,
                column: 31
            },
            ErrorKind::UnknownClasstype("nope".into())
        )
    );
    assert_eq!(
        errs[2],
        (
            "sid",
            Position {
                line: 4,
                column: 31
            },
            ErrorKind::DuplicateSid(3)
        )
    );
    assert_eq!(set.skips_by_keyword()[0].1, 1);
}

#[test]
fn hostile_input_does_not_panic() {
    for text in [
        "",
        "(",
        ")",
        "alert",
        "alert tcp any any -> any any (",
        "alert tcp any any -> any any ()",
        "alert tcp any any -> any any (content:\"\\",
        "alert tcp any any -> any any (content:\"|\";sid:1;)",
        "alert tcp [[[[ any -> any any (sid:1;)",
        "alert tcp any any -> any any (;;;;)",
        "alert tcp any any -> any any (content:\"é|41|\"; sid:1;)",
        "alert tcp any any -> any any (pcre:\"m\"; sid:1;)",
        "alert tcp any any -> any any (byte_test:99,=,1,0; sid:1;)",
        "alert tcp any any -> any any (pcre:\"/\"; sid:1;)",
    ] {
        let _ = parse_line(text);
    }
}

#[test]
fn newer_and_older_spellings() {
    // uricontent is content + http_uri
    let r = ok(r#"uricontent:"/cgi-bin"; nocase; sid:1;"#);
    assert_eq!(content(&r, 0).0, "http.uri");
    // Suricata 8: absent, threshold backoff, detection_filter unique_on, app-layer-protocol lists
    let r = ok("http.referer; absent; sid:1;");
    assert_eq!(r.buffers[0].matches, [Match::Absent(false)]);
    let r = ok("threshold:type backoff, track by_flow, count 1, multiplier 10; sid:1;");
    assert_eq!(r.threshold.as_ref().and_then(|t| t.multiplier), Some(10));
    let r = ok("detection_filter:track by_dst, count 3, seconds 60, unique_on dst_port; sid:1;");
    assert_eq!(
        r.detection_filter
            .as_ref()
            .and_then(|t| t.unique_on.as_deref()),
        Some("dst_port")
    );
    ok("app-layer-protocol:tls|http; sid:1;");
    // a byte_extract variable may be defined in another buffer, but must be defined
    ok(
        r#"content:"x"; byte_extract:1,0,n,relative; http.uri; content:"a"; content:"b"; distance:n; sid:1;"#,
    );
    let text = r#"alert tcp any any -> any any (content:"a"; content:"b"; distance:nope; sid:1;)"#;
    let (kw, column, kind) = fails(text);
    assert_eq!((kw.as_str(), column), ("distance", col(text, "distance")));
    assert!(matches!(kind, ErrorKind::InvalidValue(_)));
    // doh2 rules may use DNS and HTTP buffers; a quic rule may use ja4.hash
    parse_line(r#"alert doh2 any any -> any any (dns.query; content:"a"; http.uri; content:"/dns-query"; sid:1;)"#).unwrap();
    parse_line(r#"alert quic any any -> any any (ja4.hash; content:"q13d"; sid:1;)"#).unwrap();
    let r =
        ok("asn1:bitstring_overflow, oversize_length 1024, relative_offset -4; ftpbounce; sid:1;");
    assert!(matches!(&r.buffers[0].matches[0], Match::Asn1(a) if a.relative_offset == Some(-4)));
    parse_line("alert mdns any any -> any any (mdns.queries.rrname; content:\"_http\"; sid:1;)")
        .unwrap();
}

#[test]
fn value_keywords_inspect_a_buffer_of_their_own_name() {
    let r = ok(r#"dns.query; content:"x"; dns.opcode:!0; content:"y"; sid:1;"#);
    assert_eq!(r.buffers[0].buffer, "dns.query");
    assert_eq!(r.buffers[1].buffer, "dns.opcode");
    assert_eq!(r.buffers[1].matches, [Match::Uint(NumCmp::Ne(0))]);
    // The value keyword does not move the sticky buffer: `y` is still on dns.query.
    assert_eq!(r.buffers[0].matches.len(), 2);
    assert_eq!(r.app_layer(), Some("dns"));
    let r = ok("ssl_version:!tls1.3,TLS1.2; tls.cert_chain_len:0<>4; sid:1;");
    assert_eq!(
        r.buffers[0].matches,
        [Match::OneOf(true, vec!["tls1.3".into(), "tls1.2".into()])]
    );
    assert_eq!(r.buffers[1].matches, [Match::Uint(NumCmp::Between(0, 4))]);
    assert_eq!(r.app_layer(), Some("tls"));
    assert!(matches!(
        fails(&format!("{H} (ssl_version:tls9; sid:1;)")).2,
        ErrorKind::InvalidValue(_)
    ));
    assert!(matches!(
        fails(&format!("{H} (dns.opcode:16; sid:1;)")).2,
        ErrorKind::InvalidValue(_)
    ));
}
