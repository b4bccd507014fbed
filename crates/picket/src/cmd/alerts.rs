//! `picket alerts`: show stored alerts, for people (a coloured table) or for programs (EVE
//! JSON lines), and follow new ones as the manager stores them.
//!
//! Rows print oldest first, so the newest alert sits next to the prompt and `--follow`
//! simply continues the list. The store is opened read-only: this command never migrates
//! or writes the manager's database.

use anyhow::{bail, Context, Result};
use picket_event::Timestamp;
use picket_store::{AlertQuery, Store, StoredEvent};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database file (default: picket.db in the data directory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Data directory (default: $PICKET_DATA_DIR, else $XDG_DATA_HOME/picket, else
    /// ~/.local/share/picket).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep running and print new alerts as they are stored.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only alerts from this source (qube or host).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Only alerts of at least this rule level (OSSEC levels, 0-16).
    #[arg(long, value_name = "N")]
    pub min_level: Option<u8>,
    /// Only alerts at least this severe (EVE severity: 1 is the worst, 4 the least).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub severity: Option<u8>,
    /// Only alerts of this rule (signature id).
    #[arg(long, value_name = "ID")]
    pub rule: Option<u64>,
    /// Only alerts at or after TIME: an age such as 30s, 15m, 2h, 7d, or a UTC time such as
    /// 2026-11-27, 2026-11-27T10:00 or 2026-11-27 10:00:00, or @UNIX-SECONDS.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only alerts before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only alerts whose EVE text contains TEXT (ASCII case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
    /// Print EVE JSON lines, exactly as stored, for programs.
    #[arg(long)]
    pub json: bool,
    /// How many of the newest alerts to show first.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 50)]
    pub limit: usize,
    /// When to colour the table: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto",
          value_parser = ["auto", "always", "never"])]
    pub color: String,
}

/// How often follow mode looks for new rows.
const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// Rows fetched per poll in follow mode.
const FOLLOW_PAGE: usize = 1000;

pub fn run(args: Args) -> Result<i32> {
    let path = database_path(&args)?;
    let store = Store::open_read_only(&path).with_context(|| {
        format!(
            "opening {} (the manager creates it; --db or --data-dir choose another)",
            path.display()
        )
    })?;
    let now = Timestamp::now();
    let query = AlertQuery {
        source: args.source.clone(),
        min_level: args.min_level,
        max_severity: args.severity,
        rule_id: args.rule,
        since: args
            .since
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()
            .context("--since")?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()
            .context("--until")?,
        text: args.grep.clone(),
        after_id: None,
        limit: Some(args.limit),
    };
    let colour = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let printer = Printer {
        json: args.json,
        colour,
    };
    // A closed pipe (`| head`) ends the command quietly.
    match show(&store, query, args.follow, &printer) {
        Err(error) if is_broken_pipe(&error) => Ok(0),
        other => other,
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn database_path(args: &Args) -> Result<PathBuf> {
    if let Some(db) = &args.db {
        return Ok(db.clone());
    }
    let dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => picket_store::default_data_dir()
            .context("no data directory: set --db, --data-dir, PICKET_DATA_DIR or HOME")?,
    };
    Ok(dir.join(picket_store::DB_FILE_NAME))
}

fn show(store: &Store, mut query: AlertQuery, follow: bool, printer: &Printer) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    // Taken before the first query: an alert committed in between is either in that
    // query's rows or after this id, so follow mode neither misses nor repeats it.
    let start = store.last_id()?;
    // Newest first from the store; shown oldest first.
    let mut rows = store.alerts(&query)?;
    rows.reverse();
    for row in &rows {
        printer.print(&mut out, row)?;
    }
    out.flush()?;
    if !follow {
        if rows.is_empty() && !printer.json {
            eprintln!("no alerts match");
        }
        return Ok(0);
    }
    let mut cursor = rows.last().map_or(start, |r| r.id.max(start));
    query.limit = Some(FOLLOW_PAGE);
    loop {
        query.after_id = Some(cursor);
        let rows = store.alerts(&query)?;
        for row in &rows {
            printer.print(&mut out, row)?;
            cursor = row.id;
        }
        out.flush()?;
        if rows.len() < FOLLOW_PAGE {
            std::thread::sleep(FOLLOW_POLL);
        }
    }
}

/// Renders stored alerts: the table (coloured or not) or EVE lines as stored. `picket demo`
/// shows its alerts with it too.
pub(crate) struct Printer {
    pub json: bool,
    pub colour: bool,
}

