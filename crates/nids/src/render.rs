//! Renders a [`Rule`] back to rule text. `parse(render(rule)) == rule` (round-trip tests);
//! the text is canonical rather than as written: options come out grouped by buffer.

use std::fmt::{self, Write};

use crate::buffers::PAYLOAD;
use crate::keywords::{ByteOp, Content, Endian, FastPattern, NumBase, Value};
use crate::rule::{HeaderCheck, Match, Rule};

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ';' | '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Content bytes as rule text: printable ASCII literally, the rest in `|..|` hex.
pub fn content_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut in_hex = false;
    for &b in bytes {
        let literal = (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b';' | b'\\' | b'|' | b':');
        if literal {
            if in_hex {
                out.push('|');
                in_hex = false;
            }
            out.push(b as char);
        } else {
            if in_hex {
                out.push(' ');
            } else {
                out.push('|');
                in_hex = true;
            }
            let _ = write!(out, "{b:02X}");
        }
    }
    if in_hex {
        out.push('|');
    }
    out
}

fn endian(e: Option<Endian>) -> Option<&'static str> {
    e.map(|e| match e {
        Endian::Big => "big",
        Endian::Little => "little",
        Endian::Dce => "dce",
    })
}

fn base(b: Option<NumBase>) -> Option<&'static str> {
    b.map(|b| match b {
        NumBase::Hex => "string,hex",
        NumBase::Dec => "string,dec",
        NumBase::Oct => "string,oct",
    })
}

fn content(f: &mut fmt::Formatter<'_>, c: &Content) -> fmt::Result {
    write!(
        f,
        " content:{}\"{}\";",
        if c.negated { "!" } else { "" },
        content_text(&c.pattern)
    )?;
    if c.nocase {
        f.write_str(" nocase;")?;
    }
    if c.rawbytes {
        f.write_str(" rawbytes;")?;
    }
    let opt = |f: &mut fmt::Formatter<'_>, k: &str, v: &Option<Value<u32>>| match v {
        Some(v) => write!(f, " {k}:{v};"),
        None => Ok(()),
    };
    opt(f, "depth", &c.depth)?;
    opt(f, "offset", &c.offset)?;
    if let Some(d) = &c.distance {
        write!(f, " distance:{d};")?;
    }
    if let Some(w) = &c.within {
        write!(f, " within:{w};")?;
    }
    if c.startswith {
        f.write_str(" startswith;")?;
    }
    if c.endswith {
        f.write_str(" endswith;")?;
    }
    match c.fast_pattern {
        Some(FastPattern::Whole) => f.write_str(" fast_pattern;")?,
        Some(FastPattern::Only) => f.write_str(" fast_pattern:only;")?,
        Some(FastPattern::Chop(o, l)) => write!(f, " fast_pattern:{o},{l};")?,
        None => {}
    }
    Ok(())
}

