//! The detection engine on hostile rules and payloads: the first line is a rule, the rest
//! a packet payload. Neither may panic, and inspection stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_event::Timestamp;
use picket_netdecode::inspect::{PacketView, TcpHeader};
use picket_nids::{Engine, EngineConfig, LoadOptions, Ruleset};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let rule = String::from_utf8_lossy(&data[..split]);
    let payload = data.get(split + 1..).unwrap_or(&[]);
    let mut set = Ruleset::new(LoadOptions::default());
    set.add_source("fuzz.rules", &rule);
    let Ok(mut engine) = Engine::new(set.rules, None, EngineConfig::default()) else {
        return;
    };
    let mut out = Vec::new();
    for to_server in [true, false] {
        let view = PacketView {
            ts: Timestamp::from_secs(1),
            flow_id: 1,
            src: std::net::IpAddr::from([10, 0, 0, 1]),
            dst: std::net::IpAddr::from([10, 0, 0, 2]),
            sport: 1234,
            dport: 80,
            proto: 6,
            ttl: 64,
            to_server,
            established: true,
            reassembled: false,
            tcp: Some(TcpHeader {
                flags: 0x18,
                seq: 1,
                ack: 1,
                window: 1,
            }),
            icmp: None,
            payload,
            ip_header: &[],
            l4_header: &[],
            app_proto: None,
            payload_encrypted: false,
        };
        engine.inspect_packet(&view, &mut out);
    }
});
