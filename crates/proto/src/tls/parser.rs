//! Pure TLS parsing: record headers, handshake framing, ClientHello, ServerHello and the
//! Certificate message (RFC 8446 / 5246 wire formats).

use crate::parse::{Cursor, ParseError};

/// Largest record fragment a peer may send (2^14 plus the TLS 1.2 expansion allowance).
pub const MAX_RECORD_LEN: usize = 16_384 + 2_048;
/// Largest handshake message reassembled across records; certificate chains fit well below.
pub const MAX_HANDSHAKE_LEN: usize = 65_536;
/// Certificates kept from one Certificate message.
pub const MAX_CERTS: usize = 16;
/// ALPN protocol names kept from one hello.
pub const MAX_ALPNS: usize = 16;

pub const CONTENT_CCS: u8 = 20;
pub const CONTENT_ALERT: u8 = 21;
pub const CONTENT_HANDSHAKE: u8 = 22;
pub const CONTENT_APPDATA: u8 = 23;
pub const CONTENT_HEARTBEAT: u8 = 24;

pub const HS_CLIENT_HELLO: u8 = 1;
pub const HS_SERVER_HELLO: u8 = 2;
pub const HS_CERTIFICATE: u8 = 11;
pub const HS_CERTIFICATE_REQUEST: u8 = 13;
pub const HS_SERVER_HELLO_DONE: u8 = 14;

pub const EXT_SNI: u16 = 0x0000;
pub const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
pub const EXT_EC_POINT_FORMATS: u16 = 0x000b;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_ALPN: u16 = 0x0010;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    pub length: u16,
}

/// Reads the 5-byte record header. Anything that is not a TLS 1.x/SSL 3 record is malformed,
/// which is also what protocol detection relies on.
pub fn parse_record_header(buf: &[u8]) -> Result<RecordHeader, ParseError> {
    let mut c = Cursor::new(buf);
    let content_type = c.u8()?;
    let version = c.u16()?;
    let length = c.u16()?;
    if !(CONTENT_CCS..=CONTENT_HEARTBEAT).contains(&content_type) {
        return Err(ParseError::Malformed {
            what: "tls record content type",
        });
    }
    if version >> 8 != 3 || (version & 0xff) > 4 {
        return Err(ParseError::Malformed {
            what: "tls record version",
        });
    }
    if length as usize > MAX_RECORD_LEN {
        return Err(ParseError::Malformed {
            what: "tls record length",
        });
    }
    Ok(RecordHeader {
        content_type,
        version,
        length,
    })
}

/// One whole record: its header, its fragment, and the bytes it took.
pub fn parse_record(buf: &[u8]) -> Result<(RecordHeader, &[u8], usize), ParseError> {
    let h = parse_record_header(buf)?;
    let mut c = Cursor::new(buf);
    c.skip(5)?;
    let frag = c.take(h.length as usize)?;
    Ok((h, frag, 5 + h.length as usize))
}

/// One whole handshake message from reassembled handshake bytes: type, body, bytes used.
pub fn parse_handshake(buf: &[u8]) -> Result<(u8, &[u8], usize), ParseError> {
    let mut c = Cursor::new(buf);
    let t = c.u8()?;
    let len = c.u24()? as usize;
    if len > MAX_HANDSHAKE_LEN {
        return Err(ParseError::Limit {
            what: "tls handshake message length",
        });
    }
    let body = c.take(len)?;
    Ok((t, body, 4 + len))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub ciphers: Vec<u16>,
    /// Extension types in wire order, GREASE included (fingerprints filter it).
    pub extensions: Vec<u16>,
    pub sni: Option<Vec<u8>>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub sig_algs: Vec<u16>,
    pub alpns: Vec<Vec<u8>>,
    pub supported_versions: Vec<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher: u16,
    pub extensions: Vec<u16>,
    pub selected_version: Option<u16>,
    pub alpn: Option<Vec<u8>>,
    /// A TLS 1.3 HelloRetryRequest: same wire format, the special random value.
    pub hello_retry: bool,
}

/// The ServerHello.random that marks a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// TLS 1.3 drafts before 16 wrote 0x0304 itself in the ServerHello version, which RFC 8446
/// servers never do (they write 0x0303 and name 1.3 in supported_versions); Suricata calls
/// that version "draft-<16", numbered here as 0x7f01 after its constant.
pub const TLS13_PRE_DRAFT16: u16 = 0x7f01;

/// Whether a negotiated version is TLS 1.3 or one of its drafts (everything after the
/// ServerHello encrypted).
pub fn is_tls13(v: u16) -> bool {
    v == 0x0304 || v >> 8 == 0x7f || v >> 8 == 0xfb
}

impl ServerHello {
    /// The version actually negotiated: supported_versions if present (TLS 1.3), else legacy.
    pub fn version(&self) -> u16 {
        match self.selected_version {
            Some(v) => v,
            None if self.legacy_version == 0x0304 => TLS13_PRE_DRAFT16,
            None => self.legacy_version,
        }
    }
}

fn u16_list(b: &[u8], what: &'static str) -> Result<Vec<u16>, ParseError> {
    if !b.len().is_multiple_of(2) {
        return Err(ParseError::Malformed { what });
    }
    Ok(b.chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect())
}

