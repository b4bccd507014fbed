//! The baseline: every watched path with its type, mode, owner, size, mtime and a 16-byte
//! BLAKE3 prefix of its content (or of its target, for a symlink).
//!
//! Memory is what limits an agent in every qube, so the baseline lives in its state file, not
//! in memory: records of 54 bytes plus the path, in walk order, read back through a small
//! buffer. What stays in memory is an index of every 64th path (about 8 KB for 10,000 files)
//! and the realtime updates not yet merged into the file (at most [`OVERLAY_LIMIT`] before
//! the owner saves). Without a state file the same bytes are kept in memory.
//!
//! The order is that of a depth-first walk with each directory's names sorted by bytes, which
//! is byte order with `/` counted as the smallest byte ([`cmp_paths`]). A check walks the tree in
//! the same order and merges against the stored baseline as it goes, writing the new one
//! beside it: it holds one batch of the walk, never a baseline.
//!
//! Why BLAKE3: it is several times faster than SHA-256 on CPUs without SHA extensions, which is
//! most of what runs Qubes, and keeping 128 bits of it still leaves a second preimage (what
//! an attacker who wants an altered file to match would need) at 2^128 work.

use super::glob::GlobSet;
use crate::Error;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Paths are walked and hashed in batches of this many, so memory stays flat however large
/// the tree is. Small, because the allocator cannot give back the pages a batch's paths used
/// once the watches and index added during the walk are scattered among them: the idle agent
/// kept 340 KiB of heap after a walk of 10,101 paths with batches of 2,048, and 128 KiB with
/// batches of 256 (the agent footprint test). Hashing threads still get 64 paths at a time.
const BATCH: usize = 256;
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
        let ignore = GlobSet::new(ignore)
            .map_err(|(pattern, reason)| Error::BadPattern { pattern, reason })?;
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
        !self.ignore.is_empty() && self.ignore.is_match(path.as_os_str().as_bytes())
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
                self.hash = hash_file(&self.path, self.size, max_file_size, buffer);
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

/// The content hash of the file at `path`, which lstat said is a regular file of `size`
/// bytes. Four system calls for a small file (open, one read, close, and the walk's lstat):
/// most of the time of a baseline of small files is system calls.
fn hash_file(path: &Path, size: u64, max_file_size: u64, buffer: &mut [u8]) -> Option<[u8; 16]> {
    // O_NOATIME keeps the check from touching every atime (allowed for the owner or root);
    // O_NONBLOCK keeps a file swapped for a FIFO since lstat from hanging the walk. A file
    // swapped for something else is not stat-ed again: a directory fails to read, and
    // reading stops past `max_file_size`, so a device cannot keep the walk reading.
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
    let mut hasher = blake3::Hasher::new();
    let mut total = 0u64;
    loop {
        match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                total += n as u64;
                if total > max_file_size {
                    return None;
                }
                // A regular file reads short only at its end: a short read that brings it to
                // the size lstat gave needs no second read to see end of file.
                if n < buffer.len() && total == size {
                    break;
                }
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
    diff_attrs(&before.attrs(), &after.attrs())
}

fn diff_attrs(before: &Attrs, after: &Attrs) -> Vec<&'static str> {
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

/// The fixed part of one stored record; the path and a symlink's target follow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Head {
    path_len: u32,
    target_len: u32,
    size: u64,
    mtime: i64,
    hash: [u8; 16],
    mode: u32,
    uid: u32,
    gid: u32,
    kind: u8,
    hashed: bool,
}

/// Bytes of a [`Head`] as stored.
const HEAD: usize = 54;
/// Longest path or symlink target a stored record may hold (Linux's `PATH_MAX` is 4096), so
/// a damaged file cannot make a reader allocate much.
const MAX_FIELD: u32 = 64 * 1024;
const MAGIC: &[u8; 8] = b"PKFIM02\n";
/// Magic and record count.
const HEADER: u64 = 16;
/// One record in this many has its path and offset in the in-memory index.
const INDEX_EVERY: u64 = 64;
/// Realtime updates kept in memory before the owner should [`Baseline::save`] them.
pub const OVERLAY_LIMIT: usize = 1024;
/// What a [`Reader`] asks the store for at a time.
const READ_CHUNK: usize = 16 * 1024;

