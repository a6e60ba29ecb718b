//! Warnings on the answers of writes (MySQL's `SHOW WARNINGS`).

use serde::{Deserialize, Serialize};

/// Something the caller of a write that succeeded should know: an EXPIRES in the past or within 14 days, a
/// connection whose credential expires soon. The answers of the writes that can warn (CREATE and ALTER of vault
/// entries and connections, TEST CONNECTION) carry them in a `warnings` array, left out when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    /// The stable code: `expired`, `expires_soon`, `credential_expired` or `credential_expires_soon`. A string, not
    /// a closed list, so that a client shows the warnings of a newer server.
    pub code: String,
    /// One line for people, naming the object.
    pub message: String,
}
