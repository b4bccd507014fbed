//! `picket dns`: the DNS guard for a net qube.
//!
//! The decisions are `picket_netwatch::dns::Guard`'s; this file moves the bytes. UDP
//! clients are forwarded over one UDP upstream socket (ids chosen by the guard, answers
//! accepted only from a configured upstream); TCP clients get a TCP connection upstream per
//! query. Pinned addresses go into nft sets through `nft -f -` before the answer is sent, so
//! the client's first connection already passes the firewall. With `--bypass-interface`, a
//! capture thread on the client-facing interface alerts on DNS that goes around the guard.

use anyhow::{bail, Context, Result};
use picket_event::{EveMode, Event, Timestamp};
use picket_netwatch::dns::{
    nft_batch, wire, Action, Answer, Guard, GuardConfig, PinConfig, Query, Transport,
};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Guard configuration (TOML; see examples/dns/guard.toml). Without it: an open
    /// policy with default thresholds.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Address to serve on, UDP and TCP (repeatable; overrides `listen` in the file).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// Upstream resolver (repeatable; overrides `upstream`). The first is used until it
    /// times out, then the next.
    #[arg(long, value_name = "ADDR")]
    pub upstream: Vec<SocketAddr>,
    /// Write EVE JSON lines (dns events and alerts) here; `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub eve: Option<PathBuf>,
    /// Leave out picket's own `picket` object (for strict EVE consumers).
    #[arg(long)]
    pub strict_eve: bool,
    /// A `picket fw` policy whose DNS pins (`Policy::dns_pins`) are added to the guard's.
    #[arg(long, value_name = "FILE")]
    pub fw_policy: Option<PathBuf>,
    /// Print the nft batches instead of running `nft` (for trying a policy out).
    #[arg(long)]
    pub nft_dry_run: bool,
    /// Capture on this client-facing interface and alert on DNS (53, 853) sent to
    /// anything but the guard's listen addresses.
    #[arg(long, value_name = "IFACE")]
    pub bypass_interface: Option<String>,
    /// Sensor name written as `host` in events.
    #[arg(long)]
    pub host: Option<String>,
    /// Stop after this many seconds (for tests and trials).
    #[arg(long, hide = true)]
    pub run_for: Option<f64>,
}

/// An EVE sink shared by the threads; each batch is flushed so alerts show at once.
struct Eve {
    out: Option<Box<dyn Write + Send>>,
    mode: EveMode,
}

impl Eve {
    fn open(path: Option<&PathBuf>, strict: bool) -> Result<Eve> {
        let out: Option<Box<dyn Write + Send>> = match path {
            None => None,
            Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
            Some(p) => Some(Box::new(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?,
            ))),
        };
        Ok(Eve {
            out,
            mode: if strict {
                EveMode::Strict
            } else {
                EveMode::Extended
            },
        })
    }

    fn write(&mut self, events: &[Event]) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        for e in events {
            let _ = e.write_eve(self.mode, out);
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

/// Adds pinned addresses to nft sets.
struct Nft {
    table: String,
    dry_run: bool,
    failures: AtomicU64,
}

impl Nft {
    fn publish(&self, answer: &Answer) {
        if answer.publish.is_empty() {
            return;
        }
        let batch = nft_batch(&self.table, &answer.publish);
        if self.dry_run {
            eprint!("nft: {batch}");
            return;
        }
        let result = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(batch.as_bytes())?;
                }
                child.wait_with_output()
            });
        match result {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "picket dns: nft failed: {} (batch: {})",
                    String::from_utf8_lossy(&out.stderr).trim(),
                    batch.trim()
                );
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("picket dns: running nft: {e}");
            }
        }
    }
}

struct Shared {
    guard: Mutex<Guard>,
    eve: Mutex<Eve>,
    nft: Nft,
    upstreams: Vec<SocketAddr>,
    /// Index of the upstream in use; advanced when queries time out.
    current: AtomicUsize,
    upstream_v4: Option<UdpSocket>,
    upstream_v6: Option<UdpSocket>,
    /// The UDP socket of each listen address, to send forwarded answers from.
    listeners: Vec<(SocketAddr, UdpSocket)>,
    stop: Arc<AtomicBool>,
    tcp_connections: AtomicUsize,
    tcp_refused: AtomicU64,
}

