//! `picket verify`: run suricata-verify tests against `picket sensor` and report by category.
//!
//! Each test directory holds a `test.yaml` (what the test needs, how Suricata is run, and the
//! checks on its EVE output), a capture and usually a `test.rules`. This runner reads those,
//! decides whether the test is applicable to picket (a test is not applicable only when it
//! needs something outside the Suricata-rules issue: Lua, file extraction, protocols picket
//! has no parser for, IPS verdicts, a Suricata version other than the one picket's EVE
//! follows...), runs `picket sensor` on it in a temporary directory and evaluates every
//! check the way suricata-verify's own runner does, so that a pass here means the same as a
//! pass there. The runner is ours; only the check semantics follow upstream's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

/// The Suricata version whose behaviour picket's EVE output follows (its schema is 8.0.6's).
/// Version requirements in `test.yaml` are judged against it, as upstream judges them
/// against the binary under test.
const SURICATA_VERSION: Version = Version(8, 0, 6);

/// Build features (`requires: features`, `skip: feature`) picket has.
const FEATURES: &[&str] = &["HAVE_JA3", "HAVE_JA4", "JA3", "JA4"];

/// Application protocols with no picket parser: rules on them, and checks on their EVE
/// records, are outside the rules issue.
const NO_PARSER: &[&str] = &[
    "smb",
    "dcerpc",
    "nfs",
    "ftp",
    "ftp-data",
    "ftp_data",
    "smtp",
    "imap",
    "pop3",
    "krb5",
    "dhcp",
    "ike",
    "ikev2",
    "snmp",
    "sip",
    "rfb",
    "mqtt",
    "modbus",
    "dnp3",
    "enip",
    "cip",
    "http2",
    "doh2",
    "quic",
    "rdp",
    "pgsql",
    "ldap",
    "websocket",
    "telnet",
    "tftp",
    "ntp",
    "bittorrent-dht",
    "bittorrent_dht",
    "irc",
    "mdns",
    "llmnr",
    "template",
    "arp",
    "sdp",
    "pop",
];

/// Rule keyword prefixes that belong to those protocols (or to Lua and file extraction).
const OUT_OF_SCOPE_KEYWORDS: &[(&str, &str)] = &[
    ("lua", "Lua scripting"),
    ("luajit", "Lua scripting"),
    ("filestore", "file extraction"),
    ("filemagic", "file extraction"),
    ("file.magic", "file extraction"),
    ("file_magic", "file extraction"),
    ("filename", "file extraction"),
    ("file.name", "file extraction"),
    ("fileext", "file extraction"),
    ("filemd5", "file extraction"),
    ("filesha1", "file extraction"),
    ("filesha256", "file extraction"),
    ("filesize", "file extraction"),
    ("file.mime", "file extraction"),
    ("smb.", "protocol smb"),
    ("dcerpc.", "protocol dcerpc"),
    ("dce_", "protocol dcerpc"),
    ("nfs_", "protocol nfs"),
    ("nfs.", "protocol nfs"),
    ("krb5", "protocol krb5"),
    ("snmp.", "protocol snmp"),
    ("sip.", "protocol sip"),
    ("rfb.", "protocol rfb"),
    ("mqtt.", "protocol mqtt"),
    ("modbus", "protocol modbus"),
    ("dnp3", "protocol dnp3"),
    ("enip", "protocol enip"),
    ("cip_", "protocol enip"),
    ("ike.", "protocol ike"),
    ("http2.", "protocol http2"),
    ("quic.", "protocol quic"),
    ("ftp", "protocol ftp"),
    ("smtp.", "protocol smtp"),
    ("email.", "protocol smtp"),
    ("imap.", "protocol imap"),
    ("pop3.", "protocol pop3"),
    ("tftp", "protocol tftp"),
    ("rdp.", "protocol rdp"),
    ("pgsql.", "protocol pgsql"),
    ("ldap.", "protocol ldap"),
    ("websocket.", "protocol websocket"),
    ("dhcp.", "protocol dhcp"),
    ("mdns.", "protocol mdns"),
    ("llmnr.", "protocol llmnr"),
    ("template", "protocol template"),
    ("sdp.", "protocol sdp"),
];

/// EVE record types outside the rules issue; a check on one of them is skipped with the reason.
const OUT_OF_SCOPE_EVENTS: &[(&str, &str)] = &[
    ("fileinfo", "file extraction (fileinfo records)"),
    ("engine", "Suricata's engine log records"),
    ("frame", "Suricata frame records"),
    ("drop", "IPS drop records"),
    ("pkthdr", "Suricata pkthdr records"),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// suricata-verify directory (holding `tests/` and `subset-categories.json`).
    /// Default: $PICKET_CORPUS/nids/suricata-verify, else ../shared/corpus/nids/suricata-verify
    /// beside the checkout.
    #[arg(long, value_name = "DIR")]
    tests: Option<PathBuf>,
    /// Only tests whose name contains this substring (repeatable: any of them).
    #[arg(long, value_name = "SUBSTR")]
    filter: Vec<String>,
    /// Only tests of this category (repeatable).
    #[arg(long)]
    category: Vec<String>,
    /// Print a JSON report (every test with its status and reasons) instead of the table.
    #[arg(long)]
    json: bool,
    /// Fail (exit 1) when a category's pass count is below the one in this JSON file.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write this run's pass counts as a baseline file.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// List every failing and not-applicable test with its reasons.
    #[arg(long, short)]
    verbose: bool,
    /// Tests run at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Seconds one test's sensor run may take before it is killed and the test fails.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Keep each test's output (eve.json, stderr, the command) under DIR/<test name>.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// The picket binary to test (default: this one).
    #[arg(long, value_name = "FILE")]
    picket: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u32, u32, u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Parse "8", "8.0", "8.0.4" or a YAML number (7, 7.0); missing parts are 0, as upstream's
/// runner fills them for ordering comparisons.
fn parse_version(v: &Value) -> Option<Version> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let mut parts = text.trim().split('.').map(|p| {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some(Version(major, minor, patch))
}

/// "only for version X": X = 8 matches 8.x.y, 8.0 matches 8.0.y.
fn version_equal(v: &Value) -> bool {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return false,
    };
    let want = [SURICATA_VERSION.0, SURICATA_VERSION.1, SURICATA_VERSION.2];
    text.trim()
        .split('.')
        .zip(want)
        .all(|(p, w)| p.parse::<u32>().ok() == Some(w))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    NotApplicable,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "n/a",
        }
    }
}

#[derive(Debug)]
struct TestResult {
    name: String,
    category: String,
    status: Status,
    /// Why it failed, or why it is not applicable.
    reasons: Vec<String>,
    /// Checks skipped (out of scope or version-gated) in a test that otherwise ran.
    skipped_checks: Vec<String>,
    millis: u64,
}

