//! The syntax tree: one struct per statement, wrapped by [`Statement`].
//!
//! Every node prints canonical SQL through `Display` with secret literals redacted as `'***'`; the explicitly named
//! [`ToSql::to_sql_unredacted`] prints the real values (for round-trip tests and nothing else).

/// Declares a statement made of a keyword phrase, `[IF EXISTS]` and a name, e.g. `DROP CONNECTION [IF EXISTS] c`.
/// The keyword phrase is the statement's tag, `KIND`, given in the statement list below; with `noun`, it is the verb
/// followed by the vault noun as written (`DROP CREDENTIAL c`). With a trailing `at`, the statement also takes a
/// point in time after the name, `[AT <point>]` (the DESCRIBE statements), in a field `at`.
macro_rules! name_only_statement {
    ($(#[$doc:meta])* $ty:ident, $what:literal $(, $at:ident)?) => {
        name_only_statement!(@ $(#[$doc])* $ty, $what, [], |_, p| p.kw($ty::KIND), [$($at)?]);
    };
    ($(#[$doc:meta])* $ty:ident, $verb:literal noun, $what:literal $(, $at:ident)?) => {
        name_only_statement!(@ $(#[$doc])* $ty, $what, [
            /// The keyword used.
            pub noun: VaultNoun,
        ], |s: &$ty, p: &mut Printer| {
            p.kw($verb);
            p.kw(s.noun.singular());
        }, [$($at)?]);
    };
    (@ $(#[$doc:meta])* $ty:ident, $what:literal, [$($noun:tt)*], $tag:expr, []) => {
        name_only_statement!(@@ $(#[$doc])* $ty, $what, [$($noun)*], $tag, [], |_, _| {});
    };
    (@ $(#[$doc:meta])* $ty:ident, $what:literal, [$($noun:tt)*], $tag:expr, [at]) => {
        name_only_statement!(@@ $(#[$doc])* $ty, $what, [$($noun)*], $tag, [
            /// `AT <point>`: the object as it was then; as it is now when absent.
            pub at: Option<PointInTime>,
        ], |s: &$ty, p: &mut Printer| p.at(s.at.as_ref()));
    };
    (@@ $(#[$doc:meta])* $ty:ident, $what:literal, [$($noun:tt)*], $tag:expr, [$($at:tt)*], $trailer:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            $($noun)*
            /// `IF EXISTS`: a missing object is a clean no-op.
            pub if_exists: bool,
            #[doc = concat!("The ", $what, ".")]
            pub name: Name,
            $($at)*
        }

        impl ToSql for $ty {
            fn print(&self, p: &mut Printer) {
                let tag: fn(&Self, &mut Printer) = $tag;
                tag(self, p);
                p.kw_if(self.if_exists, "IF EXISTS");
                p.name(&self.name);
                let trailer: fn(&Self, &mut Printer) = $trailer;
                trailer(self, p);
            }
        }
    };
}

/// Declares a statement made of a keyword phrase (its tag, `KIND`) and a `[db.]name`, e.g. `START PIPELINE p`.
macro_rules! qualified_name_statement {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty {
            #[doc = concat!("The ", $what, ".")]
            pub name: QualifiedName,
        }

        impl ToSql for $ty {
            fn print(&self, p: &mut Printer) {
                p.kw(Self::KIND);
                p.qualified_name(&self.name);
            }
        }
    };
}

mod connection;
mod database;
mod history;
mod link;
mod pipeline;
mod print;
mod storage;
mod vault;

use std::fmt;

pub use crate::keywords::KEYWORDS;
pub use connection::{AlterConnectionAction, ConnectionType};
pub use history::{HistoryObject, PointInTime};
pub use link::{CredentialsSource, LinkSet, LinkType};
pub(crate) use pipeline::unescape_clause_value;
pub use print::{Printer, ToSql};
pub(crate) use print::{is_bare_identifier, is_bare_key, is_secret_text, mask_config_secrets};
pub use storage::{AlterCredentialStorageAction, BackendKind};
pub use vault::{AlterVaultAction, EntryType, Material, VaultNoun};

use lanyard_core::Name;

/// A `[db.]name` reference to a database-scoped object (links, pipelines).
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

/// Declares the statements from one list, grouped by the module (family) that defines each struct: re-exports the
/// structs, and generates the [`Statement`] enum, `From<struct> for Statement`, each struct's `KIND` tag,
/// [`Statement::kind`], [`Statement::KINDS`], and the printing (`ToSql`, redacted `Display`) of the enum and of every
/// struct. Adding a statement means defining its struct (with `ToSql`) in its family's module and adding one line here.
macro_rules! statements {
    ($($module:ident { $($(#[$doc:meta])* $variant:ident = $kind:literal,)* })*) => {
        $(pub use $module::{$($variant),*};)*

        /// Every statement Lanyard accepts.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Statement {
            $($($(#[$doc])* $variant($variant),)*)*
        }

        $($(
            impl $variant {
                /// The statement tag.
                pub const KIND: &'static str = $kind;
            }

            impl From<$variant> for Statement {
                fn from(statement: $variant) -> Self {
                    Self::$variant(statement)
                }
            }

            display_via_to_sql!($variant);
        )*)*

        impl ToSql for Statement {
            fn print(&self, p: &mut Printer) {
                match self {
                    $($(Self::$variant(s) => s.print(p),)*)*
                }
            }
        }

        impl Statement {
            /// The tag of every statement, in declaration order (one per variant).
            pub const KINDS: &'static [&'static str] = &[$($($kind,)*)*];

            /// The statement's kind as a short upper-case tag, e.g. `CREATE CONNECTION`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $($(Self::$variant(_) => $kind,)*)*
                }
            }
        }
    };
}

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

statements! {
    connection {
        /// `CREATE CONNECTION`
        CreateConnection = "CREATE CONNECTION",
        /// `ALTER CONNECTION`
        AlterConnection = "ALTER CONNECTION",
        /// `DROP CONNECTION`
        DropConnection = "DROP CONNECTION",
        /// `SHOW CONNECTIONS`
        ShowConnections = "SHOW CONNECTIONS",
        /// `DESCRIBE CONNECTION`
        DescribeConnection = "DESCRIBE CONNECTION",
        /// `TEST CONNECTION`
        TestConnection = "TEST CONNECTION",
    }
    vault {
        /// `CREATE { VAULT | CREDENTIAL }`
        CreateVault = "CREATE VAULT",
        /// `ALTER { VAULT | CREDENTIAL }`
        AlterVault = "ALTER VAULT",
        /// `DROP { VAULT | CREDENTIAL }`
        DropVault = "DROP VAULT",
        /// `DESCRIBE { VAULT | CREDENTIAL }`
        DescribeVault = "DESCRIBE VAULT",
        /// `SHOW { VAULTS | CREDENTIALS }`
        ShowVaults = "SHOW VAULTS",
    }
    storage {
        /// `CREATE CREDENTIAL STORAGE`
        CreateCredentialStorage = "CREATE CREDENTIAL STORAGE",
        /// `ALTER CREDENTIAL STORAGE`
        AlterCredentialStorage = "ALTER CREDENTIAL STORAGE",
        /// `DROP CREDENTIAL STORAGE`
        DropCredentialStorage = "DROP CREDENTIAL STORAGE",
        /// `SHOW CREDENTIAL STORAGES`
        ShowCredentialStorages = "SHOW CREDENTIAL STORAGES",
        /// `DESCRIBE CREDENTIAL STORAGE`
        DescribeCredentialStorage = "DESCRIBE CREDENTIAL STORAGE",
        /// `TEST CREDENTIAL STORAGE`
        TestCredentialStorage = "TEST CREDENTIAL STORAGE",
    }
    database {
        /// `CREATE { DATABASE | SCHEMA }`
        CreateDatabase = "CREATE DATABASE",
        /// `DROP { DATABASE | SCHEMA }`
        DropDatabase = "DROP DATABASE",
        /// `SHOW { DATABASES | SCHEMAS }`
        ShowDatabases = "SHOW DATABASES",
    }
    link {
        /// `CREATE LINK`
        CreateLink = "CREATE LINK",
        /// `ALTER LINK`
        AlterLink = "ALTER LINK",
        /// `DROP LINK`
        DropLink = "DROP LINK",
        /// `SHOW LINKS`
        ShowLinks = "SHOW LINKS",
        /// `SHOW CREATE LINK`
        ShowCreateLink = "SHOW CREATE LINK",
        /// `DESCRIBE LINK` (a Lanyard addition)
        DescribeLink = "DESCRIBE LINK",
        /// `TEST LINK` (a Lanyard addition)
        TestLink = "TEST LINK",
        /// `USE`
        Use = "USE",
    }
    pipeline {
        /// `CREATE PIPELINE`
        CreatePipeline = "CREATE PIPELINE",
        /// `START PIPELINE`
        StartPipeline = "START PIPELINE",
        /// `STOP PIPELINE`
        StopPipeline = "STOP PIPELINE",
        /// `DROP PIPELINE`
        DropPipeline = "DROP PIPELINE",
        /// `SHOW PIPELINES`
        ShowPipelines = "SHOW PIPELINES",
        /// `SHOW FILES FOR PIPELINE`
        ShowPipelineFiles = "SHOW FILES FOR PIPELINE",
    }
    history {
        /// `SHOW HISTORY FOR` (a Lanyard addition)
        ShowHistory = "SHOW HISTORY",
    }
}

display_via_to_sql!(
    Statement,
    AlterConnectionAction,
    AlterVaultAction,
    AlterCredentialStorageAction,
    LinkSet,
    CredentialsSource,
    QualifiedName,
    HistoryObject,
    PointInTime
);

impl ToSql for QualifiedName {
    fn print(&self, p: &mut Printer) {
        p.qualified_name(self);
    }
}
