//! The EVE `tls` object as Suricata 8 writes it.

use serde_json::{json, Map, Value};

use super::fingerprint::{ja3_string, ja3s_string, ja4, md5_hex};
use super::state::Handshake;
use crate::parse::escape_bytes;

/// Suricata's names for protocol versions: TLS 1.3 drafts by number (those before 16
/// together), Facebook's drafts with `-fb`, and any other value as its decimal number.
pub fn version_name(v: u16) -> String {
    match v {
        0x0000 => "UNDETERMINED".into(),
        0x0002 | 0x0200 => "SSLv2".into(),
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        0x7f00..=0x7f0f => "TLS 1.3 draft-<16".into(),
        0x7f10..=0x7f1c => format!("TLS 1.3 draft-{}", v & 0xff),
        0xfb14..=0xfb17 | 0xfb1a => format!("TLS 1.3 draft-{}-fb", v & 0xff),
        _ => v.to_string(),
    }
}

fn alpn_strings(v: &[Vec<u8>]) -> Value {
    Value::Array(v.iter().map(|a| json!(escape_bytes(a))).collect())
}

fn ints(v: &[u16]) -> Value {
    Value::Array(v.iter().map(|x| json!(x)).collect())
}

pub fn tls_body(hs: &Handshake) -> Value {
    let mut o = Map::new();
    if let Some(cert) = &hs.server_cert {
        o.insert("subject".into(), json!(cert.subject));
        o.insert("issuerdn".into(), json!(cert.issuer));
        o.insert("serial".into(), json!(cert.serial));
        o.insert("fingerprint".into(), json!(cert.fingerprint));
        o.insert("notbefore".into(), json!(cert.not_before));
        o.insert("notafter".into(), json!(cert.not_after));
        if !cert.san.is_empty() {
            o.insert("subjectaltname".into(), json!(cert.san));
        }
    }
    if hs.session_resumed {
        o.insert("session_resumed".into(), json!(true));
    }
    if let Some(ch) = hs.client_hellos.first() {
        if let Some(sni) = &ch.sni {
            o.insert("sni".into(), json!(escape_bytes(sni)));
        }
    }
    let version = match (&hs.server_hello, hs.client_hellos.first()) {
        (Some(sh), _) => sh.version(),
        (None, Some(ch)) => ch.legacy_version,
        (None, None) => 0,
    };
    o.insert("version".into(), json!(version_name(version)));
    if let Some(ch) = hs.client_hellos.first() {
        let s = ja3_string(ch);
        o.insert("ja3".into(), json!({"hash": md5_hex(&s), "string": s}));
        o.insert("ja4".into(), json!(ja4(ch, 't').hash));
        if !ch.alpns.is_empty() {
            o.insert("client_alpns".into(), alpn_strings(&ch.alpns));
        }
        let mut c = Map::new();
        c.insert("version".into(), json!(version_name(ch.legacy_version)));
        for (k, v) in [
            ("ciphers", &ch.ciphers),
            ("exts", &ch.extensions),
            ("sig_algs", &ch.sig_algs),
        ] {
            if !v.is_empty() {
                c.insert(k.into(), ints(v));
            }
        }
        o.insert("client_handshake".into(), Value::Object(c));
    }
    if let Some(sh) = &hs.server_hello {
        let s = ja3s_string(sh);
        o.insert("ja3s".into(), json!({"hash": md5_hex(&s), "string": s}));
        if let Some(a) = &sh.alpn {
            o.insert("server_alpns".into(), alpn_strings(std::slice::from_ref(a)));
        }
        let mut c = Map::new();
        c.insert("version".into(), json!(version_name(sh.legacy_version)));
        c.insert("cipher".into(), json!(sh.cipher));
        if !sh.extensions.is_empty() {
            c.insert("exts".into(), ints(&sh.extensions));
        }
        o.insert("server_handshake".into(), Value::Object(c));
    }
    Value::Object(o)
}