/// Why a test does not run: not applicable (outside the issue) or a failure found before
/// running (a broken test.yaml, a missing capture).
enum Verdict {
    NotApplicable(String),
    Fail(String),
}

/// What the sensor binary accepts, read once from `picket sensor --help`, so that the runner
/// works before and after the detection engine lands.
#[derive(Debug, Clone, Default)]
struct SensorCaps {
    rules: bool,
    vars: bool,
    set: bool,
    classification: bool,
    init_errors_fatal: bool,
    stream_inline: bool,
    /// Sensor options the test's suricata.yaml EVE settings translate to, when the sensor
    /// has them.
    eve_options: Vec<&'static str>,
}

/// One test, ready to run.
struct Plan {
    pcap: PathBuf,
    rules: Option<PathBuf>,
    vars: Option<String>,
    sets: Vec<String>,
    /// Suricata's `--init-errors-fatal`: a malformed rule stops the run.
    init_errors_fatal: bool,
    /// Suricata's stream engine runs inline (`--simulate-ips` with `stream.inline: auto`,
    /// or `stream.inline: true`): TCP data is parsed on arrival, not on acknowledgement.
    stream_inline: bool,
    /// Sensor options from the suricata.yaml EVE settings: (option, value if any).
    eve_args: Vec<(&'static str, Option<String>)>,
    expected_exit: i64,
    checks: Vec<Value>,
    /// Extra EVE files the test's suricata.yaml configures: file name -> event types (empty:
    /// all).
    outputs: BTreeMap<String, BTreeSet<String>>,
    /// Sensor options for the DNS logger of eve.json, and of each extra file whose DNS
    /// logger is configured otherwise (that file then comes from a run of its own).
    dns_args: Vec<String>,
    file_dns_args: BTreeMap<String, Vec<String>>,
}

pub fn run(args: Args) -> Result<i32> {
    let root = match &args.tests {
        Some(dir) => dir.clone(),
        None => default_tests_dir().context(
            "suricata-verify not found: give --tests DIR or set PICKET_CORPUS \
             (looked for $PICKET_CORPUS/nids/suricata-verify and ../shared/corpus/nids/suricata-verify)",
        )?,
    };
    let tests_dir = root.join("tests");
    if !tests_dir.is_dir() {
        bail!("{} has no tests/ directory", root.display());
    }
    let categories: BTreeMap<String, String> =
        match std::fs::read_to_string(root.join("subset-categories.json")) {
            Ok(text) => serde_json::from_str(&text).context("subset-categories.json")?,
            Err(_) => BTreeMap::new(),
        };
    let mut names = Vec::new();
    discover(&tests_dir, &tests_dir, &mut names)?;
    names.sort();
    let selected: Vec<(String, String)> = names
        .into_iter()
        .filter(|n| args.filter.is_empty() || args.filter.iter().any(|f| n.contains(f.as_str())))
        .map(|n| {
            let cat = categories
                .get(&n)
                .cloned()
                .unwrap_or_else(|| "uncategorised".to_string());
            (n, cat)
        })
        .filter(|(_, c)| args.category.is_empty() || args.category.contains(c))
        .collect();

    let exe = match &args.picket {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find the picket binary")?,
    };
    let caps = sensor_caps(&exe);
    let work = match &args.keep {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("picket-verify-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<TestResult>>> =
        Mutex::new((0..selected.len()).map(|_| None).collect());
    let classification = Some(root.join("etc/classification.config")).filter(|p| p.is_file());
    let ctx = RunContext {
        tests_dir: &tests_dir,
        classification,
        exe: &exe,
        caps: &caps,
        work: &work,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, category)) = selected.get(i) else {
                    break;
                };
                let result = ctx.run_one(i, name, category);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(result);
                }
            });
        }
    });
    let results: Vec<TestResult> = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a test thread panicked"))?
        .into_iter()
        .flatten()
        .collect();
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    let elapsed = started.elapsed();

    let summary = Summary::of(&results);
    let regressions = match &args.baseline {
        Some(path) => summary.regressions(path)?,
        None => Vec::new(),
    };
    if let Some(path) = &args.write_baseline {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&summary.baseline_json())? + "\n",
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }

    if args.json {
        let tests: Vec<Value> = results
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "category": r.category,
                    "status": r.status.as_str(),
                    "reasons": r.reasons,
                    "skipped_checks": r.skipped_checks,
                    "millis": r.millis,
                })
            })
            .collect();
        let report = json!({
            "suricata_version": SURICATA_VERSION.to_string(),
            "tests_dir": root.display().to_string(),
            "seconds": elapsed.as_secs_f64(),
            "categories": summary.categories_json(),
            "total": summary.total.to_json(),
            "regressions": regressions,
            "tests": tests,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if args.verbose {
            print_details(&results);
        }
        print!("{}", summary.table(&root, elapsed, &caps));
        for r in &regressions {
            println!("REGRESSION: {r}");
        }
    }
    Ok(if regressions.is_empty() { 0 } else { 1 })
}

/// `$PICKET_CORPUS/nids/suricata-verify`, else `shared/corpus/nids/suricata-verify` beside the
/// checkout holding the working directory or this binary.
fn default_tests_dir() -> Option<PathBuf> {
    const REL: &str = "nids/suricata-verify";
    if let Some(corpus) = std::env::var_os("PICKET_CORPUS") {
        let p = PathBuf::from(corpus).join(REL);
        return p.is_dir().then_some(p);
    }
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        for dir in start.ancestors() {
            let p = dir.join("../shared/corpus").join(REL);
            if p.is_dir() {
                return Some(p);
            }
        }
    }
    None
}

/// Every directory under `tests/` holding a test.yaml, named by its path below `tests/`.
fn discover(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.join("test.yaml").is_file() {
                if let Ok(rel) = path.strip_prefix(base) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
            discover(base, &path, out)?;
        }
    }
    Ok(())
}

