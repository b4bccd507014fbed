//! The EVE `flow` record, kept typed until it is written.
//!
//! A sensor ends one flow record per flow, the bulk of its output. Built as `serde_json`
//! values, each record cost some thirty small allocations (keys, strings, tree nodes) only
//! to be walked once by the writer and freed. A [`FlowRecord`] holds the same fields as
//! plain numbers and static names; [`FlowRecord::write`] writes them straight to the output,
//! and [`FlowRecord::fields`] gives the values for consumers that read records as JSON
//! trees. Both produce the same bytes: the tests hold them to it.

use crate::json;
use crate::Timestamp;
use serde_json::{Map, Value};

/// The fields of an EVE `flow` record beyond the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// `app_proto`: the parser's protocol, `failed`, or none while undecided.
    pub app_proto: Option<&'static str>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub alerted: bool,
    /// `flow.reason`: `timeout`, `forced` or `shutdown`.
    pub reason: &'static str,
    /// `flow.state`: `new`, `established` or `closed`.
    pub state: &'static str,
    /// TCP flows only.
    pub tcp: Option<FlowTcp>,
    /// The first ICMP type and code seen from the client, and from the server.
    pub icmp: Option<(u8, u8)>,
    pub response_icmp: Option<(u8, u8)>,
    /// 4 or 6.
    pub ip_v: u8,
    /// The outer and inner VLAN ids; 0 means none.
    pub vlan: [u16; 2],
    /// Each side's Ethernet addresses, client's first, when the sensor logs them.
    pub ether: Option<Box<[Vec<[u8; 6]>; 2]>>,
    /// IPsec ESP flows: the security association's SPI.
    pub spi: Option<u32>,
    /// Picket's own fields: Zeek's `conn_state`, `history` and the bytes lost in gaps.
    pub conn_state: &'static str,
    pub history: String,
    pub missed_bytes: u64,
}

/// The `tcp` object of a flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTcp {
    /// Flags seen from the client and from the server.
    pub flags_ts: u8,
    pub flags_tc: u8,
    /// The TCP state name (`established`, `closed`, `syn_sent`...).
    pub state: &'static str,
}

/// TCP flag bits and the names EVE gives them, in the sorted order of the names.
const FLAG_NAMES: [(&str, u8); 8] = [
    ("ack", 0x10),
    ("cwr", 0x80),
    ("ecn", 0x40),
    ("fin", 0x01),
    ("psh", 0x08),
    ("rst", 0x04),
    ("syn", 0x02),
    ("urg", 0x20),
];

/// Two lowercase hex digits, as EVE writes TCP flags.
pub fn tcp_flags_hex(flags: u8) -> String {
    String::from_utf8_lossy(&hex2(flags)).into_owned()
}

fn hex2(b: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]
}

/// A MAC address as EVE writes it: lowercase hex pairs joined by colons.
pub fn mac_text(mac: &[u8; 6]) -> String {
    String::from_utf8_lossy(&mac_bytes(mac)).into_owned()
}

fn mac_bytes(mac: &[u8; 6]) -> [u8; 17] {
    let mut out = [b':'; 17];
    for (i, b) in mac.iter().enumerate() {
        let [hi, lo] = hex2(*b);
        out[i * 3] = hi;
        out[i * 3 + 1] = lo;
    }
    out
}

/// The `tcp` object fields every flow-like record has for `flags`: the flags set, as
/// booleans, and all of them in hex, keys in sorted order (the `tcp_flags` key falls
/// between `syn` and `urg`).
pub fn tcp_flag_fields(flags: u8) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, bit) in FLAG_NAMES {
        if flags & bit != 0 {
            out.insert(name.into(), Value::Bool(true));
        }
    }
    out.insert("tcp_flags".into(), Value::from(tcp_flags_hex(flags)));
    out
}

impl FlowRecord {
    /// `flow.age`: whole seconds between the first and the last packet.
    fn age(&self) -> i64 {
        self.end.as_secs() - self.start.as_secs()
    }

