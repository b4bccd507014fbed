//! Packet sources behind one trait.
//!
//! [`PacketSource`] yields one [`Packet`] at a time, borrowed from the source's own buffer so
//! that replaying a capture does not allocate per packet. Implementations:
//!
//! * [`PcapReader`]: classic pcap in either byte order, with microsecond or nanosecond
//!   timestamps;
//! * [`PcapngReader`]: pcapng sections, with per-interface link types and timestamp
//!   resolutions, reading enhanced, simple and obsolete packet blocks;
//! * [`CaptureFile`]: either of the above, chosen by the file's magic number;
//! * [`CaptureSet`]: many files and directories, read one after another in name order;
//! * [`live::AfPacket`] (Linux): a live interface through an `AF_PACKET` socket, with the
//!   kernel's drop counters.
//!
//! Capture files are hostile input. Every length read from a file is checked against a
//! bound before anything is allocated, and a truncated or malformed file ends that file with
//! an [`Error`] naming the file and the byte offset; nothing here panics on input.

mod error;
mod file;
#[cfg(target_os = "linux")]
pub mod live;
mod pcap;
mod pcapng;

pub use error::Error;
pub use file::{CaptureFile, CaptureSet};
pub use pcap::PcapReader;
pub use pcapng::PcapngReader;

use picket_event::Timestamp;

/// The largest packet a reader accepts (1 MiB). libpcap caps snapshots at 256 KiB for most
/// link types; anything far beyond that is a corrupt or hostile length field.
pub const MAX_PACKET_LEN: u32 = 1 << 20;

/// The largest pcapng block a reader accepts (16 MiB): room for the biggest packet plus
/// generous options, small enough that a lying length cannot exhaust memory.
pub const MAX_BLOCK_LEN: u32 = 16 << 20;

/// Link-layer header types, as tcpdump.org's LINKTYPE_ values number them.
pub mod linktype {
    /// BSD loopback: a 4-byte address family in host byte order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// Raw IP (the BSD value).
    pub const RAW_BSD: u32 = 12;
    /// Raw IP, with the version in the first nibble.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// One captured packet, borrowed from its source until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// When the packet was captured, in microseconds (finer resolutions are truncated).
    pub ts: Timestamp,
    /// The LINKTYPE_ value of `data` (see [`linktype`]).
    pub link_type: u32,
    /// The bytes captured, possibly fewer than were on the wire.
    pub data: &'a [u8],
    /// The length of the packet on the wire.
    pub orig_len: u32,
}

/// What a source has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets yielded.
    pub packets: u64,
    /// Bytes captured in the packets yielded.
    pub bytes: u64,
    /// Packets the kernel received on a live socket (0 for files).
    pub kernel_packets: u64,
    /// Packets the kernel dropped because the socket buffer was full (0 for files).
    pub kernel_drops: u64,
    /// Files, or live reads, that ended in an error.
    pub errors: u64,
    /// Capture files opened.
    pub files: u64,
}

/// A source of packets: a file, a set of files, or an interface.
///
/// `next_packet` returns `Ok(None)` at the end. An `Err` ends the current file; a
/// [`CaptureSet`] then goes on with its next file, so callers keep calling until `Ok(None)`.
pub trait PacketSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error>;
    /// Counters so far; live sources refresh kernel counters here.
    fn stats(&mut self) -> CaptureStats;
}

/// Convert a count of `1/10^digits` or `1/2^bits` second units to microseconds.
pub(crate) fn units_to_micros(units: u64, resolution: TsResolution) -> i64 {
    let micros: u128 = match resolution {
        TsResolution::Decimal(digits) if digits <= 6 => {
            u128::from(units) * 10u128.pow(u32::from(6 - digits))
        }
        TsResolution::Decimal(digits) => {
            // 10^38 overflows nothing in u128 below digits = 38; larger resolutions are
            // meaningless and rejected when the interface is read.
            u128::from(units) / 10u128.pow(u32::from(digits.min(38) - 6))
        }
        TsResolution::Binary(bits) => (u128::from(units) * 1_000_000) >> u32::from(bits.min(127)),
    };
    i64::try_from(micros).unwrap_or(i64::MAX)
}

/// A timestamp resolution: `Decimal(6)` is microseconds, `Decimal(9)` nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsResolution {
    Decimal(u8),
    Binary(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_convert_to_micros() {
        assert_eq!(
            units_to_micros(1_500_000, TsResolution::Decimal(6)),
            1_500_000
        );
        assert_eq!(
            units_to_micros(1_500_000_999, TsResolution::Decimal(9)),
            1_500_000
        );
        assert_eq!(units_to_micros(15, TsResolution::Decimal(1)), 1_500_000);
        assert_eq!(
            units_to_micros(3 << 20, TsResolution::Binary(20)),
            3_000_000
        );
        assert_eq!(
            units_to_micros(u64::MAX, TsResolution::Decimal(0)),
            i64::MAX
        );
    }
}
