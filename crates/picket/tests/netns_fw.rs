//! `picket fw` and `picket respond` proven with real packets between network namespaces.
//!
//! Each test builds its own topology (client, router, servers joined by veth pairs, names
//! unique per process and test), runs `picket fw apply` in the router, and sends real TCP and
//! UDP with small clients and servers: this test binary itself, run inside a namespace with
//! `ip netns exec` and `PICKET_NETNS_HELPER` set (see `netns_helper`). Namespaces and helper
//! processes are removed on drop, also when a test fails. Needs root; prints a skip line
//! otherwise.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PICKET: &str = env!("CARGO_BIN_EXE_picket");
const PROBE_MS: u64 = 400;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn tools_present() -> bool {
    ["ip", "nft"].iter().all(|t| {
        Command::new(t)
            .arg("-V")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
            || Command::new(t)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
    })
}

/// `None` (after printing why) when this machine cannot run the namespace tests.
fn can_run(test: &str) -> bool {
    if std::env::var_os("PICKET_NETNS_HELPER").is_some() {
        return false;
    }
    if !is_root() {
        println!("skip: {test} needs root (network namespaces and nftables)");
        return false;
    }
    if !tools_present() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: ip and nft must be installed in CI");
        }
        println!("skip: {test} needs iproute2 and nftables");
        return false;
    }
    true
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Namespaces, helper processes and a scratch directory, all removed on drop.
struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("pk{}{}{}", std::process::id(), tag, n);
        let dir = std::env::temp_dir().join(format!("picket-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            prefix,
            namespaces: Vec::new(),
            children: Vec::new(),
            dir,
        }
    }

    fn ns(&mut self, name: &str) -> String {
        let full = format!("{}-{name}", self.prefix);
        run(&["ip", "netns", "add", &full]);
        self.namespaces.push(full.clone());
        self.exec(&full, &["ip", "link", "set", "lo", "up"]);
        full
    }

    /// A veth pair from `a`'s `a_if` to `b`'s `b_if`, both up.
    fn link(&self, a: &str, a_if: &str, b: &str, b_if: &str) {
        run(&[
            "ip", "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b,
        ]);
        self.exec(a, &["ip", "link", "set", a_if, "up"]);
        self.exec(b, &["ip", "link", "set", b_if, "up"]);
    }

    fn addr(&self, ns: &str, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.exec(ns, &["ip", "addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            self.exec(ns, &["ip", "addr", "add", cidr, "dev", dev]);
        }
    }

    fn exec(&self, ns: &str, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full)
    }

    fn try_exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap()
    }

    fn forwarding(&self, ns: &str) {
        self.exec(
            ns,
            &[
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            ],
        );
    }

    /// Start servers in `ns`: `tcp/ADDR:PORT` answer `banner` and close; `udp/ADDR:PORT`
    /// echo. Returns once every socket is bound.
    fn serve(&mut self, ns: &str, banner: &str, targets: &[&str]) {
        let mut child = helper(ns, &format!("serve {banner} {}", targets.join(" ")))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        self.children.push(child);
        // Wait for the helper's `ready` with a deadline, so a broken helper fails the test
        // instead of hanging it; the reader thread keeps draining the pipe afterwards.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let l = helper_line(&line);
                if l.starts_with("HELPER ready") || l.starts_with("HELPER error") {
                    let _ = tx.send(l);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) if l.starts_with("HELPER ready") => {}
            Ok(l) => panic!("server helper in {ns}: {l}"),
            Err(_) => panic!("server helper in {ns} never became ready"),
        }
    }

    /// Try each target from `ns`; returns per target the banner received, or `None`.
    fn probe(&self, ns: &str, targets: &[&str]) -> Vec<Option<String>> {
        let out = helper(ns, &format!("probe {}", targets.join(" ")))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        targets
            .iter()
            .map(|t| {
                let line = text
                    .lines()
                    .map(helper_line)
                    .find(|l| l.starts_with(&format!("HELPER result {t} ")))
                    .unwrap_or_else(|| panic!("no result for {t}: {text}"));
                let verdict = line.rsplit(' ').next().unwrap();
                (verdict != "fail").then(|| verdict.to_string())
            })
            .collect()
    }

    fn picket(&self, ns: &str, args: &[&str]) -> String {
        let mut full = vec![PICKET];
        full.extend_from_slice(args);
        self.exec(ns, &full)
    }

    fn state_dir(&self) -> String {
        self.dir.join("state").display().to_string()
    }

    fn write_policy(&self, text: &str) -> String {
        let p = self.dir.join("policy.toml");
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The helper's own words on a line of its output: libtest prints `test netns_helper ... `
/// in front of the first one.
fn helper_line(line: &str) -> String {
    line.find("HELPER ")
        .map_or_else(String::new, |i| line[i..].to_string())
}

fn helper(ns: &str, job: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "netns_helper", "--nocapture", "--test-threads=1"])
        .env("PICKET_NETNS_HELPER", job)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Not a test: the small TCP/UDP client and server the other tests run inside namespaces.
