//! The seam between the sensor and a detection engine.
//!
//! The sensor owns packets, flows and app-layer parsers; an [`Inspector`] only sees a view of
//! each packet (headers, payload, which way it travels in its flow, the flow's state) and of
//! each app-layer record, and answers with [`Verdict`]s the sensor turns into EVE `alert`
//! records carrying the flow envelope. The engine stays sans-IO and this crate does not
//! depend on it. With no inspector installed the sensor does none of this work.

use picket_event::Timestamp;
use picket_proto::AppEvent;
/// Which side of a transaction an [`AppView`] offers; the engine needs it to fire once per side.
pub use picket_proto::Stage;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// TCP header fields detection looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
}

/// One packet as detection sees it. Addresses and ports are the packet's own (source is
/// the sender of this packet), `to_server` says whether the sender opened the flow.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub ts: Timestamp,
    pub flow_id: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    pub ttl: u8,
    pub to_server: bool,
    /// TCP: handshake done (or traffic both ways mid-stream); other: packets both ways.
    pub established: bool,
    /// The datagram was rebuilt from IP fragments.
    pub reassembled: bool,
    pub tcp: Option<TcpHeader>,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// The transport payload of this packet.
    pub payload: &'a [u8],
    /// The IP header (IPv4 with options, IPv6 with extension headers); empty when the
    /// view stands for no real packet (records flushed at flow end).
    pub ip_header: &'a [u8],
    /// The transport header (TCP with options, UDP, ICMP with its type's fixed fields).
    pub l4_header: &'a [u8],
    /// The flow's app-layer protocol once a parser is attached (`http`, `dns`, `tls`, `ssh`),
    /// or `failed` once detection gave up on a flow that carried data.
    pub app_proto: Option<&'static str>,
    /// The payload is encrypted application data (a TLS or SSH direction past its
    /// handshake) and [`EncryptionHandling::Default`] is in force: raw-content inspection
    /// (payload contents, pcre, byte tests) skips it, while header, flow and app-layer
    /// keywords go on.
    pub payload_encrypted: bool,
}

/// What detection does with a flow direction once it carries only encrypted application
/// data (Suricata's `app-layer.protocols.tls.encryption-handling`, also applied to SSH
/// after NEWKEYS). Ciphertext cannot match a content rule except by chance, and scanning
/// it is most of the cost of inspecting such a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionHandling {
    /// Stop raw-content inspection of encrypted data; app-layer buffers, flow keywords and
    /// the app-layer state go on (Suricata's default).
    #[default]
    Default,
    /// Inspect everything, ciphertext included (rules written for decrypted mirrors).
    Full,
    /// Stop packet inspection and stream reassembly of the encrypted direction; the flow
    /// is still tracked and logged, and its app-layer records still inspected.
    Bypass,
}

impl EncryptionHandling {
    /// The names `FromStr` takes, as Suricata spells them.
    pub const NAMES: [&'static str; 3] = ["default", "full", "bypass"];
}

impl std::str::FromStr for EncryptionHandling {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(EncryptionHandling::Default),
            "full" => Ok(EncryptionHandling::Full),
            "bypass" => Ok(EncryptionHandling::Bypass),
            other => Err(format!(
                "unknown encryption handling {other:?} (expected one of: {})",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for EncryptionHandling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EncryptionHandling::Default => "default",
            EncryptionHandling::Full => "full",
            EncryptionHandling::Bypass => "bypass",
        })
    }
}

/// One app-layer record offered to detection, with buffers the EVE body does not carry
/// (HTTP bodies), as `(buffer name, bytes)`.
#[derive(Debug, Clone, Copy)]
pub struct AppView<'a> {
    pub event: &'a AppEvent,
    pub extra: &'a [(&'static str, &'a [u8])],
    /// Stream bytes of the direction opposite to the packet that this packet's
    /// acknowledgement handed to the parser (a passive sensor parses on acknowledgement),
    /// standing in for the packet payload when a rule inspects that side's raw bytes.
    pub stream: &'a [u8],
}

/// A rule fired: the sensor writes it as an `alert` record.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The `alert` object.
    pub alert: Value,
    /// Direction of the alert: true when source/destination are client/server.
    pub to_server: bool,
    /// Attach the app-layer record that was being inspected (for app-layer matches).
    pub with_app: bool,
    /// Top-level EVE fields the alert carries besides `alert` (`traffic`, `metadata`).
    pub extra: Map<String, Value>,
    /// Not an alert: the app-layer transaction being inspected is not to be logged (a
    /// `config` rule's `logging disable, type tx, scope tx`). Only meaningful from
    /// [`Inspector::app`]; the sensor writes no `alert` record for it.
    pub quiet_tx: bool,
}

/// A detection engine driven by the sensor.
pub trait Inspector: Send + std::fmt::Debug {
    /// A decoded packet, after its flow and app-layer state are updated.
    fn packet(&mut self, packet: &PacketView<'_>, out: &mut Vec<Verdict>);
    /// An app-layer record completed by `packet` (for records flushed at flow end the packet
    /// is the flow's last one, with an empty payload).
    fn app(&mut self, packet: &PacketView<'_>, app: &AppView<'_>, out: &mut Vec<Verdict>);
    /// Top-level EVE fields for the flow's `flow` record (`traffic`, `metadata`), asked
    /// just before [`Inspector::flow_ended`].
    fn flow_record(&self, _flow_id: u64) -> Map<String, Value> {
        Map::new()
    }
    /// The flow ended: drop its per-flow state.
    fn flow_ended(&mut self, _flow_id: u64) {}
    /// Counters for the `stats` event (under `picket.stats.detect`).
    fn stats(&self) -> Value {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::EncryptionHandling;

    #[test]
    fn encryption_handling_names_round_trip_and_default_is_suricatas() {
        for name in EncryptionHandling::NAMES {
            let mode: EncryptionHandling = name.parse().expect("known name");
            assert_eq!(mode.to_string(), name);
        }
        assert_eq!(EncryptionHandling::default(), EncryptionHandling::Default);
        let err = "Bypass".parse::<EncryptionHandling>().unwrap_err();
        assert!(err.contains("default, full, bypass"), "{err}");
    }
}
