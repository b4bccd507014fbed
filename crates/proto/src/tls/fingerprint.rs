//! TLS fingerprints: JA3 and JA3S (Salesforce, BSD-3), JA4 (FoxIO, BSD-3), and JA4S behind the
//! non-default `ja4plus` feature (FoxIO licence 1.1, non-commercial).
//!
//! JA4 follows the spec text (`JA4.md`) where implementations disagree:
//! - a first ALPN value whose first or last byte is not ASCII alphanumeric is printed as the
//!   first and last characters of its hex form (`0xBA 0xAD` gives `bd`; FoxIO's code gives `99`);
//! - a ClientHello whose only extensions are SNI and/or ALPN has an empty sorted extension list,
//!   so the third part is `000000000000` rather than the hash of `_` (Suricata 7's value).

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::parser::{ClientHello, ServerHello, EXT_ALPN, EXT_SNI};

/// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn dec_list<T: ToString>(v: impl Iterator<Item = T>) -> String {
    v.map(|x| x.to_string()).collect::<Vec<_>>().join("-")
}

pub fn md5_hex(s: &str) -> String {
    crate::parse::hex(&Md5::digest(s.as_bytes()))
}

fn sha256_12(s: &str) -> String {
    let mut h = crate::parse::hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

/// `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`, decimal, GREASE
/// removed.
pub fn ja3_string(ch: &ClientHello) -> String {
    format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        dec_list(ch.ciphers.iter().filter(|v| !is_grease(**v))),
        dec_list(ch.extensions.iter().filter(|v| !is_grease(**v))),
        dec_list(ch.groups.iter().filter(|v| !is_grease(**v))),
        dec_list(ch.point_formats.iter()),
    )
}

/// `SSLVersion,Cipher,Extensions`, decimal.
pub fn ja3s_string(sh: &ServerHello) -> String {
    format!(
        "{},{},{}",
        sh.legacy_version,
        sh.cipher,
        dec_list(sh.extensions.iter().filter(|v| !is_grease(**v))),
    )
}

/// JA4's two-character version code.
pub fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First and last character of an ALPN value, per the spec's rules (see module docs).
pub fn ja4_alpn(first: Option<&[u8]>) -> String {
    let Some(v) = first.filter(|v| !v.is_empty()) else {
        return "00".to_string();
    };
    let (a, z) = (v[0], v[v.len() - 1]);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        format!("{}{}", a as char, z as char)
    } else {
        let h = crate::parse::hex(v);
        let b = h.as_bytes();
        format!("{}{}", b[0] as char, b[b.len() - 1] as char)
    }
}

fn hex4_list(v: &[u16]) -> String {
    v.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The JA4 fingerprint and its raw (sorted, unhashed) form. `proto` is `t` (TCP), `q` (QUIC)
/// or `d` (DTLS). The spec's "original order" variants (`JA4_o`, `JA4_ro`) keep ciphers and
/// extensions as sent, SNI and ALPN included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4 {
    pub hash: String,
    pub raw: String,
    pub original: String,
    pub raw_original: String,
}

pub fn ja4(ch: &ClientHello, proto: char) -> Ja4 {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.legacy_version);
    let sni = if ch.sni.is_some() || ch.extensions.contains(&EXT_SNI) {
        'd'
    } else {
        'i'
    };
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let exts_all: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let a = format!(
        "{proto}{}{sni}{:02}{:02}{}",
        ja4_version(version),
        ciphers.len().min(99),
        exts_all.len().min(99),
        ja4_alpn(ch.alpns.first().map(Vec::as_slice)),
    );
    ciphers.sort_unstable();
    let mut exts: Vec<u16> = exts_all
        .into_iter()
        .filter(|v| *v != EXT_SNI && *v != EXT_ALPN)
        .collect();
    exts.sort_unstable();
    let sigs: Vec<u16> = ch
        .sig_algs
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let cipher_s = hex4_list(&ciphers);
    let mut ext_s = hex4_list(&exts);
    if !sigs.is_empty() {
        ext_s.push('_');
        ext_s.push_str(&hex4_list(&sigs));
    }
    let b = if ciphers.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&cipher_s)
    };
    let c = if exts.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&ext_s)
    };
    // Original order: nothing sorted, SNI and ALPN kept.
    let ciphers_o: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let exts_o: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let cipher_o = hex4_list(&ciphers_o);
    let mut ext_o = hex4_list(&exts_o);
    if !sigs.is_empty() {
        ext_o.push('_');
        ext_o.push_str(&hex4_list(&sigs));
    }
    let b_o = if ciphers_o.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&cipher_o)
    };
    // The spec is silent here; like FoxIO, an empty JA4_c (no extensions besides SNI/ALPN)
    // stays empty in the original-order variant too.
    let c_o = if exts.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&ext_o)
    };
    Ja4 {
        hash: format!("{a}_{b}_{c}"),
        raw: format!("{a}_{cipher_s}_{ext_s}"),
        original: format!("{a}_{b_o}_{c_o}"),
        raw_original: format!("{a}_{cipher_o}_{ext_o}"),
    }
}

/// JA4S: the server's answer to one ClientHello (FoxIO licence 1.1, non-commercial).
#[cfg(feature = "ja4plus")]
pub fn ja4s(sh: &ServerHello, proto: char) -> Ja4 {
    let exts: Vec<u16> = sh
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let a = format!(
        "{proto}{}{:02}{}",
        // JA4S takes the version as the server wrote it, not Suricata's draft name.
        ja4_version(match sh.version() {
            super::parser::TLS13_PRE_DRAFT16 => 0x0304,
            v => v,
        }),
        exts.len().min(99),
        ja4_alpn(sh.alpn.as_deref()),
    );
    let ext_s = hex4_list(&exts);
    let c = if exts.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&ext_s)
    };
    Ja4 {
        hash: format!("{a}_{:04x}_{c}", sh.cipher),
        raw: format!("{a}_{:04x}_{ext_s}", sh.cipher),
        original: format!("{a}_{:04x}_{c}", sh.cipher),
        raw_original: format!("{a}_{:04x}_{ext_s}", sh.cipher),
    }
}
