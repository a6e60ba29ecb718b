//! Timestamps: microseconds since the Unix epoch, stored as integers, printed as RFC 3339 UTC.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::Offset;

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
    /// `2027-01-31 12:00:00.5+02:00`. A date alone is midnight UTC; a time without an offset is UTC. Parsing is
    /// `jiff`'s (its Temporal/RFC 3339 grammar); a time zone annotation (`[Europe/Paris]`) is refused, since the
    /// catalog keeps no time zone database.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError(lanyard_core::printable(text, 64));
        let pieces = Pieces::parse(text.trim()).map_err(|_| bad())?;
        if pieces.time_zone_annotation().is_some() {
            return Err(bad());
        }
        let time = pieces.time().unwrap_or(jiff::civil::Time::midnight());
        let offset = match pieces.offset() {
            None | Some(PiecesOffset::Zulu) => Offset::UTC,
            Some(PiecesOffset::Numeric(numeric)) => numeric.offset(),
            Some(_) => return Err(bad()),
        };
        let instant = offset.to_timestamp(pieces.date().to_datetime(time)).map_err(|_| bad())?;
        Ok(Self(instant.as_microsecond()))
    }
}

/// A timestamp that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected ISO 8601, such as 2027-01-31 or 2027-01-31T12:00:00Z")]
pub struct TimestampError(String);

/// `2026-11-20T22:40:03.468648Z`: always six fractional digits. An instant outside years -9999..=9999 (which
/// [`Timestamp::parse`] never produces) prints as its microsecond count.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_microsecond(self.0) {
            Ok(instant) => write!(f, "{instant:.6}"),
            Err(_) => write!(f, "{}us since 1970-01-01T00:00:00Z", self.0),
        }
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
        assert_eq!(Timestamp::from_micros(-1).to_string(), "1969-12-31T23:59:59.999999Z");
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
            "2027-01-31T12:00[Europe/Paris]",
        ] {
            let error = Timestamp::parse(bad).unwrap_err().to_string();
            assert!(error.starts_with("invalid timestamp"), "{bad}: {error}");
        }
    }
}