/// Without `PICKET_NETNS_HELPER` it does nothing.
#[test]
fn netns_helper() {
    let Ok(job) = std::env::var("PICKET_NETNS_HELPER") else {
        return;
    };
    let mut words = job.split(' ');
    match words.next() {
        Some("serve") => {
            let banner = words.next().unwrap().to_string();
            let mut handles = Vec::new();
            for t in words {
                let (proto, addr) = t.split_once('/').unwrap();
                let addr: SocketAddr = addr.parse().unwrap();
                let banner = banner.clone();
                if proto == "tcp" {
                    let l = match TcpListener::bind(addr) {
                        Ok(l) => l,
                        Err(e) => {
                            println!("HELPER error bind {t}: {e}");
                            std::process::exit(1)
                        }
                    };
                    handles.push(std::thread::spawn(move || {
                        for s in l.incoming().flatten() {
                            let mut s = s;
                            let _ = s.write_all(banner.as_bytes());
                        }
                    }));
                } else {
                    let u = UdpSocket::bind(addr).unwrap();
                    handles.push(std::thread::spawn(move || {
                        let mut buf = [0u8; 512];
                        while let Ok((_, from)) = u.recv_from(&mut buf) {
                            let _ = u.send_to(banner.as_bytes(), from);
                        }
                    }));
                }
            }
            println!("HELPER ready");
            std::io::stdout().flush().unwrap();
            for h in handles {
                let _ = h.join();
            }
        }
        Some("probe") => {
            let targets: Vec<String> = words.map(str::to_string).collect();
            let handles: Vec<_> = targets
                .into_iter()
                .map(|t| {
                    std::thread::spawn(move || {
                        let (proto, addr) = t.split_once('/').unwrap();
                        let addr: SocketAddr = addr.parse().unwrap();
                        let timeout = Duration::from_millis(PROBE_MS);
                        let got = if proto == "tcp" {
                            TcpStream::connect_timeout(&addr, timeout)
                                .ok()
                                .and_then(|mut s| {
                                    s.set_read_timeout(Some(timeout)).ok()?;
                                    let mut b = String::new();
                                    s.read_to_string(&mut b).ok()?;
                                    Some(b)
                                })
                        } else {
                            let bind = if addr.is_ipv4() {
                                "0.0.0.0:0"
                            } else {
                                "[::]:0"
                            };
                            UdpSocket::bind(bind).ok().and_then(|u| {
                                u.set_read_timeout(Some(timeout)).ok()?;
                                u.send_to(b"probe", addr).ok()?;
                                let mut buf = [0u8; 512];
                                let (n, _) = u.recv_from(&mut buf).ok()?;
                                Some(String::from_utf8_lossy(&buf[..n]).into_owned())
                            })
                        };
                        let verdict = match got {
                            Some(b) if !b.is_empty() => b,
                            _ => "fail".to_string(),
                        };
                        format!("HELPER result {t} {verdict}")
                    })
                })
                .collect();
            for h in handles {
                println!("{}", h.join().unwrap());
            }
        }
        other => panic!("unknown helper job {other:?}"),
    }
    std::io::stdout().flush().unwrap();
    std::process::exit(0);
}

