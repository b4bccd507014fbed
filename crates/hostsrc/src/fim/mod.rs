//! File integrity: a hashed baseline of the configured paths, a full check against it, and
//! inotify watches that see a change within the debounce delay (200 ms by default).
//!
//! Events are `fim` records whose `action` is `added`, `removed` or `modified` (with `changed`
//! naming `content`, `mode`, `owner`, `type` or `target`, and the `before` and `after`
//! attributes with their hashes); `baseline` when one was built; `check` summing up a check;
//! `package_run` for the changes made while a package manager ran (see [`package`]).
//! A change of mtime alone is not reported.
//!
//! The baseline is saved to the state file, so changes made while the agent was stopped are
//! found by the check it runs at its next start.

pub mod baseline;
pub mod glob;
pub mod package;

use crate::{Counters, Error, Source};
use baseline::{Baseline, Change, Kind, Scope, Snapshot, Walker, OVERLAY_LIMIT};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use package::{PackageRun, PackageWatch};
use picket_event::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// File-integrity settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FimConfig {
    /// Trees to watch.
    #[serde(default = "default_paths")]
    pub paths: Vec<PathBuf>,
    /// Globs matched against whole paths; a matching directory is skipped with all it holds.
    #[serde(default = "default_ignore")]
    pub ignore: Vec<String>,
    /// Files larger than this (bytes) are recorded but not hashed; their size stands in.
    #[serde(default = "default_max_file_size")]
    pub max_file_size: u64,
    /// Watch with inotify for real-time changes.
    #[serde(default = "yes")]
    pub realtime: bool,
    /// Seconds between full checks; 0 means only at start.
    #[serde(default = "default_full_check_interval")]
    pub full_check_interval: u64,
    /// Milliseconds a path must stay quiet before it is hashed again.
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    /// Process names (as in /proc/PID/comm) whose runs are summarised instead of reported
    /// change by change.
    #[serde(default = "package::default_names")]
    pub package_managers: Vec<String>,
    /// Individual events a check reports at most; the rest are counted in its summary.
    #[serde(default = "default_max_check_events")]
    pub max_check_events: u64,
    /// Hashing threads (default: the CPU count, at most 4).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Watch a tree mounted here as if it were `/`: `paths` and absolute `ignore` patterns
    /// are taken below it, and reported paths have it removed, so a qube's private volume
    /// mounted elsewhere (or `picket demo`'s temporary tree) is judged by the rules written
    /// for `/rw/...`.
    #[serde(default)]
    pub root: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn default_paths() -> Vec<PathBuf> {
    ["/rw", "/home", "/usr/local", "/etc"]
        .iter()
        .map(PathBuf::from)
        .collect()
}
fn default_ignore() -> Vec<String> {
    [
        "**/.cache",
        "**/*.swp",
        "**/*.swx",
        "**/.local/share/Trash",
        "/etc/mtab",
        "/etc/ld.so.cache",
        "/etc/adjtime",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_max_file_size() -> u64 {
    64 << 20
}
fn default_full_check_interval() -> u64 {
    12 * 3600
}
fn default_debounce() -> u64 {
    200
}
fn default_max_check_events() -> u64 {
    1000
}

impl Default for FimConfig {
    fn default() -> Self {
        FimConfig {
            paths: default_paths(),
            ignore: default_ignore(),
            max_file_size: default_max_file_size(),
            realtime: true,
            full_check_interval: default_full_check_interval(),
            debounce_ms: default_debounce(),
            package_managers: package::default_names(),
            max_check_events: default_max_check_events(),
            threads: None,
            root: None,
        }
    }
}

impl FimConfig {
    /// The scope these settings describe.
    pub fn scope(&self) -> Result<Scope, Error> {
        let mut scope = match &self.root {
            None => Scope::new(&self.paths, &self.ignore, self.max_file_size)?,
            Some(root) => {
                let paths: Vec<PathBuf> = self.paths.iter().map(|p| under_root(root, p)).collect();
                let ignore: Vec<String> = self
                    .ignore
                    .iter()
                    .map(|g| match g.strip_prefix('/') {
                        Some(rest) => {
                            format!("{}/{rest}", root.to_string_lossy().trim_end_matches('/'))
                        }
                        None => g.clone(),
                    })
                    .collect();
                Scope::new(&paths, &ignore, self.max_file_size)?
            }
        };
        if let Some(t) = self.threads {
            scope.threads = t.max(1);
        }
        Ok(scope)
    }
}

/// `path` (absolute, as configured) below `root`.
fn under_root(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Reported paths of a tree watched under `root` (see [`FimConfig::root`]): the `path` of
/// each change and the `sample_paths` of a package run lose the `root` prefix.
fn strip_root(root: &Path, events: &mut [Event]) {
    let strip = |value: &mut Value| {
        if let Some(text) = value.as_str() {
            if let Ok(rest) = Path::new(text).strip_prefix(root) {
                *value = Value::from(format!("/{}", rest.to_string_lossy()));
            }
        }
    };
    for event in events {
        if let Some(path) = event.body.get_mut("path") {
            strip(path);
        }
        if let Some(Value::Array(paths)) = event.body.get_mut("sample_paths") {
            paths.iter_mut().for_each(strip);
        }
    }
}

fn watch_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_DONT_FOLLOW
        | AddWatchFlags::IN_ONLYDIR
}

/// The directories' inotify watches.
#[derive(Debug)]
struct Watches {
    inotify: Inotify,
    paths: HashMap<WatchDescriptor, PathBuf>,
    failed: u64,
}

impl Watches {
    fn add(&mut self, dir: &Path) {
        match self.inotify.add_watch(dir, watch_mask()) {
            Ok(wd) => {
                self.paths.insert(wd, dir.to_path_buf());
            }
            // ENOSPC (max_user_watches) or a directory gone meanwhile: counted and reported.
            Err(_) => self.failed += 1,
        }
    }

    fn remove_below(&mut self, dir: &Path) {
        let gone: Vec<WatchDescriptor> = self
            .paths
            .iter()
            .filter(|(_, p)| p.starts_with(dir))
            .map(|(wd, _)| *wd)
            .collect();
        for wd in gone {
            let _ = self.inotify.rm_watch(wd);
            self.paths.remove(&wd);
        }
    }
}

/// Counts of the FIM source.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FimStats {
    pub entries: u64,
    pub watches: u64,
    pub watch_failures: u64,
    pub queue_overflows: u64,
    pub changes: u64,
    pub package_runs: u64,
}

/// The FIM source. See the module docs.
#[derive(Debug)]
pub struct FimSource {
    config: FimConfig,
    scope: Scope,
    baseline: Baseline,
    watches: Option<Watches>,
    dirty: BTreeSet<PathBuf>,
    first_dirty: Option<Instant>,
    last_event: Instant,
    package: PackageWatch,
    run: Option<PackageRun>,
    ready: Vec<Event>,
    unsaved: bool,
    last_save: Instant,
    next_check: Option<Instant>,
    counters: Arc<Counters>,
    stats: FimStats,
}

impl FimSource {
    /// Load the saved baseline and check against it, or build one; then start watching.
    pub fn start(
        config: FimConfig,
        state_path: Option<PathBuf>,
        counters: Arc<Counters>,
    ) -> Result<Self, Error> {
        let scope = config.scope()?;
        let mut watches = if config.realtime {
            let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(
                |source| Error::Notify {
                    what: "inotify_init1".into(),
                    source,
                },
            )?;
            Some(Watches {
                inotify,
                paths: HashMap::new(),
                failed: 0,
            })
        } else {
            None
        };
        let saved = match &state_path {
            Some(p) => Baseline::open(p)?,
            None => None,
        };
        let mut on_dir = |dir: &Path| {
            if let Some(w) = watches.as_mut() {
                w.add(dir);
            }
        };
        let started = Instant::now();
        let mut ready = Vec::new();
        let baseline = match saved {
            Some(mut baseline) => {
                let mut changes = Vec::new();
                let mut more = 0u64;
                let limit = config.max_check_events;
                let stats = baseline.check(&scope, &mut on_dir, &mut |c| {
                    if (changes.len() as u64) < limit {
                        changes.push(c);
                    } else {
                        more += 1;
                    }
                })?;
                ready.extend(changes.into_iter().map(|c| change_event(&c, "check")));
                ready.push(summary_event("check", &stats, more, started.elapsed()));
                baseline
            }
            None => {
                let (baseline, stats) = match &state_path {
                    Some(p) => Baseline::build_at(&scope, &mut on_dir, p)?,
                    None => Baseline::build(&scope, &mut on_dir),
                };
                ready.push(summary_event("baseline", &stats, 0, started.elapsed()));
                baseline
            }
        };
        let next_check = (config.full_check_interval > 0)
            .then(|| Instant::now() + Duration::from_secs(config.full_check_interval));
        let mut source = FimSource {
            package: PackageWatch::new(config.package_managers.clone()),
            config,
            scope,
            baseline,
            watches,
            dirty: BTreeSet::new(),
            first_dirty: None,
            last_event: Instant::now(),
            run: None,
            ready,
            unsaved: true,
            last_save: Instant::now(),
            next_check,
            counters,
            stats: FimStats::default(),
        };
        source.save()?;
        Ok(source)
    }

    /// Counts since start.
    pub fn stats(&self) -> FimStats {
        let mut s = self.stats;
        s.entries = self.baseline.len() as u64;
        if let Some(w) = &self.watches {
            s.watches = w.paths.len() as u64;
            s.watch_failures = w.failed;
        }
        s
    }

    /// The baseline as it stands.
    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// Merge the realtime updates into the stored baseline (the state file, when there is
    /// one; a full check has already rewritten it).
    fn save(&mut self) -> Result<(), Error> {
        if self.unsaved {
            self.baseline.save()?;
        }
        self.unsaved = false;
        self.last_save = Instant::now();
        Ok(())
    }

    /// Run a full check now; changes go through the package-run aggregation like any other.
    pub fn full_check(&mut self, out: &mut Vec<Event>) -> Result<(), Error> {
        let started = Instant::now();
        let mut changes = Vec::new();
        let mut more = 0u64;
        let limit = self.config.max_check_events;
        let watches = &mut self.watches;
        let mut on_dir = |dir: &Path| {
            if let Some(w) = watches.as_mut() {
                if !w.paths.values().any(|p| p == dir) {
                    w.add(dir);
                }
            }
        };
        let stats = self.baseline.check(&self.scope, &mut on_dir, &mut |c| {
            if (changes.len() as u64) < limit {
                changes.push(c);
            } else {
                more += 1;
            }
        })?;
        for change in changes {
            self.report(change, "check", out);
        }
        out.push(summary_event("check", &stats, more, started.elapsed()));
        Ok(())
    }

    fn report(&mut self, change: Change, detected: &str, out: &mut Vec<Event>) {
        self.stats.changes += 1;
        let running = self.package.running();
        if !running.is_empty() {
            let run = self.run.get_or_insert_with(|| PackageRun::new(Vec::new()));
            run.add(change.action(), &change.path().to_string_lossy(), &running);
            return;
        }
        out.push(change_event(&change, detected));
    }

    fn read_inotify(&mut self) {
        let Some(w) = &self.watches else { return };
        let mut dropped = Vec::new();
        loop {
            let events = match w.inotify.read_events() {
                Ok(e) if !e.is_empty() => e,
                _ => break,
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    // Events were lost: only a full check can say what changed.
                    self.stats.queue_overflows += 1;
                    self.counters.add_drops(1);
                    self.next_check = Some(Instant::now());
                    continue;
                }
                if ev.mask.contains(AddWatchFlags::IN_IGNORED) {
                    // The kernel dropped this watch (its directory is gone).
                    dropped.push(ev.wd);
                    continue;
                }
                let Some(dir) = w.paths.get(&ev.wd) else {
                    continue;
                };
                let path = match &ev.name {
                    Some(name) => dir.join(name),
                    None => dir.clone(),
                };
                self.dirty.insert(path);
                self.first_dirty.get_or_insert_with(Instant::now);
                self.last_event = Instant::now();
            }
        }
        if let Some(w) = &mut self.watches {
            for wd in dropped {
                w.paths.remove(&wd);
            }
        }
    }

    /// Look again at every path inotify named.
    fn process_dirty(&mut self, out: &mut Vec<Event>) {
        let dirty = std::mem::take(&mut self.dirty);
        self.first_dirty = None;
        for path in dirty {
            if !self.scope.covers(&path) {
                continue;
            }
            let now = Snapshot::take(&path, self.scope.max_file_size);
            let before_kind = self.baseline.get(&path).map(|s| s.kind);
            match &now {
                Some(snap) if snap.kind == Kind::Dir => {
                    // A directory that is new (or moved in) is walked: files made in it before
                    // its watch existed are found this way.
                    if let Some(c) = self.baseline.update(&path, Some(snap)) {
                        self.report(c, "realtime", out);
                    }
                    if before_kind != Some(Kind::Dir) {
                        self.walk_new_dir(&path, out);
                    }
                }
                _ => {
                    if before_kind == Some(Kind::Dir) {
                        self.remove_subtree(&path, out);
                    }
                    if let Some(c) = self.baseline.update(&path, now.as_ref()) {
                        self.report(c, "realtime", out);
                    }
                }
            }
            self.unsaved = true;
        }
    }

    fn walk_new_dir(&mut self, dir: &Path, out: &mut Vec<Event>) {
        let mut walker = Walker::under(&self.scope, vec![dir.to_path_buf()]);
        let watches = &mut self.watches;
        let mut snaps = Vec::new();
        loop {
            let batch = walker.next_batch(&mut |d: &Path| {
                if let Some(w) = watches.as_mut() {
                    w.add(d);
                }
            });
            if batch.is_empty() {
                break;
            }
            snaps.extend(batch);
        }
        for snap in snaps {
            if snap.path == dir {
                continue;
            }
            if let Some(c) = self.baseline.update(&snap.path.clone(), Some(&snap)) {
                self.report(c, "realtime", out);
            }
        }
    }

    fn remove_subtree(&mut self, dir: &Path, out: &mut Vec<Event>) {
        if let Some(w) = &mut self.watches {
            w.remove_below(dir);
        }
        for path in self.baseline.paths_below(dir).into_iter().rev() {
            if let Some(c) = self.baseline.update(&path, None) {
                self.report(c, "realtime", out);
            }
        }
    }

    fn close_package_run(&mut self, out: &mut Vec<Event>) {
        if self.run.is_some() && self.package.running().is_empty() {
            if let Some(run) = self.run.take() {
                self.stats.package_runs += 1;
                out.push(run.into_event());
            }
        }
    }
}