fn sensor_caps(exe: &Path) -> SensorCaps {
    let help = Command::new(exe)
        .args(["sensor", "--help"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    SensorCaps {
        rules: help.contains("--rules"),
        vars: help.contains("--vars"),
        set: help.contains("--set"),
        classification: help.contains("--classification"),
        init_errors_fatal: help.contains("--init-errors-fatal"),
        stream_inline: help.contains("--stream-inline"),
        eve_options: EVE_OPTIONS
            .iter()
            .copied()
            .filter(|o| help.contains(o))
            .collect(),
    }
}

struct RunContext<'a> {
    tests_dir: &'a Path,
    /// Suricata's classification.config, as upstream passes it to every test.
    classification: Option<PathBuf>,
    exe: &'a Path,
    caps: &'a SensorCaps,
    work: &'a Path,
    timeout: Duration,
}

impl RunContext<'_> {
    fn run_one(&self, index: usize, name: &str, category: &str) -> TestResult {
        let started = Instant::now();
        let dir = self.tests_dir.join(name);
        let mut result = TestResult {
            name: name.to_string(),
            category: category.to_string(),
            status: Status::Fail,
            reasons: Vec::new(),
            skipped_checks: Vec::new(),
            millis: 0,
        };
        match plan(name, &dir, self.caps) {
            Err(Verdict::NotApplicable(reason)) => {
                result.status = Status::NotApplicable;
                result.reasons.push(reason);
            }
            Err(Verdict::Fail(reason)) => result.reasons.push(reason),
            Ok(plan) => {
                let out = self
                    .work
                    .join(format!("{index:04}-{}", name.replace('/', "_")));
                match self.execute(&plan, &dir, &out) {
                    Ok(events) => evaluate(&plan, &events, &mut result),
                    Err(reason) => result.reasons.push(reason),
                }
            }
        }
        result.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        result
    }

    /// Run the sensor; return the EVE records of eve.json and each configured extra file.
    fn execute(
        &self,
        plan: &Plan,
        dir: &Path,
        out: &Path,
    ) -> std::result::Result<BTreeMap<String, Vec<Value>>, String> {
        let events = self.run_sensor(plan, dir, out, &plan.dns_args)?;
        let mut files = BTreeMap::new();
        for (file, types) in &plan.outputs {
            let own;
            let source = match plan.file_dns_args.get(file) {
                Some(args) => {
                    own = self.run_sensor(plan, dir, &out.join(format!("{file}.run")), args)?;
                    &own
                }
                None => &events,
            };
            let subset: Vec<Value> = source
                .iter()
                .filter(|e| {
                    types.is_empty()
                        || e.get("event_type")
                            .and_then(Value::as_str)
                            .is_some_and(|t| types.contains(t))
                })
                .cloned()
                .collect();
            files.insert(file.clone(), subset);
        }
        files.insert("eve.json".to_string(), events);
        Ok(files)
    }

    /// One sensor run over the test's capture, with `extra` options; its EVE records.
    fn run_sensor(
        &self,
        plan: &Plan,
        dir: &Path,
        out: &Path,
        extra: &[String],
    ) -> std::result::Result<Vec<Value>, String> {
        let _ = std::fs::remove_dir_all(out);
        std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
        let eve = out.join("eve.json");
        let mut cmd = Command::new(self.exe);
        cmd.arg("sensor")
            .arg("--read")
            .arg(&plan.pcap)
            .arg("--eve")
            .arg(&eve)
            .args(["--strict-eve", "--stats-interval", "0"]);
        if let (Some(rules), true) = (&plan.rules, self.caps.rules) {
            cmd.arg("--rules").arg(rules);
        }
        if let (Some(c), true, true) = (
            &self.classification,
            self.caps.classification,
            plan.rules.is_some(),
        ) {
            cmd.arg("--classification").arg(c);
        }
        if let (Some(vars), true) = (&plan.vars, self.caps.vars) {
            let path = out.join("vars.toml");
            std::fs::write(&path, vars).map_err(|e| format!("writing vars: {e}"))?;
            cmd.arg("--vars").arg(path);
        }
        if plan.init_errors_fatal && self.caps.init_errors_fatal {
            cmd.arg("--init-errors-fatal");
        }
        if plan.stream_inline && self.caps.stream_inline {
            cmd.arg("--stream-inline");
        }
        for (opt, value) in &plan.eve_args {
            if self.caps.eve_options.contains(opt) {
                cmd.arg(opt);
                if let Some(v) = value {
                    cmd.arg(v);
                }
            }
        }
        if self.caps.set {
            for s in &plan.sets {
                cmd.arg("--set").arg(s);
            }
        }
        cmd.args(extra);
        let stderr_path = out.join("stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
        let _ = std::fs::write(out.join("cmdline"), format!("{cmd:?}\n"));
        let mut child = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "timeout: sensor still running after {} s",
                        self.timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("waiting for the sensor: {e}")),
            }
        };
        let code = i64::from(status.code().unwrap_or(-1));
        let exit_ok = if plan.expected_exit == 0 {
            code == 0
        } else {
            code != 0
        };
        if !exit_ok {
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let last = err.lines().last().unwrap_or("").trim();
            return Err(format!(
                "sensor exit code {code}, expected {}: {last}",
                plan.expected_exit
            ));
        }
        let text = std::fs::read_to_string(&eve).unwrap_or_default();
        let mut events = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Value>(line) {
                Ok(v) => events.push(v),
                Err(e) => return Err(format!("eve.json line is not JSON: {e}")),
            }
        }
        Ok(events)
    }
}

