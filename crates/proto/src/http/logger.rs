//! The EVE `http` object with Suricata's field names.

use serde_json::{json, Map, Value};

use super::parser::Head;
use super::state::{HttpConfig, Transaction};
use crate::parse::{base64, escape_bytes};

fn text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => escape_bytes(b),
    }
}

/// Host header split into name and port; `[v6]:port` keeps the address without brackets.
fn host_and_port(h: &[u8]) -> (String, Option<u16>) {
    let s = text(h);
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((addr, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (addr.to_string(), port);
        }
    }
    match s.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(p) => (name.to_string(), Some(p)),
            Err(_) => (s.clone(), None),
        },
        _ => (s, None),
    }
}

fn headers_json(head: &Head) -> Option<Value> {
    if head.headers.is_empty() {
        return None;
    }
    Some(Value::Array(
        head.headers
            .iter()
            .map(|h| json!({"name": text(&h.name), "value": text(&h.value)}))
            .collect(),
    ))
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                c as char
            } else {
                '.'
            }
        })
        .collect()
}

pub fn http_body(tx: &Transaction, cfg: &HttpConfig) -> Value {
    let mut o = Map::new();
    if let Some(req) = &tx.request {
        if let Some(h) = req.head.header("host") {
            let (host, port) = host_and_port(h);
            o.insert("hostname".into(), json!(host));
            if let Some(p) = port {
                o.insert("http_port".into(), json!(p));
            }
        }
        o.insert("url".into(), json!(text(&req.line.uri)));
        if let Some(ua) = req.head.header("user-agent") {
            o.insert("http_user_agent".into(), json!(text(ua)));
        }
        if let Some(r) = req.head.header("referer") {
            o.insert("http_refer".into(), json!(text(r)));
        }
        if let Some(x) = req.head.header("x-forwarded-for") {
            o.insert("xff".into(), json!(text(x)));
        }
        o.insert("http_method".into(), json!(text(&req.line.method)));
        if !req.line.protocol.is_empty() {
            o.insert("protocol".into(), json!(text(&req.line.protocol)));
        }
    }
    if let Some(resp) = &tx.response {
        if let Some(ct) = resp.head.header("content-type") {
            let ct = ct.split(|b| *b == b';').next().unwrap_or_default();
            o.insert("http_content_type".into(), json!(text(ct).trim()));
        }
        if let Some(loc) = resp.head.header("location") {
            o.insert("redirect".into(), json!(text(loc)));
        }
        if !o.contains_key("protocol") {
            o.insert("protocol".into(), json!(text(&resp.line.protocol)));
        }
        match resp.line.code() {
            Some(c) => {
                o.insert("status".into(), json!(c));
            }
            None => {
                o.insert("status_string".into(), json!(text(&resp.line.status)));
            }
        }
    }
    o.insert("length".into(), json!(tx.response_body_len));
    if cfg.log_headers {
        if let Some(h) = tx.request.as_ref().and_then(|r| headers_json(&r.head)) {
            o.insert("request_headers".into(), h);
        }
        if let Some(h) = tx.response.as_ref().and_then(|r| headers_json(&r.head)) {
            o.insert("response_headers".into(), h);
        }
    }
    if cfg.log_bodies {
        if !tx.request_body.is_empty() {
            o.insert("http_request_body".into(), json!(base64(&tx.request_body)));
            o.insert(
                "http_request_body_printable".into(),
                json!(printable(&tx.request_body)),
            );
        }
        if !tx.response_body.is_empty() {
            o.insert(
                "http_response_body".into(),
                json!(base64(&tx.response_body)),
            );
            o.insert(
                "http_response_body_printable".into(),
                json!(printable(&tx.response_body)),
            );
        }
    }
    Value::Object(o)
}
