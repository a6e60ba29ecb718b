//! Object history (a Lanyard addition): `SHOW HISTORY FOR <object>`, and the point in time that the DESCRIBE
//! statements take (`DESCRIBE CONNECTION c AT VERSION 3`).
//!
//! A family of its own, not part of `connection`, `vault`, `storage` or `link`, because one statement names an object
//! of any of those four families: keeping it here keeps each of them about its own object. ROLLBACK TO VERSION is an
//! ordinary ALTER action and lives with each family's other actions; the DESCRIBE statements keep their own structs
//! and take a [`PointInTime`] from here.

use lanyard_core::Name;

use super::{Printer, QualifiedName, ToSql, VaultNoun};

/// `SHOW HISTORY FOR <object> [LIMIT n]`: the object's versions, newest first, each with who made it, when, its
/// actions and a redacted diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowHistory {
    /// The object whose history is shown.
    pub object: HistoryObject,
    /// `LIMIT n` (at least 1): at most this many versions, the newest ones.
    pub limit: Option<u32>,
}

impl ToSql for ShowHistory {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW HISTORY FOR");
        self.object.print(p);
        p.optional("LIMIT", self.limit.as_ref(), Printer::number);
    }
}

/// The object of `SHOW HISTORY FOR`.
///
/// `CREDENTIAL STORAGE name` is read the way `DESCRIBE CREDENTIAL STORAGE` is: `CREDENTIAL` followed by an unquoted
/// `STORAGE` is a credential storage, so a vault entry literally named `storage` is written quoted
/// (`CREDENTIAL "storage"`), as canonical output writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HistoryObject {
    /// `CONNECTION name`
    Connection(Name),
    /// `{ VAULT | CREDENTIAL } name`: a vault entry, with the keyword as written.
    Vault {
        /// The keyword used.
        noun: VaultNoun,
        /// The entry.
        name: Name,
    },
    /// `CREDENTIAL STORAGE name`
    CredentialStorage(Name),
    /// `LINK [db.]name`
    Link(QualifiedName),
}

impl ToSql for HistoryObject {
    fn print(&self, p: &mut Printer) {
        match self {
            Self::Connection(name) => p.clause("CONNECTION", name, Printer::name),
            Self::Vault { noun, name } => p.clause(noun.singular(), name, Printer::name),
            Self::CredentialStorage(name) => p.clause("CREDENTIAL STORAGE", name, Printer::name),
            Self::Link(name) => p.clause("LINK", name, Printer::qualified_name),
        }
    }
}

/// The `<point>` of `DESCRIBE … AT <point>`: the object as it was at a version, or at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PointInTime {
    /// `AT VERSION n`, n ≥ 1.
    Version(i64),
    /// `AT '<RFC 3339 timestamp>'`, e.g. `AT '2026-12-01T10:00:00Z'`: the literal as written, checked at parse time to
    /// be a timestamp with an offset.
    Time(String),
}

impl ToSql for PointInTime {
    /// What follows `AT`: `VERSION n` or the timestamp literal.
    fn print(&self, p: &mut Printer) {
        match self {
            Self::Version(version) => p.clause("VERSION", version, Printer::version),
            Self::Time(time) => p.string(time),
        }
    }
}
