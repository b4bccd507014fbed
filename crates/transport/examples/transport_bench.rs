//! Throughput figures for the transport: framing, spool writes, and spool → link → server
//! over a Unix socket pair. Run with
//! `cargo run --release -p picket-transport --example transport_bench`.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use picket_transport::client::{ClientConfig, Link};
use picket_transport::frame::{Batch, Decoder, Frame, DEFAULT_MAX_FRAME};
use picket_transport::server::{Incoming, Server, ServerConfig};
use picket_transport::source::{Source, Via};
use picket_transport::spool::{FsyncPolicy, Spool, SpoolConfig};

fn event(i: u64) -> Vec<u8> {
    format!(
        r#"{{"timestamp":"2026-11-27T19:00:00.000000+0000","event_type":"log","host":"work","log":{{"program":"sshd","message":"Failed password for invalid user admin from 203.0.113.{} port {} ssh2"}},"n":{i}}}"#,
        i % 250,
        1024 + i % 60000
    )
    .into_bytes()
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:.0}", n as f64 / secs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: Vec<Vec<u8>> = (0..512).map(event).collect();
    let rec_bytes: usize = records.iter().map(Vec::len).sum();
    println!("record size ~{} bytes", rec_bytes / records.len());

    // Framing: encode and decode batches of 512 records.
    let batch = Frame::Batch(Batch {
        first_seq: 1,
        records,
    });
    let rounds = 2000u64;
    let t = Instant::now();
    let mut wire = Vec::new();
    for _ in 0..rounds {
        wire.clear();
        batch.encode(DEFAULT_MAX_FRAME, &mut wire)?;
    }
    let enc = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut decoded = 0u64;
    let mut d = Decoder::default();
    for _ in 0..rounds {
        for chunk in wire.chunks(64 << 10) {
            d.push(chunk);
            while let Some(Frame::Batch(b)) = d.next_frame()? {
                decoded += b.records.len() as u64;
            }
        }
    }
    let dec = t.elapsed().as_secs_f64();
    let mb = (wire.len() as u64 * rounds) as f64 / 1e6;
    println!(
        "framing: encode {} records/s ({:.0} MB/s), decode {} records/s ({:.0} MB/s)",
        rate(rounds * 512, enc),
        mb / enc,
        rate(decoded, dec),
        mb / dec
    );

    // Spool appends.
    for (label, fsync, n) in [
        ("fsync never", FsyncPolicy::Never, 300_000u64),
        ("fsync every 1000", FsyncPolicy::EveryN(1000), 300_000),
        ("fsync always", FsyncPolicy::Always, 2_000),
    ] {
        let dir = tempfile::tempdir()?;
        let mut c = SpoolConfig::with_max_bytes(256 << 20);
        c.fsync = fsync;
        let mut s = Spool::open(dir.path(), c)?;
        let ev = event(7);
        let t = Instant::now();
        for _ in 0..n {
            s.append(&ev)?;
        }
        s.sync()?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "spool append ({label}): {} records/s ({:.0} MB/s)",
            rate(n, secs),
            (n as usize * ev.len()) as f64 / 1e6 / secs
        );
    }

    // End to end: spool → Link → Unix socket → Server → counting sink.
    let n = 300_000u64;
    let dir = tempfile::tempdir()?;
    let mut spool = Spool::open(dir.path(), SpoolConfig::with_max_bytes(512 << 20))?;
    for i in 0..n {
        spool.append(&event(i))?;
    }
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let server = Server::new(ServerConfig::default(), move |i: Incoming| {
        if let Incoming::Records { records, .. } = i {
            counter.fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    });
    let (a, b) = UnixStream::pair()?;
    let srv = server.clone();
    let handle = std::thread::spawn(move || {
        srv.serve_events(Source::new("work", Via::Local).expect("name"), b)
    });
    let t = Instant::now();
    let mut link = Link::handshake(a, &mut spool, ClientConfig::new("work"))?;
    link.drain(&mut spool)?;
    let secs = t.elapsed().as_secs_f64();
    drop(link);
    let _ = handle.join();
    println!(
        "end to end (spool read, batch, socket, decode, dedup, sink, ack, spool delete): {} records/s, {} delivered",
        rate(n, secs),
        count.load(Ordering::Relaxed)
    );

    // 100 agents at once, each with its own spool, into one server (counting sink).
    let agents = 100u64;
    let per_agent = 5_000u64;
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let server = Server::new(ServerConfig::default(), move |i: Incoming| {
        if let Incoming::Records { records, .. } = i {
            counter.fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    });
    let root = tempfile::tempdir()?;
    let mut spools = Vec::new();
    for a in 0..agents {
        let mut s = Spool::open(
            root.path().join(a.to_string()),
            SpoolConfig::with_max_bytes(16 << 20),
        )?;
        for i in 0..per_agent {
            s.append(&event(i))?;
        }
        spools.push(s);
    }
    let rss_before = vm_hwm_kib();
    let t = Instant::now();
    let mut threads = Vec::new();
    for (a, mut spool) in spools.into_iter().enumerate() {
        let (agent_end, manager_end) = UnixStream::pair()?;
        let srv = server.clone();
        let name = format!("agent-{a}");
        let source = Source::new(&name, Via::Local)?;
        threads.push(std::thread::spawn(move || {
            let _ = srv.serve_events(source, manager_end);
        }));
        threads.push(std::thread::spawn(move || {
            let mut link =
                Link::handshake(agent_end, &mut spool, ClientConfig::new(name)).expect("hello");
            link.drain(&mut spool).expect("drain");
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{agents} agents at once: {} records/s into one server, {} delivered; peak RSS {} MiB (before the flood {} MiB)",
        rate(agents * per_agent, secs),
        count.load(Ordering::Relaxed),
        vm_hwm_kib() / 1024,
        rss_before / 1024
    );
    Ok(())
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
