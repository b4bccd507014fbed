#![no_main]
use libfuzzer_sys::fuzz_target;
use picket_proto::ssh;

#[path = "proto_drive.rs"]
mod proto_drive;

fuzz_target!(|data: &[u8]| {
    let _ = ssh::parser::parse_line(data);
    let _ = ssh::parser::parse_packet(data);
    if let Ok(k) = ssh::parser::parse_kexinit(data) {
        let _ = ssh::hassh(&k);
        let _ = ssh::hassh_server(&k);
    }
    // Most inputs should reach the packet phase, so prepend banners half the time.
    let mut p = ssh::SshParser::new();
    if data.first().is_some_and(|b| b & 1 == 1) {
        use picket_proto::{AppParser, Direction};
        let mut out = Vec::new();
        p.feed(Direction::ToServer, b"SSH-2.0-fuzz\r\n", &mut out);
        p.feed(Direction::ToClient, b"SSH-2.0-fuzz\r\n", &mut out);
    }
    proto_drive::drive(&mut p, data);
    proto_drive::check_chunking_invariance(&|| Box::new(ssh::SshParser::new()), data);
});
