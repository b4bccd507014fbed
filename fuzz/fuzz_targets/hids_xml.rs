//! Arbitrary bytes as a decoder file and as a rule file: the XML reader and both loaders
//! must return values or errors, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = picket_hids::xml::parse(&text);
    let dir = std::env::temp_dir().join(format!("picket-fuzz-hids-{}", std::process::id()));
    let _ = std::fs::create_dir_all(dir.join("rules"));
    let _ = std::fs::create_dir_all(dir.join("decoders"));
    let _ = std::fs::write(dir.join("decoders/fuzz.xml"), text.as_bytes());
    let _ = std::fs::write(dir.join("rules/fuzz.xml"), text.as_bytes());
    let _ = picket_hids::load_ruleset(&[dir]);
});
