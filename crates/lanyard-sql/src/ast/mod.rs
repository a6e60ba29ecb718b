//! The syntax tree: one struct per statement, wrapped by [`Statement`].
//!
//! Every node prints canonical SQL through `Display` with secret literals redacted as `'***'`; the explicitly named
//! [`ToSql::to_sql_unredacted`] prints the real values (for round-trip tests and nothing else).

/// Declares a statement made of a keyword phrase, `[IF EXISTS]` and a name, e.g. `DROP CONNECTION [IF EXISTS] c`.
macro_rules! name_only_statement {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            /// `IF EXISTS`: a missing object is a clean no-op.
            pub if_exists: bool,
            #[doc = concat!("The ", $what, ".")]
            pub name: Name,
        }

        impl $ty {
            /// The statement tag.
            pub const KIND: &'static str = $kind;
        }

        impl ToSql for $ty {
            fn print(&self, p: &mut Printer) {
                p.kw($kind);
                if self.if_exists {
                    p.kw("IF EXISTS");
                }
                p.name(&self.name);
            }
        }
    };
}

mod connection;
mod link;
mod pipeline;
mod print;
mod storage;
mod vault;

use std::fmt;

pub use crate::keywords::KEYWORDS;
pub use connection::{
    AlterConnection, AlterConnectionAction, ConnectionType, CreateConnection, DescribeConnection, DropConnection,
    ShowConnections, TestConnection,
};
pub use link::{AlterLink, CreateLink, DropLink, LinkSet, LinkType, ShowCreateLink, ShowLinks, Use};
pub use pipeline::{CreatePipeline, DropPipeline, LoadOptions, LoadToken, ShowPipelines, StartPipeline, StopPipeline};
pub use print::{Printer, ToSql};
pub(crate) use print::{is_bare_identifier, is_bare_key};
pub use storage::{
    AlterCredentialStorage, AlterCredentialStorageAction, BackendKind, CreateCredentialStorage,
    DescribeCredentialStorage, DropCredentialStorage, ShowCredentialStorages, TestCredentialStorage,
};
pub use vault::{
    AlterVault, AlterVaultAction, CreateVault, DescribeVault, DropVault, EntryType, Material, ShowVaults, VaultNoun,
};

use lanyard_core::Name;

/// A `[db.]name` reference to a database-scoped object (links, pipelines, tables).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// The database, when written; otherwise the session's current database applies.
    pub database: Option<Name>,
    /// The object's name.
    pub name: Name,
}

impl QualifiedName {
    /// An unqualified name.
    pub fn bare(name: Name) -> Self {
        Self { database: None, name }
    }
}

/// A JSON object literal, as written in `CONFIG '…'` (insertion order kept).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

macro_rules! statements {
    ($($(#[$doc:meta])* $variant:ident),* $(,)?) => {
        /// Every statement Lanyard accepts.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Statement {
            $($(#[$doc])* $variant($variant),)*
        }

        $(impl From<$variant> for Statement {
            fn from(statement: $variant) -> Self {
                Self::$variant(statement)
            }
        })*

        impl ToSql for Statement {
            fn print(&self, p: &mut Printer) {
                match self {
                    $(Self::$variant(s) => s.print(p),)*
                }
            }
        }

        impl Statement {
            /// The statement's kind as a short upper-case tag, e.g. `CREATE CONNECTION`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$variant>::KIND,)*
                }
            }
        }
    };
}

statements!(
    /// `CREATE CONNECTION`
    CreateConnection,
    /// `ALTER CONNECTION`
    AlterConnection,
    /// `DROP CONNECTION`
    DropConnection,
    /// `SHOW CONNECTIONS`
    ShowConnections,
    /// `DESCRIBE CONNECTION`
    DescribeConnection,
    /// `TEST CONNECTION`
    TestConnection,
    /// `CREATE { VAULT | CREDENTIAL }`
    CreateVault,
    /// `ALTER { VAULT | CREDENTIAL }`
    AlterVault,
    /// `DROP { VAULT | CREDENTIAL }`
    DropVault,
    /// `DESCRIBE { VAULT | CREDENTIAL }`
    DescribeVault,
    /// `SHOW { VAULTS | CREDENTIALS }`
    ShowVaults,
    /// `CREATE CREDENTIAL STORAGE`
    CreateCredentialStorage,
    /// `ALTER CREDENTIAL STORAGE`
    AlterCredentialStorage,
    /// `DROP CREDENTIAL STORAGE`
    DropCredentialStorage,
    /// `SHOW CREDENTIAL STORAGES`
    ShowCredentialStorages,
    /// `DESCRIBE CREDENTIAL STORAGE`
    DescribeCredentialStorage,
    /// `TEST CREDENTIAL STORAGE`
    TestCredentialStorage,
    /// `CREATE LINK`
    CreateLink,
    /// `ALTER LINK`
    AlterLink,
    /// `DROP LINK`
    DropLink,
    /// `SHOW LINKS`
    ShowLinks,
    /// `SHOW CREATE LINK`
    ShowCreateLink,
    /// `USE`
    Use,
    /// `CREATE PIPELINE`
    CreatePipeline,
    /// `START PIPELINE`
    StartPipeline,
    /// `STOP PIPELINE`
    StopPipeline,
    /// `DROP PIPELINE`
    DropPipeline,
    /// `SHOW PIPELINES`
    ShowPipelines,
);

/// Implements `Display` (redacted) for AST nodes that implement [`ToSql`].
macro_rules! display_via_to_sql {
    ($($ty:ty),* $(,)?) => {
        $(impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_sql_redacted())
            }
        })*
    };
}

display_via_to_sql!(
    Statement,
    CreateConnection,
    AlterConnection,
    AlterConnectionAction,
    DropConnection,
    ShowConnections,
    DescribeConnection,
    TestConnection,
    CreateVault,
    AlterVault,
    AlterVaultAction,
    DropVault,
    DescribeVault,
    ShowVaults,
    CreateCredentialStorage,
    AlterCredentialStorage,
    AlterCredentialStorageAction,
    DropCredentialStorage,
    ShowCredentialStorages,
    DescribeCredentialStorage,
    TestCredentialStorage,
    CreateLink,
    AlterLink,
    LinkSet,
    DropLink,
    ShowLinks,
    ShowCreateLink,
    Use,
    CreatePipeline,
    StartPipeline,
    StopPipeline,
    DropPipeline,
    ShowPipelines,
    QualifiedName,
);

impl ToSql for QualifiedName {
    fn print(&self, p: &mut Printer) {
        p.qualified_name(self);
    }
}
