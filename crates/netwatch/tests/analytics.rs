//! Flow analytics on generated flow sequences: for each alert kind a case that must fire and
//! one that must not, plus lists, configuration errors, persistence and memory caps.
#![allow(clippy::unwrap_used)]

use picket_event::{EveMode, Event};
use picket_netwatch::analytics::synth::{dns_answer, mixed_traffic, FlowSpec, Rng};
use picket_netwatch::analytics::*;
use serde_json::Value;

/// 2026-01-05T00:00:00Z, a Monday.
const DAY0: f64 = 1_767_571_200.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

fn engine(toml: &str, files: &[(&str, &str)]) -> Analytics {
    let config = Config::from_toml(toml).unwrap();
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    Analytics::new(config, &files).unwrap().0
}

fn feed(a: &mut Analytics, events: impl IntoIterator<Item = Event>) -> Vec<Event> {
    let mut out = Vec::new();
    for e in events {
        a.observe(&e, &mut out);
    }
    out
}

fn flows(specs: impl IntoIterator<Item = FlowSpec>) -> Vec<Event> {
    specs.into_iter().map(|s| s.event()).collect()
}

fn sid(e: &Event) -> u64 {
    e.body["signature_id"].as_u64().unwrap()
}

fn with_sid(alerts: &[Event], id: u64) -> Vec<&Event> {
    alerts.iter().filter(|e| sid(e) == id).collect()
}

fn nw(e: &Event) -> &Value {
    &e.picket["netwatch"]
}

// ---------------------------------------------------------------- lists

const BLOCK: &str = "# bad things\n192.0.2.0/24\n\n0.0.0.0 evil.example tracker.example  # sinkholed names\n*.c2.example\n2001:db8:bad::/48\n";

#[test]
fn blocklist_fires_on_cidr_hosts_name_and_wildcard() {
    let mut a = engine(
        "[[policy]]\nname = \"all\"\nblock = [\"bad.txt\"]\n",
        &[("bad.txt", BLOCK)],
    );
    let mut events = flows([FlowSpec::tcp("10.137.0.5", "192.0.2.7", 443, DAY0)]);
    events.push(dns_answer(
        "10.137.0.5",
        "10.139.1.1",
        DAY0 + 1.0,
        "evil.example",
        &["203.0.113.9"],
    ));
    events.extend(flows([FlowSpec::tcp(
        "10.137.0.5",
        "203.0.113.9",
        443,
        DAY0 + 2.0,
    )]));
    events.push(dns_answer(
        "10.137.0.5",
        "10.139.1.1",
        DAY0 + 3.0,
        "x.y.c2.example",
        &["203.0.113.10"],
    ));
    events.extend(flows([
        FlowSpec::tcp("10.137.0.5", "203.0.113.10", 443, DAY0 + 4.0),
        FlowSpec::tcp("10.137.0.5", "2001:db8:bad::1", 443, DAY0 + 5.0),
    ]));
    let alerts = feed(&mut a, events);
    let hits = with_sid(&alerts, SID_BLOCKLIST);
    assert_eq!(hits.len(), 4, "{alerts:#?}");
    assert_eq!(nw(hits[0])["list"], "bad.txt");
    assert_eq!(nw(hits[0])["line"], 2);
    assert_eq!(nw(hits[0])["entry"], "192.0.2.0/24");
    assert_eq!(nw(hits[1])["entry"], "evil.example");
    assert_eq!(nw(hits[1])["line"], 4);
    assert_eq!(nw(hits[2])["entry"], "*.c2.example");
    assert_eq!(nw(hits[3])["entry"], "2001:db8:bad::/48");
    let text = hits[0].body["signature"].as_str().unwrap();
    assert!(text.contains("bad.txt line 2"), "{text}");
    assert_eq!(hits[0].picket["engine"], "netwatch");
}

