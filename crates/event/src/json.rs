//! A JSON writer into a byte buffer that gives exactly serde_json's compact output.
//!
//! Sinks write tens of thousands of records a second, and serde_json's `io::Write` path
//! costs a trait call, an error check and an escape-table walk per string even when the
//! string needs no escaping (most do not: names, addresses, hex). Appending to a `Vec<u8>`
//! cannot fail, and a string free of characters to escape is copied in one piece. The
//! output must stay byte-for-byte serde_json's, since EVE consumers and suricata-verify
//! read it; the tests compare the two on awkward inputs.

use serde_json::{Map, Number, Value};

/// Appends `s` as a JSON string, escaped as serde_json escapes it: `"` and `\`, the
/// short forms `\b \t \n \f \r`, other control characters as `\u00xx` (lowercase hex),
/// and nothing else (not `/`, not DEL, not non-ASCII).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends the decimal digits of `n`.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

/// Appends `n` in decimal, with a leading `-` when negative.
pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_u64(out, u);
    } else if let Some(i) = n.as_i64() {
        write_i64(out, i);
    } else {
        // Floats are rare in records; serde_json's own shortest round-trip form keeps
        // them identical. Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, n);
    }
}

/// Appends `value` as compact JSON. Objects keep their map's order (sorted keys, as
/// serde_json's default map is).
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_map(out, map),
    }
}

/// Appends `map` as a JSON object.
pub fn write_map(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn same_as_serde_json(value: &Value) {
        let mut ours = Vec::new();
        write_value(&mut ours, value);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(value).unwrap()
        );
    }

    #[test]
    fn strings_escape_exactly_as_serde_json() {
        let mut every_ascii = String::new();
        for b in 0u8..=0x7f {
            every_ascii.push(char::from(b));
        }
        for s in [
            "",
            "plain",
            "\"",
            "\\",
            "a\"b\\c/d",
            "tab\there\r\n\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "ünïcödé \u{2028} \u{10ffff} 日本",
            &every_ascii,
            "\u{1b}[31mred\u{1b}[0m",
        ] {
            same_as_serde_json(&Value::from(s));
        }
    }

    #[test]
    fn numbers_and_trees_match_serde_json() {
        same_as_serde_json(&json!({
            "zero": 0, "max": u64::MAX, "min": i64::MIN, "neg": -1, "float": 1.5,
            "small": 1e-7, "big": 1e300, "whole": 3.0, "t": true, "f": false, "n": null,
            "arr": [1, "two", [3], {"four": 4}, []], "empty": {},
            "esc\"key\n": "v",
        }));
        for n in [0u64, 9, 10, 99, 100, 12345, 1 << 51, u64::MAX] {
            same_as_serde_json(&Value::from(n));
        }
        for n in [i64::MIN, -1, 0, 1, i64::MAX] {
            same_as_serde_json(&Value::from(n));
        }
    }
}
