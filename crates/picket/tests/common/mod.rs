//! What the tests that run picket as real processes share: starting it, reaping it, and
//! reading back the alerts a manager stored.
//!
//! Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};

/// Kills the process when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `picket` binary built for these tests.
pub fn picket() -> Command {
    Command::new(env!("CARGO_BIN_EXE_picket"))
}

/// The alerts stored in `db`, newest first, as `picket alerts --json` prints them; empty
/// until the manager has created the database.
pub fn alerts(db: &Path) -> Vec<serde_json::Value> {
    let out = picket()
        .args(["alerts", "--json", "-n", "1000", "--db"])
        .arg(db)
        .output()
        .expect("picket alerts runs");
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// An alert's rule id.
pub fn sid(alert: &serde_json::Value) -> u64 {
    alert["alert"]["signature_id"].as_u64().unwrap_or(0)
}
