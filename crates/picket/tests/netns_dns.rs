//! `picket dns` proven with real packets: a client namespace asks through the guard running
//! in a "netvm" namespace, which forwards to a stub resolver in a third namespace. Checks the
//! answers (forwarded, sinkholed), a canary alert, the EVE dns events with the client's
//! address, the real nft set filled with the pinned domain's address, TCP, and the bypass
//! alert when the client asks the stub directly, around the guard.
//!
//! The stub resolver and the DNS client are this test binary itself, run inside a namespace
//! with `ip netns exec` and `PICKET_DNS_HELPER` set (see `dns_helper`). Namespaces and
//! processes are removed on drop, also when the test fails. Needs root; prints a skip line
//! otherwise.
#![allow(clippy::unwrap_used)]

use picket_netwatch::dns::wire;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn can_run(test: &str) -> bool {
    if std::env::var_os("PICKET_DNS_HELPER").is_some() {
        return false;
    }
    if !is_root() {
        println!("skip: {test} needs root (network namespaces and nftables)");
        return false;
    }
    let present = |t: &str| {
        Command::new(t)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !(present("nft") && Command::new("ip").arg("-V").output().is_ok()) {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: ip and nft must be installed in CI");
        }
        println!("skip: {test} needs iproute2 and nftables");
        return false;
    }
    true
}

/// Namespaces, processes and a scratch directory, removed on drop.
struct Lab {
    namespaces: Vec<String>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Lab {
    fn new(prefix: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("picket-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            namespaces: Vec::new(),
            children: Vec::new(),
            dir,
        }
    }

    fn netns(&mut self, name: &str) {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&["ip", "netns", "add", name]);
        self.namespaces.push(name.to_string());
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    sh(&all)
}

fn helper(ns: &str, job: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "dns_helper", "--nocapture", "--test-threads=1"])
        .env("PICKET_DNS_HELPER", job)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// One query from inside `ns`: (rcode, answer addresses).
