//! `DATABASE` statements (SingleStore / MySQL dialect), with MySQL's `SCHEMA` synonyms.

use lanyard_core::ObjectKind;

use super::{PResult, Parser};
use crate::ast::{CreateDatabase, DropDatabase, ShowDatabases, Statement};
use crate::keywords::Keyword;

impl Parser<'_> {
    /// After the verb: `CREATE { DATABASE | SCHEMA }`, `DROP { DATABASE | SCHEMA }` or `SHOW { DATABASES |
    /// SCHEMAS }`; `None` when the statement is not about databases.
    pub(super) fn parse_database_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        // A guard consumes its keyword only when it is there, so a failed guard leaves the cursor as it was.
        Some(match verb {
            Keyword::Create if self.eat_kw(Keyword::Database) || self.eat_kw(Keyword::Schema) => {
                self.parse_if_not_exists().and_then(|if_not_exists| {
                    self.parse_ident(ObjectKind::Database).map(|name| CreateDatabase { if_not_exists, name }.into())
                })
            }
            Keyword::Drop if self.eat_kw(Keyword::Database) || self.eat_kw(Keyword::Schema) => {
                self.parse_if_exists().and_then(|if_exists| {
                    self.parse_ident(ObjectKind::Database).map(|name| DropDatabase { if_exists, name }.into())
                })
            }
            Keyword::Show if self.eat_kw(Keyword::Databases) || self.eat_kw(Keyword::Schemas) => {
                self.parse_like().map(|like| ShowDatabases { like }.into())
            }
            _ => return None,
        })
    }
}