impl Head {
    fn of(snap: &Snapshot) -> Head {
        Head {
            path_len: snap.path.as_os_str().len() as u32,
            target_len: snap.target.as_ref().map_or(0, |t| t.len() as u32),
            size: snap.size,
            mtime: snap.mtime,
            hash: snap.hash.unwrap_or_default(),
            mode: snap.mode,
            uid: snap.uid,
            gid: snap.gid,
            kind: snap.kind.code(),
            hashed: snap.hash.is_some(),
        }
    }

    fn encode(&self) -> [u8; HEAD] {
        let mut r = [0u8; HEAD];
        r[0..4].copy_from_slice(&self.path_len.to_le_bytes());
        r[4..8].copy_from_slice(&self.target_len.to_le_bytes());
        r[8..16].copy_from_slice(&self.size.to_le_bytes());
        r[16..24].copy_from_slice(&self.mtime.to_le_bytes());
        r[24..40].copy_from_slice(&self.hash);
        r[40..44].copy_from_slice(&self.mode.to_le_bytes());
        r[44..48].copy_from_slice(&self.uid.to_le_bytes());
        r[48..52].copy_from_slice(&self.gid.to_le_bytes());
        r[52] = self.kind;
        r[53] = u8::from(self.hashed);
        r
    }

    fn decode(r: &[u8]) -> Option<Head> {
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(r.get(at..at + 4)?.try_into().ok()?))
        };
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(r.get(at..at + 8)?.try_into().ok()?))
        };
        let head = Head {
            path_len: u32_at(0)?,
            target_len: u32_at(4)?,
            size: u64_at(8)?,
            mtime: u64_at(16)? as i64,
            hash: r.get(24..40)?.try_into().ok()?,
            mode: u32_at(40)?,
            uid: u32_at(44)?,
            gid: u32_at(48)?,
            kind: *r.get(52)?,
            hashed: *r.get(53)? != 0,
        };
        (head.path_len <= MAX_FIELD && head.target_len <= MAX_FIELD).then_some(head)
    }
}

/// What [`differences`] compares.
#[derive(Debug, Clone, Copy)]
struct Attrs {
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    hash: Option<[u8; 16]>,
}

impl Snapshot {
    fn attrs(&self) -> Attrs {
        Attrs {
            kind: self.kind,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            hash: self.hash,
        }
    }
}

/// One record read back, its buffers reused from record to record.
#[derive(Debug, Default)]
struct Rec {
    head: Head,
    path: Vec<u8>,
    target: Vec<u8>,
}

impl Rec {
    fn attrs(&self) -> Attrs {
        Attrs {
            kind: Kind::from_code(self.head.kind),
            mode: self.head.mode,
            uid: self.head.uid,
            gid: self.head.gid,
            size: self.head.size,
            hash: self.head.hashed.then_some(self.head.hash),
        }
    }

    fn snapshot(&self) -> Snapshot {
        let kind = Kind::from_code(self.head.kind);
        Snapshot {
            path: PathBuf::from(OsStr::from_bytes(&self.path)),
            kind,
            mode: self.head.mode,
            uid: self.head.uid,
            gid: self.head.gid,
            size: self.head.size,
            mtime: self.head.mtime,
            hash: self.head.hashed.then_some(self.head.hash),
            target: (kind == Kind::Symlink && self.head.hashed).then(|| self.target.clone()),
        }
    }
}

/// Where the records are: the state file, or (without one) the same bytes in memory.
#[derive(Debug)]
enum Store {
    File { file: std::fs::File, path: PathBuf },
    Memory(Vec<u8>),
}

impl Store {
    fn len(&self) -> u64 {
        match self {
            Store::File { file, .. } => file.metadata().map_or(0, |m| m.len()),
            Store::Memory(bytes) => bytes.len() as u64,
        }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        match self {
            Store::File { file, .. } => loop {
                match file.read_at(buf, offset) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => return other,
                }
            },
            Store::Memory(bytes) => {
                let start = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok(n)
            }
        }
    }

    fn name(&self) -> PathBuf {
        match self {
            Store::File { path, .. } => path.clone(),
            Store::Memory(_) => PathBuf::from("<in-memory FIM baseline>"),
        }
    }

    fn damaged(&self, reason: &str) -> Error {
        Error::BadState {
            path: self.name(),
            reason: reason.into(),
        }
    }
}

