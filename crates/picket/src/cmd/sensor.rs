//! `picket sensor`: read captures or a live interface and write EVE JSON.
//!
//! All decoding lives in `picket-netdecode`; this module only moves packets from a
//! `picket-capture` source into the [`Sensor`] and its events into a file.

use anyhow::{bail, Context, Result};
use picket_capture::{CaptureSet, CaptureStats, PacketSource};
use picket_event::{EveMode, Event, Timestamp};
use picket_netdecode::flow::FlowConfig;
use picket_netdecode::{CaptureCounters, EncryptionHandling, Sensor, SensorConfig};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A pcap or pcapng file, or a directory read recursively in name order. Repeatable.
    #[arg(long = "read", short = 'r', value_name = "FILE_OR_DIR")]
    read: Vec<PathBuf>,
    /// Capture live from this interface (AF_PACKET).
    #[arg(long, short = 'i', conflicts_with = "read")]
    interface: Option<String>,
    /// Where to write EVE JSON lines; `-` for standard output.
    #[arg(long, value_name = "OUT.json")]
    eve: Option<PathBuf>,
    /// Write only fields Suricata's EVE schema names (leave out the `picket` object).
    #[arg(long)]
    strict_eve: bool,
    /// Most flows held at once; beyond it the flow idle longest is written and dropped.
    #[arg(long, default_value_t = FlowConfig::default().max_flows)]
    max_flows: usize,
    /// Seconds of packet time between `stats` events (0: only at the end).
    #[arg(long, default_value_t = 30)]
    stats_interval: u64,
    /// The sensor name written as EVE's `host`.
    #[arg(long)]
    host: Option<String>,
    /// Live capture: do not put the interface in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Live capture: bytes kept of each packet.
    #[arg(long, default_value_t = 65_535)]
    snaplen: u32,
    /// Benchmark: replay the captures, then print Mbit/s and peak memory to stderr. Events
    /// go to --eve if given, else are serialised and discarded.
    #[arg(long)]
    bench: bool,
    /// Suricata rule files or directories of *.rules: run the detection engine and write
    /// `alert` records. Repeatable.
    #[arg(long = "rules", value_name = "FILE_OR_DIR", num_args = 1..)]
    rules: Vec<PathBuf>,
    /// classification.config for alert categories and severities (default: one found next
    /// to the rules).
    #[arg(long, value_name = "FILE")]
    classification: Option<PathBuf>,
    /// Set a rule variable, e.g. `HOME_NET=[10.0.0.0/8]` or `HTTP_PORTS=[80,8080]`
    /// (names ending in _PORTS are port groups). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    var: Vec<String>,
    /// TOML file with [address-groups] and [port-groups] for the rule variables.
    #[arg(long, value_name = "FILE")]
    vars: Option<PathBuf>,
    /// Community ID seed (0 unless every tool in the deployment agrees on another).
    #[arg(long, default_value_t = 0)]
    community_id_seed: u16,
    /// Exit with an error when a rule is malformed, instead of skipping it (a rule whose
    /// keyword picket does not implement is still only skipped).
    #[arg(long)]
    init_errors_fatal: bool,
    /// EVE DNS record version: 3 (one record per message) or 2 (a `query` record per
    /// question, an `answer` record per response).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    dns_version: u8,
    /// Leave DNS requests out of the EVE output.
    #[arg(long)]
    dns_no_requests: bool,
    /// Leave DNS responses out of the EVE output.
    #[arg(long)]
    dns_no_responses: bool,
    /// Log only DNS messages whose question is of these types (`a,aaaa,mx`).
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    dns_types: Vec<String>,
    /// Also write EVE `netflow` records: each ended flow once per direction, from that
    /// direction's sender (Suricata's unidirectional flow log).
    #[arg(long)]
    netflow: bool,
    /// Write Ethernet addresses in EVE records (`ether`): the frame's on records about a
    /// packet, each side's on `flow` and `netflow` records.
    #[arg(long)]
    ethernet: bool,
    /// Write IPv6 addresses in full, every group in four digits and no `::`
    /// (`2001:0db8:0000:…:0001`), as Suricata 8 does; by default in the short form.
    #[arg(long)]
    ipv6_expanded: bool,
    /// Public Suffix List file for the `domain` and `tld` rule transforms (Debian package
    /// `publicsuffix`); picket falls back to a short built-in list when it is absent.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/usr/share/publicsuffix/public_suffix_list.dat"
    )]
    public_suffix_list: PathBuf,
    /// Inline (IPS) stream handling: parse TCP data as it arrives. By default a passive
    /// sensor parses each direction's bytes once the peer acknowledges them, as Suricata
    /// does in IDS mode, and hands over what was never acknowledged when the flow ends.
    #[arg(long)]
    stream_inline: bool,
    /// What detection does once a TLS direction has finished its handshake (or an SSH one
    /// has sent NEWKEYS): `default` stops raw-content inspection of the ciphertext while
    /// app-layer, flow and header keywords go on (Suricata's default); `full` inspects it
    /// too; `bypass` also stops inspecting and reassembling its packets.
    #[arg(long, value_name = "MODE", default_value_t = EncryptionHandling::default())]
    encryption_handling: EncryptionHandling,
    #[command(flatten)]
    netwatch: crate::cmd::netwatch::StageArgs,
}

