#![no_main]
//! The DNS guard's request handling on hostile bytes: a client message, then the same bytes
//! as an upstream answer, then a forwarded query's answer built from the fuzz input. Also
//! the leak monitor's and bypass watcher's packet verdicts. Nothing may panic.
use libfuzzer_sys::fuzz_target;
use picket_event::Timestamp;
use picket_netwatch::dns::{wire, Action, Guard, GuardConfig, Query, Transport};
use picket_netwatch::leak::{BypassWatch, LeakConfig, LeakMonitor};

const CONFIG: &str = r#"
canaries = ["vault.corp.example"]
[default]
block = ["doubleclick.net"]
[[source]]
address = "10.0.0.0/8"
mode = "allowlist"
allow = ["matrix.org"]
[[pin]]
domain = "matrix.org"
set4 = "m4"
set6 = "m6"
[limits]
max_pending = 8
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = GuardConfig::from_toml(CONFIG) else {
        return;
    };
    let Ok(mut guard) = Guard::new(&config, 1) else {
        return;
    };
    let now = Timestamp::from_secs(1_700_000_000);
    for (i, transport) in [Transport::Udp, Transport::Tcp].into_iter().enumerate() {
        let outcome = guard.on_query(Query {
            now,
            client: ([10, 0, 0, 1 + i as u8], 5353).into(),
            server: ([10, 0, 0, 254], 53).into(),
            transport,
            message: data,
        });
        for e in &outcome.events {
            let _ = e.to_eve_line(picket_event::EveMode::Extended);
        }
        if let Action::Forward { id, .. } = outcome.action {
            // Answer the forwarded query with the input itself under the right id.
            let mut answer = data.to_vec();
            wire::set_id(&mut answer, id);
            if answer.len() > 2 {
                answer[2] |= 0x80;
            }
            let _ = guard.on_upstream(now, &answer);
        }
    }
    let _ = guard.on_upstream(now, data);
    let _ = guard.expire(Timestamp::from_secs(1_700_000_100));
    let mut leak = LeakMonitor::new(LeakConfig::default(), "fuzz0");
    let _ = leak.observe(now, 1, data);
    let _ = leak.observe(now, 101, data);
    let mut bypass = BypassWatch::new(vec![[10, 0, 0, 254].into()], "fuzz1", 10);
    let _ = bypass.observe(now, 1, data);
});
