//! A parsed rule and the parser that builds it from one logical rule's text.
//!
//! Options are applied in order, as Suricata does: a sticky buffer keyword (`http.uri;`)
//! selects the buffer that following `content`/`pcre`/`isdataat`/`byte_*`/`bsize` attach to;
//! a legacy modifier (`content:"x"; http_uri;`) moves the previous content into its buffer;
//! content modifiers (`nocase`, `depth`, `distance`...) change the previous content.

use std::sync::Arc;

use crate::buffers::{self, PAYLOAD};
use crate::error::{ErrorKind, Position, RuleError};
use crate::header::{header_fields, Action, AddressExpr, Direction, Header, PortExpr, Protocol};
use crate::keywords::*;
use crate::options::{parse_content_bytes, split_options, unescape_text, unquote, RawOption};
use crate::source::RuleText;

/// One inspection on a buffer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Match {
    Content(Content),
    Pcre(Pcre),
    IsDataAt(IsDataAt),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract(ByteExtract),
    /// Boxed: the largest inspection and the rarest (none in ET Open), so it does not set
    /// the size of every other.
    ByteMath(Box<ByteMath>),
    /// `bsize`: the buffer's length.
    Bsize(NumCmp),
    /// `urilen[:...][,raw|norm]`: the URI length (raw when the flag is set).
    Urilen(NumCmp, bool),
    Base64Decode(Base64Decode),
    /// Suricata 8 `absent[:or_else]`: the buffer must not exist (or, with `or_else`, may
    /// be absent instead of matching the other inspections).
    Absent(bool),
    Asn1(Asn1),
    /// An integer keyword (`dns.opcode:!0`, `tls.cert_chain_len:<4`): the app layer exposes
    /// the value as a buffer named after the keyword, holding its decimal digits.
    Uint(NumCmp),
    /// An enumerated keyword (`ssl_version:!tls1.3,tls1.2`): the buffer named after the
    /// keyword holds one name, which must be in the list (negated: must not be).
    OneOf(bool, Vec<String>),
}

/// The inspections on one buffer, after its transforms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BufferMatches {
    /// Canonical buffer name ([`buffers::PAYLOAD`] for the packet/stream payload).
    pub buffer: &'static str,
    /// Transforms (`dotprefix`, `to_lowercase`...) with their optional argument.
    pub transforms: Vec<(&'static str, Option<String>)>,
    /// Inspections, in rule order.
    pub matches: Vec<Match>,
}

/// A packet-header or flow-level check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum HeaderCheck {
    Flags(TcpFlags),
    Ttl(NumCmp),
    Itype(NumCmp),
    Icode(NumCmp),
    /// `ip_proto`, as a number comparison (names are turned into numbers).
    IpProto(NumCmp),
    Ack(u32),
    Seq(u32),
    /// `window:[!]N`.
    Window(bool, u16),
    Dsize(NumCmp),
    /// `stream_size:<client|server|both|either>,<op>,<n>`.
    StreamSize(String, NumCmp),
    /// `icmp_id`: the identifier of an ICMP echo, timestamp, information or mask message.
    IcmpId(NumCmp),
    /// `icmp_seq`: the sequence number of the same messages.
    IcmpSeq(NumCmp),
    /// `tcp.mss`: the value of the TCP maximum segment size option, when present.
    TcpMss(NumCmp),
    /// `ipv4-csum`, `tcpv4-csum`, ... `:valid|invalid`: whether that header's checksum is
    /// right (`true` asks for a valid one).
    Checksum(Checksum, bool),
}

/// `app-layer-protocol:[!]<name>[|<name>...][,<mode>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppLayerProtocol {
    /// `!`: the flow's protocol is known and none of `names`.
    pub negated: bool,
    /// Alternatives as written: protocol names, `failed` (detection gave up) or `unknown`
    /// (not detected yet).
    pub names: Vec<String>,
    /// Which of the flow's protocols to look at (`to_server`, `final`, ...); `None` is
    /// Suricata's default, `direction`.
    pub mode: Option<String>,
}

/// Which checksum a checksum keyword validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Checksum {
    Ipv4,
    Tcpv4,
    Tcpv6,
    Udpv4,
    Udpv6,
    Icmpv4,
    Icmpv6,
}

const CHECKSUMS: &[(&str, Checksum)] = &[
    ("ipv4-csum", Checksum::Ipv4),
    ("tcpv4-csum", Checksum::Tcpv4),
    ("tcpv6-csum", Checksum::Tcpv6),
    ("udpv4-csum", Checksum::Udpv4),
    ("udpv6-csum", Checksum::Udpv6),
    ("icmpv4-csum", Checksum::Icmpv4),
    ("icmpv6-csum", Checksum::Icmpv6),
];

impl Checksum {
    fn from_keyword(k: &str) -> Option<Checksum> {
        CHECKSUMS.iter().find(|(n, _)| *n == k).map(|(_, c)| *c)
    }

    /// The rule keyword that asks for this checksum.
    pub fn keyword(self) -> &'static str {
        CHECKSUMS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(n, _)| *n)
    }
}

/// `reference:<system>,<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct Reference {
    pub system: String,
    pub id: String,
}

