//! journald follower: runs `journalctl -o json --follow` as a child and resumes after the
//! saved cursor (`--after-cursor`), so a restart neither repeats nor skips an entry.
//!
//! [`parse_entry`] is the sans-IO part: one line of journalctl's JSON in, one
//! [`JournalEntry`] out. journalctl writes a field as a string when it is valid UTF-8, as an
//! array of byte values when it is not, as `null` when it is larger than its size limit, and as
//! an array of those when the field occurs more than once in the entry.

use crate::state::{read_optional, write_atomic};
use crate::{Counters, Error, Source};
use picket_event::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// journald settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// The journalctl program (looked up on PATH unless it has a slash).
    #[serde(default = "default_program")]
    pub program: PathBuf,
    /// Only these systemd units (all when empty).
    #[serde(default)]
    pub units: Vec<String>,
    /// Without a saved cursor: read the whole journal (true) or only new entries (false).
    #[serde(default)]
    pub from_start: bool,
    /// Longest JSON line accepted from journalctl, in bytes; longer ones are dropped and
    /// counted.
    #[serde(default = "default_max_entry")]
    pub max_entry_bytes: usize,
}

fn default_program() -> PathBuf {
    PathBuf::from("journalctl")
}
fn default_max_entry() -> usize {
    256 * 1024
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            program: default_program(),
            units: Vec::new(),
            from_start: false,
            max_entry_bytes: default_max_entry(),
        }
    }
}

/// Why a line is not a journal entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The JSON is not an object.
    #[error("not a JSON object")]
    NotObject,
    /// The entry has no `__CURSOR`, so it cannot be resumed after.
    #[error("entry without __CURSOR")]
    NoCursor,
}

/// One journal entry, with the fields picket uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub cursor: String,
    /// `__REALTIME_TIMESTAMP`, microseconds since the epoch.
    pub realtime_us: Option<i64>,
    /// `MESSAGE`, lossily decoded when it was not UTF-8; `None` when absent or omitted.
    pub message: Option<String>,
    /// The message had bytes that are not UTF-8.
    pub lossy: bool,
    /// Other fields kept for the decoders: unit, identifier, pid, uid, priority...
    pub fields: Map<String, Value>,
}

/// Fields copied into the event beside the message, with the names they get there.
const KEPT: &[(&str, &str)] = &[
    ("_SYSTEMD_UNIT", "unit"),
    ("SYSLOG_IDENTIFIER", "identifier"),
    ("_COMM", "comm"),
    ("_EXE", "exe"),
    ("_PID", "pid"),
    ("_UID", "uid"),
    ("PRIORITY", "priority"),
    ("SYSLOG_FACILITY", "facility"),
    ("_HOSTNAME", "hostname"),
    ("_TRANSPORT", "transport"),
    ("_BOOT_ID", "boot_id"),
];

/// A field's value as text: strings as they are, byte arrays decoded lossily, the first of
/// repeated values. `None` for null or anything else. The flag says bytes were replaced.
fn field_text(value: &Value) -> Option<(String, bool)> {
    match value {
        Value::String(s) => Some((s.clone(), false)),
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            let bytes = bytes?;
            let text = String::from_utf8_lossy(&bytes);
            let lossy = matches!(text, std::borrow::Cow::Owned(_));
            Some((text.into_owned(), lossy))
        }
        // A repeated field: keep the first value.
        Value::Array(items) => items.first().and_then(field_text),
        _ => None,
    }
}

/// Parse one line of `journalctl -o json`.
pub fn parse_entry(line: &[u8]) -> Result<JournalEntry, ParseError> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ParseError::NotObject);
    };
    let cursor = object
        .get("__CURSOR")
        .and_then(Value::as_str)
        .ok_or(ParseError::NoCursor)?
        .to_string();
    let realtime_us = object
        .get("__REALTIME_TIMESTAMP")
        .and_then(field_text)
        .and_then(|(t, _)| t.parse::<i64>().ok());
    let (message, lossy) = match object.get("MESSAGE").and_then(field_text) {
        Some((m, lossy)) => (Some(m), lossy),
        None => (None, false),
    };
    let mut fields = Map::new();
    for (from, to) in KEPT {
        if let Some((text, _)) = object.get(*from).and_then(field_text) {
            let value = match *to {
                "pid" | "uid" | "priority" | "facility" => text
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or(Value::from(text)),
                _ => Value::from(text),
            };
            fields.insert((*to).to_string(), value);
        }
    }
    Ok(JournalEntry {
        cursor,
        realtime_us,
        message,
        lossy,
        fields,
    })
}

