//! The compact baseline: every watched path with its type, mode, owner, size, mtime and a
//! 16-byte BLAKE3 prefix of its content (or of its target, for a symlink).
//!
//! Memory is what limits an agent in every qube, so the baseline is two flat vectors: one
//! arena of path bytes and one array of fixed-size [`Entry`] records (56 bytes) sorted in walk
//! order. 10,000 files cost about 1 MB; no per-path allocation, no hash table.
//!
//! The order is that of a depth-first walk with each directory's names sorted by bytes, which
//! is byte order with `/` counted as the smallest byte ([`cmp_paths`]). A check walks the tree in
//! the same order and merges against the baseline as it goes, so it never holds a second
//! baseline: it updates entries in place and merges adds and removes in at the end.
//!
//! Why BLAKE3: it is several times faster than SHA-256 on CPUs without SHA extensions, which is
//! most of what runs Qubes, and keeping 128 bits of it still leaves a second preimage (what
//! an attacker who wants an altered file to match would need) at 2^128 work.

use crate::Error;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Paths are walked and hashed in batches of this many, so memory stays flat however large
/// the tree is.
const BATCH: usize = 2048;
const READ_BUFFER: usize = 64 * 1024;

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// Sockets, FIFOs and device nodes: recorded, never opened.
    Other,
}

