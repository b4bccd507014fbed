//! `picket enroll`: explicit enrolment of a TCP agent with a manager, both sides.
//!
//! Manager: `picket enroll --serve --listen ADDR --dir DIR` prints its certificate
//! fingerprint and a one-time token, then waits for one agent. Agent: `picket enroll
//! --manager ADDR --token T --pin FP --name NAME --dir DIR` creates its key, pins the
//! manager, and gets its own fingerprint added to the manager's allowlist. The protocol is
//! described in `picket_transport::tls`.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use picket_transport::tls::{self, Allowlist, Fingerprint, Identity};

/// File in the manager's directory listing enrolled agents.
pub const ALLOWLIST_FILE: &str = "allowlist";
pub use super::agent::MANAGER_PIN_FILE;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manager side: wait for one agent to enrol, printing the fingerprint and token it needs.
    #[arg(long, conflicts_with_all = ["manager", "token", "pin"])]
    serve: bool,
    /// Address the manager listens on for the enrolment (with --serve).
    #[arg(long, default_value = "127.0.0.1:7443")]
    listen: String,
    /// Agent side: the manager's enrolment address, HOST:PORT.
    #[arg(long, requires_all = ["token", "pin"])]
    manager: Option<String>,
    /// The one-time token the manager printed.
    #[arg(long)]
    token: Option<String>,
    /// The manager's certificate fingerprint (SHA-256, hex) it printed.
    #[arg(long)]
    pin: Option<String>,
    /// Name to enrol this agent under (default: the host name).
    #[arg(long)]
    name: Option<String>,
    /// Directory holding this side's key and certificate, and the allowlist (manager) or
    /// the manager pin (agent).
    #[arg(long, default_value = "/var/lib/picket/tls")]
    dir: PathBuf,
    /// Seconds to wait for the other side (the manager's token expires after this).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

pub fn run(args: Args) -> Result<i32> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    if args.serve {
        return serve(&args, timeout);
    }
    let (Some(manager), Some(token), Some(pin)) = (&args.manager, &args.token, &args.pin) else {
        bail!(
            "give either --serve (on the manager) or --manager, --token and --pin (on the agent)"
        );
    };
    let pin: Fingerprint = pin.parse().context("--pin")?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => host_name()?,
    };
    let (identity, created) = Identity::load_or_create(&args.dir, &name)
        .with_context(|| format!("agent key in {}", args.dir.display()))?;
    let granted = tls::enroll(manager.as_str(), &identity, pin, token, &name, timeout)
        .with_context(|| format!("enrolling with {manager}"))?;
    let pin_path = args.dir.join(MANAGER_PIN_FILE);
    // The granted name goes with the pin: the agent claims it in Hello, and a claim the
    // manager did not grant raises an alert there.
    std::fs::write(&pin_path, format!("{manager} {pin} {granted}\n"))
        .with_context(|| format!("writing {}", pin_path.display()))?;
    println!(
        "enrolled as {granted}\nagent certificate: sha256:{}{}\nmanager pinned in {}",
        identity.fingerprint(),
        if created { " (new key)" } else { "" },
        pin_path.display()
    );
    Ok(0)
}

fn serve(args: &Args, timeout: Duration) -> Result<i32> {
    let (identity, _) = Identity::load_or_create(&args.dir, "picket-manager")
        .with_context(|| format!("manager key in {}", args.dir.display()))?;
    let allow_path = args.dir.join(ALLOWLIST_FILE);
    let allowlist = Allowlist::open(&allow_path)?;
    let token = tls::new_token()?;
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let fp = identity.fingerprint();
    println!("manager certificate: sha256:{fp}");
    println!("enrolment token:     {token}   (valid for one agent)");
    println!("on the agent, run:");
    println!("  picket enroll --manager {addr} --token {token} --pin {fp} --name <NAME>");
    std::io::stdout().flush()?;
    // Waiting for connections has no timeout of its own; the token expires with the process.
    let wait = timeout;
    std::thread::spawn(move || {
        std::thread::sleep(wait);
        eprintln!(
            "picket: no agent enrolled within {}s; token withdrawn",
            wait.as_secs()
        );
        std::process::exit(1);
    });
    let enrolled = tls::serve_enrollment(&listener, &identity, &allowlist, &token, 5, timeout)?;
    println!(
        "enrolled {} sha256:{} (added to {})",
        enrolled.name,
        enrolled.fingerprint,
        allow_path.display()
    );
    Ok(0)
}

fn host_name() -> Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .context("reading the host name; give --name")?;
    Ok(name.trim().to_owned())
}
