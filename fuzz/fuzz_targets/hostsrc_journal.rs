//! journald JSON entry parsing: any bytes in, an entry or an error out, never a panic; an
//! entry turns into an event and serialises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = picket_hostsrc::journal::parse_entry(data) {
        let event = entry.into_event();
        let mut line = Vec::new();
        let _ = event.write_eve(picket_event::EveMode::Extended, &mut line);
    }
});
