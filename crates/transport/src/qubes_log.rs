//! Upstream's `qubes.Log` line protocol, sans-IO: the sender writes lines of at most 4096
//! bytes, each optionally starting with a syslog `<PRI>`, and waits for `OK\n` after each.
//!
//! A line longer than the limit is cut at the limit and the rest up to the next newline is
//! discarded; the cut is counted and marked on the event (`truncated: true`), never silent.

use serde_json::{json, Value};

/// Longest line accepted, newline excluded.
pub const MAX_LINE: usize = 4096;
/// What the receiver answers after each line.
pub const OK_REPLY: &[u8] = b"OK\n";

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// A complete line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The bytes, without the newline, at most [`MAX_LINE`].
    pub bytes: Vec<u8>,
    /// The sender's line was longer and was cut.
    pub truncated: bool,
}

/// Splits a byte stream into lines.
#[derive(Debug, Default)]
pub struct LineSplitter {
    cur: Vec<u8>,
    discarding: bool,
    /// Lines cut at [`MAX_LINE`].
    pub truncated_lines: u64,
}

impl LineSplitter {
    /// A splitter with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; complete lines are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Line>) {
        while !data.is_empty() {
            let nl = memchr_nl(data);
            let (chunk, rest, ended) = match nl {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            if !self.discarding {
                let room = MAX_LINE - self.cur.len();
                if chunk.len() > room {
                    self.cur.extend_from_slice(&chunk[..room]);
                    out.push(Line {
                        bytes: std::mem::take(&mut self.cur),
                        truncated: true,
                    });
                    self.truncated_lines += 1;
                    self.discarding = !ended;
                } else {
                    self.cur.extend_from_slice(chunk);
                    if ended {
                        out.push(Line {
                            bytes: std::mem::take(&mut self.cur),
                            truncated: false,
                        });
                    }
                }
            } else if ended {
                self.discarding = false;
            }
            data = rest;
        }
    }

    /// Bytes of an unfinished line.
    pub fn pending(&self) -> usize {
        self.cur.len()
    }
}

fn memchr_nl(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

/// A `<PRI>` prefix: `(pri, rest)`, or `None` when the line has none valid (0..=191).
pub fn split_pri(line: &[u8]) -> Option<(u8, &[u8])> {
    let rest = line.strip_prefix(b"<")?;
    let end = rest.iter().take(4).position(|&b| b == b'>')?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    let pri: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (pri <= 191).then_some((pri as u8, &rest[end + 1..]))
}

/// The log event for one line: `event_type: "log"` with the message and, when a `<PRI>`
/// was given, its facility and severity.
pub fn line_to_event(line: &Line) -> Value {
    let (pri, msg) = match split_pri(&line.bytes) {
        Some((p, m)) => (Some(p), m),
        None => (None, &line.bytes[..]),
    };
    let msg = msg.strip_suffix(b"\r").unwrap_or(msg);
    let mut log = json!({ "message": String::from_utf8_lossy(msg) });
    if let Some(p) = pri {
        log["pri"] = json!(p);
        log["facility"] = json!(FACILITIES[usize::from(p >> 3)]);
        log["severity"] = json!(SEVERITIES[usize::from(p & 7)]);
    }
    if line.truncated {
        log["truncated"] = json!(true);
    }
    json!({ "event_type": "log", "log": log, "picket": { "transport": "qubes.Log" } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pri_gives_facility_and_severity() {
        // <38> = auth (4) * 8 + info (6)
        let ev = line_to_event(&Line {
            bytes: b"<38>sshd[1]: Accepted publickey".to_vec(),
            truncated: false,
        });
        assert_eq!(ev["log"]["facility"], "auth");
        assert_eq!(ev["log"]["severity"], "info");
        assert_eq!(ev["log"]["message"], "sshd[1]: Accepted publickey");
    }

    #[test]
    fn invalid_pri_stays_in_the_message() {
        for l in [
            &b"<192>x"[..],
            b"<>x",
            b"<1a>x",
            b"<007>x",
            b"<12345>x",
            b"<13",
        ] {
            assert_eq!(split_pri(l), None, "{:?}", String::from_utf8_lossy(l));
        }
        assert_eq!(split_pri(b"<0>x"), Some((0, &b"x"[..])));
        assert_eq!(split_pri(b"<191>"), Some((191, &b""[..])));
    }

    #[test]
    fn lines_split_across_chunks() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(b"one\ntw", &mut out);
        s.push(b"o\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].bytes, b"two");
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn overlong_line_is_cut_and_counted() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(&vec![b'a'; MAX_LINE + 10], &mut out);
        s.push(b"bbb\nnext\n", &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[0].truncated);
        assert_eq!(out[0].bytes.len(), MAX_LINE);
        assert_eq!(out[1].bytes, b"next");
        assert_eq!(s.truncated_lines, 1);
        // Exactly MAX_LINE is fine.
        s.push(&vec![b'c'; MAX_LINE], &mut out);
        s.push(b"\n", &mut out);
        assert!(!out[2].truncated);
    }
}
