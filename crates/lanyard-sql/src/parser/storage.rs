//! `CREDENTIAL STORAGE` statements.

use lanyard_core::ObjectKind;

use super::{PResult, Parser};
use crate::ast::{
    AlterCredentialStorage, AlterCredentialStorageAction, BackendKind, CreateCredentialStorage,
    DescribeCredentialStorage, DropCredentialStorage, ShowCredentialStorages, Statement, TestCredentialStorage,
};
use crate::keywords::Keyword;

impl Parser<'_> {
    /// After the verb: `{CREATE | ALTER | DROP | DESCRIBE | TEST} CREDENTIAL STORAGE …` or
    /// `SHOW CREDENTIAL STORAGES …`; `None` when the statement is not about credential storages.
    pub(super) fn parse_storage_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        if verb == Keyword::Show {
            return self
                .eat_kws(&[Keyword::Credential, Keyword::Storages])
                .then(|| Ok(ShowCredentialStorages { like: self.parse_like()? }.into()));
        }
        let verbs = [Keyword::Create, Keyword::Alter, Keyword::Drop, Keyword::Describe, Keyword::Test];
        if !verbs.contains(&verb) || !self.eat_kws(&[Keyword::Credential, Keyword::Storage]) {
            return None;
        }
        Some(match verb {
            Keyword::Create => self.parse_create_storage().map(Into::into),
            Keyword::Alter => self.parse_alter_storage().map(Into::into),
            Keyword::Describe => {
                self.parse_if_exists_name(ObjectKind::CredentialStorage).and_then(|(if_exists, name)| {
                    Ok(DescribeCredentialStorage { if_exists, name, at: self.parse_point_in_time()? }.into())
                })
            }
            _ => self.parse_if_exists_name(ObjectKind::CredentialStorage).map(|(if_exists, name)| match verb {
                Keyword::Drop => DropCredentialStorage { if_exists, name }.into(),
                _ => TestCredentialStorage { if_exists, name }.into(),
            }),
        })
    }

    /// After `CREATE CREDENTIAL STORAGE`.
    fn parse_create_storage(&mut self) -> PResult<CreateCredentialStorage> {
        let if_not_exists = self.parse_if_not_exists()?;
        let name = self.parse_name(ObjectKind::CredentialStorage)?;
        let mut kind = None;
        let mut description = None;
        let mut options = None;
        let mut active = None;
        let clauses = [Keyword::Type, Keyword::Description, Keyword::Options, Keyword::Active, Keyword::Inactive];
        self.parse_create_clauses("CREATE CREDENTIAL STORAGE", &clauses, |p, clause, _| {
            Ok(match clause {
                Keyword::Type => {
                    let what =
                        "a backend type (LOCAL, OS_KEYCHAIN, AWS, AZURE, HASHICORP, GCP, MEMORY or a plugin kind)";
                    ("TYPE", p.clause_value(&mut kind, |p| p.parse_type_word(what).map(|t| BackendKind::new(&t)))?)
                }
                Keyword::Description => {
                    ("DESCRIPTION", p.clause_value(&mut description, |p| p.parse_string("the description"))?)
                }
                Keyword::Options => ("OPTIONS", p.clause_value(&mut options, Self::parse_option_list)?),
                _ => {
                    p.advance();
                    ("ACTIVE or INACTIVE", active.replace(clause == Keyword::Active).is_some())
                }
            })
        })?;
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
    fn parse_alter_storage(&mut self) -> PResult<AlterCredentialStorage> {
        let if_exists = self.parse_if_exists()?;
        let name = self.parse_name(ObjectKind::CredentialStorage)?;
        let actions = self.parse_alter_actions(
            "ALTER CREDENTIAL STORAGE",
            "Add SET OPTIONS (...), SET DESCRIPTION '...', ACTIVE, INACTIVE or RENAME TO <name>.",
            "an ALTER CREDENTIAL STORAGE action (SET, ACTIVE, INACTIVE, RENAME TO or ROLLBACK TO VERSION)",
            |p| {
                Ok(Some(if p.eat_kw(Keyword::Set) {
                    if p.eat_kw(Keyword::Options) {
                        p.eat_eq();
                        AlterCredentialStorageAction::SetOptions(p.parse_option_list()?)
                    } else if p.eat_kw(Keyword::Description) {
                        p.eat_eq();
                        AlterCredentialStorageAction::SetDescription(p.parse_string("the description")?)
                    } else {
                        return Err(p.expected("OPTIONS or DESCRIPTION after SET"));
                    }
                } else if p.eat_kw(Keyword::Active) {
                    AlterCredentialStorageAction::SetActive(true)
                } else if p.eat_kw(Keyword::Inactive) {
                    AlterCredentialStorageAction::SetActive(false)
                } else if p.eat_kw(Keyword::Rename) {
                    p.expect_kw(Keyword::To, "after RENAME")?;
                    AlterCredentialStorageAction::RenameTo(p.parse_name(ObjectKind::CredentialStorage)?)
                } else if p.eat_kw(Keyword::Rollback) {
                    AlterCredentialStorageAction::RollbackToVersion(p.parse_rollback_to_version()?)
                } else {
                    return Ok(None);
                }))
            },
        )?;
        Ok(AlterCredentialStorage { if_exists, name, actions })
    }
}
