//! Packets in, EVE events out, with no I/O.
//!
//! The layers, each usable on its own:
//!
//! * [`decode`]: link layer (Ethernet with 802.1Q/QinQ, Linux SLL and SLL2, raw IP,
//!   BSD loopback), IPv4 with options, IPv6 with extension headers, TCP, UDP, ICMP and
//!   ICMPv6, as pure functions over borrowed bytes;
//! * [`defrag`]: IPv4 and IPv6 reassembly with tracker, fragment, memory and time limits;
//! * [`flow`]: the bidirectional flow table with per-protocol and per-state timeouts and
//!   eviction of the flow idle longest;
//! * [`conn`]: Zeek's `conn_state` and `history`;
//! * [`reassembly`]: TCP streams with overlap policy, depth, memory caps and gap
//!   accounting;
//! * [`community_id`]: the Community ID v1 flow hash;
//! * [`sensor`]: the pipeline joining them, handing in-order payload to
//!   [`picket_proto`]'s parsers and writing `flow`, `anomaly`, app-layer and `stats` events.
//!
//! Every limit is a field of a config struct with a safe default, and every time a limit
//! is hit a counter says so (the `stats` event reports them all). Malformed input becomes
//! an anomaly record and a counter; nothing here panics on input, which the fuzz targets
//! check.

pub mod community_id;
pub mod conn;
pub mod decode;
pub mod defrag;
pub mod flow;
pub mod inspect;
pub mod reassembly;
pub mod sensor;

pub use inspect::{AppView, EncryptionHandling, Inspector, PacketView, TcpHeader, Verdict};
/// How `dns` records are written; part of [`SensorConfig`].
pub use picket_proto::dns::DnsLogConfig;
pub use sensor::{CaptureCounters, Sensor, SensorConfig};
