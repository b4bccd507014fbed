//! Sticky buffers from app-layer records: the sensor hands over each record's EVE body
//! (plus HTTP bodies), and this module lays out the bytes each buffer keyword inspects, for
//! the request side (`to_server`) and the response side (`to_client`).

use serde_json::Value;

/// Buffers the engine fills. A rule using any other sticky buffer cannot be evaluated and
/// is reported, not loaded.
pub const SUPPORTED: &[&str] = &[
    crate::buffers::PAYLOAD,
    "http.uri",
    "http.uri.raw",
    "http.method",
    "http.host",
    "http.host.raw",
    "http.user_agent",
    "http.header",
    "http.header.raw",
    "http.cookie",
    "http.stat_code",
    "http.stat_msg",
    "http.response_line",
    "http.request_body",
    "http.response_body",
    "file.data",
    "http.content_type",
    "http.content_len",
    "http.referer",
    "http.protocol",
    "http.request_line",
    "http.server",
    "http.location",
    "http.accept",
    "http.accept_enc",
    "http.accept_lang",
    "http.connection",
    "http.header_names",
    "http.request_header",
    "http.response_header",
    "dns.query",
    "dns.queries.rrname",
    "tls.sni",
    "tls.cert_subject",
    "tls.cert_issuer",
    "tls.cert_serial",
    "tls.cert_fingerprint",
    "tls.subjectaltname",
    "tls.alpn",
    "tls.random",
    "tls.random_time",
    "tls.random_bytes",
    "tls.certs",
    "tls.cert_chain_len",
    "ssl_version",
    "dns.opcode",
    "ja3.hash",
    "ja3.string",
    "ja3s.hash",
    "ja3s.string",
    "ja4.hash",
    "ssh.proto",
    "ssh.software",
    "ssh.hassh",
    "ssh.hassh.string",
    "ssh.hassh.server",
    "ssh.hassh.server.string",
];

