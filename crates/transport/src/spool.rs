//! The agent's on-disk spool: records wait here until the manager acks them.
//!
//! A directory of append-only segment files named by their first sequence number
//! (`00000000000000000001.seg`), plus a `state` file (acked sequence, drop counter, epoch)
//! replaced atomically by rename. Each record is written with one `write` call:
//!
//! ```text
//! u32 len | u32 crc32(seq ‖ payload) | u64 seq | payload      (little endian)
//! ```
//!
//! A process killed with `kill -9` loses nothing that [`Spool::append`] returned for, since
//! the bytes are in the kernel; surviving a power cut as well needs [`FsyncPolicy::Always`]
//! (or a [`Spool::sync`] at the points that matter). On open, a torn or corrupt tail is cut
//! off at the last whole record and counted.
//!
//! The total size is bounded. When a record does not fit, [`Overflow`] decides: drop the
//! oldest whole segment (its unacked records are counted as dropped) or drop the new record.
//! Either way the drop is counted in [`SpoolCounters::dropped`] and persisted, never silent.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const REC_HEADER: usize = 16;
const STATE_FILE: &str = "state";

/// When appended records are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every append (survives power loss, slowest).
    Always,
    /// After every `n` appends.
    EveryN(u32),
    /// Only on [`Spool::sync`], segment roll and state changes (survives a process crash,
    /// not a power cut).
    Never,
}

/// What to do when a record does not fit in the configured size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Delete the oldest segment, keeping the newest events (default: recent activity is
    /// what an analyst needs most).
    DropOldest,
    /// Refuse the new record, keeping the oldest.
    DropNewest,
}

/// Spool limits and policies.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// Upper bound on the bytes of all segment files (default 64 MiB).
    pub max_bytes: u64,
    /// A segment is closed once it reaches this size (default `max_bytes / 16`, at least
    /// 64 KiB).
    pub segment_bytes: u64,
    /// Largest record accepted (default 1 MiB minus framing overhead).
    pub max_record: usize,
    /// When to fsync.
    pub fsync: FsyncPolicy,
    /// What to drop when full.
    pub overflow: Overflow,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig::with_max_bytes(64 << 20)
    }
}

impl SpoolConfig {
    /// Defaults scaled to `max_bytes`.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        SpoolConfig {
            max_bytes,
            segment_bytes: (max_bytes / 16).max(64 << 10),
            max_record: crate::frame::DEFAULT_MAX_FRAME as usize
                - crate::frame::BATCH_OVERHEAD
                - crate::frame::RECORD_OVERHEAD,
            fsync: FsyncPolicy::Never,
            overflow: Overflow::DropOldest,
        }
    }
}

/// Spool errors.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A record larger than [`SpoolConfig::max_record`].
    #[error("record of {len} bytes exceeds the spool's maximum of {max}")]
    RecordTooLarge {
        /// Record size.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The configuration cannot work.
    #[error("spool config: {0}")]
    Config(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Counters, reported in the agent's heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolCounters {
    /// Records appended since open.
    pub appended: u64,
    /// Records dropped because the spool was full (persisted across restarts).
    pub dropped: u64,
    /// Bytes cut off a torn or corrupt tail when opening.
    pub truncated_bytes: u64,
    /// Bytes in segment files now.
    pub bytes: u64,
    /// Segment files now.
    pub segments: u64,
}

/// Outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored with this sequence number.
    Stored(u64),
    /// Refused because the spool was full ([`Overflow::DropNewest`]); counted.
    Dropped,
}

#[derive(Debug)]
struct Segment {
    first: u64,
    /// Last sequence in the segment (`first - 1` when empty).
    last: u64,
    bytes: u64,
    path: PathBuf,
}

/// The spool. Not shared between processes: one agent owns one directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    config: SpoolConfig,
    segments: Vec<Segment>,
    active: Option<File>,
    next_seq: u64,
    acked: u64,
    epoch: u64,
    counters: SpoolCounters,
    since_sync: u32,
    read_cursor: Option<(u64, u64, u64)>, // (segment first, byte offset, next seq there)
}