impl Source for FimSource {
    fn name(&self) -> &str {
        "fim"
    }

    fn poll(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), Error> {
        let start = out.len();
        out.append(&mut self.ready);
        let deadline = Instant::now() + timeout;
        loop {
            let debounce = Duration::from_millis(self.config.debounce_ms);
            // Hash a path again once it has been quiet for the debounce delay, or at most
            // half a second after its first event even if it is still being written.
            let due = self.first_dirty.map(|first| {
                (self.last_event + debounce).min(first + Duration::from_millis(500).max(debounce))
            });
            let mut wake = due.map_or(deadline, |d| d.min(deadline));
            if self.run.is_some() {
                wake = wake.min(Instant::now() + Duration::from_millis(500));
            }
            if let Some(next) = self.next_check {
                wake = wake.min(next);
            }
            if out.len() > start {
                wake = Instant::now();
            }
            let wait = wake.saturating_duration_since(Instant::now());
            if let Some(w) = &self.watches {
                let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
                let mut fds = [PollFd::new(w.inotify.as_fd(), PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, PollTimeout::from(ms));
            } else {
                std::thread::sleep(wait);
            }
            self.read_inotify();
            if let Some(due) = self.first_dirty.map(|first| {
                (self.last_event + debounce).min(first + Duration::from_millis(500).max(debounce))
            }) {
                if Instant::now() >= due {
                    self.process_dirty(out);
                }
            }
            // A burst of changes (a package unpacking a tree) is merged into the stored
            // baseline as it comes, so the updates held in memory stay few.
            if self.baseline.pending() >= OVERLAY_LIMIT {
                self.save()?;
            }
            if self.next_check.is_some_and(|n| Instant::now() >= n) {
                self.full_check(out)?;
                self.next_check = (self.config.full_check_interval > 0)
                    .then(|| Instant::now() + Duration::from_secs(self.config.full_check_interval));
            }
            self.close_package_run(out);
            if out.len() > start || Instant::now() >= deadline {
                break;
            }
        }
        if let Some(root) = &self.config.root {
            strip_root(root, &mut out[start..]);
        }
        self.counters.add_records((out.len() - start) as u64);
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), Error> {
        // Saving rewrites the whole stored baseline; during bursts of changes once in 10 s is
        // plenty, since a change reported but not yet saved is only reported again.
        if self.unsaved && self.last_save.elapsed() >= Duration::from_secs(10) {
            self.save()?;
        }
        Ok(())
    }
}

impl Drop for FimSource {
    fn drop(&mut self) {
        let _ = self.save();
    }
}

/// The event for one change.
pub fn change_event(change: &Change, detected: &str) -> Event {
    let mut body = Map::new();
    body.insert("action".into(), Value::from(change.action()));
    body.insert(
        "path".into(),
        Value::from(change.path().to_string_lossy().into_owned()),
    );
    body.insert("detected".into(), Value::from(detected));
    match change {
        Change::Added(s) => {
            body.insert("type".into(), Value::from(s.kind.as_str()));
            body.insert("after".into(), s.attributes());
        }
        Change::Removed(s) => {
            body.insert("type".into(), Value::from(s.kind.as_str()));
            body.insert("before".into(), s.attributes());
        }
        Change::Modified {
            before,
            after,
            what,
        } => {
            body.insert("type".into(), Value::from(after.kind.as_str()));
            body.insert("changed".into(), Value::from(what.clone()));
            body.insert("before".into(), before.attributes());
            body.insert("after".into(), after.attributes());
        }
    }
    let mut event = Event::new(Timestamp::now(), "fim");
    event.body = Value::Object(body);
    event
}

fn summary_event(
    action: &str,
    stats: &baseline::WalkStats,
    unreported: u64,
    took: Duration,
) -> Event {
    let mut body = Map::new();
    body.insert("action".into(), Value::from(action));
    body.insert("entries".into(), Value::from(stats.entries));
    body.insert("hashed".into(), Value::from(stats.hashed));
    body.insert("errors".into(), Value::from(stats.errors));
    if action == "check" {
        body.insert("added".into(), Value::from(stats.added));
        body.insert("removed".into(), Value::from(stats.removed));
        body.insert("modified".into(), Value::from(stats.modified));
        body.insert("unreported".into(), Value::from(unreported));
    }
    body.insert("seconds".into(), Value::from(took.as_secs_f64()));
    let mut event = Event::new(Timestamp::now(), "fim");
    event.body = Value::Object(body);
    event
}
