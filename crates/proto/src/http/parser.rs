//! Pure HTTP/1.x parsing: the request line, the status line, and a header block, with the
//! limits a per-flow parser needs (RFC 9112).

use crate::parse::ParseError;

/// How a message body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
    /// A response with neither length nor chunking: the body runs until the connection closes.
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// A parsed start line plus headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub start: Vec<u8>,
    pub headers: Vec<Header>,
    /// Headers beyond the count limit, dropped.
    pub dropped_headers: usize,
}

impl Head {
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.as_slice())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    pub method: Vec<u8>,
    pub uri: Vec<u8>,
    /// Empty for HTTP/0.9-style requests.
    pub protocol: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub protocol: Vec<u8>,
    /// The status as sent (three digits normally).
    pub status: Vec<u8>,
    pub reason: Vec<u8>,
}

impl StatusLine {
    pub fn code(&self) -> Option<u16> {
        std::str::from_utf8(&self.status).ok()?.parse().ok()
    }
}

/// Methods detection accepts as the start of an HTTP request.
pub const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
];

pub fn looks_like_request(buf: &[u8]) -> bool {
    METHODS
        .iter()
        .any(|m| buf.len() > m.len() && buf.starts_with(m) && matches!(buf[m.len()], b' ' | b'\t'))
}

pub fn looks_like_response(buf: &[u8]) -> bool {
    buf.starts_with(b"HTTP/1.") || buf.starts_with(b"HTTP/0.9") || buf.starts_with(b"HTTP/2 ")
}

fn split_ws(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|p| !p.is_empty())
}

pub fn parse_request_line(line: &[u8]) -> Result<RequestLine, ParseError> {
    let mut parts = split_ws(line);
    let method = parts.next().ok_or(ParseError::Malformed {
        what: "http request line",
    })?;
    let uri = parts.next().ok_or(ParseError::Malformed {
        what: "http request uri",
    })?;
    let protocol = parts.next().unwrap_or_default();
    // A method is an RFC 9110 token: this also rejects a status line ("HTTP/1.1 200 OK").
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if !method.iter().all(tchar) {
        return Err(ParseError::Malformed {
            what: "http method",
        });
    }
    Ok(RequestLine {
        method: method.to_vec(),
        uri: uri.to_vec(),
        protocol: protocol.to_vec(),
    })
}

pub fn parse_status_line(line: &[u8]) -> Result<StatusLine, ParseError> {
    if !line.starts_with(b"HTTP/") {
        return Err(ParseError::Malformed {
            what: "http status line",
        });
    }
    let sp = line.iter().position(|b| *b == b' ');
    let (protocol, rest) = match sp {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[][..]),
    };
    let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
    let (status, reason) = match rest.iter().position(|b| *b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    Ok(StatusLine {
        protocol: protocol.to_vec(),
        status: status.to_vec(),
        reason: reason.to_vec(),
    })
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &v[s..e.max(s)]
}

/// Finds the end of the head (the empty line), accepting bare LF as well as CRLF. Returns the
/// length of the head including the empty line.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(nl) = buf[i..].iter().position(|b| *b == b'\n') {
        let at = i + nl;
        // An empty line: "\n" right after the previous "\n" (optionally with "\r").
        let line_start = i;
        let line = &buf[line_start..at];
        if (line.is_empty() || line == b"\r") && at > 0 {
            return Some(at + 1);
        }
        i = at + 1;
    }
    None
}

/// Parses a start line and header block from the front of `buf`. `Incomplete` until the
/// empty line arrives; `Limit` if the head is longer than `max_head`.
pub fn parse_head(
    buf: &[u8],
    max_head: usize,
    max_headers: usize,
) -> Result<(Head, usize), ParseError> {
    // Skip empty lines before a request (RFC 9112 section 2.2 allows them).
    let lead = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let b = &buf[lead..];
    let Some(end) = head_end(b) else {
        if b.len() > max_head {
            return Err(ParseError::Limit {
                what: "http header block size",
            });
        }
        return Err(ParseError::Incomplete { needed: 1 });
    };
    if end > max_head {
        return Err(ParseError::Limit {
            what: "http header block size",
        });
    }
    let mut lines = b[..end]
        .split(|c| *c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next().unwrap_or_default().to_vec();
    let mut headers: Vec<Header> = Vec::new();
    let mut dropped = 0;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            // obs-fold: continuation of the previous header value.
            if let Some(h) = headers.last_mut() {
                h.value.push(b' ');
                h.value.extend_from_slice(trim(line));
            }
            continue;
        }
        let (name, value) = match line.iter().position(|c| *c == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &[][..]),
        };
        if headers.len() >= max_headers {
            dropped += 1;
            continue;
        }
        headers.push(Header {
            name: trim(name).to_vec(),
            value: trim(value).to_vec(),
        });
    }
    Ok((
        Head {
            start,
            headers,
            dropped_headers: dropped,
        },
        lead + end,
    ))
}

/// Parses a chunk-size line (`1a;ext=1\r\n`): the size and the bytes the line took.
pub fn parse_chunk_size(buf: &[u8]) -> Result<(u64, usize), ParseError> {
    let Some(nl) = buf.iter().take(1024).position(|b| *b == b'\n') else {
        if buf.len() >= 1024 {
            return Err(ParseError::Limit {
                what: "http chunk size line",
            });
        }
        return Err(ParseError::Incomplete { needed: 1 });
    };
    let line = trim(&buf[..nl]);
    let hex_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if hex_end == 0 || hex_end > 15 {
        return Err(ParseError::Malformed {
            what: "http chunk size",
        });
    }
    let s = std::str::from_utf8(&line[..hex_end]).map_err(|_| ParseError::Malformed {
        what: "http chunk size",
    })?;
    let n = u64::from_str_radix(s, 16).map_err(|_| ParseError::Malformed {
        what: "http chunk size",
    })?;
    Ok((n, nl + 1))
}

/// How the body of a message with this head is delimited. `head_request` says a response
/// answers a HEAD request (so it has no body whatever its headers say).
pub fn body_kind(
    head: &Head,
    is_response: bool,
    status: Option<u16>,
    head_request: bool,
) -> BodyKind {
    if is_response && (head_request || matches!(status, Some(100..=199 | 204 | 304))) {
        return BodyKind::None;
    }
    if let Some(te) = head.header("transfer-encoding") {
        if te
            .split(|b| *b == b',')
            .any(|p| trim(p).eq_ignore_ascii_case(b"chunked"))
        {
            return BodyKind::Chunked;
        }
    }
    if let Some(cl) = head.header("content-length") {
        if let Some(n) = std::str::from_utf8(cl)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return if n == 0 {
                BodyKind::None
            } else {
                BodyKind::Length(n)
            };
        }
    }
    if is_response {
        BodyKind::UntilClose
    } else {
        BodyKind::None
    }
}
