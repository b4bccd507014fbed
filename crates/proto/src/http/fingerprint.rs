//! JA4H, the HTTP client fingerprint (FoxIO licence 1.1, non-commercial): only built with the
//! `ja4plus` feature. Computed from one request's method, version, header names in order,
//! Accept-Language and cookies.

use sha2::{Digest as _, Sha256};

use super::parser::Head;
use super::state::Request;

/// The fingerprint and its raw form in original order (`JA4H_ro`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja4h {
    pub hash: String,
    pub raw_original: String,
}

fn sha12_or_zero(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = crate::parse::hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cookies(head: &Head) -> Vec<String> {
    head.headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(b"cookie"))
        .flat_map(|h| {
            lossy(&h.value)
                .split(';')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn ja4h(req: &Request) -> Ja4h {
    let head = &req.head;
    let method: String = lossy(&req.line.method)
        .to_ascii_lowercase()
        .chars()
        .take(2)
        .collect();
    let version: String = lossy(&req.line.protocol)
        .trim_start_matches("HTTP/")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(2)
        .collect();
    let version = format!("{version:0<2}");
    let has = |n: &str| head.header(n).is_some();
    let names: Vec<String> = head
        .headers
        .iter()
        .filter(|h| {
            !h.name.eq_ignore_ascii_case(b"cookie") && !h.name.eq_ignore_ascii_case(b"referer")
        })
        .map(|h| lossy(&h.name))
        .collect();
    let lang: String = head
        .header("accept-language")
        .map(|v| {
            lossy(v)
                .replace('-', "")
                .replace(';', ",")
                .to_ascii_lowercase()
                .split(',')
                .next()
                .unwrap_or_default()
                .chars()
                .take(4)
                .collect()
        })
        .unwrap_or_default();
    let a = format!(
        "{method}{version}{}{}{:02}{lang:0<4}",
        if has("cookie") { 'c' } else { 'n' },
        if has("referer") { 'r' } else { 'n' },
        names.len().min(99),
    );
    let pairs = cookies(head);
    let fields: Vec<String> = pairs
        .iter()
        .map(|p| p.split('=').next().unwrap_or_default().to_string())
        .collect();
    let mut sorted_fields = fields.clone();
    sorted_fields.sort();
    // Pairs sort by cookie name first (`a-b=` after `a=`), as FoxIO's reference output does.
    let mut sorted_pairs = pairs.clone();
    sorted_pairs.sort_by(|x, y| {
        let name = |p: &str| p.split('=').next().unwrap_or_default().to_string();
        (name(x), x).cmp(&(name(y), y))
    });
    let header_list = names.join(",");
    Ja4h {
        hash: format!(
            "{a}_{}_{}_{}",
            sha12_or_zero(&header_list),
            sha12_or_zero(&sorted_fields.join(",")),
            sha12_or_zero(&sorted_pairs.join(",")),
        ),
        raw_original: if pairs.is_empty() {
            format!("{a}_{header_list}_")
        } else {
            format!("{a}_{header_list}_{}_{}", fields.join(","), pairs.join(","))
        },
    }
}
