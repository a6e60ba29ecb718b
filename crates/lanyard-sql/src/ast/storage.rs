//! `CREDENTIAL STORAGE` statements (DeltaForge dialect): the vault backends.

use std::fmt;

use lanyard_core::{Name, OptionMap};

use super::{PointInTime, Printer, ToSql};

/// A backend kind (`TYPE = AWS`), stored as the plugin's snake_case kind (`aws`). `OS_KEYCHAIN` is read as `local`.
/// Which kinds exist is the Control Plane's business: the grammar accepts any identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackendKind(String);

impl BackendKind {
    /// Normalises a written kind: lower-cased, with the `OS_KEYCHAIN` alias mapped to `local`.
    pub fn new(written: &str) -> Self {
        let kind = written.to_ascii_lowercase();
        if kind == "os_keychain" { Self("local".to_owned()) } else { Self(kind) }
    }

    /// The plugin kind, e.g. `aws`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `CREATE CREDENTIAL STORAGE [IF NOT EXISTS] name TYPE = kind [DESCRIPTION '…'] [OPTIONS (…)] [ACTIVE | INACTIVE]`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateCredentialStorage {
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The backend's display name.
    pub name: Name,
    /// `TYPE = …`.
    pub kind: BackendKind,
    /// `DESCRIPTION '…'`.
    pub description: Option<String>,
    /// `OPTIONS (…)`; secret auth options are masked when printed.
    pub options: OptionMap,
    /// `ACTIVE` (`Some(true)`) or `INACTIVE` (`Some(false)`); ACTIVE when absent.
    pub active: Option<bool>,
}

impl ToSql for CreateCredentialStorage {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE CREDENTIAL STORAGE");
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.name(&self.name);
        p.kw("TYPE =");
        p.kw(&self.kind.as_str().to_ascii_uppercase());
        p.optional("DESCRIPTION", self.description.as_deref(), Printer::string);
        if !self.options.is_empty() {
            p.kw("OPTIONS");
            p.option_list(&self.options);
        }
        match self.active {
            Some(true) => p.kw("ACTIVE"),
            Some(false) => p.kw("INACTIVE"),
            None => {}
        }
    }
}

/// `ALTER CREDENTIAL STORAGE [IF EXISTS] name action [action …]`
#[derive(Debug, Clone, PartialEq)]
pub struct AlterCredentialStorage {
    /// `IF EXISTS`.
    pub if_exists: bool,
    /// The backend to change.
    pub name: Name,
    /// At least one action, in written order.
    pub actions: Vec<AlterCredentialStorageAction>,
}

/// One action of `ALTER CREDENTIAL STORAGE`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterCredentialStorageAction {
    /// `SET OPTIONS (…)`: replaces the options map (secret options are stripped into the local backend again).
    SetOptions(OptionMap),
    /// `SET DESCRIPTION '…'`
    SetDescription(String),
    /// `ACTIVE` (`true`) or `INACTIVE` (`false`).
    SetActive(bool),
    /// `RENAME TO new_name`
    RenameTo(Name),
    /// `ROLLBACK TO VERSION n` (Lanyard extension), n ≥ 1: restores version n's definition (options, description)
    /// as a new version; history is never rewritten.
    RollbackToVersion(i64),
}

impl ToSql for AlterCredentialStorageAction {
    fn print(&self, p: &mut Printer) {
        match self {
            Self::SetOptions(options) => p.clause("SET OPTIONS", options, Printer::option_list),
            Self::SetDescription(description) => p.clause("SET DESCRIPTION", description.as_str(), Printer::string),
            Self::SetActive(true) => p.kw("ACTIVE"),
            Self::SetActive(false) => p.kw("INACTIVE"),
            Self::RenameTo(name) => p.clause("RENAME TO", name, Printer::name),
            Self::RollbackToVersion(n) => p.clause("ROLLBACK TO VERSION", n, Printer::version),
        }
    }
}

impl ToSql for AlterCredentialStorage {
    fn print(&self, p: &mut Printer) {
        p.kw("ALTER CREDENTIAL STORAGE");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.name(&self.name);
        p.all(&self.actions);
    }
}

name_only_statement!(
    /// `DROP CREDENTIAL STORAGE [IF EXISTS] name`
    DropCredentialStorage,
    "backend to drop"
);
name_only_statement!(
    /// `DESCRIBE CREDENTIAL STORAGE [IF EXISTS] name [AT <point>]`
    DescribeCredentialStorage,
    "backend to describe",
    at
);
name_only_statement!(
    /// `TEST CREDENTIAL STORAGE [IF EXISTS] name`: a non-destructive probe with a trace of steps.
    TestCredentialStorage,
    "backend to test"
);

/// `SHOW CREDENTIAL STORAGES [LIKE 'pattern']`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowCredentialStorages {
    /// The case-insensitive substring filter.
    pub like: Option<String>,
}

impl ToSql for ShowCredentialStorages {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW CREDENTIAL STORAGES");
        p.optional("LIKE", self.like.as_deref(), Printer::string);
    }
}