/// Reads records one after another from an offset, through a small buffer.
#[derive(Debug)]
struct Reader<'a> {
    store: &'a Store,
    /// Store offset of `buf[0]`.
    pos: u64,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<'a> Reader<'a> {
    fn new(store: &'a Store, from: u64) -> Self {
        Reader {
            store,
            pos: from,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Store offset of the next record.
    fn offset(&self) -> u64 {
        self.pos + self.start as u64
    }

    /// At least `n` unread bytes in the buffer; false if the store ends first.
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.pos += self.start as u64;
                self.end -= self.start;
                self.start = 0;
            }
            let want = (self.end + READ_CHUNK).max(n);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            let got = self
                .store
                .read_at(&mut self.buf[self.end..], self.pos + self.end as u64)
                .map_err(|e| Error::io(self.store.name(), e))?;
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
        Ok(true)
    }

    /// Read the next record into `rec`; false at the end of the store.
    fn next_into(&mut self, rec: &mut Rec) -> Result<bool, Error> {
        if !self.fill(HEAD)? {
            return if self.end == self.start {
                Ok(false)
            } else {
                Err(self.store.damaged("truncated record"))
            };
        }
        let head = Head::decode(&self.buf[self.start..self.start + HEAD])
            .ok_or_else(|| self.store.damaged("bad record"))?;
        let len = HEAD + head.path_len as usize + head.target_len as usize;
        if !self.fill(len)? {
            return Err(self.store.damaged("truncated record"));
        }
        let path_at = self.start + HEAD;
        let target_at = path_at + head.path_len as usize;
        rec.head = head;
        rec.path.clear();
        rec.path.extend_from_slice(&self.buf[path_at..target_at]);
        rec.target.clear();
        rec.target
            .extend_from_slice(&self.buf[target_at..self.start + len]);
        self.start += len;
        Ok(true)
    }
}

/// Every [`INDEX_EVERY`]th record's path and offset, so a lookup reads one small block.
#[derive(Debug, Default)]
struct Index {
    keys: Vec<u8>,
    /// (record offset, key offset in `keys`, key length)
    marks: Vec<(u64, u32, u32)>,
}

impl Index {
    fn add(&mut self, offset: u64, key: &[u8]) {
        self.marks
            .push((offset, self.keys.len() as u32, key.len() as u32));
        self.keys.extend_from_slice(key);
    }

    fn key(&self, mark: &(u64, u32, u32)) -> &[u8] {
        &self.keys[mark.1 as usize..(mark.1 + mark.2) as usize]
    }

    /// Offset from which a record with path `key` (or the first after it) is found.
    fn start_for(&self, key: &[u8]) -> u64 {
        let after = self
            .marks
            .partition_point(|m| cmp_paths(self.key(m), key) != Ordering::Greater);
        match after.checked_sub(1) {
            Some(i) => self.marks[i].0,
            None => HEADER,
        }
    }

    fn shrink(&mut self) {
        self.keys.shrink_to_fit();
        self.marks.shrink_to_fit();
    }

    fn heap_bytes(&self) -> usize {
        self.keys.capacity() + self.marks.capacity() * std::mem::size_of::<(u64, u32, u32)>()
    }
}

/// Where a [`Writer`] writes.
#[derive(Debug)]
enum Out {
    /// A temporary sibling of `dest`, renamed over it when done.
    File {
        out: std::io::BufWriter<std::fs::File>,
        tmp: PathBuf,
        dest: PathBuf,
    },
    Memory(Vec<u8>),
}

/// Writes a new store in path order, indexing as it goes.
#[derive(Debug)]
struct Writer {
    out: Out,
    pos: u64,
    count: u64,
    last: Vec<u8>,
    index: Index,
    /// Records refused because they were not in order (a walk that broke it).
    pub disordered: u64,
}

