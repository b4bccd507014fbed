//! The wire format: sans-IO encoding and decoding of frames.
//!
//! ```text
//! offset  size  field
//! 0       4     magic  "PCKT"
//! 4       1     version (1)
//! 5       1     type    (1 Hello, 2 Batch, 3 Ack, 4 Heartbeat, 5 Error, others: unknown)
//! 6       4     payload length, big endian, at most the configured maximum
//! 10      len   payload
//! ```
//!
//! Control payloads (Hello, Ack, Heartbeat, Error) are JSON objects: a reader ignores fields it
//! does not know and fills missing optional ones with defaults, so either side can add fields
//! without a version bump. A frame of an unknown type decodes to [`Frame::Unknown`], which a
//! peer skips. The Batch payload is binary because it carries the bulk of the traffic:
//!
//! ```text
//! u64 first_seq | u32 count | count × (u32 len | len bytes)   (big endian; bytes after the
//!                                                            last record are reserved, ignored)
//! ```
//!
//! Record `i` of a batch has sequence number `first_seq + i`. Sequence numbers start at 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The four bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"PCKT";
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 10;
/// Default cap on one frame's payload: 1 MiB.
pub const DEFAULT_MAX_FRAME: u32 = 1 << 20;
/// Bytes a Batch payload spends before its records.
pub const BATCH_OVERHEAD: usize = 12;
/// Bytes a Batch payload spends per record besides the record itself.
pub const RECORD_OVERHEAD: usize = 4;

/// Frame type bytes.
pub mod kind {
    /// [`super::Hello`]
    pub const HELLO: u8 = 1;
    /// [`super::Batch`]
    pub const BATCH: u8 = 2;
    /// [`super::Ack`]
    pub const ACK: u8 = 3;
    /// [`super::Heartbeat`]
    pub const HEARTBEAT: u8 = 4;
    /// [`super::ErrorMsg`]
    pub const ERROR: u8 = 5;
}

/// The first frame an agent sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The name the agent claims. Informational only: the manager takes the source from
    /// dom0 (qrexec) or from the enrolled certificate (TLS), and flags a disagreement.
    pub agent: String,
    /// The protocol version the agent speaks.
    pub protocol: u32,
    /// Optional features the agent supports.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Identifies the agent's spool. A new epoch means the sequence numbers start again
    /// (for example the spool directory was lost), so the manager resets its dedup state.
    #[serde(default)]
    pub epoch: u64,
}

/// A run of records with consecutive sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Sequence number of the first record (at least 1).
    pub first_seq: u64,
    /// The records, each an opaque byte string (picket sends JSON events).
    pub records: Vec<Vec<u8>>,
}

impl Batch {
    /// Sequence number of the last record, or `first_seq - 1` when empty.
    pub fn last_seq(&self) -> u64 {
        (self.first_seq + self.records.len() as u64).saturating_sub(1)
    }
}

/// The manager has stored every record up to and including `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Highest contiguous sequence number stored.
    pub seq: u64,
}

/// The agent's own counters (spool drops, records appended, ...), sent periodically.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Named counters.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

