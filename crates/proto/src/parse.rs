//! What every parser in this crate returns, and the byte cursor they read with.
//!
//! Parsers never fail on partial data: they say how many more bytes they need, and the per-flow
//! state keeps the prefix (up to a limit) until those bytes arrive.

/// Why a pure parser function could not return a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input is a valid prefix; at least `needed` more bytes are required.
    #[error("incomplete: at least {needed} more bytes needed")]
    Incomplete {
        /// The minimum number of further bytes before parsing can make progress.
        needed: usize,
    },
    /// The input cannot be this protocol (or this message); `what` names the part that broke.
    #[error("malformed {what}")]
    Malformed {
        /// The field or structure that was wrong.
        what: &'static str,
    },
    /// A length or count is legal on the wire but above what this crate keeps per flow.
    #[error("limit exceeded: {what}")]
    Limit {
        /// The limit that was hit.
        what: &'static str,
    },
}

impl ParseError {
    /// Inside a message whose length is already known, running short means the message lied
    /// about its own size: that is malformed, not incomplete.
    pub fn within(self, what: &'static str) -> ParseError {
        match self {
            ParseError::Incomplete { .. } => ParseError::Malformed { what },
            other => other,
        }
    }
}

/// A forward-only reader over a byte slice. Every read that runs past the end returns
/// `Incomplete` with the exact shortfall.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let have = self.remaining();
        if n > have {
            return Err(ParseError::Incomplete { needed: n - have });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), ParseError> {
        self.take(n).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u24(&mut self) -> Result<u32, ParseError> {
        let b = self.take(3)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub fn u32(&mut self) -> Result<u32, ParseError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A vector prefixed by a one-byte length.
    pub fn vec8(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.u8()? as usize;
        self.take(n)
    }

    /// A vector prefixed by a two-byte length.
    pub fn vec16(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// A vector prefixed by a three-byte length.
    pub fn vec24(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.u24()? as usize;
        self.take(n)
    }
}

/// Lower-case hex, no separators.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Hex bytes joined by `:` (certificate fingerprints and serials).
pub fn hex_colons(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// Printable ASCII kept as is, everything else as `\xNN`, so names and banners with hostile
/// bytes still make a readable, lossless JSON string.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// Standard base64 with padding (EVE carries bodies this way).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Keeps at most `limit` bytes of a growing buffer; reports whether anything was dropped.
pub fn append_capped(buf: &mut Vec<u8>, data: &[u8], limit: usize) -> bool {
    let room = limit.saturating_sub(buf.len());
    let n = room.min(data.len());
    buf.extend_from_slice(&data[..n]);
    n < data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn cursor_reports_exact_shortfall() {
        let mut c = Cursor::new(&[0, 5, 1, 2]);
        assert_eq!(c.vec16(), Err(ParseError::Incomplete { needed: 3 }));
    }

    #[test]
    fn escape_keeps_printable_and_escapes_rest() {
        assert_eq!(escape_bytes(b"a b\x00\xff"), "a b\\x00\\xff");
    }
}
