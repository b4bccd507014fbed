#![no_main]
use libfuzzer_sys::fuzz_target;
use picket_proto::{dns, Transport};

#[path = "proto_drive.rs"]
mod proto_drive;

fuzz_target!(|data: &[u8]| {
    let _ = dns::parse_message(data);
    let _ = dns::looks_like_dns(data);
    let transport = if data.first().is_some_and(|b| b & 0x80 != 0) {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    proto_drive::drive(&mut dns::DnsParser::new(transport), data);
    proto_drive::check_chunking_invariance(&|| Box::new(dns::DnsParser::new(Transport::Tcp)), data);
});
