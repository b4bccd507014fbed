//! Typed values of rule options, and the parsers for their value syntax.

use std::fmt;

use crate::error::ErrorKind;

fn invalid(msg: impl Into<String>) -> ErrorKind {
    ErrorKind::InvalidValue(msg.into())
}

/// A number, or the name of a `byte_extract` variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value<T> {
    /// A literal number.
    Num(T),
    /// A variable set by `byte_extract` earlier in the rule. Boxed twice on purpose: a
    /// thin pointer keeps `Option<Value<u32>>` at 16 bytes (a `String` or `Box<str>` makes
    /// it 24), and a content's four position modifiers are most of the size of every
    /// [`crate::Match`] a ruleset holds. Variables are rare.
    #[allow(clippy::box_collection)]
    Var(Box<String>),
}

impl<T: fmt::Display> fmt::Display for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(n) => write!(f, "{n}"),
            Value::Var(v) => f.write_str(v),
        }
    }
}

/// Parses a number or a variable name.
pub(crate) fn parse_value<T: std::str::FromStr>(s: &str) -> Result<Value<T>, ErrorKind> {
    let s = s.trim();
    if let Ok(n) = s.parse::<T>() {
        return Ok(Value::Num(n));
    }
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        return Ok(Value::Var(Box::new(s.to_string())));
    }
    Err(invalid(format!("`{s}` is not a number or variable")))
}

/// Parses a number written in decimal or with a `0x` prefix.
pub(crate) fn parse_u64(s: &str) -> Result<u64, ErrorKind> {
    let s = s.trim();
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        s.parse::<u64>()
    };
    r.map_err(|_| invalid(format!("`{s}` is not a number")))
}

/// Longest `xor` key accepted (Suricata's limit as well): the key is XORed cyclically.
pub(crate) const MAX_XOR_KEY: usize = 255;

/// The key of the `xor` transform: an even number of hex digits, at most
/// [`MAX_XOR_KEY`] bytes, quotes already removed.
pub fn parse_xor_key(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || !s.len().is_multiple_of(2) || s.len() / 2 > MAX_XOR_KEY {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hex = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(hex, 16).ok()
        })
        .collect()
}

/// A numeric comparison (`dsize`, `ttl`, `bsize`, `urilen`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumCmp {
    /// `N`
    Eq(u64),
    /// `!N`
    Ne(u64),
    /// `<N`
    Lt(u64),
    /// `<=N`
    Le(u64),
    /// `>N`
    Gt(u64),
    /// `>=N`
    Ge(u64),
    /// `A<>B` or `A-B`: strictly between.
    Between(u64, u64),
}

impl NumCmp {
    /// Parses the comparison syntax, refusing numbers above `max`.
    pub(crate) fn parse(s: &str, max: u64) -> Result<NumCmp, ErrorKind> {
        let s = s.trim();
        let check = |n: u64| {
            if n > max {
                Err(invalid(format!("{n} is larger than {max}")))
            } else {
                Ok(n)
            }
        };
        let r = if let Some((a, b)) = s.split_once("<>").or_else(|| {
            // `A-B` but not a leading minus
            s.find('-')
                .filter(|&i| i > 0)
                .map(|i| (&s[..i], &s[i + 1..]))
        }) {
            let (a, b) = (check(parse_u64(a)?)?, check(parse_u64(b)?)?);
            if a >= b {
                return Err(invalid(format!("range {a}..{b} is empty")));
            }
            NumCmp::Between(a, b)
        } else if let Some(n) = s.strip_prefix("<=") {
            NumCmp::Le(check(parse_u64(n)?)?)
        } else if let Some(n) = s.strip_prefix(">=") {
            NumCmp::Ge(check(parse_u64(n)?)?)
        } else if let Some(n) = s.strip_prefix("!=").or_else(|| s.strip_prefix('!')) {
            NumCmp::Ne(check(parse_u64(n)?)?)
        } else if let Some(n) = s.strip_prefix('<') {
            NumCmp::Lt(check(parse_u64(n)?)?)
        } else if let Some(n) = s.strip_prefix('>') {
            NumCmp::Gt(check(parse_u64(n)?)?)
        } else if let Some(n) = s.strip_prefix('=') {
            NumCmp::Eq(check(parse_u64(n)?)?)
        } else {
            NumCmp::Eq(check(parse_u64(s)?)?)
        };
        Ok(r)
    }

    /// Whether `v` satisfies the comparison.
    pub fn matches(&self, v: u64) -> bool {
        match *self {
            NumCmp::Eq(n) => v == n,
            NumCmp::Ne(n) => v != n,
            NumCmp::Lt(n) => v < n,
            NumCmp::Le(n) => v <= n,
            NumCmp::Gt(n) => v > n,
            NumCmp::Ge(n) => v >= n,
            NumCmp::Between(a, b) => v > a && v < b,
        }
    }
}

impl fmt::Display for NumCmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumCmp::Eq(n) => write!(f, "{n}"),
            NumCmp::Ne(n) => write!(f, "!{n}"),
            NumCmp::Lt(n) => write!(f, "<{n}"),
            NumCmp::Le(n) => write!(f, "<={n}"),
            NumCmp::Gt(n) => write!(f, ">{n}"),
            NumCmp::Ge(n) => write!(f, ">={n}"),
            NumCmp::Between(a, b) => write!(f, "{a}<>{b}"),
        }
    }
}

/// `fast_pattern`, `fast_pattern:only` or `fast_pattern:offset,length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FastPattern {
    /// The whole content is the fast pattern.
    Whole,
    /// Legacy `fast_pattern:only`.
    Only,
    /// `fast_pattern:<offset>,<length>`: only this slice goes to the prefilter.
    Chop(u16, u16),
}

/// A `content` match and its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[allow(missing_docs)]
pub struct Content {
    pub pattern: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    pub rawbytes: bool,
    pub depth: Option<Value<u32>>,
    pub offset: Option<Value<u32>>,
    pub distance: Option<Value<i32>>,
    pub within: Option<Value<i32>>,
    pub fast_pattern: Option<FastPattern>,
    pub startswith: bool,
    pub endswith: bool,
}

