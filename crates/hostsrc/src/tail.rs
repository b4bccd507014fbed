//! Log file tailer.
//!
//! Each file is followed by its open descriptor and bookmarked as (device, inode, offset of the
//! end of the last whole line handed out). That bookmark survives the two usual rotations:
//!
//! - **rename and create** (logrotate's default): the path gets a new inode. The old
//!   descriptor is read to its end first, then the new file is read from offset 0. After a
//!   restart, a bookmark whose inode is no longer at the path is looked for among the path's
//!   siblings (`syslog.1`, `syslog-20261127`), finished from its offset, then the new file read.
//! - **copytruncate**: same inode, but the size falls below our offset; reading starts again at
//!   0 and the truncation is counted. Lines written between logrotate's copy and its truncate
//!   are lost whatever the reader does; that is why copytruncate is the worse choice.
//!
//! Lines longer than `max_line` bytes are cut there, handed out with `truncated: true`, the
//! rest of the line skipped and counted. Bytes that are not UTF-8 are replaced (U+FFFD) and the
//! record says `lossy: true`. A last line without a newline waits until one comes, or until its
//! file is rotated away.

use crate::state::{read_optional, write_atomic};
use crate::{Counters, Error, Source};
use picket_event::{Event, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines handed out by one poll at most, so a huge backlog arrives in bounded batches.
const MAX_LINES_PER_POLL: usize = 8192;
const READ_CHUNK: usize = 16 * 1024;

/// One file to follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailConfig {
    /// The log file's path.
    pub path: PathBuf,
    /// Longest line handed out, in bytes; longer lines are cut and counted.
    #[serde(default = "default_max_line")]
    pub max_line: usize,
    /// When there is no bookmark yet: read the file from its start (true) or only what is
    /// appended from now on (false, the default).
    #[serde(default)]
    pub from_start: bool,
}

fn default_max_line() -> usize {
    64 * 1024
}

impl TailConfig {
    /// A config with the defaults for `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TailConfig {
            path: path.into(),
            max_line: default_max_line(),
            from_start: false,
        }
    }
}

/// Where reading of one file stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookmark {
    pub dev: u64,
    pub ino: u64,
    /// End of the last whole line handed out (or skipped).
    pub offset: u64,
    /// In the middle of skipping the rest of an over-long line.
    #[serde(default)]
    pub skipping: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    files: BTreeMap<PathBuf, Bookmark>,
}

#[derive(Debug)]
struct OpenFile {
    file: File,
    dev: u64,
    ino: u64,
    read_pos: u64,
    committed: u64,
    pending: Vec<u8>,
    skipping: bool,
    /// This descriptor is a rotated-away file being finished; the path holds a newer one.
    rotated: bool,
}

#[derive(Debug)]
struct TailedFile {
    config: TailConfig,
    open: Option<OpenFile>,
    /// Bookmark restored from the state file, used at the first open.
    restored: Option<Bookmark>,
    /// The file was seen (opened) before, so a new file at the path starts at 0.
    seen: bool,
}

/// Counters particular to the tailer, on top of [`Counters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TailStats {
    pub lines: u64,
    pub lines_cut: u64,
    pub truncations: u64,
    pub rotations: u64,
}

/// Follows a set of log files. See the module docs.
#[derive(Debug)]
pub struct Tailer {
    files: Vec<TailedFile>,
    state_path: Option<PathBuf>,
    counters: Arc<Counters>,
    stats: TailStats,
    buffer: Vec<u8>,
}