#[test]
fn blocklist_stays_quiet_for_unlisted_destinations_and_sinkhole_addresses() {
    let mut a = engine("[[policy]]\nblock = [\"bad.txt\"]\n", &[("bad.txt", BLOCK)]);
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0),
            // The sinkhole address of a hosts line is not itself an entry.
            FlowSpec::tcp("10.137.0.5", "0.0.0.0", 443, DAY0 + 1.0),
            FlowSpec::tcp("10.137.0.5", "2001:db8:bae::1", 443, DAY0 + 2.0),
        ]),
    );
    assert!(with_sid(&alerts, SID_BLOCKLIST).is_empty(), "{alerts:#?}");
}

#[test]
fn blocklist_alerts_once_per_pair_per_dedup_window() {
    // Beacon detection off: twenty connections a minute apart are also a beacon.
    let mut a = engine(
        "[[policy]]\nblock_entries = [\"192.0.2.7\"]\n[beacon]\nenabled = false\n",
        &[],
    );
    let alerts = feed(
        &mut a,
        (0..20).map(|i| {
            FlowSpec::tcp("10.137.0.5", "192.0.2.7", 443, DAY0 + f64::from(i) * 60.0).event()
        }),
    );
    assert_eq!(with_sid(&alerts, SID_BLOCKLIST).len(), 1);
    assert_eq!(a.counters().alerts_deduplicated, 19);
    // After the window it alerts again.
    let again = feed(
        &mut a,
        flows([FlowSpec::tcp(
            "10.137.0.5",
            "192.0.2.7",
            443,
            DAY0 + 2.0 * HOUR,
        )]),
    );
    assert_eq!(with_sid(&again, SID_BLOCKLIST).len(), 1);
}

#[test]
fn allowlist_per_source_fires_for_unlisted_and_not_for_listed_or_other_sources() {
    let mut a = engine(
        "[[policy]]\nname = \"matrix\"\nsources = [\"10.137.0.5\"]\nallow = [\"matrix.hosts\"]\nallow_entries = [\"10.139.1.1\"]\n",
        &[("matrix.hosts", "# matrix qube\n*.matrix.org\n198.51.100.0/28\n")],
    );
    let mut events = vec![dns_answer(
        "10.137.0.5",
        "10.139.1.1",
        DAY0,
        "matrix.org",
        &["203.0.113.20"],
    )];
    events.extend(flows([
        FlowSpec::tcp("10.137.0.5", "203.0.113.20", 443, DAY0 + 1.0), // by name
        FlowSpec::tcp("10.137.0.5", "198.51.100.3", 443, DAY0 + 2.0), // by CIDR
        FlowSpec::tcp("10.137.0.5", "10.139.1.1", 53, DAY0 + 3.0),    // inline entry
        FlowSpec::tcp("10.137.0.6", "9.9.9.9", 443, DAY0 + 4.0),      // another qube
    ]));
    assert!(feed(&mut a, events).is_empty());
    let alerts = feed(
        &mut a,
        flows([FlowSpec::tcp("10.137.0.5", "9.9.9.9", 443, DAY0 + 5.0)]),
    );
    let hits = with_sid(&alerts, SID_NOT_ALLOWLISTED);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    assert_eq!(nw(hits[0])["policy"], "matrix");
    assert_eq!(nw(hits[0])["allowlist_entries"], 3);
    assert_eq!(nw(hits[0])["dest"], "9.9.9.9");
}

#[test]
fn list_parsing_reports_malformed_lines_with_numbers() {
    let text = "1.2.3.4\n1.2.3.0/33\n# ok\nnot a host name!\n0.0.0.0 fine.example bad_name!\n2001:db8::/129\n300.1.1.1\nok.example\n";
    let (list, errors) = List::parse("l.txt", text);
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 4, 5, 6, 7], "{errors:#?}");
    assert_eq!(list.len(), 2);
    assert!(errors[0].to_string().starts_with("l.txt:2: "));
    // Refused by default, naming the first bad line ...
    let config = Config::from_toml("[[policy]]\nblock = [\"l.txt\"]\n").unwrap();
    let files = vec![("l.txt".to_string(), text.to_string())];
    match Analytics::new(config.clone(), &files) {
        Err(BuildError::MalformedLists(bad)) => assert_eq!(bad.len(), 5),
        other => panic!("expected malformed lines, got {other:?}"),
    }
    // ... skipped (and still reported) when asked.
    let config = Config {
        skip_malformed_list_lines: true,
        ..config
    };
    let (_, skipped) = Analytics::new(config, &files).unwrap();
    assert_eq!(skipped.len(), 5);
}

