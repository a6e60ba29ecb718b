//! `LINK` statements and `USE` (SingleStore dialect).

use lanyard_core::{Name, SecretString};

use super::{JsonObject, PointInTime, Printer, QualifiedName, ToSql};

/// `AS <link_type>`: the closed list of link types, shared with the catalog and the wire.
pub use lanyard_core::LinkType;

/// `CREATE [OR REPLACE] LINK [IF NOT EXISTS] [db.]name AS type [CREDENTIALS { '…' | FROM VAULT entry }] [CONFIG '…']
/// [DESCRIPTION '…']`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateLink {
    /// `OR REPLACE`: replace an existing link in place (its id and dependents are kept).
    pub or_replace: bool,
    /// `IF NOT EXISTS` (never together with OR REPLACE).
    pub if_not_exists: bool,
    /// The link's name, optionally database-qualified.
    pub name: QualifiedName,
    /// `AS …`.
    pub link_type: LinkType,
    /// `CONFIG '…'`: a JSON object with no secrets (printed redacted, a misplaced one reads `***`).
    pub config: Option<JsonObject>,
    /// `CREDENTIALS '…'` or `CREDENTIALS FROM VAULT entry`: one of the two, never both.
    pub credentials: Option<CredentialsSource>,
    /// `DESCRIPTION '…'`.
    pub description: Option<String>,
}

impl ToSql for CreateLink {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE");
        p.kw_if(self.or_replace, "OR REPLACE");
        p.kw("LINK");
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.qualified_name(&self.name);
        p.kw("AS");
        p.kw(self.link_type.as_str());
        p.optional("CONFIG", self.config.as_ref(), Printer::config);
        if let Some(credentials) = &self.credentials {
            p.kw("CREDENTIALS");
            credentials.print(p);
        }
        p.optional("DESCRIPTION", self.description.as_deref(), Printer::string);
    }
}

/// Where a link's CREDENTIALS come from (CREATE LINK).
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialsSource {
    /// `CREDENTIALS '{…}'`: the JSON object text, verbatim, held as a secret. Checked to be a JSON object. The
    /// Control Plane keeps it in a vault entry the link owns.
    Json(SecretString),
    /// `CREDENTIALS FROM VAULT entry` (a Lanyard extension): an existing vault entry whose secret is the credentials
    /// JSON object, so the link follows the entry's rotation.
    Entry(Name),
}

impl ToSql for CredentialsSource {
    /// What follows `CREDENTIALS`: the secret literal, or `FROM VAULT entry`.
    fn print(&self, p: &mut Printer) {
        match self {
            Self::Json(credentials) => p.secret(credentials),
            Self::Entry(entry) => p.clause("FROM VAULT", entry, Printer::backquoted_name),
        }
    }
}

/// One clause of `ALTER LINK`: a `SET CONFIG` or `SET CREDENTIALS` clause (SingleStore's), or `ROLLBACK TO VERSION`
/// (a Lanyard addition). ALTER LINK is built from clauses, at most one of each kind ([`LinkSet::kind`]) rather than
/// a free list of actions, so the rollback is one more kind of clause, not another enum.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkSet {
    /// `SET CONFIG '{…}'`: replaces the whole config (`'{}'` clears it).
    ConfigJson(JsonObject),
    /// `SET CONFIG ::key = value`: adds or updates one top-level key.
    ConfigKey {
        /// The top-level key.
        key: String,
        /// The new value: a JSON string for quoted values, a number or boolean for bare ones.
        value: serde_json::Value,
    },
    /// `SET CREDENTIALS '{…}'`: replaces the whole credentials object (verbatim text, secret).
    CredentialsJson(SecretString),
    /// `SET CREDENTIALS ::key = 'value'`: adds or updates one top-level credential key.
    CredentialsKey {
        /// The top-level key (not secret).
        key: String,
        /// The new value (secret).
        value: SecretString,
    },
    /// `SET CREDENTIALS FROM VAULT entry` (a Lanyard extension): takes the credentials from an existing vault entry.
    CredentialsEntry(Name),
    /// `ROLLBACK TO VERSION n` (a Lanyard extension), n ≥ 1: restores version n's definition as a new version;
    /// history is never rewritten.
    RollbackToVersion(i64),
}

impl LinkSet {
    /// Whether the clause changes CONFIG alone (a `SET CONFIG` clause).
    pub fn is_config(&self) -> bool {
        matches!(self, Self::ConfigJson(_) | Self::ConfigKey { .. })
    }