/// Read a test directory and decide how to run it, or why not.
fn plan(name: &str, dir: &Path, caps: &SensorCaps) -> std::result::Result<Plan, Verdict> {
    let text = std::fs::read_to_string(dir.join("test.yaml"))
        .map_err(|e| Verdict::Fail(format!("test.yaml unreadable: {e}")))?;
    let config = yaml_to_json(
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
            .map_err(|e| Verdict::Fail(format!("test.yaml: {e}")))?,
    );
    let na = |s: String| Verdict::NotApplicable(s);

    // Requirements of the whole test, as upstream checks them.
    let requires = config.get("requires").cloned().unwrap_or(Value::Null);
    if let Some(reason) = unsatisfied(&requires, dir) {
        return Err(na(reason));
    }
    if let Some(req) = config.get("requirements").and_then(Value::as_object) {
        // An older spelling upstream ignores; honour its versions all the same.
        if let Some(reason) = unsatisfied(&Value::Object(req.clone()), dir) {
            return Err(na(reason));
        }
    }
    if let Some(reason) = skip_reason(config.get("skip")) {
        return Err(na(reason));
    }
    if config.get("command").is_some() {
        return Err(na(
            "custom Suricata command line (checks Suricata's own log output)".to_string(),
        ));
    }
    if config.get("unix-commands").is_some() {
        return Err(na("Suricata unix socket commands".to_string()));
    }
    if requires
        .get("pcap")
        .is_some_and(|v| truthy(v) == Some(false))
        || config.get("pcap").is_some_and(|v| truthy(v) == Some(false))
    {
        return Err(na(
            "no capture (pcap: false): a rule-loading or engine-analysis test".to_string(),
        ));
    }

    // The command line Suricata would get.
    let mut ips = name.rsplit('/').next().is_some_and(|n| n.contains("ips"));
    let mut init_errors_fatal = false;
    let mut simulate_ips = false;
    // `stream.inline` from the command line or suricata.yaml; unset means `auto`.
    let mut stream_inline: Option<bool> = None;
    let mut sets = Vec::new();
    let args: Vec<String> = match config.get("args") {
        Some(Value::Array(a)) => a.iter().map(scalar_string).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let tokens: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match t {
            "-k" | "--set" => {
                if t == "--set" {
                    if let Some(kv) = tokens.get(i + 1) {
                        sets.push(kv.trim_matches('"').to_string());
                    }
                }
                i += 2;
                continue;
            }
            "--simulate-ips" => {
                ips = true;
                simulate_ips = true;
            }
            "--init-errors-fatal" => init_errors_fatal = true,
            "--engine-analysis" => {
                return Err(na(
                    "engine analysis output (Suricata's rule introspection)".to_string()
                ))
            }
            "-T" => return Err(na("configuration test mode (-T)".to_string())),
            _ => {}
        }
        i += 1;
    }
    let mut kept_sets = Vec::new();
    for kv in &sets {
        let (key, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        let value = value.trim_matches('"');
        if key == "stream.inline" {
            stream_inline = truthy(&Value::String(value.to_string()));
        }
        if key == "threshold-file" {
            return Err(na(
                "threshold.config (global rate filters and suppression)".to_string()
            ));
        }
        if key.starts_with("security.lua") {
            return Err(na("Lua scripting".to_string()));
        }
        if key == "stream.bypass" && truthy(&Value::String(value.to_string())) == Some(true) {
            return Err(na("flow bypass".to_string()));
        }
        if key.ends_with("encryption-handling") && value == "bypass" {
            return Err(na("flow bypass of encrypted traffic".to_string()));
        }
        if let Some(proto) = key
            .strip_prefix("app-layer.protocols.")
            .and_then(|r| r.strip_suffix(".enabled"))
        {
            if NO_PARSER.contains(&proto) && value != "no" && value != "false" {
                return Err(na(format!("protocol {proto} (no picket parser)")));
            }
        }
        kept_sets.push(kv.clone());
    }

    // Capture.
    let pcap = match config.get("pcap") {
        Some(Value::String(p)) => {
            let p = dir.join(p);
            if !p.is_file() {
                // The subset left out some captures that tests borrow from tests outside
                // it: nothing to run, and nothing said about picket.
                return Err(na(format!(
                    "corpus: borrowed capture {} is not in the subset",
                    scalar_string(config.get("pcap").unwrap_or(&Value::Null))
                )));
            }
            p
        }
        _ => {
            let found = files_with_ext(dir, &["pcap", "pcapng"]);
            match found.len() {
                0 => return Err(na("no capture in the test directory".to_string())),
                1 => found[0].clone(),
                _ => return Err(Verdict::Fail("more than one capture".to_string())),
            }
        }
    };

    // Rules.
    let rule_files = files_with_ext(dir, &["rules"]);
    let rules = match rule_files.len() {
        0 => None,
        1 => {
            let file = &rule_files[0];
            let base = file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            if base.ends_with("firewall.rules") {
                return Err(na("Suricata firewall mode".to_string()));
            }
            match base
                .strip_prefix("min")
                .and_then(|r| r.strip_suffix(".rules"))
            {
                Some(v) => match parse_version(&Value::String(v.to_string())) {
                    Some(v) if v > SURICATA_VERSION => None,
                    _ => Some(file.clone()),
                },
                None => Some(file.clone()),
            }
        }
        _ => return Err(na("Suricata firewall mode (two rule files)".to_string())),
    };
    if let Some(rules) = &rules {
        let text = std::fs::read_to_string(rules)
            .map_err(|e| Verdict::Fail(format!("rules unreadable: {e}")))?;
        if let Some(reason) = rules_out_of_scope(&text) {
            return Err(na(reason));
        }
        if ips && rules_have_verdicts(&text) {
            return Err(na("IPS mode (drop/reject verdicts)".to_string()));
        }
    }

    // suricata.yaml: variables and extra EVE files.
    let mut vars = None;
    let mut outputs = BTreeMap::new();
    let mut eve_args = Vec::new();
    let mut dns_args = Vec::new();
    let mut file_dns_args = BTreeMap::new();
    // Suricata 8 writes IPv6 addresses in full; 9 can shorten them (`ipv6-compress`).
    let mut ipv6_compress = false;
    if let Ok(text) = std::fs::read_to_string(dir.join("suricata.yaml")) {
        if let Ok(y) =
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&strip_yaml_directives(&text))
        {
            let y = yaml_to_json(y);
            vars = vars_toml(&y);
            outputs = eve_outputs(&y);
            eve_args = eve_sensor_args(&y);
            ipv6_compress = y
                .get("outputs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| item.get("eve-log"))
                .any(|eve| eve.get("ipv6-compress").and_then(truthy) == Some(true));
            (dns_args, file_dns_args) = dns_logger_args(&y);
            if stream_inline.is_none() {
                stream_inline = y
                    .get("stream")
                    .and_then(|s| s.get("inline"))
                    .and_then(truthy);
            }
        }
    }
    let stream_inline = stream_inline.unwrap_or(simulate_ips);
    if !ipv6_compress {
        eve_args.push(("--ipv6-expanded", None));
    }
    let _ = caps;

    let expected_exit = config.get("exit-code").and_then(Value::as_i64).unwrap_or(0);
    let checks = match config.get("checks") {
        Some(Value::Array(c)) => c.clone(),
        _ => Vec::new(),
    };
    if let Some(proto) = checks.iter().find_map(expected_foreign_app_proto) {
        return Err(na(format!("protocol {proto} (no picket parser)")));
    }
    Ok(Plan {
        pcap,
        rules,
        vars,
        sets: kept_sets,
        init_errors_fatal,
        stream_inline,
        eve_args,
        expected_exit,
        checks,
        outputs,
        dns_args,
        file_dns_args,
    })
}

/// A check expecting records of a flow whose `app_proto` is a protocol picket has no parser
/// for (DNS over HTTP/2 says `app_proto: doh2`): the test's traffic is that protocol, so every
/// record it expects comes from that parser, not only the ones typed after it.
fn expected_foreign_app_proto(check: &Value) -> Option<String> {
    let filter = check.get("filter")?;
    if filter.get("count").and_then(Value::as_i64).unwrap_or(0) == 0 {
        return None;
    }
    let matcher = filter.get("match")?.as_object()?;
    [
        "app_proto",
        "app_proto_orig",
        "app_proto_ts",
        "app_proto_tc",
    ]
    .iter()
    .filter_map(|k| matcher.get(*k).and_then(Value::as_str))
    .find(|p| NO_PARSER.contains(p))
    .map(str::to_string)
}

/// Files in `dir` (not below it) with one of these extensions, sorted.
fn files_with_ext(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|x| exts.iter().any(|e| x == std::ffi::OsStr::new(e)))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Why `requires` (of a test or a check) is not met by picket, or None when it is.
fn unsatisfied(requires: &Value, dir: &Path) -> Option<String> {
    let map = requires.as_object()?;
    for (key, value) in map {
        match key.as_str() {
            "min-version" => {
                let v = parse_version(value)?;
                if SURICATA_VERSION < v {
                    return Some(format!(
                        "written for Suricata >= {v} (picket's EVE follows {SURICATA_VERSION})"
                    ));
                }
            }
            "lt-version" => {
                let v = parse_version(value)?;
                if SURICATA_VERSION >= v {
                    return Some(format!(
                        "written for Suricata < {v} (picket's EVE follows {SURICATA_VERSION})"
                    ));
                }
            }
            "gt-version" => {
                let v = parse_version(value)?;
                if SURICATA_VERSION <= v {
                    return Some(format!(
                        "written for Suricata > {v} (picket's EVE follows {SURICATA_VERSION})"
                    ));
                }
            }
            "version" if !version_equal(value) => {
                return Some(format!(
                    "written for Suricata {} only",
                    scalar_string(value)
                ));
            }
            "features" => {
                for f in value.as_array().into_iter().flatten() {
                    let f = scalar_string(f);
                    if !FEATURES.contains(&f.as_str()) {
                        return Some(feature_reason(&f));
                    }
                }
            }
            "env" => {
                for e in value.as_array().into_iter().flatten() {
                    let e = scalar_string(e);
                    if std::env::var_os(&e).is_none() {
                        return Some(format!("needs environment variable {e}"));
                    }
                }
            }
            "files" => {
                for f in value.as_array().into_iter().flatten() {
                    let f = scalar_string(f);
                    if !dir.join(&f).exists() {
                        return Some(format!("needs file {f} (a Suricata source-tree file)"));
                    }
                }
            }
            "script" => {
                return Some("needs a check of Suricata's source tree (requires: script)".into())
            }
            "os" => {
                let want = scalar_string(value).to_lowercase();
                if !std::env::consts::OS.starts_with(want.as_str()) {
                    return Some(format!("only on {want}"));
                }
            }
            "arch" => {
                let want = scalar_string(value).to_lowercase();
                if !std::env::consts::ARCH.starts_with(want.as_str()) {
                    return Some(format!("only on {want}"));
                }
            }
            "lambda" => return Some("a Python requirement expression".to_string()),
            _ => {}
        }
    }
    None
}

fn feature_reason(feature: &str) -> String {
    match feature {
        "HAVE_LUA" | "LUA" => "Lua scripting".to_string(),
        "MAGIC" | "HAVE_MAGIC" | "LIBMAGIC" => "file extraction (libmagic)".to_string(),
        "HAVE_NSS" | "NSS" => "file extraction (NSS hashing)".to_string(),
        "HTTP2_DECOMPRESSION" | "HAVE_HTTP2" => "protocol http2 (no picket parser)".to_string(),
        "UNIX_SOCKET" => "Suricata unix socket commands".to_string(),
        f => format!("Suricata build feature {f}"),
    }
}

/// `skip:` entries: skip when picket has the feature, or when running as that uid.
fn skip_reason(skip: Option<&Value>) -> Option<String> {
    match skip? {
        Value::Bool(true) => Some("skipped by default upstream".to_string()),
        Value::Array(items) => items.iter().find_map(|item| {
            if let Some(f) = item.get("feature") {
                let f = scalar_string(f);
                if FEATURES.contains(&f.as_str()) {
                    return Some(format!("written for a Suricata built without {f}"));
                }
            }
            if let Some(uid) = item.get("uid").and_then(Value::as_u64) {
                if current_uid() == Some(uid) {
                    return Some(format!("not for uid {uid}"));
                }
            }
            None
        }),
        _ => None,
    }
}

fn current_uid() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .ok()
        .map(|m| u64::from(m.uid()))
}

