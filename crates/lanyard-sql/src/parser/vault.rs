//! `VAULT` / `CREDENTIAL` statements.

use lanyard_core::ObjectKind;
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{AlterVault, AlterVaultAction, CreateVault, EntryType, Material, VaultNoun};

impl Parser<'_> {
    /// After `CREATE VAULT` / `CREATE CREDENTIAL`.
    pub(super) fn parse_create_vault(&mut self, noun: VaultNoun) -> PResult<CreateVault> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_name(ObjectKind::VaultEntry)?;
        let mut entry_type = None;
        let mut algorithm = None;
        let mut key_size = None;
        let mut material: Option<Material> = None;
        let mut storage = None;
        let mut description = None;
        let mut expires = None;
        let mut generate_at = None;
        loop {
            let clause_start = self.peek_ref().span;
            let Some(clause) = self.peek_keyword_of(&[
                "TYPE",
                "ALGORITHM",
                "KEY_SIZE",
                "SECRET",
                "GENERATE",
                "LINKED",
                "IN",
                "DESCRIPTION",
                "EXPIRES",
            ]) else {
                break;
            };
            let (label, already) = match clause {
                "TYPE" => {
                    self.advance();
                    self.eat_eq();
                    let t = if self.eat_kw("ENCRYPTION_KEY") {
                        EntryType::EncryptionKey
                    } else if self.eat_kw("CREDENTIAL") {
                        EntryType::Credential
                    } else {
                        return Err(self.expected("ENCRYPTION_KEY or CREDENTIAL after TYPE ="));
                    };
                    ("TYPE", entry_type.replace(t).is_some())
                }
                "ALGORITHM" => {
                    self.advance();
                    self.eat_eq();
                    let a = match self.peek() {
                        Token::Word(w) if w.quote_style.is_none() => {
                            let a = w.value.clone();
                            self.advance();
                            a
                        }
                        _ => self.parse_string("the algorithm")?,
                    };
                    ("ALGORITHM", algorithm.replace(a).is_some())
                }
                "KEY_SIZE" => {
                    self.advance();
                    self.eat_eq();
                    ("KEY_SIZE", key_size.replace(self.parse_u32("KEY_SIZE (bits)")?).is_some())
                }
                "SECRET" | "GENERATE" | "LINKED" => {
                    if material.is_some() {
                        return Err(self
                            .error_here("SECRET, GENERATE and LINKED EXTERNAL SECRET are mutually exclusive")
                            .with_hint("Give at most one source of material for a vault entry."));
                    }
                    self.advance();
                    let m = match clause {
                        "SECRET" => {
                            self.eat_eq();
                            Material::Secret(self.parse_secret_string("the secret value")?)
                        }
                        "GENERATE" => {
                            generate_at = Some(clause_start);
                            Material::Generate
                        }
                        _ => {
                            self.expect_kw("EXTERNAL", "after LINKED")?;
                            self.expect_kw("SECRET", "after LINKED EXTERNAL")?;
                            self.eat_eq();
                            Material::LinkedExternal(self.parse_string("the external secret name")?)
                        }
                    };
                    material = Some(m);
                    ("", false)
                }
                "IN" => {
                    self.advance();
                    self.expect_kw("CREDENTIAL", "after IN")?;
                    self.expect_kw("STORAGE", "after IN CREDENTIAL")?;
                    (
                        "IN CREDENTIAL STORAGE",
                        storage.replace(self.parse_name(ObjectKind::CredentialStorage)?).is_some(),
                    )
                }
                "DESCRIPTION" => {
                    self.advance();
                    self.eat_eq();
                    ("DESCRIPTION", description.replace(self.parse_string("the description")?).is_some())
                }
                "EXPIRES" => {
                    self.advance();
                    self.eat_eq();
                    ("EXPIRES", expires.replace(self.parse_string("the expiry timestamp")?).is_some())
                }
                _ => break,
            };
            if already {
                return Err(self.clause_twice(clause_start, label, "CREATE VAULT"));
            }
        }
        let Some(entry_type) = entry_type else {
            return Err(self.expected("TYPE = ENCRYPTION_KEY or TYPE = CREDENTIAL (CREATE VAULT needs a TYPE)"));
        };
        if let (Some(at), EntryType::Credential) = (&generate_at, entry_type) {
            let location = self.location_of_span(*at);
            return Err(self
                .error_at(location, "GENERATE".len(), "GENERATE is only allowed with TYPE = ENCRYPTION_KEY")
                .with_hint(
                    "A CREDENTIAL entry takes its material from SECRET '...' or LINKED EXTERNAL SECRET '...'.",
                ));
        }
        if !self.at_end_of_statement() {
            return Err(self.expected(
                "ALGORITHM, KEY_SIZE, SECRET, GENERATE, LINKED EXTERNAL SECRET, IN CREDENTIAL STORAGE, DESCRIPTION, EXPIRES or the end of the statement",
            ));
        }
        Ok(CreateVault {
            noun,
            if_not_exists,
            name,
            entry_type,
            algorithm,
            key_size,
            material,
            storage,
            description,
            expires,
        })
    }

    /// After `ALTER VAULT` / `ALTER CREDENTIAL`.
    pub(super) fn parse_alter_vault(&mut self, noun: VaultNoun) -> PResult<AlterVault> {
        let if_exists = self.parse_if_exists()?;
        let name = self.parse_name(ObjectKind::VaultEntry)?;
        let mut actions = Vec::new();
        loop {
            let action = if self.eat_kw("ROTATE") {
                AlterVaultAction::Rotate
            } else if self.eat_kw("SET") {
                if self.eat_kw("SECRET") {
                    self.eat_eq();
                    AlterVaultAction::SetSecret(self.parse_secret_string("the secret value")?)
                } else if self.eat_kw("DESCRIPTION") {
                    self.eat_eq();
                    AlterVaultAction::SetDescription(self.parse_string("the description")?)
                } else if self.eat_kw("EXPIRES") {
                    self.eat_eq();
                    AlterVaultAction::SetExpires(self.parse_string("the expiry timestamp")?)
                } else {
                    return Err(self.expected("SECRET, DESCRIPTION or EXPIRES after SET"));
                }
            } else if self.eat_kw("RENAME") {
                self.expect_kw("TO", "after RENAME")?;
                AlterVaultAction::RenameTo(self.parse_name(ObjectKind::VaultEntry)?)
            } else {
                break;
            };
            actions.push(action);
        }
        if actions.is_empty() {
            let statement = if noun == VaultNoun::Vault { "ALTER VAULT" } else { "ALTER CREDENTIAL" };
            if self.at_end_of_statement() {
                return Err(self.error_after(format!("{statement} needs at least one action")).with_hint(
                    "Add ROTATE, SET SECRET '...', SET DESCRIPTION '...', SET EXPIRES '...' or RENAME TO <name>.",
                ));
            }
            return Err(self.expected(&format!("a {statement} action (ROTATE, SET or RENAME TO)")));
        }
        Ok(AlterVault { noun, if_exists, name, actions })
    }
}
