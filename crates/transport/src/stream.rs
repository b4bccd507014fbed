//! The thin I/O edge under both ends: frames over anything that is `Read + Write`.

use std::io::{self, Read, Write};

use crate::frame::{Decoder, Frame, FrameError};

/// Why a connection ended badly.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Reading or writing failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The peer sent bytes that are not a valid frame.
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The peer closed the stream in the middle of a frame.
    #[error("peer closed the stream inside a frame ({buffered} bytes of it received)")]
    TruncatedFrame {
        /// Bytes of the partial frame.
        buffered: usize,
    },
    /// A valid frame that is wrong at this point of the conversation.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer reported an error and closed.
    #[error("peer error {code}: {message}")]
    Peer {
        /// The peer's code.
        code: String,
        /// The peer's message.
        message: String,
    },
    /// The sink refused the records (the manager could not store them).
    #[error("sink: {0}")]
    Sink(String),
    /// The agent's spool failed.
    #[error("spool: {0}")]
    Spool(#[from] crate::spool::SpoolError),
    /// TLS failed (handshake refused, bad certificate, ...).
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
}

/// Joins a reader and a writer into one duplex stream (stdin + stdout, a child's pipes).
#[derive(Debug)]
pub struct Duplex<R, W> {
    /// The read half.
    pub reader: R,
    /// The write half.
    pub writer: W,
}

impl<R: Read, W> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Frames in and out of a stream.
#[derive(Debug)]
pub struct FrameStream<S> {
    io: S,
    decoder: Decoder,
    max_frame: u32,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
}

impl<S: Read + Write> FrameStream<S> {
    /// Wraps `io`, refusing frames above `max_frame` payload bytes in both directions.
    pub fn new(io: S, max_frame: u32) -> Self {
        FrameStream {
            io,
            decoder: Decoder::new(max_frame),
            max_frame,
            read_buf: vec![0; 64 << 10],
            write_buf: Vec::new(),
        }
    }

    /// Wraps `io` with bytes already read from it (after a qrexec socket header).
    pub fn with_prefix(io: S, max_frame: u32, prefix: &[u8]) -> Self {
        let mut s = Self::new(io, max_frame);
        s.decoder.push(prefix);
        s
    }

    /// The next frame; `Ok(None)` on a clean end of stream between frames.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, LinkError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                return Ok(Some(f));
            }
            let n = match self.io.read(&mut self.read_buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return match self.decoder.buffered() {
                    0 => Ok(None),
                    buffered => Err(LinkError::TruncatedFrame { buffered }),
                };
            }
            self.decoder.push(&self.read_buf[..n]);
        }
    }

    /// Encodes, writes and flushes one frame.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<(), LinkError> {
        self.write_buf.clear();
        frame.encode(self.max_frame, &mut self.write_buf)?;
        self.io.write_all(&self.write_buf)?;
        self.io.flush()?;
        Ok(())
    }

    /// The wrapped stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The payload cap.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }
}