impl Kind {
    fn from_meta(meta: &Metadata) -> Kind {
        let ft = meta.file_type();
        if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        }
    }

    /// The name used in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
        }
    }

    fn code(self) -> u8 {
        match self {
            Kind::File => 0,
            Kind::Dir => 1,
            Kind::Symlink => 2,
            Kind::Other => 3,
        }
    }

    fn from_code(code: u8) -> Kind {
        match code {
            0 => Kind::File,
            1 => Kind::Dir,
            2 => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

/// Which paths are watched and how.
#[derive(Debug)]
pub struct Scope {
    roots: Vec<PathBuf>,
    ignore: GlobSet,
    /// Larger files are recorded (size, mode...) but their content is not hashed.
    pub max_file_size: u64,
    /// Do not descend into other file systems mounted below a root.
    pub one_file_system: bool,
    /// Threads hashing in parallel.
    pub threads: usize,
}

impl Scope {
    /// `roots` to watch, minus paths matching any of the `ignore` globs (matched against the
    /// whole path; `**/.cache` skips every `.cache` directory and what is under it).
    pub fn new(roots: &[PathBuf], ignore: &[String], max_file_size: u64) -> Result<Self, Error> {
        let mut builder = GlobSetBuilder::new();
        for pattern in ignore {
            let glob = Glob::new(pattern).map_err(|e| Error::BadPattern {
                pattern: pattern.clone(),
                reason: e.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let ignore = builder.build().map_err(|e| Error::BadPattern {
            pattern: ignore.join(", "),
            reason: e.to_string(),
        })?;
        let mut roots: Vec<PathBuf> = roots.iter().map(|r| r.components().collect()).collect();
        roots.sort_by(|a, b| cmp_paths(a.as_os_str().as_bytes(), b.as_os_str().as_bytes()));
        roots.dedup();
        // A root inside another root is already covered.
        let mut kept: Vec<PathBuf> = Vec::new();
        for root in roots {
            if !kept.iter().any(|k| root.starts_with(k)) {
                kept.push(root);
            }
        }
        Ok(Scope {
            roots: kept,
            ignore,
            max_file_size,
            one_file_system: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        })
    }

    /// The roots, normalised, nested ones dropped.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Whether `path` is matched by an ignore pattern.
    pub fn is_ignored(&self, path: &Path) -> bool {
        !self.ignore.is_empty() && self.ignore.is_match(path)
    }

    /// Whether `path` is under a root and under no ignored directory.
    pub fn covers(&self, path: &Path) -> bool {
        let Some(root) = self.roots.iter().find(|r| path.starts_with(r)) else {
            return false;
        };
        let mut p = path;
        loop {
            if self.is_ignored(p) {
                return false;
            }
            if p == root {
                return true;
            }
            match p.parent() {
                Some(parent) => p = parent,
                None => return true,
            }
        }
    }
}

/// Byte order with `/` as the smallest byte: the order of a sorted depth-first walk.
pub fn cmp_paths(a: &[u8], b: &[u8]) -> Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    for (x, y) in a.iter().zip(b) {
        match key(*x).cmp(&key(*y)) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// One path as seen now: what an [`Entry`] stores, plus the path itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub path: PathBuf,
    pub kind: Kind,
    /// Permission bits (and setuid, setgid, sticky).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    /// Content hash prefix; `None` when not hashed (too large, unreadable, not a file).
    pub hash: Option<[u8; 16]>,
    /// A symlink's target.
    pub target: Option<Vec<u8>>,
}

impl Snapshot {
    fn from_meta(path: PathBuf, meta: &Metadata) -> Snapshot {
        Snapshot {
            path,
            kind: Kind::from_meta(meta),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mtime: meta.mtime(),
            hash: None,
            target: None,
        }
    }

    /// Take a snapshot of `path` now (`None` if it does not exist), hashing its content.
    pub fn take(path: &Path, max_file_size: u64) -> Option<Snapshot> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        let mut snap = Snapshot::from_meta(path.to_path_buf(), &meta);
        let mut buffer = vec![0; READ_BUFFER];
        snap.fill_content(max_file_size, &mut buffer);
        Some(snap)
    }

    fn fill_content(&mut self, max_file_size: u64, buffer: &mut [u8]) {
        match self.kind {
            Kind::File if self.size <= max_file_size => {
                self.hash = hash_file(&self.path, buffer);
            }
            Kind::Symlink => {
                if let Ok(target) = std::fs::read_link(&self.path) {
                    let bytes = target.into_os_string().into_vec();
                    self.hash = Some(prefix(blake3::hash(&bytes)));
                    self.target = Some(bytes);
                }
            }
            _ => {}
        }
    }

    /// The attributes as they appear in an event's `before` and `after` objects.
    pub fn attributes(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), Value::from(self.kind.as_str()));
        m.insert("mode".into(), Value::from(format!("{:04o}", self.mode)));
        m.insert("uid".into(), Value::from(self.uid));
        m.insert("gid".into(), Value::from(self.gid));
        if self.kind != Kind::Dir {
            m.insert("size".into(), Value::from(self.size));
        }
        m.insert("mtime".into(), Value::from(self.mtime));
        if let Some(hash) = self.hash.filter(|_| self.kind == Kind::File) {
            m.insert("blake3_128".into(), Value::from(hex(&hash)));
        }
        if let Some(target) = &self.target {
            m.insert(
                "target".into(),
                Value::from(String::from_utf8_lossy(target).into_owned()),
            );
        }
        Value::Object(m)
    }
}

use std::os::unix::ffi::OsStringExt;

fn prefix(hash: blake3::Hash) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(&hash.as_bytes()[..16]);
    out
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn hash_file(path: &Path, buffer: &mut [u8]) -> Option<[u8; 16]> {
    // O_NOATIME keeps the check from touching every atime (allowed for the owner or root);
    // O_NONBLOCK keeps a file swapped for a FIFO since lstat from hanging the walk.
    let open = |flags| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
    };
    let base = nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK;
    let mut file = match open(base | nix::libc::O_NOATIME) {
        Ok(f) => f,
        Err(_) => open(base).ok()?,
    };
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut hasher = blake3::Hasher::new();
    loop {
        match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(prefix(hasher.finalize()))
}

/// A sorted depth-first walk of a [`Scope`], yielding lstat results without following links.
#[derive(Debug)]
pub struct Walker<'a> {
    scope: &'a Scope,
    /// Paths still to visit, the next on top, each with its root's device.
    stack: Vec<(PathBuf, Option<u64>)>,
    /// Paths that vanished or could not be read during the walk.
    pub errors: u64,
}

impl<'a> Walker<'a> {
    /// Walk every root of `scope`.
    pub fn new(scope: &'a Scope) -> Self {
        Self::under(scope, scope.roots.clone())
    }

    /// Walk only below `starts` (already sorted), within `scope`'s ignores.
    pub fn under(scope: &'a Scope, mut starts: Vec<PathBuf>) -> Self {
        starts.reverse();
        Walker {
            scope,
            stack: starts.into_iter().map(|p| (p, None)).collect(),
            errors: 0,
        }
    }

    /// The next path and its metadata. `on_dir` sees each directory before it is listed, so a
    /// watch added there misses nothing created after the listing.
    pub fn next_entry(&mut self, on_dir: &mut dyn FnMut(&Path)) -> Option<(PathBuf, Metadata)> {
        while let Some((path, dev)) = self.stack.pop() {
            if self.scope.is_ignored(&path) {
                continue;
            }
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(_) => {
                    self.errors += 1;
                    continue;
                }
            };
            let dev = dev.unwrap_or(meta.dev());
            if meta.is_dir() && (!self.scope.one_file_system || meta.dev() == dev) {
                on_dir(&path);
                match std::fs::read_dir(&path) {
                    Ok(read) => {
                        let mut names: Vec<_> = read.flatten().map(|e| e.file_name()).collect();
                        names.sort_unstable_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
                        self.stack
                            .extend(names.into_iter().map(|n| (path.join(n), Some(dev))));
                    }
                    Err(_) => self.errors += 1,
                }
            }
            return Some((path, meta));
        }
        None
    }

    /// The next batch of snapshots, hashed on `scope.threads` threads. Empty at the end.
    pub fn next_batch(&mut self, on_dir: &mut dyn FnMut(&Path)) -> Vec<Snapshot> {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            let Some((path, meta)) = self.next_entry(on_dir) else {
                break;
            };
            batch.push(Snapshot::from_meta(path, &meta));
        }
        hash_batch(&mut batch, self.scope.max_file_size, self.scope.threads);
        batch
    }
}

