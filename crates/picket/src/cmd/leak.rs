//! `picket leak`: watch the uplink for anything that is not tunnel traffic.
//!
//! Captures on the uplink with `AF_PACKET` and judges every packet the kernel reports as
//! leaving (`PACKET_OUTGOING`) with `picket_netwatch::leak::LeakMonitor`. Alerts are written
//! and flushed as they happen, so a failed kill switch shows within the capture's half-second
//! read timeout.

use anyhow::{bail, Context, Result};
use picket_capture::live::{pkttype, AfPacket};
use picket_event::EveMode;
use picket_netwatch::leak::{Endpoint, LeakConfig, LeakMonitor};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Leak monitor configuration (TOML; see examples/dns/leak.toml).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// The uplink interface (overrides `uplink`).
    #[arg(long, short = 'i')]
    pub uplink: Option<String>,
    /// A VPN endpoint, `address:port/proto` (repeatable; added to `endpoints`).
    #[arg(long = "endpoint", value_name = "ADDR:PORT/PROTO")]
    pub endpoints: Vec<String>,
    /// Seconds between alerts for the same (destination, protocol, port).
    #[arg(long)]
    pub interval: Option<u32>,
    /// Write EVE JSON alert lines here; `-` for stdout (the default).
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub eve: PathBuf,
    /// Sensor name written as `host` in alerts.
    #[arg(long)]
    pub host: Option<String>,
    /// Stop after this many seconds (for tests and trials).
    #[arg(long, hide = true)]
    pub run_for: Option<f64>,
}

pub fn run(args: Args) -> Result<i32> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            LeakConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => LeakConfig::default(),
    };
    if let Some(uplink) = &args.uplink {
        config.uplink = Some(uplink.clone());
    }
    for text in &args.endpoints {
        config
            .endpoints
            .push(Endpoint::parse(text).map_err(anyhow::Error::msg)?);
    }
    if let Some(interval) = args.interval {
        config.interval_secs = interval;
    }
    config.validate()?;
    let Some(uplink) = config.uplink.clone() else {
        bail!("no uplink: give --uplink IFACE or `uplink` in the configuration");
    };
    if config.endpoints.is_empty() {
        eprintln!("picket leak: no VPN endpoint given: every packet leaving {uplink} is a leak");
    }
    let mut out: Box<dyn Write> = if args.eve.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&args.eve)
                .with_context(|| format!("opening {}", args.eve.display()))?,
        ))
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .context("installing the signal handler")?;
    }
    if let Some(seconds) = args.run_for {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
            stop.store(true, Ordering::Relaxed);
        });
    }
    let mut capture = AfPacket::open(&uplink, 2048, false, stop.clone())
        .with_context(|| format!("capturing on {uplink}"))?;
    eprintln!(
        "picket leak: watching {uplink}; tunnel endpoints: {}",
        config
            .endpoints
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut monitor = LeakMonitor::new(config, &uplink);
    monitor.set_host(args.host.clone());
    let started = Instant::now();
    loop {
        match capture.next_packet_typed() {
            Ok(Some((packet, kind))) => {
                if kind != pkttype::OUTGOING {
                    continue;
                }
                if let Some(alert) = monitor.observe(packet.ts, packet.link_type, packet.data) {
                    alert.write_eve(EveMode::Extended, &mut out)?;
                    out.write_all(b"\n")?;
                    out.flush()?;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(e).context("capture"),
        }
    }
    let c = monitor.counters();
    eprintln!(
        "picket leak: {:.1} s, {} outgoing packets: {} tunnel, {} ARP/ND/DHCP, {} leaked \
         ({} alerts, {} folded into earlier alerts, {} undecodable, {} dedup-table overflows)",
        started.elapsed().as_secs_f64(),
        c.packets,
        c.tunnel,
        c.allowed_other,
        c.leaks,
        c.alerts,
        c.suppressed,
        c.undecodable,
        c.keys_full
    );
    Ok(0)
}