/// TCP client connections served at once; more are closed at accept, and counted.
const MAX_TCP_CONNECTIONS: usize = 128;
/// An idle TCP client is closed after this.
const TCP_IDLE: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not stop DNS: the data under these locks stays consistent
    // between calls, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32) ^ (&nanos as *const u64 as u64)
}

fn load_config(args: &Args) -> Result<GuardConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            GuardConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => GuardConfig::default(),
    };
    if !args.listen.is_empty() {
        config.listen = args.listen.clone();
    }
    if !args.upstream.is_empty() {
        config.upstream = args.upstream.clone();
    }
    if config.listen.is_empty() {
        bail!("no listen address: give --listen ADDR or `listen` in the configuration");
    }
    if config.upstream.is_empty() {
        bail!("no upstream resolver: give --upstream ADDR or `upstream` in the configuration");
    }
    Ok(config)
}

/// The firewall policy's pins, as guard pins. Sources that are interface names cannot be
/// matched to a client address here; they are reported and skipped.
fn firewall_pins(path: &Path) -> Result<Vec<PinConfig>> {
    let policy = picket_firewall::Policy::load(path)
        .with_context(|| format!("loading the firewall policy {}", path.display()))?;
    let mut pins = Vec::new();
    for pin in policy.dns_pins() {
        if picket_netwatch::dns::Prefix::parse(&pin.source).is_err() {
            eprintln!(
                "picket dns: firewall pin {} for source {:?} skipped: the guard matches \
                 clients by address, not by interface",
                pin.domain, pin.source
            );
            continue;
        }
        pins.push(PinConfig {
            domain: pin.domain,
            source: Some(pin.source),
            set4: Some(pin.set4),
            set6: Some(pin.set6),
        });
    }
    Ok(pins)
}

pub fn run(args: Args) -> Result<i32> {
    let config = load_config(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .context("installing the signal handler")?;
    }
    serve(&args, &config, stop)?;
    Ok(0)
}

