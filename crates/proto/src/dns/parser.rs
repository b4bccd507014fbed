//! Pure DNS message parsing (RFC 1035 and successors). No state, no allocation beyond the
//! returned message, which is bounded by the limits below.

use crate::parse::{escape_bytes, Cursor, ParseError};

/// Records kept per section; the rest are counted in `Message::dropped_records`.
pub const MAX_RECORDS_PER_SECTION: usize = 64;
/// Compression pointers followed while decoding one name.
pub const MAX_NAME_JUMPS: usize = 32;
/// Longest name we build, in presentation bytes (the wire limit is 255 octets).
pub const MAX_NAME_LEN: usize = 1025;
/// Bytes of TXT / NULL / unknown rdata rendered into a string.
pub const MAX_RDATA_RENDER: usize = 1024;

/// The fixed 12-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000f) as u8
    }
}

/// A decoded domain name. `truncated` says it was longer than `MAX_NAME_LEN` when rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub rrtype: u16,
    pub rrclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name,
}

/// Record data, decoded for the types EVE prints and kept as text for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A([u8; 4]),
    Aaaa([u8; 16]),
    /// CNAME, NS, PTR, and the exchange of MX (EVE drops the preference).
    Name(Name),
    /// One string per TXT character-string (EVE logs each as its own answer entry).
    Txt(Vec<String>),
    /// EDNS(0) options: (code, data).
    Opt(Vec<(u16, Vec<u8>)>),
    Soa(Soa),
    Srv(Srv),
    /// HTTPS / SVCB in presentation-like form: priority, target, then key=value parameters.
    Svcb(String),
    /// NULL and anything we do not decode, escaped.
    Other(String),
    /// OPT pseudo-records and records we chose not to render.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rrtype: u16,
    pub rrclass: u16,
    pub ttl: u32,
    pub rdata: RData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// Records beyond `MAX_RECORDS_PER_SECTION`, skipped but counted.
    pub dropped_records: usize,
}

pub fn parse_header(buf: &[u8]) -> Result<Header, ParseError> {
    let mut c = Cursor::new(buf);
    Ok(Header {
        id: c.u16()?,
        flags: c.u16()?,
        qdcount: c.u16()?,
        ancount: c.u16()?,
        nscount: c.u16()?,
        arcount: c.u16()?,
    })
}