/// `pcre:"/pattern/flags"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pcre {
    /// The pattern between the delimiters, as written (PCRE escapes kept).
    pub pattern: String,
    /// `!` before the quote.
    pub negated: bool,
    /// PCRE compile flags: `i`, `s`, `m`, `x`, `A` (anchored), `E` (dollar end only),
    /// `G` (ungreedy).
    pub flags: String,
    /// `R`: relative to the previous match.
    pub relative: bool,
    /// `B`: raw bytes (accepted for Snort compatibility).
    pub rawbytes: bool,
    /// `O`: override the configured match limits.
    pub override_limits: bool,
    /// The buffer named by a modifier letter (`U` http.uri, `H` http.header ...), if any.
    pub buffer: Option<&'static str>,
    /// Variables the capture groups fill, from `,flow:a,pkt:b` after the flags: group
    /// `i + 1` fills entry `i`. Named groups (`(?P<flow_a>...)`) fill theirs as well.
    pub captures: Vec<(VarKind, String)>,
}

/// Where a pcre capture is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VarKind {
    /// A flow variable, kept on the flow and logged with its alerts and flow record.
    Flow,
    /// A packet variable, logged with the alerts of this packet.
    Pkt,
    /// Logged in the alert's `context` object.
    Alert,
}

impl VarKind {
    /// The kind and variable name a capture group named `group` stands for, if any
    /// (`flow_x`, `pkt_x`, `alert_x`).
    pub fn from_group_name(group: &str) -> Option<(VarKind, &str)> {
        [
            ("flow_", VarKind::Flow),
            ("pkt_", VarKind::Pkt),
            ("alert_", VarKind::Alert),
        ]
        .iter()
        .find_map(|(prefix, kind)| {
            group
                .strip_prefix(prefix)
                .filter(|n| !n.is_empty())
                .map(|n| (*kind, n))
        })
    }

    fn prefix(self) -> &'static str {
        match self {
            VarKind::Flow => "flow",
            VarKind::Pkt => "pkt",
            VarKind::Alert => "alert",
        }
    }
}

/// `isdataat:[!]<size>[,relative][,rawbytes]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct IsDataAt {
    pub negated: bool,
    pub size: Value<u32>,
    pub relative: bool,
    pub rawbytes: bool,
}

/// Byte order for the byte_* keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Endian {
    Big,
    Little,
    /// Taken from the DCERPC header.
    Dce,
}

/// Base of numbers written as text (`string,hex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum NumBase {
    Hex,
    Dec,
    Oct,
}

/// The comparison of `byte_test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ByteOp {
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    And,
    Or,
}

/// `byte_test`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct ByteTest {
    pub nbytes: Value<u8>,
    pub negated: bool,
    pub op: ByteOp,
    pub value: Value<u64>,
    pub offset: Value<i32>,
    pub relative: bool,
    pub endian: Option<Endian>,
    pub string: Option<NumBase>,
    pub bitmask: Option<u64>,
}

/// `byte_jump`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct ByteJump {
    pub nbytes: Value<u8>,
    pub offset: Value<i32>,
    pub relative: bool,
    pub multiplier: Option<u32>,
    pub endian: Option<Endian>,
    pub string: Option<NumBase>,
    pub align: bool,
    pub from_beginning: bool,
    pub from_end: bool,
    pub post_offset: Option<i32>,
    pub bitmask: Option<u64>,
}

/// `byte_extract`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct ByteExtract {
    pub nbytes: u8,
    pub offset: i32,
    pub name: String,
    pub relative: bool,
    pub multiplier: Option<u32>,
    pub endian: Option<Endian>,
    pub string: Option<NumBase>,
    pub align: Option<u8>,
}

/// The operator of `byte_math`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

impl MathOp {
    fn symbol(self) -> &'static str {
        match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
            MathOp::Shl => "<<",
            MathOp::Shr => ">>",
        }
    }
}

/// `byte_math:bytes N, offset N, oper OP, rvalue V, result NAME[, relative][, endian E]
/// [, string BASE][, dce][, bitmask M]`: reads a number, combines it with `rvalue`, and
/// stores the result in a variable, as `byte_extract` does; the cursor does not move.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct ByteMath {
    pub nbytes: Value<u8>,
    pub offset: Value<i32>,
    pub op: MathOp,
    pub rvalue: Value<u64>,
    pub result: String,
    pub relative: bool,
    pub endian: Option<Endian>,
    pub string: Option<NumBase>,
    pub bitmask: Option<u64>,
}

impl ByteMath {
    pub(crate) fn parse(s: &str) -> Result<ByteMath, ErrorKind> {
        let (mut nbytes, mut offset, mut op, mut rvalue, mut result) =
            (None, None, None, None, None);
        let (mut relative, mut endian, mut string, mut bitmask) = (false, None, None, None);
        for item in split_args(s) {
            let (k, v) = match item.split_once(char::is_whitespace) {
                Some((k, v)) => (k, v.trim()),
                None => (item, ""),
            };
            match (k, v) {
                ("relative", "") => relative = true,
                ("dce", "") => endian = Some(Endian::Dce),
                ("bytes", v) => nbytes = Some(parse_nbytes(v, 10)?),
                ("offset", v) => offset = Some(parse_value::<i32>(v)?),
                ("oper", v) => {
                    op = Some(match v {
                        "+" => MathOp::Add,
                        "-" => MathOp::Sub,
                        "*" => MathOp::Mul,
                        "/" => MathOp::Div,
                        "<<" => MathOp::Shl,
                        ">>" => MathOp::Shr,
                        o => return Err(invalid(format!("unknown byte_math operator `{o}`"))),
                    })
                }
                ("rvalue", v) => {
                    rvalue = Some(match parse_u64(v) {
                        Ok(n) => Value::Num(n),
                        Err(_) => parse_value::<u64>(v)?,
                    })
                }
                ("result", v) => match parse_value::<u64>(v)? {
                    Value::Var(name) => result = Some(*name),
                    Value::Num(_) => return Err(invalid("byte_math result must be a name")),
                },
                ("endian", "big") => endian = Some(Endian::Big),
                ("endian", "little") => endian = Some(Endian::Little),
                ("string", v) => string = Some(parse_base(Some(&v))?),
                ("bitmask", v) => bitmask = Some(parse_u64(v)?),
                _ => return Err(invalid(format!("unknown byte_math option `{item}`"))),
            }
        }
        let need = |what: &str| invalid(format!("byte_math needs {what}"));
        let m = ByteMath {
            nbytes: nbytes.ok_or_else(|| need("bytes"))?,
            offset: offset.ok_or_else(|| need("offset"))?,
            op: op.ok_or_else(|| need("oper"))?,
            rvalue: rvalue.ok_or_else(|| need("rvalue"))?,
            result: result.ok_or_else(|| need("result"))?,
            relative,
            endian,
            string,
            bitmask,
        };
        if let (Value::Num(n), None) = (&m.nbytes, m.string) {
            if *n > 4 {
                return Err(invalid(format!(
                    "number of bytes {n} is not in 1..=4 without `string`"
                )));
            }
        }
        Ok(m)
    }
}

