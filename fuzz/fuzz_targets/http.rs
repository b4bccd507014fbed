#![no_main]
use libfuzzer_sys::fuzz_target;
use picket_proto::http;

#[path = "proto_drive.rs"]
mod proto_drive;

fuzz_target!(|data: &[u8]| {
    let _ = http::parser::parse_head(data, 4096, 16);
    let _ = http::parser::parse_chunk_size(data);
    let cfg = http::HttpConfig {
        max_head: 512,
        max_headers: 8,
        body_limit: 64,
        max_pending: 4,
        log_headers: true,
        log_bodies: true,
        ..Default::default()
    };
    proto_drive::drive(&mut http::HttpParser::with_config(cfg.clone()), data);
    proto_drive::check_chunking_invariance(&|| Box::new(http::HttpParser::with_config(cfg.clone())), data);
});