#[test]
fn missing_list_file_is_an_error() {
    let config = Config::from_toml("[[policy]]\nallow = [\"nope.txt\"]\n").unwrap();
    assert!(matches!(
        Analytics::new(config, &[]),
        Err(BuildError::MissingList { .. })
    ));
}

// ---------------------------------------------------------------- config

#[test]
fn config_errors_name_the_key() {
    let e = Config::from_toml("[beacon]\nmax_cvv = 0.1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_cvv"), "{e}");
    let e = Config::from_toml("[beacon]\nmax_cv = -1.0\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("beacon.max_cv"), "{e}");
    let e = Config::from_toml("local_nets = [\"10.0.0.0/40\"]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("local_nets[0]"), "{e}");
    let e = Config::from_toml("[[policy]]\nsources = [\"x\"]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("policy[0].sources[0]"), "{e}");
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
}

#[test]
fn example_configs_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/netwatch");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            Config::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen > 0);
}

// ---------------------------------------------------------------- long sessions

#[test]
fn long_session_fixed_limit() {
    let mut a = engine("[long_session]\nmax_duration_s = 3600\n", &[]);
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 22, DAY0).duration_s(1800.0),
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 22, DAY0 + 10.0).duration_s(7200.0),
        ]),
    );
    let hits = with_sid(&alerts, SID_LONG_SESSION);
    assert_eq!(hits.len(), 1);
    assert_eq!(nw(hits[0])["duration_s"], 7200.0);
    assert_eq!(nw(hits[0])["threshold_s"], 3600);
}

/// A day of learning: `n` sessions of the given lengths, spread over working hours.
fn learn_sessions(src: &str, lengths: &[f64], bytes: &[u64]) -> Vec<Event> {
    let n = lengths.len().max(bytes.len());
    (0..n)
        .map(|i| {
            let t = DAY0 + 9.0 * HOUR + (i as f64) * (8.0 * HOUR / n as f64);
            FlowSpec::tcp(src, "198.51.100.1", 443, t)
                .duration_s(lengths.get(i).copied().unwrap_or(10.0))
                .bytes_out(bytes.get(i).copied().unwrap_or(1000))
                .event()
        })
        .collect()
}

/// Regular learning traffic would also be a beacon; these tests look at one check at a time.
const NO_BEACON: &str = "[beacon]\nenabled = false\n";

const RELATIVE: &str = "[beacon]\nenabled = false\n[baseline]\nlearning_window_s = 86400\nmin_flows = 20\n[long_session]\nmax_duration_s = 0\n[large_transfer]\nmax_bytes = 0\n[quiet_hours]\nenabled = false\n";

#[test]
fn long_session_relative_to_history_fires() {
    let mut a = engine(RELATIVE, &[]);
    let learn = learn_sessions("10.137.0.5", &[300.0; 40], &[]);
    assert!(feed(&mut a, learn).is_empty());
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0 + DAY + 10.0 * HOUR)
                .duration_s(5.0 * HOUR),
        ]),
    );
    let hits = with_sid(&alerts, SID_LONG_SESSION_RELATIVE);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    let x = nw(hits[0]);
    assert_eq!(x["baseline_p99_s"], 512);
    assert_eq!(x["multiple"], 4.0);
    assert!(x["ratio"].as_f64().unwrap() > 30.0);
}