/// Loads the rules named on the command line into a detection engine, reporting what was
/// skipped to standard error.
fn load_engine(args: &Args) -> Result<Option<picket_nids::Engine>> {
    use picket_nids::{Classifications, Engine, EngineConfig, LoadOptions, Ruleset, Variables};
    if args.rules.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    let mut vars = match &args.vars {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Variables::from_toml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => Variables::default(),
    };
    for v in &args.var {
        let Some((name, value)) = v.split_once('=') else {
            bail!("--var needs NAME=VALUE, not `{v}`");
        };
        let name = name.trim().trim_start_matches('$');
        if name.ends_with("_PORTS") {
            vars.set_port(name, value.trim())
        } else {
            vars.set_address(name, value.trim())
        }
        .with_context(|| format!("--var {v}"))?;
    }
    let class_path = args
        .classification
        .clone()
        .or_else(|| crate::cmd::rules::find_classification(&args.rules));
    let classifications = match &class_path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let (c, errors) = Classifications::parse(&text);
            for e in errors {
                eprintln!("picket sensor: {}:{e}", p.display());
            }
            Some(c)
        }
        None => None,
    };
    let mut ruleset = Ruleset::new(LoadOptions {
        vars,
        classifications: classifications.clone(),
        include_disabled: false,
    });
    for f in crate::cmd::rules::rule_files(&args.rules)? {
        let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        ruleset.add_source(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
    for s in &ruleset.skipped {
        eprintln!(
            "picket sensor: skipped rule at {}:{}:{}: {}: {}",
            ruleset.sources[s.source],
            s.error.position.line,
            s.error.position.column,
            s.error.keyword,
            s.error.kind
        );
    }
    if args.init_errors_fatal {
        let malformed = ruleset
            .skipped
            .iter()
            .filter(|s| !matches!(s.error.kind, picket_nids::ErrorKind::UnsupportedKeyword))
            .count();
        if malformed > 0 {
            bail!("{malformed} malformed rule(s) and --init-errors-fatal");
        }
    }
    let (loaded, skipped) = (ruleset.rules.len(), ruleset.skipped.len());
    let mut engine = Engine::new(
        std::mem::take(&mut ruleset.rules),
        classifications,
        EngineConfig::default(),
    )?;
    let uses_suffixes = engine.rules().iter().any(|r| {
        r.rule.buffers.iter().any(|b| {
            b.transforms
                .iter()
                .any(|(t, _)| *t == "domain" || *t == "tld")
        })
    });
    if uses_suffixes {
        engine.set_public_suffixes(load_public_suffixes(&args.public_suffix_list));
    }
    let unsupported = engine.unsupported_by_reason();
    let not_evaluated: usize = unsupported.iter().map(|(_, n)| n).sum();
    eprintln!(
        "picket sensor: rules: {loaded} parsed, {skipped} skipped by the parser, {} in the engine, {not_evaluated} not evaluable; loaded in {:.3} s",
        engine.rules().len(),
        started.elapsed().as_secs_f64()
    );
    if !unsupported.is_empty() {
        let top: Vec<String> = unsupported
            .iter()
            .take(12)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        eprintln!(
            "picket sensor: not evaluable, by reason: {}",
            top.join(", ")
        );
    }
    Ok(Some(engine))
}

/// The Public Suffix List for the `domain` and `tld` transforms: the file if it can be
/// read, else picket's built-in list of common suffixes. Says which on standard error.
fn load_public_suffixes(path: &std::path::Path) -> picket_nids::PublicSuffixList {
    use picket_nids::PublicSuffixList;
    match std::fs::read(path) {
        Ok(bytes) => {
            let list = PublicSuffixList::parse(&bytes);
            eprintln!(
                "picket sensor: public suffixes: {} rules from {} ({} lines skipped)",
                list.len(),
                path.display(),
                list.skipped
            );
            list
        }
        Err(e) => {
            let list = PublicSuffixList::builtin();
            eprintln!(
                "picket sensor: public suffixes: {} unreadable ({e}); using picket's built-in list of {} common suffixes",
                path.display(),
                list.len()
            );
            list
        }
    }
}

pub fn run(args: Args) -> Result<i32> {
    let mode = if args.strict_eve {
        EveMode::Strict
    } else {
        EveMode::Extended
    };
    let config = SensorConfig {
        flow: FlowConfig {
            max_flows: args.max_flows,
            ..FlowConfig::default()
        },
        reassembly: picket_netdecode::reassembly::ReassemblyConfig {
            inline: args.stream_inline,
            ..Default::default()
        },
        host: args.host.clone(),
        community_id_seed: args.community_id_seed,
        netflow: args.netflow,
        ethernet: args.ethernet,
        encryption: args.encryption_handling,
        dns_log: picket_netdecode::DnsLogConfig {
            version: args.dns_version,
            requests: !args.dns_no_requests,
            responses: !args.dns_no_responses,
            types: (!args.dns_types.is_empty()).then(|| {
                args.dns_types
                    .iter()
                    .map(|t| t.to_ascii_uppercase())
                    .collect()
            }),
        },
        ..SensorConfig::default()
    };
    let sink: Box<dyn Write> = match &args.eve {
        Some(path) if path.as_os_str() == "-" => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create EVE file {}", path.display()))?,
        ),
        None if args.bench => Box::new(std::io::sink()),
        None => bail!("--eve OUT.json is required (use `-` for standard output)"),
    };
    let mut writer = EveWriter {
        out: sink,
        buf: Vec::with_capacity(EVE_BUFFER + (64 << 10)),
        mode,
        events: 0,
        ipv6_expanded: args.ipv6_expanded,
    };
    let mut stage = crate::cmd::netwatch::Stage::from_args(&args.netwatch)?;
    let engine = load_engine(&args)?;
    let interval_us = i64::try_from(args.stats_interval)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000);

    if let Some(interface) = &args.interface {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
            .context("cannot install the interrupt handler")?;
        #[cfg(target_os = "linux")]
        {
            let mut source = picket_capture::live::AfPacket::open(
                interface,
                args.snaplen,
                !args.no_promisc,
                stop,
            )?;
            eprintln!("picket sensor: capturing on {interface}; interrupt to stop");
            let summary = replay(
                &mut source,
                (config, engine),
                interval_us,
                &mut writer,
                &mut stage,
                true,
            )?;
            eprintln!(
                "picket sensor: {} packets, {} events, kernel drops {}",
                summary.capture.packets, writer.events, summary.capture.kernel_drops
            );
            return Ok(0);
        }
        #[cfg(not(target_os = "linux"))]
        bail!("live capture needs Linux (AF_PACKET); use --read");
    }

    if args.read.is_empty() {
        bail!("give --read FILE_OR_DIR or --interface IF");
    }
    let mut source = CaptureSet::new(&args.read)?;
    let summary = replay(
        &mut source,
        (config, engine),
        interval_us,
        &mut writer,
        &mut stage,
        false,
    )?;
    if args.bench {
        let secs = summary.engine_secs.max(1e-9);
        let bits = summary.capture.bytes as f64 * 8.0;
        let cpu = summary
            .cpu_secs
            .map(|c| format!(", {:.3} s CPU: {:.0} Mbit/s", c, bits / c.max(1e-9) / 1e6))
            .unwrap_or_default();
        eprintln!(
            "bench: {} files ({} unreadable), {} packets, {} bytes, {} events; engine {:.3} s wall: {:.0} Mbit/s{}; peak RSS {} MiB",
            summary.capture.files,
            summary.capture.errors,
            summary.capture.packets,
            summary.capture.bytes,
            writer.events,
            secs,
            bits / secs / 1e6,
            cpu,
            peak_rss_kib().map(|k| k / 1024).map_or("?".to_string(), |m| m.to_string()),
        );
    } else {
        eprintln!(
            "picket sensor: {} files, {} packets, {} events; {} capture errors",
            summary.capture.files, summary.capture.packets, writer.events, summary.capture.errors
        );
    }
    Ok(0)
}