impl fmt::Display for ByteMath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bytes {}, offset {}, oper {}, rvalue {}, result {}",
            self.nbytes,
            self.offset,
            self.op.symbol(),
            self.rvalue,
            self.result
        )?;
        if self.relative {
            f.write_str(", relative")?;
        }
        match self.endian {
            Some(Endian::Big) => f.write_str(", endian big")?,
            Some(Endian::Little) => f.write_str(", endian little")?,
            Some(Endian::Dce) => f.write_str(", dce")?,
            None => {}
        }
        match self.string {
            Some(NumBase::Hex) => f.write_str(", string hex")?,
            Some(NumBase::Dec) => f.write_str(", string dec")?,
            Some(NumBase::Oct) => f.write_str(", string oct")?,
            None => {}
        }
        if let Some(m) = self.bitmask {
            write!(f, ", bitmask {m}")?;
        }
        Ok(())
    }
}

/// `base64_decode[:bytes N][,offset N][,relative]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[allow(missing_docs)]
pub struct Base64Decode {
    pub bytes: Option<u32>,
    pub offset: Option<u32>,
    pub relative: bool,
}

fn split_args(s: &str) -> Vec<&str> {
    s.split(',').map(str::trim).collect()
}

fn parse_nbytes(s: &str, max: u8) -> Result<Value<u8>, ErrorKind> {
    let v = parse_value::<u8>(s)?;
    if let Value::Num(n) = v {
        if n == 0 || n > max {
            return Err(invalid(format!("number of bytes {n} is not in 1..={max}")));
        }
    }
    Ok(v)
}

fn parse_base(s: Option<&&str>) -> Result<NumBase, ErrorKind> {
    match s.copied() {
        Some("hex") => Ok(NumBase::Hex),
        Some("dec") => Ok(NumBase::Dec),
        Some("oct") => Ok(NumBase::Oct),
        other => Err(invalid(format!(
            "`string` needs hex, dec or oct, not {other:?}"
        ))),
    }
}

fn word_arg<'a>(item: &'a str, word: &str) -> Option<&'a str> {
    item.strip_prefix(word)
        .filter(|r| r.starts_with(char::is_whitespace))
        .map(str::trim)
}

impl ByteTest {
    pub(crate) fn parse(s: &str) -> Result<ByteTest, ErrorKind> {
        let a = split_args(s);
        if a.len() < 4 {
            return Err(invalid("byte_test needs bytes, operator, value and offset"));
        }
        // 0 is accepted here (with `string`), as Suricata does; checked below.
        let nbytes = parse_nbytes(a[0], 23).or_else(|e| {
            if a[0] == "0" {
                Ok(Value::Num(0))
            } else {
                Err(e)
            }
        })?;
        let (negated, opstr) = match a[1].strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, a[1]),
        };
        let op = match opstr {
            "" if negated => ByteOp::Eq,
            "<" => ByteOp::Lt,
            ">" => ByteOp::Gt,
            "<=" => ByteOp::Le,
            ">=" => ByteOp::Ge,
            "=" => ByteOp::Eq,
            "&" => ByteOp::And,
            "^" => ByteOp::Or,
            o => return Err(invalid(format!("unknown byte_test operator `{o}`"))),
        };
        let value = match parse_u64(a[2]) {
            Ok(n) => Value::Num(n),
            Err(_) => parse_value::<u64>(a[2])?,
        };
        let offset = parse_value::<i32>(a[3])?;
        let mut t = ByteTest {
            nbytes,
            negated,
            op,
            value,
            offset,
            relative: false,
            endian: None,
            string: None,
            bitmask: None,
        };
        let mut string_flag = false;
        let mut base = None;
        for item in &a[4..] {
            match *item {
                "relative" => t.relative = true,
                "big" => t.endian = Some(Endian::Big),
                "little" => t.endian = Some(Endian::Little),
                "dce" => t.endian = Some(Endian::Dce),
                "string" => string_flag = true,
                "hex" | "dec" | "oct" => base = Some(parse_base(Some(item))?),
                item => {
                    if let Some(m) = word_arg(item, "bitmask") {
                        t.bitmask = Some(parse_u64(m)?);
                    } else {
                        return Err(invalid(format!("unknown byte_test option `{item}`")));
                    }
                }
            }
        }
        if base.is_some() && !string_flag {
            return Err(invalid("a base (hex, dec, oct) needs `string`"));
        }
        if string_flag {
            t.string = Some(base.unwrap_or(NumBase::Dec));
        } else if let Value::Num(n) = t.nbytes {
            if n == 0 || n > 8 {
                return Err(invalid(format!(
                    "number of bytes {n} is not in 1..=8 without `string`"
                )));
            }
        }
        Ok(t)
    }
}