/// The guard's threads until `stop` is set (or `--run-for` has passed).
fn serve(args: &Args, config: &GuardConfig, stop: Arc<AtomicBool>) -> Result<()> {
    let mut guard = Guard::new(config, seed())?;
    guard.set_host(args.host.clone());
    if let Some(path) = &args.fw_policy {
        let pins = firewall_pins(path)?;
        eprintln!("picket dns: {} pins from {}", pins.len(), path.display());
        guard.add_pins(&pins).context("firewall policy pins")?;
    }
    let bind_upstream = |any: &str| -> Result<Option<UdpSocket>> {
        let socket = UdpSocket::bind(any).with_context(|| format!("binding {any}"))?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(Some(socket))
    };
    let upstream_v4 = if config.upstream.iter().any(SocketAddr::is_ipv4) {
        bind_upstream("0.0.0.0:0")?
    } else {
        None
    };
    let upstream_v6 = if config.upstream.iter().any(SocketAddr::is_ipv6) {
        bind_upstream("[::]:0")?
    } else {
        None
    };
    let mut listeners = Vec::new();
    let mut tcp_listeners = Vec::new();
    for addr in &config.listen {
        let udp = UdpSocket::bind(addr).with_context(|| format!("binding UDP {addr}"))?;
        udp.set_read_timeout(Some(Duration::from_millis(200)))?;
        let local = udp.local_addr()?;
        let tcp = TcpListener::bind(local).with_context(|| format!("binding TCP {local}"))?;
        tcp.set_nonblocking(true)?;
        listeners.push((local, udp));
        tcp_listeners.push((local, tcp));
    }
    let shared = Arc::new(Shared {
        guard: Mutex::new(guard),
        eve: Mutex::new(Eve::open(args.eve.as_ref(), args.strict_eve)?),
        nft: Nft {
            table: config.nft.table.clone(),
            dry_run: args.nft_dry_run,
            failures: AtomicU64::new(0),
        },
        upstreams: config.upstream.clone(),
        current: AtomicUsize::new(0),
        upstream_v4,
        upstream_v6,
        listeners,
        stop: stop.clone(),
        tcp_connections: AtomicUsize::new(0),
        tcp_refused: AtomicU64::new(0),
    });
    for (local, _) in &shared.listeners {
        eprintln!(
            "picket dns: serving {local} (UDP and TCP), upstream {}",
            shared
                .upstreams
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    std::thread::scope(|scope| -> Result<()> {
        for i in 0..shared.listeners.len() {
            let shared = &shared;
            scope.spawn(move || udp_clients(shared, i));
        }
        for (local, listener) in tcp_listeners {
            let shared = shared.clone();
            scope.spawn(move || tcp_accept(shared, local, listener));
        }
        for socket in [&shared.upstream_v4, &shared.upstream_v6]
            .into_iter()
            .flatten()
        {
            let shared = &shared;
            scope.spawn(move || udp_upstream(shared, socket));
        }
        {
            let shared = &shared;
            scope.spawn(move || expire_loop(shared));
        }
        if let Some(interface) = &args.bypass_interface {
            let guards: Vec<IpAddr> = shared.listeners.iter().map(|(a, _)| a.ip()).collect();
            let capture =
                picket_capture::live::AfPacket::open(interface, 2048, false, stop.clone())
                    .with_context(|| format!("capturing on {interface}"))?;
            let shared = &shared;
            let host = args.host.clone();
            scope.spawn(move || bypass_loop(shared, capture, interface, guards, host));
        }
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if args
                .run_for
                .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
            {
                stop.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    })?;
    let c = lock(&shared.guard).counters();
    eprintln!(
        "picket dns: {} messages, {} queries: {} forwarded, {} answered, {} sinkholed, \
         {} canaries, {} malformed, {} dropped, {} timeouts, {} pending-full; upstream {} \
         unmatched, {} malformed; {} nft elements published ({} nft failures); \
         {} TCP connections refused; {} sources and {} names untracked",
        c.messages,
        c.queries,
        c.forwarded,
        c.answered,
        c.sinkholed,
        c.canaries,
        c.malformed,
        c.dropped,
        c.timeouts,
        c.pending_full,
        c.upstream_unmatched,
        c.upstream_malformed,
        c.published,
        shared.nft.failures.load(Ordering::Relaxed),
        shared.tcp_refused.load(Ordering::Relaxed),
        c.sources_untracked,
        c.names_untracked,
    );
    Ok(())
}

impl Shared {
    fn upstream(&self) -> SocketAddr {
        let i = self.current.load(Ordering::Relaxed) % self.upstreams.len().max(1);
        self.upstreams[i]
    }

    fn send_upstream_udp(&self, message: &[u8]) {
        let to = self.upstream();
        let socket = if to.is_ipv4() {
            &self.upstream_v4
        } else {
            &self.upstream_v6
        };
        if let Some(socket) = socket {
            let _ = socket.send_to(message, to);
        }
    }

    fn listener(&self, server: SocketAddr) -> Option<&UdpSocket> {
        self.listeners
            .iter()
            .find(|(a, _)| *a == server)
            .map(|(_, s)| s)
    }

    fn deliver_udp(&self, answer: &Answer) {
        self.nft.publish(answer);
        lock(&self.eve).write(&answer.events);
        if answer.transport == Transport::Udp {
            if let Some(socket) = self.listener(answer.server) {
                let _ = socket.send_to(&answer.reply, answer.client);
            }
        }
    }
}

fn udp_clients(shared: &Shared, index: usize) {
    let (server, socket) = &shared.listeners[index];
    let mut buf = vec![0u8; 65_535];
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let outcome = lock(&shared.guard).on_query(Query {
            now: Timestamp::now(),
            client,
            server: *server,
            transport: Transport::Udp,
            message: &buf[..n],
        });
        if !outcome.events.is_empty() {
            lock(&shared.eve).write(&outcome.events);
        }
        match outcome.action {
            Action::Reply(reply) => {
                let _ = socket.send_to(&reply, client);
            }
            Action::Forward { message, .. } => shared.send_upstream_udp(&message),
            Action::Drop => {}
        }
    }
}

fn udp_upstream(shared: &Shared, socket: &UdpSocket) {
    let mut buf = vec![0u8; 65_535];
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        // Answers from anywhere but a configured resolver are spoofing attempts.
        if !shared.upstreams.contains(&from) {
            continue;
        }
        let answer = lock(&shared.guard).on_upstream(Timestamp::now(), &buf[..n]);
        if let Some(answer) = answer {
            shared.deliver_udp(&answer);
        }
    }
}

fn expire_loop(shared: &Shared) {
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let expired = lock(&shared.guard).expire(Timestamp::now());
        if !expired.is_empty() && shared.upstreams.len() > 1 {
            // Fail over to the next resolver.
            shared.current.fetch_add(1, Ordering::Relaxed);
        }
        for answer in &expired {
            shared.deliver_udp(answer);
        }
    }
}