    /// The kind of the clause, as errors name it: `SET CONFIG`, `SET CREDENTIALS` or `ROLLBACK TO VERSION`. An ALTER
    /// LINK has at most one clause of each kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConfigJson(_) | Self::ConfigKey { .. } => "SET CONFIG",
            Self::CredentialsJson(_) | Self::CredentialsKey { .. } | Self::CredentialsEntry(_) => "SET CREDENTIALS",
            Self::RollbackToVersion(_) => "ROLLBACK TO VERSION",
        }
    }
}

impl ToSql for LinkSet {
    fn print(&self, p: &mut Printer) {
        match self {
            Self::ConfigJson(config) => p.clause("SET CONFIG", config, Printer::config),
            Self::ConfigKey { key, value } => {
                p.kw("SET CONFIG ::");
                p.punct(&key_text(key));
                p.punct(" =");
                p.config_value(key, value);
            }
            Self::CredentialsJson(credentials) => p.clause("SET CREDENTIALS", credentials, Printer::secret),
            Self::CredentialsKey { key, value } => {
                p.kw("SET CREDENTIALS ::");
                p.punct(&key_text(key));
                p.punct(" =");
                p.secret(value);
            }
            Self::CredentialsEntry(entry) => p.clause("SET CREDENTIALS FROM VAULT", entry, Printer::backquoted_name),
            Self::RollbackToVersion(n) => p.clause("ROLLBACK TO VERSION", n, Printer::version),
        }
    }
}

/// A `::key` as written canonically: bare (dots allowed) when possible, otherwise double-quoted.
fn key_text(key: &str) -> String {
    let mut p = Printer::new(false);
    p.key(key);
    p.finish()
}

/// `ALTER LINK [db.]name clause [clause …]`: at most one SET CONFIG, one SET CREDENTIALS and one ROLLBACK TO VERSION
/// clause, applied in written order.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterLink {
    /// The link to change.
    pub name: QualifiedName,
    /// One to three clauses, in written order, never two of the same [kind](LinkSet::kind).
    pub clauses: Vec<LinkSet>,
}

impl ToSql for AlterLink {
    fn print(&self, p: &mut Printer) {
        p.kw("ALTER LINK");
        p.qualified_name(&self.name);
        p.all(&self.clauses);
    }
}

/// `DROP LINK [IF EXISTS] [db.]name`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropLink {
    /// `IF EXISTS` (Lanyard addition).
    pub if_exists: bool,
    /// The link to drop.
    pub name: QualifiedName,
}

impl ToSql for DropLink {
    fn print(&self, p: &mut Printer) {
        p.kw("DROP LINK");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.qualified_name(&self.name);
    }
}

/// `SHOW LINKS [{ON | IN | FROM} db] [LIKE 'pattern']`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowLinks {
    /// The database; the session's current one when absent.
    pub database: Option<Name>,
    /// The case-insensitive substring filter.
    pub like: Option<String>,
}

impl ToSql for ShowLinks {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW LINKS");
        p.optional("ON", self.database.as_ref(), Printer::backquoted_name);
        p.optional("LIKE", self.like.as_deref(), Printer::string);
    }
}

/// `TEST LINK [IF EXISTS] [db.]name` (a Lanyard addition): resolves the link's credentials and probes the remote
/// system, as TEST CONNECTION does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLink {
    /// `IF EXISTS`: a missing link is a clean no-op.
    pub if_exists: bool,
    /// The link to test.
    pub name: QualifiedName,
}

impl ToSql for TestLink {
    fn print(&self, p: &mut Printer) {
        p.kw("TEST LINK");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.qualified_name(&self.name);
    }
}

/// `DESCRIBE LINK [IF EXISTS] [db.]name [AT <point>]` (a Lanyard addition): the link's properties, as DESCRIBE
/// CONNECTION shows a connection's (never its credentials, only where they live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeLink {
    /// `IF EXISTS`: a missing link is a clean no-op.
    pub if_exists: bool,
    /// The link to describe.
    pub name: QualifiedName,
    /// `AT <point>`: the link as it was then; as it is now when absent.
    pub at: Option<PointInTime>,
}

impl ToSql for DescribeLink {
    fn print(&self, p: &mut Printer) {
        p.kw("DESCRIBE LINK");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.qualified_name(&self.name);
        p.at(self.at.as_ref());
    }
}

qualified_name_statement!(
    /// `SHOW CREATE LINK [db.]name`
    ShowCreateLink,
    "link to show"
);

/// `USE db`: sets the session's current database (default `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The database.
    pub database: Name,
}

impl ToSql for Use {
    fn print(&self, p: &mut Printer) {
        p.kw("USE");
        p.backquoted_name(&self.database);
    }
}
