//! `picket demo`: run the embedded sample through the embedded default ruleset and show
//! what picket sees. Needs no files, no network and no privileges.

use crate::ruleset;
use anyhow::Result;
use picket_event::{Alert, EveMode, Event, Timestamp};
use picket_hids::Input;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print each alert as an EVE JSON line instead of the table.
    #[arg(long)]
    pub eve: bool,
}

pub fn run(args: Args) -> Result<i32> {
    let (ruleset, report) = ruleset::load(&[])?;
    let sample = ruleset::demo_sample();
    let mut session = ruleset.session();
    if !args.eve {
        println!("picket demo: host analysis of a bundled log sample with picket's own ruleset");
        println!(
            "  ruleset: {}",
            report.describe().lines().next().unwrap_or("")
        );
        println!();
        println!("{:<7} {:<5} {:<44} log", "rule", "level", "description");
    }
    let base = Timestamp::now();
    let mut alerts = 0;
    let mut lines = 0;
    for (i, line) in sample.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        lines += 1;
        let outcome = session.process(Input {
            line,
            location: "demo.log",
            agent: "demo",
            default_hostname: "demo",
            time: Timestamp::from_secs(base.as_secs() + i as i64),
        });
        let Some(rule) = outcome.rule.as_ref().filter(|_| outcome.alert) else {
            continue;
        };
        alerts += 1;
        if args.eve {
            let mut cause = Event::new(base, "log");
            cause.host = Some(outcome.hostname.clone());
            cause.endpoints.src_ip = outcome.fields.get("srcip").map(str::to_string);
            let alert = Alert {
                engine: "hids".into(),
                signature_id: u64::from(rule.id),
                rev: 1,
                signature: rule.description.clone(),
                category: rule.groups.join(","),
                severity: Alert::severity_from_level(rule.level),
                level: Some(rule.level),
                groups: rule.groups.to_vec(),
                mitre: rule.mitre.to_vec(),
            };
            println!(
                "{}",
                alert.into_event(&cause).to_eve_line(EveMode::Extended)
            );
        } else {
            let description: String = rule.description.chars().take(44).collect();
            let log: String = outcome.log.chars().take(60).collect();
            println!(
                "{:<7} {:<5} {:<44} {}",
                rule.id, rule.level, description, log
            );
        }
    }
    if !args.eve {
        println!();
        println!("{alerts} alerts from {lines} log lines.");
        println!(
            "Try: echo '<a log line>' | picket logtest    (or --ruleset DIR for OSSEC/Wazuh rules)"
        );
    }
    Ok(0)
}
