//! The `PIPELINE` subset that makes links meaningful (SingleStore dialect).

use lanyard_core::Name;

use super::{Printer, QualifiedName, ToSql};

/// `CREATE PIPELINE [IF NOT EXISTS] [db.]name AS LOAD DATA LINK [db.]link 'path' INTO TABLE [db.]table [load options]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePipeline {
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The pipeline's name.
    pub name: QualifiedName,
    /// The link it loads through (referenced by id once created).
    pub link: QualifiedName,
    /// The path within the link's source (bucket/prefix, topic, …).
    pub path: String,
    /// The target table.
    pub table: QualifiedName,
    /// Whatever follows the table (`(col, …)`, `FIELDS TERMINATED BY ','`, `FORMAT JSON`, …), verbatim: Lanyard
    /// stores it for the pipeline engine and does not interpret it.
    pub load_options: Option<String>,
}

impl CreatePipeline {
    /// The statement tag.
    pub const KIND: &'static str = "CREATE PIPELINE";
}

impl ToSql for CreatePipeline {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE PIPELINE");
        if self.if_not_exists {
            p.kw("IF NOT EXISTS");
        }
        p.qualified_name(&self.name);
        p.kw("AS LOAD DATA LINK");
        p.qualified_name(&self.link);
        p.string(&self.path);
        p.kw("INTO TABLE");
        p.qualified_name(&self.table);
        if let Some(options) = &self.load_options {
            p.kw(options);
        }
    }
}

/// `START PIPELINE [db.]name`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPipeline {
    /// The pipeline.
    pub name: QualifiedName,
}

impl StartPipeline {
    /// The statement tag.
    pub const KIND: &'static str = "START PIPELINE";
}

impl ToSql for StartPipeline {
    fn print(&self, p: &mut Printer) {
        p.kw("START PIPELINE");
        p.qualified_name(&self.name);
    }
}

/// `STOP PIPELINE [db.]name`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopPipeline {
    /// The pipeline.
    pub name: QualifiedName,
}

impl StopPipeline {
    /// The statement tag.
    pub const KIND: &'static str = "STOP PIPELINE";
}

impl ToSql for StopPipeline {
    fn print(&self, p: &mut Printer) {
        p.kw("STOP PIPELINE");
        p.qualified_name(&self.name);
    }
}

/// `DROP PIPELINE [IF EXISTS] [db.]name`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropPipeline {
    /// `IF EXISTS`: a missing pipeline is a clean no-op.
    pub if_exists: bool,
    /// The pipeline.
    pub name: QualifiedName,
}

impl DropPipeline {
    /// The statement tag.
    pub const KIND: &'static str = "DROP PIPELINE";
}

impl ToSql for DropPipeline {
    fn print(&self, p: &mut Printer) {
        p.kw("DROP PIPELINE");
        if self.if_exists {
            p.kw("IF EXISTS");
        }
        p.qualified_name(&self.name);
    }
}

/// `SHOW PIPELINES [{ON | IN | FROM} db]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowPipelines {
    /// The database; the session's current one when absent.
    pub database: Option<Name>,
}

impl ShowPipelines {
    /// The statement tag.
    pub const KIND: &'static str = "SHOW PIPELINES";
}

impl ToSql for ShowPipelines {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW PIPELINES");
        if let Some(db) = &self.database {
            p.kw("ON");
            p.database(db);
        }
    }
}