impl ByteJump {
    pub(crate) fn parse(s: &str) -> Result<ByteJump, ErrorKind> {
        let a = split_args(s);
        if a.len() < 2 {
            return Err(invalid("byte_jump needs bytes and offset"));
        }
        let nbytes = parse_nbytes(a[0], 23).or_else(|e| {
            if a[0] == "0" {
                Ok(Value::Num(0))
            } else {
                Err(e)
            }
        })?;
        let mut j = ByteJump {
            nbytes,
            offset: parse_value::<i32>(a[1])?,
            relative: false,
            multiplier: None,
            endian: None,
            string: None,
            align: false,
            from_beginning: false,
            from_end: false,
            post_offset: None,
            bitmask: None,
        };
        let mut string_flag = false;
        let mut base = None;
        let mut i = 2;
        while i < a.len() {
            match a[i] {
                "relative" => j.relative = true,
                "big" => j.endian = Some(Endian::Big),
                "little" => j.endian = Some(Endian::Little),
                "dce" => j.endian = Some(Endian::Dce),
                "align" => j.align = true,
                "from_beginning" => j.from_beginning = true,
                "from_end" => j.from_end = true,
                "string" => string_flag = true,
                "hex" | "dec" | "oct" => base = Some(parse_base(Some(&a[i]))?),
                item => {
                    if let Some(m) = word_arg(item, "multiplier") {
                        j.multiplier = Some(
                            m.parse()
                                .map_err(|_| invalid(format!("bad multiplier `{m}`")))?,
                        );
                    } else if let Some(m) = word_arg(item, "post_offset") {
                        j.post_offset = Some(
                            m.parse()
                                .map_err(|_| invalid(format!("bad post_offset `{m}`")))?,
                        );
                    } else if let Some(m) = word_arg(item, "bitmask") {
                        j.bitmask = Some(parse_u64(m)?);
                    } else {
                        return Err(invalid(format!("unknown byte_jump option `{item}`")));
                    }
                }
            }
            i += 1;
        }
        if base.is_some() && !string_flag {
            return Err(invalid("a base (hex, dec, oct) needs `string`"));
        }
        if string_flag {
            j.string = Some(base.unwrap_or(NumBase::Dec));
        } else if let Value::Num(n) = j.nbytes {
            // 0 bytes reads nothing and jumps by 0: with `post_offset` it moves the cursor
            // by a fixed amount, as Suricata allows.
            if n > 8 {
                return Err(invalid(format!(
                    "number of bytes {n} is not in 1..=8 without `string`"
                )));
            }
        }
        if j.from_beginning && j.from_end {
            return Err(ErrorKind::Conflict("from_beginning and from_end".into()));
        }
        Ok(j)
    }
}

impl ByteExtract {
    pub(crate) fn parse(s: &str) -> Result<ByteExtract, ErrorKind> {
        let a = split_args(s);
        if a.len() < 3 {
            return Err(invalid(
                "byte_extract needs bytes, offset and a variable name",
            ));
        }
        let nbytes = match parse_nbytes(a[0], 23)? {
            Value::Num(n) => n,
            Value::Var(_) => return Err(invalid("byte_extract bytes must be a number")),
        };
        let offset = a[1]
            .parse::<i32>()
            .map_err(|_| invalid(format!("bad offset `{}`", a[1])))?;
        let name = match parse_value::<u64>(a[2])? {
            Value::Var(v) => v,
            Value::Num(_) => return Err(invalid("byte_extract needs a variable name")),
        };
        let mut e = ByteExtract {
            nbytes,
            offset,
            name: *name,
            relative: false,
            multiplier: None,
            endian: None,
            string: None,
            align: None,
        };
        let mut i = 3;
        while i < a.len() {
            match a[i] {
                "relative" => e.relative = true,
                "big" => e.endian = Some(Endian::Big),
                "little" => e.endian = Some(Endian::Little),
                "dce" => e.endian = Some(Endian::Dce),
                "string" => {
                    if let Some(b) = a
                        .get(i + 1)
                        .filter(|b| matches!(**b, "hex" | "dec" | "oct"))
                    {
                        e.string = Some(parse_base(Some(b))?);
                        i += 1;
                    } else {
                        e.string = Some(NumBase::Dec);
                    }
                }
                "hex" | "dec" | "oct" => e.string = Some(parse_base(Some(&a[i]))?),
                item => {
                    if let Some(m) = word_arg(item, "multiplier") {
                        e.multiplier = Some(
                            m.parse()
                                .map_err(|_| invalid(format!("bad multiplier `{m}`")))?,
                        );
                    } else if let Some(m) = word_arg(item, "align") {
                        let n: u8 = m.parse().map_err(|_| invalid(format!("bad align `{m}`")))?;
                        if n != 2 && n != 4 {
                            return Err(invalid("align must be 2 or 4"));
                        }
                        e.align = Some(n);
                    } else {
                        return Err(invalid(format!("unknown byte_extract option `{item}`")));
                    }
                }
            }
            i += 1;
        }
        Ok(e)
    }
}

impl IsDataAt {
    pub(crate) fn parse(s: &str) -> Result<IsDataAt, ErrorKind> {
        let a = split_args(s);
        let (negated, size) = match a[0].strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, a[0]),
        };
        let mut d = IsDataAt {
            negated,
            size: parse_value(size)?,
            relative: false,
            rawbytes: false,
        };
        for item in &a[1..] {
            match *item {
                "relative" => d.relative = true,
                "rawbytes" => d.rawbytes = true,
                o => return Err(invalid(format!("unknown isdataat option `{o}`"))),
            }
        }
        Ok(d)
    }
}

impl Base64Decode {
    pub(crate) fn parse(s: Option<&str>) -> Result<Base64Decode, ErrorKind> {
        let mut d = Base64Decode::default();
        for item in s.map(split_args).unwrap_or_default() {
            if item == "relative" {
                d.relative = true;
            } else if let Some(n) = word_arg(item, "bytes") {
                d.bytes = Some(n.parse().map_err(|_| invalid(format!("bad bytes `{n}`")))?);
            } else if let Some(n) = word_arg(item, "offset") {
                d.offset = Some(
                    n.parse()
                        .map_err(|_| invalid(format!("bad offset `{n}`")))?,
                );
            } else if !item.is_empty() {
                return Err(invalid(format!("unknown base64_decode option `{item}`")));
            }
        }
        Ok(d)
    }
}

/// `asn1`: checks on ASN.1 encodings in the payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[allow(missing_docs)]
pub struct Asn1 {
    pub bitstring_overflow: bool,
    pub double_overflow: bool,
    pub oversize_length: Option<u32>,
    pub absolute_offset: Option<u32>,
    pub relative_offset: Option<i32>,
}

