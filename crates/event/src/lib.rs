//! The shared vocabulary of picket.
//!
//! Every source, decoder, engine and sink speaks in [`Event`]s and [`Alert`]s. The JSON form
//! follows Suricata's EVE layout (`timestamp`, `event_type`, `src_ip`, ... with one object per
//! event type), so Security Onion, EveBox and Elastic read picket's output unchanged. Fields
//! that EVE does not name live under a single top-level `picket` object, which a strict EVE
//! writer leaves out (see [`EveMode`]).
//!
//! This crate does no I/O.

mod flow_record;
pub mod json;
mod parse;
mod time;

pub use flow_record::{mac_text, tcp_flag_fields, tcp_flags_hex, FlowRecord, FlowTcp};
pub use time::Timestamp;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Whether picket's own additions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EveMode {
    /// Keep the `picket` object. Elastic, Security Onion and EveBox ignore unknown fields.
    #[default]
    Extended,
    /// Only fields that Suricata's EVE schema names, for consumers that validate strictly.
    Strict,
}

/// The network endpoints of an event, when it has any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
}

/// One event: the envelope shared by every source, plus its typed body.
///
/// `body` is the EVE object named after `event_type` (for example the `dns` object of a DNS
/// event). `picket` carries our additions (conn_state, the qube name, baseline figures...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub timestamp: Timestamp,
    /// The sensor or source name, as authenticated by the transport, never as claimed inside
    /// the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<String>,
    #[serde(flatten)]
    pub endpoints: Endpoints,
    /// The EVE object for this `event_type`.
    #[serde(skip)]
    pub body: Value,
    /// Other top-level EVE fields this event type carries beside its body (for a flow:
    /// `app_proto`, `tcp`, `vlan`, `icmp_type`...). They never replace envelope fields.
    #[serde(skip)]
    pub extra: Map<String, Value>,
    /// Picket's own fields, outside the EVE schema.
    #[serde(skip)]
    pub picket: Map<String, Value>,
    /// A `flow` record's fields kept typed until written (see [`FlowRecord`]). They stand
    /// for the body and some `extra` and `picket` fields; [`Event::materialize`] turns them
    /// into those for code that reads the JSON values. Fields already in `body`, `extra` or
    /// `picket` win over the record's.
    #[serde(skip)]
    pub flow_record: Option<Box<FlowRecord>>,
}

impl Event {
    /// A new event of the given type with an empty body.
    pub fn new(timestamp: Timestamp, event_type: impl Into<String>) -> Self {
        Event {
            timestamp,
            host: None,
            event_type: event_type.into(),
            flow_id: None,
            community_id: None,
            endpoints: Endpoints::default(),
            body: Value::Null,
            extra: Map::new(),
            picket: Map::new(),
            flow_record: None,
        }
    }

    /// Move a typed [`FlowRecord`] into `body`, `extra` and `picket` as JSON values, for
    /// code that reads those (analytics, tests). Nothing changes in the written record.
    pub fn materialize(&mut self) {
        let Some(record) = self.flow_record.take() else {
            return;
        };
        let (mut extra, body, mut picket) = record.fields();
        extra.append(&mut self.extra);
        self.extra = extra;
        if self.body.is_null() {
            self.body = body;
        }
        picket.append(&mut self.picket);
        self.picket = picket;
    }