fn query(ns: &str, server: &str, name: &str, qtype: u16, transport: &str) -> (u8, Vec<String>) {
    let out = helper(ns, &format!("query {server} {name} {qtype} {transport}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // libtest prints "test dns_helper ... " before the helper's own output.
    let line = text
        .lines()
        .find_map(|l| l.find("rcode=").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no answer for {name}: {text}"));
    let mut parts = line.split(' ');
    let rcode = parts.next().unwrap()[6..].parse().unwrap();
    let addrs = parts.next().unwrap_or("addrs=")[6..]
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (rcode, addrs)
}

fn wait_for(path: &std::path::Path, needle: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

fn eve_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn guard_forwards_sinkholes_alerts_and_fills_nft_sets() {
    if !can_run("guard_forwards_sinkholes_alerts_and_fills_nft_sets") {
        return;
    }
    let prefix = format!("pkd{}", std::process::id() % 100_000);
    let (client, netvm, upstream) = (
        format!("{prefix}c"),
        format!("{prefix}n"),
        format!("{prefix}u"),
    );
    let mut lab = Lab::new(&prefix);
    for ns in [&client, &netvm, &upstream] {
        lab.netns(ns);
    }
    // client c0 10.200.1.2 <-> n0 10.200.1.1 netvm n1 10.200.2.1 <-> u0 10.200.2.2 upstream
    let (c0, n0, n1, u0) = (
        format!("{prefix}c0"),
        format!("{prefix}n0"),
        format!("{prefix}n1"),
        format!("{prefix}u0"),
    );
    for (a, ans, b, bns) in [(&c0, &client, &n0, &netvm), (&n1, &netvm, &u0, &upstream)] {
        sh(&[
            "ip", "link", "add", a, "netns", ans, "type", "veth", "peer", "name", b, "netns", bns,
        ]);
    }
    for (ns, dev, addr) in [
        (&client, &c0, "10.200.1.2/24"),
        (&netvm, &n0, "10.200.1.1/24"),
        (&netvm, &n1, "10.200.2.1/24"),
        (&upstream, &u0, "10.200.2.2/24"),
    ] {
        sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
        sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    sh(&[
        "ip",
        "-n",
        &client,
        "route",
        "add",
        "default",
        "via",
        "10.200.1.1",
    ]);
    sh(&[
        "ip",
        "-n",
        &upstream,
        "route",
        "add",
        "default",
        "via",
        "10.200.2.1",
    ]);
    in_ns(&netvm, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // The firewall engineer's table and sets, as `picket fw apply` would create them.
    in_ns(&netvm, &["nft", "add", "table", "inet", "picket"]);
    for (set, ty) in [("matrix4", "ipv4_addr"), ("matrix6", "ipv6_addr")] {
        let spec = format!("{{ type {ty}; flags timeout; }}");
        in_ns(&netvm, &["nft", "add", "set", "inet", "picket", set, &spec]);
    }

    let stub = helper(&upstream, "stub 10.200.2.2:53")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    lab.children.push(stub);

    let config = lab.dir.join("guard.toml");
    std::fs::write(
        &config,
        r#"
canaries = ["vault.corp.example"]

[default]
block = ["doubleclick.net"]

[[source]]
address = "10.200.1.2"
name = "matrix"
mode = "allowlist"
allow = ["matrix.org", "corp.example"]

[[pin]]
domain = "matrix.org"
source = "10.200.1.2"
set4 = "matrix4"
set6 = "matrix6"
"#,
    )
    .unwrap();
    let eve = lab.dir.join("eve.json");
    let log = lab.dir.join("guard.log");
    let guard = Command::new("ip")
        .args([
            "netns",
            "exec",
            &netvm,
            PICKET,
            "dns",
            "--listen",
            "10.200.1.1:53",
        ])
        .args(["--upstream", "10.200.2.2:53", "--bypass-interface", &n0])
        .arg("--config")
        .arg(&config)
        .arg("--eve")
        .arg(&eve)
        .args(["--run-for", "30"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    lab.children.push(guard);
    assert!(
        wait_for(&log, "serving", Duration::from_secs(5)),
        "guard did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // The stub is up when it answers directly from the netvm.
    let start = Instant::now();
    while query(&netvm, "10.200.2.2:53", "probe.example", 1, "udp").0 != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "stub never answered"
        );
    }

    // Allowed and pinned: the stub's address, and it lands in the nft set.
    let (rcode, addrs) = query(&client, "10.200.1.1:53", "Chat.Matrix.org", 1, "udp");
    assert_eq!((rcode, addrs), (0, vec!["192.0.2.77".to_string()]));
    let (rcode, addrs) = query(&client, "10.200.1.1:53", "matrix.org", 28, "tcp");
    assert_eq!((rcode, addrs), (0, vec!["2001:db8::77".to_string()]));
    let set4 = in_ns(&netvm, &["nft", "list", "set", "inet", "picket", "matrix4"]);
    assert!(set4.contains("192.0.2.77"), "{set4}");
    assert!(set4.contains("timeout"), "{set4}");
    let set6 = in_ns(&netvm, &["nft", "list", "set", "inet", "picket", "matrix6"]);
    assert!(set6.contains("2001:db8::77"), "{set6}");

    // Outside the allowlist (including a look-alike): sinkholed to 0.0.0.0.
    for name in ["evilmatrix.org", "example.com"] {
        let (rcode, addrs) = query(&client, "10.200.1.1:53", name, 1, "udp");
        assert_eq!((rcode, addrs), (0, vec!["0.0.0.0".to_string()]), "{name}");
    }
    // The canary: answered like any allowed name, and a critical alert.
    let (rcode, _) = query(&client, "10.200.1.1:53", "vault.corp.example", 1, "udp");
    assert_eq!(rcode, 0);
    assert!(wait_for(&eve, "8200001", Duration::from_secs(2)));
    // Around the guard, straight to the resolver: the bypass watcher fires.
    let _ = query(&client, "10.200.2.2:53", "direct.example", 1, "udp");
    assert!(
        wait_for(&eve, "8200020", Duration::from_secs(2)),
        "no bypass alert"
    );

    let events = eve_lines(&eve);
    let dns_from_client: Vec<_> = events
        .iter()
        .filter(|e| e["event_type"] == "dns" && e["src_ip"] == "10.200.1.2")
        .collect();
    let requests = dns_from_client
        .iter()
        .filter(|e| e["dns"]["type"] == "request")
        .count();
    let responses = dns_from_client
        .iter()
        .filter(|e| e["dns"]["type"] == "response")
        .count();
    assert_eq!((requests, responses), (5, 5), "{dns_from_client:#?}");
    assert!(dns_from_client.iter().any(|e| e["proto"] == "TCP"));
    assert!(dns_from_client.iter().any(|e| {
        e["dns"]["type"] == "response"
            && e["dns"]["answers"][0]["rdata"] == "192.0.2.77"
            && e["picket"]["netwatch"]["published"][0]["set"] == "matrix4"
    }));
    let canary = events
        .iter()
        .find(|e| e["alert"]["signature_id"] == 8_200_001)
        .unwrap();
    assert_eq!(canary["alert"]["severity"], 1);
    assert_eq!(canary["src_ip"], "10.200.1.2");
    assert_eq!(canary["picket"]["netwatch"]["canary"], "vault.corp.example");
    let bypass = events
        .iter()
        .find(|e| e["alert"]["signature_id"] == 8_200_020)
        .unwrap();
    assert_eq!(bypass["dest_ip"], "10.200.2.2");
    assert_eq!(bypass["picket"]["netwatch"]["dns_query"], "direct.example");
    assert!(events
        .iter()
        .any(|e| e["alert"]["signature_id"] == 8_200_003));
}

/// Not a test: the stub resolver and DNS client the test above runs inside namespaces.
/// Without `PICKET_DNS_HELPER` it does nothing.
#[test]
fn dns_helper() {
    let Ok(job) = std::env::var("PICKET_DNS_HELPER") else {
        return;
    };
    let words: Vec<&str> = job.split(' ').collect();
    match words[0] {
        "stub" => stub(words[1].parse().unwrap()),
        "query" => {
            let server: SocketAddr = words[1].parse().unwrap();
            let qtype: u16 = words[3].parse().unwrap();
            let q = wire::query(0x4242, words[2], qtype);
            let reply = if words[4] == "tcp" {
                let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(2)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut framed = (q.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&q);
                s.write_all(&framed).unwrap();
                let mut len = [0u8; 2];
                s.read_exact(&mut len).unwrap();
                let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
                s.read_exact(&mut r).unwrap();
                r
            } else {
                let s = UdpSocket::bind("0.0.0.0:0").unwrap();
                s.set_read_timeout(Some(Duration::from_millis(700)))
                    .unwrap();
                s.send_to(&q, server).unwrap();
                let mut buf = vec![0u8; 4096];
                match s.recv(&mut buf) {
                    Ok(n) => buf[..n].to_vec(),
                    // No answer (the bypass case may be dropped): report SERVFAIL-like 255.
                    Err(_) => {
                        println!("rcode=255 addrs=");
                        return;
                    }
                }
            };
            assert_eq!(wire::id(&reply), Some(0x4242));
            println!(
                "rcode={} addrs={}",
                reply[3] & 0x0f,
                answer_addrs(&reply).join(",")
            );
        }
        other => panic!("unknown helper job {other}"),
    }
}

/// A resolver that answers every A query with 192.0.2.77 and every AAAA with 2001:db8::77
/// (TTL 30), over UDP and TCP, until killed.
fn stub(addr: SocketAddr) {
    fn answer(q: &[u8]) -> Vec<u8> {
        let end = wire::question_end(q);
        let qtype = end.map(|e| u16::from_be_bytes([q[e - 4], q[e - 3]]));
        match qtype {
            Some(1) => wire::reply(q, end, 0, Some((1, 30, &[192, 0, 2, 77]))),
            Some(28) => {
                let a: std::net::Ipv6Addr = "2001:db8::77".parse().unwrap();
                wire::reply(q, end, 0, Some((28, 30, &a.octets())))
            }
            _ => wire::reply(q, end, 0, None),
        }
    }
    let tcp = TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        for mut s in tcp.incoming().flatten() {
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if s.read_exact(&mut q).is_err() {
                continue;
            }
            let r = answer(&q);
            let mut framed = (r.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&r);
            let _ = s.write_all(&framed);
        }
    });
    let udp = UdpSocket::bind(addr).unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let _ = udp.send_to(&answer(&buf[..n]), from);
    }
}

/// The A and AAAA addresses in a reply's answer section.
fn answer_addrs(msg: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(mut pos) = wire::question_end(msg) else {
        return out;
    };
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    for _ in 0..ancount {
        // Skip the owner name.
        loop {
            let len = msg[pos];
            if len & 0xc0 == 0xc0 {
                pos += 2;
                break;
            }
            pos += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
        let rrtype = u16::from_be_bytes([msg[pos], msg[pos + 1]]);
        let rdlen = usize::from(u16::from_be_bytes([msg[pos + 8], msg[pos + 9]]));
        let rdata = &msg[pos + 10..pos + 10 + rdlen];
        match rrtype {
            1 => out
                .push(std::net::Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string()),
            28 => {
                let a: [u8; 16] = rdata.try_into().unwrap();
                out.push(std::net::Ipv6Addr::from(a).to_string());
            }
            _ => {}
        }
        pos += 10 + rdlen;
    }
    out
}
