//! Pre-decoding: split a raw log line into its syslog-style header (timestamp, hostname,
//! program name) and the message that decoders and rules look at.
//!
//! The recognised header shapes and the exact way the hostname and program name are cut out
//! follow OSSEC's behaviour, because decoders select on `program_name` and rules match the
//! message without its header: any difference here changes verdicts. Every recognised shape
//! is keyed on fixed ASCII positions, so slicing at those positions never splits a UTF-8
//! character; where a position is not checked, [`boundary`] guards the slice.

/// The result of pre-decoding one line. All slices borrow from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreDecoded<'a> {
    /// The whole line as received.
    pub full_log: &'a str,
    /// The header timestamp text, when one was recognised.
    pub timestamp: Option<&'a str>,
    /// The hostname from the header, if any.
    pub hostname: Option<&'a str>,
    /// The program name from the header, if any.
    pub program_name: Option<&'a str>,
    /// The message after the header.
    pub log: &'a str,
}

/// OSSEC's "hostname character" class: letters, digits and `( ) - . / @ _`.
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'(' | b')' | b'-' | b'.' | b'/' | b'@' | b'_')
}

fn boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

// Fixed (position, byte) marks of the header shapes that carry no hostname or program.
const XFERLOG: &[(usize, u8)] = &[
    (3, b' '),
    (7, b' '),
    (10, b' '),
    (13, b':'),
    (16, b':'),
    (19, b' '),
    (24, b' '),
    (26, b' '),
];
const SNORT: &[(usize, u8)] = &[
    (2, b'/'),
    (5, b'-'),
    (8, b':'),
    (11, b':'),
    (14, b'.'),
    (21, b' '),
];
const SURICATA: &[(usize, u8)] = &[
    (2, b'/'),
    (5, b'/'),
    (10, b'-'),
    (13, b':'),
    (16, b':'),
    (19, b'.'),
    (26, b' '),
];
const BRACKETED: &[(usize, u8)] = &[
    (0, b'['),
    (4, b' '),
    (8, b' '),
    (11, b' '),
    (14, b':'),
    (17, b':'),
    (20, b' '),
    (25, b']'),
];
const OSX_ASL: &[(usize, u8)] = &[
    (0, b'['),
    (1, b'T'),
    (5, b' '),
    (10, b'.'),
    (13, b'.'),
    (16, b' '),
    (19, b':'),
];

