//! Timestamps: microseconds since the Unix epoch, stored as integers, printed as RFC 3339 UTC.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time with microsecond precision (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }
}

impl Timestamp {
    /// Parses an RFC 3339 / ISO 8601 timestamp: `2027-01-31`, `2027-01-31T12:00:00Z`,
    /// `2027-01-31 12:00:00.5+02:00`. A date alone is midnight UTC; a time without an offset is UTC.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError(lanyard_core::printable(text, 64));
        let text = text.trim();
        let cut = text.len().min(10);
        if !text.is_char_boundary(cut) {
            return Err(bad());
        }
        let (date, rest) = text.split_at(cut);
        let mut parts = date.splitn(3, '-');
        let mut field = |max: i64| -> Result<i64, TimestampError> {
            let p = parts.next().ok_or_else(bad)?;
            let v: i64 = p.parse().map_err(|_| bad())?;
            if !p.bytes().all(|b| b.is_ascii_digit()) || v > max { Err(bad()) } else { Ok(v) }
        };
        let (year, month, day) = (field(9999)?, field(12)?, field(31)?);
        if date.len() != 10 || month == 0 || day == 0 || day > days_in_month(year, month) {
            return Err(bad());
        }
        let mut micros = days_from_civil(year, month, day) * 86_400_000_000;
        if rest.is_empty() {
            return Ok(Self(micros));
        }
        let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
        let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
        let hms: Vec<&str> = hms.split(':').collect();
        let number = |p: &str, max: i64| -> Result<i64, TimestampError> {
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let v: i64 = p.parse().map_err(|_| bad())?;
            if v > max { Err(bad()) } else { Ok(v) }
        };
        let (h, m, s) = match hms.as_slice() {
            [h, m] => (number(h, 23)?, number(m, 59)?, 0),
            [h, m, s] => (number(h, 23)?, number(m, 59)?, number(s, 60)?),
            _ => return Err(bad()),
        };
        if !fraction.bytes().all(|b| b.is_ascii_digit()) || (clock.contains('.') && fraction.is_empty()) {
            return Err(bad());
        }
        let frac: String = fraction.chars().chain(std::iter::repeat('0')).take(6).collect();
        micros += (h * 3600 + m * 60 + s) * 1_000_000 + frac.parse::<i64>().map_err(|_| bad())?;
        match offset {
            "" | "Z" | "z" => {}
            _ => {
                let sign = if offset.starts_with('-') { -1 } else { 1 };
                let (oh, om) = offset[1..].split_once(':').ok_or_else(bad)?;
                micros -= sign * (number(oh, 23)? * 3600 + number(om, 59)? * 60) * 1_000_000;
            }
        }
        Ok(Self(micros))
    }
}

/// A timestamp that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected ISO 8601, such as 2027-01-31 or 2027-01-31T12:00:00Z")]
pub struct TimestampError(String);

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-20T22:40:03.468648Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(f, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_rfc3339() {
        assert_eq!(Timestamp::from_micros(0).to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp::from_micros(1_795_214_403_468_648).to_string(), "2026-11-20T22:40:03.468648Z");
        assert_eq!(Timestamp::from_micros(951_782_400_000_001).to_string(), "2000-02-29T00:00:00.000001Z");
    }

    #[test]
    fn parses_iso8601() {
        let at = |s: &str| Timestamp::parse(s).map(|t| t.to_string());
        assert_eq!(at("2026-11-20T22:40:03.468648Z").unwrap(), "2026-11-20T22:40:03.468648Z");
        assert_eq!(at("2000-02-29").unwrap(), "2000-02-29T00:00:00.000000Z");
        assert_eq!(at("2027-01-31 12:00").unwrap(), "2027-01-31T12:00:00.000000Z");
        assert_eq!(at("2027-01-31T12:00:00.5+02:00").unwrap(), "2027-01-31T10:00:00.500000Z");
        assert_eq!(at("1969-12-31T23:00:00-01:00").unwrap(), "1970-01-01T00:00:00.000000Z");
        for bad in [
            "",
            "2027",
            "2027-02-30",
            "2027-13-01",
            "2027-01-31T25:00",
            "2027-01-31X",
            "tomorrow",
            "2027-1-31",
            "2027-01-3é",
            "2027-01-31Tü",
        ] {
            let error = Timestamp::parse(bad).unwrap_err().to_string();
            assert!(error.starts_with("invalid timestamp"), "{bad}: {error}");
        }
    }
}
