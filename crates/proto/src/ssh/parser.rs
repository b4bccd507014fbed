//! Pure SSH parsing: the identification line (RFC 4253 section 4.2), the binary packet
//! framing before encryption, and SSH_MSG_KEXINIT; plus HASSH / HASSH-server.

use md5::{Digest as _, Md5};

use crate::parse::{escape_bytes, Cursor, ParseError};

/// Longest line accepted before the banner (RFC 4253 allows 255 bytes; real servers send
/// longer pre-banner text, so allow some slack).
pub const MAX_LINE: usize = 1024;
/// Lines accepted before the `SSH-` line.
pub const MAX_PRE_BANNER_LINES: usize = 16;
/// RFC 4253 section 6.1: implementations must handle 35000-byte packets; we go no further.
pub const MAX_PACKET: usize = 35_000;

pub const MSG_KEXINIT: u8 = 20;
/// RFC 4253 section 7.3: the sender's packets after this one use the new keys.
pub const MSG_NEWKEYS: u8 = 21;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub proto_version: String,
    pub software_version: String,
    pub comments: Option<String>,
}

/// One line of the identification phase: `Some(banner)` for the `SSH-` line, `None` for other
/// text a server may send first; plus the bytes the line took.
pub fn parse_line(buf: &[u8]) -> Result<(Option<Banner>, usize), ParseError> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_LINE {
            return Err(ParseError::Limit {
                what: "ssh identification line length",
            });
        }
        return Err(ParseError::Incomplete { needed: 1 });
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let Some(rest) = line.strip_prefix(b"SSH-") else {
        return Ok((None, nl + 1));
    };
    let dash = rest
        .iter()
        .position(|&b| b == b'-')
        .ok_or(ParseError::Malformed {
            what: "ssh banner without software version",
        })?;
    let proto = &rest[..dash];
    let after = &rest[dash + 1..];
    let (software, comments) = match after.iter().position(|&b| b == b' ') {
        Some(sp) => (&after[..sp], Some(&after[sp + 1..])),
        None => (after, None),
    };
    if proto.is_empty() {
        return Err(ParseError::Malformed {
            what: "ssh banner protocol version",
        });
    }
    Ok((
        Some(Banner {
            proto_version: escape_bytes(proto),
            software_version: escape_bytes(software),
            comments: comments.map(escape_bytes),
        }),
        nl + 1,
    ))
}

/// One unencrypted binary packet: message type, payload after the type byte, bytes used.
pub fn parse_packet(buf: &[u8]) -> Result<(u8, &[u8], usize), ParseError> {
    let mut c = Cursor::new(buf);
    let len = c.u32()? as usize;
    if len > MAX_PACKET {
        return Err(ParseError::Limit {
            what: "ssh packet length",
        });
    }
    let body = c.take(len)?;
    let (&pad, rest) = body.split_first().ok_or(ParseError::Malformed {
        what: "ssh packet without padding length",
    })?;
    let pad = pad as usize;
    if pad >= rest.len() {
        return Err(ParseError::Malformed {
            what: "ssh padding longer than packet",
        });
    }
    let payload = &rest[..rest.len() - pad];
    Ok((payload[0], &payload[1..], 4 + len))
}

/// The algorithm name-lists of a KEXINIT, verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KexInit {
    pub kex: String,
    pub host_key: String,
    pub enc_c2s: String,
    pub enc_s2c: String,
    pub mac_c2s: String,
    pub mac_s2c: String,
    pub comp_c2s: String,
    pub comp_s2c: String,
    pub lang_c2s: String,
    pub lang_s2c: String,
    pub first_kex_follows: bool,
}

/// Parses the KEXINIT payload after its message-type byte.
pub fn parse_kexinit(payload: &[u8]) -> Result<KexInit, ParseError> {
    let e = |e: ParseError| e.within("ssh kexinit");
    let mut c = Cursor::new(payload);
    c.skip(16).map_err(e)?; // cookie
    let mut lists: [String; 10] = Default::default();
    for l in lists.iter_mut() {
        let n = c.u32().map_err(e)? as usize;
        *l = escape_bytes(c.take(n).map_err(e)?);
    }
    let first_kex_follows = c.u8().map_err(e)? != 0;
    let [kex, host_key, enc_c2s, enc_s2c, mac_c2s, mac_s2c, comp_c2s, comp_s2c, lang_c2s, lang_s2c] =
        lists;
    Ok(KexInit {
        kex,
        host_key,
        enc_c2s,
        enc_s2c,
        mac_c2s,
        mac_s2c,
        comp_c2s,
        comp_s2c,
        lang_c2s,
        lang_s2c,
        first_kex_follows,
    })
}

/// A HASSH string and its MD5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hassh {
    pub string: String,
    pub hash: String,
}

fn hassh_of(s: String) -> Hassh {
    Hassh {
        hash: crate::parse::hex(&Md5::digest(s.as_bytes())),
        string: s,
    }
}

/// HASSH, from the client's KEXINIT: `kex;enc_c2s;mac_c2s;comp_c2s`.
pub fn hassh(k: &KexInit) -> Hassh {
    hassh_of(format!(
        "{};{};{};{}",
        k.kex, k.enc_c2s, k.mac_c2s, k.comp_c2s
    ))
}

/// HASSH-server, from the server's KEXINIT: `kex;enc_s2c;mac_s2c;comp_s2c`.
pub fn hassh_server(k: &KexInit) -> Hassh {
    hassh_of(format!(
        "{};{};{};{}",
        k.kex, k.enc_s2c, k.mac_s2c, k.comp_s2c
    ))
}