    /// The EVE JSON object for this event.
    pub fn to_eve(&self, mode: EveMode) -> Value {
        if self.flow_record.is_some() {
            let mut plain = self.clone();
            plain.materialize();
            return plain.to_eve(mode);
        }
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // Serialising plain strings and numbers cannot fail; keep an empty object if it
            // ever does rather than panic in a sink.
            _ => Map::new(),
        };
        for (key, value) in &self.extra {
            if !is_envelope_key(key) && *key != self.event_type && key != "picket" {
                object.insert(key.clone(), value.clone());
            }
        }
        if !self.body.is_null() {
            object.insert(self.event_type.clone(), self.body.clone());
        }
        if mode == EveMode::Extended && !self.picket.is_empty() {
            object.insert("picket".into(), Value::Object(self.picket.clone()));
        }
        Value::Object(object)
    }

    /// Write the same JSON as [`Event::to_eve`] straight to `out`, without building an
    /// intermediate object. Sinks that write many events a second should prefer
    /// [`Event::append_eve`] into a reused buffer.
    pub fn write_eve<W: std::io::Write>(&self, mode: EveMode, out: &mut W) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(512);
        self.append_eve(mode, &mut line);
        out.write_all(&line)
    }

    /// Append the same JSON object as [`Event::to_eve`] to `out` without building it: the
    /// envelope in EVE's order, then `extra`, the body and `picket`, each value written
    /// exactly as serde_json writes it.
    pub fn append_eve(&self, mode: EveMode, out: &mut Vec<u8>) {
        if let Some(record) = &self.flow_record {
            if !self.body.is_null() || !self.extra.is_empty() || !self.picket.is_empty() {
                // Fields to merge with the record's: rare (flowbits labels from detection),
                // so the value form is good enough.
                let mut plain = self.clone();
                plain.materialize();
                return plain.append_eve(mode, out);
            }
            self.append_envelope(out);
            record.write_extra(out);
            out.push(b',');
            json::write_str(out, &self.event_type);
            out.push(b':');
            record.write_body(out);
            if mode == EveMode::Extended {
                out.extend_from_slice(b",\"picket\":");
                record.write_picket(out);
            }
            out.push(b'}');
            return;
        }
        self.append_envelope(out);
        for (key, value) in &self.extra {
            if !is_envelope_key(key) && *key != self.event_type && key != "picket" {
                out.push(b',');
                json::write_str(out, key);
                out.push(b':');
                json::write_value(out, value);
            }
        }
        if !self.body.is_null() {
            out.push(b',');
            json::write_str(out, &self.event_type);
            out.push(b':');
            json::write_value(out, &self.body);
        }
        if mode == EveMode::Extended && !self.picket.is_empty() {
            out.extend_from_slice(b",\"picket\":");
            json::write_map(out, &self.picket);
        }
        out.push(b'}');
    }

    /// The envelope's fields, from the opening brace.
    fn append_envelope(&self, out: &mut Vec<u8>) {
        // Destructured in full so that a new envelope field cannot be forgotten here.
        let Event {
            timestamp,
            host,
            event_type,
            flow_id,
            community_id,
            endpoints,
            body: _,
            extra: _,
            picket: _,
            flow_record: _,
        } = self;
        let Endpoints {
            src_ip,
            src_port,
            dest_ip,
            dest_port,
            proto,
        } = endpoints;
        // Keys written here are plain ASCII: nothing to escape.
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp.write_eve_text(out);
        out.push(b'"');
        if let Some(host) = host {
            out.extend_from_slice(b",\"host\":");
            json::write_str(out, host);
        }
        out.extend_from_slice(b",\"event_type\":");
        json::write_str(out, event_type);
        if let Some(id) = flow_id {
            out.extend_from_slice(b",\"flow_id\":");
            json::write_u64(out, *id);
        }
        if let Some(id) = community_id {
            out.extend_from_slice(b",\"community_id\":");
            json::write_str(out, id);
        }
        if let Some(ip) = src_ip {
            out.extend_from_slice(b",\"src_ip\":");
            json::write_str(out, ip);
        }
        if let Some(port) = src_port {
            out.extend_from_slice(b",\"src_port\":");
            json::write_u64(out, u64::from(*port));
        }
        if let Some(ip) = dest_ip {
            out.extend_from_slice(b",\"dest_ip\":");
            json::write_str(out, ip);
        }
        if let Some(port) = dest_port {
            out.extend_from_slice(b",\"dest_port\":");
            json::write_u64(out, u64::from(*port));
        }
        if let Some(proto) = proto {
            out.extend_from_slice(b",\"proto\":");
            json::write_str(out, proto);
        }
    }

    /// One line of EVE JSON, without the trailing newline.
    pub fn to_eve_line(&self, mode: EveMode) -> String {
        self.to_eve(mode).to_string()
    }
}