/// Rule metadata: what the alert says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[allow(missing_docs)]
pub struct Meta {
    pub msg: Option<String>,
    pub sid: u64,
    pub rev: Option<u32>,
    pub gid: Option<u32>,
    /// Shared between rules of a ruleset (there are a few dozen classtypes).
    pub classtype: Option<Arc<str>>,
    pub priority: Option<u8>,
    pub references: Vec<Reference>,
    /// `metadata` entries, normalised to `key value, key value` and kept as one string:
    /// ET Open has some 186,000 entries, and one allocation per rule instead of two per
    /// entry saves tens of megabytes. Read them with [`Meta::metadata`].
    pub(crate) metadata_text: String,
}

impl Meta {
    /// `metadata` entries as `(key, value)`, in order (value empty when there is none).
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata_text
            .split(", ")
            .filter(|e| !e.is_empty())
            .map(|e| e.split_once(' ').unwrap_or((e, "")))
    }
}

/// A keyword picket parses and keeps but whose value it does not type further.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct OtherOption {
    pub keyword: String,
    pub value: Option<String>,
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct Rule {
    pub header: Header,
    pub meta: Meta,
    /// Buffers with their inspections, in order of first use.
    pub buffers: Vec<BufferMatches>,
    pub checks: Vec<HeaderCheck>,
    pub flow: Option<Flow>,
    pub flowbits: Vec<Flowbits>,
    /// Boxed, as are other options few rules use: every rule pays for the inline size.
    pub threshold: Option<Box<Threshold>>,
    pub detection_filter: Option<Box<Threshold>>,
    /// `app-layer-protocol` conditions; all must hold.
    pub app_layer_protocols: Vec<AppLayerProtocol>,
    /// `noalert` (or `flowbits:noalert`).
    pub noalert: bool,
    /// `target:src_ip|dest_ip`.
    pub target: Option<String>,
    /// Keywords kept as written (`xbits`, `flowint`, `tag`, `tls.version`...).
    pub other: Vec<OtherOption>,
}

impl Rule {
    /// All contents of the rule with the buffer each inspects.
    pub fn contents(&self) -> impl Iterator<Item = (&'static str, &Content)> {
        self.buffers.iter().flat_map(|b| {
            b.matches.iter().filter_map(move |m| match m {
                Match::Content(c) => Some((b.buffer, c)),
                _ => None,
            })
        })
    }

    /// Gives back the spare capacity the parser's vectors and strings grew while pushing.
    /// A ruleset holds tens of thousands of rules for the sensor's whole life: with ET Open
    /// the slack was about 15 MiB, a tenth of the sensor's peak memory.
    pub fn shrink_to_fit(&mut self) {
        for b in &mut self.buffers {
            b.transforms.shrink_to_fit();
            for m in &mut b.matches {
                match m {
                    Match::Content(c) => c.pattern.shrink_to_fit(),
                    Match::Pcre(p) => {
                        p.pattern.shrink_to_fit();
                        p.captures.shrink_to_fit();
                    }
                    _ => {}
                }
            }
            b.matches.shrink_to_fit();
        }
        self.buffers.shrink_to_fit();
        self.checks.shrink_to_fit();
        self.flowbits.shrink_to_fit();
        self.app_layer_protocols.shrink_to_fit();
        self.other.shrink_to_fit();
        if let Some(msg) = &mut self.meta.msg {
            msg.shrink_to_fit();
        }
        for r in &mut self.meta.references {
            r.system.shrink_to_fit();
            r.id.shrink_to_fit();
        }
        self.meta.references.shrink_to_fit();
        self.meta.metadata_text.shrink_to_fit();
    }

    /// The app-layer protocol the rule is about: from the header, else from its buffers or
    /// `app-layer-protocol`.
    pub fn app_layer(&self) -> Option<&str> {
        self.header.protocol.app_layer().or_else(|| {
            self.buffers
                .iter()
                .find_map(|b| buffers::buffer_protocol(b.buffer))
                .and_then(|p| p.split('|').next())
        })
    }
}

/// Keywords Suricata knows that picket does not implement: a rule using one is skipped
/// with `UnsupportedKeyword` rather than `UnknownKeyword`.
const UNSUPPORTED: &[&str] = &[
    "flow.pkts",
    "flow.bytes",
    "flow.elephant",
    "tld",
    "domain",
    "lua",
    "luajit",
    "dataset",
    "datarep",
    "iprep",
    "replace",
    "filestore",
    "filemagic",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesize",
    "fileext",
    "fragbits",
    "fragoffset",
    "id",
    "ipopts",
    "sameip",
    "geoip",
    "app-layer-state",
    "ssl_state",
    "tls.store",
    "tls_cert_notbefore",
    "tls_cert_notafter",
    "tls_cert_expired",
    "tls_cert_valid",
    "dce_iface",
    "dce_opnum",
    "dce_stub_data",
    "dnp3_func",
    "dnp3_ind",
    "dnp3_obj",
    "dnp3_data",
    "modbus",
    "enip_command",
    "cip_service",
    "krb5_msg_type",
    "krb5_cname",
    "krb5_sname",
    "krb5_err_code",
    "snmp.version",
    "snmp.community",
    "snmp.pdu_type",
    "sip.method",
    "sip.uri",
    "http2.frametype",
    "http2.errorcode",
    "http2.priority",
    "http2.window",
    "http2.settings",
    "http2.header_name",
    "mqtt.type",
    "mqtt.topic",
    "rfb.name",
    "rfb.secresult",
    "rfb.sectype",
    "icode_seq",
    "pkt_data_raw",
    "ike.vendor",
    "quic.sni",
    "quic.ua",
    "quic.version",
    "quic.cyu.hash",
    "quic.cyu.string",
    "nfs_procedure",
    "nfs.version",
    "ntp",
    "rpc",
    "stream_reassemble",
    "requires",
    "transform",
    "file.magic",
    "file.name.raw",
    "bypass",
    "l3_proto",
    "dns.rcode",
    "dns.rrtype",
    "dhcp.leasetime",
    "frame",
    "entropy",
];

