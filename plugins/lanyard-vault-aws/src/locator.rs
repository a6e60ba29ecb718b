//! The AWS part of a linked external name: `name-or-arn[?version_stage=AWSPREVIOUS|&version_id=…]`.

use lanyard_vault::{ErrorKind, Operation, Result, VaultError};

use crate::KIND;

/// What `GetSecretValue` is asked for: a `SecretId` (name or ARN) and optionally a `VersionStage` and/or
/// `VersionId`, from `name-or-arn[?version_stage=…][&version_id=…]` (query values may be percent-encoded).
///
/// The `#json_key` selector is not part of it: the resolver splits it off with
/// [`ExternalName`](lanyard_vault::ExternalName) and applies it to what `get` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// The secret's name or ARN.
    pub secret_id: String,
    /// `AWSCURRENT` (AWS's default), `AWSPREVIOUS`, `AWSPENDING` or a custom stage label.
    pub version_stage: Option<String>,
    /// A version id (a UUID).
    pub version_id: Option<String>,
}

impl Locator {
    /// The query keys a locator accepts.
    pub const QUERY_KEYS: [&'static str; 2] = ["version_stage", "version_id"];

    /// The current version of the secret `secret_id`.
    pub fn name(secret_id: impl Into<String>) -> Self {
        Self { secret_id: secret_id.into(), version_stage: None, version_id: None }
    }

    /// Parses `locator`; an empty name, an unknown or repeated query key, or an empty value is a
    /// [`ErrorKind::ConfigInvalid`] error naming it.
    pub fn parse(locator: &str) -> Result<Self> {
        let invalid = |detail: String| {
            VaultError::new(ErrorKind::ConfigInvalid, KIND, Operation::Get)
                .with_target(lanyard_core::printable(locator, 200))
                .with_detail(detail)
        };
        let (name, query) = match locator.split_once('?') {
            Some((name, query)) => (name.trim(), Some(query)),
            None => (locator.trim(), None),
        };
        if name.is_empty() {
            return Err(invalid("no secret name or ARN before '?'".to_owned()));
        }
        let mut parsed = Self::name(name);
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "version_stage" => &mut parsed.version_stage,
                "version_id" => &mut parsed.version_id,
                other => {
                    return Err(invalid(format!(
                        "unknown query key {:?} in an AWS secret name; valid keys are: {}",
                        lanyard_core::printable(other, 64),
                        Self::QUERY_KEYS.join(", ")
                    )));
                }
            };
            if value.trim().is_empty() {
                return Err(invalid(format!("query key {key:?} has no value")));
            }
            if slot.replace(value.trim().to_owned()).is_some() {
                return Err(invalid(format!("query key {key:?} is given twice")));
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arns_stages_and_versions_parse() {
        assert_eq!(Locator::parse("prod/db").unwrap(), Locator::name("prod/db"));
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";
        assert_eq!(Locator::parse(arn).unwrap(), Locator::name(arn));
        let previous = Locator::parse("prod/db?version_stage=AWSPREVIOUS").unwrap();
        assert_eq!(previous.version_stage.as_deref(), Some("AWSPREVIOUS"));
        assert_eq!(previous.version_id, None);
        let both = Locator::parse("prod/db?version_stage=AWSCURRENT&version_id=3f2a%2D1").unwrap();
        assert_eq!(
            (both.secret_id.as_str(), both.version_stage.as_deref(), both.version_id.as_deref()),
            ("prod/db", Some("AWSCURRENT"), Some("3f2a-1"))
        );
    }

    #[test]
    fn unknown_repeated_and_empty_parts_are_rejected() {
        let unknown = Locator::parse("prod/db?version=3").unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::ConfigInvalid);
        assert!(
            unknown.to_string().contains(
                r#"unknown query key "version" in an AWS secret name; valid keys are: version_stage, version_id"#
            ),
            "{unknown}"
        );
        let twice = Locator::parse("a?version_id=1&version_id=2").unwrap_err();
        assert!(twice.to_string().contains(r#"query key "version_id" is given twice"#), "{twice}");
        let empty = Locator::parse("a?version_stage=").unwrap_err();
        assert!(empty.to_string().contains(r#"query key "version_stage" has no value"#), "{empty}");
        assert!(Locator::parse("?version_stage=AWSPREVIOUS").is_err());
        assert!(Locator::parse(" ").is_err());
    }
}
