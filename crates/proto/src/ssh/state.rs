//! Per-flow SSH state: per direction, the identification line, then unencrypted packets until
//! KEXINIT, which is all the record needs. The key exchange that follows is still framed in
//! the clear, so the side is followed to its NEWKEYS: after that it is ciphertext, which
//! [`AppParser::encrypted`] reports and parsing stops at.

use crate::parse::ParseError;
use crate::{AppEvent, AppParser, Direction};

use super::logger::ssh_body;
use super::parser::*;

/// Bytes one direction may buffer while waiting for a line or the KEXINIT packet.
const MAX_BUFFER: usize = MAX_PACKET + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Banner,
    Packets,
    /// KEXINIT seen; key exchange packets until NEWKEYS.
    Kex,
    Done,
}

#[derive(Debug, Default)]
struct Side {
    buf: Vec<u8>,
    phase: Phase,
    lines: usize,
    banner: Option<Banner>,
    kexinit: Option<KexInit>,
    /// NEWKEYS seen: what follows is encrypted.
    newkeys: bool,
}

impl Side {
    /// The side has said all the record needs (or will say nothing more).
    fn past_kexinit(&self) -> bool {
        matches!(self.phase, Phase::Kex | Phase::Done)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshStats {
    pub malformed: u64,
    pub gaps: u64,
}

#[derive(Debug, Default)]
pub struct SshParser {
    sides: [Side; 2],
    logged: bool,
    pub stats: SshStats,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl SshParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn banner(&self, d: Direction) -> Option<&Banner> {
        self.sides[idx(d)].banner.as_ref()
    }

    /// The KEXINIT sent in direction `d` (to-server is the client's).
    pub fn kexinit(&self, d: Direction) -> Option<&KexInit> {
        self.sides[idx(d)].kexinit.as_ref()
    }

    pub fn hassh(&self) -> Option<Hassh> {
        self.kexinit(Direction::ToServer).map(hassh)
    }

    pub fn hassh_server(&self) -> Option<Hassh> {
        self.kexinit(Direction::ToClient).map(hassh_server)
    }

    fn log(&mut self, out: &mut Vec<AppEvent>) {
        if self.logged || (self.sides[0].banner.is_none() && self.sides[1].banner.is_none()) {
            return;
        }
        self.logged = true;
        out.push(AppEvent::new(
            "ssh",
            ssh_body(
                self.sides[0].banner.as_ref(),
                self.hassh().as_ref(),
                self.sides[1].banner.as_ref(),
                self.hassh_server().as_ref(),
            ),
        ));
    }

    /// Advances one side as far as its buffer allows; an error stops the side.
    fn step(side: &mut Side, stats: &mut SshStats) -> Result<(), ParseError> {
        let mut off = 0;
        let r = loop {
            let rest = &side.buf[off..];
            match side.phase {
                Phase::Banner => match parse_line(rest) {
                    Ok((Some(b), used)) => {
                        off += used;
                        // SSH-1.x (but not 1.99, which also speaks 2.0) has another packet
                        // format and no KEXINIT.
                        let v1 = b.proto_version.starts_with("1.") && b.proto_version != "1.99";
                        side.banner = Some(b);
                        side.phase = if v1 { Phase::Done } else { Phase::Packets };
                    }
                    Ok((None, used)) => {
                        off += used;
                        side.lines += 1;
                        if side.lines > MAX_PRE_BANNER_LINES {
                            break Err(ParseError::Limit {
                                what: "ssh lines before banner",
                            });
                        }
                    }
                    Err(e) => break Err(e),
                },
                Phase::Packets => match parse_packet(rest) {
                    Ok((MSG_KEXINIT, payload, used)) => {
                        match parse_kexinit(payload) {
                            Ok(k) => side.kexinit = Some(k),
                            Err(_) => stats.malformed += 1,
                        }
                        side.phase = Phase::Kex;
                        off += used;
                    }
                    Ok((_, _, used)) => off += used,
                    Err(e) => break Err(e),
                },
                Phase::Kex => match parse_packet(rest) {
                    Ok((MSG_NEWKEYS, _, _)) => {
                        side.newkeys = true;
                        side.phase = Phase::Done;
                    }
                    Ok((_, _, used)) => off += used,
                    Err(e) => break Err(e),
                },
                Phase::Done => break Ok(()),
            }
        };
        side.buf.drain(..off.min(side.buf.len()));
        if side.phase == Phase::Done {
            side.buf = Vec::new();
        }
        match r {
            Err(ParseError::Incomplete { .. }) if side.buf.len() <= MAX_BUFFER => Ok(()),
            Err(ParseError::Incomplete { .. }) => Err(ParseError::Limit { what: "ssh buffer" }),
            other => other,
        }
    }
}

impl AppParser for SshParser {
    fn app_proto(&self) -> &'static str {
        "ssh"
    }

    fn feed(&mut self, direction: Direction, data: &[u8], out: &mut Vec<AppEvent>) {
        let side = &mut self.sides[idx(direction)];
        if side.phase == Phase::Done {
            return;
        }
        side.buf.extend_from_slice(data);
        if Self::step(side, &mut self.stats).is_err() {
            self.stats.malformed += 1;
            side.phase = Phase::Done;
            side.buf = Vec::new();
        }
        if self.sides.iter().all(Side::past_kexinit) {
            self.log(out);
        }
    }

    fn gap(&mut self, direction: Direction, _len: u64) {
        let side = &mut self.sides[idx(direction)];
        self.stats.gaps += 1;
        side.phase = Phase::Done;
        side.buf = Vec::new();
    }

    fn finish(&mut self, out: &mut Vec<AppEvent>) {
        self.log(out);
    }

    fn encrypted(&self, direction: Direction) -> bool {
        self.sides[idx(direction)].newkeys
    }
}