/// Keywords kept as [`OtherOption`]: parsed for syntax only, evaluated by no engine yet.
const KEPT_AS_WRITTEN: &[&str] = &[
    "prefilter",
    "ftpbounce",
    "requires",
    "stream-event",
    "decode-event",
    "engine-event",
    "xbits",
    "flowint",
    "tag",
    "tls.version",
    "app-layer-event",
    "ssh.protoversion",
    "ssh.softwareversion",
    "pcrexform",
    "config",
];

fn err(position: Position, keyword: &str, kind: ErrorKind) -> RuleError {
    RuleError {
        position,
        keyword: keyword.to_string(),
        kind,
    }
}

struct Builder {
    buffers: Vec<BufferMatches>,
    /// The buffer new matches go to: name and pending transforms.
    current: (&'static str, Vec<(&'static str, Option<String>)>),
    /// Where the last `content` is: (buffer index, match index).
    last_content: Option<(usize, usize)>,
    /// Variables defined by byte_extract so far.
    extract_vars: Vec<String>,
    fast_pattern_seen: bool,
    /// byte_extract variable uses: (name, index of the option using it).
    var_uses: Vec<(String, usize)>,
    /// Index of the option being applied.
    option_index: usize,
}

impl Builder {
    fn buffer_index(
        &mut self,
        name: &'static str,
        transforms: &[(&'static str, Option<String>)],
    ) -> usize {
        if let Some(i) = self
            .buffers
            .iter()
            .position(|b| b.buffer == name && b.transforms == transforms)
        {
            return i;
        }
        self.buffers.push(BufferMatches {
            buffer: name,
            transforms: transforms.to_vec(),
            matches: Vec::new(),
        });
        self.buffers.len() - 1
    }

    fn push(&mut self, m: Match) -> (usize, usize) {
        let (name, transforms) = (self.current.0, self.current.1.clone());
        self.push_to(name, &transforms, m)
    }

    fn push_to(
        &mut self,
        name: &'static str,
        transforms: &[(&'static str, Option<String>)],
        m: Match,
    ) -> (usize, usize) {
        let bi = self.buffer_index(name, transforms);
        let list = &mut self.buffers[bi].matches;
        list.push(m);
        (bi, list.len() - 1)
    }

    fn last_content_mut(&mut self) -> Result<&mut Content, ErrorKind> {
        let (b, m) = self.last_content.ok_or(ErrorKind::NoPrecedingContent)?;
        match self.buffers.get_mut(b).and_then(|bm| bm.matches.get_mut(m)) {
            Some(Match::Content(c)) => Ok(c),
            _ => Err(ErrorKind::NoPrecedingContent),
        }
    }

    /// Notes a use of a byte_extract variable. Uses are checked once the whole rule is
    /// read: rendering groups inspections by buffer, which can put a use before its
    /// byte_extract in the text, and a rendered rule must parse back.
    fn check_var<T>(&mut self, v: &Value<T>) -> Result<(), ErrorKind> {
        if let Value::Var(name) = v {
            self.var_uses.push((name.to_string(), self.option_index));
        }
        Ok(())
    }
}

/// Parses one logical rule. The caller decides what to do with the error (skip the rule).
pub fn parse_rule(rt: &RuleText) -> Result<Rule, RuleError> {
    let text = rt.text.as_str();
    let pos = |off: usize| rt.position(off);
    let open = text
        .find('(')
        .ok_or_else(|| err(pos(0), "options", ErrorKind::MissingParentheses))?;
    let close = text
        .rfind(')')
        .filter(|&c| c > open)
        .ok_or_else(|| err(pos(open), "options", ErrorKind::MissingParentheses))?;
    if !text[close + 1..].trim().is_empty() {
        return Err(err(
            pos(close + 1),
            "options",
            ErrorKind::MissingParentheses,
        ));
    }
    let header = parse_header(&text[..open], rt)?;
    let opts = split_options(&text[open + 1..close], open + 1)
        .map_err(|(off, key, kind)| err(pos(off), key, kind))?;

    let mut rule = Rule {
        header,
        meta: Meta::default(),
        buffers: Vec::new(),
        checks: Vec::new(),
        flow: None,
        flowbits: Vec::new(),
        threshold: None,
        detection_filter: None,
        app_layer_protocols: Vec::new(),
        noalert: false,
        target: None,
        other: Vec::new(),
    };
    let mut b = Builder {
        buffers: Vec::new(),
        current: (PAYLOAD, Vec::new()),
        last_content: None,
        extract_vars: Vec::new(),
        fast_pattern_seen: false,
        var_uses: Vec::new(),
        option_index: 0,
    };
    let mut sid_seen = false;
    for (i, opt) in opts.iter().enumerate() {
        b.option_index = i;
        apply_option(&mut rule, &mut b, opt, &mut sid_seen)
            .map_err(|kind| err(pos(opt.offset), opt.key, kind))?;
    }
    if let Some((name, i)) = b.var_uses.iter().find(|(n, _)| !b.extract_vars.contains(n)) {
        let opt = &opts[*i];
        return Err(err(
            pos(opt.offset),
            opt.key,
            ErrorKind::InvalidValue(format!("`{name}` is not a byte_extract variable")),
        ));
    }
    if !sid_seen {
        return Err(err(pos(open), "sid", ErrorKind::MissingSid));
    }
    // Buffers that were selected but never given an inspection still mean "this buffer
    // must exist"; Suricata keeps them, and so do we (they were created on use only).
    rule.buffers = b.buffers;
    check_protocols(&rule, rt, &opts)?;
    Ok(rule)
}

fn parse_header(h: &str, rt: &RuleText) -> Result<Header, RuleError> {
    let fields = header_fields(h).ok_or_else(|| {
        err(
            rt.position(0),
            "header",
            ErrorKind::MalformedHeader("unbalanced `[`".into()),
        )
    })?;
    if fields.len() != 7 {
        return Err(err(
            rt.position(fields.first().map_or(0, |f| f.0)),
            "header",
            ErrorKind::MalformedHeader(format!(
                "expected 7 fields before `(`, found {}",
                fields.len()
            )),
        ));
    }
    let at = |i: usize| rt.position(fields[i].0);
    let action = Action::parse(fields[0].1).ok_or_else(|| {
        err(
            at(0),
            "action",
            ErrorKind::UnknownAction(fields[0].1.into()),
        )
    })?;
    let protocol = Protocol::parse(fields[1].1).ok_or_else(|| {
        err(
            at(1),
            "protocol",
            ErrorKind::UnknownProtocol(fields[1].1.into()),
        )
    })?;
    let addr = |i: usize| {
        AddressExpr::parse(fields[i].1)
            .ok_or_else(|| err(at(i), "address", ErrorKind::BadAddress(fields[i].1.into())))
    };
    let port = |i: usize| {
        PortExpr::parse(fields[i].1)
            .ok_or_else(|| err(at(i), "port", ErrorKind::BadPort(fields[i].1.into())))
    };
    let src = addr(2)?;
    let src_ports = port(3)?;
    let direction = Direction::parse(fields[4].1).ok_or_else(|| {
        err(
            at(4),
            "direction",
            ErrorKind::BadDirection(fields[4].1.into()),
        )
    })?;
    let dst = addr(5)?;
    let dst_ports = port(6)?;
    Ok(Header {
        action,
        protocol,
        src: Arc::new(src),
        src_ports: Arc::new(src_ports),
        direction,
        dst: Arc::new(dst),
        dst_ports: Arc::new(dst_ports),
    })
}

fn need(v: Option<&str>) -> Result<&str, ErrorKind> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ErrorKind::MissingValue),
    }
}

fn none(v: Option<&str>) -> Result<(), ErrorKind> {
    match v {
        None => Ok(()),
        Some(_) => Err(ErrorKind::UnexpectedValue),
    }
}

fn num<T: std::str::FromStr>(v: Option<&str>) -> Result<T, ErrorKind> {
    let s = need(v)?;
    s.trim()
        .parse()
        .map_err(|_| ErrorKind::InvalidValue(format!("`{s}` is not a valid number")))
}

fn apply_option(
    rule: &mut Rule,
    b: &mut Builder,
    opt: &RawOption<'_>,
    sid_seen: &mut bool,
) -> Result<(), ErrorKind> {
    let v = opt.value;
    let key = opt.key;
    match key {
        "msg" => rule.meta.msg = Some(unescape_text(unquote(need(v)?)?)),
        "sid" => {
            let sid: u64 = num(v)?;
            if sid == 0 {
                return Err(ErrorKind::InvalidValue("sid must be greater than 0".into()));
            }
            if *sid_seen {
                return Err(ErrorKind::Conflict("another sid".into()));
            }
            *sid_seen = true;
            rule.meta.sid = sid;
        }
        "rev" => rule.meta.rev = Some(num(v)?),
        "gid" => rule.meta.gid = Some(num(v)?),
        "priority" => {
            let p: u8 = num(v)?;
            if p == 0 {
                return Err(ErrorKind::InvalidValue("priority must be 1 or more".into()));
            }
            rule.meta.priority = Some(p)
        }
        "classtype" => {
            let c = need(v)?.trim();
            if !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(ErrorKind::InvalidValue(format!("bad classtype `{c}`")));
            }
            if rule.meta.classtype.is_some() {
                return Err(ErrorKind::Conflict("another classtype".into()));
            }
            rule.meta.classtype = Some(Arc::from(c))
        }
        "reference" => {
            let r = need(v)?;
            let (system, id) = r
                .split_once(',')
                .ok_or_else(|| ErrorKind::InvalidValue("reference needs `system,id`".into()))?;
            rule.meta.references.push(Reference {
                system: system.trim().to_string(),
                id: unescape_text(unquote(id.trim())?),
            });
        }
        "metadata" => {
            for item in need(v)?.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                let (k, val) = item.split_once(char::is_whitespace).unwrap_or((item, ""));
                let text = &mut rule.meta.metadata_text;
                if !text.is_empty() {
                    text.push_str(", ");
                }
                text.push_str(k);
                let val = val.trim();
                if !val.is_empty() {
                    text.push(' ');
                    text.push_str(val);
                }
            }
        }
        "content" | "uricontent" => {
            let raw = need(v)?;
            let (negated, rest) = match raw.strip_prefix('!') {
                Some(r) => (true, r.trim_start()),
                None => (false, raw),
            };
            if !rest.starts_with('"') {
                return Err(ErrorKind::InvalidValue("content must be quoted".into()));
            }
            let pattern = parse_content_bytes(unquote(rest)?)?;
            let c = Content {
                pattern,
                negated,
                ..Content::default()
            };
            // `uricontent` is the old spelling of `content` + `http_uri`.
            b.last_content = Some(if key == "uricontent" {
                b.push_to("http.uri", &[], Match::Content(c))
            } else {
                b.push(Match::Content(c))
            });
        }
        "nocase" => {
            none(v)?;
            let c = b.last_content_mut()?;
            if c.nocase {
                return Err(ErrorKind::Conflict("another nocase".into()));
            }
            c.nocase = true;
        }
        "rawbytes" => {
            none(v)?;
            if b.current.0 != PAYLOAD {
                return Err(ErrorKind::Conflict(format!(
                    "sticky buffer {}",
                    b.current.0
                )));
            }
            b.last_content_mut()?.rawbytes = true;
        }
        "depth" | "offset" => {
            let val = parse_value::<u32>(need(v)?)?;
            b.check_var(&val)?;
            let c = b.last_content_mut()?;
            if c.distance.is_some() || c.within.is_some() {
                return Err(ErrorKind::Conflict(
                    "distance/within on the same content".into(),
                ));
            }
            if c.startswith {
                return Err(ErrorKind::Conflict("startswith".into()));
            }
            let slot = if key == "depth" {
                &mut c.depth
            } else {
                &mut c.offset
            };
            if slot.is_some() {
                return Err(ErrorKind::Conflict(format!("another {key}")));
            }
            if key == "depth" {
                if let (Value::Num(d), false) = (&val, c.negated) {
                    if (*d as usize) < c.pattern.len() {
                        return Err(ErrorKind::InvalidValue(format!(
                            "depth {d} is smaller than the content length {}",
                            c.pattern.len()
                        )));
                    }
                }
            }
            *slot = Some(val);
        }
        "distance" | "within" => {
            let val = parse_value::<i32>(need(v)?)?;
            b.check_var(&val)?;
            let c = b.last_content_mut()?;
            if c.depth.is_some() || c.offset.is_some() {
                return Err(ErrorKind::Conflict(
                    "depth/offset on the same content".into(),
                ));
            }
            if c.startswith {
                return Err(ErrorKind::Conflict("startswith".into()));
            }
            let slot = if key == "distance" {
                &mut c.distance
            } else {
                &mut c.within
            };
            if slot.is_some() {
                return Err(ErrorKind::Conflict(format!("another {key}")));
            }
            if key == "within" {
                if let Value::Num(w) = &val {
                    if !c.negated && (*w < 0 || (*w as usize) < c.pattern.len()) {
                        return Err(ErrorKind::InvalidValue(format!(
                            "within {w} is smaller than the content length {}",
                            c.pattern.len()
                        )));
                    }
                }
            }
            *slot = Some(val);
        }
        "startswith" => {
            none(v)?;
            let c = b.last_content_mut()?;
            if c.depth.is_some() || c.offset.is_some() || c.distance.is_some() || c.within.is_some()
            {
                return Err(ErrorKind::Conflict("depth/offset/distance/within".into()));
            }
            if c.startswith {
                return Err(ErrorKind::Conflict("another startswith".into()));
            }
            c.startswith = true;
        }
        "endswith" => {
            none(v)?;
            let c = b.last_content_mut()?;
            if c.endswith {
                return Err(ErrorKind::Conflict("another endswith".into()));
            }
            c.endswith = true;
        }
        "fast_pattern" => {
            let fp = match v {
                None => FastPattern::Whole,
                Some("only") => FastPattern::Only,
                Some(s) => {
                    let (o, l) = s.split_once(',').ok_or_else(|| {
                        ErrorKind::InvalidValue(format!("bad fast_pattern `{s}`"))
                    })?;
                    let o: u16 = o
                        .trim()
                        .parse()
                        .map_err(|_| ErrorKind::InvalidValue(format!("bad offset `{o}`")))?;
                    let l: u16 = l
                        .trim()
                        .parse()
                        .map_err(|_| ErrorKind::InvalidValue(format!("bad length `{l}`")))?;
                    FastPattern::Chop(o, l)
                }
            };
            if b.fast_pattern_seen {
                return Err(ErrorKind::Conflict(
                    "fast_pattern on another content".into(),
                ));
            }
            let c = b.last_content_mut()?;
            if c.negated && fp != FastPattern::Whole {
                return Err(ErrorKind::Conflict("a negated content".into()));
            }
            if let FastPattern::Chop(o, l) = fp {
                if l == 0 || usize::from(o) + usize::from(l) > c.pattern.len() {
                    return Err(ErrorKind::InvalidValue(
                        "fast_pattern slice is outside the content".into(),
                    ));
                }
            }
            c.fast_pattern = Some(fp);
            b.fast_pattern_seen = true;
        }
        "pcre" => {
            let p = Pcre::parse(need(v)?)?;
            match p.buffer {
                // Under a sticky buffer the letter must agree with it; `Q` agrees with both
                // file.data and http.response_body, which are the same HTTP body.
                Some(buf) if b.current.0 != PAYLOAD => {
                    let body = |x: &str| x == "file.data" || x == "http.response_body";
                    if b.current.0 != buf && !(body(buf) && body(b.current.0)) {
                        return Err(ErrorKind::Conflict(format!(
                            "sticky buffer {}",
                            b.current.0
                        )));
                    }
                    b.push(Match::Pcre(p));
                }
                Some(buf) => {
                    b.push_to(buf, &[], Match::Pcre(p));
                }
                None => {
                    b.push(Match::Pcre(p));
                }
            }
        }
        "isdataat" => {
            let d = IsDataAt::parse(need(v)?)?;
            b.check_var(&d.size)?;
            b.push(Match::IsDataAt(d));
        }
        "byte_test" => {
            let t = ByteTest::parse(need(v)?)?;
            b.check_var(&t.nbytes)?;
            b.check_var(&t.value)?;
            b.check_var(&t.offset)?;
            b.push(Match::ByteTest(t));
        }
        "byte_jump" => {
            let j = ByteJump::parse(need(v)?)?;
            b.check_var(&j.nbytes)?;
            b.check_var(&j.offset)?;
            b.push(Match::ByteJump(j));
        }
        "byte_extract" => {
            let e = ByteExtract::parse(need(v)?)?;
            b.extract_vars.push(e.name.clone());
            b.push(Match::ByteExtract(e));
        }
        "byte_math" => {
            let m = ByteMath::parse(need(v)?)?;
            b.check_var(&m.nbytes)?;
            b.check_var(&m.offset)?;
            b.check_var(&m.rvalue)?;
            b.extract_vars.push(m.result.clone());
            b.push(Match::ByteMath(Box::new(m)));
        }
        "bsize" => {
            if b.current.0 == PAYLOAD {
                return Err(ErrorKind::InvalidValue(
                    "bsize needs a sticky buffer".into(),
                ));
            }
            b.push(Match::Bsize(NumCmp::parse(need(v)?, u64::MAX)?));
        }
        "urilen" => {
            let s = need(v)?;
            let (cmp, raw) = match s.split_once(',').map(|(c, o)| (c, o.trim())) {
                Some((c, "raw")) => (c, true),
                Some((c, "norm")) => (c, false),
                Some((_, o)) => {
                    return Err(ErrorKind::InvalidValue(format!("urilen option `{o}`")))
                }
                None => (s, false),
            };
            let cmp = NumCmp::parse(cmp, u64::from(u16::MAX))?;
            let buf = if raw { "http.uri.raw" } else { "http.uri" };
            b.push_to(buf, &[], Match::Urilen(cmp, raw));
        }
        "dsize" => rule.checks.push(HeaderCheck::Dsize(NumCmp::parse(
            need(v)?,
            u64::from(u16::MAX),
        )?)),
        "base64_decode" => {
            b.push(Match::Base64Decode(Base64Decode::parse(v)?));
        }
        "asn1" => {
            b.push(Match::Asn1(Asn1::parse(need(v)?)?));
        }
        "absent" => {
            if b.current.0 == PAYLOAD {
                return Err(ErrorKind::InvalidValue(
                    "absent needs a sticky buffer".into(),
                ));
            }
            let or_else = match v.map(str::trim) {
                None => false,
                Some("or_else") => true,
                Some(o) => {
                    return Err(ErrorKind::InvalidValue(format!(
                        "absent takes only `or_else`, not `{o}`"
                    )))
                }
            };
            b.push(Match::Absent(or_else));
        }
        // Suricata's legacy TLS keywords with a value: a substring test on the
        // certificate field, kept as a content on its sticky buffer.
        "tls.subject" | "tls.issuerdn" | "tls.fingerprint" if v.is_some() => {
            let raw = need(v)?.trim();
            let (negated, rest) = match raw.strip_prefix('!') {
                Some(r) => (true, r.trim_start()),
                None => (false, raw),
            };
            let text = unquote(rest).unwrap_or(rest);
            let buffer = match key {
                "tls.subject" => "tls.cert_subject",
                "tls.issuerdn" => "tls.cert_issuer",
                _ => "tls.cert_fingerprint",
            };
            let c = Content {
                pattern: unescape_text(text).into_bytes(),
                negated,
                nocase: key == "tls.fingerprint",
                ..Content::default()
            };
            b.push_to(buffer, &[], Match::Content(c));
        }
        "dns.opcode" | "tls.cert_chain_len" => {
            let max = if key == "dns.opcode" {
                15
            } else {
                u64::from(u32::MAX)
            };
            let cmp = NumCmp::parse(need(v)?, max)?;
            b.push_to(
                buffers::value_keyword(key).unwrap_or(PAYLOAD),
                &[],
                Match::Uint(cmp),
            );
        }
        "ssl_version" => {
            let (negated, names) = parse_ssl_versions(need(v)?)?;
            b.push_to("ssl_version", &[], Match::OneOf(negated, names));
        }
        "pkt_data" => {
            none(v)?;
            b.current = (PAYLOAD, Vec::new());
        }
        "flow" => {
            if rule.flow.is_some() {
                return Err(ErrorKind::Conflict("another flow".into()));
            }
            rule.flow = Some(Flow::parse(need(v)?)?)
        }
        "flowbits" | "hostbits" => {
            let fb = if opt.key == "hostbits" {
                Flowbits::parse_hostbits(need(v)?)?
            } else {
                Flowbits::parse(need(v)?)?
            };
            if fb.cmd == FlowbitCmd::NoAlert {
                rule.noalert = true;
            }
            rule.flowbits.push(fb);
        }
        "noalert" => {
            none(v)?;
            rule.noalert = true;
        }
        "threshold" => {
            if rule.threshold.is_some() || rule.detection_filter.is_some() {
                return Err(ErrorKind::Conflict(
                    "another threshold or detection_filter".into(),
                ));
            }
            rule.threshold = Some(Box::new(Threshold::parse(need(v)?, true)?))
        }
        "detection_filter" => {
            if rule.threshold.is_some() || rule.detection_filter.is_some() {
                return Err(ErrorKind::Conflict(
                    "another threshold or detection_filter".into(),
                ));
            }
            rule.detection_filter = Some(Box::new(Threshold::parse(need(v)?, false)?))
        }
        // Suricata 8 names the TCP header keywords `tcp.*`; the old names stay aliases.
        "flags" | "tcp.flags" => rule
            .checks
            .push(HeaderCheck::Flags(TcpFlags::parse(need(v)?)?)),
        "ttl" => rule
            .checks
            .push(HeaderCheck::Ttl(NumCmp::parse(need(v)?, 255)?)),
        "itype" => rule
            .checks
            .push(HeaderCheck::Itype(NumCmp::parse(need(v)?, 255)?)),
        "icode" => rule
            .checks
            .push(HeaderCheck::Icode(NumCmp::parse(need(v)?, 255)?)),
        "ip_proto" => {
            let s = need(v)?.trim();
            let (prefix, name) = s
                .find(|c: char| c.is_ascii_alphanumeric())
                .map_or(("", s), |i| s.split_at(i));
            let n = match name.to_ascii_lowercase().as_str() {
                "icmp" => 1,
                "igmp" => 2,
                "tcp" => 6,
                "udp" => 17,
                "ipv6" => 41,
                "gre" => 47,
                "esp" => 50,
                "ah" => 51,
                "icmpv6" | "ipv6-icmp" => 58,
                "sctp" => 132,
                other => parse_u64(other)?,
            };
            rule.checks.push(HeaderCheck::IpProto(NumCmp::parse(
                &format!("{prefix}{n}"),
                255,
            )?));
        }
        "icmp_id" => rule.checks.push(HeaderCheck::IcmpId(NumCmp::parse(
            need(v)?,
            u64::from(u16::MAX),
        )?)),
        "icmp_seq" => rule.checks.push(HeaderCheck::IcmpSeq(NumCmp::parse(
            need(v)?,
            u64::from(u16::MAX),
        )?)),
        "tcp.mss" => rule.checks.push(HeaderCheck::TcpMss(NumCmp::parse(
            need(v)?,
            u64::from(u16::MAX),
        )?)),
        k if Checksum::from_keyword(k).is_some() => {
            let valid = match need(v)?.trim() {
                "valid" => true,
                "invalid" => false,
                o => {
                    return Err(ErrorKind::InvalidValue(format!(
                        "{k} takes `valid` or `invalid`, not `{o}`"
                    )))
                }
            };
            let c = Checksum::from_keyword(k).unwrap_or(Checksum::Ipv4);
            rule.checks.push(HeaderCheck::Checksum(c, valid));
        }
        "ack" | "tcp.ack" => rule.checks.push(HeaderCheck::Ack(num(v)?)),
        "seq" | "tcp.seq" => rule.checks.push(HeaderCheck::Seq(num(v)?)),
        "window" => {
            let s = need(v)?.trim();
            let (neg, n) = match s.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, s),
            };
            rule.checks.push(HeaderCheck::Window(neg, num(Some(n))?))
        }
        "stream_size" => {
            let s = need(v)?;
            let mut parts = s.splitn(3, ',').map(str::trim);
            let side = parts.next().unwrap_or("");
            if !matches!(side, "client" | "server" | "both" | "either") {
                return Err(ErrorKind::InvalidValue(format!(
                    "stream_size side `{side}`"
                )));
            }
            let op = parts.next().unwrap_or("");
            let n = parts.next().unwrap_or("");
            let cmp = if op == "=" {
                n.to_string()
            } else {
                format!("{op}{n}")
            };
            rule.checks.push(HeaderCheck::StreamSize(
                side.to_string(),
                NumCmp::parse(&cmp, u64::from(u32::MAX))?,
            ));
        }
        "app-layer-protocol" => {
            let s = need(v)?.trim();
            let (negated, rest) = match s.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, s),
            };
            let mut parts = rest.split(',').map(str::trim);
            let names: Vec<String> = parts
                .next()
                .unwrap_or("")
                .split('|')
                .map(|n| n.trim().to_string())
                .collect();
            for one in &names {
                let known = one == "failed"
                    || one == "unknown"
                    || Protocol::parse(one).is_some_and(|p| p.app_layer().is_some());
                if !known {
                    return Err(ErrorKind::InvalidValue(format!(
                        "unknown app-layer protocol `{one}`"
                    )));
                }
                if negated && one == "unknown" {
                    return Err(ErrorKind::InvalidValue(
                        "`unknown` cannot be negated".into(),
                    ));
                }
            }
            let mut mode = None;
            for q in parts {
                match q {
                    "direction" | "to_server" | "to_client" | "either" | "final" | "original"
                        if mode.is_none() =>
                    {
                        mode = Some(q.to_string())
                    }
                    "exact" => {}
                    o => {
                        return Err(ErrorKind::InvalidValue(format!(
                            "app-layer-protocol mode `{o}`"
                        )))
                    }
                }
            }
            rule.app_layer_protocols.push(AppLayerProtocol {
                negated,
                names,
                mode,
            });
        }
        "target" => {
            let s = need(v)?.trim();
            if s != "src_ip" && s != "dest_ip" {
                return Err(ErrorKind::InvalidValue(format!(
                    "target must be src_ip or dest_ip, not `{s}`"
                )));
            }
            rule.target = Some(s.to_string());
        }
        k if buffers::sticky_buffer(k).is_some() => {
            // `file.data: to_client` names the side in a transactional (`=>`) rule. The
            // engine inspects both sides of the transaction together, so it is not kept.
            if v.is_some_and(|side| !matches!(side.trim(), "to_client" | "to_server")) {
                return Err(ErrorKind::UnexpectedValue);
            }
            let name = buffers::sticky_buffer(k).unwrap_or(PAYLOAD);
            b.current = (name, Vec::new());
            b.buffer_index(name, &[]);
        }
        k if buffers::legacy_modifier(k).is_some() => {
            none(v)?;
            let target = buffers::legacy_modifier(k).unwrap_or(PAYLOAD);
            let (bi, mi) = b.last_content.ok_or(ErrorKind::NoPrecedingContent)?;
            if b.buffers[bi].buffer != PAYLOAD {
                return Err(ErrorKind::Conflict(format!(
                    "content already in buffer {}",
                    b.buffers[bi].buffer
                )));
            }
            let m = b.buffers[bi].matches.remove(mi);
            if b.buffers[bi].matches.is_empty() {
                b.buffers.remove(bi);
            }
            b.last_content = Some(b.push_to(target, &[], m));
        }
        k if buffers::transform(k).is_some() => {
            if b.current.0 == PAYLOAD {
                return Err(ErrorKind::InvalidValue(
                    "transform needs a sticky buffer".into(),
                ));
            }
            let t = buffers::transform(k).unwrap_or("");
            if v.is_some() && !matches!(t, "xor" | "pcrexform") {
                return Err(ErrorKind::UnexpectedValue);
            }
            match (t, v) {
                ("xor", Some(key)) if crate::keywords::parse_xor_key(unquote(key)?).is_none() => {
                    return Err(ErrorKind::InvalidValue(
                        "xor key must be 1-255 bytes of hex".into(),
                    ));
                }
                ("pcrexform", Some(re)) if unquote(re)?.is_empty() => {
                    return Err(ErrorKind::InvalidValue("pcrexform needs a regex".into()));
                }
                ("xor" | "pcrexform", None) => return Err(ErrorKind::MissingValue),
                _ => {}
            }
            // A transform after inspections of this buffer starts a new instance of the
            // buffer: the earlier inspections keep seeing it untransformed.
            let cur = b.current.clone();
            b.buffers.retain(|bm| {
                !(bm.buffer == cur.0 && bm.transforms == cur.1 && bm.matches.is_empty())
            });
            b.current.1.push((t, v.map(str::to_string)));
            let cur = b.current.clone();
            b.buffer_index(cur.0, &cur.1);
        }
        k if KEPT_AS_WRITTEN.contains(&k) => {
            rule.other.push(OtherOption {
                keyword: k.to_string(),
                value: v.map(str::to_string),
            });
        }
        k if UNSUPPORTED.contains(&k) => return Err(ErrorKind::UnsupportedKeyword),
        _ => return Err(ErrorKind::UnknownKeyword),
    }
    Ok(())
}