impl Asn1 {
    pub(crate) fn parse(s: &str) -> Result<Asn1, ErrorKind> {
        let mut a = Asn1::default();
        for item in split_args(s) {
            let num = |word: &str| {
                word_arg(item, word).map(|n| {
                    n.parse::<i64>()
                        .map_err(|_| invalid(format!("bad {word} `{n}`")))
                })
            };
            if item == "bitstring_overflow" {
                a.bitstring_overflow = true;
            } else if item == "double_overflow" {
                a.double_overflow = true;
            } else if let Some(n) = num("oversize_length") {
                a.oversize_length =
                    Some(u32::try_from(n?).map_err(|_| invalid("oversize_length out of range"))?);
            } else if let Some(n) = num("absolute_offset") {
                a.absolute_offset =
                    Some(u32::try_from(n?).map_err(|_| invalid("absolute_offset out of range"))?);
            } else if let Some(n) = num("relative_offset") {
                a.relative_offset =
                    Some(i32::try_from(n?).map_err(|_| invalid("relative_offset out of range"))?);
            } else {
                return Err(invalid(format!("unknown asn1 option `{item}`")));
            }
        }
        if a.absolute_offset.is_some() && a.relative_offset.is_some() {
            return Err(ErrorKind::Conflict(
                "absolute_offset and relative_offset".into(),
            ));
        }
        if a == Asn1::default() {
            return Err(invalid("asn1 needs at least one check"));
        }
        Ok(a)
    }
}

impl fmt::Display for Asn1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.bitstring_overflow {
            parts.push("bitstring_overflow".into());
        }
        if self.double_overflow {
            parts.push("double_overflow".into());
        }
        if let Some(n) = self.oversize_length {
            parts.push(format!("oversize_length {n}"));
        }
        if let Some(n) = self.absolute_offset {
            parts.push(format!("absolute_offset {n}"));
        }
        if let Some(n) = self.relative_offset {
            parts.push(format!("relative_offset {n}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// Maps a pcre modifier letter to the buffer it selects.
fn pcre_buffer(c: char) -> Option<&'static str> {
    Some(match c {
        'U' => "http.uri",
        'I' => "http.uri.raw",
        'P' => "http.request_body",
        // Suricata maps `Q` (the old http_server_body) to file.data.
        'Q' => "file.data",
        'H' => "http.header",
        'D' => "http.header.raw",
        'M' => "http.method",
        'C' => "http.cookie",
        'S' => "http.stat_code",
        'Y' => "http.stat_msg",
        'V' => "http.user_agent",
        'W' => "http.host",
        'Z' => "http.host.raw",
        _ => return None,
    })
}

impl Pcre {
    pub(crate) fn parse(value: &str) -> Result<Pcre, ErrorKind> {
        let (negated, rest) = match value.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, value),
        };
        let body = crate::options::unquote(rest)?;
        let (open, close, after_open) = if let Some(r) = body.strip_prefix('/') {
            ('/', '/', r)
        } else if let Some(r) = body.strip_prefix('m') {
            let d = r
                .chars()
                .next()
                .ok_or_else(|| invalid("pcre needs delimiters"))?;
            let close = match d {
                '{' => '}',
                '(' => ')',
                '[' => ']',
                '<' => '>',
                c if c.is_alphanumeric() || c.is_whitespace() || c == '\\' => {
                    return Err(invalid("bad pcre delimiter"))
                }
                c => c,
            };
            (d, close, &r[d.len_utf8()..])
        } else {
            return Err(invalid("pcre must start with `/` or `m`"));
        };
        let _ = open;
        let end = after_open
            .rfind(close)
            .ok_or_else(|| invalid("pcre has no closing delimiter"))?;
        let pattern = after_open[..end].to_string();
        let mut p = Pcre {
            pattern,
            negated,
            flags: String::new(),
            relative: false,
            rawbytes: false,
            override_limits: false,
            buffer: None,
            captures: Vec::new(),
        };
        let tail = &after_open[end + close.len_utf8()..];
        let (modifiers, vars) = tail.split_once(',').unwrap_or((tail, ""));
        for item in vars.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            let (kind, name) = item
                .split_once(':')
                .map(|(k, n)| (k.trim(), n.trim()))
                .ok_or_else(|| invalid(format!("pcre capture `{item}` needs kind:name")))?;
            let kind = match kind {
                "flow" => VarKind::Flow,
                "pkt" => VarKind::Pkt,
                "alert" => VarKind::Alert,
                k => return Err(invalid(format!("unknown pcre capture kind `{k}`"))),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(format!("bad pcre capture name `{name}`")));
            }
            p.captures.push((kind, name.to_string()));
        }
        for c in modifiers.trim_end().chars() {
            match c {
                'i' | 's' | 'm' | 'x' | 'A' | 'E' | 'G' => {
                    if p.flags.contains(c) {
                        return Err(invalid(format!("pcre flag `{c}` given twice")));
                    }
                    p.flags.push(c)
                }
                'R' => p.relative = true,
                'B' => p.rawbytes = true,
                'O' => p.override_limits = true,
                c => match pcre_buffer(c) {
                    Some(b) => {
                        if p.buffer.is_some_and(|x| x != b) {
                            return Err(invalid("pcre names two buffers"));
                        }
                        p.buffer = Some(b)
                    }
                    None => return Err(invalid(format!("unknown pcre flag `{c}`"))),
                },
            }
        }
        if p.pattern.is_empty() {
            return Err(invalid("empty pcre"));
        }
        Ok(p)
    }

    /// The flags as they render after the closing `/`.
    pub fn modifier_string(&self) -> String {
        let mut s = self.flags.clone();
        if self.relative {
            s.push('R');
        }
        if self.rawbytes {
            s.push('B');
        }
        if self.override_limits {
            s.push('O');
        }
        if let Some(b) = self.buffer {
            if let Some(c) = "UIPQHDMCSYVWZ".chars().find(|&c| pcre_buffer(c) == Some(b)) {
                s.push(c);
            }
        }
        s
    }

    /// The capture list as it renders after the flags (`,flow:a,pkt:b`), or "".
    pub fn captures_string(&self) -> String {
        self.captures
            .iter()
            .map(|(k, n)| format!(",{}:{n}", k.prefix()))
            .collect()
    }
}

/// The `flow` keyword.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Flow {
    /// `established`, `not_established` or `stateless`.
    pub state: Option<FlowState>,
    /// `to_server`/`from_client` or `to_client`/`from_server`.
    pub to_server: Option<bool>,
    /// `only_stream` (true) or `no_stream` (false).
    pub stream: Option<bool>,
    /// `only_frag` (true) or `no_frag` (false).
    pub frag: Option<bool>,
}

/// Connection state for `flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum FlowState {
    Established,
    NotEstablished,
    Stateless,
}