fn hash_batch(batch: &mut [Snapshot], max_file_size: u64, threads: usize) {
    let chunks = Mutex::new(batch.chunks_mut(64));
    let work = || {
        let mut buffer = vec![0; READ_BUFFER];
        loop {
            let chunk = match chunks.lock() {
                Ok(mut it) => it.next(),
                Err(_) => None,
            };
            let Some(chunk) = chunk else { break };
            for snap in chunk {
                snap.fill_content(max_file_size, &mut buffer);
            }
        }
    };
    if threads <= 1 {
        work();
        return;
    }
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
}

/// One stored path: 56 bytes, the path itself in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    path_off: u32,
    path_len: u32,
    size: u64,
    mtime: i64,
    hash: [u8; 16],
    mode: u32,
    uid: u32,
    gid: u32,
    kind: u8,
    hashed: bool,
}

/// A difference between the baseline and the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Snapshot),
    Removed(Snapshot),
    Modified {
        before: Snapshot,
        after: Snapshot,
        /// Which of `content`, `mode`, `owner`, `type`, `target` changed.
        what: Vec<&'static str>,
    },
}

impl Change {
    /// The path changed.
    pub fn path(&self) -> &Path {
        match self {
            Change::Added(s) | Change::Removed(s) => &s.path,
            Change::Modified { after, .. } => &after.path,
        }
    }

    /// `added`, `removed` or `modified`.
    pub fn action(&self) -> &'static str {
        match self {
            Change::Added(_) => "added",
            Change::Removed(_) => "removed",
            Change::Modified { .. } => "modified",
        }
    }
}

/// What differs between two snapshots of one path; mtime alone is not a change.
pub fn differences(before: &Snapshot, after: &Snapshot) -> Vec<&'static str> {
    let mut what = Vec::new();
    if before.kind != after.kind {
        what.push("type");
    } else {
        let content = match (before.hash, after.hash) {
            (Some(a), Some(b)) => a != b,
            // Not hashed on one side (too large, unreadable): size is all we can compare.
            _ => before.kind == Kind::File && before.size != after.size,
        };
        if content && before.kind == Kind::Symlink {
            what.push("target");
        } else if content {
            what.push("content");
        }
    }
    if before.mode != after.mode {
        what.push("mode");
    }
    if before.uid != after.uid || before.gid != after.gid {
        what.push("owner");
    }
    what
}

/// Counts of one build or check.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WalkStats {
    pub entries: u64,
    pub hashed: u64,
    pub errors: u64,
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
}

/// The baseline. See the module docs.
#[derive(Debug, Default)]
pub struct Baseline {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    /// Arena bytes no longer referenced (removed paths); compacted when they dominate.
    garbage: usize,
}

impl Baseline {
    /// Walk `scope` and record everything. `on_dir` is called for each directory (the
    /// watcher adds its inotify watches there).
    pub fn build(scope: &Scope, on_dir: &mut dyn FnMut(&Path)) -> (Baseline, WalkStats) {
        let mut baseline = Baseline::default();
        let mut stats = WalkStats::default();
        let mut walker = Walker::new(scope);
        loop {
            let batch = walker.next_batch(on_dir);
            if batch.is_empty() {
                break;
            }
            for snap in &batch {
                stats.entries += 1;
                stats.hashed += u64::from(snap.hash.is_some() && snap.kind == Kind::File);
                let entry = baseline.store(snap);
                baseline.entries.push(entry);
            }
        }
        stats.errors = walker.errors;
        baseline.arena.shrink_to_fit();
        baseline.entries.shrink_to_fit();
        (baseline, stats)
    }

