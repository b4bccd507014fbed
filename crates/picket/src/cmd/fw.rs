//! `picket fw`: compile, check, diff, apply and roll back the nftables policy; bans and
//! quarantine by hand; a watch that puts bans back after a flush.
//!
//! Everything is in `table inet picket`; no other table is read or written. The state
//! directory keeps the policy last applied (its allowlist guards every ban), the table as it
//! was before the last apply (for `rollback`), and the bans and quarantines with their
//! expiries, so they survive `nft flush ruleset` and reboots.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use picket_firewall::compile::{BAN4, BAN6, TABLE};
use picket_firewall::listing::{line_diff, listed_objects, stale_deletions, ObjectKind};
use picket_firewall::state::{self, QuarantineTarget, ResponseState};
use picket_firewall::{compile_nft, compile_qubes, Compiled, Limits, Policy, Request, Seconds};

#[derive(Debug, clap::Subcommand)]
pub enum FwCommand {
    /// Compile a policy and print the nftables script (or, with --qubes, Qubes firewall rules).
    Compile {
        policy: PathBuf,
        /// Print Qubes firewall rule lines (for qvm-firewall) instead of nftables.
        #[arg(long)]
        qubes: bool,
    },
    /// Validate a policy and its compiled script with `nft -c` (changes nothing).
    Check {
        policy: PathBuf,
        #[command(flatten)]
        opts: Opts,
    },
    /// Show how the live table inet picket differs from what the policy compiles to.
    Diff {
        policy: PathBuf,
        #[command(flatten)]
        opts: Opts,
    },
    /// Load the policy atomically, keeping the previous table for rollback; restores bans.
    Apply {
        policy: PathBuf,
        #[command(flatten)]
        opts: Opts,
    },
    /// Put back the table as it was before the last apply.
    Rollback {
        #[command(flatten)]
        opts: Opts,
    },
    /// Ban an address (both directions) for a while.
    Ban {
        addr: String,
        /// How long: 90s, 15m, 1h, 7d (default: the policy's ban_timeout).
        #[arg(long)]
        timeout: Option<String>,
        #[command(flatten)]
        opts: Opts,
    },
    /// Lift a ban.
    Unban {
        addr: String,
        #[command(flatten)]
        opts: Opts,
    },
    /// Cut a source (policy source name, address or interface) off from all but the manager.
    Quarantine {
        source: String,
        #[command(flatten)]
        opts: Opts,
    },
    /// Lift a quarantine.
    Release {
        source: String,
        #[command(flatten)]
        opts: Opts,
    },
    /// List bans and quarantines, and whether the kernel has them.
    Bans {
        #[command(flatten)]
        opts: Opts,
    },
    /// Print the DNS pin sets a policy defines (source, domain, v4 set, v6 set).
    Pins { policy: PathBuf },
    /// Re-apply the policy and bans whenever the table or a ban disappears (a flush, a reload).
    Watch {
        /// Seconds between checks.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Check once and exit.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        opts: Opts,
    },
}

/// Where state lives and which nft to run.
#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// State directory: applied policy, previous table, bans.
    #[arg(long, default_value = "/var/lib/picket/fw")]
    pub state_dir: PathBuf,
    /// The nft program.
    #[arg(long, default_value = "nft")]
    pub nft: String,
}

