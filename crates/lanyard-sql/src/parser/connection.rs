//! `CONNECTION` statements.

use lanyard_core::{ObjectKind, OptionMap, OptionValue};
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{
    AlterConnection, AlterConnectionAction, ConnectionType, CreateConnection, DescribeConnection, DropConnection,
    ShowConnections, Statement, TestConnection,
};
use crate::keywords::Keyword;

impl Parser<'_> {
    /// After the verb: `{CREATE | ALTER | DROP | DESCRIBE | TEST} CONNECTION …` or `SHOW CONNECTIONS …`; `None` when
    /// the statement is not about connections.
    pub(super) fn parse_connection_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        if verb == Keyword::Show {
            return self.eat_kw(Keyword::Connections).then(|| Ok(ShowConnections { like: self.parse_like()? }.into()));
        }
        let verbs = [Keyword::Create, Keyword::Alter, Keyword::Drop, Keyword::Describe, Keyword::Test];
        if !verbs.contains(&verb) || !self.eat_kw(Keyword::Connection) {
            return None;
        }
        Some(match verb {
            Keyword::Create => self.parse_create_connection().map(Into::into),
            Keyword::Alter => self.parse_alter_connection().map(Into::into),
            Keyword::Describe => self.parse_if_exists_name(ObjectKind::Connection).and_then(|(if_exists, name)| {
                Ok(DescribeConnection { if_exists, name, at: self.parse_point_in_time()? }.into())
            }),
            _ => self.parse_if_exists_name(ObjectKind::Connection).map(|(if_exists, name)| match verb {
                Keyword::Drop => DropConnection { if_exists, name }.into(),
                _ => TestConnection { if_exists, name }.into(),
            }),
        })
    }

    /// After `CREATE CONNECTION`.
    fn parse_create_connection(&mut self) -> PResult<CreateConnection> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_name(ObjectKind::Connection)?;
        let mut connection_type = None;
        let mut description = None;
        let mut options: Option<OptionMap> = None;
        let mut credential = None;
        let mut credential_storage = None;
        let mut max_connections = None;
        let mut timeout_seconds = None;
        let clauses = [
            Keyword::Type,
            Keyword::Description,
            Keyword::Options,
            Keyword::Credential,
            Keyword::MaxConnections,
            Keyword::Timeout,
        ];
        self.parse_create_clauses("CREATE CONNECTION", &clauses, |p, clause, _| {
            Ok(match clause {
                Keyword::Type => {
                    let what = "a connection type (postgresql, mysql, s3, rest, …)";
                    (
                        "TYPE",
                        p.clause_value(&mut connection_type, |p| {
                            p.parse_type_word(what).map(|t| ConnectionType::new(&t))
                        })?,
                    )
                }
                Keyword::Description => {
                    ("DESCRIPTION", p.clause_value(&mut description, |p| p.parse_string("the description"))?)
                }
                Keyword::Options => ("OPTIONS", p.clause_value(&mut options, Self::parse_option_list)?),
                Keyword::Credential => {
                    p.advance();
                    if p.eat_token(&Token::Eq) || !p.peek_kw(Keyword::Storage) {
                        ("CREDENTIAL", credential.replace(p.parse_name(ObjectKind::VaultEntry)?).is_some())
                    } else {
                        let storage = |p: &mut Self| p.parse_name(ObjectKind::CredentialStorage);
                        ("CREDENTIAL STORAGE", p.clause_value(&mut credential_storage, storage)?)
                    }
                }
                Keyword::MaxConnections => {
                    ("MAX_CONNECTIONS", p.clause_value(&mut max_connections, |p| p.parse_u32("MAX_CONNECTIONS"))?)
                }
                _ => ("TIMEOUT", p.clause_value(&mut timeout_seconds, |p| p.parse_u32("TIMEOUT (seconds)"))?),
            })
        })?;
        let Some(connection_type) = connection_type else {
            return Err(self.expected("TYPE = <connection type> (CREATE CONNECTION needs a TYPE)"));
        };
        if !self.at_end_of_statement() {
            return Err(self.expected(
                "DESCRIPTION, OPTIONS, CREDENTIAL, CREDENTIAL STORAGE, MAX_CONNECTIONS, TIMEOUT or the end of the statement",
            ));
        }
        Ok(CreateConnection {
            if_not_exists,
            name,
            connection_type,
            description,
            options: options.unwrap_or_default(),
            credential,
            credential_storage,
            max_connections,
            timeout_seconds,
        })
    }

    /// After `ALTER CONNECTION`.
    fn parse_alter_connection(&mut self) -> PResult<AlterConnection> {
        let if_exists = self.parse_if_exists()?;
        let name = self.parse_name(ObjectKind::Connection)?;
        let actions = self.parse_alter_actions(
            "ALTER CONNECTION",
            "Add SET OPTIONS (...), SET CREDENTIAL = <entry>, SET CREDENTIAL STORAGE = <backend> or RENAME TO <name>.",
            "an ALTER CONNECTION action (SET, UNSET, RENAME TO or ROLLBACK TO VERSION)",
            |p| {
                Ok(Some(if p.eat_kw(Keyword::Set) {
                    p.parse_connection_set()?
                } else if p.eat_kw(Keyword::Unset) {
                    if p.eat_kw(Keyword::Option) {
                        AlterConnectionAction::UnsetOption(p.parse_option_key()?)
                    } else if p.eat_kw(Keyword::Credential) {
                        if p.eat_kw(Keyword::Storage) {
                            AlterConnectionAction::UnsetCredentialStorage
                        } else {
                            AlterConnectionAction::UnsetCredential
                        }
                    } else {
                        return Err(p.expected("OPTION, CREDENTIAL or CREDENTIAL STORAGE after UNSET"));
                    }
                } else if p.eat_kw(Keyword::Rename) {
                    p.expect_kw(Keyword::To, "after RENAME")?;
                    AlterConnectionAction::RenameTo(p.parse_name(ObjectKind::Connection)?)
                } else if p.eat_kw(Keyword::Rollback) {
                    AlterConnectionAction::RollbackToVersion(p.parse_rollback_to_version()?)
                } else {
                    return Ok(None);
                }))
            },
        )?;
        Ok(AlterConnection { if_exists, name, actions })
    }

    /// After `SET` in `ALTER CONNECTION`.
    fn parse_connection_set(&mut self) -> PResult<AlterConnectionAction> {
        if self.eat_kw(Keyword::Options) {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetOptions(self.parse_option_list()?));
        }
        if self.eat_kw(Keyword::Option) {
            let key = self.parse_option_key()?;
            self.expect_eq_after_key(&key)?;
            let value = self.parse_option_value(&key)?;
            let value = OptionValue::for_key(&key, value);
            return Ok(AlterConnectionAction::SetOption { key, value });
        }
        if self.eat_kw(Keyword::Credential) {
            if self.eat_token(&Token::Eq) || !self.peek_kw(Keyword::Storage) {
                return Ok(AlterConnectionAction::SetCredential(self.parse_name(ObjectKind::VaultEntry)?));
            }
            self.advance();
            self.eat_eq();
            return Ok(AlterConnectionAction::SetCredentialStorage(self.parse_name(ObjectKind::CredentialStorage)?));
        }
        if self.eat_kw(Keyword::Description) {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetDescription(self.parse_string("the description")?));
        }
        if self.eat_kw(Keyword::MaxConnections) {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetMaxConnections(self.parse_u32("MAX_CONNECTIONS")?));
        }
        if self.eat_kw(Keyword::Timeout) {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetTimeout(self.parse_u32("TIMEOUT (seconds)")?));
        }
        Err(self.expected(
            "OPTIONS, OPTION, CREDENTIAL, CREDENTIAL STORAGE, DESCRIPTION, MAX_CONNECTIONS or TIMEOUT after SET",
        ))
    }
}