    /// Number of paths recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    fn store(&mut self, snap: &Snapshot) -> Entry {
        let path = snap.path.as_os_str().as_bytes();
        let path_off = self.arena.len() as u32;
        self.arena.extend_from_slice(path);
        if let Some(target) = &snap.target {
            self.arena.push(0);
            self.arena.extend_from_slice(target);
        }
        Entry {
            path_off,
            path_len: path.len() as u32,
            size: if snap.kind == Kind::Symlink {
                snap.target.as_ref().map_or(0, |t| t.len() as u64)
            } else {
                snap.size
            },
            mtime: snap.mtime,
            hash: snap.hash.unwrap_or_default(),
            mode: snap.mode,
            uid: snap.uid,
            gid: snap.gid,
            kind: snap.kind.code(),
            hashed: snap.hash.is_some(),
        }
    }

    fn stored_len(e: &Entry) -> usize {
        let extra = if Kind::from_code(e.kind) == Kind::Symlink && e.hashed {
            1 + e.size as usize
        } else {
            0
        };
        e.path_len as usize + extra
    }

    fn path_bytes(&self, e: &Entry) -> &[u8] {
        &self.arena[e.path_off as usize..(e.path_off + e.path_len) as usize]
    }

    /// The stored snapshot of entry `e`.
    fn snapshot(&self, e: &Entry) -> Snapshot {
        let kind = Kind::from_code(e.kind);
        let target = (kind == Kind::Symlink && e.hashed).then(|| {
            let start = (e.path_off + e.path_len + 1) as usize;
            self.arena[start..start + e.size as usize].to_vec()
        });
        Snapshot {
            path: PathBuf::from(OsStr::from_bytes(self.path_bytes(e))),
            kind,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            size: e.size,
            mtime: e.mtime,
            hash: e.hashed.then_some(e.hash),
            target,
        }
    }

    fn search(&self, path: &[u8]) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| cmp_paths(self.path_bytes(e), path))
    }

    /// The recorded state of `path`.
    pub fn get(&self, path: &Path) -> Option<Snapshot> {
        let i = self.search(path.as_os_str().as_bytes()).ok()?;
        Some(self.snapshot(&self.entries[i]))
    }

    /// Record `now` as the state of `path` (or its absence, with `None`), and say what changed.
    pub fn update(&mut self, path: &Path, now: Option<&Snapshot>) -> Option<Change> {
        let key = path.as_os_str().as_bytes();
        match (self.search(key), now) {
            (Ok(i), Some(now)) => {
                let before = self.snapshot(&self.entries[i]);
                let what = differences(&before, now);
                if before.target == now.target && before.kind == now.kind {
                    // Same stored length: overwrite the fields, keep the arena bytes.
                    let mut entry = self.store_fields(self.entries[i], now);
                    entry.path_off = self.entries[i].path_off;
                    self.entries[i] = entry;
                } else {
                    self.garbage += Self::stored_len(&self.entries[i]);
                    self.entries[i] = self.store(now);
                }
                self.maybe_compact();
                (!what.is_empty()).then(|| Change::Modified {
                    before,
                    after: now.clone(),
                    what,
                })
            }
            (Ok(i), None) => {
                let before = self.snapshot(&self.entries[i]);
                self.garbage += Self::stored_len(&self.entries[i]);
                self.entries.remove(i);
                self.maybe_compact();
                Some(Change::Removed(before))
            }
            (Err(i), Some(now)) => {
                let entry = self.store(now);
                self.entries.insert(i, entry);
                Some(Change::Added(now.clone()))
            }
            (Err(_), None) => None,
        }
    }

    fn store_fields(&self, old: Entry, snap: &Snapshot) -> Entry {
        Entry {
            path_off: old.path_off,
            path_len: old.path_len,
            size: if snap.kind == Kind::Symlink {
                old.size
            } else {
                snap.size
            },
            mtime: snap.mtime,
            hash: snap.hash.unwrap_or_default(),
            mode: snap.mode,
            uid: snap.uid,
            gid: snap.gid,
            kind: snap.kind.code(),
            hashed: snap.hash.is_some(),
        }
    }

    /// Paths recorded strictly below directory `dir`.
    pub fn paths_below(&self, dir: &Path) -> Vec<PathBuf> {
        let mut key = dir.as_os_str().as_bytes().to_vec();
        key.push(b'/');
        let start = match self.search(&key) {
            Ok(i) | Err(i) => i,
        };
        self.entries[start..]
            .iter()
            .map(|e| self.path_bytes(e))
            .take_while(|p| p.starts_with(&key))
            .map(|p| PathBuf::from(OsStr::from_bytes(p)))
            .collect()
    }

    fn maybe_compact(&mut self) {
        if self.garbage < 64 * 1024 || self.garbage < self.arena.len() / 2 {
            return;
        }
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for e in &mut self.entries {
            let len = Self::stored_len(e);
            let start = e.path_off as usize;
            let off = arena.len() as u32;
            arena.extend_from_slice(&self.arena[start..start + len]);
            e.path_off = off;
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// Walk `scope` again, hash everything, report each difference to `on_change`, and bring
    /// the baseline up to date. It holds one batch of the walk at a time, never a second
    /// baseline.
    pub fn check(
        &mut self,
        scope: &Scope,
        on_dir: &mut dyn FnMut(&Path),
        on_change: &mut dyn FnMut(Change),
    ) -> WalkStats {
        let mut stats = WalkStats::default();
        let mut walker = Walker::new(scope);
        let mut cursor = 0usize;
        let mut removed: Vec<usize> = Vec::new();
        let mut added = Baseline::default();
        loop {
            let batch = walker.next_batch(on_dir);
            if batch.is_empty() {
                break;
            }
            for snap in batch {
                stats.entries += 1;
                stats.hashed += u64::from(snap.hash.is_some() && snap.kind == Kind::File);
                let key = snap.path.as_os_str().as_bytes();
                // Everything recorded before this path and not seen is gone.
                while cursor < self.entries.len()
                    && cmp_paths(self.path_bytes(&self.entries[cursor]), key) == Ordering::Less
                {
                    removed.push(cursor);
                    cursor += 1;
                }
                let same =
                    cursor < self.entries.len() && self.path_bytes(&self.entries[cursor]) == key;
                if same {
                    let before = self.snapshot(&self.entries[cursor]);
                    let what = differences(&before, &snap);
                    if before.target == snap.target && before.kind == snap.kind {
                        self.entries[cursor] = self.store_fields(self.entries[cursor], &snap);
                    } else {
                        self.garbage += Self::stored_len(&self.entries[cursor]);
                        self.entries[cursor] = self.store(&snap);
                    }
                    cursor += 1;
                    if !what.is_empty() {
                        stats.modified += 1;
                        on_change(Change::Modified {
                            before,
                            after: snap,
                            what,
                        });
                    }
                } else {
                    let entry = added.store(&snap);
                    added.entries.push(entry);
                    stats.added += 1;
                    on_change(Change::Added(snap));
                }
            }
        }
        removed.extend(cursor..self.entries.len());
        stats.errors = walker.errors;
        stats.removed = removed.len() as u64;
        for &i in &removed {
            on_change(Change::Removed(self.snapshot(&self.entries[i])));
            self.garbage += Self::stored_len(&self.entries[i]);
        }
        self.merge(&removed, added);
        stats
    }

    /// Drop the entries at `removed` (ascending) and merge in `added` (sorted).
    fn merge(&mut self, removed: &[usize], added: Baseline) {
        if removed.is_empty() && added.entries.is_empty() {
            self.maybe_compact();
            return;
        }
        let mut gone = removed.iter().peekable();
        let mut index = 0usize;
        self.entries.retain(|_| {
            let keep = gone.peek() != Some(&&index);
            if !keep {
                gone.next();
            }
            index += 1;
            keep
        });
        let shift = self.arena.len() as u32;
        self.arena.extend_from_slice(&added.arena);
        let mut merged = Vec::with_capacity(self.entries.len() + added.entries.len());
        let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
        for mut e in added.entries {
            e.path_off += shift;
            while let Some(o) = old.peek() {
                if cmp_paths(self.path_bytes(o), self.path_bytes(&e)) == Ordering::Less {
                    merged.push(*o);
                    old.next();
                } else {
                    break;
                }
            }
            merged.push(e);
        }
        merged.extend(old);
        self.entries = merged;
        self.maybe_compact();
    }

    /// Serialise for [`Baseline::read_from`], streaming: no second copy is made.
    pub fn write_to<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
        out.write_all(MAGIC)?;
        out.write_all(&(self.entries.len() as u64).to_le_bytes())?;
        out.write_all(&(self.arena.len() as u64).to_le_bytes())?;
        for e in &self.entries {
            let mut r = [0u8; RECORD];
            r[0..4].copy_from_slice(&e.path_off.to_le_bytes());
            r[4..8].copy_from_slice(&e.path_len.to_le_bytes());
            r[8..16].copy_from_slice(&e.size.to_le_bytes());
            r[16..24].copy_from_slice(&e.mtime.to_le_bytes());
            r[24..40].copy_from_slice(&e.hash);
            r[40..44].copy_from_slice(&e.mode.to_le_bytes());
            r[44..48].copy_from_slice(&e.uid.to_le_bytes());
            r[48..52].copy_from_slice(&e.gid.to_le_bytes());
            r[52] = e.kind;
            r[53] = u8::from(e.hashed);
            out.write_all(&r)?;
        }
        out.write_all(&self.arena)
    }

    /// The serialised form in one buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.entries.len() * RECORD + self.arena.len());
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }

    /// Read what [`Baseline::write_to`] wrote; `None` if it is not that.
    pub fn from_bytes(bytes: &[u8]) -> Option<Baseline> {
        Self::read_from(&mut &bytes[..])
    }

    /// Read what [`Baseline::write_to`] wrote, streaming; `None` if it is not that.
    pub fn read_from<R: std::io::Read>(input: &mut R) -> Option<Baseline> {
        let mut header = [0u8; 24];
        input.read_exact(&mut header).ok()?;
        if &header[..8] != MAGIC {
            return None;
        }
        let u64_at = |b: &[u8], at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        let u32_at = |b: &[u8], at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let count = usize::try_from(u64_at(&header, 8)?).ok()?;
        let arena_len = usize::try_from(u64_at(&header, 16)?).ok()?;
        // Sizes are checked against what can actually be read, not trusted for allocation.
        let mut entries = Vec::with_capacity(count.min(1 << 20));
        let mut r = [0u8; RECORD];
        for _ in 0..count {
            input.read_exact(&mut r).ok()?;
            let mut hash = [0; 16];
            hash.copy_from_slice(&r[24..40]);
            entries.push(Entry {
                path_off: u32_at(&r, 0)?,
                path_len: u32_at(&r, 4)?,
                size: u64_at(&r, 8)?,
                mtime: u64_at(&r, 16)? as i64,
                hash,
                mode: u32_at(&r, 40)?,
                uid: u32_at(&r, 44)?,
                gid: u32_at(&r, 48)?,
                kind: r[52],
                hashed: r[53] != 0,
            });
        }
        let mut arena = Vec::with_capacity(arena_len.min(1 << 26));
        input.take(arena_len as u64).read_to_end(&mut arena).ok()?;
        if arena.len() != arena_len || input.read(&mut [0u8; 1]).ok()? != 0 {
            return None;
        }
        for e in &entries {
            if (e.path_off as usize).checked_add(Self::stored_len(e))? > arena.len() {
                return None;
            }
        }
        let baseline = Baseline {
            arena,
            entries,
            garbage: 0,
        };
        // Lookups rely on the order; a file that breaks it is not ours.
        let sorted = baseline.entries.windows(2).all(|w| {
            cmp_paths(baseline.path_bytes(&w[0]), baseline.path_bytes(&w[1])) == Ordering::Less
        });
        sorted.then_some(baseline)
    }
}

const MAGIC: &[u8; 8] = b"PKFIM01\n";
const RECORD: usize = 54;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_is_slash_smallest_byte_order() {
        let mut paths = vec!["/a.c", "/a/b", "/a", "/a/b/c", "/ab", "/a-"];
        paths.sort_by(|a, b| cmp_paths(a.as_bytes(), b.as_bytes()));
        assert_eq!(paths, ["/a", "/a/b", "/a/b/c", "/a-", "/a.c", "/ab"]);
    }

    #[test]
    fn entry_stays_small() {
        assert!(std::mem::size_of::<Entry>() <= 56);
    }
}
