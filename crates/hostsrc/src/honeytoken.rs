//! Honeytokens: files nobody has a reason to open, so an open is the alarm.
//!
//! fanotify (`FAN_CLASS_NOTIF`, `FAN_OPEN | FAN_ACCESS` marks on each file) names the process:
//! its pid, executable (`/proc/PID/exe`), command name and uid. It needs `CAP_SYS_ADMIN`.
//! Without it the source falls back to inotify (`IN_OPEN | IN_ACCESS`), which sees the open but
//! not who did it; each event then says `method: "inotify"` and why fanotify was not used.
//!
//! One reader opening and then reading a token gives one event listing both accesses, and the
//! same process touching the same token again within a second is not reported twice. Opens by
//! the agent itself are ignored, so keep honeytokens out of the FIM paths or let the agent add
//! them to the FIM ignore list (it does).

use crate::{Counters, Error, Source};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};
use nix::sys::inotify::{self, AddWatchFlags, Inotify, WatchDescriptor};
use picket_event::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How opens are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// fanotify where permitted, else inotify.
    #[default]
    Auto,
    /// fanotify or fail.
    Fanotify,
    /// inotify only (no process information).
    Inotify,
}

/// Honeytoken settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoneytokenConfig {
    /// The token files; they must exist when the agent starts.
    pub paths: Vec<PathBuf>,
    #[serde(default)]
    pub method: Method,
}

enum Backend {
    Fanotify(Fanotify),
    Inotify {
        inotify: Inotify,
        paths: HashMap<WatchDescriptor, PathBuf>,
        why: String,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Fanotify(_) => f.write_str("fanotify"),
            Backend::Inotify { why, .. } => write!(f, "inotify ({why})"),
        }
    }
}

/// The honeytoken source. See the module docs.
#[derive(Debug)]
pub struct HoneytokenSource {
    backend: Backend,
    recent: HashMap<(i32, PathBuf), Instant>,
    own_pid: i32,
    counters: Arc<Counters>,
}

fn fanotify_for(paths: &[PathBuf]) -> Result<Fanotify, Error> {
    let fan = Fanotify::init(
        InitFlags::FAN_CLASS_NOTIF | InitFlags::FAN_CLOEXEC | InitFlags::FAN_NONBLOCK,
        EventFFlags::O_RDONLY | EventFFlags::O_LARGEFILE | EventFFlags::O_CLOEXEC,
    )
    .map_err(|source| Error::Notify {
        what: "fanotify_init".into(),
        source,
    })?;
    for path in paths {
        fan.mark(
            MarkFlags::FAN_MARK_ADD,
            MaskFlags::FAN_OPEN | MaskFlags::FAN_ACCESS,
            nix::fcntl::AT_FDCWD,
            Some(path.as_path()),
        )
        .map_err(|source| Error::Notify {
            what: format!("fanotify_mark {}", path.display()),
            source,
        })?;
    }
    Ok(fan)
}

fn inotify_for(paths: &[PathBuf], why: String) -> Result<Backend, Error> {
    let inotify = Inotify::init(inotify::InitFlags::IN_NONBLOCK | inotify::InitFlags::IN_CLOEXEC)
        .map_err(|source| Error::Notify {
        what: "inotify_init1".into(),
        source,
    })?;
    let mut map = HashMap::new();
    for path in paths {
        let wd = inotify
            .add_watch(
                path.as_path(),
                AddWatchFlags::IN_OPEN | AddWatchFlags::IN_ACCESS,
            )
            .map_err(|source| Error::Notify {
                what: format!("inotify_add_watch {}", path.display()),
                source,
            })?;
        map.insert(wd, path.clone());
    }
    Ok(Backend::Inotify {
        inotify,
        paths: map,
        why,
    })
}

impl HoneytokenSource {
    /// Watch `config.paths`.
    pub fn start(config: &HoneytokenConfig, counters: Arc<Counters>) -> Result<Self, Error> {
        let paths: Vec<PathBuf> = config
            .paths
            .iter()
            .map(|p| std::fs::canonicalize(p).map_err(|e| Error::io(p, e)))
            .collect::<Result<_, _>>()?;
        let backend = match config.method {
            Method::Fanotify => Backend::Fanotify(fanotify_for(&paths)?),
            Method::Inotify => inotify_for(&paths, "configured".into())?,
            Method::Auto => match fanotify_for(&paths) {
                Ok(fan) => Backend::Fanotify(fan),
                Err(Error::Notify { what, source }) => {
                    inotify_for(&paths, format!("{what} failed: {}", source.desc()))?
                }
                Err(other) => return Err(other),
            },
        };
        Ok(HoneytokenSource {
            backend,
            recent: HashMap::new(),
            own_pid: std::process::id() as i32,
            counters,
        })
    }