/// The first out-of-scope protocol or keyword used by an enabled rule, as a reason.
fn rules_out_of_scope(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let _action = words.next();
        let proto = words.next().unwrap_or("").to_ascii_lowercase();
        if NO_PARSER.contains(&proto.as_str()) {
            return Some(format!("protocol {proto} (no picket parser)"));
        }
        let Some(open) = line.find('(') else {
            continue;
        };
        for (keyword, value) in rule_options(&line[open + 1..]) {
            let kw = keyword.to_ascii_lowercase();
            for (prefix, reason) in OUT_OF_SCOPE_KEYWORDS {
                if kw.starts_with(prefix) {
                    return Some(format!("{reason} (keyword {kw})"));
                }
            }
            if kw == "app-layer-protocol" {
                let v = value.trim().trim_start_matches('!').to_ascii_lowercase();
                let p = v.split(',').next().unwrap_or("").trim();
                if NO_PARSER.contains(&p) {
                    return Some(format!("protocol {p} (no picket parser)"));
                }
            }
        }
    }
    None
}

fn rules_have_verdicts(text: &str) -> bool {
    text.lines().any(|l| {
        let first = l.split_whitespace().next().unwrap_or("");
        matches!(
            first,
            "drop" | "reject" | "rejectsrc" | "rejectdst" | "rejectboth"
        )
    })
}

/// (keyword, value) pairs of a rule's option list, honouring `\;` and quoted strings.
fn rule_options(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    let mut quoted = false;
    for c in body.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => {
                let opt = std::mem::take(&mut cur);
                let opt = opt.trim();
                if !opt.is_empty() {
                    let (k, v) = opt.split_once(':').unwrap_or((opt, ""));
                    out.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            _ => cur.push(c),
        }
    }
    out
}