/// A leading syslog priority, `<0>` to `<191>`, as `qubes.Log` and raw syslog senders
/// prefix it; returns the rest of the line.
fn strip_priority(line: &str) -> &str {
    let b = line.as_bytes();
    if b.first() != Some(&b'<') {
        return line;
    }
    let digits = b[1..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if (1..=3).contains(&digits) && b.get(1 + digits) == Some(&b'>') {
        if let Ok(pri) = line[1..1 + digits].parse::<u16>() {
            if pri <= 191 {
                return &line[2 + digits..];
            }
        }
    }
    line
}

/// Pre-decode one line. A leading `<PRI>` is dropped first (picket's extension: OSSEC
/// leaves it in the message).
pub fn predecode(line: &str) -> PreDecoded<'_> {
    let line = strip_priority(line);
    let b = line.as_bytes();
    let at = |i: usize| -> u8 { b.get(i).copied().unwrap_or(0) };
    let len = b.len();
    let digit = |i: usize| at(i).is_ascii_digit();
    let mut out = PreDecoded {
        full_log: line,
        timestamp: None,
        hostname: None,
        program_name: None,
        log: line,
    };

    // Shapes followed by "hostname program[pid]: message".
    let syslog_offset = if len >= 17
        && at(3) == b' '
        && at(6) == b' '
        && at(9) == b':'
        && at(12) == b':'
        && at(15) == b' '
    {
        Some(16) // Dec 29 10:00:01
    } else if len >= 24
        && at(4) == b'-'
        && at(7) == b'-'
        && at(10) == b' '
        && at(13) == b':'
        && at(16) == b':'
        && at(19) == b','
    {
        Some(23) // 2015-04-16 21:51:02,805
    } else if len >= 33
        && at(4) == b'-'
        && at(7) == b'-'
        && at(10) == b'T'
        && at(13) == b':'
        && at(16) == b':'
        && ((at(22) == b':' && at(25) == b' ') || at(19) == b'.')
    {
        if at(22) == b':' && at(25) == b' ' {
            Some(26) // 2007-06-14T15:48:55-04:00
        } else if at(19) == b'.' && at(29) == b':' {
            Some(33) // 2009-05-22T09:36:46.214994-07:00
        } else if at(19) == b'.' {
            Some(32)
        } else {
            None
        }
    } else if len >= 21
        && digit(0)
        && at(4) == b' '
        && at(8) == b' '
        && at(11) == b' '
        && at(14) == b':'
        && at(17) == b':'
        && at(20) == b' '
    {
        Some(21) // 2015 Dec 29 10:00:01
    } else if len >= 33
        && digit(0)
        && at(4) == b'-'
        && at(7) == b'-'
        && at(10) == b' '
        && at(13) == b':'
        && at(16) == b':'
        && at(19) == b'.'
        && matches!(at(26), b'-' | b'+')
        && at(31) == b' '
    {
        Some(32) // 2021-04-21 10:16:09.404756-0700
    } else if len >= 23
        && at(3) == b' '
        && at(6) == b' '
        && at(9) == b':'
        && at(12) == b':'
        && at(15) == b'.'
        && (16..22).all(digit)
        && at(22) == b' '
    {
        // journalctl -o short-precise: Nov 27 10:00:01.123456 (picket's extension)
        Some(23)
    } else {
        None
    };

    if let Some(offset) = syslog_offset {
        let offset = boundary(line, offset);
        out.timestamp = Some(&line[..offset.saturating_sub(1)]);
        let mut pos = offset;
        if at(pos) == b' ' {
            pos += 1;
        }
        out.log = &line[pos..];
        let host_start = pos;
        while is_name_char(at(pos)) {
            pos += 1;
        }
        if at(pos) == b':' && at(pos + 1) == b' ' {
            // No hostname (Solaris style): the first word is the program.
            out.program_name = Some(&line[host_start..pos]);
            out.log = &line[pos + 2..];
        } else if at(pos) == b' ' {
            out.hostname = Some(&line[host_start..pos]);
            pos += 1;
            out.log = &line[pos..];
            let prog_start = pos;
            while is_name_char(at(pos)) {
                pos += 1;
            }
            let prog_end = pos;
            let mut message_start: Option<usize> = None;
            match at(pos) {
                b':' => {
                    pos += 1;
                    if at(pos) == b' ' {
                        pos += 1;
                    }
                    message_start = Some(pos);
                }
                b'[' if digit(pos + 1) => {
                    pos += 2;
                    while digit(pos) {
                        pos += 1;
                    }
                    if at(pos) == b']' && at(pos + 1) == b':' {
                        pos += 2;
                        if at(pos) == b' ' {
                            pos += 1;
                        }
                        message_start = Some(pos);
                    } else if at(pos) == b']' && at(pos + 1) == b' ' {
                        message_start = Some(pos + 2);
                    }
                }
                b'|' if at(pos + 1).is_ascii_lowercase() => {
                    // "auth|security:info program: message"
                    pos += 2;
                    while at(pos).is_ascii_alphanumeric() {
                        pos += 1;
                    }
                    if at(pos) == b':' {
                        pos += 1;
                        while at(pos).is_ascii_alphanumeric() {
                            pos += 1;
                        }
                        if at(pos) == b' ' {
                            pos += 1;
                            let real_start = pos;
                            while is_name_char(at(pos)) {
                                pos += 1;
                            }
                            let real_end = pos;
                            if at(pos) == b':' && at(pos + 1) == b' ' {
                                out.program_name = Some(&line[real_start..real_end]);
                                message_start = Some(pos + 2);
                            } else if at(pos) == b'[' && digit(pos + 1) {
                                pos += 2;
                                while digit(pos) {
                                    pos += 1;
                                }
                                out.program_name = Some(&line[real_start..real_end]);
                                if at(pos) == b']' && at(pos + 1) == b':' && at(pos + 2) == b' ' {
                                    message_start = Some(pos + 3);
                                }
                            } else {
                                out.program_name = Some(&line[real_start..real_end]);
                                message_start = Some(pos);
                            }
                        }
                    }
                }
                _ => {}
            }
            if out.program_name.is_none() && message_start.is_some() {
                out.program_name = Some(&line[prog_start..prog_end]);
            }
            if let Some(start) = message_start {
                let start = boundary(line, start);
                let mut message = &line[start..];
                // Solaris "[ID 702911 auth.notice]" tags precede the real message.
                if let Some(rest) = message.strip_prefix("[ID ") {
                    if let Some(close) = rest.find(']') {
                        let skip = boundary(rest, close + 2);
                        message = &rest[skip..];
                    }
                }
                out.log = message;
            }
        }
        // Otherwise the "hostname" was not followed by a space: no hostname, and the message
        // starts after the timestamp.
        return out;
    }

    let has = |min_len: usize, marks: &[(usize, u8)]| {
        len >= min_len && marks.iter().all(|&(i, c)| at(i) == c)
    };
    if has(28, XFERLOG) {
        // xferlog: Mon Apr 17 18:27:14 2006 1 64.160.42.130
        out.timestamp = Some(&line[..24]);
        out.log = &line[25..];
    } else if has(24, SNORT) {
        // snort: 01/28-09:13:16.240702  [**]
        out.timestamp = Some(&line[..21]);
        out.log = &line[boundary(line, 23)..];
    } else if has(27, SURICATA) {
        // suricata: 01/28/1979-09:13:16.240702  [**]
        out.timestamp = Some(&line[..26]);
        out.log = &line[boundary(line, 28)..];
    } else if has(27, BRACKETED) {
        // [Fri Dec 13 06:59:54 2013] message
        out.timestamp = Some(&line[1..25]);
        out.log = &line[boundary(line, 27)..];
    } else if has(26, OSX_ASL) {
        osx_asl(line, &mut out);
    } else if len >= 32
        && at(0) == b'1'
        && digit(1)
        && digit(2)
        && digit(3)
        && at(10) == b'.'
        && digit(13)
        && at(14) == b' '
        && (at(21) == b' ' || at(22) == b' ')
    {
        // squid: 1140804070.368  11623 ...
        out.timestamp = Some(&line[..14]);
        let mut pos = 14;
        while at(pos) == b' ' {
            pos += 1;
        }
        out.log = &line[pos..];
    }
    out
}

