//! Zeek-style connection summary: each endpoint's TCP state, the `conn_state` code derived
//! from the pair, and the `history` string.
//!
//! The endpoint state machine follows the transitions Zeek's TCP analyzer makes, so that
//! `conn_state` means what analysts used to Zeek expect. History letters are upper case
//! for the originator and lower case for the responder:
//!
//! | letter | meaning |
//! |---|---|
//! | `S` | SYN without ACK |
//! | `H` | SYN-ACK |
//! | `A` | pure ACK |
//! | `D` | packet with payload |
//! | `F` | FIN |
//! | `R` | RST |
//! | `G` | content gap |
//! | `T` | retransmitted payload |
//! | `W` | zero window advertised |
//! | `Q` | SYN together with FIN or RST |
//! | `^` | the roles were flipped (the first packet seen was a SYN-ACK) |
//!
//! Most letters are recorded once per direction; `G`, `T` and `W` again each time their
//! count reaches 10, 100, 1000..., as Zeek does.

use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

/// One endpoint's TCP state, as Zeek names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    /// Seen mid-stream, without its SYN.
    Partial,
    Established,
    Closed,
    Reset,
}

/// Index of the originator in two-element per-direction arrays.
pub const ORIG: usize = 0;
/// Index of the responder.
pub const RESP: usize = 1;

/// What a flow has seen, in Zeek's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnSummary {
    pub state: [EndpointState; 2],
    /// Payload bytes per direction.
    pub size: [u64; 2],
    pub history: String,
    /// Letters recorded once, as a bit per (letter, direction).
    once: u32,
    /// Counts of the repeatable letters G, T, W per direction.
    repeats: [[u32; 3]; 2],
    /// Any packet seen per direction (for UDP and other protocols).
    active: [bool; 2],
    /// The responder sent its SYN-ACK and the originator has not acknowledged it yet.
    handshake_pending: bool,
    /// [`Self::detect_established`] as it was before the latest TCP packet.
    established_before: bool,
}

const ONCE_LETTERS: &[u8] = b"SHADFRQ^";
const REPEAT_LETTERS: &[u8] = b"GTW";

impl ConnSummary {
    fn letter(&mut self, dir: usize, letter: u8) {
        let ch = if dir == ORIG {
            letter
        } else {
            letter.to_ascii_lowercase()
        };
        if let Some(i) = REPEAT_LETTERS.iter().position(|l| *l == letter) {
            let count = &mut self.repeats[dir][i];
            *count += 1;
            // Record at 1, 10, 100, ...
            let mut threshold = 1u32;
            while threshold < *count {
                threshold = threshold.saturating_mul(10);
            }
            if threshold == *count {
                self.history.push(char::from(ch));
            }
            return;
        }
        let Some(i) = ONCE_LETTERS.iter().position(|l| *l == letter) else {
            return;
        };
        let bit = 1u32 << (i * 2 + dir);
        if self.once & bit == 0 {
            self.once |= bit;
            self.history.push(char::from(ch));
        }
    }

    /// The roles were flipped before any letter was recorded.
    pub fn flipped(&mut self) {
        self.letter(ORIG, b'^');
    }

    /// A content gap in direction `dir`.
    pub fn gap(&mut self, dir: usize) {
        self.letter(dir, b'G');
    }

    /// A non-TCP packet in direction `dir`.
    pub fn other_packet(&mut self, dir: usize, payload_len: usize) {
        self.active[dir] = true;
        self.size[dir] += payload_len as u64;
        if payload_len > 0 {
            self.letter(dir, b'D');
        }
    }

    /// A TCP segment from `dir`.
    pub fn tcp_packet(
        &mut self,
        dir: usize,
        flags: u8,
        payload_len: usize,
        window: u16,
        retransmission: bool,
    ) {
        self.established_before = self.detect_established();
        self.active[dir] = true;
        self.size[dir] += payload_len as u64;
        let (syn, ack, fin, rst) = (
            flags & SYN != 0,
            flags & ACK != 0,
            flags & FIN != 0,
            flags & RST != 0,
        );
        if syn && ack && dir == RESP {
            self.handshake_pending = true;
        } else if ack && !syn && dir == ORIG {
            self.handshake_pending = false;
        }
        if syn {
            self.letter(dir, if ack { b'H' } else { b'S' });
            if fin || rst {
                self.letter(dir, b'Q');
            }
        }
        if fin {
            self.letter(dir, b'F');
        }
        if rst {
            self.letter(dir, b'R');
        }
        if ack && !syn && !fin && !rst && payload_len == 0 {
            self.letter(dir, b'A');
        }
        if payload_len > 0 {
            self.letter(dir, b'D');
            if retransmission {
                self.letter(dir, b'T');
            }
        }
        if window == 0 && !syn && !fin && !rst {
            self.letter(dir, b'W');
        }
        self.update_state(dir, flags, payload_len);
    }

