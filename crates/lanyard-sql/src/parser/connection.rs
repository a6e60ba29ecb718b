//! `CONNECTION` statements.

use lanyard_core::{ObjectKind, OptionMap, OptionValue};
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{AlterConnection, AlterConnectionAction, ConnectionType, CreateConnection};

impl Parser<'_> {
    /// After `CREATE CONNECTION`.
    pub(super) fn parse_create_connection(&mut self) -> PResult<CreateConnection> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_name(ObjectKind::Connection)?;
        let mut connection_type = None;
        let mut description = None;
        let mut options: Option<OptionMap> = None;
        let mut credential = None;
        let mut credential_storage = None;
        let mut max_connections = None;
        let mut timeout_seconds = None;
        loop {
            let clause_start = self.peek_ref().span;
            let Some(clause) =
                self.peek_keyword_of(&["TYPE", "DESCRIPTION", "OPTIONS", "CREDENTIAL", "MAX_CONNECTIONS", "TIMEOUT"])
            else {
                break;
            };
            let mut label = clause;
            let already = match clause {
                "TYPE" => {
                    self.advance();
                    self.eat_eq();
                    let t = self.parse_type_word("a connection type (postgresql, mysql, s3, rest, …)")?;
                    connection_type.replace(ConnectionType::new(&t)).is_some()
                }
                "DESCRIPTION" => {
                    self.advance();
                    self.eat_eq();
                    description.replace(self.parse_string("the description")?).is_some()
                }
                "OPTIONS" => {
                    self.advance();
                    self.eat_eq();
                    options.replace(self.parse_option_list()?).is_some()
                }
                "CREDENTIAL" => {
                    self.advance();
                    if self.eat_token(&Token::Eq) || !self.peek_kw("STORAGE") {
                        credential.replace(self.parse_name(ObjectKind::VaultEntry)?).is_some()
                    } else {
                        self.advance();
                        self.eat_eq();
                        label = "CREDENTIAL STORAGE";
                        credential_storage.replace(self.parse_name(ObjectKind::CredentialStorage)?).is_some()
                    }
                }
                "MAX_CONNECTIONS" => {
                    self.advance();
                    self.eat_eq();
                    max_connections.replace(self.parse_u32("MAX_CONNECTIONS")?).is_some()
                }
                "TIMEOUT" => {
                    self.advance();
                    self.eat_eq();
                    timeout_seconds.replace(self.parse_u32("TIMEOUT (seconds)")?).is_some()
                }
                _ => break,
            };
            if already {
                return Err(self.clause_twice(clause_start, label, "CREATE CONNECTION"));
            }
        }
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
    pub(super) fn parse_alter_connection(&mut self) -> PResult<AlterConnection> {
        let if_exists = self.parse_if_exists()?;
        let name = self.parse_name(ObjectKind::Connection)?;
        let mut actions = Vec::new();
        loop {
            let action = if self.eat_kw("SET") {
                self.parse_connection_set()?
            } else if self.eat_kw("UNSET") {
                if self.eat_kw("OPTION") {
                    AlterConnectionAction::UnsetOption(self.parse_option_key()?)
                } else if self.eat_kw("CREDENTIAL") {
                    if self.eat_kw("STORAGE") {
                        AlterConnectionAction::UnsetCredentialStorage
                    } else {
                        AlterConnectionAction::UnsetCredential
                    }
                } else {
                    return Err(self.expected("OPTION, CREDENTIAL or CREDENTIAL STORAGE after UNSET"));
                }
            } else if self.eat_kw("RENAME") {
                self.expect_kw("TO", "after RENAME")?;
                AlterConnectionAction::RenameTo(self.parse_name(ObjectKind::Connection)?)
            } else {
                break;
            };
            actions.push(action);
        }
        if actions.is_empty() {
            if self.at_end_of_statement() {
                return Err(self.error_after("ALTER CONNECTION needs at least one action").with_hint(
                    "Add SET OPTIONS (...), SET CREDENTIAL = <entry>, SET CREDENTIAL STORAGE = <backend> or RENAME TO <name>.",
                ));
            }
            return Err(self.expected("an ALTER CONNECTION action (SET, UNSET or RENAME TO)"));
        }
        Ok(AlterConnection { if_exists, name, actions })
    }

    /// After `SET` in `ALTER CONNECTION`.
    fn parse_connection_set(&mut self) -> PResult<AlterConnectionAction> {
        if self.eat_kw("OPTIONS") {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetOptions(self.parse_option_list()?));
        }
        if self.eat_kw("OPTION") {
            let key = self.parse_option_key()?;
            self.expect_eq_after_key(&key)?;
            let value = self.parse_option_value(&key)?;
            let value = OptionValue::for_key(&key, value);
            return Ok(AlterConnectionAction::SetOption { key, value });
        }
        if self.eat_kw("CREDENTIAL") {
            if self.eat_token(&Token::Eq) || !self.peek_kw("STORAGE") {
                return Ok(AlterConnectionAction::SetCredential(self.parse_name(ObjectKind::VaultEntry)?));
            }
            self.advance();
            self.eat_eq();
            return Ok(AlterConnectionAction::SetCredentialStorage(self.parse_name(ObjectKind::CredentialStorage)?));
        }
        if self.eat_kw("DESCRIPTION") {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetDescription(self.parse_string("the description")?));
        }
        if self.eat_kw("MAX_CONNECTIONS") {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetMaxConnections(self.parse_u32("MAX_CONNECTIONS")?));
        }
        if self.eat_kw("TIMEOUT") {
            self.eat_eq();
            return Ok(AlterConnectionAction::SetTimeout(self.parse_u32("TIMEOUT (seconds)")?));
        }
        Err(self.expected(
            "OPTIONS, OPTION, CREDENTIAL, CREDENTIAL STORAGE, DESCRIPTION, MAX_CONNECTIONS or TIMEOUT after SET",
        ))
    }
}