/// macOS ASL: `[Time ...] [Facility auth] [Sender sshd] [PID 483] [Message ...] [Host h]`.
fn osx_asl<'a>(line: &'a str, out: &mut PreDecoded<'a>) {
    out.log = &line[25..];
    let mut rest = &line[25..];
    let mut done_message = false;
    while let Some(open) = rest.find('[') {
        let field = &rest[open + 1..];
        let close = field.find(']');
        if let Some(value) = field.strip_prefix("Sender ") {
            if out.program_name.is_none() {
                match value.find(']') {
                    Some(end) => out.program_name = Some(&value[..end]),
                    None => break,
                }
            }
        } else if let Some(value) = field.strip_prefix("Message ") {
            if !done_message {
                done_message = true;
                match value.find(']') {
                    Some(end) => out.log = &value[..end],
                    None => {
                        out.log = value;
                        break;
                    }
                }
            }
        } else if let Some(value) = field.strip_prefix("Host ") {
            if let Some(end) = value.find(']') {
                out.hostname = Some(&value[..end]);
            }
            break;
        }
        match close {
            Some(end) => rest = &field[end + 1..],
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_syslog_with_pid() {
        let p = predecode("Dec 29 10:00:01 myhost sshd[1234]: Failed password for root");
        assert_eq!(p.hostname, Some("myhost"));
        assert_eq!(p.program_name, Some("sshd"));
        assert_eq!(p.log, "Failed password for root");
        assert_eq!(p.timestamp, Some("Dec 29 10:00:01"));
    }

    #[test]
    fn program_without_pid_and_without_space_after_colon() {
        let p = predecode("Dec 29 10:00:01 myhost su:pam_unix: x");
        assert_eq!(p.program_name, Some("su"));
        assert_eq!(p.log, "pam_unix: x");
    }

    #[test]
    fn iso_timestamps() {
        let p = predecode("2009-05-22T09:36:46.214994-07:00 hostname sudo: message here");
        assert_eq!(p.hostname, Some("hostname"));
        assert_eq!(p.program_name, Some("sudo"));
        assert_eq!(p.log, "message here");
        let p = predecode("2007-06-14T15:48:55-04:00 hostname kernel: hi");
        assert_eq!(p.program_name, Some("kernel"));
    }

    #[test]
    fn solaris_without_hostname_and_id_tag() {
        let p = predecode("Dec 29 10:00:01 sshd: [ID 800047 auth.info] Accepted");
        assert_eq!(p.program_name, Some("sshd"));
        assert_eq!(p.hostname, None);
        let p = predecode("Dec 29 10:00:01 host sshd[12]: [ID 800047 auth.info] Accepted x");
        assert_eq!(p.log, "Accepted x");
    }

    #[test]
    fn no_program_name_keeps_message_after_hostname() {
        let p = predecode("Dec 29 10:00:01 host some message without a tag");
        assert_eq!(p.hostname, Some("host"));
        assert_eq!(p.program_name, None);
        assert_eq!(p.log, "some message without a tag");
    }

    #[test]
    fn journald_formats_and_priority_prefix() {
        // `short-iso` stays unparsed on purpose: dnf.rpm.log lines have the same shape
        // ("2026-11-27T10:14:00+0000 SUBDEBUG Installed: ...") and no hostname.
        let p = predecode("2026-11-27T10:00:01+0000 SUBDEBUG Installed: x");
        assert_eq!(p.log, p.full_log);
        let p = predecode("Nov 27 10:00:01.123456 work sudo[7]: x");
        assert_eq!(
            (p.hostname, p.program_name, p.log),
            (Some("work"), Some("sudo"), "x")
        );
        let p = predecode("<38>Nov 27 10:00:01 work su: y");
        assert_eq!((p.program_name, p.log), (Some("su"), "y"));
        assert_eq!(predecode("<999>x").log, "<999>x", "not a priority");
        assert_eq!(predecode("<error> x").log, "<error> x");
    }

    #[test]
    fn unrecognised_lines_pass_through() {
        let p = predecode("[error] [client 1.2.3.4] File does not exist: /x");
        assert_eq!(p.log, p.full_log);
        assert_eq!(p.program_name, None);
    }

    #[test]
    fn osx_asl_fields() {
        let p = predecode("[Time 2006.12.28 15:53:55 UTC] [Facility auth] [Sender sshd] [PID 483] [Message error: PAM: failure] [Level 3] [Host emac]");
        assert_eq!(p.program_name, Some("sshd"));
        assert_eq!(p.log, "error: PAM: failure");
        assert_eq!(p.hostname, Some("emac"));
    }

    #[test]
    fn never_panics_on_multibyte_text_near_offsets() {
        for line in [
            "Dec 29 10:00:01 héé ßß[1]: é",
            "2009-05-22T09:36:46.2éééé4-07:00 h p: m",
            "1234567890.é",
            "Dec 29 10:00:01 h p[1]: [ID é",
            "é",
        ] {
            let _ = predecode(line);
        }
    }
}
