//! DNS messages as Suricata 8 writes them: EVE DNS version 3, one event per message, `type`
//! `request` or `response`, detailed `answers` plus the `grouped` form.

use serde_json::{json, Map, Value};

use super::parser::{format_ipv6, rcode_name, rrtype_name, Message, Name, RData, Record};

/// The `dns` object for one message; `tx_id` numbers the messages of one flow from 0.
pub fn dns_body(msg: &Message, tx_id: u64) -> Value {
    let h = &msg.header;
    let mut o = Map::new();
    o.insert("version".into(), json!(3));
    let response = h.is_response();
    o.insert(
        "type".into(),
        json!(if response { "response" } else { "request" }),
    );
    o.insert("tx_id".into(), json!(tx_id));
    o.insert("id".into(), json!(h.id));
    o.insert("flags".into(), json!(format!("{:x}", h.flags)));
    for (bit, name) in [
        (0x8000u16, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0040, "z"),
    ] {
        if h.flags & bit != 0 {
            o.insert(name.into(), json!(true));
        }
    }
    o.insert("opcode".into(), json!(h.opcode()));
    o.insert("rcode".into(), json!(rcode_name(h.rcode())));
    if !msg.questions.is_empty() {
        let qs: Vec<Value> = msg
            .questions
            .iter()
            .map(|q| {
                let mut e = Map::new();
                e.insert("rrname".into(), json!(q.name.text));
                if q.name.truncated {
                    e.insert("rrname_truncated".into(), json!(true));
                }
                e.insert("rrtype".into(), json!(rrtype_name(q.rrtype)));
                Value::Object(e)
            })
            .collect();
        o.insert("queries".into(), Value::Array(qs));
    }
    let answers: Vec<Value> = msg.answers.iter().flat_map(answer_entries).collect();
    if !answers.is_empty() {
        o.insert("answers".into(), Value::Array(answers));
    }
    let grouped = grouped(&msg.answers);
    if !grouped.is_empty() {
        o.insert("grouped".into(), Value::Object(grouped));
    }
    let auth: Vec<Value> = msg.authorities.iter().flat_map(authority_entries).collect();
    if !auth.is_empty() {
        o.insert("authorities".into(), Value::Array(auth));
    }
    // An OPT record without options says nothing worth a line.
    let adds: Vec<Value> = msg
        .additionals
        .iter()
        .filter(|r| !matches!(&r.rdata, RData::Opt(o) if o.is_empty()))
        .flat_map(additional_entries)
        .collect();
    if !adds.is_empty() {
        o.insert("additionals".into(), Value::Array(adds));
    }
    Value::Object(o)
}

/// The rdata strings of one record: one for most types, one per character-string for TXT.
fn rdata_strings(r: &RData) -> Vec<String> {
    match r {
        RData::A(a) => vec![format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])],
        RData::Aaaa(a) => vec![format_ipv6(a)],
        RData::Name(n) => vec![n.text.clone()],
        RData::Txt(v) => v.clone(),
        RData::Svcb(s) | RData::Other(s) => vec![s.clone()],
        RData::Soa(_) | RData::Srv(_) | RData::Opt(_) | RData::None => Vec::new(),
    }
}

fn soa_json(s: &super::parser::Soa) -> Value {
    let mut o = Map::new();
    o.insert("mname".into(), json!(s.mname.text));
    if s.mname.truncated {
        o.insert("mname_truncated".into(), json!(true));
    }
    o.insert("rname".into(), json!(s.rname.text));
    o.insert("serial".into(), json!(s.serial));
    o.insert("refresh".into(), json!(s.refresh));
    o.insert("retry".into(), json!(s.retry));
    o.insert("expire".into(), json!(s.expire));
    o.insert("minimum".into(), json!(s.minimum));
    Value::Object(o)
}

fn srv_json(s: &super::parser::Srv) -> Value {
    json!({"priority": s.priority, "weight": s.weight, "port": s.port, "name": s.target.text})
}

fn common(r: &Record, name: &Name) -> Map<String, Value> {
    let mut e = Map::new();
    e.insert("rrname".into(), json!(name.text));
    e.insert("rrtype".into(), json!(rrtype_name(r.rrtype)));
    e.insert("ttl".into(), json!(r.ttl));
    e
}

/// Detailed entries for one record. TXT records give one entry per character-string, as
/// Suricata 8 logs them. Each section gets only the fields the schema allows it.
fn entries(r: &Record, section: Section) -> Vec<Value> {
    let mut e = common(r, &r.name);
    if r.name.truncated && section != Section::Answer {
        e.insert("rrname_truncated".into(), json!(true));
    }
    match (&r.rdata, section) {
        (RData::Soa(s), Section::Answer | Section::Authority) => {
            e.insert("soa".into(), soa_json(s));
        }
        (RData::Srv(s), Section::Answer) => {
            e.insert("srv".into(), srv_json(s));
        }
        (RData::Opt(opts), Section::Additional) if !opts.is_empty() => {
            let list: Vec<Value> = opts
                .iter()
                .map(|(code, data)| json!({"code": code, "data": crate::parse::hex(data)}))
                .collect();
            e.insert("opt".into(), Value::Array(list));
        }
        (RData::Txt(v), _) if !v.is_empty() => {
            return v
                .iter()
                .map(|s| {
                    let mut x = e.clone();
                    x.insert("rdata".into(), json!(s));
                    Value::Object(x)
                })
                .collect();
        }
        (other, _) => {
            if let Some(s) = rdata_strings(other).into_iter().next() {
                e.insert("rdata".into(), json!(s));
            }
        }
    }
    vec![Value::Object(e)]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Answer,
    Authority,
    Additional,
}