pub fn run(command: FwCommand) -> Result<i32> {
    match command {
        FwCommand::Compile { policy, qubes } => {
            let policy = load(&policy)?;
            if qubes {
                print!("{}", compile_qubes(&policy));
            } else {
                print!("{}", compile_nft(&policy).script);
            }
            Ok(0)
        }
        FwCommand::Check { policy, opts } => {
            let p = load(&policy)?;
            let compiled = compile_nft(&p);
            nft_run(&opts.nft, &["-c"], &compiled.script).context("nft -c rejected the script")?;
            println!(
                "ok: {} sources, {} DNS pins, kill switch {}",
                p.sources.len(),
                p.dns_pins().len(),
                if p.killswitch.is_some() { "on" } else { "off" }
            );
            Ok(0)
        }
        FwCommand::Diff { policy, opts } => diff(&policy, &opts),
        FwCommand::Apply { policy, opts } => {
            let summary = apply(&policy, &opts)?;
            println!("{summary}");
            Ok(0)
        }
        FwCommand::Rollback { opts } => rollback(&opts),
        FwCommand::Ban {
            addr,
            timeout,
            opts,
        } => {
            let addr = parse_addr(&addr)?;
            let timeout = match timeout {
                Some(t) => Some(t.parse::<Seconds>().map_err(anyhow::Error::msg)?.0),
                None => None,
            };
            let secs = execute(&opts, Request::Ban { addr, timeout })?;
            println!("banned {addr} for {}s", secs.unwrap_or(0));
            Ok(0)
        }
        FwCommand::Unban { addr, opts } => {
            let addr = parse_addr(&addr)?;
            execute(&opts, Request::Unban { addr })?;
            println!("unbanned {addr}");
            Ok(0)
        }
        FwCommand::Quarantine { source, opts } => {
            let target = quarantine_target(&opts, &source)?;
            quarantine(&opts, target.clone(), true)?;
            println!("quarantined {target}");
            Ok(0)
        }
        FwCommand::Release { source, opts } => {
            let target = quarantine_target(&opts, &source)?;
            quarantine(&opts, target.clone(), false)?;
            println!("released {target}");
            Ok(0)
        }
        FwCommand::Bans { opts } => bans(&opts),
        FwCommand::Pins { policy } => {
            for pin in load(&policy)?.dns_pins() {
                println!("{}\t{}\t{}\t{}", pin.source, pin.domain, pin.set4, pin.set6);
            }
            Ok(0)
        }
        FwCommand::Watch {
            interval,
            once,
            opts,
        } => loop {
            match watch_once(&opts) {
                Ok(Some(what)) => eprintln!("picket fw watch: {what}"),
                Ok(None) => {}
                Err(e) if once => return Err(e),
                Err(e) => eprintln!("picket fw watch: {e:#}"),
            }
            if once {
                return Ok(0);
            }
            std::thread::sleep(Duration::from_secs(interval.max(1)));
        },
    }
}

