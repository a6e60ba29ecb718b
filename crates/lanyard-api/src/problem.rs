//! The problem document (RFC 9457) every error answer carries.

use lanyard_core::ErrorKind;
use serde::{Deserialize, Serialize};

/// The `type` URI prefix of our problems.
pub const PROBLEM_BASE: &str = "https://lanyard.dev/problems/";

/// An `application/problem+json` body. It never holds secret material (the server guarantees it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `https://lanyard.dev/problems/<code>`.
    #[serde(rename = "type", default)]
    pub problem_type: String,
    /// A short summary of the kind.
    #[serde(default)]
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong, naming the object; never secret material.
    #[serde(default)]
    pub detail: String,
    /// The stable code (`not_found`, `already_exists`, `conflict`, `invalid`, …).
    #[serde(default)]
    pub code: String,
}

impl Problem {
    /// The kind its code names; `None` for a code this side does not know (a newer server), or none.
    pub fn kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_code(&self.code)
    }
}
