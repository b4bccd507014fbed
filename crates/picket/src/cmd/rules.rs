//! `picket rules check`: load Suricata rule files and report what loaded, what was skipped
//! (by the keyword that caused it) and how long it took.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use picket_nids::{Classifications, LoadOptions, Ruleset, Variables};

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Load Suricata rule files and report what loaded and what was skipped, by keyword.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Rule files or directories (every *.rules file in a directory, sorted).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// List every skipped rule with file:line:column and the reason.
    #[arg(short, long)]
    verbose: bool,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
    /// TOML file with [address-groups] and [port-groups] overriding the default variables.
    #[arg(long)]
    vars: Option<PathBuf>,
    /// classification.config to check classtypes against (default: one found next to the rules).
    #[arg(long)]
    classification: Option<PathBuf>,
    /// Also load commented-out rules.
    #[arg(long)]
    include_disabled: bool,
    /// Exit with status 1 when any rule was skipped.
    #[arg(long)]
    strict: bool,
}

pub fn run(command: RulesCommand) -> Result<i32> {
    match command {
        RulesCommand::Check(args) => check(args),
    }
}

pub(crate) fn rule_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading directory {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "rules"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

pub(crate) fn find_classification(inputs: &[PathBuf]) -> Option<PathBuf> {
    inputs.iter().find_map(|p| {
        let dir = if p.is_dir() {
            p.as_path()
        } else {
            p.parent().unwrap_or(Path::new("."))
        };
        let c = dir.join("classification.config");
        c.is_file().then_some(c)
    })
}

fn check(args: CheckArgs) -> Result<i32> {
    let started = Instant::now();
    let vars = match &args.vars {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Variables::from_toml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => Variables::default(),
    };
    let class_path = args
        .classification
        .clone()
        .or_else(|| find_classification(&args.files));
    let classifications = match &class_path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let (c, errors) = Classifications::parse(&text);
            for e in errors {
                eprintln!("picket: {}:{e}", p.display());
            }
            Some(c)
        }
        None => None,
    };
    let files = rule_files(&args.files)?;
    let mut ruleset = Ruleset::new(LoadOptions {
        vars,
        classifications,
        include_disabled: args.include_disabled,
    });
    let mut read_time = Duration::ZERO;
    for f in &files {
        let t = Instant::now();
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        read_time += t.elapsed();
        let text = String::from_utf8_lossy(&bytes);
        ruleset.add_source(&f.display().to_string(), &text);
    }
    let elapsed = started.elapsed();
    let loaded = ruleset.rules.len();
    let skipped = ruleset.skipped.len();
    let by_keyword = ruleset.skips_by_keyword();

    if args.json {
        let report = serde_json::json!({
            "files": files.len(),
            "classification": class_path.map(|p| p.display().to_string()),
            "loaded": loaded,
            "skipped": skipped,
            "disabled": ruleset.disabled,
            "loaded_percent": ruleset.loaded_percent(),
            "load_seconds": elapsed.as_secs_f64(),
            "read_seconds": read_time.as_secs_f64(),
            "skipped_by_keyword": by_keyword.iter().map(|(k, n)| serde_json::json!({"keyword": k, "count": n})).collect::<Vec<_>>(),
            "skipped_rules": ruleset.skipped.iter().map(|s| serde_json::json!({
                "file": ruleset.sources[s.source],
                "line": s.error.position.line,
                "column": s.error.position.column,
                "keyword": s.error.keyword,
                "reason": s.error.kind.to_string(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("files:    {}", files.len());
        if let Some(p) = &class_path {
            println!("classes:  {}", p.display());
        }
        println!(
            "loaded:   {loaded} of {} enabled rules ({:.2} %)",
            loaded + skipped,
            ruleset.loaded_percent()
        );
        println!("skipped:  {skipped}");
        println!("disabled: {} (commented out, not loaded)", ruleset.disabled);
        println!(
            "time:     {:.3} s (reading files {:.3} s)",
            elapsed.as_secs_f64(),
            read_time.as_secs_f64()
        );
        if !by_keyword.is_empty() {
            println!("\nskipped by keyword:");
            println!("  {:>7}  keyword", "rules");
            for (k, n) in &by_keyword {
                println!("  {n:>7}  {k}");
            }
        }
        if args.verbose && skipped > 0 {
            println!("\nskipped rules:");
            for s in &ruleset.skipped {
                println!("  {}:{}", ruleset.sources[s.source], s.error);
            }
        }
    }
    Ok(if args.strict && skipped > 0 { 1 } else { 0 })
}