fn tcp_accept(shared: Arc<Shared>, local: SocketAddr, listener: TcpListener) {
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, client)) => {
                if shared.tcp_connections.load(Ordering::Relaxed) >= MAX_TCP_CONNECTIONS {
                    shared.tcp_refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                shared.tcp_connections.fetch_add(1, Ordering::Relaxed);
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = tcp_client(&shared, local, client, stream);
                    shared.tcp_connections.fetch_sub(1, Ordering::Relaxed);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut msg)?;
    Ok(msg)
}

fn write_frame(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| std::io::ErrorKind::InvalidData)?;
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    stream.write_all(&out)
}

fn tcp_client(
    shared: &Shared,
    server: SocketAddr,
    client: SocketAddr,
    mut stream: TcpStream,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TCP_IDLE))?;
    stream.set_write_timeout(Some(TCP_IDLE))?;
    while !shared.stop.load(Ordering::Relaxed) {
        let query = read_frame(&mut stream)?;
        let outcome = lock(&shared.guard).on_query(Query {
            now: Timestamp::now(),
            client,
            server,
            transport: Transport::Tcp,
            message: &query,
        });
        lock(&shared.eve).write(&outcome.events);
        match outcome.action {
            Action::Reply(reply) => write_frame(&mut stream, &reply)?,
            Action::Forward { message, .. } => {
                let timeout = Duration::from_millis(lock(&shared.guard).pending_timeout_ms())
                    .saturating_sub(Duration::from_millis(250))
                    .max(Duration::from_millis(100));
                let upstream = shared.upstream();
                let response = (|| -> std::io::Result<Vec<u8>> {
                    let mut up = TcpStream::connect_timeout(&upstream, timeout)?;
                    up.set_read_timeout(Some(timeout))?;
                    up.set_write_timeout(Some(timeout))?;
                    write_frame(&mut up, &message)?;
                    read_frame(&mut up)
                })();
                let answer = response
                    .ok()
                    .and_then(|r| lock(&shared.guard).on_upstream(Timestamp::now(), &r));
                match answer {
                    Some(answer) => {
                        shared.nft.publish(&answer);
                        lock(&shared.eve).write(&answer.events);
                        write_frame(&mut stream, &answer.reply)?;
                    }
                    None => {
                        // Upstream failed or answered nonsense; the pending entry expires
                        // on its own (and is logged then).
                        let end = wire::question_end(&query);
                        let reply = wire::reply(&query, end, wire::rcode::SERVFAIL, None);
                        write_frame(&mut stream, &reply)?;
                    }
                }
            }
            Action::Drop => return Ok(()),
        }
    }
    Ok(())
}

fn bypass_loop(
    shared: &Shared,
    mut capture: picket_capture::live::AfPacket,
    interface: &str,
    guards: Vec<IpAddr>,
    host: Option<String>,
) {
    let mut watch = picket_netwatch::leak::BypassWatch::new(guards, interface, 10);
    watch.set_host(host);
    loop {
        match capture.next_packet_typed() {
            Ok(Some((packet, kind))) => {
                // Only what clients send: the guard's own answers leave as OUTGOING.
                if kind == picket_capture::live::pkttype::OUTGOING {
                    continue;
                }
                if let Some(alert) = watch.observe(packet.ts, packet.link_type, packet.data) {
                    lock(&shared.eve).write(&[alert]);
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("picket dns: bypass capture on {interface}: {e}");
                break;
            }
        }
    }
}

/// `picket bench dns`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Queries to send through the guard.
    #[arg(long, default_value_t = 50_000)]
    pub queries: u64,
    /// Queries in flight at once.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Also write the EVE events (to a temporary file), as a deployment would.
    #[arg(long)]
    pub eve: bool,
}

