//! Test helper: a manager-side qrexec service process for the integration tests.
//!
//! `picket-transport-test-peer <store-file>` with `QREXEC_REMOTE_DOMAIN` set serves picket's
//! protocol on stdin/stdout and appends what it receives to the store file, one line each:
//! `H <source> <epoch>`, `R <source> <seq> <record>`, `F <source> <flag>` (tab separated).
//! At start it restores its dedup state from that file, as the real manager does from its
//! database, so it can be SIGKILLed and started again.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

use picket_transport::delivery::SourceState;
use picket_transport::server::{Incoming, Server, ServerConfig};
use picket_transport::source::{Source, Via};

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: picket-transport-test-peer <store-file>");
        std::process::exit(2);
    };
    let text = fs::read_to_string(&out).unwrap_or_default();
    let mut epoch: HashMap<String, u64> = HashMap::new();
    let mut stored: HashMap<String, u64> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        match f.as_slice() {
            ["H", src, e] => {
                epoch.insert((*src).to_owned(), e.parse().unwrap_or(0));
            }
            ["R", src, seq, _] => {
                let s = stored.entry((*src).to_owned()).or_default();
                *s = (*s).max(seq.parse().unwrap_or(0));
            }
            _ => {}
        }
    }
    let file = match OpenOptions::new().create(true).append(true).open(&out) {
        Ok(f) => Mutex::new(f),
        Err(e) => {
            eprintln!("peer: {e}");
            std::process::exit(2);
        }
    };
    let server = Server::new(ServerConfig::default(), move |item: Incoming| {
        let mut text = String::new();
        match item {
            Incoming::Hello { source, hello } => text = format!("H\t{source}\t{}\n", hello.epoch),
            Incoming::Records {
                source,
                first_seq,
                records,
            } => {
                let first = first_seq.unwrap_or(0);
                for (i, r) in records.iter().enumerate() {
                    text.push_str(&format!(
                        "R\t{source}\t{}\t{}\n",
                        first + i as u64,
                        String::from_utf8_lossy(r)
                    ));
                }
            }
            Incoming::Flag { source, flag } => text = format!("F\t{source}\t{flag:?}\n"),
            _ => {}
        }
        let mut f = file.lock().map_err(|e| e.to_string())?;
        // One write per call: a SIGKILL leaves at most one torn line, never acked.
        f.write_all(text.as_bytes()).map_err(|e| e.to_string())
    });
    if let Ok(mut rx) = server.receiver().lock() {
        for (src, e) in &epoch {
            if let Ok(source) = Source::new(src, Via::Qrexec) {
                let state = SourceState {
                    epoch: *e,
                    stored: stored.get(src).copied().unwrap_or(0),
                    ..SourceState::default()
                };
                rx.restore(source, state);
            }
        }
    }
    if let Err(e) = server.serve_qrexec_stdio() {
        eprintln!("peer: {e}");
        std::process::exit(1);
    }
}