/// client (10.99.1.2) -- router -- server (10.99.2.2/.3/.4, guard .53, manager .50)
fn policy_lab(tag: &str) -> (Lab, String, String, String, String) {
    let mut lab = Lab::new(tag);
    let c = lab.ns("c");
    let r = lab.ns("r");
    let s = lab.ns("s");
    lab.link(&c, "eth0", &r, "cl0");
    lab.link(&r, "sv0", &s, "eth0");
    lab.addr(&c, "eth0", "10.99.1.2/24");
    lab.addr(&r, "cl0", "10.99.1.1/24");
    lab.addr(&r, "sv0", "10.99.2.1/24");
    for a in [
        "10.99.2.2/24",
        "10.99.2.3/24",
        "10.99.2.4/24",
        "10.99.2.50/24",
        "10.99.2.53/24",
    ] {
        lab.addr(&s, "eth0", a);
    }
    lab.exec(&c, &["ip", "route", "add", "default", "via", "10.99.1.1"]);
    lab.exec(&s, &["ip", "route", "add", "default", "via", "10.99.2.1"]);
    lab.forwarding(&r);
    lab.serve(
        &s,
        "srv",
        &[
            "tcp/10.99.2.2:80",
            "udp/10.99.2.2:5353",
            "udp/10.99.2.2:53",
            "udp/10.99.2.53:53",
            "tcp/10.99.2.3:443",
            "tcp/10.99.2.4:443",
            "tcp/10.99.2.50:22",
        ],
    );
    lab.serve(&c, "cli", &["tcp/10.99.1.2:22"]);
    let policy = lab.write_policy(
        r#"
[dns]
guard = ["10.99.2.53"]

[[source]]
name = "client"
addr = "10.99.1.2"
allow = [
  { net = "10.99.2.2" },
  { domain = "pinned.example", proto = "tcp", ports = [443] },
]

[response]
manager_qube = "picket-manager"
manager = ["10.99.2.50"]
gateway = ["10.99.1.1"]
"#,
    );
    let state = lab.state_dir();
    let out = lab.picket(&r, &["fw", "apply", &policy, "--state-dir", &state]);
    assert!(out.contains("applied"), "{out}");
    (lab, c, r, s, state)
}

fn ok(v: &Option<String>) -> bool {
    v.is_some()
}

#[test]
fn netns_fw_allowed_flows_pass_and_everything_else_is_dropped() {
    if !can_run("netns_fw_allowed_flows_pass_and_everything_else_is_dropped") {
        return;
    }
    let t0 = Instant::now();
    let (lab, c, r, s, _state) = policy_lab("a");
    let got = lab.probe(
        &c,
        &[
            "tcp/10.99.2.2:80",
            "udp/10.99.2.2:5353",
            "udp/10.99.2.53:53",
            "udp/10.99.2.2:53",
            "tcp/10.99.2.4:443",
            "tcp/10.99.2.3:443",
        ],
    );
    assert_eq!(got[0].as_deref(), Some("srv"), "allowed TCP passes");
    assert!(ok(&got[1]), "allowed UDP passes");
    assert!(ok(&got[2]), "DNS to the guard passes");
    assert!(
        !ok(&got[3]),
        "DNS anywhere else is dropped, even to an allowed host"
    );
    assert!(!ok(&got[4]), "an unlisted destination is dropped");
    assert!(
        !ok(&got[5]),
        "a pinned name is dropped before the guard resolved it"
    );
    // The other direction: nothing may open a connection to the client.
    let back = lab.probe(&s, &["tcp/10.99.1.2:22"]);
    assert!(
        !ok(&back[0]),
        "new connections towards the source are dropped"
    );

    // The DNS guard pins 10.99.2.3 for pinned.example, exactly as it will in production.
    let pins = lab.picket(
        &r,
        &[
            "fw",
            "pins",
            &lab.dir.join("policy.toml").display().to_string(),
        ],
    );
    let set4 = pins
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .nth(2)
        .unwrap()
        .to_string();
    assert_eq!(set4, "pin4_client_pinned_example");
    lab.exec(
        &r,
        &[
            "nft",
            "add",
            "element",
            "inet",
            "picket",
            &set4,
            "{ 10.99.2.3 timeout 30s }",
        ],
    );
    let got = lab.probe(&c, &["tcp/10.99.2.3:443", "tcp/10.99.2.4:443"]);
    assert!(
        ok(&got[0]),
        "the pinned address passes once the guard resolved it"
    );
    assert!(
        !ok(&got[1]),
        "an address the guard did not pin stays dropped"
    );

    // diff: nothing to change after apply.
    let d = lab.picket(
        &r,
        &[
            "fw",
            "diff",
            &lab.dir.join("policy.toml").display().to_string(),
            "--state-dir",
            &lab.state_dir(),
        ],
    );
    assert!(d.starts_with("no difference"), "{d}");

    // A narrower policy: diff shows the change before apply, apply takes it, rollback undoes it.
    let state = lab.state_dir();
    let narrow = lab.dir.join("narrow.toml");
    std::fs::write(
        &narrow,
        "[[source]]\nname = \"client\"\naddr = \"10.99.1.2\"\nallow = [{ net = \"10.99.2.4\", proto = \"tcp\", ports = [443] }]\n",
    )
    .unwrap();
    let narrow = narrow.display().to_string();
    let d = lab.try_exec(&r, &[PICKET, "fw", "diff", &narrow, "--state-dir", &state]);
    let text = String::from_utf8_lossy(&d.stdout);
    assert_eq!(d.status.code(), Some(1), "{text}");
    assert!(
        text.contains("+\t\tip daddr 10.99.2.4 tcp dport 443 accept"),
        "{text}"
    );
    lab.picket(&r, &["fw", "apply", &narrow, "--state-dir", &state]);
    let got = lab.probe(&c, &["tcp/10.99.2.2:80", "tcp/10.99.2.4:443"]);
    assert!(
        !ok(&got[0]) && ok(&got[1]),
        "the new policy is live: {got:?}"
    );
    lab.picket(&r, &["fw", "rollback", "--state-dir", &state]);
    let got = lab.probe(&c, &["tcp/10.99.2.2:80", "tcp/10.99.2.4:443"]);
    assert!(
        ok(&got[0]) && !ok(&got[1]),
        "rollback restored the old policy: {got:?}"
    );
    let policy = lab.dir.join("policy.toml").display().to_string();
    let d = lab.picket(&r, &["fw", "diff", &policy, "--state-dir", &state]);
    assert!(d.starts_with("no difference"), "{d}");
    println!("allowed/dropped flows proven in {:?}", t0.elapsed());
}

