//! Opening capture files by their magic number, and reading many of them in order.

use crate::pcap::PcapReader;
use crate::pcapng::PcapngReader;
use crate::{CaptureStats, Error, Packet, PacketSource};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Reads exactly, tracking the byte offset and naming the file in every error.
#[derive(Debug)]
pub(crate) struct Input<R> {
    inner: R,
    pub(crate) offset: u64,
    pub(crate) path: PathBuf,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(path: PathBuf, inner: R) -> Self {
        Input {
            inner,
            offset: 0,
            path,
        }
    }

    /// Fill `buf`. `Ok(false)` means the input ended cleanly before its first byte; an end
    /// part-way through is [`Error::Truncated`].
    pub(crate) fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<bool, Error> {
        let start = self.offset;
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => {
                    return if done == 0 {
                        Ok(false)
                    } else {
                        Err(Error::Truncated {
                            path: self.path.clone(),
                            offset: start,
                            what,
                        })
                    };
                }
                Ok(n) => {
                    done += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
        Ok(true)
    }

    /// Like [`Input::fill`], but an immediate end is also a truncation.
    pub(crate) fn fill_required(
        &mut self,
        buf: &mut [u8],
        what: &'static str,
    ) -> Result<(), Error> {
        let offset = self.offset;
        if self.fill(buf, what)? {
            Ok(())
        } else {
            Err(Error::Truncated {
                path: self.path.clone(),
                offset,
                what,
            })
        }
    }

    pub(crate) fn malformed(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::Malformed {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }
}

/// A pcap or pcapng file, whichever its magic number says.
#[derive(Debug)]
pub enum CaptureFile<R = BufReader<File>> {
    Pcap(PcapReader<R>),
    Pcapng(PcapngReader<R>),
}

impl CaptureFile {
    /// Open a file on disk.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        CaptureFile::from_reader(path, BufReader::with_capacity(64 * 1024, file))
    }
}

impl<R: Read> CaptureFile<R> {
    /// Read a capture from any byte stream; `label` names it in errors.
    pub fn from_reader(label: &Path, reader: R) -> Result<Self, Error> {
        let mut input = Input::new(label.to_path_buf(), reader);
        let mut magic = [0u8; 4];
        input.fill_required(&mut magic, "file magic")?;
        if PcapReader::<R>::recognises(magic) {
            Ok(CaptureFile::Pcap(PcapReader::from_input(input, magic)?))
        } else if PcapngReader::<R>::recognises(magic) {
            Ok(CaptureFile::Pcapng(PcapngReader::from_input(input, magic)?))
        } else {
            Err(Error::UnknownFormat {
                path: label.to_path_buf(),
                magic: u32::from_be_bytes(magic),
            })
        }
    }
}

impl<R: Read> PacketSource for CaptureFile<R> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        match self {
            CaptureFile::Pcap(reader) => reader.next_packet(),
            CaptureFile::Pcapng(reader) => reader.next_packet(),
        }
    }

    fn stats(&mut self) -> CaptureStats {
        match self {
            CaptureFile::Pcap(reader) => reader.stats(),
            CaptureFile::Pcapng(reader) => reader.stats(),
        }
    }
}

/// Files and directories read one after another. A directory contributes every file under
/// it, recursively, in path order, so a replay is reproducible.
///
/// An error ends only the file it happened in: the next call goes on with the next file.
#[derive(Debug)]
pub struct CaptureSet {
    pending: std::vec::IntoIter<PathBuf>,
    current: Option<(PathBuf, CaptureFile)>,
    stats: CaptureStats,
    /// Counters of files already finished.
    done: CaptureStats,
}

impl CaptureSet {
    /// Expand `inputs` (files or directories) into the list of files to read. Fails only if
    /// an input does not exist or a directory cannot be listed.
    pub fn new<P: AsRef<Path>>(inputs: &[P]) -> Result<Self, Error> {
        let mut files = Vec::new();
        for input in inputs {
            collect_files(input.as_ref(), &mut files)?;
        }
        Ok(CaptureSet {
            pending: files.into_iter(),
            current: None,
            stats: CaptureStats::default(),
            done: CaptureStats::default(),
        })
    }

    /// The file being read now, if any.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|(path, _)| path.as_path())
    }

    fn finish_current(&mut self) {
        if let Some((_, mut file)) = self.current.take() {
            let s = file.stats();
            self.done.packets += s.packets;
            self.done.bytes += s.bytes;
        }
    }
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_error)? {
        entries.push(entry.map_err(io_error)?.path());
    }
    entries.sort();
    for entry in entries {
        collect_files(&entry, out)?;
    }
    Ok(())
}

impl PacketSource for CaptureSet {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.pending.next() else {
                    return Ok(None);
                };
                self.stats.files += 1;
                match CaptureFile::open(&path) {
                    Ok(file) => self.current = Some((path, file)),
                    Err(error) => {
                        self.stats.errors += 1;
                        return Err(error);
                    }
                }
            }
            // Two-step borrow: decide first, then return the packet from a fresh borrow, so
            // that ending a file does not conflict with the borrow of its packet.
            let outcome = match &mut self.current {
                Some((_, file)) => match file.advance() {
                    Ok(true) => None,
                    Ok(false) => Some(Ok(())),
                    Err(error) => Some(Err(error)),
                },
                None => continue,
            };
            match outcome {
                None => break,
                Some(Ok(())) => self.finish_current(),
                Some(Err(error)) => {
                    self.stats.errors += 1;
                    self.finish_current();
                    return Err(error);
                }
            }
        }
        match &mut self.current {
            Some((_, file)) => Ok(file.last()),
            None => Ok(None),
        }
    }

    fn stats(&mut self) -> CaptureStats {
        let mut stats = self.stats;
        stats.packets = self.done.packets;
        stats.bytes = self.done.bytes;
        if let Some((_, file)) = &mut self.current {
            let s = file.stats();
            stats.packets += s.packets;
            stats.bytes += s.bytes;
        }
        stats
    }
}

impl<R: Read> CaptureFile<R> {
    /// Read the next packet into the buffer; `false` at the end.
    fn advance(&mut self) -> Result<bool, Error> {
        match self {
            CaptureFile::Pcap(reader) => reader.advance(),
            CaptureFile::Pcapng(reader) => reader.advance(),
        }
    }

    /// The packet the last successful `advance` read.
    fn last(&self) -> Option<Packet<'_>> {
        match self {
            CaptureFile::Pcap(reader) => reader.last(),
            CaptureFile::Pcapng(reader) => reader.last(),
        }
    }
}