/// A peer reports why it is closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// A short machine-readable code such as `frame` or `protocol`.
    pub code: String,
    /// A human-readable explanation.
    #[serde(default)]
    pub message: String,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`Batch`].
    Batch(Batch),
    /// See [`Ack`].
    Ack(Ack),
    /// See [`Heartbeat`].
    Heartbeat(Heartbeat),
    /// See [`ErrorMsg`].
    Error(ErrorMsg),
    /// A frame type this version does not know; peers skip it.
    Unknown {
        /// The type byte.
        kind: u8,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

impl Frame {
    /// The type byte of this frame.
    pub fn kind(&self) -> u8 {
        match self {
            Frame::Hello(_) => kind::HELLO,
            Frame::Batch(_) => kind::BATCH,
            Frame::Ack(_) => kind::ACK,
            Frame::Heartbeat(_) => kind::HEARTBEAT,
            Frame::Error(_) => kind::ERROR,
            Frame::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the encoded frame to `out`. Fails, leaving `out` as it was, when the payload
    /// would exceed `max_payload`.
    pub fn encode(&self, max_payload: u32, out: &mut Vec<u8>) -> Result<(), FrameError> {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.kind());
        out.extend_from_slice(&[0; 4]);
        match self {
            Frame::Hello(v) => json_into(v, out),
            Frame::Ack(v) => json_into(v, out),
            Frame::Heartbeat(v) => json_into(v, out),
            Frame::Error(v) => json_into(v, out),
            Frame::Batch(b) => {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&(b.records.len() as u32).to_be_bytes());
                for r in &b.records {
                    out.extend_from_slice(&(r.len() as u32).to_be_bytes());
                    out.extend_from_slice(r);
                }
            }
            Frame::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
        let len = out.len() - start - HEADER_LEN;
        if len > max_payload as usize {
            out.truncate(start);
            return Err(FrameError::Oversized {
                len: len as u64,
                max: max_payload,
                offset: 0,
            });
        }
        out[start + 6..start + 10].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self, max_payload: u32) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        self.encode(max_payload, &mut out)?;
        Ok(out)
    }
}

fn json_into<T: Serialize>(v: &T, out: &mut Vec<u8>) {
    // Serialising these plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(out, v);
}

/// Why a byte stream is not a valid frame. Every variant is fatal for the connection: the
/// stream cannot be resynchronised, so the peer is told and the connection closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame does not start with [`MAGIC`].
    #[error("bad magic {found:02x?} at stream offset {offset} (expected \"PCKT\")")]
    BadMagic {
        /// The bytes found (as many as were available, up to four).
        found: Vec<u8>,
        /// Stream offset of the frame start.
        offset: u64,
    },
    /// The version byte is not one this crate speaks.
    #[error("unsupported protocol version {found} at stream offset {offset} (this side speaks {VERSION})")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
        /// Stream offset of the version byte.
        offset: u64,
    },
    /// The declared payload length exceeds the configured maximum.
    #[error("frame of {len} bytes at stream offset {offset} exceeds the maximum of {max} bytes")]
    Oversized {
        /// Declared (or, when encoding, actual) payload length.
        len: u64,
        /// The configured maximum.
        max: u32,
        /// Stream offset of the frame start.
        offset: u64,
    },
    /// The payload of a known frame type does not parse.
    #[error("malformed {kind} payload in frame at stream offset {offset}: {reason}")]
    BadPayload {
        /// The frame type's name.
        kind: &'static str,
        /// Stream offset of the frame start.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Result of [`decode`] on a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// More bytes are needed: at least `needed` more.
    Incomplete {
        /// Minimum number of additional bytes before progress is possible.
        needed: usize,
    },
    /// A whole frame, which used the first `consumed` bytes of the buffer.
    Frame {
        /// The frame.
        frame: Frame,
        /// Bytes consumed.
        consumed: usize,
    },
}

/// Decodes one frame from the start of `buf`. `base` is the stream offset of `buf[0]` and
/// only serves error messages. Bad magic and versions are reported as soon as the bytes that
/// show them arrive, so garbage is refused before a whole header is buffered.
pub fn decode(buf: &[u8], max_payload: u32, base: u64) -> Result<Decoded, FrameError> {
    let magic_seen = buf.len().min(4);
    if buf[..magic_seen] != MAGIC[..magic_seen] {
        return Err(FrameError::BadMagic {
            found: buf[..magic_seen].to_vec(),
            offset: base,
        });
    }
    if buf.len() > 4 && buf[4] != VERSION {
        return Err(FrameError::UnsupportedVersion {
            found: buf[4],
            offset: base + 4,
        });
    }
    if buf.len() < HEADER_LEN {
        return Ok(Decoded::Incomplete {
            needed: HEADER_LEN - buf.len(),
        });
    }
    let kind_byte = buf[5];
    let len = u32::from_be_bytes([buf[6], buf[7], buf[8], buf[9]]);
    if len > max_payload {
        return Err(FrameError::Oversized {
            len: u64::from(len),
            max: max_payload,
            offset: base,
        });
    }
    let total = HEADER_LEN + len as usize;
    if buf.len() < total {
        return Ok(Decoded::Incomplete {
            needed: total - buf.len(),
        });
    }
    let payload = &buf[HEADER_LEN..total];
    let bad = |kind: &'static str, reason: String| FrameError::BadPayload {
        kind,
        offset: base,
        reason,
    };
    let frame = match kind_byte {
        kind::HELLO => Frame::Hello(json_from(payload).map_err(|e| bad("Hello", e))?),
        kind::ACK => Frame::Ack(json_from(payload).map_err(|e| bad("Ack", e))?),
        kind::HEARTBEAT => Frame::Heartbeat(json_from(payload).map_err(|e| bad("Heartbeat", e))?),
        kind::ERROR => Frame::Error(json_from(payload).map_err(|e| bad("Error", e))?),
        kind::BATCH => Frame::Batch(decode_batch(payload).map_err(|e| bad("Batch", e))?),
        other => Frame::Unknown {
            kind: other,
            payload: payload.to_vec(),
        },
    };
    Ok(Decoded::Frame {
        frame,
        consumed: total,
    })
}