fn seg_name(first: u64) -> String {
    format!("{first:020}.seg")
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, recovering from a crash.
    pub fn open(dir: impl Into<PathBuf>, config: SpoolConfig) -> Result<Self, SpoolError> {
        let dir = dir.into();
        if config.segment_bytes == 0 || config.segment_bytes * 2 > config.max_bytes {
            return Err(SpoolError::Config(format!(
                "segment_bytes {} must be positive and at most half of max_bytes {}",
                config.segment_bytes, config.max_bytes
            )));
        }
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let (acked, dropped, epoch) = read_state(&dir)?;
        let mut firsts = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name
                .strip_suffix(".seg")
                .and_then(|s| s.parse::<u64>().ok())
            {
                firsts.push(n);
            } else if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        firsts.sort_unstable();
        let mut spool = Spool {
            dir,
            config,
            segments: Vec::new(),
            active: None,
            next_seq: acked + 1,
            acked,
            epoch,
            counters: SpoolCounters {
                dropped,
                ..SpoolCounters::default()
            },
            since_sync: 0,
            read_cursor: None,
        };
        for first in firsts {
            let path = spool.dir.join(seg_name(first));
            let (last, good, len) = scan_segment(&path, first)?;
            if good < len {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(good).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
                spool.counters.truncated_bytes += len - good;
            }
            if last < first || last <= spool.acked {
                // Empty or fully acked: nothing to keep.
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            spool.next_seq = spool.next_seq.max(last + 1);
            spool.segments.push(Segment {
                first,
                last,
                bytes: good,
                path,
            });
        }
        if epoch == 0 {
            spool.epoch = new_epoch();
            spool.write_state()?;
        }
        spool.refresh_gauges();
        Ok(spool)
    }

    /// Appends one record; returns its sequence number or that it was dropped.
    pub fn append(&mut self, payload: &[u8]) -> Result<Appended, SpoolError> {
        if payload.len() > self.config.max_record {
            return Err(SpoolError::RecordTooLarge {
                len: payload.len(),
                max: self.config.max_record,
            });
        }
        let need = (REC_HEADER + payload.len()) as u64;
        if need > self.config.segment_bytes {
            return Err(SpoolError::RecordTooLarge {
                len: payload.len(),
                max: self.config.segment_bytes as usize - REC_HEADER,
            });
        }
        while self.counters.bytes + need > self.config.max_bytes {
            match self.config.overflow {
                Overflow::DropNewest => {
                    self.counters.dropped += 1;
                    self.write_state()?;
                    return Ok(Appended::Dropped);
                }
                Overflow::DropOldest => {
                    if self.segments.len() <= 1 {
                        // Only the active segment is left; close it so it can go too.
                        self.active = None;
                        if self.segments.is_empty() {
                            break;
                        }
                    }
                    let old = self.segments.remove(0);
                    let lost = old.last.saturating_sub(old.first.max(self.acked + 1) - 1);
                    self.counters.dropped += lost;
                    if self.segments.is_empty() {
                        self.active = None;
                    }
                    fs::remove_file(&old.path).map_err(io_err(&old.path))?;
                    self.acked = self.acked.max(old.last);
                    self.read_cursor = None;
                    self.write_state()?;
                    self.refresh_gauges();
                }
            }
        }
        let roll = match self.segments.last() {
            Some(s) => self.active.is_none() || s.bytes + need > self.config.segment_bytes,
            None => true,
        };
        if roll {
            self.roll()?;
        }
        let seq = self.next_seq;
        let mut rec = Vec::with_capacity(REC_HEADER + payload.len());
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc(seq, payload).to_le_bytes());
        rec.extend_from_slice(&seq.to_le_bytes());
        rec.extend_from_slice(payload);
        let seg = self
            .segments
            .last_mut()
            .ok_or_else(|| SpoolError::Config("no active segment".into()))?;
        let file = self
            .active
            .as_mut()
            .ok_or_else(|| SpoolError::Config("no active segment".into()))?;
        file.write_all(&rec).map_err(io_err(&seg.path))?;
        seg.bytes += need;
        seg.last = seq;
        self.next_seq += 1;
        self.counters.appended += 1;
        self.counters.bytes += need;
        self.since_sync += 1;
        let sync_now = match self.config.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::EveryN(n) => self.since_sync >= n,
            FsyncPolicy::Never => false,
        };
        if sync_now {
            self.sync()?;
        }
        Ok(Appended::Stored(seq))
    }

    fn roll(&mut self) -> Result<(), SpoolError> {
        if let (Some(f), Some(s)) = (&self.active, self.segments.last()) {
            f.sync_data().map_err(io_err(&s.path))?;
        }
        let first = self.next_seq;
        let path = self.dir.join(seg_name(first));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // Make the new file's name durable.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.segments.push(Segment {
            first,
            last: first - 1,
            bytes: 0,
            path,
        });
        self.active = Some(file);
        self.refresh_gauges();
        Ok(())
    }

    /// Forces appended records to stable storage.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if let (Some(f), Some(s)) = (&self.active, self.segments.last()) {
            f.sync_data().map_err(io_err(&s.path))?;
        }
        self.since_sync = 0;
        Ok(())
    }

    /// The manager stored everything up to `seq`: persist that and delete segments no
    /// longer needed.
    pub fn ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        let seq = seq.min(self.next_seq - 1);
        if seq <= self.acked {
            return Ok(());
        }
        self.acked = seq;
        self.write_state()?;
        while let Some(s) = self.segments.first() {
            if s.last > seq || s.last < s.first {
                break;
            }
            let s = self.segments.remove(0);
            if self.segments.is_empty() {
                self.active = None;
            }
            fs::remove_file(&s.path).map_err(io_err(&s.path))?;
        }
        self.refresh_gauges();
        Ok(())
    }

    /// Up to `max_records` records (and about `max_bytes`, at least one record) starting at
    /// the first stored sequence ≥ `from`.
    pub fn read_from(
        &mut self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, SpoolError> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut from = from.max(self.acked + 1);
        let Some(mut idx) = self.segments.iter().rposition(|s| s.first <= from) else {
            if self.segments.is_empty() {
                return Ok(out);
            }
            from = self.segments[0].first;
            return self.read_from(from, max_records, max_bytes);
        };
        while idx < self.segments.len() && out.len() < max_records {
            let seg = &self.segments[idx];
            let (mut offset, mut seq) = match self.read_cursor {
                Some((f, off, next)) if f == seg.first && next <= from => (off, next),
                _ => (0, seg.first),
            };
            let mut file = File::open(&seg.path).map_err(io_err(&seg.path))?;
            file.seek(SeekFrom::Start(offset))
                .map_err(io_err(&seg.path))?;
            let mut reader = io::BufReader::with_capacity(64 << 10, file);
            while offset < seg.bytes && out.len() < max_records {
                let mut hdr = [0u8; REC_HEADER];
                reader.read_exact(&mut hdr).map_err(io_err(&seg.path))?;
                let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
                if len > self.config.max_record || offset + (REC_HEADER + len) as u64 > seg.bytes {
                    return Err(SpoolError::Io {
                        path: seg.path.clone(),
                        source: io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("record at byte {offset} claims {len} bytes: segment changed under the spool"),
                        ),
                    });
                }
                if seq >= from && !out.is_empty() && bytes + len > max_bytes {
                    break;
                }
                let mut body = vec![0u8; len];
                reader.read_exact(&mut body).map_err(io_err(&seg.path))?;
                offset += (REC_HEADER + len) as u64;
                if seq >= from {
                    bytes += len;
                    out.push((seq, body));
                }
                seq += 1;
            }
            self.read_cursor = Some((seg.first, offset, seq));
            if out.len() >= max_records || (offset < seg.bytes) {
                break;
            }
            idx += 1;
            from = from.max(seq);
        }
        Ok(out)
    }

    /// Highest sequence appended (0 when none ever).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Highest sequence acked.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// This spool's epoch: random, fixed for the directory's lifetime.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Counters for the heartbeat.
    pub fn counters(&self) -> SpoolCounters {
        self.counters
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn refresh_gauges(&mut self) {
        self.counters.bytes = self.segments.iter().map(|s| s.bytes).sum();
        self.counters.segments = self.segments.len() as u64;
    }

    fn write_state(&self) -> Result<(), SpoolError> {
        let tmp = self.dir.join("state.tmp");
        let text = format!(
            "acked {}\ndropped {}\nepoch {}\n",
            self.acked, self.counters.dropped, self.epoch
        );
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        if self.config.fsync != FsyncPolicy::Never {
            f.sync_data().map_err(io_err(&tmp))?;
        }
        let dst = self.dir.join(STATE_FILE);
        fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
        Ok(())
    }
}

