//! Classic pcap: a 24-byte file header, then 16-byte record headers each followed by the
//! captured bytes. The magic number gives both the byte order and the timestamp unit.

use crate::file::Input;
use crate::MAX_PACKET_LEN;
use crate::{units_to_micros, CaptureStats, Error, Packet, PacketSource, TsResolution};
use picket_event::Timestamp;
use std::io::Read;
use std::path::Path;

const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
const MAGIC_NANO: u32 = 0xa1b2_3c4d;
/// Alexey Kuznetsov's patched format: 8 more bytes per record header (ifindex, protocol,
/// packet type, padding). Still found in old captures.
const MAGIC_KUZNETSOV: u32 = 0xa1b2_cd34;

/// Where the last packet sits in the buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Last {
    pub(crate) ts: Timestamp,
    pub(crate) link_type: u32,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) orig_len: u32,
}

/// A classic pcap reader over any byte stream.
#[derive(Debug)]
pub struct PcapReader<R> {
    input: Input<R>,
    big_endian: bool,
    resolution: TsResolution,
    record_header_len: usize,
    link_type: u32,
    snaplen: u32,
    buf: Vec<u8>,
    last: Option<Last>,
    stats: CaptureStats,
}

impl<R: Read> PcapReader<R> {
    /// Read the file header from `reader`; `label` names the input in errors.
    pub fn new(label: &Path, reader: R) -> Result<Self, Error> {
        let mut input = Input::new(label.to_path_buf(), reader);
        let mut magic = [0u8; 4];
        input.fill_required(&mut magic, "file magic")?;
        if !Self::recognises(magic) {
            return Err(Error::UnknownFormat {
                path: label.to_path_buf(),
                magic: u32::from_be_bytes(magic),
            });
        }
        Self::from_input(input, magic)
    }

    pub(crate) fn recognises(magic: [u8; 4]) -> bool {
        let be = u32::from_be_bytes(magic);
        let le = u32::from_le_bytes(magic);
        [MAGIC_MICRO, MAGIC_NANO, MAGIC_KUZNETSOV]
            .iter()
            .any(|m| *m == be || *m == le)
    }

    pub(crate) fn from_input(mut input: Input<R>, magic: [u8; 4]) -> Result<Self, Error> {
        let be = u32::from_be_bytes(magic);
        let big_endian = [MAGIC_MICRO, MAGIC_NANO, MAGIC_KUZNETSOV].contains(&be);
        let value = if big_endian {
            be
        } else {
            u32::from_le_bytes(magic)
        };
        let mut header = [0u8; 20];
        input.fill_required(&mut header, "file header")?;
        let u32_at = |i: usize| {
            let b = [header[i], header[i + 1], header[i + 2], header[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let major = if big_endian {
            u16::from_be_bytes([header[0], header[1]])
        } else {
            u16::from_le_bytes([header[0], header[1]])
        };
        if major != 2 {
            return Err(input.malformed(4, format!("unsupported pcap version {major}")));
        }
        let snaplen = u32_at(12);
        // The upper bits of the link type field carry FCS information; the type is the
        // low 16 bits.
        let link_type = u32_at(16) & 0xffff;
        Ok(PcapReader {
            input,
            big_endian,
            resolution: if value == MAGIC_NANO {
                TsResolution::Decimal(9)
            } else {
                TsResolution::Decimal(6)
            },
            record_header_len: if value == MAGIC_KUZNETSOV { 24 } else { 16 },
            link_type,
            snaplen,
            buf: Vec::new(),
            last: None,
            stats: CaptureStats {
                files: 1,
                ..CaptureStats::default()
            },
        })
    }

    /// The file's link type.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// The snapshot length the file header declares (informational; records are bounded
    /// by [`MAX_PACKET_LEN`] instead, since writers often get this field wrong).
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    pub(crate) fn advance(&mut self) -> Result<bool, Error> {
        self.last = None;
        let mut header = [0u8; 24];
        let header_len = self.record_header_len;
        let record_offset = self.input.offset;
        if !self
            .input
            .fill(&mut header[..header_len], "record header")?
        {
            return Ok(false);
        }
        let secs = self.u32(&header[0..4]);
        let frac = self.u32(&header[4..8]);
        let caplen = self.u32(&header[8..12]);
        let orig_len = self.u32(&header[12..16]);
        if caplen > MAX_PACKET_LEN {
            return Err(self.input.malformed(
                record_offset,
                format!("record length {caplen} exceeds the {MAX_PACKET_LEN}-byte limit"),
            ));
        }
        let caplen = caplen as usize;
        self.buf.resize(caplen, 0);
        self.input.fill_required(&mut self.buf, "packet data")?;
        let ts = i64::from(secs) * 1_000_000 + units_to_micros(u64::from(frac), self.resolution);
        self.last = Some(Last {
            ts: Timestamp::from_micros(ts),
            link_type: self.link_type,
            start: 0,
            end: caplen,
            orig_len,
        });
        self.stats.packets += 1;
        self.stats.bytes += caplen as u64;
        Ok(true)
    }

    pub(crate) fn last(&self) -> Option<Packet<'_>> {
        let last = self.last?;
        Some(Packet {
            ts: last.ts,
            link_type: last.link_type,
            data: self.buf.get(last.start..last.end)?,
            orig_len: last.orig_len,
        })
    }
}

impl<R: Read> PacketSource for PcapReader<R> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        if self.advance()? {
            Ok(self.last())
        } else {
            Ok(None)
        }
    }

