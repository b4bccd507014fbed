//! `picket respond`: the `picket.Respond` qrexec service in a net qube.
//!
//! One request line on stdin, one answer line on stdout (`ok` or `refused: REASON`), one EVE
//! `response` event appended to the log for every call, refused or not. The caller is who
//! dom0 says it is (`QREXEC_REMOTE_DOMAIN`), never what the payload claims; only the policy's
//! `response.manager_qube` is obeyed. The request is checked against the policy last applied
//! with `picket fw apply` (its allowlist and ban limits), then carried out as `picket fw`
//! would.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use picket_event::{EveMode, Event, Timestamp};
use picket_firewall::response::MAX_REQUEST_LINE;
use picket_firewall::{Limits, Policy, Refusal, Request};
use serde_json::{json, Value};

use super::fw::{execute, Opts};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Append one EVE JSON line per request here.
    #[arg(long, default_value = "/var/log/picket/respond.json")]
    pub log: PathBuf,
    #[command(flatten)]
    pub opts: Opts,
}

pub fn run(args: Args) -> Result<i32> {
    let caller = std::env::var("QREXEC_REMOTE_DOMAIN").unwrap_or_default();
    let mut raw = Vec::with_capacity(MAX_REQUEST_LINE + 2);
    // Read at most one byte past the longest line: enough to tell "too long" from "fits".
    std::io::stdin()
        .lock()
        .take(MAX_REQUEST_LINE as u64 + 2)
        .read_to_end(&mut raw)?;
    let outcome = handle(&args, &caller, &raw);
    let (answer, code) = match &outcome {
        Ok(_) => ("ok".to_string(), 0),
        Err(reason) => (format!("refused: {reason}"), 1),
    };
    let logged = log_event(&args, &caller, &raw, &outcome);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{answer}")?;
    out.flush()?;
    logged.context("writing the response log")?;
    Ok(code)
}

/// The request, once carried out; or why not, as told to the caller.
fn handle(args: &Args, caller: &str, raw: &[u8]) -> Result<Request, String> {
    // The caller first: an unknown caller learns nothing about the policy or the request.
    let policy = Policy::load(&args.opts.state_dir.join("policy.toml"))
        .map_err(|_| "no policy applied in this qube".to_string())?;
    let limits = Limits::from_policy(&policy);
    limits.caller_ok(caller).map_err(|e| e.to_string())?;
    let line = match raw.iter().position(|&b| b == b'\n') {
        Some(end) if end + 1 == raw.len() => &raw[..end],
        Some(_) => return Err(Refusal::Malformed("one line only".into()).to_string()),
        None if raw.len() > MAX_REQUEST_LINE => {
            return Err(Refusal::Malformed("line too long".into()).to_string())
        }
        None => raw,
    };
    let line = std::str::from_utf8(line)
        .map_err(|_| Refusal::Malformed("not UTF-8".into()).to_string())?;
    let request = Request::parse_line(line).map_err(|e| e.to_string())?;
    request.check(&limits).map_err(|e| e.to_string())?;
    execute(&args.opts, request).map_err(|e| format!("failed: {e:#}"))?;
    Ok(request)
}

fn log_event(
    args: &Args,
    caller: &str,
    raw: &[u8],
    outcome: &Result<Request, String>,
) -> Result<()> {
    let mut event = Event::new(Timestamp::now(), "response");
    let shown: String = String::from_utf8_lossy(&raw[..raw.len().min(MAX_REQUEST_LINE)])
        .trim_end_matches('\n')
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let mut body = json!({
        "service": "picket.Respond",
        "caller": caller.chars().take(64).collect::<String>(),
        "request": shown,
    });
    match outcome {
        Ok(request) => {
            body["result"] = Value::from("ok");
            body["action"] = Value::from(request.verb());
            body["target"] = Value::from(request.addr().to_string());
            if let Request::Ban { timeout, .. } = request {
                body["timeout"] = json!(timeout);
            }
            event.endpoints.dest_ip = Some(request.addr().to_string());
        }
        Err(reason) => {
            body["result"] = Value::from("refused");
            body["reason"] = Value::from(reason.as_str());
        }
    }
    event.body = body;
    if let Some(parent) = args.log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)
        .with_context(|| format!("opening {}", args.log.display()))?;
    let mut line = event.to_eve_line(EveMode::Extended);
    line.push('\n');
    file.write_all(line.as_bytes())?;
    Ok(())
}