    fn update_state(&mut self, dir: usize, flags: u8, len: usize) {
        use EndpointState::*;
        let peer_dir = 1 - dir;
        let (syn, ack, fin, rst) = (
            flags & SYN != 0,
            flags & ACK != 0,
            flags & FIN != 0,
            flags & RST != 0,
        );
        let me = self.state[dir];
        let peer = self.state[peer_dir];
        match me {
            Inactive => {
                let mut next = Inactive;
                let mut peer_next = peer;
                if syn {
                    if dir == ORIG {
                        next = if ack { SynAckSent } else { SynSent };
                    } else {
                        // The responder answers: both ends count as established, even
                        // before the originator's final ACK.
                        if peer == SynSent {
                            peer_next = Established;
                        }
                        next = Established;
                    }
                }
                if fin {
                    next = Closed;
                }
                if rst {
                    next = Reset;
                }
                if next == Inactive {
                    let early_ack = dir == RESP && len == 0 && self.state[ORIG] == SynSent;
                    if early_ack {
                        // Some stacks ACK a SYN before answering it; not a partial flow.
                    } else if ack && peer == Established {
                        next = Established;
                    } else {
                        next = Partial;
                    }
                }
                self.state[dir] = next;
                self.state[peer_dir] = peer_next;
            }
            SynSent | SynAckSent => {
                if fin {
                    self.state[dir] = Closed;
                }
                if rst {
                    self.state[dir] = Reset;
                }
            }
            Established | Partial => {
                if syn && me == Partial && peer == Inactive && !ack {
                    self.state[dir] = SynSent;
                }
                if fin && !rst {
                    self.state[dir] = Closed;
                }
                if rst {
                    self.state[dir] = Reset;
                }
            }
            Closed => {
                if rst && peer != Closed {
                    self.state[dir] = Reset;
                }
            }
            Reset => {}
        }
    }

    /// Established in the sense of a rule's `flow:established`, as a stream tracker sees
    /// it: the handshake is complete (its last ACK seen, or traffic both ways without
    /// one), and no side has reset the connection nor have both closed it.
    pub fn detect_established(&self) -> bool {
        use EndpointState::*;
        let (os, rs) = (self.state[ORIG], self.state[RESP]);
        self.tcp_established()
            && !self.handshake_pending
            && os != Reset
            && rs != Reset
            && !(os == Closed && rs == Closed)
    }

    /// [`Self::detect_established`] before the latest TCP packet: the state a packet is
    /// judged in. The packet that completes the handshake is not yet part of an established
    /// session; the FIN that starts closing one still is.
    pub fn established_before_packet(&self) -> bool {
        self.established_before
    }

