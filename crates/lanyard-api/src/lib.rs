//! `lanyard-api` holds the JSON wire types of Lanyard's HTTP API, once: every request body (with its actions), every
//! view the server answers with, the query strings and the `application/problem+json` document. `lanyard-server`
//! reads the requests and writes the views; `lanyard-client` writes the requests and reads the views; both use these
//! types, so the two sides cannot drift apart. `docs/http-api.md` is the contract they follow.
//!
//! Requests reject unknown fields. Secret material in a request ([`CreateEntry::secret`], [`EntryAction::SetSecret`],
//! credential-storage options) is a [`Secret`]: a `SecretString` whose `Debug` prints `***` and whose value leaves
//! it only while a request body is serialised. Views never carry secret material.
//!
//! What it is not: it knows no HTTP (no axum, no reqwest), does no validation beyond the JSON shape (the Control
//! Plane checks names, types and values, so its error messages stay the API's), and depends on `lanyard-core` only.
//! With the `openapi` feature it also derives the utoipa schemas the server publishes at `/openapi.json`.

mod audit;
mod backend;
mod connection;
mod database;
mod entry;
pub mod headers;
mod history;
pub mod json;
mod link;
pub mod paging;
mod pipeline;
mod problem;
#[cfg(feature = "openapi")]
pub mod schema;
mod secret;
mod warning;

pub use audit::{AuditQuery, AuditRecord, Health};
pub use backend::{AlterBackend, Backend, BackendAction, CreateBackend, ProbeStep, StorageTest};
pub use connection::{
    AlterConnection, Connection, ConnectionAction, CreateConnection, KeyValue, LastTest, Ref, TestResult,
};
pub use database::{CreateDatabase, Database};
pub use entry::{AlterEntry, CreateEntry, Entry, EntryAction};
pub use history::{AsOfQuery, FieldChange, HistoryEntry, HistoryQuery};
pub use link::{
    AlterLink, ConfigKeyValue, CreateLink, Link, LinkAction, LinkCredentials, LinkDefinition, LinkTestResult,
    SecretKeyValue,
};
pub use paging::{ListQuery, PageQuery};
pub use pipeline::{CreatePipeline, FileCounts, Pipeline, PipelineFile};
pub use problem::{PROBLEM_BASE, Problem};
pub use secret::{Secret, SecretJson, SecretOptions};
pub use warning::Warning;

/// A JSON object, key order kept as sent (serde_json's `preserve_order` is on).
pub type OrderedMap = serde_json::Map<String, serde_json::Value>;

/// The test result of a probe that passed.
pub const PASSED: &str = "PASSED";

/// The test result of a probe that failed.
pub const FAILED: &str = "FAILED";

/// The test result of a connection or link whose type has no probe in the server's build: nothing was checked.
pub const UNSUPPORTED: &str = "UNSUPPORTED";

/// Serialises a unit variant as `{"<variant>": null}`, the shape the API documents for actions without a value.
fn null<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_unit()
}

/// An optional whole number that may be written `30` or `30.0`: JSON (and JSON Schema's `integer`) does not tell
/// them apart, so neither does the API. A fraction, or a number outside `i64`, is refused.
fn whole<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize as _;
    match Option::<serde_json::Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(number) => number
            .as_i64()
            .or_else(|| {
                number.as_f64().filter(|f| f.fract() == 0.0 && *f >= -(2f64.powi(63)) && *f < 2f64.powi(63)).map(
                    // In range and whole: the conversion is exact.
                    #[allow(clippy::cast_possible_truncation)]
                    |f| f as i64,
                )
            })
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a whole number")),
    }
}

fn yes() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !*value
}
