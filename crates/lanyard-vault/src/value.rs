//! Material as it crosses the plugin boundary, linked external names, and JSON field selection.

use std::fmt;

use lanyard_core::{SecretBytes, SecretString};

use crate::error::{ErrorKind, Operation, Result, VaultError};

/// Secret material read from or written to a backend, with the backend's version of it if it has one.
///
/// `Debug` shows only the length and version; the buffer is zeroized on drop.
#[derive(Clone)]
pub struct SecretValue {
    material: SecretBytes,
    version: Option<String>,
}

impl SecretValue {
    /// Wraps binary material.
    pub fn new(material: SecretBytes) -> Self {
        Self { material, version: None }
    }

    /// Wraps text material.
    pub fn from_text(material: &SecretString) -> Self {
        Self::new(material.to_bytes())
    }

    /// Sets the backend's version of the material (AWS `VersionId`, Vault's version number, …).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The backend's version of the material, if it reports one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The material. Every call site is a place where a secret leaves its box.
    pub fn expose_bytes(&self) -> &[u8] {
        self.material.expose_secret()
    }

    /// The material as a [`SecretString`], if it is UTF-8.
    pub fn to_secret_string(&self) -> Option<SecretString> {
        self.material.to_secret_string()
    }

    /// The material as [`SecretBytes`].
    pub fn secret_bytes(&self) -> &SecretBytes {
        &self.material
    }

    /// Length in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.material.len()
    }

    /// Whether the material is empty.
    pub fn is_empty(&self) -> bool {
        self.material.is_empty()
    }
}

impl From<SecretString> for SecretValue {
    fn from(value: SecretString) -> Self {
        Self::from_text(&value)
    }
}

impl From<SecretBytes> for SecretValue {
    fn from(value: SecretBytes) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue")
            .field("material", &lanyard_core::REDACTED)
            .field("len", &self.len())
            .field("version", &self.version)
            .finish()
    }
}

/// A `LINKED EXTERNAL SECRET` name split into the backend's part and the generic `#field` selector.
///
/// Everything before the last `#` belongs to the backend, in its own syntax (`prod/db?version_stage=AWSPREVIOUS`,
/// `db-password/3f2a…`, `kv/app?version=3`); the selector after it picks a top-level field of a JSON secret. A
/// query after the selector (`name#field?version=2`) is moved back to the backend's part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalName {
    /// The backend's part: name or ARN or path, with its version syntax.
    pub locator: String,
    /// The JSON field to select, if any.
    pub field: Option<String>,
}

impl ExternalName {
    /// Splits `name`; an empty name or an empty locator or field is a [`ErrorKind::ConfigInvalid`] error.
    pub fn parse(name: &str) -> Result<Self> {
        let invalid = |problem: &str| {
            VaultError::new(ErrorKind::ConfigInvalid, "vault", Operation::Get)
                .with_target(lanyard_core::printable(name, 200))
                .with_detail(format!("invalid external secret name: {problem}"))
        };
        let Some((locator, rest)) = name.rsplit_once('#') else {
            if name.trim().is_empty() {
                return Err(invalid("it is empty"));
            }
            return Ok(Self { locator: name.to_owned(), field: None });
        };
        let (field, query) = match rest.split_once('?') {
            Some((field, query)) => (field, Some(query)),
            None => (rest, None),
        };
        if locator.trim().is_empty() {
            return Err(invalid("nothing before '#'"));
        }
        if field.is_empty() {
            return Err(invalid("no field name after '#'"));
        }
        let locator = match query {
            Some(query) if locator.contains('?') => format!("{locator}&{query}"),
            Some(query) => format!("{locator}?{query}"),
            None => locator.to_owned(),
        };
        Ok(Self { locator, field: Some(field.to_owned()) })
    }
}

/// Selects the top-level `field` of a JSON object secret. A string field yields its text; any other JSON value its
/// JSON text. Errors say what was wrong without quoting the material.
pub fn select_json_field(value: &SecretValue, field: &str, backend: &'static str) -> Result<SecretValue> {
    let error = |detail: String| VaultError::new(ErrorKind::ConfigInvalid, backend, Operation::Get).with_detail(detail);
    let document: serde_json::Value = serde_json::from_slice(value.expose_bytes())
        .map_err(|_| error(format!("field {field:?} was selected but the secret is not a JSON document")))?;
    let serde_json::Value::Object(mut object) = document else {
        return Err(error(format!("field {field:?} was selected but the secret is not a JSON object")));
    };
    let selected = object.remove(field).ok_or_else(|| {
        let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        error(format!("the secret has no field {field:?} (fields: {})", keys.join(", ")))
    })?;
    let text = match selected {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    // The parsed document still holds copies of the other fields; serde_json offers no zeroizing, so drop them now.
    drop(object);
    let mut selected = SecretValue::new(SecretBytes::new(text.into_bytes()));
    selected.version = value.version.clone();
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &SecretValue) -> String {
        String::from_utf8(value.expose_bytes().to_vec()).unwrap()
    }

    #[test]
    fn external_names_split_off_the_field_selector() {
        let plain = ExternalName::parse("prod/db").unwrap();
        assert_eq!((plain.locator.as_str(), plain.field), ("prod/db", None));
        let field = ExternalName::parse("prod/db#password").unwrap();
        assert_eq!((field.locator.as_str(), field.field.as_deref()), ("prod/db", Some("password")));
        let aws = ExternalName::parse("prod/db#password?version_stage=AWSPREVIOUS").unwrap();
        assert_eq!(aws.locator, "prod/db?version_stage=AWSPREVIOUS");
        assert_eq!(aws.field.as_deref(), Some("password"));
        let vault = ExternalName::parse("app/db?version=3#user").unwrap();
        assert_eq!((vault.locator.as_str(), vault.field.as_deref()), ("app/db?version=3", Some("user")));
        for bad in ["", "  ", "#x", "name#"] {
            assert!(ExternalName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_fields_are_selected_without_leaking_the_document() {
        let value = SecretValue::from(SecretString::new(r#"{"user":"app","password":"canary-42","port":5432}"#))
            .with_version("7");
        let password = select_json_field(&value, "password", "memory").unwrap();
        assert_eq!(text(&password), "canary-42");
        assert_eq!(password.version(), Some("7"));
        assert_eq!(text(&select_json_field(&value, "port", "memory").unwrap()), "5432");
        let missing = select_json_field(&value, "pwd", "memory").unwrap_err();
        assert!(missing.to_string().contains(r#"no field "pwd" (fields: password, port, user)"#), "{missing}");
        assert!(!missing.to_string().contains("canary"));
        let not_json = SecretValue::from(SecretString::new("canary-42"));
        let error = select_json_field(&not_json, "password", "memory").unwrap_err();
        assert!(error.to_string().contains("not a JSON document") && !error.to_string().contains("canary"));
        assert!(!format!("{value:?}").contains("canary"));
    }
}
