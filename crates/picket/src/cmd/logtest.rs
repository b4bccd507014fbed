//! `picket logtest`: test log lines against decoders and rules, as `ossec-logtest` does.

use crate::ruleset;
use anyhow::{bail, Context, Result};
use picket_event::Timestamp;
use picket_hids::{Input, Outcome};
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A ruleset root (rules/, decoders/ or etc/decoder.xml, lists/). Repeatable; later roots
    /// may overwrite rules of earlier ones. Default: picket's own embedded ruleset.
    #[arg(long = "ruleset", value_name = "DIR")]
    pub rulesets: Vec<PathBuf>,
    /// Load only the rule files this `ossec.conf` includes, in its order (as OSSEC does).
    #[arg(long, value_name = "FILE")]
    pub ossec_conf: Option<PathBuf>,
    /// One JSON object per line instead of the phase-by-phase text.
    #[arg(long)]
    pub json: bool,
    /// Unit test: exit 0 only when the last line matched RULE:LEVEL:DECODER.
    #[arg(short = 'U', value_name = "RULE:LEVEL:DECODER")]
    pub unit: Option<String>,
    /// Location reported for the lines (the file or source they came from).
    #[arg(long, default_value = "stdin")]
    pub location: String,
    /// Hostname used when a line's header names none.
    #[arg(long, default_value = "picket")]
    pub hostname: String,
    /// Print only alerts (and the summary of the ruleset on stderr).
    #[arg(short = 'a', long)]
    pub alerts_only: bool,
}

pub fn run(args: Args) -> Result<i32> {
    let expected = match &args.unit {
        None => None,
        Some(spec) => {
            let parts: Vec<&str> = spec.splitn(3, ':').collect();
            if parts.len() != 3 {
                bail!("-U expects RULE:LEVEL:DECODER, got {spec:?}");
            }
            Some((
                parts[0].to_string(),
                parts[1].to_string(),
                parts[2].to_string(),
            ))
        }
    };
    let (ruleset, report) = ruleset::load_with_conf(&args.rulesets, args.ossec_conf.as_deref())?;
    eprintln!("picket logtest: {}", report.describe());
    let mut session = ruleset.session();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut last: Option<Outcome> = None;
    let mut buffer = Vec::new();
    let mut reader = stdin.lock();
    loop {
        buffer.clear();
        // Lines are attacker-controlled: read bytes and decode lossily rather than fail on
        // invalid UTF-8.
        let read = reader
            .read_until(b'\n', &mut buffer)
            .context("reading stdin")?;
        if read == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buffer);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        let outcome = session.process(Input {
            line,
            location: &args.location,
            agent: "local",
            default_hostname: &args.hostname,
            time: Timestamp::now(),
        });
        if args.json {
            writeln!(out, "{}", outcome_json(&outcome))?;
        } else if !args.alerts_only || outcome.alert {
            write_phases(&mut out, &outcome)?;
        }
        last = Some(outcome);
    }
    out.flush()?;
    if let Some((rule, level, decoder)) = expected {
        let ok = last.as_ref().is_some_and(|o| {
            let got_rule = o
                .rule
                .as_ref()
                .map(|r| r.id.to_string())
                .unwrap_or_default();
            let got_level = o
                .rule
                .as_ref()
                .map(|r| r.level.to_string())
                .unwrap_or_default();
            got_rule == rule && got_level == level && o.decoder.as_deref() == Some(decoder.as_str())
        });
        return Ok(if ok { 0 } else { 1 });
    }
    Ok(0)
}

pub fn outcome_json(o: &Outcome) -> serde_json::Value {
    let fields: serde_json::Map<String, serde_json::Value> = o
        .fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
        .collect();
    serde_json::json!({
        "predecoder": {
            "timestamp": o.timestamp,
            "hostname": o.hostname,
            "program_name": o.program_name,
        },
        "full_log": o.full_log,
        "location": o.location,
        "decoder": o.decoder.as_ref().map(|name| serde_json::json!({"name": name, "parent": o.parent_decoder})),
        "data": fields,
        "rule": o.rule.as_ref().map(|r| serde_json::json!({
            "id": r.id.to_string(),
            "level": r.level,
            "description": r.description,
            "groups": &*r.groups,
            "mitre": {"id": &*r.mitre},
        })),
        "alert": o.alert,
    })
}

fn write_phases(out: &mut impl Write, o: &Outcome) -> std::io::Result<()> {
    writeln!(out, "\n**Phase 1: Completed pre-decoding.")?;
    writeln!(out, "       full event: '{}'", o.full_log)?;
    if let Some(ts) = &o.timestamp {
        writeln!(out, "       timestamp: '{ts}'")?;
    }
    writeln!(out, "       hostname: '{}'", o.hostname)?;
    if let Some(p) = &o.program_name {
        writeln!(out, "       program_name: '{p}'")?;
    }
    writeln!(out, "       log: '{}'", o.log)?;
    writeln!(out, "\n**Phase 2: Completed decoding.")?;
    match &o.decoder {
        None => writeln!(out, "       No decoder matched.")?,
        Some(name) => {
            writeln!(out, "       name: '{name}'")?;
            if let Some(parent) = o.parent_decoder.as_ref().filter(|p| *p != name) {
                writeln!(out, "       parent: '{parent}'")?;
            }
            for (key, value) in o.fields.iter() {
                writeln!(out, "       {key}: '{value}'")?;
            }
        }
    }
    if let Some(rule) = &o.rule {
        writeln!(out, "\n**Phase 3: Completed filtering (rules).")?;
        writeln!(out, "       id: '{}'", rule.id)?;
        writeln!(out, "       level: '{}'", rule.level)?;
        writeln!(out, "       description: '{}'", rule.description)?;
        writeln!(out, "       groups: '{}'", rule.groups.join(", "))?;
        if !rule.mitre.is_empty() {
            writeln!(out, "       mitre.id: '{}'", rule.mitre.join(", "))?;
        }
        if o.alert {
            writeln!(out, "**Alert to be generated.")?;
        }
    }
    Ok(())
}
