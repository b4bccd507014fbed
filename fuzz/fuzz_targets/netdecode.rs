#![no_main]
//! The whole sensor pipeline (decoders, defragmentation, flow table, reassembly, app-layer
//! hand-off) on arbitrary packets, with small limits so that every cap is reached.
//!
//! Input: one byte choosing the link type, then records of
//! `[length: u16 LE][time step: u8][length bytes]`.
use libfuzzer_sys::fuzz_target;
use picket_event::Timestamp;
use picket_netdecode::defrag::DefragConfig;
use picket_netdecode::flow::{FlowConfig, FlowTimeouts};
use picket_netdecode::reassembly::{OverlapPolicy, ReassemblyConfig};
use picket_netdecode::{Sensor, SensorConfig};

const LINK_TYPES: [u32; 11] = [1, 0, 9, 12, 101, 108, 113, 228, 229, 276, 105];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link_type = LINK_TYPES[usize::from(selector) % LINK_TYPES.len()];
    let config = SensorConfig {
        flow: FlowConfig {
            max_flows: 8,
            memcap: 1 << 20,
            timeouts: FlowTimeouts {
                tcp_new: 2,
                tcp_established: 5,
                tcp_closed: 1,
                udp_new: 2,
                udp_established: 3,
                icmp_new: 2,
                icmp_established: 3,
                other_new: 2,
                other_established: 3,
            },
        },
        defrag: DefragConfig {
            max_trackers: 4,
            max_fragments: 8,
            memcap: 4096,
            timeout_us: 3_000_000,
            ..DefragConfig::default()
        },
        reassembly: ReassemblyConfig {
            depth: 2048,
            max_queued_per_stream: 512,
            memcap: 4096,
            overlap: if selector & 0x80 != 0 {
                OverlapPolicy::Last
            } else {
                OverlapPolicy::First
            },
        },
        ..SensorConfig::default()
    };
    let mut sensor = Sensor::new(config);
    let mut events = Vec::new();
    let mut ts = 1_700_000_000_000_000i64;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        ts += i64::from(rest[2]) * 100_000;
        rest = &rest[3..];
        let take = len.min(rest.len());
        let (packet, tail) = rest.split_at(take);
        rest = tail;
        // Claim a longer wire length now and then, as a snapped capture would.
        let orig = if len > take { len as u32 } else { take as u32 };
        sensor.process(link_type, Timestamp::from_micros(ts), packet, orig, &mut events);
        assert!(sensor.flows().len() <= 8);
        events.clear();
    }
    while sensor.finish(&mut events) {
        events.clear();
    }
    let stats = sensor.stats_event(Timestamp::from_micros(ts), Default::default());
    let _ = stats.to_eve_line(picket_event::EveMode::Extended);
    assert!(sensor.reassembly_stats().memuse <= 4096);
    assert!(sensor.defrag_stats().memuse <= 4096);
});
