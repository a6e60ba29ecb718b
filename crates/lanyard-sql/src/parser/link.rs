//! `LINK` statements and `USE` (SingleStore dialect).

use lanyard_core::{ObjectKind, SecretString};
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{
    AlterLink, CreateLink, CredentialsSource, DescribeLink, DropLink, JsonObject, LinkSet, LinkType, ShowCreateLink,
    ShowLinks, Statement, TestLink, Use,
};
use crate::keywords::Keyword;

impl Parser<'_> {
    /// After the verb: `CREATE [OR REPLACE] LINK`, `ALTER LINK`, `DROP LINK`, `SHOW LINKS`, `SHOW CREATE LINK`,
    /// `DESCRIBE LINK`, `TEST LINK` or `USE`; `None` when the statement is not about links.
    pub(super) fn parse_link_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        // A guard consumes its keywords only when they are there, so a failed guard leaves the cursor as it was.
        Some(match verb {
            Keyword::Create if self.peek_kw(Keyword::Or) => self.parse_create_or_replace_link().map(Into::into),
            Keyword::Create if self.eat_kw(Keyword::Link) => self.parse_create_link(false).map(Into::into),
            Keyword::Alter if self.eat_kw(Keyword::Link) => self.parse_alter_link().map(Into::into),
            Keyword::Drop if self.eat_kw(Keyword::Link) => self.parse_if_exists().and_then(|if_exists| {
                self.parse_qualified_name(ObjectKind::Link).map(|name| DropLink { if_exists, name }.into())
            }),
            Keyword::Test if self.eat_kw(Keyword::Link) => self.parse_if_exists().and_then(|if_exists| {
                self.parse_qualified_name(ObjectKind::Link).map(|name| TestLink { if_exists, name }.into())
            }),
            Keyword::Describe if self.eat_kw(Keyword::Link) => self.parse_if_exists().and_then(|if_exists| {
                let name = self.parse_qualified_name(ObjectKind::Link)?;
                Ok(DescribeLink { if_exists, name, at: self.parse_point_in_time()? }.into())
            }),
            Keyword::Show if self.eat_kw(Keyword::Links) => self
                .parse_on_database()
                .and_then(|database| self.parse_like().map(|like| ShowLinks { database, like }.into())),
            Keyword::Show if self.eat_kws(&[Keyword::Create, Keyword::Link]) => {
                self.parse_qualified_name(ObjectKind::Link).map(|name| ShowCreateLink { name }.into())
            }
            Keyword::Use => self.parse_ident(ObjectKind::Database).map(|database| Use { database }.into()),
            _ => return None,
        })
    }

    /// After `CREATE`, at `OR`: only links can be replaced.
    fn parse_create_or_replace_link(&mut self) -> PResult<CreateLink> {
        self.advance();
        self.expect_kw(Keyword::Replace, "after CREATE OR")?;
        if !self.eat_kw(Keyword::Link) {
            return Err(self.expected("LINK after CREATE OR REPLACE (only links can be replaced)"));
        }
        self.parse_create_link(true)
    }

    /// After `CREATE [OR REPLACE] LINK`.
    fn parse_create_link(&mut self, or_replace: bool) -> PResult<CreateLink> {
        let if_not_exists_at = self.peek_ref().span;
        let if_not_exists = self.parse_if_not_exists()?;
        if or_replace && if_not_exists {
            let location = self.location_of_span(if_not_exists_at);
            return Err(self.error_at(location, 2, "OR REPLACE and IF NOT EXISTS cannot be used together"));
        }
        let name = self.parse_qualified_name(ObjectKind::Link)?;
        self.expect_kw(Keyword::As, "after the link name")?;
        let link_type = match self.peek() {
            Token::Word(w) if w.quote_style.is_none() => w.value.parse::<LinkType>().ok(),
            _ => None,
        };
        let Some(link_type) = link_type else {
            return Err(self.expected("a link type (S3, AZURE, GCS, HDFS, HTTP, KAFKA, MONGODB or MYSQL) after AS"));
        };
        self.advance();
        let mut config = None;
        let mut credentials = None;
        let mut description = None;
        let clauses = [Keyword::Config, Keyword::Credentials, Keyword::Description];
        self.parse_create_clauses("CREATE LINK", &clauses, |p, clause, _| {
            p.advance();
            Ok(match clause {
                Keyword::Config => ("CONFIG", config.replace(p.parse_json_object("CONFIG")?).is_some()),
                Keyword::Credentials => {
                    let source = if p.peek_kw(Keyword::From) {
                        CredentialsSource::Entry(p.parse_from_vault("CREDENTIALS")?)
                    } else {
                        CredentialsSource::Json(p.parse_secret_json_object("CREDENTIALS")?)
                    };
                    ("CREDENTIALS", credentials.replace(source).is_some())
                }
                _ => ("DESCRIPTION", description.replace(p.parse_link_string("the description")?).is_some()),
            })
        })?;
        if !self.at_end_of_statement() {
            return Err(self.expected("CONFIG, CREDENTIALS, DESCRIPTION or the end of the statement"));
        }
        Ok(CreateLink { or_replace, if_not_exists, name, link_type, config, credentials, description })
    }

    /// After `ALTER LINK`.
    fn parse_alter_link(&mut self) -> PResult<AlterLink> {
        let name = self.parse_qualified_name(ObjectKind::Link)?;
        let mut clauses: Vec<LinkSet> = Vec::new();
        while let Some(keyword) = self.peek_keyword_of(&[Keyword::Set, Keyword::Rollback]) {
            let clause_start = self.peek_ref().span;
            self.advance();
            let clause = if keyword == Keyword::Rollback {
                LinkSet::RollbackToVersion(self.parse_rollback_to_version()?)
            } else if self.eat_kw(Keyword::Config) {
                if self.eat_token(&Token::DoubleColon) {
                    let key = self.parse_link_key()?;
                    self.expect_token(&Token::Eq, "after the config key")?;
                    LinkSet::ConfigKey { key, value: self.parse_config_value()? }
                } else {
                    LinkSet::ConfigJson(self.parse_json_object("SET CONFIG")?)
                }
            } else if self.eat_kw(Keyword::Credentials) {
                if self.eat_token(&Token::DoubleColon) {
                    let key = self.parse_link_key()?;
                    self.expect_token(&Token::Eq, "after the credential key")?;
                    let value = self.parse_link_secret_string("the credential value")?;
                    LinkSet::CredentialsKey { key, value }
                } else if self.peek_kw(Keyword::From) {
                    LinkSet::CredentialsEntry(self.parse_from_vault("SET CREDENTIALS")?)
                } else {
                    LinkSet::CredentialsJson(self.parse_secret_json_object("SET CREDENTIALS")?)
                }
            } else {
                return Err(self.expected("CONFIG or CREDENTIALS after SET"));
            };
            if clauses.iter().any(|c| c.kind() == clause.kind()) {
                let kind = clause.kind();
                let location = self.location_of_span(clause_start);
                let hint = if keyword == Keyword::Rollback {
                    "An ALTER LINK can roll back to one version, with at most one SET CONFIG and one SET CREDENTIALS."
                } else {
                    "Each ALTER LINK can contain at most two SET clauses: one SET CONFIG and one SET CREDENTIALS."
                };
                return Err(self
                    .error_at(
                        location,
                        Self::caret_width(clause_start),
                        format!("ALTER LINK accepts at most one {kind} clause"),
                    )
                    .with_hint(hint));
            }
            clauses.push(clause);
            let start = self.location_of_span(clause_start);
            self.record_action(start);
        }
        if clauses.is_empty() {
            if self.at_end_of_statement() {
                return Err(self.error_after(
                    "ALTER LINK needs at least one SET CONFIG, SET CREDENTIALS or ROLLBACK TO VERSION clause",
                ));
            }
            return Err(self.expected("SET CONFIG, SET CREDENTIALS or ROLLBACK TO VERSION"));
        }
        Ok(AlterLink { name, clauses })
    }

    /// `FROM VAULT entry` after `clause` (`CREDENTIALS` or `SET CREDENTIALS`), at `FROM`: the entry's name is an
    /// identifier, a quoted identifier or a single-quoted string, as DeltaForge names are.
    fn parse_from_vault(&mut self, clause: &str) -> PResult<lanyard_core::Name> {
        self.advance();
        self.expect_kw(Keyword::Vault, &format!("after {clause} FROM"))?;
        self.parse_name(ObjectKind::VaultEntry)
    }

    /// The key after `::`: an identifier (dots allowed), a quoted identifier or a string.
    fn parse_link_key(&mut self) -> PResult<String> {
        Ok(self.parse_option_key()?.as_str().to_owned())
    }

    /// A `::key = value` config value: a quoted string, or a bare number, TRUE, FALSE or NULL.
    fn parse_config_value(&mut self) -> PResult<serde_json::Value> {
        let value = match self.peek() {
            Token::Number(n, _) => serde_json::from_str::<serde_json::Number>(n).ok().map(serde_json::Value::Number),
            Token::Word(w) if w.quote_style.is_none() => match Keyword::lookup(&w.value) {
                Some(Keyword::True) => Some(serde_json::Value::Bool(true)),
                Some(Keyword::False) => Some(serde_json::Value::Bool(false)),
                Some(Keyword::Null) => Some(serde_json::Value::Null),
                _ => None,
            },
            _ => None,
        };
        if let Some(value) = value {
            self.advance();
            return Ok(value);
        }
        let text = self.parse_link_string("the config value (a quoted string, a number, TRUE, FALSE or NULL)")?;
        Ok(serde_json::Value::String(text))
    }

    /// A string literal holding a JSON object (CONFIG).
    fn parse_json_object(&mut self, clause: &str) -> PResult<JsonObject> {
        let at = self.peek_ref().span;
        let text = self.parse_link_string(&format!("the {clause} JSON object"))?;
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.json_error(at, format!("{clause} must be a JSON object ({{...}})"))),
            Err(e) => Err(self.json_error(at, format!("{clause} is not valid JSON: {}", json_problem(&e)))),
        }
    }

    /// A string literal holding a JSON object (CREDENTIALS), kept verbatim as a secret. Checked without building a
    /// value tree, so no copy of the material outlives the check; errors never quote the text.
    fn parse_secret_json_object(&mut self, clause: &str) -> PResult<SecretString> {
        let at = self.peek_ref().span;
        let text = self.parse_link_secret_string(&format!("the {clause} JSON object"))?;
        let trimmed = text.expose_secret().trim_start();
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text.expose_secret()) {
            return Err(self.json_error(at, format!("{clause} is not valid JSON: {}", json_problem(&e))));
        }
        if !trimmed.starts_with('{') {
            return Err(self.json_error(at, format!("{clause} must be a JSON object ({{...}})")));
        }
        Ok(text)
    }

    fn json_error(&self, at: sqlparser::tokenizer::Span, message: String) -> crate::ParseError {
        let location = self.location_of_span(at);
        self.error_at(location, 1, message)
    }
}

/// A serde_json error's category and position inside the literal, never its content.
fn json_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Eof => "it ends early",
        Category::Syntax => "syntax error",
        Category::Data | Category::Io => "unexpected content",
    };
    format!("{what} at line {} column {} of the literal", error.line(), error.column())
}