/// Bytes of EVE lines gathered before they go to the sink in one write.
const EVE_BUFFER: usize = 1 << 20;

/// Writes EVE lines. Records are appended to one reused buffer (infallible, no per-field
/// `io::Write` calls) and handed to the sink a megabyte at a time.
struct EveWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    mode: EveMode,
    events: u64,
    ipv6_expanded: bool,
}

/// An IPv6 address in Suricata 8's form: eight groups of four hex digits. Anything else
/// is left as it is.
fn expand_ipv6(text: &mut String) {
    if let Ok(addr) = text.parse::<std::net::Ipv6Addr>() {
        let groups: Vec<String> = addr.segments().iter().map(|g| format!("{g:04x}")).collect();
        *text = groups.join(":");
    }
}

/// The record's addresses (envelope, and an alert's `flow` object) in the expanded form.
fn expand_event_ipv6(event: &mut Event) {
    for ip in [&mut event.endpoints.src_ip, &mut event.endpoints.dest_ip]
        .into_iter()
        .flatten()
    {
        expand_ipv6(ip);
    }
    if let Some(serde_json::Value::Object(flow)) = event.extra.get_mut("flow") {
        for key in ["src_ip", "dest_ip"] {
            if let Some(serde_json::Value::String(ip)) = flow.get_mut(key) {
                expand_ipv6(ip);
            }
        }
    }
}