fn read_state(dir: &Path) -> Result<(u64, u64, u64), SpoolError> {
    let path = dir.join(STATE_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0, 0)),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let (mut acked, mut dropped, mut epoch) = (0, 0, 0);
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next().and_then(|v| v.parse::<u64>().ok())) else {
            continue;
        };
        match k {
            "acked" => acked = v,
            "dropped" => dropped = v,
            "epoch" => epoch = v,
            _ => {}
        }
    }
    Ok((acked, dropped, epoch))
}

fn new_epoch() -> u64 {
    let mut b = [0u8; 8];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        // No randomness: the clock still tells a new spool from an old one.
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    u64::from_le_bytes(b).max(1)
}

fn crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Returns (last good seq, good length, file length). Stops at the first record that is
/// torn, fails its checksum or breaks the sequence.
fn scan_segment(path: &Path, first: u64) -> Result<(u64, u64, u64), SpoolError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut reader = io::BufReader::with_capacity(64 << 10, file);
    let mut good = 0u64;
    let mut expect = first;
    let mut body = Vec::new();
    loop {
        let mut hdr = [0u8; REC_HEADER];
        if reader.read_exact(&mut hdr).is_err() {
            break;
        }
        let n = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
        let sum = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let mut s = [0u8; 8];
        s.copy_from_slice(&hdr[8..]);
        let seq = u64::from_le_bytes(s);
        if seq != expect || good + REC_HEADER as u64 + n > len {
            break;
        }
        body.resize(n as usize, 0);
        if reader.read_exact(&mut body).is_err() || crc(seq, &body) != sum {
            break;
        }
        good += REC_HEADER as u64 + n;
        expect += 1;
    }
    Ok((expect - 1, good, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(dir: &Path, overflow: Overflow) -> Spool {
        let mut c = SpoolConfig::with_max_bytes(4 * 1024);
        c.segment_bytes = 1024;
        c.overflow = overflow;
        Spool::open(dir, c).expect("opens")
    }

    #[test]
    fn append_read_ack_reopen() {
        let d = tempfile::tempdir().expect("tmp");
        let mut s = Spool::open(d.path(), SpoolConfig::default()).expect("opens");
        let epoch = s.epoch();
        for i in 1..=100u64 {
            assert_eq!(
                s.append(format!("r{i}").as_bytes()).expect("ok"),
                Appended::Stored(i)
            );
        }
        let got = s.read_from(1, 10, usize::MAX).expect("reads");
        assert_eq!(got.len(), 10);
        assert_eq!(got[9], (10, b"r10".to_vec()));
        let got = s.read_from(11, 1000, usize::MAX).expect("reads");
        assert_eq!(got.len(), 90);
        s.ack(40).expect("acks");
        drop(s);
        let mut s = Spool::open(d.path(), SpoolConfig::default()).expect("reopens");
        assert_eq!(s.epoch(), epoch);
        assert_eq!(s.acked(), 40);
        assert_eq!(s.last_seq(), 100);
        assert_eq!(s.read_from(1, 1, usize::MAX).expect("reads")[0].0, 41);
        assert_eq!(s.append(b"x").expect("ok"), Appended::Stored(101));
    }

    #[test]
    fn acked_segments_are_deleted() {
        let d = tempfile::tempdir().expect("tmp");
        let mut s = small(d.path(), Overflow::DropOldest);
        for _ in 0..100 {
            s.append(&[7; 20]).expect("ok");
        }
        assert!(s.counters().segments >= 3);
        s.ack(100).expect("acks");
        assert_eq!(s.counters().segments, 0);
        assert_eq!(s.counters().bytes, 0);
        assert_eq!(s.append(b"y").expect("ok"), Appended::Stored(101));
        drop(s);
        let s = small(d.path(), Overflow::DropOldest);
        assert_eq!(s.last_seq(), 101);
    }

    #[test]
    fn full_spool_drops_oldest_and_counts() {
        let d = tempfile::tempdir().expect("tmp");
        let mut s = small(d.path(), Overflow::DropOldest);
        for _ in 0..1000 {
            assert!(matches!(
                s.append(&[1; 48]).expect("ok"),
                Appended::Stored(_)
            ));
        }
        let c = s.counters();
        assert!(c.bytes <= 4096, "{c:?}");
        assert!(c.dropped > 900, "{c:?}");
        let kept = s.read_from(1, 10_000, usize::MAX).expect("reads");
        assert_eq!(kept.last().map(|r| r.0), Some(1000));
        assert_eq!(kept.len() as u64 + c.dropped, 1000);
        drop(s);
        assert_eq!(
            small(d.path(), Overflow::DropOldest).counters().dropped,
            c.dropped
        );
    }

    #[test]
    fn full_spool_drops_newest_and_counts() {
        let d = tempfile::tempdir().expect("tmp");
        let mut s = small(d.path(), Overflow::DropNewest);
        let mut stored = 0;
        for _ in 0..1000 {
            if let Appended::Stored(_) = s.append(&[1; 48]).expect("ok") {
                stored += 1;
            }
        }
        let c = s.counters();
        assert_eq!(stored + c.dropped, 1000);
        let kept = s.read_from(1, 10_000, usize::MAX).expect("reads");
        assert_eq!(kept.first().map(|r| r.0), Some(1));
        assert_eq!(kept.len() as u64, stored);
    }

    #[test]
    fn torn_tail_is_cut_and_counted() {
        let d = tempfile::tempdir().expect("tmp");
        let mut s = Spool::open(d.path(), SpoolConfig::default()).expect("opens");
        for _ in 0..5 {
            s.append(b"hello").expect("ok");
        }
        drop(s);
        let seg = d.path().join(seg_name(1));
        let mut f = OpenOptions::new().append(true).open(&seg).expect("open");
        f.write_all(&[9, 0, 0, 0, 1, 2]).expect("write");
        drop(f);
        let mut s = Spool::open(d.path(), SpoolConfig::default()).expect("reopens");
        assert_eq!(s.counters().truncated_bytes, 6);
        assert_eq!(s.last_seq(), 5);
        assert_eq!(s.append(b"x").expect("ok"), Appended::Stored(6));
        assert_eq!(s.read_from(1, 100, usize::MAX).expect("reads").len(), 6);
    }

    #[test]
    fn oversized_record_is_an_error() {
        let d = tempfile::tempdir().expect("tmp");
        let mut s = small(d.path(), Overflow::DropOldest);
        let big = vec![0; s.config.max_record + 1];
        assert!(matches!(
            s.append(&big),
            Err(SpoolError::RecordTooLarge { .. })
        ));
    }
}