/// `%YAML 1.1` headers and `include:` lines Suricata accepts but a plain YAML reader may not.
fn strip_yaml_directives(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('%'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// suricata.yaml `vars` as the TOML variables file `picket sensor --vars` reads.
fn vars_toml(y: &Value) -> Option<String> {
    let vars = y.get("vars")?;
    let mut out = String::new();
    for (section, toml_section) in [
        ("address-groups", "address-groups"),
        ("port-groups", "port-groups"),
    ] {
        let Some(map) = vars.get(section).and_then(Value::as_object) else {
            continue;
        };
        out.push_str(&format!("[{toml_section}]\n"));
        for (k, v) in map {
            let v = scalar_string(v);
            let esc = v.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!("{k} = \"{esc}\"\n"));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The `dns` logger options of suricata.yaml's eve-log outputs as `picket sensor` options:
/// those of the default file (eve.json), and those of each other file that differ from them.
fn dns_logger_args(y: &Value) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let mut main = Vec::new();
    let mut files = BTreeMap::new();
    for eve in y
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("eve-log"))
    {
        if eve.get("enabled").and_then(truthy) == Some(false) {
            continue;
        }
        let Some(dns) = eve
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|t| t.get("dns"))
        else {
            continue;
        };
        let mut args = Vec::new();
        if let Some(v) = dns.get("version") {
            args.push(format!("--dns-version={}", scalar_string(v)));
        }
        if dns.get("requests").and_then(truthy) == Some(false) {
            args.push("--dns-no-requests".to_string());
        }
        if dns.get("responses").and_then(truthy) == Some(false) {
            args.push("--dns-no-responses".to_string());
        }
        let types: Vec<String> = dns
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(scalar_string)
            .collect();
        if !types.is_empty() {
            args.push(format!("--dns-types={}", types.join(",")));
        }
        match eve.get("filename").map(scalar_string) {
            Some(f) if f != "eve.json" => {
                files.insert(f, args);
            }
            _ => main = args,
        }
    }
    files.retain(|_, a| *a != main);
    (main, files)
}

/// suricata.yaml `outputs:` eve-log entries with their own file name: file -> event types.
/// Sensor options that stand for EVE settings of a suricata.yaml.
const EVE_OPTIONS: &[&str] = &[
    "--community-id-seed",
    "--netflow",
    "--ethernet",
    "--ipv6-expanded",
];

/// The sensor options the enabled `eve-log` outputs' settings translate to: the
/// community ID seed, the `netflow` record type, and `ethernet: yes`.
fn eve_sensor_args(y: &Value) -> Vec<(&'static str, Option<String>)> {
    let mut out = Vec::new();
    for eve in y
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("eve-log"))
        .filter(|eve| eve.get("enabled").and_then(truthy) != Some(false))
    {
        if let Some(seed) = eve.get("community-id-seed").map(scalar_string) {
            out.push(("--community-id-seed", Some(seed)));
        }
        let netflow = eve
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|t| t.as_str() == Some("netflow") || t.get("netflow").is_some());
        if netflow {
            out.push(("--netflow", None));
        }
        if eve.get("ethernet").and_then(truthy) == Some(true) {
            out.push(("--ethernet", None));
        }
    }
    out.dedup();
    out
}

fn eve_outputs(y: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for item in y
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(eve) = item.get("eve-log") else {
            continue;
        };
        if eve.get("enabled").and_then(truthy) == Some(false) {
            continue;
        }
        let Some(file) = eve.get("filename").map(scalar_string) else {
            continue;
        };
        let mut types = BTreeSet::new();
        for t in eve
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match t {
                Value::String(s) => {
                    types.insert(s.clone());
                }
                Value::Object(m) => types.extend(m.keys().cloned()),
                _ => {}
            }
        }
        if types.contains("alert") {
            // Suricata writes anomaly and stats where configured; alerts come with their
            // tagged packets in the same file.
            types.insert("alert".to_string());
        }
        out.insert(file, types);
    }
    out
}

/// Evaluate every check of a test that ran, as suricata-verify's runner does.
fn evaluate(plan: &Plan, files: &BTreeMap<String, Vec<Value>>, result: &mut TestResult) {
    let mut evaluated = 0usize;
    for (n, check) in plan.checks.iter().enumerate() {
        let n = n + 1;
        let Some(obj) = check.as_object() else {
            result.reasons.push(format!("check #{n}: not a mapping"));
            continue;
        };
        for (kind, body) in obj {
            match kind.as_str() {
                "filter" => {
                    if let Some(reason) = body.get("requires").and_then(|r| {
                        unsatisfied(r, Path::new("/nonexistent-suricata-source-tree"))
                    }) {
                        result.skipped_checks.push(format!("#{n}: {reason}"));
                        continue;
                    }
                    let matcher = body.get("match").cloned().unwrap_or(Value::Null);
                    if let Some(reason) = out_of_scope_check(&matcher) {
                        result.skipped_checks.push(format!("#{n}: {reason}"));
                        continue;
                    }
                    evaluated += 1;
                    if let Err(reason) = filter_check(body, files) {
                        result.reasons.push(format!("check #{n}: {reason}"));
                    }
                }
                "stats" => {
                    evaluated += 1;
                    if let Err(reason) = stats_check(body, files) {
                        result.reasons.push(format!("check #{n}: {reason}"));
                    }
                }
                "shell" => result
                    .skipped_checks
                    .push(format!("#{n}: shell check on Suricata's own output files")),
                "file-compare" => result
                    .skipped_checks
                    .push(format!("#{n}: file-compare on Suricata's own output files")),
                other => result
                    .reasons
                    .push(format!("check #{n}: unknown check type {other}")),
            }
        }
    }
    result.status = if !result.reasons.is_empty() {
        Status::Fail
    } else if evaluated == 0 && !result.skipped_checks.is_empty() {
        result.reasons = std::mem::take(&mut result.skipped_checks)
            .into_iter()
            .map(|s| s.split_once(": ").map_or(s.clone(), |(_, r)| r.to_string()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Status::NotApplicable
    } else {
        Status::Pass
    };
}

/// A check on an EVE record type outside the rules issue.
fn out_of_scope_check(matcher: &Value) -> Option<String> {
    let et = matcher.get("event_type").and_then(Value::as_str)?;
    for (t, reason) in OUT_OF_SCOPE_EVENTS {
        if et == *t {
            return Some((*reason).to_string());
        }
    }
    if NO_PARSER.contains(&et) {
        return Some(format!("protocol {et} (no picket parser)"));
    }
    None
}

fn filter_check(
    body: &Value,
    files: &BTreeMap<String, Vec<Value>>,
) -> std::result::Result<(), String> {
    let file = body
        .get("filename")
        .map(scalar_string)
        .unwrap_or_else(|| "eve.json".to_string());
    let Some(events) = files.get(&file) else {
        return Err(format!("{file} does not exist"));
    };
    let want = body
        .get("count")
        .and_then(Value::as_i64)
        .ok_or("filter without an integer count")?;
    let matcher = body
        .get("match")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut got = 0i64;
    for event in events {
        if matches(&matcher, event)? {
            got += 1;
        }
    }
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "expected {want}, got {got} for {}",
            shorten(&Value::Object(matcher).to_string(), 300)
        ))
    }
}

fn stats_check(
    body: &Value,
    files: &BTreeMap<String, Vec<Value>>,
) -> std::result::Result<(), String> {
    let stats = files
        .get("eve.json")
        .and_then(|events| {
            events
                .iter()
                .rev()
                .find(|e| e.get("event_type").and_then(Value::as_str) == Some("stats"))
        })
        .and_then(|e| e.get("stats"))
        .ok_or("no stats record")?;
    let map = body.as_object().ok_or("stats check is not a mapping")?;
    for (key, expected) in map {
        let found = find_value(key, stats);
        let ok = match comparison_operator(key) {
            Some(op) => compare(&found, expected, op),
            None => found_eq(&found, expected),
        };
        if !ok {
            return Err(format!(
                "stats.{key}: expected {expected}, got {}",
                found_display(&found)
            ));
        }
    }
    Ok(())
}

