//! Servers on real sockets: mutual TLS on 127.0.0.1 with enrolment, and qrexec socket
//! services on AF_UNIX. Bad peers are closed with a clear error while others keep going.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use picket_transport::client::{ClientConfig, Link, TlsClient};
use picket_transport::frame::{Batch, Frame, Hello, DEFAULT_MAX_FRAME};
use picket_transport::server::{Flag, Incoming, Server, ServerConfig};
use picket_transport::source::Via;
use picket_transport::spool::{Spool, SpoolConfig};
use picket_transport::stream::{FrameStream, LinkError};
use picket_transport::tls::{self, Allowlist, Identity};

const WAIT: Duration = Duration::from_secs(20);

fn server() -> (Server, Receiver<Incoming>) {
    let (tx, rx) = channel();
    let s = Server::new(ServerConfig::default(), move |i: Incoming| {
        tx.send(i).map_err(|e| e.to_string())
    });
    (s, rx)
}

/// Next item matching `pred`, skipping others; panics after [`WAIT`].
fn wait_for(rx: &Receiver<Incoming>, what: &str, pred: impl Fn(&Incoming) -> bool) -> Incoming {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(i) if pred(&i) => return i,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn spool_with(dir: &std::path::Path, n: u64) -> Spool {
    let mut s = Spool::open(dir, SpoolConfig::default()).expect("spool");
    for i in 0..n {
        s.append(format!("{{\"i\":{i}}}").as_bytes())
            .expect("append");
    }
    s
}

#[test]
fn tls_enrolled_client_delivers_unenrolled_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (manager_id, _) = Identity::load_or_create(&dir.path().join("manager"), "picket-manager")
        .expect("manager id");
    let allow = Arc::new(Allowlist::open(dir.path().join("manager/allowlist")).expect("allowlist"));
    let pin = manager_id.fingerprint();

    // Enrolment: one-time token, pinned manager.
    let enroll_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let enroll_addr = enroll_listener.local_addr().expect("addr");
    let token = tls::new_token().expect("token");
    let enroller = {
        let (id, allow, token) = (manager_id.clone(), allow.clone(), token.clone());
        std::thread::spawn(move || {
            tls::serve_enrollment(&enroll_listener, &id, &allow, &token, 3, WAIT)
        })
    };
    let (agent_id, _) =
        Identity::load_or_create(&dir.path().join("agent"), "laptop").expect("agent id");
    let wrong = tls::enroll(enroll_addr, &agent_id, pin, "not-the-token", "laptop", WAIT);
    assert!(wrong.is_err(), "wrong token refused");
    let granted = tls::enroll(enroll_addr, &agent_id, pin, &token, "laptop", WAIT).expect("enrol");
    assert_eq!(granted, "laptop");
    let enrolled = enroller.join().expect("thread").expect("enrolled");
    assert_eq!(enrolled.fingerprint, agent_id.fingerprint());

    // The manager serves mutual TLS.
    let (srv, rx) = server();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tls_config = tls::server_config(&manager_id, allow.clone()).expect("config");
    {
        let srv = srv.clone();
        let allow = allow.clone();
        std::thread::spawn(move || srv.serve_tls(listener, tls_config, allow));
    }

    // Enrolled agent, claiming another name: delivers under its enrolled name, flagged.
    let mut spool = spool_with(&dir.path().join("spool"), 1000);
    let mut link = TlsClient::connect(
        addr,
        &agent_id,
        pin,
        &mut spool,
        ClientConfig::new("someone-else"),
        WAIT,
    )
    .expect("connect");
    link.drain(&mut spool).expect("drain");
    assert_eq!(spool.acked(), 1000);
    let flag = wait_for(&rx, "claim flag", |i| matches!(i, Incoming::Flag { .. }));
    assert!(
        matches!(&flag, Incoming::Flag { source, flag: Flag::ClaimMismatch { claimed } } if source.name == "laptop" && source.via == Via::Tls && claimed == "someone-else"),
        "{flag:?}"
    );
    let mut got = 0;
    while got < 1000 {
        if let Incoming::Records {
            source, records, ..
        } = wait_for(&rx, "records", |i| matches!(i, Incoming::Records { .. }))
        {
            assert_eq!(source.name, "laptop");
            got += records.len();
        }
    }
    assert_eq!(got, 1000);

    // Unenrolled agent: refused in the handshake, no Hello ever reaches the manager.
    let (stranger, _) =
        Identity::load_or_create(&dir.path().join("stranger"), "stranger").expect("id");
    let mut spool2 = spool_with(&dir.path().join("spool2"), 10);
    let refused = TlsClient::connect(
        addr,
        &stranger,
        pin,
        &mut spool2,
        ClientConfig::new("stranger"),
        WAIT,
    );
    assert!(refused.is_err(), "unenrolled client refused");
    let closed = wait_for(&rx, "refusal", |i| {
        matches!(
            i,
            Incoming::Closed { source: None, .. } | Incoming::Hello { .. }
        )
    });
    match closed {
        Incoming::Closed { error: Some(e), .. } => assert!(e.contains("not enrolled"), "{e}"),
        other => panic!("unenrolled client got through: {other:?}"),
    }

    // A manager with another certificate is refused by the agent (pinning).
    let (impostor, _) =
        Identity::load_or_create(&dir.path().join("impostor"), "picket-manager").expect("id");
    let impostor_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let impostor_addr = impostor_listener.local_addr().expect("addr");
    let impostor_config = tls::server_config(&impostor, allow.clone()).expect("config");
    {
        let (srv2, _rx2) = server();
        std::thread::spawn(move || {
            let _keep = _rx2;
            srv2.serve_tls(impostor_listener, impostor_config, allow)
        });
    }
    let err = TlsClient::connect(
        impostor_addr,
        &agent_id,
        pin,
        &mut spool,
        ClientConfig::new("laptop"),
        WAIT,
    )
    .expect_err("pinned");
    assert!(
        err.to_string().contains("does not match the pinned"),
        "{err}"
    );
}