impl JournalEntry {
    /// The `log` event for this entry, timed by the journal.
    pub fn into_event(self) -> Event {
        let ts = self
            .realtime_us
            .map_or_else(Timestamp::now, Timestamp::from_micros);
        let mut body = self.fields;
        body.insert("source".into(), Value::from("journald"));
        match self.message {
            Some(m) => {
                body.insert("line".into(), Value::from(m));
            }
            None => {
                body.insert("line".into(), Value::from(""));
                body.insert("message_omitted".into(), Value::from(true));
            }
        }
        if self.lossy {
            body.insert("lossy".into(), Value::from(true));
        }
        body.insert("cursor".into(), Value::from(self.cursor));
        let mut event = Event::new(ts, "log");
        event.body = Value::Object(body);
        event
    }
}

enum Line {
    Entry(Vec<u8>),
    TooLong,
}

/// The journald source. See the module docs.
#[derive(Debug)]
pub struct JournalSource {
    child: Child,
    lines: Receiver<LineMsg>,
    cursor: Option<String>,
    saved_cursor: Option<String>,
    state_path: Option<PathBuf>,
    counters: Arc<Counters>,
    /// Lines that were not entries, or too long.
    pub bad_lines: u64,
}

#[derive(Debug)]
struct LineMsg(Result<Vec<u8>, ()>);

impl From<Line> for LineMsg {
    fn from(line: Line) -> Self {
        match line {
            Line::Entry(bytes) => LineMsg(Ok(bytes)),
            Line::TooLong => LineMsg(Err(())),
        }
    }
}

fn read_lines(stdout: impl Read, max: usize, tx: SyncSender<LineMsg>) {
    let mut reader = BufReader::with_capacity(16 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut reader)
            .take(max as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        let msg = if line.last() == Some(&b'\n') {
            Line::Entry(line.clone())
        } else if line.len() > max {
            // Skip the rest of the over-long line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                match (&mut reader).take(64 * 1024).read_until(b'\n', &mut sink) {
                    Ok(0) => return,
                    Ok(_) if sink.last() == Some(&b'\n') => break,
                    Ok(_) => continue,
                    Err(_) => return,
                }
            }
            Line::TooLong
        } else {
            // The last line, without newline, at the end of the stream.
            Line::Entry(line.clone())
        };
        if tx.send(msg.into()).is_err() {
            return;
        }
    }
}

impl JournalSource {
    /// Start journalctl after the saved cursor (if any).
    pub fn start(
        config: &JournalConfig,
        state_path: Option<PathBuf>,
        counters: Arc<Counters>,
    ) -> Result<Self, Error> {
        let mut cursor = None;
        if let Some(path) = &state_path {
            if let Some(bytes) = read_optional(path)? {
                let text = String::from_utf8_lossy(&bytes).trim().to_string();
                if !text.is_empty() {
                    cursor = Some(text);
                }
            }
        }
        let mut command = Command::new(&config.program);
        command.args(["--output=json", "--follow", "--no-pager", "--quiet"]);
        match &cursor {
            Some(c) => {
                command.arg(format!("--after-cursor={c}"));
            }
            None if config.from_start => {}
            None => {
                command.arg("--lines=0");
            }
        }
        for unit in &config.units {
            command.arg(format!("--unit={unit}"));
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::JournalctlMissing {
                    program: config.program.display().to_string(),
                }
            } else {
                Error::io(&config.program, e)
            }
        })?;
        let stdout = child.stdout.take().ok_or_else(|| {
            Error::io(
                &config.program,
                std::io::Error::other("journalctl has no stdout"),
            )
        })?;
        let (tx, rx) = std::sync::mpsc::sync_channel(256);
        let max = config.max_entry_bytes;
        std::thread::Builder::new()
            .name("journalctl-reader".into())
            .stack_size(64 * 1024)
            .spawn(move || read_lines(stdout, max, tx))
            .map_err(|e| Error::io(&config.program, e))?;
        Ok(JournalSource {
            child,
            lines: rx,
            saved_cursor: cursor.clone(),
            cursor,
            state_path,
            counters,
            bad_lines: 0,
        })
    }

    /// The cursor of the last entry handed out.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    fn take(&mut self, msg: LineMsg, out: &mut Vec<Event>) {
        match msg.0 {
            Ok(bytes) => match parse_entry(&bytes) {
                Ok(entry) => {
                    self.cursor = Some(entry.cursor.clone());
                    out.push(entry.into_event());
                    self.counters.add_records(1);
                }
                Err(_) => {
                    self.bad_lines += 1;
                    self.counters.add_drops(1);
                }
            },
            Err(()) => {
                self.bad_lines += 1;
                self.counters.add_drops(1);
            }
        }
    }
}