/// Runs a stub upstream on loopback that answers every query with one A record, the guard
/// on loopback in this process, and a client that keeps `window` queries in flight.
pub fn bench(args: BenchArgs) -> Result<i32> {
    let stub = UdpSocket::bind("127.0.0.1:0")?;
    stub.set_read_timeout(Some(Duration::from_millis(200)))?;
    let stub_addr = stub.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let eve_path =
        std::env::temp_dir().join(format!("picket-bench-dns-{}.json", std::process::id()));
    let guard_port = {
        let probe = UdpSocket::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let guard_addr: SocketAddr = format!("127.0.0.1:{guard_port}").parse()?;
    let mut guard_config = GuardConfig {
        listen: vec![guard_addr],
        upstream: vec![stub_addr],
        ..GuardConfig::default()
    };
    // The benchmark asks for many distinct names from one source on purpose.
    guard_config.detect.max_queries_per_window = u32::MAX;
    guard_config.detect.max_unique_subdomains = u32::MAX - 1;
    let stub_stop = stop.clone();
    let stub_thread = std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        let mut answered = 0u64;
        while !stub_stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = stub.recv_from(&mut buf) else {
                continue;
            };
            let end = wire::question_end(&buf[..n]);
            let reply = wire::reply(
                &buf[..n],
                end,
                0,
                Some((wire::TYPE_A, 300, &[192, 0, 2, 1])),
            );
            let _ = stub.send_to(&reply, from);
            answered += 1;
        }
        answered
    });
    let run_args = Args {
        config: None,
        listen: vec![guard_addr],
        upstream: vec![stub_addr],
        eve: args.eve.then(|| eve_path.clone()),
        strict_eve: false,
        fw_policy: None,
        nft_dry_run: true,
        bypass_interface: None,
        host: None,
        run_for: None,
    };
    let guard_stop = stop.clone();
    let guard_thread = std::thread::spawn(move || serve(&run_args, &guard_config, guard_stop));
    std::thread::sleep(Duration::from_millis(200));

    let client = UdpSocket::bind("127.0.0.1:0")?;
    client.set_read_timeout(Some(Duration::from_millis(500)))?;
    client.connect(guard_addr)?;
    let cpu_start = super::bench::cpu_seconds().unwrap_or(0.0);
    let wall = Instant::now();
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut lost = 0u64;
    let mut buf = vec![0u8; 4096];
    while received + lost < args.queries {
        while sent < args.queries && (sent - received - lost) < args.window as u64 {
            let q = wire::query(sent as u16, &format!("host{sent}.bench.example"), 1);
            client.send(&q)?;
            sent += 1;
        }
        match client.recv(&mut buf) {
            Ok(_) => received += 1,
            // A lost datagram: count it and let the window move on.
            Err(_) => lost += sent - received - lost,
        }
    }
    let elapsed = wall.elapsed().as_secs_f64();
    let cpu = (super::bench::cpu_seconds().unwrap_or(0.0) - cpu_start).max(0.01);
    stop.store(true, Ordering::Relaxed);
    let _ = guard_thread.join();
    let _ = stub_thread.join();
    let _ = std::fs::remove_file(&eve_path);
    println!(
        "dns bench: {} queries through the guard over loopback UDP ({} in flight), stub upstream \
         in-process{}",
        args.queries,
        args.window,
        if args.eve { ", EVE written" } else { "" }
    );
    println!(
        "  {received} answered, {lost} lost; wall {elapsed:.2} s, CPU {cpu:.2} s (guard, stub \
         and client together)"
    );
    println!(
        "  {:.0} queries/s wall, {:.0} queries per CPU-second",
        received as f64 / elapsed,
        received as f64 / cpu
    );
    println!(
        "  peak RSS: {} KiB",
        super::bench::peak_rss_kib().unwrap_or(0)
    );
    Ok(0)
}