fn json_from<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

fn decode_batch(p: &[u8]) -> Result<Batch, String> {
    if p.len() < BATCH_OVERHEAD {
        return Err(format!(
            "{} bytes, shorter than the {BATCH_OVERHEAD}-byte batch header",
            p.len()
        ));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&p[..8]);
    let first_seq = u64::from_be_bytes(seq);
    let count = u32::from_be_bytes([p[8], p[9], p[10], p[11]]) as usize;
    if first_seq == 0 && count > 0 {
        return Err("sequence numbers start at 1, batch starts at 0".into());
    }
    if first_seq.checked_add(count as u64).is_none() {
        return Err(format!("sequence {first_seq} + {count} records overflows"));
    }
    let mut pos = BATCH_OVERHEAD;
    // Never trust `count` for the allocation: each record needs at least 4 bytes.
    let mut records = Vec::with_capacity(count.min((p.len() - pos) / RECORD_OVERHEAD));
    for i in 0..count {
        let Some(hdr) = p.get(pos..pos + RECORD_OVERHEAD) else {
            return Err(format!(
                "record {i} of {count}: length field runs past the payload at byte {pos}"
            ));
        };
        let len = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        pos += RECORD_OVERHEAD;
        let Some(body) = p.get(pos..pos.saturating_add(len)) else {
            return Err(format!(
                "record {i} of {count}: {len} bytes declared at byte {pos}, {} left",
                p.len() - pos
            ));
        };
        records.push(body.to_vec());
        pos += len;
    }
    Ok(Batch { first_seq, records })
}

