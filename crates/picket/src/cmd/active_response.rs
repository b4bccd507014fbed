//! The manager's side of active response: alerts in, `picket.Respond` requests out.
//!
//! Which alert asks for what lives in the firewall policy's `[response]` triggers and is
//! decided by the pure [`picket_firewall::decide`]. This module only carries the decisions:
//! each request line goes to the configured command (on Qubes `qrexec-client-vm <netvm>
//! picket.Respond`), on a worker thread so a slow net qube never stalls ingest, and every
//! outcome (sent with its reply, refused in the core, failed, or dropped at the queue cap)
//! is stored as a `response` event beside the alerts.

use anyhow::{bail, Context, Result};
use picket_event::{Event, Timestamp};
use picket_firewall::{decide, AlertFields, Decision, Limits, Policy};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Requests waiting for the worker; past this, alerts are still stored but their responses
/// are dropped and recorded as dropped (a flood must not queue unbounded process spawns).
const QUEUE_CAP: usize = 256;
/// The same request line is not re-sent within this window: a brute force raises one alert
/// per attempt, and one ban is enough.
const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Most request lines remembered for the repeat window.
const REMEMBERED_CAP: usize = 4096;
/// The reply of `picket respond` is one short line; more is cut.
const REPLY_CAP: u64 = 512;

/// What the manager needs to turn alerts into requests.
#[derive(Debug)]
pub struct Responder {
    policy: Policy,
    limits: Limits,
    queue: SyncSender<Outcome>,
    recent: HashMap<String, Instant>,
}

/// One decision on its way to the worker, with the source whose alert caused it.
#[derive(Debug)]
pub struct Outcome {
    pub source: String,
    pub rule: u64,
    pub decision: Decision,
}

impl Responder {
    /// Load the policy and start nothing yet: the caller owns the receiving end and runs
    /// [`run_worker`] on it.
    pub fn new(policy_path: &Path) -> Result<(Responder, Receiver<Outcome>)> {
        let policy = Policy::load(policy_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        if policy.response.triggers.is_empty() {
            bail!(
                "{}: no [[response.trigger]]: active response would never act",
                policy_path.display()
            );
        }
        let limits = Limits::from_policy(&policy);
        let (queue, receiver) = sync_channel(QUEUE_CAP);
        Ok((
            Responder {
                policy,
                limits,
                queue,
                recent: HashMap::new(),
            },
            receiver,
        ))
    }

    /// Decide on one stored alert (its EVE JSON) and queue what it asks for. Returns the
    /// outcomes that could not be queued, for the caller to record.
    pub fn on_alert(&mut self, source: &str, eve: &str) -> Vec<Outcome> {
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(eve) else {
            return Vec::new();
        };
        let alert = record.get("alert");
        let picket = record.get("picket");
        let rule = alert
            .and_then(|a| a.get("signature_id"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let level = picket
            .and_then(|p| p.get("level"))
            .and_then(Value::as_u64)
            .and_then(|l| u8::try_from(l).ok())
            .unwrap_or(0);
        let groups: Vec<String> = picket
            .and_then(|p| p.get("groups"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let fields = AlertFields {
            rule_id: rule,
            level,
            groups: &groups,
            src_ip: record.get("src_ip").and_then(Value::as_str),
            dest_ip: record.get("dest_ip").and_then(Value::as_str),
        };
        let now = Instant::now();
        let mut unqueued = Vec::new();
        for decision in decide(&self.policy, &self.limits, &fields) {
            // Refusals repeat as often as sends would: remember both.
            {
                let (Decision::Send(request) | Decision::Refused { request, .. }) = &decision;
                let line = request.to_line();
                if self
                    .recent
                    .get(&line)
                    .is_some_and(|at| now.duration_since(*at) < REPEAT_WINDOW)
                {
                    continue;
                }
                if self.recent.len() >= REMEMBERED_CAP {
                    self.recent
                        .retain(|_, at| now.duration_since(*at) < REPEAT_WINDOW);
                }
                self.recent.insert(line, now);
            }
            let outcome = Outcome {
                source: source.to_string(),
                rule,
                decision,
            };
            match self.queue.try_send(outcome) {
                Ok(()) => {}
                Err(TrySendError::Full(o) | TrySendError::Disconnected(o)) => unqueued.push(o),
            }
        }
        unqueued
    }
}

/// Carry out queued outcomes until the manager drops its [`Responder`]: send each request
/// line to `command` and record the result with `record`.
pub fn run_worker(
    receiver: Receiver<Outcome>,
    command: Vec<String>,
    mut record: impl FnMut(Event),
) {
    for outcome in receiver {
        let (status, reply) = match &outcome.decision {
            Decision::Send(request) => match send(&command, &request.to_line()) {
                Ok(reply) if reply == "ok" => ("sent", reply),
                Ok(reply) => ("refused", reply),
                Err(e) => ("failed", format!("{e:#}")),
            },
            Decision::Refused { why, .. } => ("refused", format!("refused in the manager: {why}")),
        };
        record(response_event(&outcome, status, &reply));
    }
}

/// The `response` event recording what happened to one decision.
pub fn response_event(outcome: &Outcome, status: &str, reply: &str) -> Event {
    let request = match &outcome.decision {
        Decision::Send(r) | Decision::Refused { request: r, .. } => r,
    };
    let mut event = Event::new(Timestamp::now(), "response");
    event.host = Some(outcome.source.clone());
    let mut body = Map::new();
    body.insert("request".into(), Value::from(request.to_line()));
    body.insert("action".into(), Value::from(request.verb()));
    body.insert("target".into(), Value::from(request.addr().to_string()));
    body.insert("status".into(), Value::from(status));
    body.insert("reply".into(), Value::from(reply));
    body.insert("rule".into(), Value::from(outcome.rule));
    event.body = Value::Object(body);
    event
}

/// Run `command` with `line` on its standard input and return its first reply line.
fn send(command: &[String], line: &str) -> Result<String> {
    let Some((program, args)) = command.split_first() else {
        bail!("no response command configured");
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .with_context(|| format!("cannot write to {program}"))?;
    }
    let mut reply = String::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(REPLY_CAP)
            .read_to_string(&mut reply)
            .with_context(|| format!("cannot read the reply of {program}"))?;
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {program}"))?;
    let reply = reply.lines().next().unwrap_or("").trim().to_string();
    if reply.is_empty() && !status.success() {
        bail!("{program} exited with {status} and no reply");
    }
    Ok(reply)
}