impl Tailer {
    /// Follow `configs`, bookmarking in `state_path` (nothing is persisted when `None`).
    pub fn new(
        configs: Vec<TailConfig>,
        state_path: Option<PathBuf>,
        counters: Arc<Counters>,
    ) -> Result<Self, Error> {
        let mut state = StateFile::default();
        if let Some(path) = &state_path {
            if let Some(bytes) = read_optional(path)? {
                state = serde_json::from_slice(&bytes).map_err(|e| Error::BadState {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        let files = configs
            .into_iter()
            .map(|config| TailedFile {
                restored: state.files.get(&config.path).copied(),
                seen: false,
                config,
                open: None,
            })
            .collect();
        Ok(Tailer {
            files,
            state_path,
            counters,
            stats: TailStats::default(),
            buffer: vec![0; READ_CHUNK],
        })
    }

    /// Counts since start.
    pub fn stats(&self) -> TailStats {
        self.stats
    }

    /// The current bookmark of each followed file.
    pub fn bookmarks(&self) -> BTreeMap<PathBuf, Bookmark> {
        let mut out = BTreeMap::new();
        for f in &self.files {
            if let Some(open) = &f.open {
                out.insert(
                    f.config.path.clone(),
                    Bookmark {
                        dev: open.dev,
                        ino: open.ino,
                        offset: open.committed,
                        skipping: open.skipping,
                    },
                );
            } else if let Some(b) = f.restored {
                out.insert(f.config.path.clone(), b);
            }
        }
        out
    }

    /// Read everything available now from every file, without waiting.
    pub fn read_available(&mut self, out: &mut Vec<Event>) -> Result<(), Error> {
        let before = out.len();
        for i in 0..self.files.len() {
            let (files, buffer) = (&mut self.files, &mut self.buffer);
            read_file(&mut files[i], buffer, &mut self.stats, &self.counters, out)?;
            if out.len() - before >= MAX_LINES_PER_POLL {
                break;
            }
        }
        self.counters.add_records((out.len() - before) as u64);
        Ok(())
    }
}

impl Source for Tailer {
    fn name(&self) -> &str {
        "tail"
    }

    fn poll(&mut self, timeout: Duration, out: &mut Vec<Event>) -> Result<(), Error> {
        // Files are polled: a stat and a read per file and interval cost nothing measurable,
        // and unlike inotify this sees files on any file system and across rotations alike.
        let deadline = Instant::now() + timeout;
        loop {
            self.read_available(out)?;
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_millis(250)));
        }
    }

    fn checkpoint(&mut self) -> Result<(), Error> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let state = StateFile {
            version: 1,
            files: self.bookmarks(),
        };
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| Error::BadState {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(path, &bytes)
    }
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Find the file with this identity among `path`'s siblings whose names start with its name.
fn find_rotated(path: &Path, dev: u64, ino: u64) -> Option<(PathBuf, File)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let base = path.file_name()?.as_encoded_bytes();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        if !name.as_encoded_bytes().starts_with(base) {
            continue;
        }
        let candidate = entry.path();
        if let Ok(meta) = std::fs::symlink_metadata(&candidate) {
            if meta.is_file() && identity(&meta) == (dev, ino) {
                let file = File::open(&candidate).ok()?;
                return Some((candidate, file));
            }
        }
    }
    None
}

fn open_at(file: File, dev: u64, ino: u64, offset: u64, skipping: bool) -> OpenFile {
    let mut file = file;
    let _ = file.seek(SeekFrom::Start(offset));
    OpenFile {
        file,
        dev,
        ino,
        read_pos: offset,
        committed: offset,
        pending: Vec::new(),
        skipping,
        rotated: false,
    }
}

/// Open the path (or, at the first open, the rotated file the bookmark names).
fn open_file(tf: &mut TailedFile, stats: &mut TailStats) -> Result<(), Error> {
    let path = &tf.config.path;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Not there (yet). A bookmarked file may still live on under a rotated name.
            if let Some(b) = tf.restored.take() {
                if let Some((_, f)) = find_rotated(path, b.dev, b.ino) {
                    let mut open = open_at(f, b.dev, b.ino, b.offset, b.skipping);
                    open.rotated = true;
                    tf.open = Some(open);
                    tf.seen = true;
                    return Ok(());
                }
                tf.seen = true;
            }
            return Ok(());
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let (dev, ino) = identity(&meta);
    match tf.restored.take() {
        Some(b) if (b.dev, b.ino) == (dev, ino) => {
            let (offset, skipping) = if b.offset > meta.len() {
                stats.truncations += 1;
                (0, false)
            } else {
                (b.offset, b.skipping)
            };
            tf.open = Some(open_at(file, dev, ino, offset, skipping));
        }
        Some(b) => {
            // Rotated while we were not running: finish the old file first, if it is still
            // there; the new one at the path is then read from its start.
            if let Some((_, f)) = find_rotated(path, b.dev, b.ino) {
                let mut open = open_at(f, b.dev, b.ino, b.offset, b.skipping);
                open.rotated = true;
                tf.open = Some(open);
            } else {
                stats.rotations += 1;
                tf.open = Some(open_at(file, dev, ino, 0, false));
            }
        }
        None => {
            let offset = if tf.seen || tf.config.from_start {
                0
            } else {
                meta.len()
            };
            tf.open = Some(open_at(file, dev, ino, offset, false));
        }
    }
    tf.seen = true;
    Ok(())
}

fn read_file(
    tf: &mut TailedFile,
    buffer: &mut [u8],
    stats: &mut TailStats,
    counters: &Counters,
    out: &mut Vec<Event>,
) -> Result<(), Error> {
    if tf.open.is_none() {
        open_file(tf, stats)?;
    }
    let start = out.len();
    loop {
        let Some(open) = tf.open.as_mut() else {
            return Ok(());
        };
        // Read to the end of what is there now.
        loop {
            if out.len() - start >= MAX_LINES_PER_POLL {
                return Ok(());
            }
            let n = match open.file.read(buffer) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(&tf.config.path, e)),
            };
            if n == 0 {
                break;
            }
            open.read_pos += n as u64;
            split_lines(&tf.config, open, &buffer[..n], stats, counters, out);
        }
        // At the end: has the path moved on to another file, or been truncated?
        let path = &tf.config.path;
        match std::fs::metadata(path) {
            Ok(meta) => {
                let now = identity(&meta);
                if open.rotated || now != (open.dev, open.ino) {
                    // The open file is no longer at the path and has been read to its end.
                    if !open.pending.is_empty() {
                        let pending = std::mem::take(&mut open.pending);
                        emit(&tf.config, open, &pending, false, stats, out);
                        open.committed = open.read_pos;
                    }
                    stats.rotations += 1;
                    let file = File::open(path).map_err(|e| Error::io(path, e))?;
                    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
                    let (dev, ino) = identity(&meta);
                    tf.open = Some(open_at(file, dev, ino, 0, false));
                    continue;
                }
                if meta.len() < open.read_pos {
                    // copytruncate: what was not yet a whole line is lost with the old content.
                    stats.truncations += 1;
                    counters.add_drops(1);
                    let file = File::open(path).map_err(|e| Error::io(path, e))?;
                    tf.open = Some(open_at(file, now.0, now.1, 0, false));
                    continue;
                }
                return Ok(());
            }
            // Removed and not yet recreated: keep what is open, in case it is written on.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

fn split_lines(
    config: &TailConfig,
    open: &mut OpenFile,
    mut data: &[u8],
    stats: &mut TailStats,
    counters: &Counters,
    out: &mut Vec<Event>,
) {
    let chunk_end = open.read_pos;
    let mut consumed_before = chunk_end - data.len() as u64;
    while !data.is_empty() {
        let newline = memchr::memchr(b'\n', data);
        let (piece, rest, whole) = match newline {
            Some(i) => (&data[..i], &data[i + 1..], true),
            None => (data, &data[data.len()..], false),
        };
        let piece_len = piece.len() as u64 + u64::from(whole);
        if open.skipping {
            if whole {
                open.skipping = false;
            }
            open.committed = consumed_before + piece_len;
        } else if open.pending.len() + piece.len() > config.max_line {
            let room = config.max_line - open.pending.len();
            let mut line = std::mem::take(&mut open.pending);
            line.extend_from_slice(&piece[..room]);
            emit(config, open, &line, true, stats, out);
            stats.lines_cut += 1;
            counters.add_drops(1);
            open.skipping = !whole;
            open.committed = consumed_before + piece_len;
        } else if whole {
            let line = if open.pending.is_empty() {
                piece.to_vec()
            } else {
                let mut line = std::mem::take(&mut open.pending);
                line.extend_from_slice(piece);
                line
            };
            emit(config, open, &line, false, stats, out);
            open.committed = consumed_before + piece_len;
        } else {
            open.pending.extend_from_slice(piece);
        }
        consumed_before += piece_len;
        data = rest;
    }
}

fn emit(
    config: &TailConfig,
    open: &OpenFile,
    line: &[u8],
    truncated: bool,
    stats: &mut TailStats,
    out: &mut Vec<Event>,
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let mut body = Map::new();
    body.insert(
        "path".into(),
        Value::from(config.path.to_string_lossy().into_owned()),
    );
    body.insert("offset".into(), Value::from(open.committed));
    let lossy = matches!(text, std::borrow::Cow::Owned(_));
    body.insert("line".into(), Value::from(text.into_owned()));
    if truncated {
        body.insert("truncated".into(), Value::from(true));
    }
    if lossy {
        body.insert("lossy".into(), Value::from(true));
    }
    let mut event = Event::new(Timestamp::now(), "log");
    event.body = Value::Object(body);
    out.push(event);
    stats.lines += 1;
}