/// `ssl_version:[!]v[,v...]`: the names Suricata accepts, canonical (`tls1.0`). A `!` on
/// any name negates the whole list: the rule matches a version that is none of them.
fn parse_ssl_versions(v: &str) -> Result<(bool, Vec<String>), ErrorKind> {
    let mut negated = false;
    let mut names = Vec::new();
    for part in v.split(',') {
        let part = part.trim();
        let name = match part.strip_prefix('!') {
            Some(n) => {
                negated = true;
                n.trim()
            }
            None => part,
        };
        let canonical = match name.to_ascii_lowercase().as_str() {
            "sslv2" => "sslv2",
            "sslv3" => "sslv3",
            "tls1.0" => "tls1.0",
            "tls1.1" => "tls1.1",
            "tls1.2" => "tls1.2",
            "tls1.3" => "tls1.3",
            _ => {
                return Err(ErrorKind::InvalidValue(format!(
                    "unknown ssl_version `{name}`"
                )))
            }
        };
        names.push(canonical.to_string());
    }
    Ok((negated, names))
}

/// A rule may name one app-layer protocol: in the header, by its buffers, or by
/// `app-layer-protocol`. Mixing two is an error naming the keyword that brought the second.
fn check_protocols(rule: &Rule, rt: &RuleText, opts: &[RawOption<'_>]) -> Result<(), RuleError> {
    let header = rule.header.protocol.app_layer().map(|p| match p {
        "http1" | "http2" => "http",
        p => p,
    });
    // The protocols still possible; a buffer that leaves none is the one that conflicts.
    let mut allowed: Option<Vec<&str>> = header.map(|h| vec![h]);
    for bm in &rule.buffers {
        let Some(protos) = buffers::buffer_protocol(bm.buffer) else {
            continue;
        };
        let set: Vec<&str> = protos.split('|').collect();
        let next: Vec<&str> = match &allowed {
            None => set.clone(),
            Some(a) => a.iter().copied().filter(|p| set.contains(p)).collect(),
        };
        if next.is_empty() {
            let opt = opts.iter().find(|o| {
                buffers::sticky_buffer(o.key) == Some(bm.buffer)
                    || buffers::legacy_modifier(o.key) == Some(bm.buffer)
            });
            let off = opt.map_or(0, |o| o.offset);
            let kw = opt.map_or(bm.buffer, |o| o.key);
            let was = allowed.map(|a| a.join("|")).unwrap_or_default();
            return Err(err(
                rt.position(off),
                kw,
                ErrorKind::ProtocolConflict(format!("{} buffer in a {was} rule", bm.buffer)),
            ));
        }
        allowed = Some(next);
    }
    Ok(())
}
