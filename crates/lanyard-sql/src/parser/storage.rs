//! `CREDENTIAL STORAGE` statements.

use lanyard_core::ObjectKind;

use super::{PResult, Parser};
use crate::ast::{AlterCredentialStorage, AlterCredentialStorageAction, BackendKind, CreateCredentialStorage};

impl Parser<'_> {
    /// After `CREATE CREDENTIAL STORAGE`.
    pub(super) fn parse_create_storage(&mut self) -> PResult<CreateCredentialStorage> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_name(ObjectKind::CredentialStorage)?;
        let mut kind = None;
        let mut description = None;
        let mut options = None;
        let mut active = None;
        loop {
            let clause_start = self.peek_ref().span;
            let Some(clause) = self.peek_keyword_of(&["TYPE", "DESCRIPTION", "OPTIONS", "ACTIVE", "INACTIVE"]) else {
                break;
            };
            let (label, already) = match clause {
                "TYPE" => {
                    self.advance();
                    self.eat_eq();
                    let t = self.parse_type_word(
                        "a backend type (LOCAL, OS_KEYCHAIN, AWS, AZURE, HASHICORP, GCP, MEMORY or a plugin kind)",
                    )?;
                    ("TYPE", kind.replace(BackendKind::new(&t)).is_some())
                }
                "DESCRIPTION" => {
                    self.advance();
                    self.eat_eq();
                    ("DESCRIPTION", description.replace(self.parse_string("the description")?).is_some())
                }
                "OPTIONS" => {
                    self.advance();
                    self.eat_eq();
                    ("OPTIONS", options.replace(self.parse_option_list()?).is_some())
                }
                "ACTIVE" | "INACTIVE" => {
                    let value = self.peek_kw("ACTIVE");
                    self.advance();
                    ("ACTIVE or INACTIVE", active.replace(value).is_some())
                }
                _ => break,
            };
            if already {
                return Err(self.clause_twice(clause_start, label, "CREATE CREDENTIAL STORAGE"));
            }
        }
        let Some(kind) = kind else {
            return Err(self.expected("TYPE = <backend type> (CREATE CREDENTIAL STORAGE needs a TYPE)"));
        };
        if !self.at_end_of_statement() {
            return Err(self.expected("DESCRIPTION, OPTIONS, ACTIVE, INACTIVE or the end of the statement"));
        }
        Ok(CreateCredentialStorage {
            if_not_exists,
            name,
            kind,
            description,
            options: options.unwrap_or_default(),
            active,
        })
    }

    /// After `ALTER CREDENTIAL STORAGE`.
    pub(super) fn parse_alter_storage(&mut self) -> PResult<AlterCredentialStorage> {
        let if_exists = self.parse_if_exists()?;
        let name = self.parse_name(ObjectKind::CredentialStorage)?;
        let mut actions = Vec::new();
        loop {
            let action = if self.eat_kw("SET") {
                if self.eat_kw("OPTIONS") {
                    self.eat_eq();
                    AlterCredentialStorageAction::SetOptions(self.parse_option_list()?)
                } else if self.eat_kw("DESCRIPTION") {
                    self.eat_eq();
                    AlterCredentialStorageAction::SetDescription(self.parse_string("the description")?)
                } else {
                    return Err(self.expected("OPTIONS or DESCRIPTION after SET"));
                }
            } else if self.eat_kw("ACTIVE") {
                AlterCredentialStorageAction::SetActive(true)
            } else if self.eat_kw("INACTIVE") {
                AlterCredentialStorageAction::SetActive(false)
            } else if self.eat_kw("RENAME") {
                self.expect_kw("TO", "after RENAME")?;
                AlterCredentialStorageAction::RenameTo(self.parse_name(ObjectKind::CredentialStorage)?)
            } else {
                break;
            };
            actions.push(action);
        }
        if actions.is_empty() {
            if self.at_end_of_statement() {
                return Err(self
                    .error_after("ALTER CREDENTIAL STORAGE needs at least one action")
                    .with_hint("Add SET OPTIONS (...), SET DESCRIPTION '...', ACTIVE, INACTIVE or RENAME TO <name>."));
            }
            return Err(self.expected("an ALTER CREDENTIAL STORAGE action (SET, ACTIVE, INACTIVE or RENAME TO)"));
        }
        Ok(AlterCredentialStorage { if_exists, name, actions })
    }
}
