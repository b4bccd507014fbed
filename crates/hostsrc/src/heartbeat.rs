//! Heartbeat: the agent's own counters at a fixed interval. A qube whose heartbeats stop is
//! the signal that matters most, since an agent in a compromised qube can be silenced.

use crate::{Counters, Error, Source};
use picket_event::{Event, Timestamp};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The counters reported: each source's by name, and an optional spool size.
#[derive(Debug, Default)]
pub struct Registry {
    sources: Vec<(String, Arc<Counters>)>,
    /// Bytes in the transport's spool, when there is one (set by whoever owns it).
    pub spool_bytes: Option<Arc<AtomicU64>>,
}

impl Registry {
    /// Counters for a new source called `name`.
    pub fn register(&mut self, name: &str) -> Arc<Counters> {
        let counters = Arc::new(Counters::default());
        self.sources.push((name.to_string(), counters.clone()));
        counters
    }
}

/// The heartbeat source.
#[derive(Debug)]
pub struct Heartbeat {
    registry: Registry,
    interval: Duration,
    started: Instant,
    next: Instant,
    seq: u64,
}

impl Heartbeat {
    /// A heartbeat every `interval`, the first one at once.
    pub fn new(registry: Registry, interval: Duration) -> Self {
        let now = Instant::now();
        Heartbeat {
            registry,
            interval: interval.max(Duration::from_millis(10)),
            started: now,
            next: now,
            seq: 0,
        }
    }

    /// The heartbeat record as it would be sent now.
    pub fn record(&mut self) -> Event {
        let mut sources = Map::new();
        for (name, c) in &self.registry.sources {
            let mut m = Map::new();
            m.insert(
                "records".into(),
                Value::from(c.records.load(Ordering::Relaxed)),
            );
            m.insert("drops".into(), Value::from(c.drops.load(Ordering::Relaxed)));
            sources.insert(name.clone(), Value::Object(m));
        }
        let mut body = Map::new();
        body.insert("seq".into(), Value::from(self.seq));
        body.insert(
            "uptime_s".into(),
            Value::from(self.started.elapsed().as_secs()),
        );
        body.insert(
            "interval_s".into(),
            Value::from(self.interval.as_secs_f64()),
        );
        body.insert("sources".into(), Value::Object(sources));
        if let Some(spool) = &self.registry.spool_bytes {
            body.insert(
                "spool_bytes".into(),
                Value::from(spool.load(Ordering::Relaxed)),
            );
        }
        let (rss, hwm) = own_memory_kib();
        if let Some(rss) = rss {
            body.insert("rss_kib".into(), Value::from(rss));
        }
        if let Some(hwm) = hwm {
            body.insert("peak_rss_kib".into(), Value::from(hwm));
        }
        self.seq += 1;
        let mut event = Event::new(Timestamp::now(), "heartbeat");
        event.body = Value::Object(body);
        event
    }
}

/// VmRSS and VmHWM of this process, from /proc/self/status.
pub fn own_memory_kib() -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    (field("VmRSS:"), field("VmHWM:"))
}

impl Source for Heartbeat {
    fn name(&self) -> &str {
        "heartbeat"
    }

    fn poll(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), Error> {
        let now = Instant::now();
        if now < self.next {
            std::thread::sleep(timeout.min(self.next - now));
        }
        if Instant::now() >= self.next {
            out.push(self.record());
            // Keep to the schedule; after a long stall, restart it rather than burst.
            self.next += self.interval;
            if self.next < Instant::now() {
                self.next = Instant::now() + self.interval;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_carry_counters_and_keep_their_interval() {
        let mut registry = Registry::default();
        let tail = registry.register("tail");
        registry.spool_bytes = Some(Arc::new(AtomicU64::new(4096)));
        tail.add_records(7);
        tail.add_drops(1);
        let mut hb = Heartbeat::new(registry, Duration::from_millis(100));
        let started = Instant::now();
        let mut out = Vec::new();
        while out.len() < 3 {
            hb.poll(Duration::from_millis(500), &mut out).expect("poll");
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let e = &out[0];
        assert_eq!(e.event_type, "heartbeat");
        assert_eq!(e.body["sources"]["tail"]["records"], 7);
        assert_eq!(e.body["sources"]["tail"]["drops"], 1);
        assert_eq!(e.body["spool_bytes"], 4096);
        assert!(e.body["rss_kib"].as_u64().unwrap_or(0) > 0);
        assert_eq!(out[2].body["seq"], 2);
    }
}