    /// `fanotify` or `inotify`.
    pub fn method(&self) -> &'static str {
        match self.backend {
            Backend::Fanotify(_) => "fanotify",
            Backend::Inotify { .. } => "inotify",
        }
    }

    /// Why fanotify is not used, when it is not.
    pub fn fallback_reason(&self) -> Option<&str> {
        match &self.backend {
            Backend::Fanotify(_) => None,
            Backend::Inotify { why, .. } => Some(why),
        }
    }

    fn read(&mut self) -> Vec<Touch> {
        let mut touches: Vec<Touch> = Vec::new();
        match &self.backend {
            Backend::Fanotify(fan) => {
                while let Ok(events) = fan.read_events() {
                    if events.is_empty() {
                        break;
                    }
                    for ev in events {
                        let Some(fd) = ev.fd() else {
                            // FAN_NOFD: the queue overflowed and events were lost.
                            self.counters.add_drops(1);
                            continue;
                        };
                        if ev.pid() == self.own_pid {
                            continue;
                        }
                        let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                            .unwrap_or_default();
                        let access = if ev.mask().contains(MaskFlags::FAN_OPEN) {
                            "open"
                        } else {
                            "read"
                        };
                        merge(&mut touches, Some(ev.pid()), path, access);
                    }
                }
            }
            Backend::Inotify { inotify, paths, .. } => {
                while let Ok(events) = inotify.read_events() {
                    if events.is_empty() {
                        break;
                    }
                    for ev in events {
                        if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                            self.counters.add_drops(1);
                            continue;
                        }
                        let Some(path) = paths.get(&ev.wd) else {
                            continue;
                        };
                        let access = if ev.mask.contains(AddWatchFlags::IN_OPEN) {
                            "open"
                        } else {
                            "read"
                        };
                        merge(&mut touches, None, path.clone(), access);
                    }
                }
            }
        }
        touches
    }
}

#[derive(Debug)]
struct Touch {
    pid: Option<i32>,
    path: PathBuf,
    access: Vec<&'static str>,
}

fn merge(touches: &mut Vec<Touch>, pid: Option<i32>, path: PathBuf, access: &'static str) {
    if let Some(t) = touches.iter_mut().find(|t| t.pid == pid && t.path == path) {
        if !t.access.contains(&access) {
            t.access.push(access);
        }
        return;
    }
    touches.push(Touch {
        pid,
        path,
        access: vec![access],
    });
}

/// What /proc says about `pid`: executable, command name, real and effective uid.
fn process_info(pid: i32, body: &mut Map<String, Value>) {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    body.insert("pid".into(), Value::from(pid));
    let exe = std::fs::read_link(proc_dir.join("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    body.insert("exe".into(), exe.map_or(Value::Null, Value::from));
    if let Ok(comm) = std::fs::read_to_string(proc_dir.join("comm")) {
        body.insert("comm".into(), Value::from(comm.trim_end()));
    }
    if let Ok(status) = std::fs::read_to_string(proc_dir.join("status")) {
        for line in status.lines() {
            if let Some(ids) = line.strip_prefix("Uid:") {
                let mut ids = ids.split_whitespace().filter_map(|s| s.parse::<u32>().ok());
                if let Some(uid) = ids.next() {
                    body.insert("uid".into(), Value::from(uid));
                }
                if let Some(euid) = ids.next() {
                    body.insert("euid".into(), Value::from(euid));
                }
            } else if let Some(ppid) = line.strip_prefix("PPid:") {
                if let Ok(ppid) = ppid.trim().parse::<i32>() {
                    body.insert("ppid".into(), Value::from(ppid));
                }
            }
        }
    }
}

impl Source for HoneytokenSource {
    fn name(&self) -> &str {
        "honeytoken"
    }

    fn poll(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), Error> {
        let fd = match &self.backend {
            Backend::Fanotify(f) => f.as_fd(),
            Backend::Inotify { inotify, .. } => inotify.as_fd(),
        };
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, PollTimeout::from(ms));
        let touches = self.read();
        let now = Instant::now();
        self.recent
            .retain(|_, at| now.duration_since(*at) < Duration::from_secs(1));
        let method = self.method();
        let why = self.fallback_reason().map(str::to_string);
        let before = out.len();
        for touch in touches {
            let key = (touch.pid.unwrap_or(0), touch.path.clone());
            if self.recent.insert(key, now).is_some() {
                continue;
            }
            let mut body = Map::new();
            body.insert("path".into(), Value::from(path_text(&touch.path)));
            body.insert("access".into(), Value::from(touch.access));
            body.insert("method".into(), Value::from(method));
            match touch.pid {
                Some(pid) => process_info(pid, &mut body),
                None => {
                    body.insert(
                        "note".into(),
                        Value::from(format!(
                            "no process information: inotify used ({})",
                            why.as_deref().unwrap_or("")
                        )),
                    );
                }
            }
            let mut event = Event::new(Timestamp::now(), "honeytoken");
            event.body = Value::Object(body);
            out.push(event);
        }
        self.counters.add_records((out.len() - before) as u64);
        Ok(())
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
