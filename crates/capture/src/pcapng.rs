//! pcapng: a sequence of blocks, each `type, total length, body, total length`. A section
//! header block sets the byte order for the blocks after it; interface description blocks
//! give each interface its link type, snapshot length and timestamp resolution.

use crate::file::Input;
use crate::pcap::Last;
use crate::{units_to_micros, CaptureStats, Error, Packet, PacketSource, TsResolution};
use crate::{MAX_BLOCK_LEN, MAX_PACKET_LEN};
use picket_event::Timestamp;
use std::io::Read;
use std::path::Path;

const BLOCK_SHB: u32 = 0x0a0d_0d0a;
const BLOCK_IDB: u32 = 1;
const BLOCK_PB: u32 = 2;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
/// More interfaces than this in one section is a hostile file, not a real capture.
const MAX_INTERFACES: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    resolution: TsResolution,
    offset_secs: i64,
}

/// A pcapng reader over any byte stream.
#[derive(Debug)]
pub struct PcapngReader<R> {
    input: Input<R>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    buf: Vec<u8>,
    last: Option<Last>,
    stats: CaptureStats,
    /// The first block was read together with the magic; it is parsed on the first advance.
    pending_shb: bool,
}

impl<R: Read> PcapngReader<R> {
    /// Start reading `reader`; `label` names the input in errors.
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
        u32::from_be_bytes(magic) == BLOCK_SHB
    }

    pub(crate) fn from_input(input: Input<R>, _magic: [u8; 4]) -> Result<Self, Error> {
        let mut reader = PcapngReader {
            input,
            big_endian: false,
            interfaces: Vec::new(),
            buf: Vec::new(),
            last: None,
            stats: CaptureStats {
                files: 1,
                ..CaptureStats::default()
            },
            pending_shb: true,
        };
        // Read the section header now so that a file that is not really pcapng fails at
        // open time.
        reader.read_section_header(0)?;
        reader.pending_shb = false;
        Ok(reader)
    }

    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// The block type is already consumed; read the rest of a section header block.
    fn read_section_header(&mut self, block_offset: u64) -> Result<(), Error> {
        let mut head = [0u8; 8];
        self.input
            .fill_required(&mut head, "section header block")?;
        let bom = [head[4], head[5], head[6], head[7]];
        self.big_endian = if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
            true
        } else if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
            false
        } else {
            return Err(self
                .input
                .malformed(block_offset + 8, "bad byte-order magic in section header"));
        };
        let total = self.u32(&head[0..4]);
        self.check_block_len(block_offset, total, 28)?;
        // Version, section length and options: nothing in them changes how packets read.
        self.buf.resize(total as usize - 12, 0);
        self.input
            .fill_required(&mut self.buf, "section header block")?;
        self.check_trailer(block_offset, total)?;
        self.interfaces.clear();
        Ok(())
    }

    fn check_block_len(&self, block_offset: u64, total: u32, min: u32) -> Result<(), Error> {
        if total < min || !total.is_multiple_of(4) || total > MAX_BLOCK_LEN {
            return Err(self.input.malformed(
                block_offset + 4,
                format!(
                    "block length {total} is not a multiple of 4 between {min} and {MAX_BLOCK_LEN}"
                ),
            ));
        }
        Ok(())
    }

    /// `buf` holds the body and the trailing length; the two lengths must agree.
    fn check_trailer(&self, block_offset: u64, total: u32) -> Result<(), Error> {
        let n = self.buf.len();
        let trailer = self.u32(&self.buf[n - 4..]);
        if trailer != total {
            return Err(self.input.malformed(
                block_offset + u64::from(total) - 4,
                format!("block trailer length {trailer} differs from header length {total}"),
            ));
        }
        Ok(())
    }

    fn read_interface(&mut self, block_offset: u64) -> Result<(), Error> {
        let body_len = self.buf.len() - 4;
        if body_len < 8 {
            return Err(self
                .input
                .malformed(block_offset, "interface block too short"));
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(self
                .input
                .malformed(block_offset, "more than 65536 interfaces in one section"));
        }
        let link_type = u32::from(self.u16(&self.buf[0..2]));
        let snaplen = self.u32(&self.buf[4..8]);
        let mut interface = Interface {
            link_type,
            snaplen,
            resolution: TsResolution::Decimal(6),
            offset_secs: 0,
        };
        let mut pos = 8;
        while pos + 4 <= body_len {
            let code = self.u16(&self.buf[pos..pos + 2]);
            let len = usize::from(self.u16(&self.buf[pos + 2..pos + 4]));
            let value_start = pos + 4;
            let value_end = value_start + len;
            if code == OPT_END || value_end > body_len {
                break;
            }
            let value = &self.buf[value_start..value_end];
            match (code, len) {
                (OPT_IF_TSRESOL, 1) => {
                    let v = value[0];
                    let exponent = v & 0x7f;
                    interface.resolution = if v & 0x80 != 0 {
                        TsResolution::Binary(exponent)
                    } else if exponent <= 38 {
                        TsResolution::Decimal(exponent)
                    } else {
                        return Err(self.input.malformed(
                            block_offset + 8 + value_start as u64,
                            format!("if_tsresol 10^-{exponent} is beyond any clock"),
                        ));
                    };
                }
                (OPT_IF_TSOFFSET, 8) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(value);
                    interface.offset_secs = if self.big_endian {
                        i64::from_be_bytes(a)
                    } else {
                        i64::from_le_bytes(a)
                    };
                }
                _ => {}
            }
            pos = value_start + len.div_ceil(4) * 4;
        }
        self.interfaces.push(interface);
        Ok(())
    }

    fn interface(&self, id: u32, block_offset: u64) -> Result<Interface, Error> {
        self.interfaces.get(id as usize).copied().ok_or_else(|| {
            self.input.malformed(
                block_offset + 8,
                format!(
                    "packet names interface {id}, but only {} are described",
                    self.interfaces.len()
                ),
            )
        })
    }

    fn timestamp(interface: &Interface, high: u32, low: u32) -> Timestamp {
        let units = (u64::from(high) << 32) | u64::from(low);
        let micros = units_to_micros(units, interface.resolution)
            .saturating_add(interface.offset_secs.saturating_mul(1_000_000));
        Timestamp::from_micros(micros)
    }

    /// Packet fields at `data_start` with `caplen` bytes must fit the body.
    fn packet(
        &self,
        block_offset: u64,
        interface: Interface,
        ts: Timestamp,
        data_start: usize,
        caplen: u32,
        orig_len: u32,
    ) -> Result<Last, Error> {
        let body_len = self.buf.len() - 4;
        if caplen > MAX_PACKET_LEN || data_start + caplen as usize > body_len {
            return Err(self.input.malformed(
                block_offset + 8,
                format!("captured length {caplen} does not fit its block"),
            ));
        }
        Ok(Last {
            ts,
            link_type: interface.link_type,
            start: data_start,
            end: data_start + caplen as usize,
            orig_len,
        })
    }

    pub(crate) fn advance(&mut self) -> Result<bool, Error> {
        self.last = None;
        loop {
            let block_offset = self.input.offset;
            let mut head = [0u8; 4];
            if !self.input.fill(&mut head, "block header")? {
                return Ok(false);
            }
            let block_type = self.u32(&head);
            if block_type == BLOCK_SHB {
                self.read_section_header(block_offset)?;
                continue;
            }
            self.input.fill_required(&mut head, "block header")?;
            let total = self.u32(&head);
            self.check_block_len(block_offset, total, 12)?;
            self.buf.resize(total as usize - 8, 0);
            self.input.fill_required(&mut self.buf, "block body")?;
            self.check_trailer(block_offset, total)?;
            let body_len = self.buf.len() - 4;
            let last = match block_type {
                BLOCK_IDB => {
                    self.read_interface(block_offset)?;
                    continue;
                }
                BLOCK_EPB => {
                    if body_len < 20 {
                        return Err(self
                            .input
                            .malformed(block_offset, "enhanced packet block too short"));
                    }
                    let b = &self.buf;
                    let (id, high, low, caplen, orig_len) = (
                        self.u32(&b[0..4]),
                        self.u32(&b[4..8]),
                        self.u32(&b[8..12]),
                        self.u32(&b[12..16]),
                        self.u32(&b[16..20]),
                    );
                    let interface = self.interface(id, block_offset)?;
                    let ts = Self::timestamp(&interface, high, low);
                    self.packet(block_offset, interface, ts, 20, caplen, orig_len)?
                }
                BLOCK_PB => {
                    if body_len < 20 {
                        return Err(self.input.malformed(block_offset, "packet block too short"));
                    }
                    let b = &self.buf;
                    let (id, high, low, caplen, orig_len) = (
                        u32::from(self.u16(&b[0..2])),
                        self.u32(&b[4..8]),
                        self.u32(&b[8..12]),
                        self.u32(&b[12..16]),
                        self.u32(&b[16..20]),
                    );
                    let interface = self.interface(id, block_offset)?;
                    let ts = Self::timestamp(&interface, high, low);
                    self.packet(block_offset, interface, ts, 20, caplen, orig_len)?
                }
                BLOCK_SPB => {
                    if body_len < 4 {
                        return Err(self
                            .input
                            .malformed(block_offset, "simple packet block too short"));
                    }
                    let orig_len = self.u32(&self.buf[0..4]);
                    let interface = self.interface(0, block_offset)?;
                    // A simple packet block carries no captured length: it is the original
                    // length cut to the snapshot length and to the block.
                    let mut caplen = orig_len.min((body_len - 4) as u32);
                    if interface.snaplen != 0 {
                        caplen = caplen.min(interface.snaplen);
                    }
                    // No timestamp either; 0 keeps the flow clock from moving.
                    self.packet(
                        block_offset,
                        interface,
                        Timestamp::from_micros(0),
                        4,
                        caplen,
                        orig_len,
                    )?
                }
                // Name resolution, statistics, journal, custom and unknown blocks.
                _ => continue,
            };
            self.stats.packets += 1;
            self.stats.bytes += (last.end - last.start) as u64;
            self.last = Some(last);
            return Ok(true);
        }
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

impl<R: Read> PacketSource for PcapngReader<R> {
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
    use std::path::PathBuf;

    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        let mut out = Vec::new();
        out.extend(block_type.to_le_bytes());
        out.extend(total.to_le_bytes());
        out.extend(body);
        out.resize(8 + padded, 0);
        out.extend(total.to_le_bytes());
        out
    }

    fn shb() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend((-1i64).to_le_bytes());
        block(BLOCK_SHB, &body)
    }

    fn idb(link_type: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(link_type.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend(OPT_IF_TSRESOL.to_le_bytes());
            body.extend(1u16.to_le_bytes());
            body.extend([r, 0, 0, 0]);
            body.extend([0u8; 4]); // opt_endofopt
        }
        block(BLOCK_IDB, &body)
    }

    fn epb(interface: u32, units: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(interface.to_le_bytes());
        body.extend(((units >> 32) as u32).to_le_bytes());
        body.extend((units as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend((data.len() as u32 + 10).to_le_bytes());
        body.extend(data);
        block(BLOCK_EPB, &body)
    }

    type Read = (Vec<(i64, u32, Vec<u8>)>, Option<Error>);

    fn read_all(bytes: &[u8]) -> Read {
        let mut reader = match PcapngReader::new(&PathBuf::from("t.pcapng"), bytes) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => out.push((p.ts.as_micros(), p.link_type, p.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn interfaces_keep_their_own_link_type_and_resolution() {
        let mut file = shb();
        file.extend(idb(1, None)); // Ethernet, microseconds
        file.extend(idb(101, Some(9))); // raw IP, nanoseconds
        file.extend(epb(0, 1_700_000_000_000_001, &[1, 2, 3]));
        file.extend(epb(1, 1_700_000_000_000_001_000, &[4, 5, 6, 7, 8]));
        let (packets, error) = read_all(&file);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(
            packets,
            vec![
                (1_700_000_000_000_001, 1, vec![1, 2, 3]),
                (1_700_000_000_000_001, 101, vec![4, 5, 6, 7, 8]),
            ]
        );
    }

    #[test]
    fn obsolete_packet_block_reads_like_an_enhanced_one() {
        let mut file = shb();
        file.extend(idb(113, None));
        let mut body = Vec::new();
        body.extend(0u16.to_le_bytes()); // interface
        body.extend(0u16.to_le_bytes()); // drops
        body.extend(0u32.to_le_bytes());
        body.extend(2_000_000u32.to_le_bytes());
        body.extend(3u32.to_le_bytes());
        body.extend(3u32.to_le_bytes());
        body.extend([7, 7, 7]);
        file.extend(block(BLOCK_PB, &body));
        let (packets, error) = read_all(&file);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(packets, vec![(2_000_000, 113, vec![7, 7, 7])]);
    }

    #[test]
    fn big_endian_sections_read_too() {
        // The same file as the little-endian helpers build, written big-endian by hand.
        let mut file = Vec::new();
        let be_block = |t: u32, body: &[u8]| {
            let total = (12 + body.len()) as u32;
            let mut out = Vec::new();
            out.extend(t.to_be_bytes());
            out.extend(total.to_be_bytes());
            out.extend(body);
            out.extend(total.to_be_bytes());
            out
        };
        let mut shb_body = Vec::new();
        shb_body.extend(BYTE_ORDER_MAGIC.to_be_bytes());
        shb_body.extend([0, 1, 0, 0]);
        shb_body.extend((-1i64).to_be_bytes());
        file.extend(be_block(BLOCK_SHB, &shb_body));
        file.extend(be_block(BLOCK_IDB, &[0, 1, 0, 0, 0, 0, 0, 0]));
        let mut epb = Vec::new();
        epb.extend(0u32.to_be_bytes());
        epb.extend(0u32.to_be_bytes());
        epb.extend(5u32.to_be_bytes());
        epb.extend(4u32.to_be_bytes());
        epb.extend(4u32.to_be_bytes());
        epb.extend([1, 2, 3, 4]);
        file.extend(be_block(BLOCK_EPB, &epb));
        let (packets, error) = read_all(&file);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(packets, vec![(5, 1, vec![1, 2, 3, 4])]);
    }

    #[test]
    fn a_new_section_forgets_old_interfaces() {
        let mut file = shb();
        file.extend(idb(1, None));
        file.extend(shb());
        file.extend(epb(0, 0, &[1]));
        let (packets, error) = read_all(&file);
        assert!(packets.is_empty());
        assert!(matches!(error, Some(Error::Malformed { .. })), "{error:?}");
    }

    #[test]
    fn simple_packet_block_uses_interface_zero_and_snaplen() {
        let mut file = shb();
        let mut body = Vec::new();
        body.extend(1u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend(2u32.to_le_bytes()); // snaplen 2
        file.extend(block(BLOCK_IDB, &body));
        let mut spb = Vec::new();
        spb.extend(60u32.to_le_bytes());
        spb.extend([9, 8, 7, 6]);
        file.extend(block(BLOCK_SPB, &spb));
        let (packets, error) = read_all(&file);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(packets, vec![(0, 1, vec![9, 8])]);
    }

    #[test]
    fn lying_block_length_is_an_error_not_an_allocation() {
        let mut file = shb();
        let mut bad = idb(1, None);
        bad[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        file.extend(bad);
        let (_, error) = read_all(&file);
        assert!(
            matches!(error, Some(Error::Malformed { offset: 32, .. })),
            "{error:?}"
        );
    }

    #[test]
    fn truncated_block_names_its_offset() {
        let mut file = shb();
        file.extend(idb(1, None));
        let good = file.len();
        file.extend(epb(0, 0, &[1, 2, 3, 4, 5, 6]));
        file.truncate(file.len() - 3);
        let (_, error) = read_all(&file);
        match error {
            Some(Error::Truncated { offset, .. }) => assert_eq!(offset, good as u64 + 8),
            other => panic!("expected truncation, got {other:?}"),
        }
    }
}
