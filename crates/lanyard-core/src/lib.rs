//! `lanyard-core` is the shared vocabulary of every Lanyard crate: typed object ids, validated names, ordered option
//! maps that mask secret-looking values, secret types that redact themselves and zeroize on drop, and the error kinds
//! that the Control Plane maps to its stable problem codes.
//!
//! It is *not* a place for behaviour: it does no I/O, has no async code and knows nothing about SQL, HTTP, the
//! catalog or vault backends. Every other crate may depend on it; it depends on no other Lanyard crate.

mod error;
mod expiry;
mod id;
mod name;
mod options;
mod pipeline;
mod secret;
mod vocab;

pub use error::{Error, ErrorKind, ObjectKind, Result, printable};
pub use expiry::{EXPIRY_WARNING_DAYS, Expiry, WarningCode, expiry_phrase};
pub use id::{
    BackendId, ConnectionId, DEFAULT_DATABASE_ID, DatabaseId, LOCAL_BACKEND_ID, LinkId, PipelineId, PrincipalId,
    TokenId, VaultEntryId,
};
pub use name::{MAX_NAME_CHARS, Name, NameError};
pub use options::{
    MAX_OPTION_VALUE_BYTES, MAX_OPTIONS, OptionKey, OptionMap, OptionValue, REDACTED, is_secret_config_key,
    is_secret_key, is_secret_option, url_has_password,
};
pub use pipeline::{CsvFormat, LoadFormat, TableRef};
pub use secret::{SecretBytes, SecretString};
pub use vocab::{
    AuditAction, AuditOutcome, ConnectionType, EntryType, FileState, LinkType, PipelineState, Role, TestStatus,
    UnknownValue,
};
