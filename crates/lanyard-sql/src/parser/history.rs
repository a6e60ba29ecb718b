//! Object history: `SHOW HISTORY FOR …`, and the productions the other families share for it: the `AT <point>` of
//! the DESCRIBE statements and the `ROLLBACK TO VERSION n` action of the ALTER statements.

use lanyard_core::ObjectKind;
use sqlparser::tokenizer::Token;

use super::{PResult, Parser};
use crate::ast::{HistoryObject, PointInTime, ShowHistory, Statement, VaultNoun};
use crate::keywords::Keyword;

/// What the message of a bad `AT '…'` literal shows as an example.
const TIMESTAMP_EXAMPLE: &str = "'2026-12-01T10:00:00Z'";

/// The hint of a bad `AT '…'` literal.
const TIMESTAMP_HINT: &str =
    "Write the date, T, the time and the offset from UTC (Z, or +hh:mm / -hh:mm), as in '2026-12-01T10:00:00+02:00'.";

impl Parser<'_> {
    /// After the verb: `SHOW HISTORY FOR …`; `None` when the statement is not about history.
    pub(super) fn parse_history_statement(&mut self, verb: Keyword) -> Option<PResult<Statement>> {
        (verb == Keyword::Show && self.eat_kw(Keyword::History)).then(|| self.parse_show_history().map(Into::into))
    }

    /// After `SHOW HISTORY`.
    fn parse_show_history(&mut self) -> PResult<ShowHistory> {
        self.expect_kw(Keyword::For, "after SHOW HISTORY")?;
        // `CREDENTIAL STORAGE` first, as the statement families are tried: `CREDENTIAL` followed by an unquoted
        // `STORAGE` is a credential storage (an entry named `storage` is written `CREDENTIAL "storage"`).
        let object = if self.eat_kw(Keyword::Connection) {
            HistoryObject::Connection(self.parse_name(ObjectKind::Connection)?)
        } else if self.eat_kws(&[Keyword::Credential, Keyword::Storage]) {
            HistoryObject::CredentialStorage(self.parse_name(ObjectKind::CredentialStorage)?)
        } else if self.eat_kw(Keyword::Vault) {
            HistoryObject::Vault { noun: VaultNoun::Vault, name: self.parse_name(ObjectKind::VaultEntry)? }
        } else if self.eat_kw(Keyword::Credential) {
            HistoryObject::Vault { noun: VaultNoun::Credential, name: self.parse_name(ObjectKind::VaultEntry)? }
        } else if self.eat_kw(Keyword::Link) {
            HistoryObject::Link(self.parse_qualified_name(ObjectKind::Link)?)
        } else {
            return Err(
                self.expected("CONNECTION, VAULT, CREDENTIAL, CREDENTIAL STORAGE or LINK after SHOW HISTORY FOR")
            );
        };
        let limit = if self.eat_kw(Keyword::Limit) { Some(self.parse_limit()?) } else { None };
        if !self.at_end_of_statement() {
            let what = if limit.is_some() { "the end of the statement" } else { "LIMIT or the end of the statement" };
            return Err(self.expected(what));
        }
        Ok(ShowHistory { object, limit })
    }

    /// After `LIMIT`: a whole number from 1 to 4294967295.
    fn parse_limit(&mut self) -> PResult<u32> {
        let Token::Number(n, _) = self.peek() else { return Err(self.expected("the number of versions after LIMIT")) };
        match n.parse::<u32>() {
            Ok(limit) if limit >= 1 => {
                self.advance();
                Ok(limit)
            }
            _ => Err(self.error_here(format!("LIMIT must be a whole number between 1 and {}", u32::MAX))),
        }
    }

    /// `[AT <point>]` after the name of a DESCRIBE statement, which then ends: `AT VERSION n`, or `AT '<timestamp>'`
    /// with an RFC 3339 timestamp, checked here.
    pub(super) fn parse_point_in_time(&mut self) -> PResult<Option<PointInTime>> {
        if !self.eat_kw(Keyword::At) {
            if self.at_end_of_statement() {
                return Ok(None);
            }
            return Err(self.expected("AT or the end of the statement"));
        }
        if self.eat_kw(Keyword::Version) {
            return Ok(Some(PointInTime::Version(self.parse_version()?)));
        }
        let Token::SingleQuotedString(text) = self.peek() else {
            return Err(self.expected(&format!("VERSION <n> or a timestamp such as {TIMESTAMP_EXAMPLE} after AT")));
        };
        if text.parse::<jiff::Timestamp>().is_err() {
            return Err(self
                .error_here(format!("expected an RFC 3339 timestamp such as {TIMESTAMP_EXAMPLE}"))
                .with_hint(TIMESTAMP_HINT));
        }
        let time = text.clone();
        self.advance();
        Ok(Some(PointInTime::Time(time)))
    }

    /// After `ROLLBACK` (an ALTER action): `TO VERSION n`.
    pub(super) fn parse_rollback_to_version(&mut self) -> PResult<i64> {
        self.expect_kw(Keyword::To, "after ROLLBACK")?;
        self.expect_kw(Keyword::Version, "after ROLLBACK TO")?;
        self.parse_version()
    }

    /// After `VERSION`: a version number, a whole number from 1 to 9223372036854775807.
    fn parse_version(&mut self) -> PResult<i64> {
        let Token::Number(n, _) = self.peek() else { return Err(self.expected("a version number after VERSION")) };
        match n.parse::<i64>() {
            Ok(version) if version >= 1 => {
                self.advance();
                Ok(version)
            }
            _ => Err(self.error_here(format!("a version must be a whole number between 1 and {}", i64::MAX))),
        }
    }
}
