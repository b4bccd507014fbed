//! Package-manager runs: while one is running, file changes are its doing more often than not,
//! and one summary says more than a thousand events.
//!
//! A run is "a process whose name is one of the configured package managers exists". Reading
//! `/proc/*/comm` is cheap and needs no lock protocol; it is only done while changes arrive or a
//! run is open. An attacker with root can name a process `dpkg` too, so the summary keeps the
//! count, the kinds of change and sample paths, for the manager's rules to judge.

use picket_event::{Event, Timestamp};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// Sample paths kept in a summary.
const SAMPLES: usize = 10;

/// The default names looked for (`comm`, at most 15 bytes).
pub fn default_names() -> Vec<String> {
    [
        "dpkg",
        "apt",
        "apt-get",
        "aptitude",
        "unattended-upgr",
        "rpm",
        "dnf",
        "dnf-3",
        "yum",
        "microdnf",
        "zypper",
        "pacman",
        "apk",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Finds running package managers, at most once per half second.
#[derive(Debug)]
pub struct PackageWatch {
    names: Vec<String>,
    last: Option<(Instant, Vec<String>)>,
}

impl PackageWatch {
    pub fn new(names: Vec<String>) -> Self {
        PackageWatch { names, last: None }
    }

    /// Names of the package managers running now (empty when none).
    pub fn running(&mut self) -> Vec<String> {
        if let Some((at, found)) = &self.last {
            if at.elapsed() < Duration::from_millis(500) {
                return found.clone();
            }
        }
        let mut found = Vec::new();
        if !self.names.is_empty() {
            if let Ok(dir) = std::fs::read_dir("/proc") {
                for entry in dir.flatten() {
                    let name = entry.file_name();
                    if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
                        continue;
                    }
                    let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
                        continue;
                    };
                    let comm = comm.trim_end();
                    if self.names.iter().any(|n| n == comm) && !found.iter().any(|f| f == comm) {
                        found.push(comm.to_string());
                    }
                }
            }
        }
        found.sort();
        self.last = Some((Instant::now(), found.clone()));
        found
    }
}

/// Changes gathered during one package-manager run.
#[derive(Debug)]
pub struct PackageRun {
    started: Timestamp,
    managers: Vec<String>,
    added: u64,
    removed: u64,
    modified: u64,
    samples: Vec<String>,
}

impl PackageRun {
    pub fn new(managers: Vec<String>) -> Self {
        PackageRun {
            started: Timestamp::now(),
            managers,
            added: 0,
            removed: 0,
            modified: 0,
            samples: Vec::new(),
        }
    }

    /// Count one change.
    pub fn add(&mut self, action: &str, path: &str, managers: &[String]) {
        match action {
            "added" => self.added += 1,
            "removed" => self.removed += 1,
            _ => self.modified += 1,
        }
        for m in managers {
            if !self.managers.contains(m) {
                self.managers.push(m.clone());
            }
        }
        if self.samples.len() < SAMPLES {
            self.samples.push(path.to_string());
        }
    }

    /// Changes counted so far.
    pub fn count(&self) -> u64 {
        self.added + self.removed + self.modified
    }

    /// The one summary event of this run.
    pub fn into_event(self) -> Event {
        let mut body = Map::new();
        let changes = self.count();
        body.insert("action".into(), Value::from("package_run"));
        body.insert("package_managers".into(), Value::from(self.managers));
        body.insert("changes".into(), Value::from(changes));
        body.insert("added".into(), Value::from(self.added));
        body.insert("removed".into(), Value::from(self.removed));
        body.insert("modified".into(), Value::from(self.modified));
        body.insert("sample_paths".into(), Value::from(self.samples));
        body.insert("started".into(), Value::from(self.started.to_string()));
        let mut event = Event::new(Timestamp::now(), "fim");
        event.body = Value::Object(body);
        event
    }
}
