//! Timestamps as microseconds since the Unix epoch, written the way EVE writes them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z, in UTC.
///
/// Engines work on event time, never on the wall clock, so replaying a capture or a log gives
/// the same results every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000))
    }
    pub const fn as_micros(self) -> i64 {
        self.0
    }
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
    /// The wall clock now. Only sources call this; engines take time from events.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }

    /// (year, month, day, hour, minute, second, weekday with 0 = Sunday) in UTC.
    pub fn civil(self) -> Civil {
        let secs = self.as_secs();
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// Build from a UTC civil date and time; out-of-range parts are not checked beyond
    /// arithmetic, which is what log-timestamp parsing needs.
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Self {
        let days = days_from_civil(year, month, day);
        Timestamp::from_secs(
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second),
        )
    }
}

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

// Howard Hinnant's days-from-civil algorithm, written out from its published description.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Timestamp {
    /// The EVE text of a timestamp in years 0 to 9999 (every real one), built without the
    /// formatting machinery: sinks write it once or more per record.
    fn eve_bytes(self) -> Option<[u8; 31]> {
        let c = self.civil();
        if !(0..=9999).contains(&c.year) {
            return None;
        }
        let mut buf = *b"0000-00-00T00:00:00.000000+0000";
        let mut put = |at: usize, width: usize, mut value: u64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, c.year as u64);
        put(5, 2, u64::from(c.month));
        put(8, 2, u64::from(c.day));
        put(11, 2, u64::from(c.hour));
        put(14, 2, u64::from(c.minute));
        put(17, 2, u64::from(c.second));
        put(20, 6, self.0.rem_euclid(1_000_000) as u64);
        Some(buf)
    }

    /// Appends the EVE text (as [`fmt::Display`] writes it, without quotes) to `out`.
    pub fn write_eve_text(self, out: &mut Vec<u8>) {
        match self.eve_bytes() {
            Some(buf) => out.extend_from_slice(&buf),
            None => out.extend_from_slice(self.to_string().as_bytes()),
        }
    }
}

impl fmt::Display for Timestamp {
    /// EVE's form: `2023-11-14T22:13:20.123456+0000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(buf) = self.eve_bytes() {
            // Only ASCII digits and punctuation were written.
            return f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?);
        }
        let c = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            self.0.rem_euclid(1_000_000)
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor rather than `String::deserialize`: the text is borrowed, not copied,
        // when the input allows it (the manager parses one per record it receives).
        struct TextVisitor;
        impl serde::de::Visitor<'_> for TextVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an EVE timestamp")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
                parse_eve(text).ok_or_else(|| E::custom(format!("bad EVE timestamp {text:?}")))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.ffffff](+|-)HHMM`.
fn parse_eve(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = text.get(from..from + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut pos = 19;
    let mut micros = 0i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        // Microseconds: the first six digits, padded with zeros on the right.
        let mut scale = 100_000;
        for &digit in b[start..pos].iter().take(6) {
            micros += i64::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    let mut offset_secs = 0i64;
    match b.get(pos) {
        Some(b'+') | Some(b'-') => {
            let sign = if b[pos] == b'-' { -1 } else { 1 };
            // HHMM or HH:MM: the first four digits, colons skipped.
            let mut digits = b[pos + 1..].iter().filter(|&&c| c != b':');
            let mut next = || -> Option<i64> {
                let c = *digits.next()?;
                c.is_ascii_digit().then(|| i64::from(c - b'0'))
            };
            let hh = next()? * 10 + next()?;
            let mm = next()? * 10 + next()?;
            offset_secs = sign * (hh * 3600 + mm * 60);
        }
        Some(b'Z') | None => {}
        _ => return None,
    }
    let base = Timestamp::from_civil(
        year,
        month as u32,
        day as u32,
        hour as u32,
        minute as u32,
        second as u32,
    );
    Some(Timestamp::from_micros(
        base.as_micros() - offset_secs * 1_000_000 + micros,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_across_leap_years() {
        for &(y, m, d) in &[(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2100, 3, 1)] {
            let ts = Timestamp::from_civil(y, m, d, 13, 14, 15);
            let c = ts.civil();
            assert_eq!(
                (c.year, c.month, c.day, c.hour, c.minute, c.second),
                (y, m, d, 13, 14, 15)
            );
        }
        assert_eq!(
            Timestamp::from_secs(0).civil().weekday,
            4,
            "1970-01-01 was a Thursday"
        );
    }

    #[test]
    fn display_pads_every_field_and_handles_far_years() {
        assert_eq!(
            Timestamp::from_micros(0).to_string(),
            "1970-01-01T00:00:00.000000+0000"
        );
        assert_eq!(
            Timestamp::from_civil(2024, 2, 29, 3, 4, 5).to_string(),
            "2024-02-29T03:04:05.000000+0000"
        );
        assert_eq!(
            Timestamp::from_micros(-1).to_string(),
            "1969-12-31T23:59:59.999999+0000"
        );
        let far = Timestamp::from_civil(12_000, 1, 1, 0, 0, 0).to_string();
        assert!(far.starts_with("12000-01-01T"), "{far}");
    }

    #[test]
    fn eve_text_round_trips_and_honours_offsets() {
        let ts = Timestamp::from_micros(1_700_000_000_123_456);
        let text = ts.to_string();
        assert_eq!(parse_eve(&text), Some(ts));
        assert_eq!(
            parse_eve("2023-11-14T23:13:20.123456+0100"),
            Some(ts),
            "an offset moves the instant back to UTC"
        );
        assert_eq!(parse_eve("not a time"), None);
        assert_eq!(
            parse_eve("2023-11-14T22:13:20.12-01:30"),
            Some(Timestamp::from_micros(
                1_700_000_000_120_000 + 5_400_000_000
            )),
            "short fractions pad on the right; HH:MM offsets"
        );
        assert_eq!(
            parse_eve("2023-11-14T22:13:20.1234567Z"),
            Some(Timestamp::from_micros(1_700_000_000_123_456)),
            "digits past the sixth are dropped"
        );
        assert_eq!(parse_eve("2023-11-14T22:13:20+01"), None);
        assert_eq!(parse_eve("2023-11-14T22:13:20+0x00"), None);
    }
}