/// A streaming decoder: feed it byte chunks of any size, take frames out.
///
/// After an error the decoder is poisoned and returns the same error again: a framing error
/// leaves no way to find the next frame boundary.
#[derive(Debug)]
pub struct Decoder {
    max_payload: u32,
    buf: Vec<u8>,
    start: usize,
    consumed_total: u64,
    failed: Option<FrameError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder {
    /// A decoder refusing payloads above `max_payload` bytes.
    pub fn new(max_payload: u32) -> Self {
        Decoder {
            max_payload,
            buf: Vec::new(),
            start: 0,
            consumed_total: 0,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed, or the framing error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match decode(
            &self.buf[self.start..],
            self.max_payload,
            self.consumed_total,
        ) {
            Ok(Decoded::Incomplete { .. }) => Ok(None),
            Ok(Decoded::Frame { frame, consumed }) => {
                self.start += consumed;
                self.consumed_total += consumed as u64;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(frame))
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Bytes received but not yet decoded into a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Total bytes consumed by decoded frames so far.
    pub fn stream_offset(&self) -> u64 {
        self.consumed_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: &Frame) -> Vec<u8> {
        f.to_bytes(DEFAULT_MAX_FRAME).expect("encodes")
    }

    #[test]
    fn ack_bytes_are_as_documented() {
        // 50 43 4b 54 | 01 | 03 | 00 00 00 0a | {"seq":42}
        let bytes = enc(&Frame::Ack(Ack { seq: 42 }));
        assert_eq!(&bytes[..10], b"PCKT\x01\x03\x00\x00\x00\x0a");
        assert_eq!(&bytes[10..], br#"{"seq":42}"#);
    }

    #[test]
    fn batch_bytes_are_as_documented() {
        let bytes = enc(&Frame::Batch(Batch {
            first_seq: 7,
            records: vec![b"ab".to_vec()],
        }));
        assert_eq!(
            bytes,
            b"PCKT\x01\x02\x00\x00\x00\x12\0\0\0\0\0\0\0\x07\0\0\0\x01\0\0\0\x02ab"
        );
    }

    #[test]
    fn hello_tolerates_unknown_fields_and_missing_optionals() {
        let payload = br#"{"agent":"work","protocol":1,"future":{"x":1}}"#;
        let mut bytes = b"PCKT\x01\x01".to_vec();
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
        let Decoded::Frame { frame, .. } = decode(&bytes, 1024, 0).expect("decodes") else {
            panic!("incomplete")
        };
        assert_eq!(
            frame,
            Frame::Hello(Hello {
                agent: "work".into(),
                protocol: 1,
                capabilities: vec![],
                epoch: 0
            })
        );
    }

    #[test]
    fn unknown_type_is_skippable() {
        let bytes = b"PCKT\x01\x63\x00\x00\x00\x02hi";
        let mut d = Decoder::default();
        d.push(bytes);
        d.push(&enc(&Frame::Ack(Ack { seq: 1 })));
        assert_eq!(
            d.next_frame().expect("ok"),
            Some(Frame::Unknown {
                kind: 0x63,
                payload: b"hi".to_vec()
            })
        );
        assert_eq!(
            d.next_frame().expect("ok"),
            Some(Frame::Ack(Ack { seq: 1 }))
        );
        assert_eq!(d.next_frame().expect("ok"), None);
    }

    #[test]
    fn garbage_is_refused_at_the_first_byte() {
        let err = decode(b"GET / HTTP/1.1\r\n", 1024, 100).expect_err("refused");
        assert_eq!(
            err,
            FrameError::BadMagic {
                found: b"GET ".to_vec(),
                offset: 100
            }
        );
        assert!(decode(b"X", 1024, 0).is_err());
        assert!(err.to_string().contains("offset 100"));
    }

    #[test]
    fn wrong_version_names_the_version_and_where() {
        let err = decode(b"PCKT\x02", 1024, 10).expect_err("refused");
        assert_eq!(
            err,
            FrameError::UnsupportedVersion {
                found: 2,
                offset: 14
            }
        );
    }

    #[test]
    fn oversized_is_refused_from_the_header_alone() {
        let err = decode(b"PCKT\x01\x02\xff\xff\xff\xff", 1 << 20, 0).expect_err("refused");
        assert!(
            matches!(err, FrameError::Oversized { len: 0xffff_ffff, max, .. } if max == 1 << 20)
        );
    }

    #[test]
    fn encode_refuses_payload_over_max() {
        let f = Frame::Batch(Batch {
            first_seq: 1,
            records: vec![vec![0; 100]],
        });
        let mut out = b"keep".to_vec();
        assert!(f.encode(50, &mut out).is_err());
        assert_eq!(out, b"keep");
    }

    #[test]
    fn batch_count_lies_are_errors_not_allocations() {
        let mut bytes = b"PCKT\x01\x02\x00\x00\x00\x0c".to_vec();
        bytes.extend_from_slice(&1u64.to_be_bytes());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = decode(&bytes, 1024, 0).expect_err("refused");
        assert!(err.to_string().contains("record 0 of 4294967295"), "{err}");
    }

    #[test]
    fn batch_trailing_bytes_are_reserved_and_ignored() {
        // A later version may append fields after the records.
        let mut bytes = b"PCKT\x01\x02\x00\x00\x00\x14".to_vec();
        bytes.extend_from_slice(&3u64.to_be_bytes());
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(b"\0\0\0\x01x");
        bytes.extend_from_slice(b"new");
        let Decoded::Frame { frame, consumed } = decode(&bytes, 1024, 0).expect("decodes") else {
            panic!("incomplete")
        };
        assert_eq!(consumed, bytes.len());
        assert_eq!(
            frame,
            Frame::Batch(Batch {
                first_seq: 3,
                records: vec![b"x".to_vec()]
            })
        );
    }

    #[test]
    fn decoder_is_poisoned_after_error() {
        let mut d = Decoder::default();
        d.push(b"nope");
        assert!(d.next_frame().is_err());
        d.push(&enc(&Frame::Ack(Ack { seq: 1 })));
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn byte_at_a_time_feeding_yields_the_same_frames() {
        let frames = vec![
            Frame::Hello(Hello {
                agent: "a".into(),
                protocol: 1,
                capabilities: vec!["x".into()],
                epoch: 9,
            }),
            Frame::Batch(Batch {
                first_seq: 1,
                records: vec![b"{}".to_vec(), vec![]],
            }),
            Frame::Heartbeat(Heartbeat::default()),
        ];
        let mut bytes = Vec::new();
        for f in &frames {
            f.encode(DEFAULT_MAX_FRAME, &mut bytes).expect("encodes");
        }
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for b in bytes {
            d.push(&[b]);
            while let Some(f) = d.next_frame().expect("valid") {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        assert_eq!(d.buffered(), 0);
    }
}
