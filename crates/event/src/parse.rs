//! Reading EVE JSON back into an [`Event`], in one pass over the text.
//!
//! The manager parses every record an agent sends, so this avoids what a derived
//! `Deserialize` plus a `Value` of the whole record would cost: the record is never held as
//! a tree, keys are borrowed from the input, and each envelope field is read straight into
//! its typed slot. Everything else becomes a `Value` once, in `body`, `picket` or `extra`.

use crate::{Event, Timestamp};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

impl Event {
    /// Parse one EVE JSON record, the inverse of [`Event::write_eve`]: the envelope
    /// (`timestamp` and `event_type` required), the object named by `event_type` as `body`,
    /// `picket` (when it is an object) as picket's fields, and every other top-level field as
    /// `extra`. An envelope field given twice or of the wrong type is an error, as is
    /// anything after the object but white space.
    pub fn from_eve_slice(record: &[u8]) -> Result<Event, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(record);
        let event = deserializer.deserialize_map(EveVisitor)?;
        deserializer.end()?;
        Ok(event)
    }
}

/// A key borrowed from the input when it has no escapes.
struct KeyName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyName(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyName(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct EveVisitor;

/// Store `value` in `slot`, refusing a second one.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for EveVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an EVE JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut timestamp: Option<Timestamp> = None;
        let mut event_type: Option<String> = None;
        // Optional envelope fields: the outer Option says whether the key was seen (to
        // refuse duplicates), the inner one is the value (`null` is none).
        let mut host: Option<Option<String>> = None;
        let mut flow_id: Option<Option<u64>> = None;
        let mut community_id: Option<Option<String>> = None;
        let mut src_ip: Option<Option<String>> = None;
        let mut src_port: Option<Option<u16>> = None;
        let mut dest_ip: Option<Option<String>> = None;
        let mut dest_port: Option<Option<u16>> = None;
        let mut proto: Option<Option<String>> = None;
        let mut rest = Map::new();
        while let Some(KeyName(key)) = map.next_key()? {
            match key.as_ref() {
                "timestamp" => once(&mut timestamp, map.next_value()?, "timestamp")?,
                "event_type" => once(&mut event_type, map.next_value()?, "event_type")?,
                "host" => once(&mut host, map.next_value()?, "host")?,
                "flow_id" => once(&mut flow_id, map.next_value()?, "flow_id")?,
                "community_id" => once(&mut community_id, map.next_value()?, "community_id")?,
                "src_ip" => once(&mut src_ip, map.next_value()?, "src_ip")?,
                "src_port" => once(&mut src_port, map.next_value()?, "src_port")?,
                "dest_ip" => once(&mut dest_ip, map.next_value()?, "dest_ip")?,
                "dest_port" => once(&mut dest_port, map.next_value()?, "dest_port")?,
                "proto" => once(&mut proto, map.next_value()?, "proto")?,
                _ => {
                    let value: Value = map.next_value()?;
                    rest.insert(key.into_owned(), value);
                }
            }
        }
        let timestamp = timestamp.ok_or_else(|| de::Error::missing_field("timestamp"))?;
        let event_type = event_type.ok_or_else(|| de::Error::missing_field("event_type"))?;
        let mut event = Event::new(timestamp, event_type);
        event.host = host.flatten();
        event.flow_id = flow_id.flatten();
        event.community_id = community_id.flatten();
        event.endpoints.src_ip = src_ip.flatten();
        event.endpoints.src_port = src_port.flatten();
        event.endpoints.dest_ip = dest_ip.flatten();
        event.endpoints.dest_port = dest_port.flatten();
        event.endpoints.proto = proto.flatten();
        if let Some(body) = rest.remove(&event.event_type) {
            event.body = body;
        }
        // A `picket` that is not an object is not picket's: it is dropped, as the writer
        // would never have produced it.
        if let Some(Value::Object(picket)) = rest.remove("picket") {
            event.picket = picket;
        }
        event.extra = rest;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EveMode;

    #[test]
    fn parse_is_the_inverse_of_write() {
        let mut event = crate::tests::sample_flow_event();
        event.picket.insert("history".into(), Value::from("ShAD"));
        let mut line = Vec::new();
        event
            .write_eve(EveMode::Extended, &mut line)
            .expect("write");
        assert_eq!(Event::from_eve_slice(&line).expect("parse"), event);
        // The sorted-key form `to_eve_line` writes parses the same.
        let sorted = event.to_eve_line(EveMode::Extended);
        assert_eq!(
            Event::from_eve_slice(sorted.as_bytes()).expect("parse"),
            event
        );
    }

    #[test]
    fn nulls_escapes_and_a_foreign_picket_field() {
        let record = br#" {"event_type":"log","timestamp":"2023-11-14T22:13:20.5+0000",
            "host":null,"src_port":null,"log":{"line":"a\"b"},"picket":3,"k\u0065y":[1]} "#;
        let event = Event::from_eve_slice(record).expect("parse");
        assert_eq!(
            event.timestamp,
            Timestamp::from_micros(1_700_000_000_500_000)
        );
        assert_eq!(event.host, None);
        assert_eq!(event.endpoints.src_port, None);
        assert_eq!(event.body["line"], "a\"b");
        assert!(event.picket.is_empty());
        assert_eq!(event.extra.get("key"), Some(&serde_json::json!([1])));
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        for record in [
            &b""[..],
            b"[]",
            b"\"log\"",
            b"{\"event_type\":\"log\"}",
            b"{\"timestamp\":\"1970-01-01T00:00:00+0000\"}",
            b"{\"timestamp\":\"yesterday\",\"event_type\":\"log\"}",
            b"{\"timestamp\":\"1970-01-01T00:00:00+0000\",\"event_type\":\"log\",\"host\":\"a\",\"host\":\"b\"}",
            b"{\"timestamp\":\"1970-01-01T00:00:00+0000\",\"event_type\":\"log\",\"src_port\":70000}",
            b"{\"timestamp\":\"1970-01-01T00:00:00+0000\",\"event_type\":\"log\"} x",
            b"{\"timestamp\":\"1970-01-01T00:00:00+0000\",\"event_type\":\"log\",\"log\":",
            b"\xff\xfe",
        ] {
            assert!(
                Event::from_eve_slice(record).is_err(),
                "{}",
                String::from_utf8_lossy(record)
            );
        }
    }
}
