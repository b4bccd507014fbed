//! DNS messages as Suricata 8 writes them: EVE DNS version 3, one event per message, `type`
//! `request` or `response`, detailed `answers` plus the `grouped` form.

use serde_json::{json, Map, Value};

use super::parser::{format_ipv6, rcode_name, rrtype_name, Message, Name, RData, Record};

/// The `dns` object for one message.
pub fn dns_body(msg: &Message) -> Value {
    let h = &msg.header;
    let mut o = Map::new();
    o.insert("version".into(), json!(3));
    let response = h.is_response();
    o.insert(
        "type".into(),
        json!(if response { "response" } else { "request" }),
    );
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
    if response {
        o.insert("rcode".into(), json!(rcode_name(h.rcode())));
    }
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
    if response {
        let answers: Vec<Value> = msg.answers.iter().map(answer_entry).collect();
        if !answers.is_empty() {
            o.insert("answers".into(), Value::Array(answers));
        }
        let grouped = grouped(&msg.answers);
        if !grouped.is_empty() {
            o.insert("grouped".into(), Value::Object(grouped));
        }
        let auth: Vec<Value> = msg.authorities.iter().map(authority_entry).collect();
        if !auth.is_empty() {
            o.insert("authorities".into(), Value::Array(auth));
        }
    }
    Value::Object(o)
}

fn rdata_string(r: &RData) -> Option<String> {
    match r {
        RData::A(a) => Some(format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        RData::Aaaa(a) => Some(format_ipv6(a)),
        RData::Name(n) => Some(n.text.clone()),
        RData::Txt(s) | RData::Svcb(s) | RData::Other(s) => Some(s.clone()),
        RData::Soa(_) | RData::Srv(_) | RData::None => None,
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

fn answer_entry(r: &Record) -> Value {
    // The answers schema has no `rrname_truncated`; the truncated name is still logged.
    let mut e = common(r, &r.name);
    match &r.rdata {
        RData::Soa(s) => {
            e.insert("soa".into(), soa_json(s));
        }
        RData::Srv(s) => {
            e.insert("srv".into(), srv_json(s));
        }
        other => {
            if let Some(s) = rdata_string(other) {
                e.insert("rdata".into(), json!(s));
            }
        }
    }
    Value::Object(e)
}

fn authority_entry(r: &Record) -> Value {
    let mut e = common(r, &r.name);
    if r.name.truncated {
        e.insert("rrname_truncated".into(), json!(true));
    }
    match &r.rdata {
        RData::Soa(s) => {
            e.insert("soa".into(), soa_json(s));
        }
        other => {
            if let Some(s) = rdata_string(other) {
                e.insert("rdata".into(), json!(s));
            }
        }
    }
    Value::Object(e)
}

fn grouped(answers: &[Record]) -> Map<String, Value> {
    let mut g: Map<String, Value> = Map::new();
    for r in answers {
        let key = rrtype_name(r.rrtype);
        let item = match (&r.rdata, key.as_str()) {
            (RData::Soa(s), "SOA") => soa_json(s),
            (RData::Srv(s), "SRV") => srv_json(s),
            (d, "A" | "AAAA" | "CNAME" | "MX" | "NS" | "NULL" | "PTR" | "TXT") => {
                match rdata_string(d) {
                    Some(s) => json!(s),
                    None => continue,
                }
            }
            _ => continue,
        };
        if let Value::Array(a) = g.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            a.push(item);
        }
    }
    g
}
