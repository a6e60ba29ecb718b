//! `DATABASE` statements (SingleStore / MySQL dialect): the namespaces links and pipelines live in. `SCHEMA` is
//! accepted as a synonym, as MySQL does, and printed as `DATABASE`.

use lanyard_core::Name;

use super::{Printer, ToSql};

/// `CREATE { DATABASE | SCHEMA } [IF NOT EXISTS] db`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDatabase {
    /// `IF NOT EXISTS`: an existing database is left unchanged instead of being an error.
    pub if_not_exists: bool,
    /// The database (an identifier, as in `USE`).
    pub name: Name,
}

impl ToSql for CreateDatabase {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE DATABASE");
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.backquoted_name(&self.name);
    }
}

/// `DROP { DATABASE | SCHEMA } [IF EXISTS] db`: refused while links or pipelines live in it, and for `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropDatabase {
    /// `IF EXISTS`: a missing database is a clean no-op.
    pub if_exists: bool,
    /// The database.
    pub name: Name,
}

impl ToSql for DropDatabase {
    fn print(&self, p: &mut Printer) {
        p.kw("DROP DATABASE");
        p.kw_if(self.if_exists, "IF EXISTS");
        p.backquoted_name(&self.name);
    }
}

/// `SHOW { DATABASES | SCHEMAS } [LIKE 'pattern']`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowDatabases {
    /// The case-insensitive substring filter.
    pub like: Option<String>,
}

impl ToSql for ShowDatabases {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW DATABASES");
        p.optional("LIKE", self.like.as_deref(), Printer::string);
    }
}