#[test]
fn netns_fw_ban_expires_on_time_and_survives_a_flush() {
    if !can_run("netns_fw_ban_expires_on_time_and_survives_a_flush") {
        return;
    }
    let (lab, c, r, _s, state) = policy_lab("b");
    let target = ["tcp/10.99.2.2:80"];
    assert!(ok(&lab.probe(&c, &target)[0]));

    let banned_at = Instant::now();
    lab.picket(
        &r,
        &[
            "fw",
            "ban",
            "10.99.2.2",
            "--timeout",
            "3s",
            "--state-dir",
            &state,
        ],
    );
    assert!(!ok(&lab.probe(&c, &target)[0]), "a ban stops traffic");
    let set = lab.exec(&r, &["nft", "list", "set", "inet", "picket", "ban4"]);
    assert!(set.contains("10.99.2.2"), "{set}");
    // Still banned before expiry (checked only when this thread got there in time: a
    // loaded machine may take that long to run the commands above)...
    let wait = Duration::from_millis(2000).saturating_sub(banned_at.elapsed());
    std::thread::sleep(wait);
    let before = banned_at.elapsed();
    let set = lab.exec(&r, &["nft", "list", "set", "inet", "picket", "ban4"]);
    if banned_at.elapsed() < Duration::from_millis(2700) {
        assert!(
            set.contains("10.99.2.2"),
            "ban gone too early ({before:?}): {set}"
        );
    } else {
        eprintln!("netns_fw: early check skipped, the machine took {before:?} to get there");
    }
    // ...and gone from the kernel just after, with no help from picket.
    std::thread::sleep(Duration::from_millis(3300).saturating_sub(banned_at.elapsed()));
    let set = lab.exec(&r, &["nft", "list", "set", "inet", "picket", "ban4"]);
    assert!(
        !set.contains("10.99.2.2"),
        "ban outlived its timeout: {set}"
    );
    assert!(
        ok(&lab.probe(&c, &target)[0]),
        "traffic passes after the ban expired"
    );

    // A long ban survives `nft flush ruleset`: picket fw apply puts it back...
    lab.picket(
        &r,
        &[
            "fw",
            "ban",
            "10.99.2.2",
            "--timeout",
            "1h",
            "--state-dir",
            &state,
        ],
    );
    assert!(!ok(&lab.probe(&c, &target)[0]));
    lab.exec(&r, &["nft", "flush", "ruleset"]);
    assert!(
        ok(&lab.probe(&c, &target)[0]),
        "after the flush nothing filters"
    );
    let policy = lab.dir.join("policy.toml").display().to_string();
    let out = lab.picket(&r, &["fw", "apply", &policy, "--state-dir", &state]);
    assert!(out.contains("1 bans"), "{out}");
    assert!(
        !ok(&lab.probe(&c, &target)[0]),
        "re-applying restored the ban"
    );
    // ...and so does the watch, which notices the flush by itself.
    lab.exec(&r, &["nft", "flush", "ruleset"]);
    lab.picket(&r, &["fw", "watch", "--once", "--state-dir", &state]);
    assert!(
        !ok(&lab.probe(&c, &target)[0]),
        "the watch restored the ban"
    );
    // A flush of only the ban set is noticed too.
    lab.exec(&r, &["nft", "flush", "set", "inet", "picket", "ban4"]);
    lab.picket(&r, &["fw", "watch", "--once", "--state-dir", &state]);
    assert!(
        !ok(&lab.probe(&c, &target)[0]),
        "the watch restored the flushed set"
    );
    let bans = lab.picket(&r, &["fw", "bans", "--state-dir", &state]);
    assert!(
        bans.contains("10.99.2.2") && bans.contains("in kernel"),
        "{bans}"
    );
    lab.picket(&r, &["fw", "unban", "10.99.2.2", "--state-dir", &state]);
    assert!(ok(&lab.probe(&c, &target)[0]), "unban lifts it");

    // Quarantine: the source reaches the manager and nothing else, until released.
    lab.picket(&r, &["fw", "quarantine", "client", "--state-dir", &state]);
    let got = lab.probe(&c, &["tcp/10.99.2.2:80", "tcp/10.99.2.50:22"]);
    assert!(!ok(&got[0]), "a quarantined source is cut off");
    assert!(ok(&got[1]), "but still reaches the manager");
    lab.picket(&r, &["fw", "release", "client", "--state-dir", &state]);
    assert!(
        ok(&lab.probe(&c, &target)[0]),
        "release lifts the quarantine"
    );
    // The manager can never be banned.
    let refused = lab.try_exec(
        &r,
        &[PICKET, "fw", "ban", "10.99.2.50", "--state-dir", &state],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("allowlisted"));
}