#[test]
fn long_download_within_the_sources_history_is_quiet() {
    let mut a = engine(RELATIVE, &[]);
    // This qube often holds sessions of one to two hours.
    let lengths: Vec<f64> = (0..40)
        .map(|i| if i % 3 == 0 { 7000.0 } else { 3600.0 })
        .collect();
    feed(&mut a, learn_sessions("10.137.0.5", &lengths, &[]));
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0 + DAY + 10.0 * HOUR)
                .duration_s(3.0 * HOUR),
        ]),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
}

// ---------------------------------------------------------------- large transfers

#[test]
fn large_transfer_fixed_limit() {
    let mut a = engine("[large_transfer]\nmax_bytes = 100000000\n", &[]);
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0).bytes_out(50_000_000),
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0 + 1.0).bytes_out(200_000_000),
        ]),
    );
    let hits = with_sid(&alerts, SID_LARGE_TRANSFER);
    assert_eq!(hits.len(), 1);
    assert_eq!(nw(hits[0])["bytes_out"], 200_000_000);
    assert_eq!(nw(hits[0])["threshold_bytes"], 100_000_000);
}

#[test]
fn large_transfer_relative_to_baseline() {
    let mut a = engine(RELATIVE, &[]);
    feed(&mut a, learn_sessions("10.137.0.5", &[], &[1_000_000; 40]));
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "203.0.113.50", 443, DAY0 + DAY + HOUR * 10.0)
                .bytes_out(50_000_000),
        ]),
    );
    let hits = with_sid(&alerts, SID_LARGE_TRANSFER_RELATIVE);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    let x = nw(hits[0]);
    assert_eq!(x["baseline_p99_bytes"], 1 << 20);
    assert_eq!(x["dest_in_baseline"], false);
    assert!(hits[0].body["signature"]
        .as_str()
        .unwrap()
        .contains("50000000 bytes"));
}

#[test]
fn nightly_backup_size_upload_is_quiet_for_a_source_that_does_it() {
    let mut a = engine(RELATIVE, &[]);
    let sizes: Vec<u64> = (0..40)
        .map(|i| if i % 4 == 0 { 40_000_000 } else { 20_000 })
        .collect();
    feed(&mut a, learn_sessions("10.137.0.5", &[], &sizes));
    let alerts = feed(
        &mut a,
        flows([
            FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0 + DAY + HOUR * 10.0)
                .bytes_out(50_000_000),
        ]),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
}

// ---------------------------------------------------------------- quiet hours

/// A week of learning, `per_hour` flows in each listed hour of every day.
fn learn_hours(src: &str, hours: &[u32], per_hour: u32) -> Vec<Event> {
    let mut out = Vec::new();
    for day in 0..7 {
        for &h in hours {
            for k in 0..per_hour {
                let t = DAY0 + f64::from(day) * DAY + f64::from(h) * HOUR + f64::from(k) * 60.0;
                out.push(FlowSpec::tcp(src, "198.51.100.1", 443, t).event());
            }
        }
    }
    out
}

fn at_3am_day8(src: &str, n: u32) -> Vec<Event> {
    (0..n)
        .map(|k| {
            FlowSpec::tcp(
                src,
                "198.51.100.1",
                443,
                DAY0 + 8.0 * DAY + 3.0 * HOUR + f64::from(k) * 30.0,
            )
            .event()
        })
        .collect()
}

#[test]
fn quiet_hour_activity_fires_once_with_the_baseline_share() {
    let mut a = engine(NO_BEACON, &[]);
    let office: Vec<u32> = (9..18).collect();
    assert!(feed(&mut a, learn_hours("10.137.0.5", &office, 4)).is_empty());
    let alerts = feed(&mut a, at_3am_day8("10.137.0.5", 10));
    let hits = with_sid(&alerts, SID_QUIET_HOUR);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    let x = nw(hits[0]);
    assert_eq!(x["hour"], 3);
    assert_eq!(x["baseline_flows_in_hour"], 0);
    assert_eq!(x["baseline_flows"], 7 * 9 * 4);
    assert_eq!(x["flows_this_hour"], 3);
    assert_eq!(
        x["active_bins"],
        serde_json::json!([9, 10, 11, 12, 13, 14, 15, 16, 17])
    );
    assert_eq!(a.counters().alerts, 1);
}