impl Flow {
    pub(crate) fn parse(s: &str) -> Result<Flow, ErrorKind> {
        let mut f = Flow::default();
        for item in split_args(s) {
            fn set<T: PartialEq + Copy>(
                slot: &mut Option<T>,
                v: T,
                item: &str,
            ) -> Result<(), ErrorKind> {
                if slot.is_some() {
                    return Err(ErrorKind::Conflict(format!(
                        "`{item}` with another option of its kind"
                    )));
                }
                *slot = Some(v);
                Ok(())
            }
            match item {
                "established" => set(&mut f.state, FlowState::Established, item)?,
                "not_established" => set(&mut f.state, FlowState::NotEstablished, item)?,
                "stateless" => set(&mut f.state, FlowState::Stateless, item)?,
                "to_server" | "from_client" => set(&mut f.to_server, true, item)?,
                "to_client" | "from_server" => set(&mut f.to_server, false, item)?,
                "only_stream" => set(&mut f.stream, true, item)?,
                "no_stream" => set(&mut f.stream, false, item)?,
                "only_frag" => set(&mut f.frag, true, item)?,
                "no_frag" => set(&mut f.frag, false, item)?,
                o => return Err(invalid(format!("unknown flow option `{o}`"))),
            }
        }
        Ok(f)
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.state {
            Some(FlowState::Established) => parts.push("established"),
            Some(FlowState::NotEstablished) => parts.push("not_established"),
            Some(FlowState::Stateless) => parts.push("stateless"),
            None => {}
        }
        match self.to_server {
            Some(true) => parts.push("to_server"),
            Some(false) => parts.push("to_client"),
            None => {}
        }
        match self.stream {
            Some(true) => parts.push("only_stream"),
            Some(false) => parts.push("no_stream"),
            None => {}
        }
        match self.frag {
            Some(true) => parts.push("only_frag"),
            Some(false) => parts.push("no_frag"),
            None => {}
        }
        f.write_str(&parts.join(","))
    }
}

/// The `flowbits` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum FlowbitCmd {
    Set,
    IsSet,
    Unset,
    Toggle,
    IsNotSet,
    NoAlert,
}

/// `flowbits:<cmd>[,<name>[|<name>...]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flowbits {
    /// The command.
    pub cmd: FlowbitCmd,
    /// Bit names; several joined by `|` (any) or `&` (all).
    pub names: Vec<String>,
    /// True when names were joined with `&`.
    pub all: bool,
    /// Where the bits live: the flow (`flowbits`) or a host (`hostbits`).
    pub scope: BitScope,
}

/// Where a bit is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BitScope {
    /// On the flow (`flowbits`).
    #[default]
    Flow,
    /// On the packet's source (`dst` false) or destination host (`hostbits`), for
    /// `expire` seconds after it is set (`None`: the default).
    Host { dst: bool, expire: Option<u32> },
}

impl Flowbits {
    /// `hostbits:<cmd>[,<name>[,src|dst][,expire <seconds>]]`: the flowbits commands, on a
    /// host table instead of the flow.
    pub(crate) fn parse_hostbits(s: &str) -> Result<Flowbits, ErrorKind> {
        let mut parts = s.splitn(3, ',');
        let cmd = parts.next().unwrap_or_default();
        let base = match parts.next() {
            Some(name) => format!("{cmd},{name}"),
            None => cmd.to_string(),
        };
        let mut fb = Flowbits::parse(&base)?;
        let (mut dst, mut expire) = (false, None);
        for item in parts.next().map(split_args).unwrap_or_default() {
            match item {
                "src" | "ip_src" => dst = false,
                "dst" | "ip_dst" => dst = true,
                item => match word_arg(item, "expire") {
                    Some(n) => {
                        expire = Some(
                            n.parse()
                                .map_err(|_| invalid(format!("bad expire `{n}`")))?,
                        )
                    }
                    None => return Err(invalid(format!("unknown hostbits option `{item}`"))),
                },
            }
        }
        fb.scope = BitScope::Host { dst, expire };
        Ok(fb)
    }

    pub(crate) fn parse(s: &str) -> Result<Flowbits, ErrorKind> {
        let (cmd, names) = match s.split_once(',') {
            Some((c, n)) => (c.trim(), Some(n.trim())),
            None => (s.trim(), None),
        };
        let cmd = match cmd {
            "set" => FlowbitCmd::Set,
            "isset" => FlowbitCmd::IsSet,
            "unset" => FlowbitCmd::Unset,
            "toggle" => FlowbitCmd::Toggle,
            "isnotset" => FlowbitCmd::IsNotSet,
            "noalert" => FlowbitCmd::NoAlert,
            c => return Err(invalid(format!("unknown flowbits command `{c}`"))),
        };
        let mut fb = Flowbits {
            cmd,
            names: Vec::new(),
            all: false,
            scope: BitScope::Flow,
        };
        match (cmd, names) {
            (FlowbitCmd::NoAlert, None) => {}
            (FlowbitCmd::NoAlert, Some(_)) => {
                return Err(invalid("flowbits:noalert takes no name"))
            }
            (_, None) | (_, Some("")) => return Err(invalid("flowbits needs a name")),
            (_, Some(n)) => {
                fb.all = n.contains('&');
                if fb.all && n.contains('|') {
                    return Err(invalid("flowbits cannot mix `|` and `&`"));
                }
                for name in n.split(['|', '&']) {
                    let name = name.trim();
                    if name.is_empty() || name.contains(char::is_whitespace) {
                        return Err(invalid(format!("bad flowbit name `{name}`")));
                    }
                    fb.names.push(name.to_string());
                }
                if fb.names.len() > 1
                    && !matches!(
                        cmd,
                        FlowbitCmd::IsSet
                            | FlowbitCmd::IsNotSet
                            | FlowbitCmd::Set
                            | FlowbitCmd::Unset
                            | FlowbitCmd::Toggle
                    )
                {
                    return Err(invalid("several flowbit names"));
                }
            }
        }
        Ok(fb)
    }
}