fn socket_server() -> (tempfile::TempDir, std::path::PathBuf, Receiver<Incoming>) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("picket.Events");
    let listener = UnixListener::bind(&path).expect("bind");
    let (srv, rx) = server();
    std::thread::spawn(move || srv.serve_unix_socket(listener));
    (dir, path, rx)
}

fn connect_as(path: &std::path::Path, header: &[u8]) -> UnixStream {
    let mut s = UnixStream::connect(path).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(header).expect("header");
    s
}

fn hello(stream: &mut FrameStream<UnixStream>, claim: &str) {
    stream
        .write_frame(&Frame::Hello(Hello {
            agent: claim.into(),
            protocol: 1,
            capabilities: vec![],
            epoch: 1,
        }))
        .expect("hello");
    assert!(matches!(
        stream.read_frame().expect("ack"),
        Some(Frame::Ack(_))
    ));
}

#[test]
fn bad_frames_close_one_connection_while_others_are_served() {
    let (_dir, path, rx) = socket_server();
    let mut good = FrameStream::new(
        connect_as(&path, b"picket.Events work\0"),
        DEFAULT_MAX_FRAME,
    );
    hello(&mut good, "work");

    // Garbage after a good header.
    let mut garbled = connect_as(&path, b"picket.Events sys-net\0");
    garbled.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    let mut reply = FrameStream::new(garbled, DEFAULT_MAX_FRAME);
    match reply.read_frame() {
        Ok(Some(Frame::Error(e))) => {
            assert_eq!(e.code, "frame");
            assert!(
                e.message.contains("bad magic") && e.message.contains("offset 0"),
                "{}",
                e.message
            );
        }
        other => panic!("expected an Error frame, got {other:?}"),
    }
    assert!(
        matches!(reply.read_frame(), Ok(None) | Err(_)),
        "connection closed"
    );
    let closed = wait_for(&rx, "garbled close", |i| {
        matches!(i, Incoming::Closed { error: Some(_), .. })
    });
    assert!(
        matches!(&closed, Incoming::Closed { source: Some(s), error: Some(e) } if s.name == "sys-net" && e.contains("bad magic")),
        "{closed:?}"
    );

    // An oversized frame after a valid Hello.
    let mut big = FrameStream::new(
        connect_as(&path, b"picket.Events sys-usb\0"),
        DEFAULT_MAX_FRAME,
    );
    hello(&mut big, "sys-usb");
    big.get_mut()
        .write_all(b"PCKT\x01\x02\x7f\xff\xff\xff")
        .expect("write");
    match big.read_frame() {
        Ok(Some(Frame::Error(e))) => assert!(
            e.message.contains("exceeds the maximum of 1048576"),
            "{}",
            e.message
        ),
        other => panic!("expected an Error frame, got {other:?}"),
    }

    // The first connection is still served.
    good.write_frame(&Frame::Batch(Batch {
        first_seq: 1,
        records: vec![b"{}".to_vec(); 3],
    }))
    .expect("batch");
    assert!(matches!(good.read_frame().expect("ack"), Some(Frame::Ack(a)) if a.seq == 3));
    let recs = wait_for(&rx, "records", |i| matches!(i, Incoming::Records { .. }));
    assert!(
        matches!(&recs, Incoming::Records { source, first_seq: Some(1), records } if source.name == "work" && records.len() == 3)
    );

    // An unknown service and a broken header are refused too.
    let mut odd = connect_as(&path, b"qubes.Filecopy work\0");
    let mut buf = Vec::new();
    let _ = odd.read_to_end(&mut buf);
    let mut bad = connect_as(&path, b"no-space-header\0");
    let _ = bad.read_to_end(&mut buf);
    wait_for(
        &rx,
        "unknown service",
        |i| matches!(i, Incoming::Closed { error: Some(e), .. } if e.contains("unknown qrexec service")),
    );
    wait_for(
        &rx,
        "bad header",
        |i| matches!(i, Incoming::Closed { error: Some(e), .. } if e.contains("malformed qrexec socket header")),
    );
}

