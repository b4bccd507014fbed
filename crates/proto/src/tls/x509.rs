//! Just enough DER to read what EVE logs from a certificate: serial, issuer, subject,
//! validity, subjectAltName and the SHA-1 fingerprint. No signature checks, no allocation
//! beyond the returned strings; nesting is fixed by the X.509 structure, so there is no
//! recursion to bound.

use sha1::{Digest as _, Sha1};

use crate::parse::{escape_bytes, hex_colons, ParseError};

/// subjectAltName entries kept.
pub const MAX_SAN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Uppercase hex bytes joined by `:`, as Suricata prints serials.
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    /// `YYYY-MM-DDTHH:MM:SS`
    pub not_before: String,
    pub not_after: String,
    pub san: Vec<String>,
    /// SHA-1 of the DER, lowercase hex joined by `:`.
    pub fingerprint: String,
}

fn bad(what: &'static str) -> ParseError {
    ParseError::Malformed { what }
}

/// One DER TLV: tag, contents, and the rest after it.
fn tlv(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), ParseError> {
    let (&tag, rest) = buf.split_first().ok_or(bad("der tag"))?;
    if tag & 0x1f == 0x1f {
        return Err(bad("der high tag number"));
    }
    let (&l0, rest) = rest.split_first().ok_or(bad("der length"))?;
    let (len, rest) = if l0 < 0x80 {
        (l0 as usize, rest)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad("der long length"));
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad("der contents run past end"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect<'a>(
    buf: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), ParseError> {
    let (t, c, r) = tlv(buf)?;
    if t != tag {
        return Err(bad(what));
    }
    Ok((c, r))
}

fn oid_string(b: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for &x in b {
        v = (v << 7) | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
        if v > (1 << 56) {
            break;
        }
    }
    arcs.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn attr_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        other => return other.to_string(),
    }
    .to_string()
}

fn der_string(tag: u8, c: &[u8]) -> String {
    match tag {
        // BMPString: UTF-16BE
        0x1e => {
            let units: Vec<u16> = c
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // UniversalString: UTF-32BE
        0x1c => c
            .chunks_exact(4)
            .map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])).unwrap_or('?'))
            .collect(),
        // UTF8String and the ASCII-ish types
        _ => match std::str::from_utf8(c) {
            Ok(s) => s.to_string(),
            Err(_) => escape_bytes(c),
        },
    }
}

/// A Name as `C=US, O=Example, CN=host`: RDNs in certificate order, multi-valued RDNs joined
/// by ` + `.
fn name_string(mut seq: &[u8]) -> Result<String, ParseError> {
    let mut rdns = Vec::new();
    while !seq.is_empty() {
        let (set, rest) = expect(seq, 0x31, "x509 rdn set")?;
        seq = rest;
        let mut parts = Vec::new();
        let mut s = set;
        while !s.is_empty() {
            let (atv, rest) = expect(s, 0x30, "x509 attribute")?;
            s = rest;
            let (oid, val) = expect(atv, 0x06, "x509 attribute oid")?;
            let (vt, vc, _) = tlv(val)?;
            parts.push(format!(
                "{}={}",
                attr_name(&oid_string(oid)),
                der_string(vt, vc)
            ));
        }
        rdns.push(parts.join(" + "));
    }
    Ok(rdns.join(", "))
}

fn time_string(tag: u8, c: &[u8]) -> Result<String, ParseError> {
    let s = std::str::from_utf8(c).map_err(|_| bad("x509 time"))?;
    let digits = |r: std::ops::Range<usize>| -> Result<&str, ParseError> {
        let d = s.get(r).ok_or(bad("x509 time"))?;
        if d.bytes().all(|b| b.is_ascii_digit()) {
            Ok(d)
        } else {
            Err(bad("x509 time"))
        }
    };
    let (year, rest) = match tag {
        0x17 => {
            let yy: u32 = digits(0..2)?.parse().map_err(|_| bad("x509 time"))?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        0x18 => (digits(0..4)?.parse().map_err(|_| bad("x509 time"))?, 4),
        _ => return Err(bad("x509 time type")),
    };
    Ok(format!(
        "{year:04}-{}-{}T{}:{}:{}",
        digits(rest..rest + 2)?,
        digits(rest + 2..rest + 4)?,
        digits(rest + 4..rest + 6)?,
        digits(rest + 6..rest + 8)?,
        digits(rest + 8..rest + 10)?,
    ))
}

fn san_list(ext_value: &[u8]) -> Result<Vec<String>, ParseError> {
    let (mut seq, _) = expect(ext_value, 0x30, "x509 san")?;
    let mut out = Vec::new();
    while !seq.is_empty() && out.len() < MAX_SAN {
        let (t, c, rest) = tlv(seq)?;
        seq = rest;
        match t {
            // dNSName and uniformResourceIdentifier, as Suricata lists them.
            0x82 | 0x86 => out.push(escape_bytes(c)),
            0x87 if c.len() == 4 => out.push(format!("{}.{}.{}.{}", c[0], c[1], c[2], c[3])),
            0x87 if c.len() == 16 => out.push(crate::dns::parser::format_ipv6(c)),
            _ => {}
        }
    }
    Ok(out)
}

/// Parses one DER certificate.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, ParseError> {
    let (cert, _) = expect(der, 0x30, "x509 certificate")?;
    let (tbs, _) = expect(cert, 0x30, "x509 tbs")?;
    let mut t = tbs;
    let (tag, _, rest) = tlv(t)?;
    if tag == 0xa0 {
        t = rest; // explicit version
    }
    let (serial, rest) = expect(t, 0x02, "x509 serial")?;
    let (_, rest) = expect(rest, 0x30, "x509 signature algorithm")?;
    let (issuer, rest) = expect(rest, 0x30, "x509 issuer")?;
    let (validity, rest) = expect(rest, 0x30, "x509 validity")?;
    let (subject, rest) = expect(rest, 0x30, "x509 subject")?;
    let (_, mut rest) = expect(rest, 0x30, "x509 public key")?;
    let (nbt, nbc, v) = tlv(validity)?;
    let (nat, nac, _) = tlv(v)?;
    let mut san = Vec::new();
    while !rest.is_empty() {
        let (tag, c, r) = tlv(rest)?;
        rest = r;
        if tag != 0xa3 {
            continue;
        }
        let (mut exts, _) = expect(c, 0x30, "x509 extensions")?;
        while !exts.is_empty() {
            let (ext, r) = expect(exts, 0x30, "x509 extension")?;
            exts = r;
            let (oid, mut e) = expect(ext, 0x06, "x509 extension oid")?;
            if let Ok((0x01, _, r)) = tlv(e) {
                e = r; // critical flag
            }
            let (val, _) = expect(e, 0x04, "x509 extension value")?;
            if oid == [0x55, 0x1d, 0x11] {
                san = san_list(val)?;
            }
        }
    }
    Ok(CertInfo {
        serial: hex_colons(serial, true),
        issuer: name_string(issuer)?,
        subject: name_string(subject)?,
        not_before: time_string(nbt, nbc)?,
        not_after: time_string(nat, nac)?,
        san,
        fingerprint: hex_colons(&Sha1::digest(der), false),
    })
}