impl fmt::Display for Flowbits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmd = match self.cmd {
            FlowbitCmd::Set => "set",
            FlowbitCmd::IsSet => "isset",
            FlowbitCmd::Unset => "unset",
            FlowbitCmd::Toggle => "toggle",
            FlowbitCmd::IsNotSet => "isnotset",
            FlowbitCmd::NoAlert => "noalert",
        };
        f.write_str(cmd)?;
        if !self.names.is_empty() {
            write!(f, ",{}", self.names.join(if self.all { "&" } else { "|" }))?;
        }
        if let BitScope::Host { dst, expire } = self.scope {
            if dst {
                f.write_str(",dst")?;
            }
            if let Some(e) = expire {
                write!(f, ",expire {e}")?;
            }
        }
        Ok(())
    }
}

/// Who a threshold counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Track {
    BySrc,
    ByDst,
    ByRule,
    ByBoth,
    ByFlow,
}

/// The kind of `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ThresholdKind {
    Limit,
    Threshold,
    Both,
    /// Suricata 8: alert on the 1st, then every `multiplier`-th time more.
    Backoff,
}

/// `threshold` (with a kind) or `detection_filter` (without).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct Threshold {
    pub kind: Option<ThresholdKind>,
    pub track: Track,
    pub count: u32,
    /// 0 for `backoff`, which has no time window.
    pub seconds: u32,
    /// `backoff` only.
    pub multiplier: Option<u32>,
    /// `detection_filter` in Suricata 8: count distinct `src_port` or `dst_port` values.
    pub unique_on: Option<String>,
}