#[test]
fn socket_service_source_comes_from_the_header_and_forgery_is_flagged() {
    let (_dir, path, rx) = socket_server();
    let dir = tempfile::tempdir().expect("tmp");
    let mut spool = spool_with(dir.path(), 200);
    let stream = connect_as(&path, b"picket.Events personal\0");
    let mut link = Link::handshake(stream, &mut spool, ClientConfig::new("vault")).expect("hello");
    link.drain(&mut spool).expect("drain");
    let flag = wait_for(&rx, "flag", |i| matches!(i, Incoming::Flag { .. }));
    assert!(
        matches!(&flag, Incoming::Flag { source, flag: Flag::ClaimMismatch { claimed } } if source.name == "personal" && source.via == Via::Qrexec && claimed == "vault"),
        "{flag:?}"
    );
    let recs = wait_for(&rx, "records", |i| matches!(i, Incoming::Records { .. }));
    assert!(matches!(&recs, Incoming::Records { source, .. } if source.name == "personal"));

    // Reconnecting with the same spool resends nothing already acked; a duplicate resend
    // (simulated by a fresh sender that lost its ack file) is dropped by the manager.
    drop(link);
    let mut raw = FrameStream::new(
        connect_as(&path, b"picket.Events personal\0"),
        DEFAULT_MAX_FRAME,
    );
    raw.write_frame(&Frame::Hello(Hello {
        agent: "personal".into(),
        protocol: 1,
        capabilities: vec![],
        epoch: spool.epoch(),
    }))
    .expect("hello");
    assert!(
        matches!(raw.read_frame().expect("ack"), Some(Frame::Ack(a)) if a.seq == 200),
        "manager remembers what it stored"
    );
    raw.write_frame(&Frame::Batch(Batch {
        first_seq: 199,
        records: vec![b"{}".to_vec(); 4],
    }))
    .expect("batch");
    assert!(matches!(raw.read_frame().expect("ack"), Some(Frame::Ack(a)) if a.seq == 202));
    let recs = wait_for(&rx, "only new records", |i| {
        matches!(i, Incoming::Records { .. })
    });
    assert!(
        matches!(&recs, Incoming::Records { first_seq: Some(201), records, .. } if records.len() == 2),
        "{recs:?}"
    );
}

#[test]
fn qubes_log_lines_become_events_and_each_gets_ok() {
    let (_dir, path, rx) = socket_server();
    let mut s = connect_as(&path, b"qubes.Log+journal sys-net\0");
    s.write_all(b"<38>sshd[12]: Failed password for root from 10.0.0.9\nplain line without pri\n")
        .expect("write");
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        assert_eq!(line, "OK\n");
    }
    let mut events = Vec::new();
    while events.len() < 2 {
        if let Incoming::Records {
            source,
            first_seq,
            records,
        } = wait_for(&rx, "log records", |i| {
            matches!(i, Incoming::Records { .. })
        }) {
            assert_eq!(source.name, "sys-net");
            assert_eq!(first_seq, None);
            for r in records {
                events.push(serde_json::from_slice::<serde_json::Value>(&r).expect("json"));
            }
        }
    }
    assert_eq!(events[0]["log"]["facility"], "auth");
    assert_eq!(events[0]["log"]["severity"], "info");
    assert_eq!(
        events[0]["log"]["message"],
        "sshd[12]: Failed password for root from 10.0.0.9"
    );
    assert_eq!(events[1]["log"]["message"], "plain line without pri");
    assert!(events[1]["log"].get("severity").is_none());
}

