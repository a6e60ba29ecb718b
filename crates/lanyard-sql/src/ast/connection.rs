//! `CONNECTION` statements (DeltaForge dialect).

use std::fmt;

use lanyard_core::{Name, OptionKey, OptionMap, OptionValue};

use super::{PointInTime, Printer, ToSql};

/// A connection type such as `postgresql` or `s3`, lower-cased. Which types exist is the Control Plane's business:
/// the grammar accepts any identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionType(String);

impl ConnectionType {
    /// Lower-cases `name`.
    pub fn new(name: &str) -> Self {
        Self(name.to_ascii_lowercase())
    }

    /// The lower-case type name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `CREATE CONNECTION [IF NOT EXISTS] name TYPE = t [DESCRIPTION '…'] OPTIONS (…) [CREDENTIAL = e]
/// [CREDENTIAL STORAGE = b] [MAX_CONNECTIONS = n] [TIMEOUT = s]`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateConnection {
    /// `IF NOT EXISTS`: an existing connection is returned unchanged instead of an error.
    pub if_not_exists: bool,
    /// The connection's display name.
    pub name: Name,
    /// `TYPE = …`.
    pub connection_type: ConnectionType,
    /// `DESCRIPTION '…'`.
    pub description: Option<String>,
    /// `OPTIONS (…)`; empty when absent.
    pub options: OptionMap,
    /// `CREDENTIAL = <vault entry>`.
    pub credential: Option<Name>,
    /// `CREDENTIAL STORAGE = <backend>`.
    pub credential_storage: Option<Name>,
    /// `MAX_CONNECTIONS = n`.
    pub max_connections: Option<u32>,
    /// `TIMEOUT = seconds`.
    pub timeout_seconds: Option<u32>,
}

impl ToSql for CreateConnection {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE CONNECTION");
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.name(&self.name);
        p.kw("TYPE =");
        p.kw(self.connection_type.as_str());
        p.optional("DESCRIPTION", self.description.as_deref(), Printer::string);
        p.kw("OPTIONS");
        p.option_list(&self.options);
        p.optional("CREDENTIAL =", self.credential.as_ref(), Printer::name);
        p.optional("CREDENTIAL STORAGE =", self.credential_storage.as_ref(), Printer::name);
        p.optional("MAX_CONNECTIONS =", self.max_connections.as_ref(), Printer::number);
        p.optional("TIMEOUT =", self.timeout_seconds.as_ref(), Printer::number);
    }
}

/// `ALTER CONNECTION [IF EXISTS] name action [action …]`: actions apply in order, all or nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterConnection {
    /// `IF EXISTS`: a missing connection is a clean no-op.
    pub if_exists: bool,
    /// The connection to change.
    pub name: Name,
    /// At least one action, in written order.
    pub actions: Vec<AlterConnectionAction>,
}

/// One action of `ALTER CONNECTION`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterConnectionAction {
    /// `SET OPTIONS (…)`: replaces the whole options map.
    SetOptions(OptionMap),
    /// `SET OPTION k = 'v'`: adds or replaces one key (Lanyard extension).
    SetOption {
        /// The key.
        key: OptionKey,
        /// The value; held as a secret when the key looks secret (see [`OptionValue::for_key`]).
        value: OptionValue,
    },
    /// `UNSET OPTION k`: removes one key; an error if it is absent (Lanyard extension).
    UnsetOption(OptionKey),
    /// `SET CREDENTIAL = entry`.
    SetCredential(Name),
    /// `UNSET CREDENTIAL` (Lanyard extension).
    UnsetCredential,
    /// `SET CREDENTIAL STORAGE = backend`.
    SetCredentialStorage(Name),
    /// `UNSET CREDENTIAL STORAGE` (Lanyard extension).
    UnsetCredentialStorage,
    /// `RENAME TO new_name`.
    RenameTo(Name),
    /// `SET DESCRIPTION '…'` (Lanyard extension).
    SetDescription(String),
    /// `SET MAX_CONNECTIONS = n` (Lanyard extension).
    SetMaxConnections(u32),
    /// `SET TIMEOUT = seconds` (Lanyard extension).
    SetTimeout(u32),
    /// `ROLLBACK TO VERSION n` (Lanyard extension), n ≥ 1: restores version n's definition (options, references,
    /// description) as a new version; history is never rewritten.
    RollbackToVersion(i64),
}

impl ToSql for AlterConnectionAction {
    fn print(&self, p: &mut Printer) {
        match self {
            Self::SetOptions(options) => p.clause("SET OPTIONS", options, Printer::option_list),
            Self::SetOption { key, value } => {
                p.kw("SET OPTION");
                p.key(key.as_str());
                p.punct(" =");
                p.option_value(value);
            }
            Self::UnsetOption(key) => {
                p.kw("UNSET OPTION");
                p.key(key.as_str());
            }
            Self::SetCredential(name) => p.clause("SET CREDENTIAL =", name, Printer::name),
            Self::UnsetCredential => p.kw("UNSET CREDENTIAL"),
            Self::SetCredentialStorage(name) => p.clause("SET CREDENTIAL STORAGE =", name, Printer::name),
            Self::UnsetCredentialStorage => p.kw("UNSET CREDENTIAL STORAGE"),
            Self::RenameTo(name) => p.clause("RENAME TO", name, Printer::name),
            Self::SetDescription(description) => p.clause("SET DESCRIPTION", description.as_str(), Printer::string),
            Self::SetMaxConnections(n) => p.clause("SET MAX_CONNECTIONS =", n, Printer::number),
            Self::SetTimeout(n) => p.clause("SET TIMEOUT =", n, Printer::number),
            Self::RollbackToVersion(n) => p.clause("ROLLBACK TO VERSION", n, Printer::version),
        }
    }
}

impl ToSql for AlterConnection {
    fn print(&self, p: &mut Printer) {
        p.kw("ALTER CONNECTION");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.name(&self.name);
        p.all(&self.actions);
    }
}

/// `SHOW CONNECTIONS [LIKE 'pattern']`: LIKE is a case-insensitive substring match, not SQL wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowConnections {
    /// The substring filter.
    pub like: Option<String>,
}

impl ToSql for ShowConnections {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW CONNECTIONS");
        p.optional("LIKE", self.like.as_deref(), Printer::string);
    }
}

name_only_statement!(
    /// `DROP CONNECTION [IF EXISTS] name`
    DropConnection,
    "connection to drop"
);
name_only_statement!(
    /// `DESCRIBE CONNECTION [IF EXISTS] name [AT <point>]`
    DescribeConnection,
    "connection to describe",
    at
);
name_only_statement!(
    /// `TEST CONNECTION [IF EXISTS] name`: resolves the credential fresh and runs the type's probe.
    TestConnection,
    "connection to test"
);
