//! The few DNS wire operations the guard needs beyond parsing: finding the end of the
//! question, answering locally, and swapping message ids.

/// RCODE values the guard answers with.
pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
}

pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;

/// Offset just past the first question (name, type, class), or `None` if it runs past the
/// message. Only the first name is walked; a pointer ends it, as in any name.
pub fn question_end(msg: &[u8]) -> Option<usize> {
    let mut pos = 12usize;
    // 128 labels of one byte each already exceed the 255-byte wire limit.
    for _ in 0..128 {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                pos += 1;
                return (pos + 4 <= msg.len()).then_some(pos + 4);
            }
            0x00 => pos += 1 + usize::from(len),
            0xc0 => {
                pos += 2;
                return (pos + 4 <= msg.len()).then_some(pos + 4);
            }
            _ => return None,
        }
    }
    None
}

/// A locally built answer to `query` (at least a 12-byte header): same id and opcode, RD
/// copied, RA set, the first question echoed when `question_end` is known, and at most one
/// answer record for the question's name.
pub fn reply(
    query: &[u8],
    question_end: Option<usize>,
    rcode: u8,
    answer: Option<(u16, u32, &[u8])>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(question_end.unwrap_or(12) + 32);
    let id = [
        query.first().copied().unwrap_or(0),
        query.get(1).copied().unwrap_or(0),
    ];
    let flags_in = u16::from_be_bytes([
        query.get(2).copied().unwrap_or(0),
        query.get(3).copied().unwrap_or(0),
    ]);
    // QR, opcode copied, RD copied, RA.
    let flags =
        0x8000 | (flags_in & 0x7800) | (flags_in & 0x0100) | 0x0080 | u16::from(rcode & 0x0f);
    out.extend_from_slice(&id);
    out.extend_from_slice(&flags.to_be_bytes());
    let (qd, question) = match question_end {
        Some(end) if end <= query.len() => (1u16, &query[12..end]),
        _ => (0, &[][..]),
    };
    let an = u16::from(answer.is_some() && qd == 1);
    for count in [qd, an, 0, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out.extend_from_slice(question);
    if let (Some((rrtype, ttl, rdata)), 1) = (answer, an) {
        // A pointer to the question's name at offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&rrtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    out
}

/// Replace the message id (the first two bytes).
pub fn set_id(msg: &mut [u8], id: u16) {
    if let Some(head) = msg.get_mut(..2) {
        head.copy_from_slice(&id.to_be_bytes());
    }
}

/// The message id, if there is a header.
pub fn id(msg: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.first()?, *msg.get(1)?]))
}

/// A minimal query for `name` (for the benchmark and tests): RD set, one question.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 18);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() {
            continue;
        }
        let bytes = &label.as_bytes()[..label.len().min(63)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}