impl Writer {
    fn memory() -> Writer {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&0u64.to_le_bytes());
        Writer::over(Out::Memory(bytes))
    }

    fn file(dest: &Path) -> Result<Writer, Error> {
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        let mut out = std::io::BufWriter::with_capacity(READ_CHUNK, file);
        out.write_all(MAGIC)
            .and_then(|_| out.write_all(&0u64.to_le_bytes()))
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(Writer::over(Out::File {
            out,
            tmp,
            dest: dest.to_path_buf(),
        }))
    }

    fn over(out: Out) -> Writer {
        Writer {
            out,
            pos: HEADER,
            count: 0,
            last: Vec::new(),
            index: Index::default(),
            disordered: 0,
        }
    }

    fn push(&mut self, head: &Head, path: &[u8], target: &[u8]) -> Result<(), Error> {
        if self.count > 0 && cmp_paths(&self.last, path) != Ordering::Less {
            self.disordered += 1;
            return Ok(());
        }
        if self.count.is_multiple_of(INDEX_EVERY) {
            self.index.add(self.pos, path);
        }
        let head = head.encode();
        match &mut self.out {
            Out::File { out, tmp, .. } => out
                .write_all(&head)
                .and_then(|_| out.write_all(path))
                .and_then(|_| out.write_all(target))
                .map_err(|e| Error::io(&*tmp, e))?,
            Out::Memory(bytes) => {
                bytes.extend_from_slice(&head);
                bytes.extend_from_slice(path);
                bytes.extend_from_slice(target);
            }
        }
        self.pos += (HEAD + path.len() + target.len()) as u64;
        self.count += 1;
        self.last.clear();
        self.last.extend_from_slice(path);
        Ok(())
    }

    fn push_snapshot(&mut self, snap: &Snapshot) -> Result<(), Error> {
        let target = snap.target.as_deref().unwrap_or_default();
        self.push(&Head::of(snap), snap.path.as_os_str().as_bytes(), target)
    }

    fn push_rec(&mut self, rec: &Rec) -> Result<(), Error> {
        self.push(&rec.head, &rec.path, &rec.target)
    }

    /// Write the count, make the new store durable and put it in place.
    fn finish(self) -> Result<(Store, Index, u64), Error> {
        let count = self.count.to_le_bytes();
        let mut index = self.index;
        index.shrink();
        let store = match self.out {
            Out::Memory(mut bytes) => {
                bytes[8..16].copy_from_slice(&count);
                bytes.shrink_to_fit();
                Store::Memory(bytes)
            }
            Out::File { out, tmp, dest } => {
                let file = out
                    .into_inner()
                    .map_err(|e| Error::io(&tmp, e.into_error()))?;
                file.write_all_at(&count, 8)
                    .and_then(|_| file.sync_all())
                    .map_err(|e| Error::io(&tmp, e))?;
                std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
                // The rename is durable only once the directory entry is.
                if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if let Ok(d) = std::fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                Store::File { file, path: dest }
            }
        };
        Ok((store, index, self.count))
    }
}

/// A path in walk order, for the overlay of realtime updates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key(Vec<u8>);

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_paths(&self.0, &other.0)
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The baseline. See the module docs.
#[derive(Debug)]
pub struct Baseline {
    store: Store,
    index: Index,
    /// Paths recorded, counting the overlay.
    len: u64,
    /// Realtime updates not yet merged into the store: a path's new state, or `None` for a
    /// path gone.
    overlay: BTreeMap<Key, Option<Snapshot>>,
}

impl Default for Baseline {
    fn default() -> Self {
        let (store, index, _) = match Writer::memory().finish() {
            Ok(done) => done,
            // Finishing in memory does no I/O.
            Err(_) => (Store::Memory(Vec::new()), Index::default(), 0),
        };
        Baseline::over(store, index, 0)
    }
}

impl Baseline {
    fn over(store: Store, index: Index, len: u64) -> Baseline {
        Baseline {
            store,
            index,
            len,
            overlay: BTreeMap::new(),
        }
    }

    /// Walk `scope` and record everything, in memory. `on_dir` is called for each directory
    /// (the watcher adds its inotify watches there).
    pub fn build(scope: &Scope, on_dir: &mut dyn FnMut(&Path)) -> (Baseline, WalkStats) {
        // Writing to memory does no I/O, so this cannot fail.
        Self::build_with(scope, on_dir, Writer::memory()).unwrap_or_default()
    }

    /// Walk `scope` and record everything in the file at `path` (replaced atomically), which
    /// the baseline then reads from: its memory is a small index, whatever the tree's size.
    pub fn build_at(
        scope: &Scope,
        on_dir: &mut dyn FnMut(&Path),
        path: &Path,
    ) -> Result<(Baseline, WalkStats), Error> {
        Self::build_with(scope, on_dir, Writer::file(path)?)
    }