fn answer_entries(r: &Record) -> Vec<Value> {
    // The answers schema has no `rrname_truncated`; the truncated name is still logged.
    entries(r, Section::Answer)
}

fn authority_entries(r: &Record) -> Vec<Value> {
    entries(r, Section::Authority)
}

fn additional_entries(r: &Record) -> Vec<Value> {
    entries(r, Section::Additional)
}

fn grouped(answers: &[Record]) -> Map<String, Value> {
    let mut g: Map<String, Value> = Map::new();
    for r in answers {
        let key = rrtype_name(r.rrtype);
        let item = match (&r.rdata, key.as_str()) {
            (RData::Soa(s), "SOA") => soa_json(s),
            (RData::Srv(s), "SRV") => srv_json(s),
            (d, "A" | "AAAA" | "CNAME" | "MX" | "NS" | "NULL" | "PTR" | "TXT") => {
                let strings = rdata_strings(d);
                if strings.is_empty() {
                    continue;
                }
                if let Value::Array(a) = g.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                    a.extend(strings.into_iter().map(Value::String));
                }
                continue;
            }
            _ => continue,
        };
        if let Value::Array(a) = g.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            a.push(item);
        }
    }
    g
}

/// How `dns` records are written, as Suricata's `outputs.eve-log.types.dns` options say:
/// the EVE DNS version (3, or the older 2 with one `query` record per question and an
/// `answer` record per response), whether requests and responses are logged, and which
/// query types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsLogConfig {
    /// 2 or 3.
    pub version: u8,
    pub requests: bool,
    pub responses: bool,
    /// Query types logged (`A`, `AAAA`, `MX`...), all when `None`.
    pub types: Option<Vec<String>>,
}

impl Default for DnsLogConfig {
    fn default() -> Self {
        DnsLogConfig {
            version: 3,
            requests: true,
            responses: true,
            types: None,
        }
    }
}

impl DnsLogConfig {
    fn type_logged(&self, rrtype: Option<&str>) -> bool {
        match (&self.types, rrtype) {
            (None, _) => true,
            (Some(types), Some(t)) => types.iter().any(|x| x.eq_ignore_ascii_case(t)),
            (Some(_), None) => false,
        }
    }

    /// The EVE `dns` objects to write for one message whose version 3 body (from
    /// [`dns_body`]) is `body`: none, one, or (version 2 requests) one per question.
    pub fn records(&self, body: &Value) -> Vec<Value> {
        let response = body.get("type").and_then(Value::as_str) == Some("response");
        if (response && !self.responses) || (!response && !self.requests) {
            return Vec::new();
        }
        let queries: Vec<&Value> = body
            .get("queries")
            .and_then(Value::as_array)
            .map(|q| q.iter().collect())
            .unwrap_or_default();
        let qtype = |q: &Value| q.get("rrtype").and_then(Value::as_str).map(str::to_string);
        if self.version != 2 {
            let logged = self.types.is_none()
                || queries
                    .iter()
                    .any(|q| self.type_logged(qtype(q).as_deref()));
            return if logged {
                vec![body.clone()]
            } else {
                Vec::new()
            };
        }
        if !response {
            return queries
                .iter()
                .filter(|q| self.type_logged(qtype(q).as_deref()))
                .map(|q| {
                    let mut o = Map::new();
                    o.insert("version".into(), json!(2));
                    o.insert("type".into(), json!("query"));
                    for k in ["id"] {
                        if let Some(v) = body.get(k) {
                            o.insert(k.into(), v.clone());
                        }
                    }
                    for k in ["rrname", "rrtype"] {
                        if let Some(v) = q.get(k) {
                            o.insert(k.into(), v.clone());
                        }
                    }
                    for k in ["tx_id", "opcode"] {
                        if let Some(v) = body.get(k) {
                            o.insert(k.into(), v.clone());
                        }
                    }
                    Value::Object(o)
                })
                .collect();
        }
        // A version 2 answer names the (first) question it answers.
        let first = queries.first().copied();
        if !self.type_logged(first.and_then(qtype).as_deref()) {
            return Vec::new();
        }
        let Some(src) = body.as_object() else {
            return Vec::new();
        };
        let mut o = Map::new();
        for (k, v) in src {
            match k.as_str() {
                "queries" => {
                    if let Some(q) = first {
                        for f in ["rrname", "rrtype"] {
                            if let Some(v) = q.get(f) {
                                o.insert(f.into(), v.clone());
                            }
                        }
                    }
                }
                "version" => {
                    o.insert("version".into(), json!(2));
                }
                "type" => {
                    o.insert("type".into(), json!("answer"));
                }
                _ => {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
        vec![Value::Object(o)]
    }
}