fn alpn_list(b: &[u8]) -> Result<Vec<Vec<u8>>, ParseError> {
    let mut c = Cursor::new(b);
    let list = c.vec16().map_err(|e| e.within("tls alpn extension"))?;
    let mut lc = Cursor::new(list);
    let mut out = Vec::new();
    while !lc.is_empty() {
        let p = lc.vec8().map_err(|e| e.within("tls alpn extension"))?;
        if out.len() < MAX_ALPNS {
            out.push(p.to_vec());
        }
    }
    Ok(out)
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, ParseError> {
    let e = |e: ParseError| e.within("tls client hello");
    let mut c = Cursor::new(body);
    let mut ch = ClientHello {
        legacy_version: c.u16().map_err(e)?,
        ..Default::default()
    };
    ch.random.copy_from_slice(c.take(32).map_err(e)?);
    ch.session_id = c.vec8().map_err(e)?.to_vec();
    ch.ciphers = u16_list(c.vec16().map_err(e)?, "tls cipher suites")?;
    c.vec8().map_err(e)?; // compression methods
    if c.is_empty() {
        return Ok(ch);
    }
    let exts = c.vec16().map_err(e)?;
    let mut ec = Cursor::new(exts);
    while !ec.is_empty() {
        let t = ec.u16().map_err(e)?;
        let data = ec.vec16().map_err(e)?;
        ch.extensions.push(t);
        let ee = |e: ParseError| e.within("tls client hello extension");
        match t {
            EXT_SNI => {
                let mut sc = Cursor::new(data);
                let list = sc.vec16().map_err(ee)?;
                let mut lc = Cursor::new(list);
                while !lc.is_empty() {
                    let kind = lc.u8().map_err(ee)?;
                    let name = lc.vec16().map_err(ee)?;
                    if kind == 0 && ch.sni.is_none() {
                        ch.sni = Some(name.to_vec());
                    }
                }
            }
            EXT_SUPPORTED_GROUPS => {
                ch.groups = u16_list(Cursor::new(data).vec16().map_err(ee)?, "tls groups")?
            }
            EXT_EC_POINT_FORMATS => {
                ch.point_formats = Cursor::new(data).vec8().map_err(ee)?.to_vec()
            }
            EXT_SIGNATURE_ALGORITHMS => {
                ch.sig_algs = u16_list(Cursor::new(data).vec16().map_err(ee)?, "tls sigalgs")?
            }
            EXT_ALPN => ch.alpns = alpn_list(data)?,
            EXT_SUPPORTED_VERSIONS => {
                ch.supported_versions =
                    u16_list(Cursor::new(data).vec8().map_err(ee)?, "tls versions")?
            }
            _ => {}
        }
    }
    Ok(ch)
}

/// Parses a ServerHello body (after the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, ParseError> {
    let e = |e: ParseError| e.within("tls server hello");
    let mut c = Cursor::new(body);
    let mut sh = ServerHello {
        legacy_version: c.u16().map_err(e)?,
        ..Default::default()
    };
    sh.random.copy_from_slice(c.take(32).map_err(e)?);
    sh.hello_retry = sh.random == HRR_RANDOM;
    // TLS 1.3 drafts up to 21 name their version here and have neither a session id nor
    // a compression method; later drafts and RFC 8446 went back to the TLS 1.2 layout.
    let early_draft = sh.legacy_version == 0x0304 || (0x7f00..=0x7f15).contains(&sh.legacy_version);
    if !early_draft {
        sh.session_id = c.vec8().map_err(e)?.to_vec();
    }
    sh.cipher = c.u16().map_err(e)?;
    if !early_draft {
        c.u8().map_err(e)?; // compression method
    }
    if c.is_empty() {
        return Ok(sh);
    }
    let exts = c.vec16().map_err(e)?;
    let mut ec = Cursor::new(exts);
    while !ec.is_empty() {
        let t = ec.u16().map_err(e)?;
        let data = ec.vec16().map_err(e)?;
        sh.extensions.push(t);
        match t {
            EXT_SUPPORTED_VERSIONS if data.len() == 2 => {
                sh.selected_version = Some(u16::from_be_bytes([data[0], data[1]]))
            }
            EXT_ALPN => sh.alpn = alpn_list(data)?.into_iter().next(),
            _ => {}
        }
    }
    Ok(sh)
}

/// The DER certificates of a TLS 1.2-style Certificate message, leaf first, at most
/// `MAX_CERTS`.
pub fn parse_certificate_list(body: &[u8]) -> Result<Vec<&[u8]>, ParseError> {
    let e = |e: ParseError| e.within("tls certificate message");
    let mut c = Cursor::new(body);
    let list = c.vec24().map_err(e)?;
    let mut lc = Cursor::new(list);
    let mut out = Vec::new();
    while !lc.is_empty() && out.len() < MAX_CERTS {
        out.push(lc.vec24().map_err(e)?);
    }
    Ok(out)
}

/// Whether `buf` starts like a TLS handshake record (what detection looks for).
pub fn looks_like_tls(buf: &[u8]) -> bool {
    matches!(parse_record_header(buf), Ok(h) if h.content_type == CONTENT_HANDSHAKE)
        || (buf.len() >= 3 && buf[0] == CONTENT_HANDSHAKE && buf[1] == 3 && buf[2] <= 4)
}
