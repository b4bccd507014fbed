//! Splits the `( ... )` part of a rule into `key` / `key:value` options, honouring quoted
//! strings and backslash escapes, and keeping each option's byte offset for diagnostics.

use crate::error::ErrorKind;

/// One option as written: key, optional raw value (trimmed, quotes kept), and offsets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawOption<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
    /// Byte offset of the key in the rule text.
    pub offset: usize,
}

/// A splitting failure: byte offset, the key being read, and what is wrong.
pub(crate) type SplitError<'a> = (usize, &'a str, ErrorKind);

/// Splits the options body. `base` is the byte offset of `body` in the rule text.
pub(crate) fn split_options(body: &str, base: usize) -> Result<Vec<RawOption<'_>>, SplitError<'_>> {
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b':' && bytes[i] != b';' {
            i += 1;
        }
        let key = body[key_start..i].trim();
        if i >= bytes.len() {
            return Err((base + key_start, key, ErrorKind::MissingSemicolon));
        }
        if bytes[i] == b';' {
            out.push(RawOption {
                key,
                value: None,
                offset: base + key_start,
            });
            i += 1;
            continue;
        }
        // The value ends at the first `;` not escaped by a backslash. Quotes do not protect
        // a `;` (Suricata's rule: `pcre:"/["']x/"` is legal, `msg:"a;b"` is not).
        i += 1;
        let value_start = i;
        loop {
            if i >= bytes.len() {
                return Err((base + key_start, key, ErrorKind::MissingSemicolon));
            }
            match bytes[i] {
                b'\\' => i += 2,
                b';' => break,
                _ => i += 1,
            }
        }
        let value = body.get(value_start..i).unwrap_or("").trim();
        out.push(RawOption {
            key,
            value: Some(value),
            offset: base + key_start,
        });
        i += 1;
    }
    Ok(out)
}

/// Strips one pair of surrounding double quotes, if present. A lone opening quote is an error.
pub(crate) fn unquote(v: &str) -> Result<&str, ErrorKind> {
    if let Some(rest) = v.strip_prefix('"') {
        rest.strip_suffix('"').ok_or(ErrorKind::UnterminatedString)
    } else {
        Ok(v)
    }
}

/// Resolves `\;` `\"` `\\` `\:` in free text (msg, reference); other backslashes stay.
pub(crate) fn unescape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if matches!(n, ';' | '"' | '\\' | ':') {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// Parses a content string (without its quotes): text with `\;` `\"` `\\` `\:` escapes and
/// `|41 42|` hex sections.
pub(crate) fn parse_content_bytes(s: &str) -> Result<Vec<u8>, ErrorKind> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut in_hex = false;
    let mut nibble: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if in_hex {
            match b {
                b'|' => {
                    if nibble.is_some() {
                        return Err(ErrorKind::BadHex("odd number of hex digits".into()));
                    }
                    in_hex = false;
                }
                b' ' | b'\t' => {
                    if nibble.is_some() {
                        return Err(ErrorKind::BadHex("space inside a hex byte".into()));
                    }
                }
                _ => {
                    let d = (b as char).to_digit(16).ok_or_else(|| {
                        ErrorKind::BadHex(format!(
                            "`{}` is not a hex digit",
                            s[i..].chars().next().unwrap_or('?')
                        ))
                    })? as u8;
                    match nibble.take() {
                        Some(h) => out.push(h << 4 | d),
                        None => nibble = Some(d),
                    }
                }
            }
            i += 1;
            continue;
        }
        match b {
            b'|' => in_hex = true,
            b'\\' => {
                let n = bytes.get(i + 1).copied().ok_or(ErrorKind::BadEscape(' '))?;
                if !matches!(n, b';' | b'"' | b'\\' | b':') {
                    return Err(ErrorKind::BadEscape(
                        s[i + 1..].chars().next().unwrap_or('?'),
                    ));
                }
                out.push(n);
                i += 1;
            }
            b'"' => return Err(ErrorKind::InvalidValue("unescaped `\"` in content".into())),
            b';' => return Err(ErrorKind::InvalidValue("unescaped `;` in content".into())),
            _ => out.push(b),
        }
        i += 1;
    }
    if in_hex {
        return Err(ErrorKind::BadHex("unterminated `|` section".into()));
    }
    if out.is_empty() {
        return Err(ErrorKind::InvalidValue("empty content".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_quotes_and_escapes() {
        let body = r#"msg:"a\;b \"q\""; content:"x\;y"; nocase; sid:1;"#;
        let o = split_options(body, 0).unwrap();
        let keys: Vec<_> = o.iter().map(|x| x.key).collect();
        assert_eq!(keys, ["msg", "content", "nocase", "sid"]);
        assert_eq!(o[0].value, Some(r#""a\;b \"q\"""#));
        assert_eq!(o[1].value, Some(r#""x\;y""#));
        assert_eq!(o[2].value, None);
        assert_eq!(o[3].offset, body.find("sid").unwrap());
    }

    #[test]
    fn missing_semicolon_and_unterminated_quote() {
        let e = split_options("msg:\"x\"; sid:1", 10).unwrap_err();
        assert_eq!((e.0, e.1, e.2), (19, "sid", ErrorKind::MissingSemicolon));
        // a quote does not protect `;`: the value is cut there and unquote() refuses it
        let o = split_options("msg:\"x; sid:1;", 0).unwrap();
        assert_eq!(o[0].value, Some("\"x"));
        assert_eq!(
            unquote(o[0].value.unwrap()),
            Err(ErrorKind::UnterminatedString)
        );
    }

    #[test]
    fn content_hex_and_escapes() {
        assert_eq!(
            parse_content_bytes("A|42 43|D\\;\\\"\\\\").unwrap(),
            b"ABCD;\"\\"
        );
        assert_eq!(parse_content_bytes("|4142|").unwrap(), b"AB");
        assert!(matches!(
            parse_content_bytes("|4G|"),
            Err(ErrorKind::BadHex(_))
        ));
        assert!(matches!(
            parse_content_bytes("|414|"),
            Err(ErrorKind::BadHex(_))
        ));
        assert!(matches!(
            parse_content_bytes("|41"),
            Err(ErrorKind::BadHex(_))
        ));
        assert!(matches!(
            parse_content_bytes("a\\x"),
            Err(ErrorKind::BadEscape('x'))
        ));
    }
}