impl Threshold {
    pub(crate) fn parse(s: &str, with_kind: bool) -> Result<Threshold, ErrorKind> {
        let (mut kind, mut track, mut count, mut seconds) = (None, None, None, None);
        let (mut multiplier, mut unique_on) = (None, None);
        for item in split_args(s) {
            let (k, v) = item
                .split_once(char::is_whitespace)
                .map(|(k, v)| (k, v.trim()))
                .ok_or_else(|| invalid(format!("`{item}` needs a value")))?;
            match k {
                "type" if with_kind => {
                    kind = Some(match v {
                        "limit" => ThresholdKind::Limit,
                        "threshold" => ThresholdKind::Threshold,
                        "both" => ThresholdKind::Both,
                        "backoff" => ThresholdKind::Backoff,
                        o => return Err(invalid(format!("unknown threshold type `{o}`"))),
                    })
                }
                "track" => {
                    track = Some(match v {
                        "by_src" => Track::BySrc,
                        "by_dst" => Track::ByDst,
                        "by_rule" => Track::ByRule,
                        "by_both" => Track::ByBoth,
                        "by_flow" => Track::ByFlow,
                        o => return Err(invalid(format!("unknown track `{o}`"))),
                    })
                }
                "count" => {
                    count = Some(v.parse().map_err(|_| invalid(format!("bad count `{v}`")))?)
                }
                "seconds" => {
                    seconds = Some(
                        v.parse()
                            .map_err(|_| invalid(format!("bad seconds `{v}`")))?,
                    )
                }
                "multiplier" if with_kind => {
                    multiplier = Some(
                        v.parse()
                            .map_err(|_| invalid(format!("bad multiplier `{v}`")))?,
                    )
                }
                "unique_on" if !with_kind => {
                    if v != "src_port" && v != "dst_port" {
                        return Err(invalid(format!(
                            "unique_on must be src_port or dst_port, not `{v}`"
                        )));
                    }
                    unique_on = Some(v.to_string())
                }
                o => return Err(invalid(format!("unknown option `{o}`"))),
            }
        }
        if with_kind && kind.is_none() {
            return Err(invalid("threshold needs a type"));
        }
        let backoff = kind == Some(ThresholdKind::Backoff);
        if backoff != multiplier.is_some() {
            return Err(invalid(
                "`multiplier` goes with type backoff, and only there",
            ));
        }
        Ok(Threshold {
            kind,
            track: track.ok_or_else(|| invalid("needs track"))?,
            count: count.ok_or_else(|| invalid("needs count"))?,
            seconds: if backoff {
                seconds.unwrap_or(0)
            } else {
                seconds.ok_or_else(|| invalid("needs seconds"))?
            },
            multiplier,
            unique_on,
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(k) = self.kind {
            let k = match k {
                ThresholdKind::Limit => "limit",
                ThresholdKind::Threshold => "threshold",
                ThresholdKind::Both => "both",
                ThresholdKind::Backoff => "backoff",
            };
            write!(f, "type {k}, ")?;
        }
        let t = match self.track {
            Track::BySrc => "by_src",
            Track::ByDst => "by_dst",
            Track::ByRule => "by_rule",
            Track::ByBoth => "by_both",
            Track::ByFlow => "by_flow",
        };
        write!(f, "track {t}, count {}", self.count)?;
        match self.multiplier {
            Some(m) => write!(f, ", multiplier {m}")?,
            None => write!(f, ", seconds {}", self.seconds)?,
        }
        if let Some(u) = &self.unique_on {
            write!(f, ", unique_on {u}")?;
        }
        Ok(())
    }
}

/// `flags:[modifier]<flags>[,<ignored flags>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// `+` (all of these and maybe others), `*` (any of these), `!` (not these), or none (exactly).
    pub modifier: Option<char>,
    /// The flags, as letters `FSRPAUCE` (`1`, `2` mean C and E; `0` no flags).
    pub flags: String,
    /// Flags to ignore.
    pub ignore: Option<String>,
}

const TCP_FLAG_CHARS: &str = "FSRPAUCEN012";

impl TcpFlags {
    pub(crate) fn parse(s: &str) -> Result<TcpFlags, ErrorKind> {
        let (main, ignore) = match s.split_once(',') {
            Some((m, i)) => (m.trim(), Some(i.trim().to_string())),
            None => (s.trim(), None),
        };
        let mut modifier = None;
        let mut flags = String::new();
        for c in main.chars() {
            match c {
                '+' | '*' | '!' => {
                    if modifier.is_some() {
                        return Err(invalid("two flag modifiers"));
                    }
                    modifier = Some(c)
                }
                c if TCP_FLAG_CHARS.contains(c.to_ascii_uppercase()) => {
                    flags.push(c.to_ascii_uppercase())
                }
                c => return Err(invalid(format!("unknown tcp flag `{c}`"))),
            }
        }
        if flags.is_empty() {
            return Err(invalid("no tcp flags"));
        }
        if let Some(i) = &ignore {
            if i.is_empty()
                || !i
                    .chars()
                    .all(|c| TCP_FLAG_CHARS.contains(c.to_ascii_uppercase()))
            {
                return Err(invalid(format!("bad ignored flags `{i}`")));
            }
        }
        Ok(TcpFlags {
            modifier,
            flags,
            ignore,
        })
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = self.modifier {
            write!(f, "{m}")?;
        }
        f.write_str(&self.flags)?;
        if let Some(i) = &self.ignore {
            write!(f, ",{i}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numcmp_forms() {
        assert_eq!(NumCmp::parse("5", 255), Ok(NumCmp::Eq(5)));
        assert_eq!(NumCmp::parse("<5", 255), Ok(NumCmp::Lt(5)));
        assert_eq!(NumCmp::parse(">=5", 255), Ok(NumCmp::Ge(5)));
        assert_eq!(NumCmp::parse("!5", 255), Ok(NumCmp::Ne(5)));
        assert_eq!(NumCmp::parse("3<>9", 255), Ok(NumCmp::Between(3, 9)));
        assert_eq!(NumCmp::parse("3-9", 255), Ok(NumCmp::Between(3, 9)));
        assert!(NumCmp::parse("9<>3", 255).is_err());
        assert!(NumCmp::parse("256", 255).is_err());
        assert!(NumCmp::Between(3, 9).matches(4) && !NumCmp::Between(3, 9).matches(3));
    }

    #[test]
    fn byte_keywords() {
        let t = ByteTest::parse("4,!&,0x80,0,relative,little").unwrap();
        assert!(t.negated && t.op == ByteOp::And && t.value == Value::Num(128) && t.relative);
        let t = ByteTest::parse("2,>,1000,0,string,dec,relative").unwrap();
        assert_eq!(t.string, Some(NumBase::Dec));
        assert!(ByteTest::parse("4,~,1,0").is_err());
        assert!(ByteTest::parse("9,=,1,0").is_err());
        let j = ByteJump::parse("4,-4,relative,from_beginning,little,post_offset -2").unwrap();
        assert!(j.from_beginning && j.post_offset == Some(-2) && j.offset == Value::Num(-4));
        let m =
            ByteMath::parse("bytes 1, offset 1, oper <<, rvalue 2, result r, relative").unwrap();
        assert_eq!(m.op, MathOp::Shl);
        assert!(m.relative && m.result == "r");
        assert_eq!(
            m.to_string(),
            "bytes 1, offset 1, oper <<, rvalue 2, result r, relative"
        );
        let m = ByteMath::parse("bytes n, offset 0, oper +, rvalue v, result r").unwrap();
        assert_eq!(m.nbytes, Value::Var(Box::new("n".into())));
        assert_eq!(m.rvalue, Value::Var(Box::new("v".into())));
        assert!(ByteMath::parse("bytes 1, offset 0, oper %, rvalue 1, result r").is_err());
        assert!(ByteMath::parse("bytes 1, offset 0, oper +, rvalue 1").is_err());
        assert!(ByteMath::parse("bytes 5, offset 0, oper +, rvalue 1, result r").is_err());
        let e = ByteExtract::parse("1,0,SuiteLength,relative").unwrap();
        assert_eq!(e.name, "SuiteLength");
        assert!(ByteExtract::parse("1,0,5").is_err());
    }

    #[test]
    fn pcre_flags_and_buffers() {
        let p = Pcre::parse(r#""/^foo\/bar/Ui""#).unwrap();
        assert_eq!(p.pattern, r"^foo\/bar");
        assert_eq!(p.flags, "i");
        assert_eq!(p.buffer, Some("http.uri"));
        let p = Pcre::parse(r#"!"/x/smR""#).unwrap();
        assert!(p.negated && p.relative && p.flags == "sm");
        assert!(Pcre::parse(r#""/x/q""#).is_err());
        let p = Pcre::parse(r#""/^(.*)\/(\d+)/VG, flow:key,pkt:value""#).unwrap();
        assert_eq!(p.flags, "G");
        assert_eq!(p.buffer, Some("http.user_agent"));
        assert_eq!(
            p.captures,
            [
                (VarKind::Flow, "key".into()),
                (VarKind::Pkt, "value".into())
            ]
        );
        assert_eq!(p.captures_string(), ",flow:key,pkt:value");
        assert!(Pcre::parse(r#""/(x)/, bogus:y""#).is_err());
        assert_eq!(
            VarKind::from_group_name("alert_ua"),
            Some((VarKind::Alert, "ua"))
        );
        assert_eq!(VarKind::from_group_name("ua"), None);
        assert!(Pcre::parse(r#""x""#).is_err());
        assert!(Pcre::parse(r#""/x"#).is_err());
    }

    #[test]
    fn flow_flowbits_threshold_flags() {
        let f = Flow::parse("established,to_server").unwrap();
        assert_eq!(f.to_string(), "established,to_server");
        assert!(Flow::parse("to_server,to_client").is_err());
        let fb = Flowbits::parse("isset,a|b").unwrap();
        assert_eq!(fb.names, ["a", "b"]);
        assert!(Flowbits::parse("noalert").is_ok());
        assert!(Flowbits::parse("set").is_err());
        assert!(Flowbits::parse("frob,x").is_err());
        let hb = Flowbits::parse_hostbits("toggle,abc,dst").unwrap();
        assert_eq!(
            hb.scope,
            BitScope::Host {
                dst: true,
                expire: None
            }
        );
        assert_eq!(hb.to_string(), "toggle,abc,dst");
        let hb = Flowbits::parse_hostbits("set,a, src, expire 60").unwrap();
        assert_eq!(hb.to_string(), "set,a,expire 60");
        assert!(Flowbits::parse_hostbits("set,a,sideways").is_err());
        assert!(Flowbits::parse_hostbits("noalert").is_ok());
        let t = Threshold::parse("type limit, track by_src, seconds 60, count 1", true).unwrap();
        assert_eq!(
            t.to_string(),
            "type limit, track by_src, count 1, seconds 60"
        );
        assert!(Threshold::parse("track by_src, count 1, seconds 60", true).is_err());
        assert!(Threshold::parse("track by_src, count 1, seconds 60", false).is_ok());
        let fl = TcpFlags::parse("S,12").unwrap();
        assert_eq!(fl.flags, "S");
        assert!(TcpFlags::parse("SX").is_err());
    }
}