/// One side's buffers; a name may repeat (one DNS record can hold several queries), and a
/// rule matches when any instance does.
pub type Buffers = Vec<(&'static str, Vec<u8>)>;

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

fn push(out: &mut Buffers, name: &'static str, v: Option<&str>) {
    if let Some(v) = v {
        out.push((name, v.as_bytes().to_vec()));
    }
}

/// `%XX` decoded, as libhtp's URI normalisation does for the path and query.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn header_block(headers: Option<&Value>, skip_cookie: bool) -> Option<Vec<u8>> {
    let list = headers?.as_array()?;
    let mut out = Vec::new();
    for h in list {
        let (Some(n), Some(v)) = (s(h, &["name"]), s(h, &["value"])) else {
            continue;
        };
        if skip_cookie && (n.eq_ignore_ascii_case("cookie") || n.eq_ignore_ascii_case("set-cookie"))
        {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    Some(out)
}

/// Each header as its own `Name: Value` instance (the multi-buffer
/// `http.request_header` / `http.response_header`); none when the side has no headers.
fn each_header(out: &mut Buffers, name: &'static str, headers: Option<&Value>) {
    for h in headers.and_then(Value::as_array).into_iter().flatten() {
        if let (Some(n), Some(v)) = (s(h, &["name"]), s(h, &["value"])) {
            out.push((name, format!("{n}: {v}").into_bytes()));
        }
    }
}

fn header_names(headers: Option<&Value>) -> Option<Vec<u8>> {
    let list = headers?.as_array()?;
    let mut out = b"\r\n".to_vec();
    for h in list {
        if let Some(n) = s(h, &["name"]) {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    Some(out)
}

fn header<'a>(headers: Option<&'a Value>, name: &str) -> Option<&'a str> {
    headers?
        .as_array()?
        .iter()
        .find(|h| s(h, &["name"]).is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| s(h, &["value"]))
}

/// The strings of a JSON array (none if it is not one).
fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// An EVE `tls.version` as the name `ssl_version` uses (TLS 1.3 drafts count as 1.3).
fn ssl_version_name(v: &str) -> Option<&'static str> {
    Some(match v {
        "SSLv2" => "sslv2",
        "SSLv3" => "sslv3",
        "TLSv1" => "tls1.0",
        "TLS 1.1" => "tls1.1",
        "TLS 1.2" => "tls1.2",
        v if v.starts_with("TLS 1.3") => "tls1.3",
        _ => return None,
    })
}

/// Request-side and response-side buffers of one app-layer record.
pub fn buffers(
    event_type: &str,
    body: &Value,
    extra: &[(&'static str, &[u8])],
) -> (Buffers, Buffers) {
    let (mut req, mut resp) = (Buffers::new(), Buffers::new());
    match event_type {
        "http" => {
            let rq = body.get("request_headers");
            let rs = body.get("response_headers");
            if let Some(url) = s(body, &["url"]) {
                req.push(("http.uri", percent_decode(url)));
                push(&mut req, "http.uri.raw", Some(url));
                if let (Some(m), Some(p)) = (s(body, &["http_method"]), s(body, &["protocol"])) {
                    req.push(("http.request_line", format!("{m} {url} {p}").into_bytes()));
                }
            }
            push(&mut req, "http.method", s(body, &["http_method"]));
            if let Some(h) = s(body, &["hostname"]) {
                req.push(("http.host", h.to_ascii_lowercase().into_bytes()));
            }
            push(&mut req, "http.host.raw", header(rq, "host"));
            push(&mut req, "http.user_agent", header(rq, "user-agent"));
            push(&mut req, "http.cookie", header(rq, "cookie"));
            push(&mut req, "http.referer", header(rq, "referer"));
            push(&mut req, "http.accept", header(rq, "accept"));
            push(&mut req, "http.accept_enc", header(rq, "accept-encoding"));
            push(&mut req, "http.accept_lang", header(rq, "accept-language"));
            push(&mut req, "http.connection", header(rq, "connection"));
            push(&mut req, "http.content_type", header(rq, "content-type"));
            push(&mut req, "http.content_len", header(rq, "content-length"));
            push(&mut req, "http.protocol", s(body, &["protocol"]));
            if let Some(b) = header_block(rq, true) {
                req.push(("http.header", b));
            }
            if let Some(b) = header_block(rq, false) {
                req.push(("http.header.raw", b));
            }
            if let Some(b) = header_names(rq) {
                req.push(("http.header_names", b));
            }
            each_header(&mut req, "http.request_header", rq);
            if let Some(code) = body.get("status").and_then(Value::as_u64) {
                resp.push(("http.stat_code", code.to_string().into_bytes()));
            }
            push(&mut resp, "http.server", header(rs, "server"));
            push(&mut resp, "http.location", header(rs, "location"));
            push(&mut resp, "http.content_type", header(rs, "content-type"));
            push(&mut resp, "http.content_len", header(rs, "content-length"));
            push(&mut resp, "http.connection", header(rs, "connection"));
            if let Some(b) = header_block(rs, true) {
                resp.push(("http.header", b));
            }
            if let Some(b) = header_block(rs, false) {
                resp.push(("http.header.raw", b));
            }
            if let Some(b) = header_names(rs) {
                resp.push(("http.header_names", b));
            }
            each_header(&mut resp, "http.response_header", rs);
            let extra_of = |name: &str| extra.iter().find(|(n, _)| *n == name).map(|(_, b)| *b);
            if let Some(code) = body.get("status").and_then(Value::as_u64) {
                let reason = extra_of("http.stat_msg").unwrap_or_default();
                let proto = extra_of("http.response_protocol")
                    .filter(|p| !p.is_empty())
                    .or_else(|| s(body, &["protocol"]).map(str::as_bytes))
                    .unwrap_or_default();
                let mut line = proto.to_vec();
                line.extend_from_slice(format!(" {code} ").as_bytes());
                line.extend_from_slice(reason);
                resp.push(("http.response_line", line));
                if !reason.is_empty() {
                    resp.push(("http.stat_msg", reason.to_vec()));
                }
            }
            for (name, bytes) in extra {
                match *name {
                    "http.request_body" if !bytes.is_empty() => {
                        req.push(("http.request_body", bytes.to_vec()));
                    }
                    "http.response_body" if !bytes.is_empty() => {
                        resp.push(("http.response_body", bytes.to_vec()));
                        resp.push(("file.data", bytes.to_vec()));
                    }
                    _ => {}
                }
            }
        }
        "dns" => {
            let request = s(body, &["type"]) != Some("response");
            let side = if request { &mut req } else { &mut resp };
            let mut names: Vec<&str> = Vec::new();
            if let Some(qs) = body.get("queries").and_then(Value::as_array) {
                names.extend(qs.iter().filter_map(|q| s(q, &["rrname"])));
            } else if let Some(n) = s(body, &["rrname"]) {
                names.push(n);
            }
            for n in names {
                // dns.query is the request's name; the response repeats it, and a rule
                // must not fire twice on one exchange.
                if request {
                    side.push(("dns.query", n.as_bytes().to_vec()));
                }
                side.push(("dns.queries.rrname", n.as_bytes().to_vec()));
            }
            if let Some(op) = body.get("opcode").and_then(Value::as_u64) {
                side.push(("dns.opcode", op.to_string().into_bytes()));
            }
        }
        "tls" => {
            push(&mut req, "tls.sni", s(body, &["sni"]));
            push(&mut req, "ja3.hash", s(body, &["ja3", "hash"]));
            push(&mut req, "ja3.string", s(body, &["ja3", "string"]));
            push(&mut req, "ja4.hash", s(body, &["ja4"]));
            push(&mut resp, "tls.cert_subject", s(body, &["subject"]));
            push(&mut resp, "tls.cert_issuer", s(body, &["issuerdn"]));
            push(&mut resp, "tls.cert_serial", s(body, &["serial"]));
            push(&mut resp, "tls.cert_fingerprint", s(body, &["fingerprint"]));
            push(&mut resp, "ja3s.hash", s(body, &["ja3s", "hash"]));
            push(&mut resp, "ja3s.string", s(body, &["ja3s", "string"]));
            for (key, side) in [("client_alpns", &mut req), ("server_alpns", &mut resp)] {
                for a in strings(body.get(key)) {
                    side.push(("tls.alpn", a.as_bytes().to_vec()));
                }
            }
            for n in strings(body.get("subjectaltname")) {
                resp.push(("tls.subjectaltname", n.as_bytes().to_vec()));
            }
            if let Some(v) = s(body, &["version"]).and_then(ssl_version_name) {
                // Suricata's ssl_version looks at the version of the connection, whichever
                // side the rule inspects.
                req.push(("ssl_version", v.as_bytes().to_vec()));
                resp.push(("ssl_version", v.as_bytes().to_vec()));
            }
            let mut chain_len = 0u64;
            for (name, bytes) in extra {
                let side = match *name {
                    "tls.random.client"
                    | "tls.certs.client"
                    | "tls.client.subject"
                    | "tls.client.issuerdn"
                    | "tls.client.serial"
                    | "tls.client.fingerprint" => &mut req,
                    _ => &mut resp,
                };
                match *name {
                    "tls.random.client" | "tls.random.server" if bytes.len() == 32 => {
                        side.push(("tls.random", bytes.to_vec()));
                        side.push(("tls.random_time", bytes[..4].to_vec()));
                        side.push(("tls.random_bytes", bytes[4..].to_vec()));
                    }
                    "tls.certs.server" | "tls.certs.client" => {
                        if *name == "tls.certs.server" {
                            chain_len += 1;
                        }
                        side.push(("tls.certs", bytes.to_vec()));
                    }
                    "tls.client.subject" => side.push(("tls.cert_subject", bytes.to_vec())),
                    "tls.client.issuerdn" => side.push(("tls.cert_issuer", bytes.to_vec())),
                    "tls.client.serial" => side.push(("tls.cert_serial", bytes.to_vec())),
                    "tls.client.fingerprint" => side.push(("tls.cert_fingerprint", bytes.to_vec())),
                    _ => {}
                }
            }
            if chain_len > 0 {
                resp.push(("tls.cert_chain_len", chain_len.to_string().into_bytes()));
            }
        }
        "ssh" => {
            for (key, side) in [("client", &mut req), ("server", &mut resp)] {
                push(side, "ssh.proto", s(body, &[key, "proto_version"]));
                push(side, "ssh.software", s(body, &[key, "software_version"]));
            }
            push(&mut req, "ssh.hassh", s(body, &["client", "hassh", "hash"]));
            push(
                &mut req,
                "ssh.hassh.string",
                s(body, &["client", "hassh", "string"]),
            );
            push(
                &mut resp,
                "ssh.hassh.server",
                s(body, &["server", "hassh", "hash"]),
            );
            push(
                &mut resp,
                "ssh.hassh.server.string",
                s(body, &["server", "hassh", "string"]),
            );
        }
        _ => {}
    }
    (req, resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn get<'a>(b: &'a Buffers, name: &str) -> Vec<&'a [u8]> {
        b.iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    #[test]
    fn http_response_line_and_stat_msg_from_the_parser() {
        let body = json!({"url": "/", "http_method": "GET", "protocol": "HTTP/1.1", "status": 200});
        let extra: [(&str, &[u8]); 2] = [
            ("http.stat_msg", b"OK"),
            ("http.response_protocol", b"HTTP/1.0"),
        ];
        let (_, resp) = buffers("http", &body, &extra);
        assert_eq!(get(&resp, "http.response_line"), [b"HTTP/1.0 200 OK"]);
        assert_eq!(get(&resp, "http.stat_msg"), [b"OK"]);
        // Without the parser's extras the request's protocol stands in.
        let (_, resp) = buffers("http", &body, &[]);
        assert_eq!(get(&resp, "http.response_line"), [b"HTTP/1.1 200 "]);
    }

    #[test]
    fn http_buffers() {
        let body = json!({"hostname": "Example.COM", "url": "/a%20b?x=1", "http_method": "GET",
            "protocol": "HTTP/1.1", "status": 404,
            "request_headers": [{"name": "Host", "value": "Example.COM:8080"},
                                {"name": "User-Agent", "value": "curl/8"},
                                {"name": "Cookie", "value": "s=1"}],
            "response_headers": [{"name": "Server", "value": "nginx"}]});
        let (req, resp) = buffers("http", &body, &[("http.response_body", b"<html>")]);
        assert_eq!(get(&req, "http.uri"), [b"/a b?x=1"]);
        assert_eq!(get(&req, "http.uri.raw"), [b"/a%20b?x=1"]);
        assert_eq!(get(&req, "http.host"), [b"example.com"]);
        assert_eq!(get(&req, "http.user_agent"), [b"curl/8"]);
        assert_eq!(
            get(&req, "http.header"),
            [&b"Host: Example.COM:8080\r\nUser-Agent: curl/8\r\n"[..]]
        );
        assert_eq!(get(&req, "http.cookie"), [b"s=1"]);
        assert_eq!(get(&resp, "http.stat_code"), [b"404"]);
        assert_eq!(get(&resp, "file.data"), [b"<html>"]);
        assert_eq!(get(&resp, "http.server"), [b"nginx"]);
        assert_eq!(
            get(&req, "http.request_header"),
            [
                &b"Host: Example.COM:8080"[..],
                b"User-Agent: curl/8",
                b"Cookie: s=1"
            ]
        );
        assert_eq!(get(&resp, "http.response_header"), [b"Server: nginx"]);
        // A request without headers has no instance: `absent` can match it.
        let (req, _) = buffers("http", &json!({"url": "/", "http_method": "GET"}), &[]);
        assert!(get(&req, "http.request_header").is_empty());
    }

    #[test]
    fn dns_ssh_tls_buffers() {
        let q = json!({"type": "request", "queries": [{"rrname": "a.example"}, {"rrname": "b.example"}]});
        let (req, _) = buffers("dns", &q, &[]);
        assert_eq!(get(&req, "dns.query"), [b"a.example", b"b.example"]);
        let r = json!({"type": "response", "queries": [{"rrname": "a.example"}]});
        let (req, resp) = buffers("dns", &r, &[]);
        assert!(get(&req, "dns.query").is_empty() && get(&resp, "dns.query").is_empty());
        let ssh = json!({"client": {"proto_version": "2.0", "software_version": "OpenSSH_8.9",
            "hassh": {"hash": "abc", "string": "x"}}, "server": {"proto_version": "2.0",
            "software_version": "dropbear"}});
        let (req, resp) = buffers("ssh", &ssh, &[]);
        assert_eq!(get(&req, "ssh.software"), [b"OpenSSH_8.9"]);
        assert_eq!(get(&resp, "ssh.software"), [b"dropbear"]);
        assert_eq!(get(&req, "ssh.hassh"), [b"abc"]);
        let tls = json!({"sni": "example.org", "subject": "CN=example.org", "ja3": {"hash": "h"}, "ja4": "t13d"});
        let (req, resp) = buffers("tls", &tls, &[]);
        assert_eq!(get(&req, "tls.sni"), [b"example.org"]);
        assert_eq!(get(&req, "ja4.hash"), [b"t13d"]);
        assert_eq!(get(&resp, "tls.cert_subject"), [b"CN=example.org"]);
    }
}