impl Source for JournalSource {
    fn name(&self) -> &str {
        "journald"
    }

    fn poll(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), Error> {
        match self.lines.recv_timeout(timeout) {
            Ok(msg) => self.take(msg, out),
            Err(RecvTimeoutError::Timeout) => return Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                let status = match self.child.wait() {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(Error::JournalctlExited { status });
            }
        }
        // Whatever else is already waiting, in one batch.
        while out.len() < 4096 {
            match self.lines.try_recv() {
                Ok(msg) => self.take(msg, out),
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), Error> {
        if let (Some(path), Some(cursor)) = (&self.state_path, &self.cursor) {
            if self.saved_cursor.as_ref() != Some(cursor) {
                write_atomic(path, cursor.as_bytes())?;
                self.saved_cursor = Some(cursor.clone());
            }
        }
        Ok(())
    }
}

impl Drop for JournalSource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_message_and_fields() {
        let line = br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000000123456","MESSAGE":"Accepted password for root","_PID":"42","_SYSTEMD_UNIT":"ssh.service","SYSLOG_IDENTIFIER":"sshd","PRIORITY":"6"}"#;
        let entry = parse_entry(line).expect("entry");
        assert_eq!(entry.cursor, "s=1;i=2");
        assert_eq!(entry.realtime_us, Some(1_700_000_000_123_456));
        assert_eq!(entry.message.as_deref(), Some("Accepted password for root"));
        assert_eq!(entry.fields["pid"], 42);
        assert_eq!(entry.fields["unit"], "ssh.service");
        let event = entry.into_event();
        assert_eq!(
            event.timestamp,
            Timestamp::from_micros(1_700_000_000_123_456)
        );
        assert_eq!(event.body["identifier"], "sshd");
    }

    #[test]
    fn byte_array_message_is_decoded_lossily() {
        let line = br#"{"__CURSOR":"c","MESSAGE":[104,105,255]}"#;
        let entry = parse_entry(line).expect("entry");
        assert_eq!(entry.message.as_deref(), Some("hi\u{fffd}"));
        assert!(entry.lossy);
    }

    #[test]
    fn null_and_repeated_fields() {
        let entry = parse_entry(br#"{"__CURSOR":"c","MESSAGE":null}"#).expect("entry");
        assert_eq!(entry.message, None);
        assert_eq!(entry.into_event().body["message_omitted"], true);
        let entry =
            parse_entry(br#"{"__CURSOR":"c","MESSAGE":["first",[115,101,99]]}"#).expect("entry");
        assert_eq!(entry.message.as_deref(), Some("first"));
    }

    #[test]
    fn rejects_what_is_not_an_entry() {
        assert!(matches!(parse_entry(b"nope"), Err(ParseError::NotJson(_))));
        assert_eq!(parse_entry(b"[1]"), Err(ParseError::NotObject));
        assert_eq!(
            parse_entry(br#"{"MESSAGE":"x"}"#),
            Err(ParseError::NoCursor)
        );
        // A byte value above 255 is not a byte string: the message counts as absent.
        let entry = parse_entry(br#"{"__CURSOR":"c","MESSAGE":[300]}"#).expect("entry");
        assert_eq!(entry.message, None);
    }
}