#[test]
fn quiet_hour_is_quiet_for_a_source_normally_active_at_3am() {
    let mut a = engine(NO_BEACON, &[]);
    let mut hours: Vec<u32> = (9..18).collect();
    hours.push(3);
    feed(&mut a, learn_hours("10.137.0.5", &hours, 4));
    assert!(feed(&mut a, at_3am_day8("10.137.0.5", 10)).is_empty());
    // A stray flow or two in a quiet hour is below quiet_hours.min_flows.
    let mut b = engine(NO_BEACON, &[]);
    feed(&mut b, learn_hours("10.137.0.6", &[10, 11], 4));
    assert!(feed(&mut b, at_3am_day8("10.137.0.6", 2)).is_empty());
}

#[test]
fn quiet_hour_respects_utc_offset() {
    // Active 09-17 local time at UTC+2, i.e. 07-15 UTC: 03:00 UTC is 05:00 local, quiet.
    let mut a = engine("utc_offset_minutes = 120\n[beacon]\nenabled = false\n", &[]);
    feed(
        &mut a,
        learn_hours("10.137.0.5", &(7..16).collect::<Vec<_>>(), 4),
    );
    let alerts = feed(&mut a, at_3am_day8("10.137.0.5", 3));
    let hits = with_sid(&alerts, SID_QUIET_HOUR);
    assert_eq!(hits.len(), 1);
    assert_eq!(nw(hits[0])["hour"], 5);
}

// ---------------------------------------------------------------- beacons

fn periodic(src: &str, dst: &str, every: f64, count: usize, jitter: f64, seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let mut t = DAY0;
    (0..count)
        .map(|i| {
            t += every + (rng.unit() * 2.0 - 1.0) * jitter;
            FlowSpec::tcp(src, dst, 443, t)
                .sport(40_000 + i as u16)
                .event()
        })
        .collect()
}

#[test]
fn beacon_with_low_jitter_fires_once_with_interval_and_cv() {
    let mut a = engine("", &[]);
    let alerts = feed(
        &mut a,
        periodic("10.137.0.5", "203.0.113.66", 60.0, 48, 1.0, 7),
    );
    let hits = with_sid(&alerts, SID_BEACON);
    assert_eq!(
        hits.len(),
        1,
        "one alert per pair per hour, not one per connection"
    );
    let x = nw(hits[0]);
    assert_eq!(x["kind"], "beacon");
    assert_eq!(x["count"], 8);
    let interval = x["interval_s"].as_f64().unwrap();
    assert!((interval - 60.0).abs() < 1.0, "{x}");
    assert!(x["cv"].as_f64().unwrap() < 0.02, "{x}");
    assert_eq!(x["threshold_cv"], 0.1);
    let text = hits[0].body["signature"].as_str().unwrap();
    assert!(
        text.contains("8 connections every 5") || text.contains("8 connections every 6"),
        "{text}"
    );
}

#[test]
fn jittery_human_session_is_not_a_beacon() {
    let mut a = engine("", &[]);
    // Exponential gaps (a person clicking), mean 60 s: cv near 1.
    let mut rng = Rng::new(3);
    let mut t = DAY0;
    let events: Vec<Event> = (0..200)
        .map(|i| {
            t += -60.0 * (1.0 - rng.unit()).ln() + 0.5;
            FlowSpec::tcp("10.137.0.5", "203.0.113.67", 443, t)
                .sport(40_000 + i)
                .event()
        })
        .collect();
    let alerts = feed(&mut a, events);
    assert!(with_sid(&alerts, SID_BEACON).is_empty(), "{alerts:#?}");
    // Nor is a burst of quick, regular requests (below min_interval_s).
    let alerts = feed(
        &mut a,
        periodic("10.137.0.5", "203.0.113.68", 1.0, 50, 0.01, 1),
    );
    assert!(with_sid(&alerts, SID_BEACON).is_empty());
}