#[test]
fn link_error_names_a_truncated_frame() {
    let (a, b) = UnixStream::pair().expect("pair");
    let mut w = a;
    w.write_all(b"PCKT\x01\x03\x00\x00\x00\x10{\"seq\"")
        .expect("write");
    drop(w);
    let mut r = FrameStream::new(b, DEFAULT_MAX_FRAME);
    let err = r.read_frame().expect_err("truncated");
    assert!(
        matches!(err, LinkError::TruncatedFrame { buffered: 16 }),
        "{err}"
    );
}

/// A spool that overflowed says so: the drop count is in the heartbeat, and the manager
/// sees the hole in the sequence numbers as a flag. `Link::run` keeps draining while
/// sources keep appending.
#[test]
fn spool_drops_are_reported_in_heartbeats_and_show_as_a_gap() {
    use picket_transport::spool::Overflow;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    let (_dir, path, rx) = socket_server();
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = SpoolConfig::with_max_bytes(256 << 10);
    config.segment_bytes = 64 << 10;
    config.overflow = Overflow::DropOldest;
    let mut spool = Spool::open(dir.path(), config).expect("spool");
    for i in 0..10_000 {
        spool
            .append(format!("{{\"i\":{i},\"pad\":\"{}\"}}", "p".repeat(80)).as_bytes())
            .expect("append");
    }
    let dropped = spool.counters().dropped;
    assert!(dropped > 5_000, "{:?}", spool.counters());
    let kept = spool.last_seq() - dropped;

    let spool = Arc::new(Mutex::new(spool));
    let stop = Arc::new(AtomicBool::new(false));
    let link = {
        let mut s = spool.lock().expect("lock");
        Link::handshake(
            connect_as(&path, b"picket.Events work\0"),
            &mut s,
            ClientConfig::new("work"),
        )
        .expect("hello")
    };
    let runner = {
        let (spool, stop) = (spool.clone(), stop.clone());
        let mut link = link;
        std::thread::spawn(move || link.run(&spool, &stop))
    };
    let hb = wait_for(&rx, "heartbeat", |i| {
        matches!(i, Incoming::Heartbeat { .. })
    });
    let Incoming::Heartbeat { source, heartbeat } = hb else {
        unreachable!()
    };
    assert_eq!(source.name, "work");
    assert_eq!(heartbeat.counters.get("spool_dropped"), Some(&dropped));
    let gap = wait_for(&rx, "gap flag", |i| {
        matches!(
            i,
            Incoming::Flag {
                flag: Flag::SequenceGap { .. },
                ..
            }
        )
    });
    assert!(
        matches!(gap, Incoming::Flag { flag: Flag::SequenceGap { missing, resumed_at }, .. } if missing == dropped && resumed_at == dropped + 1)
    );

    // Sources keep appending while the link runs.
    let mut got = 0u64;
    let mut appended_more = false;
    while got < kept + 100 {
        if !appended_more && got >= kept {
            let mut s = spool.lock().expect("lock");
            for i in 0..100 {
                s.append(format!("{{\"late\":{i}}}").as_bytes())
                    .expect("append");
            }
            appended_more = true;
        }
        if let Incoming::Records { records, .. } =
            wait_for(&rx, "records", |i| matches!(i, Incoming::Records { .. }))
        {
            got += records.len() as u64;
        }
    }
    assert_eq!(got, kept + 100);
    // The sink saw everything; the last acks may still be on their way to the agent.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let s = spool.lock().expect("lock");
        if s.acked() == s.last_seq() {
            break;
        }
        drop(s);
        assert!(std::time::Instant::now() < deadline, "acks did not arrive");
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Release);
    runner.join().expect("thread").expect("run ended cleanly");
    assert_eq!(spool.lock().expect("lock").counters().segments, 0);
}