/// The result of walking a dotted path through a record.
enum Found<'a> {
    Missing,
    Value(&'a Value),
    Len(i64),
}

const STRING_OPS: &[&str] = &["__contains", "__find", "__startswith", "__endswith"];
const COMPARISONS: &[&str] = &["__gt", "__gte", "__lt", "__lte"];

/// Walk `a.b[2].c`: a missing key or index (or a JSON null) is Missing; `__len` yields the
/// length of what was reached (-1 for a number, as upstream); an operator suffix stops the
/// walk at the value it applies to.
fn find_value<'a>(name: &str, mut obj: &'a Value) -> Found<'a> {
    for part in name.split('.') {
        if part == "__len" {
            let n = match obj {
                Value::String(s) => i64::try_from(s.chars().count()).unwrap_or(i64::MAX),
                Value::Array(a) => i64::try_from(a.len()).unwrap_or(i64::MAX),
                Value::Object(m) => i64::try_from(m.len()).unwrap_or(i64::MAX),
                _ => -1,
            };
            return Found::Len(n);
        }
        if STRING_OPS.contains(&part) || COMPARISONS.contains(&part) {
            break;
        }
        let (key, index) = split_index(part);
        let Some(next) = obj.as_object().and_then(|m| m.get(key)) else {
            return Found::Missing;
        };
        obj = next;
        if let Some(i) = index {
            match obj.as_array().and_then(|a| a.get(i)) {
                Some(v) => obj = v,
                None => return Found::Missing,
            }
        }
    }
    if obj.is_null() {
        Found::Missing
    } else {
        Found::Value(obj)
    }
}

/// `name[3]` -> ("name", Some(3)).
fn split_index(part: &str) -> (&str, Option<usize>) {
    if let Some(stripped) = part.strip_suffix(']') {
        if let Some(open) = stripped.rfind('[') {
            let digits = &stripped[open + 1..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return (&stripped[..open], digits.parse().ok());
            }
        }
    }
    (part, None)
}

fn comparison_operator(key: &str) -> Option<&'static str> {
    let suffix = key.rsplit('.').next()?;
    COMPARISONS.iter().copied().find(|op| *op == suffix)
}

/// Numeric comparison; booleans and non-numbers never compare (as upstream).
fn compare(found: &Found<'_>, expected: &Value, op: &str) -> bool {
    let actual = match found {
        Found::Value(Value::Number(n)) => n.as_f64(),
        Found::Len(n) => Some(*n as f64),
        _ => None,
    };
    let (Some(a), Some(e)) = (actual, expected.as_f64().filter(|_| expected.is_number())) else {
        return false;
    };
    match op {
        "__gt" => a > e,
        "__gte" => a >= e,
        "__lt" => a < e,
        "__lte" => a <= e,
        _ => false,
    }
}

fn found_eq(found: &Found<'_>, expected: &Value) -> bool {
    match found {
        Found::Missing => expected.is_null(),
        Found::Value(v) => py_eq(v, expected),
        Found::Len(n) => py_eq(&Value::from(*n), expected),
    }
}

fn found_display(found: &Found<'_>) -> String {
    match found {
        Found::Missing => "nothing".to_string(),
        Found::Value(v) => v.to_string(),
        Found::Len(n) => n.to_string(),
    }
}

/// Equality as Python's `==` between a JSON value and a YAML one: 1 == 1.0, True == 1.
fn py_eq(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Bool(_), Value::Number(_)) | (Value::Number(_), Value::Bool(_)) => num(a) == num(b),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => a == b,
    }
}

/// One filter's `match` against one record. Err is what upstream's runner turns into a
/// failed check: a string operator applied to something that is not a string.
fn matches(matcher: &Map<String, Value>, event: &Value) -> std::result::Result<bool, String> {
    for (key, expected) in matcher {
        match key.as_str() {
            "has-key" | "not-has-key" => {
                let want_present = key == "has-key";
                let names: Vec<String> = match expected {
                    Value::Array(a) => a.iter().map(scalar_string).collect(),
                    v => vec![scalar_string(v)],
                };
                for n in names {
                    let present = !matches!(find_value(&n, event), Found::Missing);
                    if present != want_present {
                        return Ok(false);
                    }
                }
            }
            _ => {
                let found = find_value(key, event);
                let string_op = STRING_OPS.iter().find(|op| key.ends_with(*op));
                if let Some(op) = string_op {
                    let ok = match (&found, expected) {
                        (Found::Value(Value::String(s)), Value::String(e)) => match *op {
                            "__find" | "__contains" => s.contains(e.as_str()),
                            "__startswith" => s.starts_with(e.as_str()),
                            _ => s.ends_with(e.as_str()),
                        },
                        (Found::Value(Value::Array(a)), e) if *op == "__contains" => {
                            a.iter().any(|x| py_eq(x, e))
                        }
                        (Found::Value(Value::Object(m)), Value::String(e))
                            if *op == "__contains" =>
                        {
                            m.contains_key(e)
                        }
                        (f, _) => {
                            return Err(format!("{key}: {op} applied to {}", found_display(f)))
                        }
                    };
                    if !ok {
                        return Ok(false);
                    }
                } else if let Some(op) = comparison_operator(key) {
                    if !compare(&found, expected, op) {
                        return Ok(false);
                    }
                } else if !found_eq(&found, expected) {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// YAML booleans as YAML 1.1 (Suricata's and PyYAML's) reads them.
fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// At most `max` characters, with an ellipsis when cut (captures' base64 can be long).
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// YAML to JSON: keys become strings, tags are dropped, YAML 1.1 booleans stay strings
/// (compared with `truthy` where a boolean is meant).
fn yaml_to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match yaml_to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    pass: usize,
    fail: usize,
    not_applicable: usize,
}

impl Counts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::NotApplicable => self.not_applicable += 1,
        }
    }

    fn applicable(&self) -> usize {
        self.pass + self.fail
    }

    fn to_json(self) -> Value {
        json!({
            "pass": self.pass,
            "fail": self.fail,
            "not_applicable": self.not_applicable,
            "applicable": self.applicable(),
        })
    }
}

struct Summary {
    categories: BTreeMap<String, Counts>,
    total: Counts,
}

impl Summary {
    fn of(results: &[TestResult]) -> Summary {
        let mut categories: BTreeMap<String, Counts> = BTreeMap::new();
        let mut total = Counts::default();
        for r in results {
            categories
                .entry(r.category.clone())
                .or_default()
                .add(r.status);
            total.add(r.status);
        }
        Summary { categories, total }
    }

    fn categories_json(&self) -> Value {
        Value::Object(
            self.categories
                .iter()
                .map(|(k, c)| (k.clone(), c.to_json()))
                .collect(),
        )
    }

    fn baseline_json(&self) -> Value {
        let cats: Map<String, Value> = self
            .categories
            .iter()
            .map(|(k, c)| (k.clone(), json!({ "pass": c.pass })))
            .collect();
        json!({
            "about": "suricata-verify pass counts by category: CI fails when a count drops below these. Raise them as the engine improves (picket verify --write-baseline FILE).",
            "categories": cats,
            "total": { "pass": self.total.pass },
        })
    }

    /// Categories (and the total) whose pass count fell below the baseline's.
    fn regressions(&self, path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading baseline {}", path.display()))?;
        let base: Value = serde_json::from_str(&text).context("baseline is not JSON")?;
        let mut out = Vec::new();
        for (cat, want) in base
            .get("categories")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let want = want.get("pass").and_then(Value::as_u64).unwrap_or(0);
            let got = self.categories.get(cat).map_or(0, |c| c.pass) as u64;
            if got < want {
                out.push(format!("{cat}: {got} passed, baseline {want}"));
            }
        }
        if let Some(want) = base.pointer("/total/pass").and_then(Value::as_u64) {
            if (self.total.pass as u64) < want {
                out.push(format!(
                    "total: {} passed, baseline {want}",
                    self.total.pass
                ));
            }
        }
        Ok(out)
    }

    fn table(&self, root: &Path, elapsed: Duration, caps: &SensorCaps) -> String {
        let mut s = format!(
            "suricata-verify: {} tests from {}, judged as Suricata {SURICATA_VERSION} in {:.1} s{}\n",
            self.total.pass + self.total.fail + self.total.not_applicable,
            root.display(),
            elapsed.as_secs_f64(),
            if caps.rules {
                ""
            } else {
                " (this sensor takes no --rules: alerts cannot match)"
            }
        );
        s.push_str(&format!(
            "{:<22} {:>6} {:>6} {:>6} {:>11} {:>7}\n",
            "category", "pass", "fail", "n/a", "applicable", "pass%"
        ));
        let row = |name: &str, c: &Counts| {
            let pct = if c.applicable() == 0 {
                "-".to_string()
            } else {
                format!("{:.1}", 100.0 * c.pass as f64 / c.applicable() as f64)
            };
            format!(
                "{:<22} {:>6} {:>6} {:>6} {:>11} {:>7}\n",
                name,
                c.pass,
                c.fail,
                c.not_applicable,
                c.applicable(),
                pct
            )
        };
        for (name, c) in &self.categories {
            s.push_str(&row(name, c));
        }
        s.push_str(&row("total", &self.total));
        s
    }
}

