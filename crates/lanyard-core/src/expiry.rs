//! The expiry of vault entries: advisory (shown, warned about, never enforced). One place says when a write warns
//! about it ([`EXPIRY_WARNING_DAYS`]), how it reads ([`expiry_phrase`]: "expires in 3 days", "expired 2 days ago")
//! and the stable codes of the warnings ([`WarningCode`]), so the Control Plane's warnings and the client's DESCRIBE
//! cannot disagree.

/// A write warns when the expiry it leaves behind is in the past or at most this many days ahead.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

const MICROS_PER_DAY: i64 = 86_400_000_000;

crate::vocabulary! {
    /// The stable code of a warning on a write's answer (the `code` of `{code, message}`).
    pub enum WarningCode ("warning code") {
        /// The vault entry written has an EXPIRES in the past.
        Expired = "expired",
        /// The vault entry written expires within [`EXPIRY_WARNING_DAYS`].
        ExpiresSoon = "expires_soon",
        /// The connection's credential (a vault entry) has expired.
        CredentialExpired = "credential_expired",
        /// The connection's credential expires within [`EXPIRY_WARNING_DAYS`].
        CredentialExpiresSoon = "credential_expires_soon",
    }
}

/// Where an expiry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// It is past (or now).
    Expired,
    /// Within [`EXPIRY_WARNING_DAYS`]: worth a warning.
    Soon,
    /// Further ahead.
    Later,
}

impl Expiry {
    /// The standing of an expiry `remaining_micros` from now (negative: in the past).
    pub fn of(remaining_micros: i64) -> Self {
        if remaining_micros <= 0 {
            Self::Expired
        } else if remaining_micros <= EXPIRY_WARNING_DAYS * MICROS_PER_DAY {
            Self::Soon
        } else {
            Self::Later
        }
    }
}

/// How an expiry `remaining_micros` from now reads, in whole days rounded down: `expires in 3 days`,
/// `expires in less than a day`, `expired 1 day ago`, `expired less than a day ago`.
pub fn expiry_phrase(remaining_micros: i64) -> String {
    let days = |micros: i64| match micros / MICROS_PER_DAY {
        0 => None,
        1 => Some("1 day".to_owned()),
        n => Some(format!("{n} days")),
    };
    if remaining_micros > 0 {
        days(remaining_micros).map_or_else(|| "expires in less than a day".to_owned(), |d| format!("expires in {d}"))
    } else {
        days(remaining_micros.saturating_neg())
            .map_or_else(|| "expired less than a day ago".to_owned(), |d| format!("expired {d} ago"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn an_expiry_is_expired_soon_or_later() {
        assert_eq!(Expiry::of(-1), Expiry::Expired);
        assert_eq!(Expiry::of(0), Expiry::Expired);
        assert_eq!(Expiry::of(1), Expiry::Soon);
        assert_eq!(Expiry::of(14 * 24 * HOUR), Expiry::Soon);
        assert_eq!(Expiry::of(14 * 24 * HOUR + 1), Expiry::Later);
    }

    #[test]
    fn the_phrase_counts_whole_days() {
        assert_eq!(expiry_phrase(HOUR), "expires in less than a day");
        assert_eq!(expiry_phrase(25 * HOUR), "expires in 1 day");
        assert_eq!(expiry_phrase(3 * 24 * HOUR + HOUR), "expires in 3 days");
        assert_eq!(expiry_phrase(0), "expired less than a day ago");
        assert_eq!(expiry_phrase(-HOUR), "expired less than a day ago");
        assert_eq!(expiry_phrase(-24 * HOUR), "expired 1 day ago");
        assert_eq!(expiry_phrase(-400 * 24 * HOUR), "expired 400 days ago");
        assert_eq!(expiry_phrase(i64::MIN), format!("expired {} days ago", i64::MAX / (24 * HOUR)));
    }

    #[test]
    fn warning_codes_are_snake_case() {
        assert_eq!(
            WarningCode::spellings(),
            ["expired", "expires_soon", "credential_expired", "credential_expires_soon"]
        );
    }
}
