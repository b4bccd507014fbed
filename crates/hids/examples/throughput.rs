//! Lines per CPU-second through one ruleset, as `picket bench hids` measures it, without
//! building the whole binary (development aid): `throughput <ruleset root> <log file>`.
//! With `--owned` as a third argument every line's [`Outcome`](picket_hids::Outcome) is
//! built, as `Session::process` builds it for callers that keep everything.
#![allow(clippy::unwrap_used)]
use picket_hids::{load_ruleset, Input};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (ruleset, _) = load_ruleset(&[args[1].clone().into()]).unwrap();
    let text = std::fs::read(&args[2]).unwrap();
    let owned = args.get(3).is_some_and(|a| a == "--owned");
    let mut session = ruleset.session();
    let start = cpu_seconds();
    let mut lines = 0u64;
    let mut alerts = 0u64;
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        // As `picket bench hids`: valid UTF-8 needs no copy, anything else is decoded lossily.
        let line = match std::str::from_utf8(line) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(line),
        };
        let input = Input {
            line: &line,
            location: "bench",
            agent: "bench",
            default_hostname: "bench",
            time: picket_event::Timestamp::from_secs(1_700_000_000 + (lines / 100) as i64),
        };
        let alert = if owned {
            session.process(input).alert
        } else {
            session.analyse(input).alert
        };
        alerts += u64::from(alert);
        lines += 1;
    }
    let cpu = (cpu_seconds() - start).max(0.01);
    let stats = session.stats();
    println!(
        "{lines} lines, {alerts} alerts, decoded {}, matched {}, cpu {cpu:.2} s, {:.0} lines per CPU-second",
        stats.decoded,
        stats.matched,
        lines as f64 / cpu
    );
}
