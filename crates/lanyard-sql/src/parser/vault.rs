//! `VAULT` / `CREDENTIAL` statements.

use lanyard_core::ObjectKind;
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{
    AlterVault, AlterVaultAction, CreateVault, DescribeVault, DropVault, EntryType, Material, ShowVaults, Statement,
    VaultNoun,
};
use crate::keywords::Keyword;

impl Parser<'_> {
    /// After the verb: `{CREATE | ALTER | DROP | DESCRIBE} {VAULT | CREDENTIAL} …` or
    /// `SHOW {VAULTS | CREDENTIALS} …`; `None` when the statement is not about vault entries. `CREDENTIAL STORAGE`
    /// must have been ruled out first.
    pub(super) fn parse_vault_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        if verb == Keyword::Show {
            let noun = self.eat_vault_noun(Keyword::Vaults, Keyword::Credentials)?;
            return Some(self.parse_like().map(|like| ShowVaults { noun, like }.into()));
        }
        if ![Keyword::Create, Keyword::Alter, Keyword::Drop, Keyword::Describe].contains(&verb) {
            return None;
        }
        let noun = self.eat_vault_noun(Keyword::Vault, Keyword::Credential)?;
        Some(match verb {
            Keyword::Create => self.parse_create_vault(noun).map(Into::into),
            Keyword::Alter => self.parse_alter_vault(noun).map(Into::into),
            Keyword::Drop => self
                .parse_if_exists_name(ObjectKind::VaultEntry)
                .map(|(if_exists, name)| DropVault { noun, if_exists, name }.into()),
            _ => self.parse_if_exists_name(ObjectKind::VaultEntry).and_then(|(if_exists, name)| {
                Ok(DescribeVault { noun, if_exists, name, at: self.parse_point_in_time()? }.into())
            }),
        })
    }

    /// The vault's noun, written `vault` (`VAULT` or `VAULTS`) or `credential` (`CREDENTIAL` or `CREDENTIALS`).
    fn eat_vault_noun(&mut self, vault: Keyword, credential: Keyword) -> Option<VaultNoun> {
        let noun = match self.peek_keyword_of(&[vault, credential])? {
            keyword if keyword == vault => VaultNoun::Vault,
            _ => VaultNoun::Credential,
        };
        self.advance();
        Some(noun)
    }

    /// After `CREATE VAULT` / `CREATE CREDENTIAL`.
    fn parse_create_vault(&mut self, noun: VaultNoun) -> PResult<CreateVault> {
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
        let clauses = [
            Keyword::Type,
            Keyword::Algorithm,
            Keyword::KeySize,
            Keyword::Secret,
            Keyword::Generate,
            Keyword::Linked,
            Keyword::In,
            Keyword::Description,
            Keyword::Expires,
        ];
        self.parse_create_clauses("CREATE VAULT", &clauses, |p, clause, start| {
            Ok(match clause {
                Keyword::Type => ("TYPE", p.clause_value(&mut entry_type, Self::parse_entry_type)?),
                Keyword::Algorithm => ("ALGORITHM", p.clause_value(&mut algorithm, Self::parse_algorithm)?),
                Keyword::KeySize => ("KEY_SIZE", p.clause_value(&mut key_size, |p| p.parse_u32("KEY_SIZE (bits)"))?),
                Keyword::Secret | Keyword::Generate | Keyword::Linked => {
                    if material.is_some() {
                        return Err(p
                            .error_here("SECRET, GENERATE and LINKED EXTERNAL SECRET are mutually exclusive")
                            .with_hint("Give at most one source of material for a vault entry."));
                    }
                    p.advance();
                    material = Some(match clause {
                        Keyword::Secret => {
                            p.eat_eq();
                            Material::Secret(p.parse_secret_string("the secret value")?)
                        }
                        Keyword::Generate => {
                            generate_at = Some(start);
                            Material::Generate
                        }
                        _ => {
                            p.expect_kw(Keyword::External, "after LINKED")?;
                            p.expect_kw(Keyword::Secret, "after LINKED EXTERNAL")?;
                            p.eat_eq();
                            Material::LinkedExternal(p.parse_string("the external secret name")?)
                        }
                    });
                    ("", false)
                }
                Keyword::In => {
                    p.advance();
                    p.expect_kw(Keyword::Credential, "after IN")?;
                    p.expect_kw(Keyword::Storage, "after IN CREDENTIAL")?;
                    ("IN CREDENTIAL STORAGE", storage.replace(p.parse_name(ObjectKind::CredentialStorage)?).is_some())
                }
                Keyword::Description => {
                    ("DESCRIPTION", p.clause_value(&mut description, |p| p.parse_string("the description"))?)
                }
                _ => ("EXPIRES", p.clause_value(&mut expires, |p| p.parse_string("the expiry timestamp"))?),
            })
        })?;
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
        // An entry without material could never be resolved: it would fail only at connect time.
        let Some(material) = material else {
            let (expected, hint) = match entry_type {
                EntryType::EncryptionKey => (
                    "SECRET '...', GENERATE or LINKED EXTERNAL SECRET '...' (a vault entry needs material)",
                    "Give the entry its material: SECRET '<value>', GENERATE (new random key material), or LINKED \
                     EXTERNAL SECRET '<external_name>' IN CREDENTIAL STORAGE <storage> for a secret that already lives \
                     in a backend.",
                ),
                EntryType::Credential => (
                    "SECRET '...' or LINKED EXTERNAL SECRET '...' (a vault entry needs material)",
                    "Give the entry its material: SECRET '<value>', or LINKED EXTERNAL SECRET '<external_name>' IN \
                     CREDENTIAL STORAGE <storage> for a secret that already lives in a backend.",
                ),
            };
            return Err(self.expected(expected).with_hint(hint));
        };
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

    /// After `TYPE [=]` in `CREATE VAULT`.
    fn parse_entry_type(&mut self) -> PResult<EntryType> {
        if self.eat_kw(Keyword::EncryptionKey) {
            Ok(EntryType::EncryptionKey)
        } else if self.eat_kw(Keyword::Credential) {
            Ok(EntryType::Credential)
        } else {
            Err(self.expected("ENCRYPTION_KEY or CREDENTIAL after TYPE ="))
        }
    }

    /// After `ALGORITHM [=]`: a bare word or a string.
    fn parse_algorithm(&mut self) -> PResult<String> {
        match self.peek() {
            Token::Word(w) if w.quote_style.is_none() => {
                let algorithm = w.value.clone();
                self.advance();
                Ok(algorithm)
            }
            _ => self.parse_string("the algorithm"),
        }
    }

    /// After `ALTER VAULT` / `ALTER CREDENTIAL`.
    fn parse_alter_vault(&mut self, noun: VaultNoun) -> PResult<AlterVault> {
        let if_exists = self.parse_if_exists()?;
        let name = self.parse_name(ObjectKind::VaultEntry)?;
        let statement = if noun == VaultNoun::Vault { "ALTER VAULT" } else { "ALTER CREDENTIAL" };
        let actions = self.parse_alter_actions(
            statement,
            "Add ROTATE, SET SECRET '...', SET DESCRIPTION '...', SET EXPIRES '...' or RENAME TO <name>.",
            &format!("a {statement} action (ROTATE, SET, RENAME TO or ROLLBACK TO VERSION)"),
            |p| {
                Ok(Some(if p.eat_kw(Keyword::Rotate) {
                    AlterVaultAction::Rotate
                } else if p.eat_kw(Keyword::Set) {
                    if p.eat_kw(Keyword::Secret) {
                        p.eat_eq();
                        AlterVaultAction::SetSecret(p.parse_secret_string("the secret value")?)
                    } else if p.eat_kw(Keyword::Description) {
                        p.eat_eq();
                        AlterVaultAction::SetDescription(p.parse_string("the description")?)
                    } else if p.eat_kw(Keyword::Expires) {
                        p.eat_eq();
                        AlterVaultAction::SetExpires(p.parse_string("the expiry timestamp")?)
                    } else {
                        return Err(p.expected("SECRET, DESCRIPTION or EXPIRES after SET"));
                    }
                } else if p.eat_kw(Keyword::Rename) {
                    p.expect_kw(Keyword::To, "after RENAME")?;
                    AlterVaultAction::RenameTo(p.parse_name(ObjectKind::VaultEntry)?)
                } else if p.eat_kw(Keyword::Rollback) {
                    AlterVaultAction::RollbackToVersion(p.parse_rollback_to_version()?)
                } else {
                    return Ok(None);
                }))
            },
        )?;
        Ok(AlterVault { noun, if_exists, name, actions })
    }
}
