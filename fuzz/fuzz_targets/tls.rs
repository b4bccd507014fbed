#![no_main]
use libfuzzer_sys::fuzz_target;
use picket_proto::tls;

#[path = "proto_drive.rs"]
mod proto_drive;

fuzz_target!(|data: &[u8]| {
    if let Ok(ch) = tls::parser::parse_client_hello(data) {
        let _ = tls::ja4(&ch, 't');
        let _ = tls::ja3_string(&ch);
    }
    if let Ok(sh) = tls::parser::parse_server_hello(data) {
        let _ = tls::ja3s_string(&sh);
    }
    let _ = tls::x509::parse_certificate(data);
    let mut p = tls::TlsParser::new();
    proto_drive::drive(&mut p, data);
    for ch in p.client_hellos() {
        let _ = tls::ja4(ch, 't');
    }
    proto_drive::check_chunking_invariance(&|| Box::new(tls::TlsParser::new()), data);
});