    /// Zeek's `conn_state` for a TCP flow.
    pub fn tcp_conn_state(&self) -> &'static str {
        use EndpointState::*;
        let (os, rs) = (self.state[ORIG], self.state[RESP]);
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent)
                || (os == Reset && self.size[ORIG] == 0 && self.size[RESP] == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                "RSTOS0"
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// Zeek's `conn_state` for a UDP flow.
    pub fn udp_conn_state(&self) -> &'static str {
        match (self.active[ORIG], self.active[RESP]) {
            (true, true) => "SF",
            (true, false) => "S0",
            (false, true) => "SHR",
            (false, false) => "OTH",
        }
    }

    /// Is the TCP connection over (both sides closed, or one reset)?
    pub fn tcp_closed(&self) -> bool {
        use EndpointState::*;
        let (os, rs) = (self.state[ORIG], self.state[RESP]);
        (os == Closed && rs == Closed) || os == Reset || rs == Reset
    }

    /// Has the TCP handshake (or mid-stream traffic both ways) established the flow?
    pub fn tcp_established(&self) -> bool {
        use EndpointState::*;
        self.state
            .iter()
            .all(|s| !matches!(s, Inactive | SynSent | SynAckSent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::PSH;

    fn run(packets: &[(usize, u8, usize)]) -> ConnSummary {
        let mut c = ConnSummary::default();
        for &(dir, flags, len) in packets {
            c.tcp_packet(dir, flags, len, 1024, false);
        }
        c
    }

    #[test]
    fn full_handshake_and_close_is_sf() {
        let c = run(&[
            (ORIG, SYN, 0),
            (RESP, SYN | ACK, 0),
            (ORIG, ACK, 0),
            (ORIG, PSH | ACK, 100),
            (RESP, ACK, 0),
            (RESP, PSH | ACK, 200),
            (ORIG, FIN | ACK, 0),
            (RESP, FIN | ACK, 0),
            (ORIG, ACK, 0),
        ]);
        assert_eq!(c.tcp_conn_state(), "SF");
        assert_eq!(c.history, "ShADadFf");
    }

    #[test]
    fn reset_answer_to_syn_is_rej() {
        let c = run(&[(ORIG, SYN, 0), (RESP, RST | ACK, 0)]);
        assert_eq!(c.tcp_conn_state(), "REJ");
        assert_eq!(c.history, "Sr");
    }

    #[test]
    fn unanswered_syn_is_s0_and_half_open_is_s1() {
        assert_eq!(
            run(&[(ORIG, SYN, 0), (ORIG, SYN, 0)]).tcp_conn_state(),
            "S0"
        );
        let half_open = run(&[(ORIG, SYN, 0), (RESP, SYN | ACK, 0)]);
        assert_eq!(half_open.tcp_conn_state(), "S1");
        assert_eq!(half_open.history, "Sh");
    }

    #[test]
    fn resets_and_half_closes() {
        // A SYN scan of an open port: the scanner resets after the SYN-ACK.
        assert_eq!(
            run(&[(ORIG, SYN, 0), (RESP, SYN | ACK, 0), (ORIG, RST, 0)]).tcp_conn_state(),
            "RSTO"
        );
        assert_eq!(
            run(&[(ORIG, SYN, 0), (ORIG, RST, 0)]).tcp_conn_state(),
            "RSTOS0"
        );
        assert_eq!(
            run(&[(RESP, SYN | ACK, 0), (RESP, RST, 0)]).tcp_conn_state(),
            "RSTRH"
        );
        assert_eq!(
            run(&[(ORIG, SYN, 0), (ORIG, FIN, 0)]).tcp_conn_state(),
            "SH"
        );
        assert_eq!(
            run(&[(RESP, SYN | ACK, 0), (RESP, FIN, 0)]).tcp_conn_state(),
            "SHR"
        );
        let established = [(ORIG, SYN, 0), (RESP, SYN | ACK, 0), (ORIG, ACK, 0)];
        let mut s2 = established.to_vec();
        s2.push((ORIG, FIN | ACK, 0));
        assert_eq!(run(&s2).tcp_conn_state(), "S2");
        let mut s3 = established.to_vec();
        s3.push((RESP, FIN | ACK, 0));
        assert_eq!(run(&s3).tcp_conn_state(), "S3");
        let mut rstr = established.to_vec();
        rstr.push((ORIG, ACK | PSH, 10));
        rstr.push((RESP, RST, 0));
        assert_eq!(run(&rstr).tcp_conn_state(), "RSTR");
    }

    #[test]
    fn detection_sees_the_state_before_each_packet() {
        let mut c = ConnSummary::default();
        let mut seen = Vec::new();
        for (dir, flags) in [
            (ORIG, SYN),
            (RESP, SYN | ACK),
            (ORIG, ACK),
            (ORIG, ACK | PSH),
            (ORIG, FIN | ACK),
            (RESP, FIN | ACK),
            (ORIG, ACK),
        ] {
            c.tcp_packet(dir, flags, 0, 1024, false);
            seen.push(c.established_before_packet());
        }
        // The handshake's last ACK is not yet established, the first FIN still is, and
        // once both sides closed nothing is.
        assert_eq!(seen, [false, false, false, true, true, true, false]);
        // Without a handshake, a reset ends what mid-stream traffic established.
        let mut c = ConnSummary::default();
        let mut seen = Vec::new();
        for (dir, flags) in [(ORIG, ACK | PSH), (RESP, RST), (ORIG, ACK | PSH)] {
            c.tcp_packet(dir, flags, 6, 1024, false);
            seen.push(c.established_before_packet());
        }
        assert_eq!(seen, [false, false, false]);
    }

    #[test]
    fn midstream_traffic_is_oth() {
        let c = run(&[(ORIG, ACK | PSH, 10), (RESP, ACK, 0)]);
        assert_eq!(c.tcp_conn_state(), "OTH");
        assert_eq!(c.history, "Da");
    }

    #[test]
    fn repeated_letters_are_logged_on_a_log_scale() {
        let mut c = ConnSummary::default();
        for _ in 0..100 {
            c.tcp_packet(ORIG, ACK, 10, 1024, true);
        }
        assert_eq!(c.history, "DTTT");
    }

    #[test]
    fn udp_states() {
        let mut c = ConnSummary::default();
        c.other_packet(ORIG, 10);
        assert_eq!(c.udp_conn_state(), "S0");
        c.other_packet(RESP, 10);
        assert_eq!(c.udp_conn_state(), "SF");
    }
}
