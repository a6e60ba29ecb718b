//! Warnings on the answers of writes that succeeded (MySQL's `SHOW WARNINGS`): an entry whose EXPIRES is in the
//! past or within [`EXPIRY_WARNING_DAYS`](lanyard_core::EXPIRY_WARNING_DAYS) days, and a connection whose credential
//! is. EXPIRES is advisory: a warning never refuses a write.

use lanyard_catalog::Timestamp;
use lanyard_core::{Expiry, WarningCode, expiry_phrase};

use crate::model::{ConnectionView, EntryView, Warning};

/// `expires in 3 days (EXPIRES 2027-01-01T00:00:00.000000Z)`, and whether it is worth a warning (expired or soon).
fn standing(expires_at: Timestamp, now: Timestamp) -> Option<(bool, String)> {
    let remaining = expires_at.as_micros().saturating_sub(now.as_micros());
    let expired = match Expiry::of(remaining) {
        Expiry::Expired => true,
        Expiry::Soon => false,
        Expiry::Later => return None,
    };
    Some((expired, format!("{} (EXPIRES {expires_at})", expiry_phrase(remaining))))
}

/// What CREATE or ALTER of `entry` warns about: its expiry, when past or near.
pub(crate) fn entry(entry: &EntryView, now: Timestamp) -> Vec<Warning> {
    let Some((expired, phrase)) = entry.expires_at.and_then(|at| standing(at, now)) else { return Vec::new() };
    vec![Warning {
        code: if expired { WarningCode::Expired } else { WarningCode::ExpiresSoon },
        message: format!("vault entry {:?} {phrase}", entry.name),
    }]
}

/// What CREATE, ALTER or TEST of `connection` warns about: its credential's expiry, when past or near.
pub(crate) fn connection(connection: &ConnectionView, now: Timestamp) -> Vec<Warning> {
    let (Some(credential), Some(at)) = (&connection.credential, connection.credential_expires_at) else {
        return Vec::new();
    };
    let Some((expired, phrase)) = standing(at, now) else { return Vec::new() };
    vec![Warning {
        code: if expired { WarningCode::CredentialExpired } else { WarningCode::CredentialExpiresSoon },
        message: format!("connection {:?} uses vault entry {:?}, which {phrase}", connection.name, credential.name),
    }]
}