fn join(parts: Vec<String>) -> String {
    parts.join(",")
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.header)?;
        if let Some(m) = &self.meta.msg {
            write!(f, "msg:\"{}\";", escape_text(m))?;
        }
        if let Some(fl) = &self.flow {
            write!(f, " flow:{fl};")?;
        }
        for fb in &self.flowbits {
            let keyword = match fb.scope {
                crate::keywords::BitScope::Flow => "flowbits",
                crate::keywords::BitScope::Host { .. } => "hostbits",
            };
            write!(f, " {keyword}:{fb};")?;
        }
        if self.noalert
            && !self
                .flowbits
                .iter()
                .any(|fb| fb.cmd == crate::keywords::FlowbitCmd::NoAlert)
        {
            f.write_str(" noalert;")?;
        }
        for c in &self.checks {
            match c {
                HeaderCheck::Flags(x) => write!(f, " flags:{x};")?,
                HeaderCheck::Ttl(x) => write!(f, " ttl:{x};")?,
                HeaderCheck::Itype(x) => write!(f, " itype:{x};")?,
                HeaderCheck::Icode(x) => write!(f, " icode:{x};")?,
                HeaderCheck::IpProto(x) => write!(f, " ip_proto:{x};")?,
                HeaderCheck::Ack(x) => write!(f, " ack:{x};")?,
                HeaderCheck::Seq(x) => write!(f, " seq:{x};")?,
                HeaderCheck::Window(n, x) => {
                    write!(f, " window:{}{x};", if *n { "!" } else { "" })?
                }
                HeaderCheck::Dsize(x) => write!(f, " dsize:{x};")?,
                HeaderCheck::StreamSize(side, x) => {
                    let s = x.to_string();
                    let (op, n) = match s.find(|c: char| c.is_ascii_digit()) {
                        Some(0) => ("=".to_string(), s.clone()),
                        Some(i) => (s[..i].to_string(), s[i..].to_string()),
                        None => (String::new(), s.clone()),
                    };
                    write!(f, " stream_size:{side},{op},{n};")?
                }
                HeaderCheck::IcmpId(x) => write!(f, " icmp_id:{x};")?,
                HeaderCheck::IcmpSeq(x) => write!(f, " icmp_seq:{x};")?,
                HeaderCheck::TcpMss(x) => write!(f, " tcp.mss:{x};")?,
                HeaderCheck::Checksum(c, valid) => write!(
                    f,
                    " {}:{};",
                    c.keyword(),
                    if *valid { "valid" } else { "invalid" }
                )?,
            }
        }
        for a in &self.app_layer_protocols {
            write!(
                f,
                " app-layer-protocol:{}{}",
                if a.negated { "!" } else { "" },
                a.names.join("|")
            )?;
            if let Some(m) = &a.mode {
                write!(f, ",{m}")?;
            }
            f.write_str(";")?;
        }
        let mut sticky_seen = false;
        for bm in &self.buffers {
            if bm.buffer == PAYLOAD {
                if sticky_seen {
                    f.write_str(" pkt_data;")?;
                }
            } else if crate::buffers::value_keyword(bm.buffer).is_some() {
                // A value keyword names its buffer itself (`dns.opcode:4;`).
            } else {
                sticky_seen = true;
                write!(f, " {};", bm.buffer)?;
                for (t, arg) in &bm.transforms {
                    match arg {
                        Some(a) => write!(f, " {t}:{a};")?,
                        None => write!(f, " {t};")?,
                    }
                }
            }
            for m in &bm.matches {
                match m {
                    Match::Content(c) => content(f, c)?,
                    Match::Pcre(p) => write!(
                        f,
                        " pcre:{}\"/{}/{}{}\";",
                        if p.negated { "!" } else { "" },
                        p.pattern,
                        p.modifier_string(),
                        p.captures_string()
                    )?,
                    Match::IsDataAt(d) => {
                        let mut parts =
                            vec![format!("{}{}", if d.negated { "!" } else { "" }, d.size)];
                        if d.relative {
                            parts.push("relative".into());
                        }
                        if d.rawbytes {
                            parts.push("rawbytes".into());
                        }
                        write!(f, " isdataat:{};", join(parts))?
                    }
                    Match::ByteTest(t) => {
                        let op = match t.op {
                            ByteOp::Lt => "<",
                            ByteOp::Gt => ">",
                            ByteOp::Le => "<=",
                            ByteOp::Ge => ">=",
                            ByteOp::Eq => "=",
                            ByteOp::And => "&",
                            ByteOp::Or => "^",
                        };
                        let mut parts = vec![
                            t.nbytes.to_string(),
                            format!("{}{op}", if t.negated { "!" } else { "" }),
                            t.value.to_string(),
                            t.offset.to_string(),
                        ];
                        if t.relative {
                            parts.push("relative".into());
                        }
                        parts.extend(endian(t.endian).map(String::from));
                        parts.extend(base(t.string).map(String::from));
                        if let Some(m) = t.bitmask {
                            parts.push(format!("bitmask {m}"));
                        }
                        write!(f, " byte_test:{};", join(parts))?
                    }
                    Match::ByteJump(j) => {
                        let mut parts = vec![j.nbytes.to_string(), j.offset.to_string()];
                        if j.relative {
                            parts.push("relative".into());
                        }
                        if let Some(m) = j.multiplier {
                            parts.push(format!("multiplier {m}"));
                        }
                        parts.extend(endian(j.endian).map(String::from));
                        parts.extend(base(j.string).map(String::from));
                        if j.align {
                            parts.push("align".into());
                        }
                        if j.from_beginning {
                            parts.push("from_beginning".into());
                        }
                        if j.from_end {
                            parts.push("from_end".into());
                        }
                        if let Some(p) = j.post_offset {
                            parts.push(format!("post_offset {p}"));
                        }
                        if let Some(m) = j.bitmask {
                            parts.push(format!("bitmask {m}"));
                        }
                        write!(f, " byte_jump:{};", join(parts))?
                    }
                    Match::ByteExtract(e) => {
                        let mut parts =
                            vec![e.nbytes.to_string(), e.offset.to_string(), e.name.clone()];
                        if e.relative {
                            parts.push("relative".into());
                        }
                        if let Some(m) = e.multiplier {
                            parts.push(format!("multiplier {m}"));
                        }
                        parts.extend(endian(e.endian).map(String::from));
                        parts.extend(base(e.string).map(String::from));
                        if let Some(a) = e.align {
                            parts.push(format!("align {a}"));
                        }
                        write!(f, " byte_extract:{};", join(parts))?
                    }
                    Match::ByteMath(m) => write!(f, " byte_math:{m};")?,
                    Match::Bsize(c) => write!(f, " bsize:{c};")?,
                    Match::Uint(c) => write!(f, " {}:{c};", bm.buffer)?,
                    Match::OneOf(neg, names) => write!(
                        f,
                        " {}:{}{};",
                        bm.buffer,
                        if *neg { "!" } else { "" },
                        names.join(",")
                    )?,
                    Match::Asn1(a) => write!(f, " asn1:{a};")?,
                    Match::Absent(false) => f.write_str(" absent;")?,
                    Match::Absent(true) => f.write_str(" absent:or_else;")?,
                    Match::Urilen(c, raw) => {
                        write!(f, " urilen:{c}{};", if *raw { ",raw" } else { "" })?
                    }
                    Match::Base64Decode(d) => {
                        let mut parts = Vec::new();
                        if let Some(b) = d.bytes {
                            parts.push(format!("bytes {b}"));
                        }
                        if let Some(o) = d.offset {
                            parts.push(format!("offset {o}"));
                        }
                        if d.relative {
                            parts.push("relative".into());
                        }
                        if parts.is_empty() {
                            f.write_str(" base64_decode;")?
                        } else {
                            write!(f, " base64_decode:{};", join(parts))?
                        }
                    }
                }
            }
        }
        if let Some(t) = &self.threshold {
            write!(f, " threshold:{t};")?;
        }
        if let Some(t) = &self.detection_filter {
            write!(f, " detection_filter:{t};")?;
        }
        if let Some(t) = &self.target {
            write!(f, " target:{t};")?;
        }
        for o in &self.other {
            match &o.value {
                Some(v) => write!(f, " {}:{v};", o.keyword)?,
                None => write!(f, " {};", o.keyword)?,
            }
        }
        for r in &self.meta.references {
            write!(f, " reference:{},{};", r.system, escape_text(&r.id))?;
        }
        if let Some(c) = &self.meta.classtype {
            write!(f, " classtype:{c};")?;
        }
        if let Some(p) = self.meta.priority {
            write!(f, " priority:{p};")?;
        }
        if let Some(g) = self.meta.gid {
            write!(f, " gid:{g};")?;
        }
        write!(f, " sid:{};", self.meta.sid)?;
        if let Some(r) = self.meta.rev {
            write!(f, " rev:{r};")?;
        }
        if !self.meta.metadata_text.is_empty() {
            write!(f, " metadata:{};", self.meta.metadata_text)?;
        }
        f.write_str(")")
    }
}