impl<W: Write> EveWriter<W> {
    fn write(&mut self, events: &mut Vec<Event>) -> Result<()> {
        for mut event in events.drain(..) {
            if self.ipv6_expanded {
                expand_event_ipv6(&mut event);
            }
            event.append_eve(self.mode, &mut self.buf);
            self.buf.push(b'\n');
            self.events += 1;
            if self.buf.len() >= EVE_BUFFER {
                self.out.write_all(&self.buf).context("cannot write EVE")?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// Hands everything gathered to the sink and flushes it.
    fn flush(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).context("cannot write EVE")?;
        self.buf.clear();
        self.out.flush().context("cannot write EVE")
    }
}

struct Summary {
    capture: CaptureStats,
    engine_secs: f64,
    /// CPU time this thread spent in the engine, when the kernel reports it.
    cpu_secs: Option<f64>,
}

/// CPU time the calling thread has run, from `/proc/thread-self/schedstat` (Linux): on a
/// shared machine wall time also counts other processes' turns.
fn thread_cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn counters(stats: &CaptureStats) -> CaptureCounters {
    CaptureCounters {
        kernel_packets: stats.kernel_packets,
        kernel_drops: stats.kernel_drops,
        errors: stats.errors,
    }
}

/// Feed every packet of `source` through a sensor, writing events as they come, a
/// `stats` event every `interval_us` of packet time, and a final one.
fn replay<W: Write>(
    source: &mut dyn PacketSource,
    (config, engine): (SensorConfig, Option<picket_nids::Engine>),
    interval_us: i64,
    writer: &mut EveWriter<W>,
    stage: &mut Option<crate::cmd::netwatch::Stage>,
    live: bool,
) -> Result<Summary> {
    let started = Instant::now();
    let cpu_started = thread_cpu_secs();
    let mut sensor = Sensor::new(config);
    if let Some(engine) = engine {
        sensor.set_inspector(Box::new(engine));
    }
    let mut events = Vec::new();
    let mut last_stats: Option<Timestamp> = None;
    let mut last_ts = Timestamp::default();
    loop {
        match source.next_packet() {
            Ok(Some(packet)) => {
                sensor.process(
                    packet.link_type,
                    packet.ts,
                    packet.data,
                    packet.orig_len,
                    &mut events,
                );
                if packet.ts > last_ts {
                    last_ts = packet.ts;
                }
                let since = last_stats.get_or_insert(packet.ts);
                if interval_us > 0 && last_ts.as_micros() - since.as_micros() >= interval_us {
                    last_stats = Some(last_ts);
                    let c = counters(&source.stats());
                    events.push(sensor.stats_event(last_ts, c));
                }
                if let Some(stage) = stage.as_mut() {
                    stage.observe(&mut events);
                }
                if !events.is_empty() {
                    writer.write(&mut events)?;
                    if live {
                        writer.flush()?;
                    }
                }
            }
            Ok(None) => break,
            // One bad file ends only itself; say so and go on with the next.
            Err(error) => eprintln!("picket sensor: {error}"),
        }
    }
    while sensor.finish(&mut events) {
        if let Some(stage) = stage.as_mut() {
            stage.observe(&mut events);
        }
        writer.write(&mut events)?;
    }
    if let Some(stage) = stage.as_mut() {
        stage.finish(&mut events);
        writer.write(&mut events)?;
    }
    let capture = source.stats();
    let end = if live { Timestamp::now() } else { last_ts };
    events.push(sensor.stats_event(end, counters(&capture)));
    writer.write(&mut events)?;
    writer.flush()?;
    Ok(Summary {
        capture,
        engine_secs: started.elapsed().as_secs_f64(),
        cpu_secs: thread_cpu_secs()
            .zip(cpu_started)
            .map(|(end, start)| end - start),
    })
}

/// Peak resident set size in KiB, from `/proc/self/status` (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_expand_as_suricata_8_writes_them() {
        let mut e = Event::new(Timestamp::from_secs(0), "alert");
        e.endpoints.src_ip = Some("::1".into());
        e.endpoints.dest_ip = Some("10.0.0.1".into());
        e.extra.insert(
            "flow".into(),
            serde_json::json!({"src_ip": "fd01::101:101", "dest_ip": "10.0.0.1"}),
        );
        expand_event_ipv6(&mut e);
        assert_eq!(
            e.endpoints.src_ip.as_deref(),
            Some("0000:0000:0000:0000:0000:0000:0000:0001")
        );
        assert_eq!(e.endpoints.dest_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(
            e.extra["flow"]["src_ip"],
            "fd01:0000:0000:0000:0000:0000:0101:0101"
        );
    }
}