    fn vlan_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.vlan.iter().copied().filter(|v| *v != 0)
    }

    /// The record as JSON values: the top-level fields beside the envelope, the `flow`
    /// object, and picket's fields.
    pub fn fields(&self) -> (Map<String, Value>, Value, Map<String, Value>) {
        let mut extra = Map::new();
        if let Some(name) = self.app_proto {
            extra.insert("app_proto".into(), Value::from(name));
        }
        let body: Map<String, Value> = [
            ("age", Value::from(self.age())),
            ("alerted", Value::Bool(self.alerted)),
            ("bytes_toclient", Value::from(self.bytes_toclient)),
            ("bytes_toserver", Value::from(self.bytes_toserver)),
            ("end", Value::from(self.end.to_string())),
            ("pkts_toclient", Value::from(self.pkts_toclient)),
            ("pkts_toserver", Value::from(self.pkts_toserver)),
            ("reason", Value::from(self.reason)),
            ("start", Value::from(self.start.to_string())),
            ("state", Value::from(self.state)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(tcp) = &self.tcp {
            let mut o = tcp_flag_fields(tcp.flags_ts | tcp.flags_tc);
            o.insert("state".into(), Value::from(tcp.state));
            o.insert(
                "tcp_flags_tc".into(),
                Value::from(tcp_flags_hex(tcp.flags_tc)),
            );
            o.insert(
                "tcp_flags_ts".into(),
                Value::from(tcp_flags_hex(tcp.flags_ts)),
            );
            extra.insert("tcp".into(), Value::Object(o));
        }
        if let Some((t, c)) = self.icmp {
            extra.insert("icmp_type".into(), Value::from(t));
            extra.insert("icmp_code".into(), Value::from(c));
        }
        if let Some((t, c)) = self.response_icmp {
            extra.insert("response_icmp_type".into(), Value::from(t));
            extra.insert("response_icmp_code".into(), Value::from(c));
        }
        extra.insert("ip_v".into(), Value::from(self.ip_v));
        if self.vlan_ids().next().is_some() {
            let ids: Vec<u16> = self.vlan_ids().collect();
            extra.insert("vlan".into(), Value::from(ids));
        }
        if let Some(sides) = &self.ether {
            let mut o = Map::new();
            // The schema wants at least one item in each array.
            if !sides[0].is_empty() {
                o.insert("src_macs".into(), sides[0].iter().map(mac_text).collect());
            }
            if !sides[1].is_empty() {
                o.insert("dest_macs".into(), sides[1].iter().map(mac_text).collect());
            }
            if !o.is_empty() {
                extra.insert("ether".into(), Value::Object(o));
            }
        }
        if let Some(spi) = self.spi {
            extra.insert("spi".into(), Value::from(spi));
        }
        let mut picket = Map::new();
        picket.insert("conn_state".into(), Value::from(self.conn_state));
        picket.insert("history".into(), Value::from(self.history.clone()));
        picket.insert("missed_bytes".into(), Value::from(self.missed_bytes));
        (extra, Value::Object(body), picket)
    }

    /// Appends the top-level fields beside the envelope (each preceded by a comma), in the
    /// order [`FlowRecord::fields`] gives them, which is sorted by name.
    pub fn write_extra(&self, out: &mut Vec<u8>) {
        if let Some(name) = self.app_proto {
            out.extend_from_slice(b",\"app_proto\":");
            json::write_str(out, name);
        }
        if let Some(sides) = &self.ether {
            if !sides[0].is_empty() || !sides[1].is_empty() {
                out.extend_from_slice(b",\"ether\":{");
                let mut first = true;
                for (key, macs) in [("dest_macs", &sides[1]), ("src_macs", &sides[0])] {
                    if macs.is_empty() {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.push(b'"');
                    out.extend_from_slice(key.as_bytes());
                    out.extend_from_slice(b"\":[");
                    for (i, mac) in macs.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.push(b'"');
                        out.extend_from_slice(&mac_bytes(mac));
                        out.push(b'"');
                    }
                    out.push(b']');
                }
                out.push(b'}');
            }
        }
        if let Some((t, c)) = self.icmp {
            out.extend_from_slice(b",\"icmp_code\":");
            json::write_u64(out, u64::from(c));
            out.extend_from_slice(b",\"icmp_type\":");
            json::write_u64(out, u64::from(t));
        }
        out.extend_from_slice(b",\"ip_v\":");
        json::write_u64(out, u64::from(self.ip_v));
        if let Some((t, c)) = self.response_icmp {
            out.extend_from_slice(b",\"response_icmp_code\":");
            json::write_u64(out, u64::from(c));
            out.extend_from_slice(b",\"response_icmp_type\":");
            json::write_u64(out, u64::from(t));
        }
        if let Some(spi) = self.spi {
            out.extend_from_slice(b",\"spi\":");
            json::write_u64(out, u64::from(spi));
        }
        if let Some(tcp) = &self.tcp {
            out.extend_from_slice(b",\"tcp\":{");
            let all = tcp.flags_ts | tcp.flags_tc;
            // Sorted: ack cwr ecn fin psh rst state syn tcp_flags tcp_flags_tc
            // tcp_flags_ts urg.
            for (name, bit) in &FLAG_NAMES[..6] {
                if all & bit != 0 {
                    out.push(b'"');
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b"\":true,");
                }
            }
            out.extend_from_slice(b"\"state\":");
            json::write_str(out, tcp.state);
            if all & 0x02 != 0 {
                out.extend_from_slice(b",\"syn\":true");
            }
            for (key, flags) in [
                ("tcp_flags", all),
                ("tcp_flags_tc", tcp.flags_tc),
                ("tcp_flags_ts", tcp.flags_ts),
            ] {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":\"");
                out.extend_from_slice(&hex2(flags));
                out.push(b'"');
            }
            if all & 0x20 != 0 {
                out.extend_from_slice(b",\"urg\":true");
            }
            out.push(b'}');
        }
        if self.vlan_ids().next().is_some() {
            out.extend_from_slice(b",\"vlan\":[");
            for (i, id) in self.vlan_ids().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::write_u64(out, u64::from(id));
            }
            out.push(b']');
        }
    }

    /// Appends the `flow` object.
    pub fn write_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"age\":");
        json::write_i64(out, self.age());
        out.extend_from_slice(if self.alerted {
            b",\"alerted\":true"
        } else {
            b",\"alerted\":false"
        });
        out.extend_from_slice(b",\"bytes_toclient\":");
        json::write_u64(out, self.bytes_toclient);
        out.extend_from_slice(b",\"bytes_toserver\":");
        json::write_u64(out, self.bytes_toserver);
        out.extend_from_slice(b",\"end\":\"");
        self.end.write_eve_text(out);
        out.extend_from_slice(b"\",\"pkts_toclient\":");
        json::write_u64(out, self.pkts_toclient);
        out.extend_from_slice(b",\"pkts_toserver\":");
        json::write_u64(out, self.pkts_toserver);
        out.extend_from_slice(b",\"reason\":");
        json::write_str(out, self.reason);
        out.extend_from_slice(b",\"start\":\"");
        self.start.write_eve_text(out);
        out.extend_from_slice(b"\",\"state\":");
        json::write_str(out, self.state);
        out.push(b'}');
    }

    /// Appends picket's object.
    pub fn write_picket(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"conn_state\":");
        json::write_str(out, self.conn_state);
        out.extend_from_slice(b",\"history\":");
        json::write_str(out, &self.history);
        out.extend_from_slice(b",\"missed_bytes\":");
        json::write_u64(out, self.missed_bytes);
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{EveMode, Event};

    fn record() -> FlowRecord {
        FlowRecord {
            app_proto: Some("http"),
            start: Timestamp::from_micros(1_700_000_000_123_456),
            end: Timestamp::from_micros(1_700_000_007_000_001),
            pkts_toserver: 5,
            pkts_toclient: 3,
            bytes_toserver: 500,
            bytes_toclient: 12_345,
            alerted: false,
            reason: "timeout",
            state: "closed",
            tcp: Some(FlowTcp {
                flags_ts: 0x1b,
                flags_tc: 0x12,
                state: "closed",
            }),
            icmp: None,
            response_icmp: None,
            ip_v: 4,
            vlan: [0, 0],
            ether: None,
            spi: None,
            conn_state: "SF",
            history: "ShADadFf".into(),
            missed_bytes: 0,
        }
    }

    fn line(event: &Event, mode: EveMode) -> String {
        let mut out = Vec::new();
        event.append_eve(mode, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The typed writer and the JSON-value form give the same bytes, over every optional
    /// part and every TCP flag.
    #[test]
    fn typed_writer_matches_the_value_form() {
        let mut variants = vec![record()];
        for flags in [0u8, 0x02, 0x20, 0xff, 0x41, 0x80] {
            let mut r = record();
            r.tcp = Some(FlowTcp {
                flags_ts: flags,
                flags_tc: flags.rotate_left(3),
                state: "syn_sent",
            });
            variants.push(r);
        }
        let mut r = record();
        r.tcp = None;
        r.app_proto = None;
        r.icmp = Some((8, 0));
        r.response_icmp = Some((0, 0));
        r.ip_v = 6;
        r.vlan = [0, 7];
        r.alerted = true;
        r.history = "weird \"history\"\n".into();
        variants.push(r);
        let mut r = record();
        r.vlan = [5, 6];
        r.spi = Some(0xdead_beef);
        r.ether = Some(Box::new([
            vec![[0xd8, 0xcb, 0x8a, 0xed, 0xa1, 0x46]],
            vec![],
        ]));
        r.end = Timestamp::from_micros(1_600_000_000_000_000);
        variants.push(r);
        let mut r = record();
        r.ether = Some(Box::new([
            vec![[0, 1, 2, 3, 4, 5], [0xff; 6]],
            vec![[0xa, 0xb, 0xc, 0xd, 0xe, 0xf]],
        ]));
        variants.push(r);
        let mut r = record();
        r.ether = Some(Box::new([vec![], vec![]]));
        variants.push(r);
        for r in variants {
            let mut typed = Event::new(r.end, "flow");
            typed.flow_id = Some(9);
            typed.flow_record = Some(Box::new(r.clone()));
            let mut values = typed.clone();
            values.materialize();
            assert!(values.flow_record.is_none());
            for mode in [EveMode::Extended, EveMode::Strict] {
                let expected = line(&values, mode);
                assert_eq!(line(&typed, mode), expected, "{r:?}");
                assert_eq!(
                    serde_json::from_str::<Value>(&expected).unwrap(),
                    typed.to_eve(mode)
                );
            }
        }
    }

    #[test]
    fn the_events_own_fields_win_over_the_records() {
        let mut typed = Event::new(Timestamp::from_secs(1), "flow");
        typed.flow_record = Some(Box::new(record()));
        typed
            .extra
            .insert("traffic".into(), serde_json::json!({"id": ["a"]}));
        typed.extra.insert("ip_v".into(), Value::from(9));
        typed.picket.insert("qube".into(), Value::from("work"));
        let text = line(&typed, EveMode::Extended);
        let eve: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(eve["traffic"]["id"][0], "a");
        assert_eq!(eve["ip_v"], 9);
        assert_eq!(eve["picket"]["qube"], "work");
        assert_eq!(eve["picket"]["conn_state"], "SF");
        assert_eq!(eve["flow"]["pkts_toserver"], 5);
        assert_eq!(eve, typed.to_eve(EveMode::Extended));
    }

    #[test]
    fn helpers_write_eve_forms() {
        assert_eq!(tcp_flags_hex(0x1b), "1b");
        assert_eq!(
            mac_text(&[0xd8, 0xcb, 0x8a, 0xed, 0xa1, 0x46]),
            "d8:cb:8a:ed:a1:46"
        );
        let fields = tcp_flag_fields(0x12);
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            r#"{"ack":true,"syn":true,"tcp_flags":"12"}"#
        );
    }
}