    fn build_with(
        scope: &Scope,
        on_dir: &mut dyn FnMut(&Path),
        mut writer: Writer,
    ) -> Result<(Baseline, WalkStats), Error> {
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
                writer.push_snapshot(snap)?;
            }
        }
        stats.errors = walker.errors + writer.disordered;
        let (store, index, count) = writer.finish()?;
        Ok((Baseline::over(store, index, count), stats))
    }

    /// The baseline saved at `path`; `None` if there is none, or if the file is not one this
    /// version wrote (a new baseline is built then).
    pub fn open(path: &Path) -> Result<Option<Baseline>, Error> {
        let file = match std::fs::OpenOptions::new().read(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        Ok(Self::validate(Store::File {
            file,
            path: path.to_path_buf(),
        }))
    }

    /// A baseline from the bytes [`Baseline::to_bytes`] gave; `None` if they are not that.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Baseline> {
        Self::validate(Store::Memory(bytes))
    }

    /// The stored form (the state file's content), with realtime updates merged in.
    pub fn to_bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.save()?;
        let mut bytes = vec![0u8; usize::try_from(self.store.len()).unwrap_or(0)];
        let n = self
            .store
            .read_at(&mut bytes, 0)
            .map_err(|e| Error::io(self.store.name(), e))?;
        bytes.truncate(n);
        Ok(bytes)
    }

    /// Read the whole store once: the header, every record in strict path order, the count;
    /// and build the index on the way.
    fn validate(store: Store) -> Option<Baseline> {
        let mut header = [0u8; HEADER as usize];
        if store.read_at(&mut header, 0).ok()? != header.len() || &header[..8] != MAGIC {
            return None;
        }
        let count = u64::from_le_bytes(header[8..16].try_into().ok()?);
        let mut index = Index::default();
        let mut reader = Reader::new(&store, HEADER);
        let mut rec = Rec::default();
        let mut last = Vec::new();
        let mut seen = 0u64;
        loop {
            let offset = reader.offset();
            if !reader.next_into(&mut rec).ok()? {
                break;
            }
            if seen > 0 && cmp_paths(&last, &rec.path) != Ordering::Less {
                return None;
            }
            if seen.is_multiple_of(INDEX_EVERY) {
                index.add(offset, &rec.path);
            }
            seen += 1;
            std::mem::swap(&mut last, &mut rec.path);
        }
        if seen != count {
            return None;
        }
        index.shrink();
        drop(reader);
        Some(Baseline::over(store, index, count))
    }

    /// Number of paths recorded.
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (the index, pending realtime updates, and the records themselves only
    /// when there is no state file).
    pub fn heap_bytes(&self) -> usize {
        let store = match &self.store {
            Store::Memory(bytes) => bytes.capacity(),
            Store::File { .. } => 0,
        };
        let overlay: usize = self
            .overlay
            .iter()
            .map(|(k, v)| {
                k.0.capacity()
                    + std::mem::size_of::<(Key, Option<Snapshot>)>()
                    + v.as_ref().map_or(0, |s| s.path.capacity())
            })
            .sum();
        store + self.index.heap_bytes() + overlay
    }

    /// Realtime updates waiting for [`Baseline::save`].
    pub fn pending(&self) -> usize {
        self.overlay.len()
    }

    fn stored(&self, key: &[u8]) -> Result<Option<Snapshot>, Error> {
        let mut reader = Reader::new(&self.store, self.index.start_for(key));
        let mut rec = Rec::default();
        while reader.next_into(&mut rec)? {
            match cmp_paths(&rec.path, key) {
                Ordering::Less => continue,
                Ordering::Equal => return Ok(Some(rec.snapshot())),
                Ordering::Greater => break,
            }
        }
        Ok(None)
    }

    /// The recorded state of `path`. (A store that cannot be read back counts as holding
    /// nothing there: the next full check rewrites it.)
    pub fn get(&self, path: &Path) -> Option<Snapshot> {
        let key = path.as_os_str().as_bytes();
        if let Some(pending) = self.overlay.get(&Key(key.to_vec())) {
            return pending.clone();
        }
        self.stored(key).ok().flatten()
    }

    /// Record `now` as the state of `path` (or its absence, with `None`), and say what changed.
    /// The update is kept in memory until [`Baseline::save`].
    pub fn update(&mut self, path: &Path, now: Option<&Snapshot>) -> Option<Change> {
        let before = self.get(path);
        if before.as_ref() == now {
            return None;
        }
        let change = match (&before, now) {
            (Some(before), Some(now)) => {
                let what = differences(before, now);
                (!what.is_empty()).then(|| Change::Modified {
                    before: before.clone(),
                    after: now.clone(),
                    what,
                })
            }
            (Some(before), None) => {
                self.len -= 1;
                Some(Change::Removed(before.clone()))
            }
            (None, Some(now)) => {
                self.len += 1;
                Some(Change::Added(now.clone()))
            }
            (None, None) => None,
        };
        self.overlay
            .insert(Key(path.as_os_str().as_bytes().to_vec()), now.cloned());
        change
    }

    /// Paths recorded strictly below directory `dir`.
    pub fn paths_below(&self, dir: &Path) -> Vec<PathBuf> {
        let mut key = dir.as_os_str().as_bytes().to_vec();
        key.push(b'/');
        // Paths below `dir` are contiguous in walk order, from `dir/` on.
        let mut found: BTreeMap<Key, ()> = BTreeMap::new();
        let mut reader = Reader::new(&self.store, self.index.start_for(&key));
        let mut rec = Rec::default();
        while let Ok(true) = reader.next_into(&mut rec) {
            if rec.path.starts_with(&key) {
                found.insert(Key(rec.path.clone()), ());
            } else if cmp_paths(&rec.path, &key) == Ordering::Greater {
                break;
            }
        }
        for (path, now) in self.overlay.range(Key(key.clone())..) {
            if !path.0.starts_with(&key) {
                break;
            }
            match now {
                Some(_) => found.insert(path.clone(), ()),
                None => found.remove(path),
            };
        }
        found
            .into_keys()
            .map(|k| PathBuf::from(OsString::from_vec(k.0)))
            .collect()
    }

    /// A writer for a new store of the same kind as this one.
    fn rewriter(&self) -> Result<Writer, Error> {
        match &self.store {
            Store::File { path, .. } => Writer::file(path),
            Store::Memory(_) => Ok(Writer::memory()),
        }
    }

    fn replace(&mut self, (store, index, count): (Store, Index, u64)) {
        self.store = store;
        self.index = index;
        self.len = count;
        self.overlay.clear();
    }

    /// Merge the realtime updates into the store (for a state file: write it anew and
    /// rename it into place). Nothing to do when there are none.
    pub fn save(&mut self) -> Result<(), Error> {
        if self.overlay.is_empty() {
            return Ok(());
        }
        let mut writer = self.rewriter()?;
        let mut reader = Reader::new(&self.store, HEADER);
        let mut rec = Rec::default();
        let mut have = reader.next_into(&mut rec)?;
        for (key, now) in &self.overlay {
            while have && cmp_paths(&rec.path, &key.0) == Ordering::Less {
                writer.push_rec(&rec)?;
                have = reader.next_into(&mut rec)?;
            }
            if have && rec.path == key.0 {
                // Replaced or removed by the update.
                have = reader.next_into(&mut rec)?;
            }
            if let Some(snap) = now {
                writer.push_snapshot(snap)?;
            }
        }
        while have {
            writer.push_rec(&rec)?;
            have = reader.next_into(&mut rec)?;
        }
        drop(reader);
        let done = writer.finish()?;
        self.replace(done);
        Ok(())
    }

    /// Walk `scope` again, hash everything, report each difference to `on_change`, and
    /// write the baseline anew as it goes: the old one is read alongside the walk (both are in
    /// walk order), so neither is ever held in memory, only one batch of the walk.
    pub fn check(
        &mut self,
        scope: &Scope,
        on_dir: &mut dyn FnMut(&Path),
        on_change: &mut dyn FnMut(Change),
    ) -> Result<WalkStats, Error> {
        self.save()?;
        let mut writer = self.rewriter()?;
        let mut stats = WalkStats::default();
        let mut walker = Walker::new(scope);
        let mut reader = Reader::new(&self.store, HEADER);
        let mut rec = Rec::default();
        let mut have = reader.next_into(&mut rec)?;
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
                while have && cmp_paths(&rec.path, key) == Ordering::Less {
                    stats.removed += 1;
                    on_change(Change::Removed(rec.snapshot()));
                    have = reader.next_into(&mut rec)?;
                }
                writer.push_snapshot(&snap)?;
                if have && rec.path == key {
                    let what = diff_attrs(&rec.attrs(), &snap.attrs());
                    if !what.is_empty() {
                        stats.modified += 1;
                        on_change(Change::Modified {
                            before: rec.snapshot(),
                            after: snap,
                            what,
                        });
                    }
                    have = reader.next_into(&mut rec)?;
                } else {
                    stats.added += 1;
                    on_change(Change::Added(snap));
                }
            }
        }
        while have {
            stats.removed += 1;
            on_change(Change::Removed(rec.snapshot()));
            have = reader.next_into(&mut rec)?;
        }
        stats.errors = walker.errors + writer.disordered;
        drop(reader);
        let done = writer.finish()?;
        self.replace(done);
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_is_slash_smallest_byte_order() {
        let mut paths = vec!["/a.c", "/a/b", "/a", "/a/b/c", "/ab", "/a-"];
        paths.sort_by(|a, b| cmp_paths(a.as_bytes(), b.as_bytes()));
        assert_eq!(paths, ["/a", "/a/b", "/a/b/c", "/a-", "/a.c", "/ab"]);
    }

    fn snap(path: &str, size: u64) -> Snapshot {
        Snapshot {
            path: PathBuf::from(path),
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 1,
            hash: Some([size as u8; 16]),
            target: None,
        }
    }

    #[test]
    fn updates_are_seen_before_and_after_they_are_saved() {
        let mut writer = Writer::memory();
        for i in 0..300u64 {
            writer
                .push_snapshot(&snap(&format!("/r/f{i:04}"), i))
                .expect("push");
        }
        let (store, index, count) = writer.finish().expect("finish");
        let mut b = Baseline::over(store, index, count);
        assert_eq!(b.get(Path::new("/r/f0200")), Some(snap("/r/f0200", 200)));
        assert_eq!(b.get(Path::new("/r/f0200x")), None);
        assert!(matches!(
            b.update(Path::new("/r/f0200"), Some(&snap("/r/f0200", 7))),
            Some(Change::Modified { .. })
        ));
        assert!(matches!(
            b.update(Path::new("/r/f0100"), None),
            Some(Change::Removed(_))
        ));
        assert!(matches!(
            b.update(Path::new("/r/a"), Some(&snap("/r/a", 1))),
            Some(Change::Added(_))
        ));
        for saved in [false, true] {
            if saved {
                b.save().expect("save");
                assert_eq!(b.pending(), 0);
            }
            assert_eq!(b.len(), 300, "saved: {saved}");
            assert_eq!(b.get(Path::new("/r/f0200")), Some(snap("/r/f0200", 7)));
            assert_eq!(b.get(Path::new("/r/f0100")), None);
            assert_eq!(b.get(Path::new("/r/a")), Some(snap("/r/a", 1)));
            assert_eq!(b.paths_below(Path::new("/r")).len(), 300);
        }
        let bytes = b.to_bytes().expect("bytes");
        let again = Baseline::from_bytes(bytes).expect("reads back");
        assert_eq!(again.len(), 300);
        assert_eq!(
            again.get(Path::new("/r/f0299")),
            Some(snap("/r/f0299", 299))
        );
    }

    #[test]
    fn damaged_stores_are_refused() {
        let mut b = Baseline::default();
        b.update(Path::new("/a"), Some(&snap("/a", 1)));
        b.update(Path::new("/b"), Some(&snap("/b", 2)));
        let bytes = b.to_bytes().expect("bytes");
        assert!(Baseline::from_bytes(bytes.clone()).is_some());
        for cut in 0..bytes.len() {
            assert!(
                Baseline::from_bytes(bytes[..cut].to_vec()).is_none(),
                "cut {cut}"
            );
        }
        let mut count_wrong = bytes.clone();
        count_wrong[8] = 3;
        assert!(Baseline::from_bytes(count_wrong).is_none());
    }
}
