//! Arbitrary log lines through picket's own ruleset: pre-decoding, decoding and rules must
//! never panic, whatever the line holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn ruleset() -> &'static picket_hids::Ruleset {
    static RULESET: OnceLock<picket_hids::Ruleset> = OnceLock::new();
    RULESET.get_or_init(|| {
        let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"));
        picket_hids::load_ruleset(&[root]).expect("picket's ruleset loads").0
    })
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let mut session = ruleset().session();
    for part in line.split('\n') {
        let _ = session.process(picket_hids::Input {
            line: part,
            location: "fuzz",
            agent: "fuzz",
            default_hostname: "fuzz",
            time: picket_event::Timestamp::from_secs(1_700_000_000),
        });
    }
});
