//! Ordered option maps whose printing masks the values of secret-looking keys.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::secret::SecretString;

/// What every redacted value prints as.
pub const REDACTED: &str = "***";

/// The most options one object (a connection, a credential storage) may hold.
pub const MAX_OPTIONS: usize = 128;

/// The longest option value accepted, in bytes (UTF-8).
pub const MAX_OPTION_VALUE_BYTES: usize = 16384;

/// Substrings that make an option key "secret-looking". The match is case-insensitive; over-masking is preferred to
/// a leak, so `key_vault_name` is masked too.
const SECRET_KEY_MARKERS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "credential",
    "private",
    "key",
    "signature",
    "jaas",
    "connection_string",
    "authorization",
    "dsn",
];

/// Keys that are secret although no marker matches.
const SECRET_KEYS: &[&str] = &["service_account_json"];

/// Suffixes that name something *about* a secret rather than the secret itself (`secrets_manager_prefix`,
/// `key_vault_name`, `auth_method`, `token_url`; an sftp connection's `host_key_fingerprint`, the digest of a public
/// key), so such keys are shown.
const NON_SECRET_SUFFIXES: &[&str] =
    &["_prefix", "_name", "_method", "_url", "_arn", "_path", "_file", "_size", "_stage", "_fingerprint"];

/// Whether values stored under `key` are treated as secret: masked in every output and held in a [`SecretString`].
///
/// A key is secret when it contains a marker (`password`, `secret`, `token`, `key`, `credential`, `private`, …)
/// and does not end in a suffix that names metadata (`_prefix`, `_name`, `_method`, `_url`, `_arn`, `_path`, …).
pub fn is_secret_key(key: &str) -> bool {
    // Allocation-free and case-insensitive: this runs for every option of every parsed statement.
    let contains =
        |needle: &str| key.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    let ends_with = |suffix: &str| {
        key.len() >= suffix.len() && key.as_bytes()[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    if SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return true;
    }
    SECRET_KEY_MARKERS.iter().any(|marker| contains(marker))
        && !NON_SECRET_SUFFIXES.iter().any(|suffix| ends_with(suffix))
}

/// Endings of link CONFIG keys that say *where* a secret lives or *which* one is meant, not what it is: file
/// locations (`ssl.key.location`, `sasl.kerberos.keytab`, as in SingleStore's Kafka link examples), endpoints and ids
/// in Kafka's dotted style (`sasl.oauthbearer.token.endpoint.url`, `sasl.oauthbearer.client.id`), KMS key ids
/// (`x-amz-server-side-encryption-aws-kms-key-id`) and digests (`x-amz-server-side-encryption-customer-key-MD5`).
const NON_SECRET_CONFIG_SUFFIXES: &[&str] =
    &[".location", "_location", ".keytab", "_keytab", "kms-key-id", "kms_key_id", ".url", ".id", "-md5", "_md5"];

/// Whether a key of a link's CONFIG (a JSON object shown by SHOW LINKS) looks like a secret: [`is_secret_key`], except
/// keys that end in a file location, a URL, an id or a digest (see [`NON_SECRET_CONFIG_SUFFIXES`]), which SingleStore's
/// own link examples put in CONFIG.
pub fn is_secret_config_key(key: &str) -> bool {
    let ends_with = |suffix: &str| {
        key.len() >= suffix.len() && key.as_bytes()[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    is_secret_key(key) && !NON_SECRET_CONFIG_SUFFIXES.iter().any(|suffix| ends_with(suffix))
}

/// Whether an option value is secret: the key is secret-looking ([`is_secret_key`]) or the value is a URL with a
/// password ([`url_has_password`]). This is the one rule: [`OptionValue::for_key`] holds such values as secrets,
/// printing masks them, and `lanyard-sql` hides them when it echoes text that did not parse.
pub fn is_secret_option(key: &str, value: &str) -> bool {
    is_secret_key(key) || url_has_password(value)
}

/// Whether `value` looks like a URL with a password in its user info (`scheme://user:password@host…`).
pub fn url_has_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').is_some_and(|(user_info, _)| user_info.contains(':'))
}

/// A validated option key: 1..=128 characters, no control characters, no whitespace.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionKey(String);

impl OptionKey {
    /// Validates `key`.
    pub fn new(key: impl Into<String>) -> Result<Self, crate::Error> {
        let key = key.into();
        let problem = if key.is_empty() {
            Some("must not be empty")
        } else if key.chars().count() > 128 {
            Some("is longer than 128 characters")
        } else if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            Some("must not contain whitespace or control characters")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(crate::Error::InvalidOptionKey { key: crate::printable(&key, 64), problem }),
            None => Ok(Self(key)),
        }
    }

    /// The key as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether values under this key are secret (see [`is_secret_key`]).
    pub fn is_secret(&self) -> bool {
        is_secret_key(&self.0)
    }
}

impl fmt::Display for OptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::borrow::Borrow<str> for OptionKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OptionKey {
    type Error = crate::Error;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<OptionKey> for String {
    fn from(key: OptionKey) -> Self {
        key.0
    }
}

/// One option value. Which variant a value gets is decided by its key ([`is_secret_key`]) when it is inserted, so a
/// secret-looking value can never sit in a plain `String`.
#[derive(Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A value that may be shown.
    Plain(String),
    /// A value under a secret-looking key: printed as `***`.
    Secret(SecretString),
}

impl OptionValue {
    /// Wraps `value` as the variant `key` calls for: [`OptionValue::Secret`] under a secret-looking key, or when the
    /// value is a URL carrying a password (`postgres://user:pw@host/db`).
    pub fn for_key(key: &OptionKey, value: impl Into<String>) -> Self {
        let value = value.into();
        if is_secret_option(key.as_str(), &value) { Self::Secret(SecretString::new(value)) } else { Self::Plain(value) }
    }

    /// The value for display: the plain value, or `***`.
    pub fn redacted(&self) -> &str {
        match self {
            Self::Plain(value) => value,
            Self::Secret(_) => REDACTED,
        }
    }

    /// The real value. Call only where material must leave the process (a vault write, a connect).
    pub fn expose(&self) -> &str {
        match self {
            Self::Plain(value) => value,
            Self::Secret(secret) => secret.expose_secret(),
        }
    }

    /// Whether the value is held as a secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, Self::Secret(_))
    }
}