/// Whether `key` is a top-level name the envelope itself may write; `extra` never
/// overrides them. A `match`, not a list walk: it runs for every extra field written.
fn is_envelope_key(key: &str) -> bool {
    matches!(
        key,
        "timestamp"
            | "host"
            | "event_type"
            | "flow_id"
            | "community_id"
            | "src_ip"
            | "src_port"
            | "dest_ip"
            | "dest_port"
            | "proto"
    )
}

/// Severity of an alert, 1 (highest) to 4, as EVE's `alert.severity` counts it.
pub type Severity = u8;

/// A detection: what matched, how bad it is, and the event that caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Which engine raised it: `hids`, `nids`, `netwatch`, `decoy`...
    pub engine: String,
    pub signature_id: u64,
    pub rev: u32,
    pub signature: String,
    pub category: String,
    pub severity: Severity,
    /// The engine's own level (OSSEC's 0–16), kept for users who think in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitre: Vec<String>,
}

impl Alert {
    /// OSSEC levels run 0–16 and EVE severities 1 (worst) to 4; this keeps the two in step.
    pub fn severity_from_level(level: u8) -> Severity {
        match level {
            12.. => 1,
            8..=11 => 2,
            4..=7 => 3,
            _ => 4,
        }
    }

    /// Wrap this alert in an EVE `alert` event that carries the triggering event's envelope.
    pub fn into_event(self, cause: &Event) -> Event {
        let mut event = Event::new(cause.timestamp, "alert");
        event.host = cause.host.clone();
        event.flow_id = cause.flow_id;
        event.community_id = cause.community_id.clone();
        event.endpoints = cause.endpoints.clone();
        let mut body = Map::new();
        body.insert("action".into(), Value::from("allowed"));
        body.insert("gid".into(), Value::from(1));
        body.insert("signature_id".into(), Value::from(self.signature_id));
        body.insert("rev".into(), Value::from(self.rev));
        body.insert("signature".into(), Value::from(self.signature.clone()));
        body.insert("category".into(), Value::from(self.category.clone()));
        body.insert("severity".into(), Value::from(self.severity));
        event.body = Value::Object(body);
        event.picket = cause.picket.clone();
        event
            .picket
            .insert("engine".into(), Value::from(self.engine));
        if let Some(level) = self.level {
            event.picket.insert("level".into(), Value::from(level));
        }
        if !self.groups.is_empty() {
            event
                .picket
                .insert("groups".into(), Value::from(self.groups));
        }
        if !self.mitre.is_empty() {
            event.picket.insert("mitre".into(), Value::from(self.mitre));
        }
        event
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A flow event whose fields need escaping, shared by the writer's and the parser's tests.
    pub(crate) fn sample_flow_event() -> Event {
        let mut event = Event::new(Timestamp::from_micros(1_700_000_000_123_456), "flow");
        event.flow_id = Some(7);
        event.host = Some("sys-\"firewall\"\n".into());
        event.community_id = Some("1:abc/+=".into());
        event.endpoints = Endpoints {
            src_ip: Some("10.0.0.1".into()),
            src_port: Some(1234),
            dest_ip: Some("::1".into()),
            dest_port: Some(53),
            proto: Some("UDP".into()),
        };
        event.body = serde_json::json!({"pkts_toserver": 1, "state": "new"});
        event.extra.insert("app_proto".into(), Value::from("dns"));
        event
    }

    #[test]
    fn strict_mode_drops_picket_object_and_keeps_body() {
        let mut event = Event::new(Timestamp::from_micros(1_700_000_000_123_456), "dns");
        event.body = serde_json::json!({"type": "query", "rrname": "example.org"});
        event.picket.insert("qube".into(), Value::from("work"));
        let strict = event.to_eve(EveMode::Strict);
        assert!(strict.get("picket").is_none());
        assert_eq!(strict["dns"]["rrname"], "example.org");
        assert_eq!(strict["timestamp"], "2023-11-14T22:13:20.123456+0000");
        let extended = event.to_eve(EveMode::Extended);
        assert_eq!(extended["picket"]["qube"], "work");
    }

    #[test]
    fn extra_fields_are_top_level_and_never_override_the_envelope() {
        let mut event = Event::new(Timestamp::from_micros(0), "flow");
        event.extra.insert("app_proto".into(), Value::from("dns"));
        event
            .extra
            .insert("event_type".into(), Value::from("forged"));
        let eve = event.to_eve(EveMode::Strict);
        assert_eq!(eve["app_proto"], "dns");
        assert_eq!(eve["event_type"], "flow");
    }

    #[test]
    fn write_eve_matches_to_eve() {
        let mut event = sample_flow_event();
        event.extra.insert("src_ip".into(), Value::from("forged"));
        event.picket.insert("history".into(), Value::from("ShAD"));
        for mode in [EveMode::Strict, EveMode::Extended] {
            let mut line = Vec::new();
            event.write_eve(mode, &mut line).expect("write");
            let parsed: Value = serde_json::from_slice(&line).expect("valid JSON");
            assert_eq!(parsed, event.to_eve(mode), "{mode:?}");
        }
        // An event with nothing but its envelope.
        let bare = Event::new(Timestamp::from_micros(0), "stats");
        let mut line = Vec::new();
        bare.write_eve(EveMode::Strict, &mut line).expect("write");
        assert_eq!(
            serde_json::from_slice::<Value>(&line).ok(),
            Some(bare.to_eve(EveMode::Strict))
        );
    }

    /// The writer's exact bytes: field order and escaping are what EVE consumers and
    /// suricata-verify compare, so a change here must be deliberate.
    #[test]
    fn append_eve_writes_the_exact_line() {
        let mut event = sample_flow_event();
        event.extra.insert("src_ip".into(), Value::from("forged"));
        event
            .extra
            .insert("flow".into(), Value::from("shadowed by the body"));
        event.extra.insert(
            "tcp".into(),
            serde_json::json!({"syn": true, "tcp_flags": "02"}),
        );
        event.picket.insert("history".into(), Value::from("Sh\tAD"));
        event.picket.insert("missed_bytes".into(), Value::from(0));
        let mut line = Vec::new();
        event.append_eve(EveMode::Extended, &mut line);
        assert_eq!(
            String::from_utf8(line).expect("UTF-8"),
            concat!(
                r#"{"timestamp":"2023-11-14T22:13:20.123456+0000","host":"sys-\"firewall\"\n","#,
                r#""event_type":"flow","flow_id":7,"community_id":"1:abc/+=","src_ip":"10.0.0.1","#,
                r#""src_port":1234,"dest_ip":"::1","dest_port":53,"proto":"UDP","app_proto":"dns","#,
                r#""tcp":{"syn":true,"tcp_flags":"02"},"flow":{"pkts_toserver":1,"state":"new"},"#,
                r#""picket":{"history":"Sh\tAD","missed_bytes":0}}"#
            )
        );
        let mut strict = Vec::new();
        event.append_eve(EveMode::Strict, &mut strict);
        assert!(!String::from_utf8(strict).expect("UTF-8").contains("picket"));
    }

    #[test]
    fn alert_severity_follows_level() {
        assert_eq!(Alert::severity_from_level(15), 1);
        assert_eq!(Alert::severity_from_level(10), 2);
        assert_eq!(Alert::severity_from_level(5), 3);
        assert_eq!(Alert::severity_from_level(0), 4);
    }
}
