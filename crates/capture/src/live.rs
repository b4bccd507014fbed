//! Live capture from one interface through an `AF_PACKET` socket (Linux only, no libpcap).
//!
//! This module is the crate's only `unsafe`: socket calls through `libc`. Each block says
//! why it is sound.
#![allow(unsafe_code)]

use crate::{linktype, CaptureStats, Error, Packet, PacketSource};
use picket_event::Timestamp;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `struct tpacket_stats` from `<linux/if_packet.h>`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct TpacketStats {
    tp_packets: libc::c_uint,
    tp_drops: libc::c_uint,
}

/// An `AF_PACKET` raw socket bound to one interface.
#[derive(Debug)]
pub struct AfPacket {
    fd: OwnedFd,
    interface: String,
    buf: Vec<u8>,
    len: usize,
    orig_len: u32,
    link_type: u32,
    /// The kernel's `sll_pkttype` of the last packet (`PACKET_HOST`, `PACKET_OUTGOING`...).
    pkttype: u8,
    ts: Timestamp,
    stop: Arc<AtomicBool>,
    stats: CaptureStats,
}

impl AfPacket {
    /// Open `interface`, capturing at most `snaplen` bytes of each packet. With
    /// `promiscuous`, the interface also passes frames addressed to other hosts. Setting
    /// `stop` ends the capture within half a second.
    pub fn open(
        interface: &str,
        snaplen: u32,
        promiscuous: bool,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, Error> {
        let fail = |context: &'static str, source: std::io::Error| Error::Live {
            interface: interface.to_string(),
            context,
            source,
        };
        let name = CString::new(interface).map_err(|_| {
            fail(
                "name",
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            )
        })?;
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(fail("if_nametoindex", std::io::Error::last_os_error()));
        }
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain system call with constant arguments; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(fail("socket", std::io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(fail("bind", std::io::Error::last_os_error()));
        }

        if promiscuous {
            // SAFETY: packet_mreq is plain old data; all-zero is a valid value.
            let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
            mreq.mr_ifindex = ifindex as i32;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            set_option(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| fail("PACKET_ADD_MEMBERSHIP", e))?;
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 500_000,
        };
        set_option(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)
            .map_err(|e| fail("SO_RCVTIMEO", e))?;

        let mut source = AfPacket {
            fd,
            interface: interface.to_string(),
            buf: vec![0; snaplen.clamp(64, crate::MAX_PACKET_LEN) as usize],
            len: 0,
            orig_len: 0,
            link_type: linktype::ETHERNET,
            pkttype: 0,
            ts: Timestamp::default(),
            stop,
            stats: CaptureStats::default(),
        };
        // Reading the kernel counters resets them: start from zero.
        source.refresh_kernel_stats();
        source.stats = CaptureStats::default();
        Ok(source)
    }

    fn refresh_kernel_stats(&mut self) {
        let mut stats = TpacketStats::default();
        let mut len = std::mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: `stats` is a writable tpacket_stats and `len` holds its size, as
        // PACKET_STATISTICS expects.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut TpacketStats).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            // The kernel counts received packets including the dropped ones, and resets
            // both on every read, so they accumulate here.
            self.stats.kernel_packets += u64::from(stats.tp_packets);
            self.stats.kernel_drops += u64::from(stats.tp_drops);
        }
    }

    fn receive(&mut self) -> Result<bool, Error> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` is writable for `buf.len()` bytes; `from` and `from_len`
            // describe a writable sockaddr_ll. MSG_TRUNC makes the kernel return the full
            // length while writing at most `buf.len()` bytes.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let error = std::io::Error::last_os_error();
                match error.kind() {
                    std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted => continue,
                    _ => {
                        self.stats.errors += 1;
                        return Err(Error::Live {
                            interface: self.interface.clone(),
                            context: "recvfrom",
                            source: error,
                        });
                    }
                }
            }
            if from.sll_hatype == libc::ARPHRD_LOOPBACK && from.sll_pkttype == libc::PACKET_OUTGOING
            {
                // On loopback every packet is seen leaving and arriving; keep one copy,
                // as tcpdump does.
                continue;
            }
            let full = n as usize;
            self.len = full.min(self.buf.len());
            self.orig_len = u32::try_from(full).unwrap_or(u32::MAX);
            self.link_type = match from.sll_hatype {
                libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => linktype::ETHERNET,
                // Tunnels and point-to-point links hand over bare IP packets.
                libc::ARPHRD_NONE | libc::ARPHRD_PPP | libc::ARPHRD_TUNNEL
                | libc::ARPHRD_TUNNEL6 | 519 /* ARPHRD_RAWIP */ => linktype::RAW,
                _ => linktype::ETHERNET,
            };
            self.pkttype = from.sll_pkttype;
            self.ts = Timestamp::now();
            self.stats.packets += 1;
            self.stats.bytes += self.len as u64;
            return Ok(true);
        }
    }
}

/// The kernel's packet types (`sll_pkttype`), as [`AfPacket::next_packet_typed`] reports
/// them: which way a packet went relative to this host.
pub mod pkttype {
    /// Addressed to this host.
    pub const HOST: u8 = 0;
    pub const BROADCAST: u8 = 1;
    pub const MULTICAST: u8 = 2;
    /// Addressed to another host (seen in promiscuous mode).
    pub const OTHERHOST: u8 = 3;
    /// Sent by this host: what a leak monitor on an uplink watches.
    pub const OUTGOING: u8 = 4;
}

impl AfPacket {
    /// Like [`PacketSource::next_packet`], with the packet's direction ([`pkttype`]).
    pub fn next_packet_typed(&mut self) -> Result<Option<(Packet<'_>, u8)>, Error> {
        if !self.receive()? {
            return Ok(None);
        }
        Ok(Some((
            Packet {
                ts: self.ts,
                link_type: self.link_type,
                data: &self.buf[..self.len],
                orig_len: self.orig_len,
            },
            self.pkttype,
        )))
    }
}

fn set_option<T>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> Result<(), std::io::Error> {
    // SAFETY: `value` points to a live T and the length passed is exactly its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl PacketSource for AfPacket {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        if !self.receive()? {
            return Ok(None);
        }
        Ok(Some(Packet {
            ts: self.ts,
            link_type: self.link_type,
            data: &self.buf[..self.len],
            orig_len: self.orig_len,
        }))
    }

    fn stats(&mut self) -> CaptureStats {
        self.refresh_kernel_stats();
        self.stats
    }
}