#[test]
fn netns_fw_killswitch_leaks_nothing_when_the_tunnel_is_down() {
    if !can_run("netns_fw_killswitch_leaks_nothing_when_the_tunnel_is_down") {
        return;
    }
    let mut lab = Lab::new("k");
    let c = lab.ns("c");
    let r = lab.ns("r");
    let v = lab.ns("vpn");
    let i = lab.ns("isp");
    lab.link(&c, "eth0", &r, "cl0");
    lab.link(&r, "tun0", &v, "vpn0");
    lab.link(&r, "up0", &i, "isp0");
    lab.addr(&c, "eth0", "10.98.1.2/24");
    lab.addr(&c, "eth0", "fd98:1::2/64");
    lab.addr(&r, "cl0", "10.98.1.1/24");
    lab.addr(&r, "cl0", "fd98:1::1/64");
    lab.addr(&r, "tun0", "10.98.8.1/24");
    lab.addr(&r, "up0", "10.98.9.1/24");
    lab.addr(&r, "up0", "fd98:9::1/64");
    lab.addr(&v, "vpn0", "10.98.8.2/24");
    lab.addr(&i, "isp0", "10.98.9.2/24");
    lab.addr(&i, "isp0", "fd98:9::2/64");
    // The same "internet" address behind the tunnel and behind the uplink: a leak would work.
    lab.addr(&v, "lo", "198.18.0.10/32");
    lab.addr(&i, "lo", "198.18.0.10/32");
    lab.exec(&c, &["ip", "route", "add", "default", "via", "10.98.1.1"]);
    lab.exec(
        &c,
        &["ip", "-6", "route", "add", "default", "via", "fd98:1::1"],
    );
    lab.exec(
        &r,
        &[
            "ip",
            "route",
            "add",
            "default",
            "via",
            "10.98.8.2",
            "dev",
            "tun0",
            "metric",
            "10",
        ],
    );
    lab.exec(
        &r,
        &[
            "ip",
            "route",
            "add",
            "default",
            "via",
            "10.98.9.2",
            "dev",
            "up0",
            "metric",
            "100",
        ],
    );
    lab.exec(
        &r,
        &[
            "ip",
            "-6",
            "route",
            "add",
            "default",
            "via",
            "fd98:9::2",
            "dev",
            "up0",
        ],
    );
    lab.exec(
        &v,
        &["ip", "route", "add", "10.98.1.0/24", "via", "10.98.8.1"],
    );
    lab.exec(
        &i,
        &["ip", "route", "add", "10.98.1.0/24", "via", "10.98.9.1"],
    );
    lab.exec(
        &i,
        &[
            "ip",
            "-6",
            "route",
            "add",
            "fd98:1::/64",
            "via",
            "fd98:9::1",
        ],
    );
    lab.forwarding(&r);
    lab.serve(
        &v,
        "via-tunnel",
        &["tcp/198.18.0.10:80", "udp/10.98.8.2:53"],
    );
    lab.serve(
        &i,
        "via-uplink",
        &[
            "tcp/198.18.0.10:80",
            "udp/198.18.0.10:53",
            "udp/10.98.9.2:1194",
            "tcp/[fd98:9::2]:80",
        ],
    );
    let policy = lab.write_policy(
        r#"
[[source]]
name = "client"
addr = "10.98.1.2"
allow = [{ proto = "tcp", ports = [80] }]

[[source]]
name = "client6"
addr = "fd98:1::2"
allow = [{ proto = "tcp", ports = [80] }]

[killswitch]
uplink = "up0"
tunnel = "tun0"
endpoints = ["10.98.9.2:1194/udp"]
resolver = "10.98.8.2"
"#,
    );
    let state = lab.state_dir();
    lab.picket(&r, &["fw", "apply", &policy, "--state-dir", &state]);
    // The capture on the uplink's far end: tunnel packets to the endpoint, and everything else.
    lab.exec(
        &i,
        &[
            "nft",
            "add table netdev cap; add counter netdev cap tunnel; add counter netdev cap leak; add chain netdev cap in { type filter hook ingress device isp0 priority 0; }; \
             add rule netdev cap in meta protocol ip ip daddr 10.98.9.2 udp dport 1194 counter name tunnel accept; \
             add rule netdev cap in meta protocol { ip, ip6 } counter name leak",
        ],
    );

    // Tunnel up: the client's web and DNS go through the tunnel, DNS to the tunnel's resolver
    // whatever server the client asked.
    let got = lab.probe(&c, &["tcp/198.18.0.10:80", "udp/9.9.9.9:53"]);
    assert_eq!(got[0].as_deref(), Some("via-tunnel"));
    assert_eq!(
        got[1].as_deref(),
        Some("via-tunnel"),
        "DNS is forced to the tunnel resolver"
    );
    // The VPN process itself reaches its endpoint on the uplink.
    let got = lab.probe(&r, &["udp/10.98.9.2:1194"]);
    assert!(ok(&got[0]), "the VPN's own traffic to the endpoint passes");

    // The tunnel goes away; the routing table now points at the uplink.
    lab.exec(&r, &["ip", "link", "del", "tun0"]);
    let got = lab.probe(
        &c,
        &[
            "tcp/198.18.0.10:80",
            "udp/198.18.0.10:53",
            "tcp/[fd98:9::2]:80",
            "udp/9.9.9.9:53",
        ],
    );
    assert!(
        got.iter().all(|g| !ok(g)),
        "client traffic escaped: {got:?}"
    );
    let got = lab.probe(
        &r,
        &[
            "tcp/198.18.0.10:80",
            "udp/198.18.0.10:53",
            "tcp/[fd98:9::2]:80",
        ],
    );
    assert!(
        got.iter().all(|g| !ok(g)),
        "the router's own traffic escaped: {got:?}"
    );
    let leak = lab.exec(&i, &["nft", "list", "counter", "netdev", "cap", "leak"]);
    assert!(
        leak.contains("packets 0 bytes 0"),
        "packets leaked on the uplink: {leak}"
    );
    let tunnel = lab.exec(&i, &["nft", "list", "counter", "netdev", "cap", "tunnel"]);
    assert!(
        !tunnel.contains("packets 0 "),
        "the capture saw the tunnel traffic: {tunnel}"
    );

    // Control: without picket's table the same probe does leak, and the capture sees it.
    lab.exec(&r, &["nft", "delete", "table", "inet", "picket"]);
    let got = lab.probe(&c, &["tcp/198.18.0.10:80"]);
    assert_eq!(got[0].as_deref(), Some("via-uplink"));
    let leak = lab.exec(&i, &["nft", "list", "counter", "netdev", "cap", "leak"]);
    assert!(
        !leak.contains("packets 0 "),
        "the capture would have seen a leak: {leak}"
    );
}