#[test]
fn beacon_keyed_by_name_follows_rotating_addresses() {
    let mut a = engine("", &[]);
    let mut events = vec![dns_answer(
        "10.137.0.5",
        "10.139.1.1",
        DAY0,
        "cdn.c2.example",
        &["203.0.113.1", "203.0.113.2", "203.0.113.3"],
    )];
    for (i, mut e) in periodic("10.137.0.5", "203.0.113.1", 300.0, 12, 3.0, 9)
        .into_iter()
        .enumerate()
    {
        e.endpoints.dest_ip = Some(format!("203.0.113.{}", 1 + i % 3));
        events.push(e);
    }
    let alerts = feed(&mut a, events);
    let hits = with_sid(&alerts, SID_BEACON);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    assert_eq!(nw(hits[0])["pair"], "10.137.0.5>cdn.c2.example");
    // By address instead, each address sees a 900 s rhythm with 4 connections: too few.
    let mut b = engine("[beacon]\nby_name = false\n", &[]);
    let mut events = Vec::new();
    for (i, mut e) in periodic("10.137.0.5", "203.0.113.1", 300.0, 12, 3.0, 9)
        .into_iter()
        .enumerate()
    {
        e.endpoints.dest_ip = Some(format!("203.0.113.{}", 1 + i % 3));
        events.push(e);
    }
    assert!(with_sid(&feed(&mut b, events), SID_BEACON).is_empty());
}

// ---------------------------------------------------------------- scans and sweeps

fn probes(
    src: &str,
    dsts: &[String],
    ports: &[u16],
    every: f64,
    state: &'static str,
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut t = DAY0;
    for d in dsts {
        for &p in ports {
            out.push(
                FlowSpec::tcp(src, d, p, t)
                    .state(state)
                    .duration_s(0.0)
                    .event(),
            );
            t += every;
        }
    }
    out
}

#[test]
fn outbound_port_scan_from_a_qube() {
    let mut a = engine("", &[]);
    let ports: Vec<u16> = (1..=100).collect();
    let alerts = feed(
        &mut a,
        probes("10.137.0.5", &["203.0.113.5".into()], &ports, 0.2, "REJ"),
    );
    let hits = with_sid(&alerts, SID_PORT_SCAN_OUTBOUND);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    let x = nw(hits[0]);
    assert_eq!(x["distinct_ports"], 30);
    assert_eq!(x["threshold_ports"], 30);
    assert_eq!(x["direction"], "outbound");
    assert_eq!(hits[0].body["severity"], 1);
}

#[test]
fn inbound_port_scan_towards_a_qube_single_and_distributed() {
    let mut a = engine("", &[]);
    let ports: Vec<u16> = (1..=40).collect();
    let alerts = feed(
        &mut a,
        probes("198.51.100.9", &["10.137.0.5".into()], &ports, 0.1, "S0"),
    );
    let hits = with_sid(&alerts, SID_PORT_SCAN_INBOUND);
    assert_eq!(hits.len(), 1);
    assert_eq!(nw(hits[0])["scanner"], "198.51.100.9");
    // 40 sources, one port each, on the same qube.
    let mut b = engine("", &[]);
    let events: Vec<Event> = (0..40u16)
        .map(|i| {
            FlowSpec::tcp(
                &format!("198.51.100.{}", 10 + i),
                "10.137.0.6",
                1000 + i,
                DAY0 + f64::from(i),
            )
            .state("S0")
            .event()
        })
        .collect();
    let alerts = feed(&mut b, events);
    let hits = with_sid(&alerts, SID_PORT_SCAN_INBOUND);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    assert_eq!(nw(hits[0])["scanner"], "many");
}