fn print_details(results: &[TestResult]) {
    for r in results.iter().filter(|r| r.status != Status::Pass) {
        println!(
            "{:<5} {} [{}]: {}",
            r.status.as_str(),
            r.name,
            r.category,
            r.reasons.join("; ")
        );
    }
    let mut na: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results.iter().filter(|r| r.status == Status::NotApplicable) {
        for reason in &r.reasons {
            *na.entry(reason.as_str()).or_default() += 1;
        }
    }
    if !na.is_empty() {
        println!("not applicable, by reason:");
        let mut v: Vec<_> = na.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (reason, n) in v {
            println!("  {n:>4}  {reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn dotted_paths_indexes_and_operators() {
        let e = json!({"event_type": "alert", "alert": {"metadata": {"x": ["a", "b"]}, "sid": 5},
            "dns": {"answers": [{"rrname": "example.com"}]}, "n": null});
        assert!(matches(&m(json!({"alert.metadata.x[1]": "b"})), &e).unwrap());
        assert!(matches(&m(json!({"alert.metadata.x.__len": 2})), &e).unwrap());
        assert!(matches(&m(json!({"dns.answers[0].rrname.__startswith": "exa"})), &e).unwrap());
        assert!(matches(&m(json!({"dns.answers[0].rrname.__find": "ple."})), &e).unwrap());
        assert!(matches(&m(json!({"alert.sid.__gte": 5, "alert.sid.__lt": 6})), &e).unwrap());
        assert!(!matches(&m(json!({"alert.sid.__gt": 5})), &e).unwrap());
        assert!(matches(&m(json!({"alert.sid": 5.0})), &e).unwrap());
        assert!(matches(&m(json!({"has-key": "alert.metadata"})), &e).unwrap());
        assert!(!matches(&m(json!({"has-key": "n"})), &e).unwrap());
        assert!(matches(&m(json!({"not-has-key": ["n", "alert.foo"]})), &e).unwrap());
        assert!(!matches(&m(json!({"alert.metadata.x[2]": "c"})), &e).unwrap());
        assert!(matches(&m(json!({"alert.missing.__find": "x"})), &e).is_err());
        assert!(matches(&m(json!({"alert.metadata.x.__contains": "a"})), &e).unwrap());
    }

    #[test]
    fn versions_follow_upstream_defaults() {
        assert_eq!(parse_version(&json!(7)), Some(Version(7, 0, 0)));
        assert_eq!(parse_version(&json!("8.0.4")), Some(Version(8, 0, 4)));
        assert!(unsatisfied(&json!({"min-version": 9}), Path::new("/")).is_some());
        assert!(unsatisfied(&json!({"min-version": "8.0.6"}), Path::new("/")).is_none());
        assert!(unsatisfied(&json!({"lt-version": "8.0.2"}), Path::new("/")).is_some());
        assert!(unsatisfied(&json!({"lt-version": 9}), Path::new("/")).is_none());
        assert!(version_equal(&json!("8")) && !version_equal(&json!("8.1")));
    }

    #[test]
    fn out_of_scope_rules_are_named() {
        let r = "alert smb any any -> any any (msg:\"x\"; sid:1;)";
        assert!(rules_out_of_scope(r).unwrap().contains("smb"));
        let r = "alert http any any -> any any (msg:\"a;b\"; filestore; sid:1;)";
        assert!(rules_out_of_scope(r).unwrap().contains("file extraction"));
        let r = "alert tcp any any -> any any (content:\"a\\;lua\"; sid:1;)";
        assert!(rules_out_of_scope(r).is_none());
    }

    #[test]
    fn eve_settings_become_sensor_options() {
        let y = json!({"outputs": [
            {"eve-log": {"enabled": true, "community-id": true, "community-id-seed": 7}},
            {"eve-log": {"enabled": false, "community-id-seed": 9}},
        ]});
        assert_eq!(
            eve_sensor_args(&y),
            [("--community-id-seed", Some("7".to_string()))]
        );
        assert!(eve_sensor_args(&json!({})).is_empty());
        let y = json!({"outputs": [{"eve-log": {"types": ["flow", "netflow"]}}]});
        assert_eq!(eve_sensor_args(&y), [("--netflow", None)]);
        let y = json!({"outputs": [{"eve-log": {"ethernet": "yes", "types": ["dns"]}}]});
        assert_eq!(eve_sensor_args(&y), [("--ethernet", None)]);
    }
}