impl Printer {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    pub fn auto(json: bool) -> Printer {
        Printer {
            json,
            colour: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub fn print(&self, out: &mut impl Write, row: &StoredEvent) -> std::io::Result<()> {
        if self.json {
            return writeln!(out, "{}", row.eve);
        }
        let eve: Value = serde_json::from_str(&row.eve).unwrap_or(Value::Null);
        let alert = &eve["alert"];
        let severity = alert["severity"].as_u64().unwrap_or(4);
        let level = eve["picket"]["level"]
            .as_u64()
            .map_or_else(|| "-".to_string(), |l| l.to_string());
        let rule = alert["signature_id"]
            .as_u64()
            .map_or_else(|| "?".to_string(), |id| id.to_string());
        let signature = alert["signature"].as_str().unwrap_or("");
        let civil = row.timestamp.civil();
        let time = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second
        );
        let src = eve["src_ip"]
            .as_str()
            .map(|ip| format!("  src {ip}"))
            .unwrap_or_default();
        let (on, off) = if self.colour {
            let on = match severity {
                1 => "\x1b[1;31m",
                2 => "\x1b[31m",
                3 => "\x1b[33m",
                _ => "\x1b[2m",
            };
            (on, "\x1b[0m")
        } else {
            ("", "")
        };
        // The source name and the signature come from agents and rules: strip control
        // characters so a hostile log line cannot drive the terminal.
        writeln!(
            out,
            "{time}  {:<14} {on}L{level:<2} sev{severity}{off}  {rule:<7} {on}{}{off}{}",
            printable(&row.source),
            printable(signature),
            printable(&src),
        )
    }
}

fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// An age (`30s`, `15m`, `2h`, `7d`, `1w`) back from `now`, a UTC date or date-time, or
/// `@` and Unix seconds.
fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp> {
    let text = text.trim();
    if let Some(secs) = text.strip_prefix('@') {
        let secs: i64 = secs.parse().context("Unix seconds after @")?;
        return Ok(Timestamp::from_secs(secs));
    }
    if let Some(unit) = text.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let number = &text[..text.len() - 1];
        if let Ok(n) = number.parse::<i64>() {
            let secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                _ => bail!("unknown unit {unit:?} in {text:?} (use s, m, h, d or w)"),
            };
            return Ok(Timestamp::from_micros(
                now.as_micros()
                    .saturating_sub(n.saturating_mul(secs).saturating_mul(1_000_000)),
            ));
        }
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, time),
        None => (text, "00:00:00"),
    };
    let number = |part: Option<&str>, what: &str| -> Result<u32> {
        part.with_context(|| format!("{text:?}: missing {what}"))?
            .parse::<u32>()
            .with_context(|| format!("{text:?}: bad {what}"))
    };
    let mut d = date.split('-');
    let year = number(d.next(), "year")?;
    let month = number(d.next(), "month")?;
    let day = number(d.next(), "day")?;
    let time = time.trim_end_matches('Z');
    let mut t = time.split(':');
    let hour = number(t.next(), "hour")?;
    let minute = number(t.next().or(Some("0")), "minute")?;
    let second = number(t.next().or(Some("0")), "second")?;
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        bail!(
            "{text:?} is not a time: use an age like 2h, YYYY-MM-DD[THH:MM[:SS]] (UTC) or @SECONDS"
        );
    }
    Ok(Timestamp::from_civil(
        i64::from(year),
        month,
        day,
        hour,
        minute,
        second,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_ages_dates_and_unix_seconds() {
        let now = Timestamp::from_secs(1_800_000_000);
        let at = |t: &str| parse_time(t, now).map(Timestamp::as_secs).ok();
        assert_eq!(at("90s"), Some(1_800_000_000 - 90));
        assert_eq!(at("2h"), Some(1_800_000_000 - 7200));
        assert_eq!(at("1d"), Some(1_800_000_000 - 86_400));
        assert_eq!(at("@1700000000"), Some(1_700_000_000));
        assert_eq!(at("2023-11-14"), Some(1_699_920_000));
        assert_eq!(at("2023-11-14T22:13:20"), Some(1_700_000_000));
        assert_eq!(at("2023-11-14 22:13"), Some(1_699_999_980));
        assert_eq!(at("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        for bad in [
            "",
            "yesterday",
            "5y",
            "2023-13-01",
            "2023-11-14T25:00",
            "2023-11",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("a\x1b[2Jb\n"), "a\u{fffd}[2Jb\u{fffd}");
    }
}
