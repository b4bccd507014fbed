//! Live capture on the loopback interface: a datagram sent to ourselves is seen, and the
//! kernel's counters are read. Needs CAP_NET_RAW; without it the test says so and skips.
#![cfg(target_os = "linux")]

use picket_capture::live::AfPacket;
use picket_capture::{linktype, Error, PacketSource};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn loopback_capture_sees_our_datagram_and_reads_kernel_counters() {
    let stop = Arc::new(AtomicBool::new(false));
    let mut source = match AfPacket::open("lo", 65_535, false, stop.clone()) {
        Ok(source) => source,
        Err(Error::Live { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            println!("skip: no CAP_NET_RAW for AF_PACKET ({source})");
            return;
        }
        Err(error) => panic!("cannot open lo: {error}"),
    };
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    let port = receiver.local_addr().expect("local addr").port();
    let marker = format!("picket-live-{}-{port}", std::process::id());
    let sender_marker = marker.clone();
    let found = Arc::new(AtomicBool::new(false));
    let sender_found = found.clone();
    let sender = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        // Bounded: at most 40 datagrams over 4 s, to an address on this machine.
        for _ in 0..40 {
            if sender_found.load(Ordering::Relaxed) {
                break;
            }
            let _ = socket.send_to(sender_marker.as_bytes(), ("127.0.0.1", port));
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
    });
    while let Ok(Some(packet)) = source.next_packet() {
        assert!(packet.data.len() <= packet.orig_len as usize);
        if packet
            .data
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
        {
            assert_eq!(
                packet.link_type,
                linktype::ETHERNET,
                "lo hands over Ethernet frames"
            );
            found.store(true, Ordering::Relaxed);
            break;
        }
    }
    let _ = sender.join();
    assert!(
        found.load(Ordering::Relaxed),
        "our datagram never showed up on lo"
    );
    let stats = source.stats();
    assert!(stats.packets >= 1);
    assert!(
        stats.kernel_packets >= 1,
        "PACKET_STATISTICS counted nothing: {stats:?}"
    );
}