fn load(path: &Path) -> Result<Policy> {
    Policy::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_addr(text: &str) -> Result<IpAddr> {
    text.parse()
        .with_context(|| format!("`{text}` is not an IP address"))
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Run `nft [extra] -f -` with the script on stdin.
pub(crate) fn nft_run(nft: &str, extra: &[&str], script: &str) -> Result<()> {
    let mut child = Command::new(nft)
        .args(extra)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {nft}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{nft} -f failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `nft ARGS`, its stdout when it succeeds, `None` when it fails (the object is absent).
fn nft_out(nft: &str, args: &[&str]) -> Result<Option<String>> {
    let out = Command::new(nft)
        .args(args)
        .output()
        .with_context(|| format!("running {nft}"))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Our table as nft prints it without set elements or counters: the shape to compare and
/// to restore. `None` when the table does not exist.
fn live_table(nft: &str) -> Result<Option<String>> {
    nft_out(nft, &["-s", "-t", "list", "table", "inet", "picket"])
}

struct StateDir {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl StateDir {
    /// Open (creating) the state directory and hold its lock until dropped, so that a ban
    /// from `picket respond` and an apply never interleave.
    fn open(opts: &Opts) -> Result<StateDir> {
        std::fs::create_dir_all(&opts.state_dir)
            .with_context(|| format!("creating {}", opts.state_dir.display()))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(opts.state_dir.join("lock"))?;
        lock.lock()?;
        Ok(StateDir {
            dir: opts.state_dir.clone(),
            _lock: lock,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn state(&self) -> Result<ResponseState> {
        match std::fs::read(self.path("state.json")) {
            Ok(bytes) => Ok(ResponseState::from_json(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ResponseState::default()),
            Err(e) => Err(e.into()),
        }
    }

    fn write(&self, name: &str, text: &str) -> Result<()> {
        let tmp = self.path(&format!("{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.path(name))?;
        Ok(())
    }

    fn save_state(&self, state: &ResponseState) -> Result<()> {
        self.write("state.json", &state.to_json())
    }

    fn policy(&self) -> Result<Policy> {
        let path = self.path("policy.toml");
        if !path.exists() {
            bail!("no policy applied yet: run picket fw apply POLICY first");
        }
        load(&path)
    }
}

/// Bans and quarantines to put back, leaving out any the (new) policy allowlists.
fn restorable(state: &ResponseState, limits: &Limits, now: u64) -> String {
    let mut keep = state.clone();
    keep.prune(now);
    keep.bans.retain(|b| {
        let ok = limits.allowlisted(b.addr).is_none();
        if !ok {
            eprintln!(
                "picket fw: not restoring the ban of {}: allowlisted",
                b.addr
            );
        }
        ok
    });
    keep.restore_script(now)
}

pub(crate) fn apply(policy_path: &Path, opts: &Opts) -> Result<String> {
    let text = std::fs::read_to_string(policy_path)
        .with_context(|| format!("reading {}", policy_path.display()))?;
    let policy =
        Policy::from_str(&text, &policy_path.display().to_string()).map_err(anyhow::Error::msg)?;
    let dir = StateDir::open(opts)?;
    let compiled = compile_nft(&policy);
    let live = live_table(&opts.nft)?;
    let mut state = dir.state()?;
    let now = now();
    state.prune(now);
    let mut script = compiled.script.clone();
    if let Some(live) = &live {
        script.push_str(&stale_deletions(live, &compiled));
    }
    let limits = Limits::from_policy(&policy);
    script.push_str(&restorable(&state, &limits, now));
    nft_run(&opts.nft, &[], &script)?;
    match &live {
        Some(l) => dir.write("previous.nft", l)?,
        None => dir.write("previous.nft", "")?,
    }
    // The policy that goes with previous.nft, so that rollback restores both.
    let _ = std::fs::rename(dir.path("policy.toml"), dir.path("previous-policy.toml"));
    dir.write("policy.toml", &text)?;
    dir.save_state(&state)?;
    Ok(format!(
        "applied {}: {} sources, {} DNS pins, kill switch {}, {} bans and {} quarantines restored",
        policy_path.display(),
        policy.sources.len(),
        policy.dns_pins().len(),
        if policy.killswitch.is_some() {
            "on"
        } else {
            "off"
        },
        state.bans.len(),
        state.quarantine.len()
    ))
}

fn rollback(opts: &Opts) -> Result<i32> {
    let dir = StateDir::open(opts)?;
    let previous = std::fs::read_to_string(dir.path("previous.nft"))
        .context("nothing to roll back to: no previous apply")?;
    let live = live_table(&opts.nft)?;
    let mut script = String::new();
    if previous.trim().is_empty() {
        // There was no table before the last apply.
        script.push_str(&format!("table {TABLE} {{\n}}\ndelete table {TABLE}\n"));
    } else {
        script.push_str(&format!("table {TABLE} {{\n}}\nflush table {TABLE}\n"));
        script.push_str(&previous);
        let objects = listed_objects(&previous);
        let names = |kind: ObjectKind| {
            objects
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| n.clone())
                .collect()
        };
        let shape = Compiled {
            script: String::new(),
            chains: names(ObjectKind::Chain),
            sets: names(ObjectKind::Set),
        };
        if let Some(live) = &live {
            script.push_str(&stale_deletions(live, &shape));
        }
        if let Ok(policy) = dir.policy() {
            script.push_str(&restorable(
                &dir.state()?,
                &Limits::from_policy(&policy),
                now(),
            ));
        }
    }
    nft_run(&opts.nft, &[], &script)?;
    // Rolling back twice returns to where we were: swap the tables and the policies.
    dir.write("previous.nft", live.as_deref().unwrap_or(""))?;
    let (cur, prev, tmp) = (
        dir.path("policy.toml"),
        dir.path("previous-policy.toml"),
        dir.path("policy.toml.swap"),
    );
    if prev.exists() {
        if cur.exists() {
            std::fs::rename(&cur, &tmp)?;
        }
        std::fs::rename(&prev, &cur)?;
        if tmp.exists() {
            std::fs::rename(&tmp, &prev)?;
        }
    } else if cur.exists() {
        std::fs::rename(&cur, &prev)?;
    }
    println!("rolled back table {TABLE}");
    Ok(0)
}

/// Compare by letting nft itself print both sides: the compiled script is loaded into a
/// scratch network namespace (nothing live is touched) and listed there the same way the
/// live table is listed (`nft -s -t`: no set elements, no counters), so the comparison
/// ignores formatting and bans/pins, and shows only rule and definition changes.
fn diff(policy_path: &Path, opts: &Opts) -> Result<i32> {
    let policy = load(policy_path)?;
    let compiled = compile_nft(&policy);
    let ns = format!("picket-fwdiff-{}", std::process::id());
    let status = Command::new("ip").args(["netns", "add", &ns]).status()?;
    if !status.success() {
        bail!("ip netns add {ns} failed (diff needs root)");
    }
    let result = (|| -> Result<String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, &opts.nft, "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(compiled.script.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "nft rejected the script: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let listed = Command::new("ip")
            .args([
                "netns", "exec", &ns, &opts.nft, "-s", "-t", "list", "table", "inet", "picket",
            ])
            .output()?;
        Ok(String::from_utf8_lossy(&listed.stdout).into_owned())
    })();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    let wanted = result?;
    let live = live_table(&opts.nft)?.unwrap_or_default();
    let d = line_diff(&live, &wanted);
    if d.is_empty() {
        println!(
            "no difference: the live table matches {}",
            policy_path.display()
        );
        Ok(0)
    } else {
        println!("--- live table {TABLE}\n+++ {}", policy_path.display());
        print!("{d}");
        Ok(1)
    }
}

/// Carry out one request: check it against the applied policy, change the kernel, then the
/// state. Returns the ban length for a ban.
pub(crate) fn execute(opts: &Opts, request: Request) -> Result<Option<u64>> {
    let dir = StateDir::open(opts)?;
    let policy = dir.policy()?;
    let limits = Limits::from_policy(&policy);
    let secs = request.check(&limits).map_err(anyhow::Error::msg)?;
    let mut st = dir.state()?;
    let now = now();
    let script = match request {
        Request::Ban { addr, .. } => {
            let s = secs.unwrap_or(limits.default_ban);
            st.ban(addr, now, s)?;
            state::ban_script(addr, s)
        }
        Request::Unban { addr } => {
            st.unban(addr);
            state::unban_script(addr)
        }
        Request::Quarantine { addr } => {
            st.quarantine(QuarantineTarget::Addr(addr))?;
            state::quarantine_script(&QuarantineTarget::Addr(addr))
        }
        Request::Release { addr } => {
            st.release(&QuarantineTarget::Addr(addr));
            state::release_script(&QuarantineTarget::Addr(addr))
        }
    };
    nft_run(&opts.nft, &[], &script)?;
    dir.save_state(&st)?;
    Ok(secs)
}

fn quarantine_target(opts: &Opts, text: &str) -> Result<QuarantineTarget> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(QuarantineTarget::Addr(addr));
    }
    let dir = StateDir::open(opts)?;
    let policy = dir.policy()?;
    if let Some(source) = policy.find_source(text) {
        return Ok(match &source.matcher {
            picket_firewall::SourceMatch::Addr(c) if c.len == c.max_len() => {
                QuarantineTarget::Addr(c.addr)
            }
            picket_firewall::SourceMatch::Addr(c) => {
                bail!("source {text} is the prefix {c}: quarantine its addresses one by one")
            }
            picket_firewall::SourceMatch::Iface(i) => QuarantineTarget::Iface(i.to_string()),
        });
    }
    let iface: picket_firewall::IfName = text
        .parse()
        .map_err(|e: String| anyhow::anyhow!("not a source, an address or an interface: {e}"))?;
    if iface.as_str().ends_with('*') {
        bail!("quarantine one interface, not a pattern");
    }
    Ok(QuarantineTarget::Iface(iface.to_string()))
}

fn quarantine(opts: &Opts, target: QuarantineTarget, on: bool) -> Result<()> {
    if let QuarantineTarget::Addr(addr) = target {
        let request = if on {
            Request::Quarantine { addr }
        } else {
            Request::Release { addr }
        };
        execute(opts, request)?;
        return Ok(());
    }
    let dir = StateDir::open(opts)?;
    let mut st = dir.state()?;
    let script = if on {
        st.quarantine(target.clone())?;
        state::quarantine_script(&target)
    } else {
        st.release(&target);
        state::release_script(&target)
    };
    nft_run(&opts.nft, &[], &script)?;
    dir.save_state(&st)
}

/// The elements of one of our sets, as the words nft prints between the braces.
fn set_words(nft: &str, set: &str) -> Result<Option<Vec<String>>> {
    let Some(text) = nft_out(nft, &["list", "set", "inet", "picket", set])? else {
        return Ok(None);
    };
    let words = text
        .split_once("elements = {")
        .map(|(_, rest)| {
            rest.split(|c: char| c.is_whitespace() || matches!(c, ',' | '{' | '}'))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(words))
}

fn bans(opts: &Opts) -> Result<i32> {
    let dir = StateDir::open(opts)?;
    let mut st = dir.state()?;
    let now = now();
    st.prune(now);
    let v4 = set_words(&opts.nft, BAN4)?.unwrap_or_default();
    let v6 = set_words(&opts.nft, BAN6)?.unwrap_or_default();
    if st.bans.is_empty() && st.quarantine.is_empty() {
        println!("no bans, no quarantines");
    }
    for b in &st.bans {
        let live = v4.iter().chain(&v6).any(|w| *w == b.addr.to_string());
        println!(
            "ban\t{}\texpires in {}s\t{}",
            b.addr,
            b.expires - now,
            if live { "in kernel" } else { "NOT in kernel" }
        );
    }
    for q in &st.quarantine {
        println!("quarantine\t{q}");
    }
    Ok(0)
}

/// One watch round: if our table is gone, apply the saved policy again (which restores the
/// bans); if the table is there but a ban or quarantine is missing, restore those.
pub(crate) fn watch_once(opts: &Opts) -> Result<Option<String>> {
    let policy_path = opts.state_dir.join("policy.toml");
    if !policy_path.exists() {
        bail!("no policy applied yet");
    }
    if live_table(&opts.nft)?.is_none() {
        let summary = apply(&policy_path, opts)?;
        return Ok(Some(format!("table {TABLE} was gone; {summary}")));
    }
    let dir = StateDir::open(opts)?;
    let mut st = dir.state()?;
    let now = now();
    st.prune(now);
    let mut words = set_words(&opts.nft, BAN4)?.unwrap_or_default();
    words.extend(set_words(&opts.nft, BAN6)?.unwrap_or_default());
    for set in ["quarantine4", "quarantine6", "quarantine_if"] {
        words.extend(set_words(&opts.nft, set)?.unwrap_or_default());
    }
    let missing = st.bans.iter().any(|b| !words.contains(&b.addr.to_string()))
        || st.quarantine.iter().any(|q| {
            let w = match q {
                QuarantineTarget::Addr(a) => a.to_string(),
                QuarantineTarget::Iface(i) => format!("\"{i}\""),
            };
            !words.contains(&w)
        });
    if !missing {
        return Ok(None);
    }
    let limits = Limits::from_policy(&dir.policy()?);
    nft_run(&opts.nft, &[], &restorable(&st, &limits, now))?;
    Ok(Some(format!(
        "restored {} bans and {} quarantines",
        st.bans.len(),
        st.quarantine.len()
    )))
}