    fn stats(&mut self) -> CaptureStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linktype;
    use std::path::PathBuf;

    /// A little-endian microsecond pcap with one 4-byte Ethernet "packet".
    fn sample(magic: u32, big_endian: bool) -> Vec<u8> {
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(w32(magic));
        out.extend(w16(2));
        out.extend(w16(4));
        out.extend(w32(0)); // thiszone
        out.extend(w32(0)); // sigfigs
        out.extend(w32(65535)); // snaplen
        out.extend(w32(1)); // Ethernet
        out.extend(w32(1_700_000_000));
        out.extend(w32(if magic == MAGIC_NANO {
            123_456_789
        } else {
            123_456
        }));
        out.extend(w32(4));
        out.extend(w32(60));
        out.extend([0xde, 0xad, 0xbe, 0xef]);
        out
    }

    type Read = (Vec<(i64, Vec<u8>, u32)>, Option<Error>);

    fn read_all(bytes: &[u8]) -> Read {
        let mut reader = match PcapReader::new(&PathBuf::from("test.pcap"), bytes) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => {
                    assert_eq!(p.link_type, linktype::ETHERNET);
                    out.push((p.ts.as_micros(), p.data.to_vec(), p.orig_len))
                }
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn reads_both_byte_orders_and_both_resolutions() {
        for big in [false, true] {
            for magic in [MAGIC_MICRO, MAGIC_NANO] {
                let (packets, error) = read_all(&sample(magic, big));
                assert!(error.is_none(), "{error:?}");
                assert_eq!(
                    packets,
                    vec![(1_700_000_000_123_456, vec![0xde, 0xad, 0xbe, 0xef], 60)]
                );
            }
        }
    }

    #[test]
    fn truncated_record_names_file_and_offset() {
        let bytes = sample(MAGIC_MICRO, false);
        let (packets, error) = read_all(&bytes[..bytes.len() - 2]);
        assert!(packets.is_empty());
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, "test.pcap: truncated at byte offset 40: packet data");
    }

    #[test]
    fn absurd_record_length_is_rejected_before_allocating() {
        let mut bytes = sample(MAGIC_MICRO, false);
        bytes[32..36].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let (_, error) = read_all(&bytes);
        assert!(
            matches!(error, Some(Error::Malformed { offset: 24, .. })),
            "{error:?}"
        );
    }
}