/// Parses one complete DNS message (a UDP payload or one TCP frame without its length).
/// Since the message is complete, running short anywhere is `Malformed`.
pub fn parse_message(msg: &[u8]) -> Result<Message, ParseError> {
    let header = parse_header(msg).map_err(|e| e.within("dns header"))?;
    let mut c = Cursor::new(msg);
    c.skip(12).map_err(|e| e.within("dns header"))?;
    let mut dropped = 0usize;
    let mut questions = Vec::new();
    for _ in 0..header.qdcount {
        let name = read_name(msg, &mut c)?;
        let rrtype = c.u16().map_err(|e| e.within("dns question"))?;
        let rrclass = c.u16().map_err(|e| e.within("dns question"))?;
        if questions.len() < MAX_RECORDS_PER_SECTION {
            questions.push(Question {
                name,
                rrtype,
                rrclass,
            });
        } else {
            dropped += 1;
        }
    }
    let mut sections: [Vec<Record>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (i, count) in [header.ancount, header.nscount, header.arcount]
        .into_iter()
        .enumerate()
    {
        for _ in 0..count {
            let rec = read_record(msg, &mut c)?;
            if sections[i].len() < MAX_RECORDS_PER_SECTION {
                sections[i].push(rec);
            } else {
                dropped += 1;
            }
        }
    }
    let [answers, authorities, additionals] = sections;
    Ok(Message {
        header,
        questions,
        answers,
        authorities,
        additionals,
        dropped_records: dropped,
    })
}

fn read_record(msg: &[u8], c: &mut Cursor<'_>) -> Result<Record, ParseError> {
    let name = read_name(msg, c)?;
    let e = |e: ParseError| e.within("dns record");
    let rrtype = c.u16().map_err(e)?;
    let rrclass = c.u16().map_err(e)?;
    let ttl = c.u32().map_err(e)?;
    let rdlen = c.u16().map_err(e)? as usize;
    let start = c.position();
    let rd = c.take(rdlen).map_err(|e| e.within("dns rdata length"))?;
    let rdata = parse_rdata(msg, start, rd, rrtype)?;
    Ok(Record {
        name,
        rrtype,
        rrclass,
        ttl,
        rdata,
    })
}

fn parse_rdata(msg: &[u8], start: usize, rd: &[u8], rrtype: u16) -> Result<RData, ParseError> {
    let bad = |what| ParseError::Malformed { what };
    // Names inside rdata may point anywhere earlier in the message, so they are read with a
    // cursor over the whole message positioned at the rdata.
    let at = |off: usize| {
        let mut c = Cursor::new(msg);
        c.skip(start + off).map(|_| c)
    };
    Ok(match rrtype {
        1 => RData::A(rd.try_into().map_err(|_| bad("dns A rdata"))?),
        28 => RData::Aaaa(rd.try_into().map_err(|_| bad("dns AAAA rdata"))?),
        2 | 5 | 12 => {
            let mut c = at(0).map_err(|e| e.within("dns rdata"))?;
            RData::Name(read_name(msg, &mut c)?)
        }
        15 => {
            if rd.len() < 3 {
                return Err(bad("dns MX rdata"));
            }
            let mut c = at(2).map_err(|e| e.within("dns rdata"))?;
            RData::Name(read_name(msg, &mut c)?)
        }
        16 => {
            let mut c = Cursor::new(rd);
            let mut strings = Vec::new();
            let mut kept = 0;
            while !c.is_empty() {
                let s = c.vec8().map_err(|e| e.within("dns TXT rdata"))?;
                if kept < MAX_RDATA_RENDER {
                    kept += s.len();
                    strings.push(escape_bytes(s));
                }
            }
            RData::Txt(strings)
        }
        6 => {
            let mut c = at(0).map_err(|e| e.within("dns rdata"))?;
            let mname = read_name(msg, &mut c)?;
            let rname = read_name(msg, &mut c)?;
            let e = |e: ParseError| e.within("dns SOA rdata");
            RData::Soa(Soa {
                mname,
                rname,
                serial: c.u32().map_err(e)?,
                refresh: c.u32().map_err(e)?,
                retry: c.u32().map_err(e)?,
                expire: c.u32().map_err(e)?,
                minimum: c.u32().map_err(e)?,
            })
        }
        33 => {
            let mut c = at(0).map_err(|e| e.within("dns rdata"))?;
            let e = |e: ParseError| e.within("dns SRV rdata");
            let priority = c.u16().map_err(e)?;
            let weight = c.u16().map_err(e)?;
            let port = c.u16().map_err(e)?;
            RData::Srv(Srv {
                priority,
                weight,
                port,
                target: read_name(msg, &mut c)?,
            })
        }
        64 | 65 => RData::Svcb(render_svcb(rd)?),
        41 => {
            let mut c = Cursor::new(rd);
            let mut opts = Vec::new();
            while !c.is_empty() {
                let e = |e: ParseError| e.within("dns OPT rdata");
                let code = c.u16().map_err(e)?;
                let data = c.vec16().map_err(e)?;
                if opts.len() < MAX_RECORDS_PER_SECTION {
                    opts.push((code, data[..data.len().min(MAX_RDATA_RENDER)].to_vec()));
                }
            }
            RData::Opt(opts)
        }
        _ => RData::Other(escape_bytes(&rd[..rd.len().min(MAX_RDATA_RENDER)])),
    })
}

/// SVCB/HTTPS (RFC 9460): "priority target key=value ...". Names in SVCB rdata are never
/// compressed, so the rdata alone suffices.
fn render_svcb(rd: &[u8]) -> Result<String, ParseError> {
    let e = |e: ParseError| e.within("dns SVCB rdata");
    let mut c = Cursor::new(rd);
    let priority = c.u16().map_err(e)?;
    let target = read_name(rd, &mut c)?;
    let mut out = format!("{priority} {}", target.text);
    while !c.is_empty() && out.len() < MAX_RDATA_RENDER {
        let key = c.u16().map_err(e)?;
        let val = c.vec16().map_err(e)?;
        let rendered = match key {
            1 => {
                let mut vc = Cursor::new(val);
                let mut ids = Vec::new();
                while !vc.is_empty() {
                    ids.push(escape_bytes(vc.vec8().map_err(e)?));
                }
                format!("alpn={}", ids.join(","))
            }
            3 if val.len() == 2 => format!("port={}", u16::from_be_bytes([val[0], val[1]])),
            4 => format!(
                "ipv4hint={}",
                val.chunks_exact(4)
                    .map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            6 => format!(
                "ipv6hint={}",
                val.chunks_exact(16)
                    .map(format_ipv6)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => format!("key{key}={}", crate::parse::hex(val)),
        };
        out.push(' ');
        out.push_str(&rendered);
    }
    out.truncate(MAX_RDATA_RENDER);
    Ok(out)
}

/// Reads a possibly compressed name starting at the cursor, leaving the cursor after the
/// name's in-place bytes. Pointers must point strictly backwards from where they were found,
/// so decoding always terminates; the jump limit bounds the work on top of that.
pub fn read_name(msg: &[u8], c: &mut Cursor<'_>) -> Result<Name, ParseError> {
    let mut out: Vec<u8> = Vec::new();
    let mut truncated = false;
    let mut pos = c.position();
    let mut jumps = 0usize;
    let mut resume: Option<usize> = None;
    loop {
        let len = *msg.get(pos).ok_or(ParseError::Malformed {
            what: "dns name runs past message",
        })?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    pos += 1;
                    break;
                }
                let label =
                    msg.get(pos + 1..pos + 1 + len as usize)
                        .ok_or(ParseError::Malformed {
                            what: "dns label runs past message",
                        })?;
                if !out.is_empty() {
                    out.push(b'.');
                }
                out.extend_from_slice(label);
                if out.len() > MAX_NAME_LEN {
                    out.truncate(MAX_NAME_LEN);
                    truncated = true;
                }
                pos += 1 + len as usize;
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(ParseError::Malformed {
                    what: "dns pointer runs past message",
                })?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                if target >= pos {
                    return Err(ParseError::Malformed {
                        what: "dns pointer does not point backwards",
                    });
                }
                jumps += 1;
                if jumps > MAX_NAME_JUMPS {
                    return Err(ParseError::Limit {
                        what: "dns name compression jumps",
                    });
                }
                if resume.is_none() {
                    resume = Some(pos + 2);
                }
                pos = target;
            }
            _ => {
                return Err(ParseError::Malformed {
                    what: "dns label type",
                })
            }
        }
    }
    let end = resume.unwrap_or(pos);
    c.skip(end - c.position())
        .map_err(|e| e.within("dns name"))?;
    let text = if out.is_empty() {
        "<root>".to_string()
    } else {
        escape_bytes(&out)
    };
    Ok(Name { text, truncated })
}

/// IPv6 fully expanded, as Suricata prints addresses in DNS rdata.
pub fn format_ipv6(a: &[u8]) -> String {
    a.chunks(2)
        .map(|p| format!("{:02x}{:02x}", p[0], p.get(1).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(":")
}

/// The mnemonic EVE prints for a record type; unknown types print as their number.
pub fn rrtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        44 => "SSHFP",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return t.to_string(),
    };
    s.to_string()
}

pub fn rcode_name(r: u8) -> String {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return r.to_string(),
    };
    s.to_string()
}

/// Whether `buf` plausibly starts a DNS message: used by protocol detection, so it is strict
/// about the header and then requires the question section to parse.
pub fn looks_like_dns(buf: &[u8]) -> bool {
    let Ok(h) = parse_header(buf) else {
        return false;
    };
    if h.opcode() > 6 || h.qdcount == 0 || h.qdcount > 16 {
        return false;
    }
    let mut c = Cursor::new(buf);
    if c.skip(12).is_err() {
        return false;
    }
    for _ in 0..h.qdcount {
        if read_name(buf, &mut c).is_err() || c.skip(4).is_err() {
            return false;
        }
    }
    true
}