impl fmt::Debug for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.redacted(), f)
    }
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted())
    }
}

/// An insertion-ordered map of option keys to values, as written in `OPTIONS (k = 'v', …)`.
///
/// `Debug` and `Display` mask secret-looking values; [`OptionMap::iter_exposed`] is the one named way to read them.
///
/// Backed by an [`IndexMap`], so look-ups and inserts stay O(1) for maps of any size (a 1000-option statement parses
/// in linear time).
#[derive(Clone, Default)]
pub struct OptionMap {
    entries: IndexMap<OptionKey, OptionValue>,
}

/// Equality is order-sensitive: two maps are equal when they list the same entries in the same order, as printed.
impl PartialEq for OptionMap {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len() && self.entries.iter().eq(other.entries.iter())
    }
}

impl Eq for OptionMap {}

impl OptionMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts or replaces `key`, keeping the position of an existing key. Returns whether the key was new.
    pub fn insert(&mut self, key: OptionKey, value: impl Into<String>) -> bool {
        let value = OptionValue::for_key(&key, value);
        self.entries.insert(key, value).is_none()
    }

    /// Removes `key`, returning its value if it was present.
    pub fn remove(&mut self, key: &str) -> Option<OptionValue> {
        self.entries.shift_remove(key)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&OptionValue> {
        self.entries.get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in insertion order; values print masked.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&OptionKey, &OptionValue)> {
        self.entries.iter()
    }

    /// Entries in insertion order with the real values exposed. Call only where material must leave the process.
    pub fn iter_exposed(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.expose()))
    }

    /// Splits the map into the entries whose key satisfies `is_secret` and the rest, keeping order in both.
    pub fn partition(self, mut is_secret: impl FnMut(&OptionKey) -> bool) -> (OptionMap, OptionMap) {
        let (secret, plain) = self.entries.into_iter().partition(|(k, _)| is_secret(k));
        (OptionMap { entries: secret }, OptionMap { entries: plain })
    }
}

impl fmt::Debug for OptionMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