#[test]
fn netns_fw_bad_respond_requests_change_nothing() {
    if !can_run("netns_fw_bad_respond_requests_change_nothing") {
        return;
    }
    let mut lab = Lab::new("r");
    let r = lab.ns("r");
    let policy = lab.write_policy(
        r#"
[dns]
guard = ["10.97.1.53"]

[[source]]
name = "work"
addr = "10.97.0.12"
allow = [{ proto = "tcp", ports = [443] }]

[response]
manager_qube = "picket-manager"
manager = ["10.97.0.50"]
gateway = ["10.97.0.1"]
max_ban_timeout = "1d"
"#,
    );
    let state = lab.state_dir();
    let log = lab.dir.join("respond.json").display().to_string();
    lab.picket(&r, &["fw", "apply", &policy, "--state-dir", &state]);
    lab.picket(
        &r,
        &["fw", "quarantine", "10.97.0.99", "--state-dir", &state],
    );
    let respond = |caller: &str, input: &[u8]| -> (String, bool) {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &r,
                PICKET,
                "respond",
                "--state-dir",
                &state,
                "--log",
                &log,
            ])
            .env("QREXEC_REMOTE_DOMAIN", caller)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.success(),
        )
    };
    let ruleset = || lab.exec(&r, &["nft", "list", "ruleset"]);
    let state_file = || std::fs::read(lab.dir.join("state/state.json")).unwrap();
    let before = (ruleset(), state_file());
    let long = "a".repeat(10_000);
    let bad: Vec<(&str, &[u8])> = vec![
        ("work", b"ban 203.0.113.9\n"),
        ("", b"ban 203.0.113.9\n"),
        ("picket-manager", b"ban 10.97.0.50\n"),
        ("picket-manager", b"quarantine 10.97.0.1\n"),
        ("picket-manager", b"ban 10.97.1.53 60\n"),
        ("picket-manager", b"ban 203.0.113.9 999999\n"),
        ("picket-manager", b"ban 203.0.113.9 0\n"),
        ("picket-manager", b"flush ruleset\n"),
        ("picket-manager", b"ban 203.0.113.9; nft flush ruleset\n"),
        ("picket-manager", b"ban 203.0.113.9\nunban 10.97.0.99\n"),
        ("picket-manager", b"ban 203.0.113.0/24\n"),
        ("picket-manager", b"ban  203.0.113.9\n"),
        ("picket-manager", b"release 10.97.0.99 now\n"),
        ("picket-manager", b"ban \xff\xfe\n"),
        ("picket-manager", b""),
        ("picket-manager", long.as_bytes()),
    ];
    for (caller, input) in &bad {
        let (answer, success) = respond(caller, input);
        assert!(
            answer.starts_with("refused: ") && !success,
            "{caller} {:?} -> {answer}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(
        before,
        (ruleset(), state_file()),
        "a refused request changed something"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), bad.len(), "every request is logged");
    assert!(
        logged
            .lines()
            .all(|l| l.contains("\"event_type\":\"response\"")
                && l.contains("\"result\":\"refused\""))
    );

    // The manager's good requests work, a sibling qube included: siblings are not exempt.
    let (answer, _) = respond("picket-manager", b"ban 203.0.113.9 60\n");
    assert_eq!(answer, "ok\n");
    let (answer, _) = respond("picket-manager", b"quarantine 10.97.0.12\n");
    assert_eq!(answer, "ok\n");
    let (answer, _) = respond("picket-manager", b"release 10.97.0.99\n");
    assert_eq!(answer, "ok\n");
    let sets = ruleset();
    assert!(sets.contains("203.0.113.9 timeout 1m"), "{sets}");
    assert!(
        sets.contains("10.97.0.12") && !sets.contains("10.97.0.99"),
        "{sets}"
    );
    let last = std::fs::read_to_string(&log).unwrap();
    assert!(last.lines().last().unwrap().contains("\"result\":\"ok\""));
}