#[test]
fn slow_or_answered_connections_are_not_a_scan() {
    let mut a = engine("", &[]);
    let ports: Vec<u16> = (1..=100).collect();
    // 100 ports, but one every 10 s: never 30 within a minute.
    let alerts = feed(
        &mut a,
        probes("10.137.0.5", &["203.0.113.5".into()], &ports, 10.0, "REJ"),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
    // 100 answered connections to many ports (passive FTP, say) within a minute.
    let alerts = feed(
        &mut a,
        probes("10.137.0.7", &["203.0.113.6".into()], &ports, 0.1, "SF"),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn outbound_and_inbound_sweeps() {
    let mut a = engine("", &[]);
    let hosts: Vec<String> = (1..=50).map(|i| format!("203.0.113.{i}")).collect();
    let alerts = feed(&mut a, probes("10.137.0.5", &hosts, &[445], 0.1, "S0"));
    let hits = with_sid(&alerts, SID_SWEEP_OUTBOUND);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    assert_eq!(nw(hits[0])["distinct_hosts"], 20);
    assert_eq!(nw(hits[0])["port"], 445);
    let hosts: Vec<String> = (1..=50).map(|i| format!("10.137.0.{i}")).collect();
    let alerts = feed(&mut a, probes("198.51.100.77", &hosts, &[22], 0.1, "REJ"));
    assert_eq!(with_sid(&alerts, SID_SWEEP_INBOUND).len(), 1, "{alerts:#?}");
}

#[test]
fn a_browser_opening_many_sites_is_not_a_sweep() {
    let mut a = engine("", &[]);
    let hosts: Vec<String> = (1..=60).map(|i| format!("203.0.113.{i}")).collect();
    let alerts = feed(&mut a, probes("10.137.0.5", &hosts, &[443], 0.2, "SF"));
    assert!(alerts.is_empty(), "{alerts:#?}");
}

// ---------------------------------------------------------------- persistence

#[test]
fn snapshot_round_trip_keeps_baselines_and_dedup() {
    let mut a = engine("", &[]);
    feed(
        &mut a,
        learn_hours("10.137.0.5", &(9..18).collect::<Vec<_>>(), 4),
    );
    let blocked = FlowSpec::tcp("10.137.0.5", "203.0.113.66", 443, DAY0);
    let _ = blocked;
    let json = serde_json::to_string(&a.snapshot()).unwrap();
    let parsed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["version"], SNAPSHOT_VERSION);
    let mut b = engine("", &[]);
    b.restore(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(b.sources(), 1);
    assert_eq!(serde_json::to_string(&b.snapshot()).unwrap(), json);
    // The restored baseline knows 03:00 is quiet, without relearning.
    let alerts = feed(&mut b, at_3am_day8("10.137.0.5", 3));
    assert_eq!(with_sid(&alerts, SID_QUIET_HOUR).len(), 1);
    // The dedup record survives too: the same alert does not repeat after a restart.
    let mut c = engine("", &[]);
    c.restore(serde_json::from_str(&serde_json::to_string(&b.snapshot()).unwrap()).unwrap())
        .unwrap();
    let alerts = feed(&mut c, at_3am_day8("10.137.0.5", 3));
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn snapshot_of_another_version_or_layout_is_refused() {
    let a = engine("", &[]);
    let mut v: Value = serde_json::to_value(a.snapshot()).unwrap();
    v["version"] = Value::from(99);
    let mut b = engine("", &[]);
    let err = b.restore(serde_json::from_value(v).unwrap()).unwrap_err();
    assert!(matches!(err, StateError::Version { found: 99, .. }));
    // Learned with 24 bins, loaded by a weekday-aware configuration.
    let mut a = engine("", &[]);
    feed(
        &mut a,
        flows([FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0)]),
    );
    let mut w = engine("[baseline]\nweekday_aware = true\n", &[]);
    assert!(matches!(
        w.restore(a.snapshot()),
        Err(StateError::HourBins { .. })
    ));
}

// ---------------------------------------------------------------- limits and replay

#[test]
fn memory_caps_hold_and_are_counted() {
    let mut a = engine(
        "[limits]\nmax_sources = 10\nmax_beacon_pairs = 100\nmax_scan_keys = 50\nmax_destinations_per_source = 5\n",
        &[],
    );
    let events: Vec<Event> = (0..2000u32)
        .map(|i| {
            let src = format!("10.137.{}.{}", i / 200, i % 200);
            FlowSpec::tcp(
                &src,
                &format!("198.51.{}.{}", i % 7, i % 251),
                (i % 1000) as u16,
                DAY0 + f64::from(i) * 0.001,
            )
            .state("S0")
            .event()
        })
        .collect();
    feed(&mut a, events);
    assert_eq!(a.sources(), 10);
    assert!(a.beacon_pairs() <= 100);
    assert!(a.scan_keys() <= 150);
    let c = a.counters();
    assert_eq!(c.flows, 2000);
    assert!(
        c.sources_dropped > 0 && c.beacon_pairs_dropped > 0 && c.scan_keys_dropped > 0,
        "{c:?}"
    );
    // One source, many destinations: the baseline keeps 5 of each.
    let mut b = engine("[limits]\nmax_destinations_per_source = 5\n", &[]);
    feed(
        &mut b,
        (0..50).map(|i| {
            FlowSpec::tcp(
                "10.137.0.5",
                &format!("198.51.100.{i}"),
                443,
                DAY0 + f64::from(i),
            )
            .event()
        }),
    );
    assert_eq!(b.counters().destinations_dropped, 45);
    let snap = serde_json::to_value(b.snapshot()).unwrap();
    assert_eq!(
        snap["baselines"]["10.137.0.5"]["destinations"]
            .as_object()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn same_records_give_the_same_alerts() {
    let config = "[baseline]\nlearning_window_s = 3600\nmin_flows = 10\n[scan]\nports_threshold = 5\nhosts_threshold = 5\n";
    let run = || {
        let mut a = engine(config, &[]);
        let alerts = feed(&mut a, mixed_traffic(42, 20_000, 5));
        alerts
            .iter()
            .map(|e| e.to_eve_line(EveMode::Extended))
            .collect::<Vec<_>>()
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

#[test]
fn hostile_records_are_counted_not_fatal() {
    let mut a = engine("", &[]);
    let mut e = FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0).event();
    e.endpoints.src_ip = Some("not-an-ip".into());
    let mut f = FlowSpec::tcp("10.137.0.5", "198.51.100.1", 443, DAY0).event();
    f.body = serde_json::json!({"start": "garbage", "end": 7, "bytes_toserver": "x"});
    let mut d = dns_answer(
        "10.137.0.5",
        "10.139.1.1",
        DAY0,
        &"a".repeat(5000),
        &["1.2.3.4"],
    );
    d.body["answers"] = serde_json::json!([{"rrtype": "A", "rdata": 5}]);
    feed(&mut a, vec![e, f, d]);
    assert_eq!(a.counters().flows_unusable, 1);
    assert_eq!(a.counters().flows, 1);
}

#[test]
fn extreme_timestamps_and_limits_do_not_panic() {
    let mut a = engine(
        "[beacon]\nmax_interval_s = 1e300\nmin_connections = 3\n[limits]\nmax_beacon_pairs = 1\nmax_scan_keys = 1\nmax_dedup_keys = 1\n",
        &[],
    );
    let mut events = Vec::new();
    for (i, (start, end)) in [
        ("0001-01-01T00:00:00+0000", "9999-12-31T23:59:59+0000"),
        ("9999-12-31T23:59:59+0000", "0001-01-01T00:00:00+0000"),
        ("1970-01-01T00:00:00+0000", "1970-01-01T00:00:00+0000"),
    ]
    .iter()
    .enumerate()
    {
        for k in 0..4 {
            let mut e =
                FlowSpec::tcp("10.137.0.5", &format!("198.51.100.{k}"), 1 + i as u16, DAY0).event();
            e.body["start"] = Value::from(*start);
            e.body["end"] = Value::from(*end);
            e.body["bytes_toserver"] = Value::from(u64::MAX);
            events.push(e);
        }
    }
    let alerts = feed(&mut a, events);
    assert!(a.beacon_pairs() <= 1 && a.scan_keys() <= 3);
    assert!(!alerts.is_empty());
}