/// Prints `k = 'v', …` with secret-looking values masked.
impl fmt::Display for OptionMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (key, value)) in self.entries.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{key} = '{}'", value.redacted().replace('\'', "''"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-0b5e2d-secret";

    fn key(k: &str) -> OptionKey {
        OptionKey::new(k).unwrap()
    }

    #[test]
    fn secret_looking_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "secret_access_key",
            "session_token",
            "sas_token",
            "client_secret",
            "secret_id",
            "token",
            "api_key",
            "account_key",
            "ssh_private",
            "service_account_json",
            "sasl.password",
            "sasl.jaas.config",
            "passphrase",
            "connection_string",
            "Authorization",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "host",
            "port",
            "database",
            "ssl_enabled",
            "region",
            "bucket",
            "endpoint",
            "auth_method",
            "secrets_manager_prefix",
            "key_vault_name",
            "host_key_fingerprint",
            "role_arn",
            "token_url",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn urls_with_passwords_are_secret_values() {
        let key = OptionKey::new("url").unwrap();
        assert!(OptionValue::for_key(&key, "postgres://app:hunter2@db:5432/app").is_secret());
        assert!(!OptionValue::for_key(&key, "postgres://app@db:5432/app").is_secret());
        assert!(!OptionValue::for_key(&key, "https://api.example.com/health?x=a:b@c").is_secret());
        assert!(!OptionValue::for_key(&key, "db.example.com").is_secret());
    }

    #[test]
    fn keeps_insertion_order_and_replaces_in_place() {
        let mut map = OptionMap::new();
        assert!(map.insert(key("host"), "a"));
        assert!(map.insert(key("port"), "5432"));
        assert!(!map.insert(key("host"), "b"));
        let keys: Vec<_> = map.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["host", "port"]);
        assert_eq!(map.get("host").unwrap().expose(), "b");
        assert_eq!(map.remove("host").unwrap().expose(), "b");
        assert!(map.remove("host").is_none());
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn printing_masks_secret_values() {
        let mut map = OptionMap::new();
        map.insert(key("host"), "db.example.com");
        map.insert(key("password"), CANARY);
        let shown = [format!("{map}"), format!("{map:?}"), format!("{map:#?}")];
        for text in &shown {
            assert!(!text.contains(CANARY), "{text}");
            assert!(text.contains("db.example.com"), "{text}");
        }
        assert_eq!(shown[0], "host = 'db.example.com', password = '***'");
        let exposed: Vec<_> = map.iter_exposed().collect();
        assert_eq!(exposed, [("host", "db.example.com"), ("password", CANARY)]);
        assert!(map.get("password").unwrap().is_secret());
    }

    #[test]
    fn partition_keeps_order() {
        let mut map = OptionMap::new();
        for (k, v) in [("region", "eu"), ("secret_access_key", "s"), ("access_key_id", "a"), ("session_token", "t")] {
            map.insert(key(k), v);
        }
        let (secret, plain) = map.partition(|k| k.as_str() == "secret_access_key" || k.as_str() == "session_token");
        assert_eq!(secret.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["secret_access_key", "session_token"]);
        assert_eq!(plain.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["region", "access_key_id"]);
    }

    #[test]
    fn bad_keys_are_clear_errors() {
        assert_eq!(OptionKey::new("").unwrap_err().to_string(), "invalid option key \"\": must not be empty");
        assert!(OptionKey::new("a b").is_err());
        assert!(OptionKey::new("k".repeat(129)).is_err());
    }
}

#[cfg(test)]
mod config_key_tests {
    use super::is_secret_config_key;

    #[test]
    fn link_config_keys_that_name_a_location_or_a_key_id_are_not_secret() {
        for key in [
            "ssl.key.location",
            "sasl.kerberos.keytab",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "kms_key_id",
            "ssl.ca.location",
            "sasl.oauthbearer.token.endpoint.url",
            "sasl.oauthbearer.client.id",
            "x-amz-server-side-encryption-customer-key-MD5",
            "region",
            "endpoint_url",
        ] {
            assert!(!is_secret_config_key(key), "{key}");
        }
        for key in [
            "password",
            "ssl.key.password",
            "sasl.password",
            "aws_secret_access_key",
            "x-amz-server-side-encryption-customer-key",
            "token",
            "database.password",
        ] {
            assert!(is_secret_config_key(key), "{key}");
        }
    }
}
