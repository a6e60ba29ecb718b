//! Ordered option maps whose printing masks the values of secret-looking keys.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::secret::SecretString;

/// What every redacted value prints as.
pub const REDACTED: &str = "***";

/// The most options one object (a connection, a credential storage, a link's CONFIG) may have.
pub const MAX_OPTIONS: usize = 128;

/// The longest option value accepted, in bytes (UTF-8).
pub const MAX_OPTION_VALUE_BYTES: usize = 16384;

/// The longest option key accepted, in characters (Unicode scalar values).
pub const MAX_OPTION_KEY_CHARS: usize = 128;

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

/// Whether an option value is secret: the key is secret-looking ([`is_secret_key`]), the value is a URL with a
/// password ([`url_has_password`]) or holds other secret-looking text ([`secret_in_value`]). This is the one rule:
/// [`OptionValue::for_key`] holds such values as secrets, printing masks them, and `lanyard-sql` hides them when it
/// echoes text (the Control Plane refuses to store such values, and a client that shows the statement it sent,
/// under the error, masks them like any secret).
pub fn is_secret_option(key: &str, value: &str) -> bool {
    is_secret_key(key) || url_has_password(value) || secret_in_value(value).is_some()
}

/// What secret-looking text an option value holds, if any, said without quoting it: the Control Plane refuses such
/// values as it refuses secret-looking keys, since option values are shown and stored in plain text.
///
/// It finds, anywhere in the value and case-insensitively where case does not matter:
/// - an assignment to a secret-looking key: `password=…`, `pwd: …`, `secret = …`, `"token": "…"`, `api_key=…` in
///   a query string, `clientSecret=…`, `Authorization: …`. The key must be secret-looking as a whole
///   ([`is_secret_key`]) and hold the marker as a whole word (split at `_`, `-`, `.` and camelCase), so that
///   `proxy_bypass=…`, `passive=…`, `tokenizer=…`, ODBC's `DSN=…` and `primary_key=…` are not taken for one;
/// - a URL with a password in its user info, `scheme://user:pass@host` ([`url_has_password`], at any position);
/// - an HTTP credential scheme followed by a credential: `Bearer <token>` (20 characters or more, or a JWT),
///   `Basic <base64 of user:password>`;
/// - an AWS access key id (`AKIA…`, `ASIA…`: four letters and 16 upper-case letters or digits) or a 40-character
///   AWS-secret-key-shaped word (letters of both cases, digits, `/` or `+`; a hexadecimal digest has one case only
///   and is not taken for one);
/// - a PEM private key (`-----BEGIN … PRIVATE KEY-----`).
///
/// Left alone: paths (also as the value of a key: `sslkey=C:\certs\client.key`, `sslkey=certs/client.key`), host
/// names, `sslmode=require` and other assignments to keys that do not look secret, prose (`Basic authentication`), URLs
/// without a password (`jdbc:postgresql://db:5432/app?user=app`), a key name mentioned without a value
/// (`the password is in the vault`).
pub fn secret_in_value(value: &str) -> Option<SecretPattern> {
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY-----") {
        return Some(SecretPattern::PemPrivateKey);
    }
    if urls_with_password(value) {
        return Some(SecretPattern::UrlWithPassword);
    }
    if let Some(found) = secret_assignment(value) {
        return Some(found);
    }
    words(value).find_map(|word| {
        if is_aws_access_key_id(word) {
            Some(SecretPattern::AwsAccessKeyId)
        } else if is_aws_secret_key_shaped(word) {
            Some(SecretPattern::AwsSecretAccessKey)
        } else {
            None
        }
    })
}

/// What [`secret_in_value`] found; `Display` says it in words, never quoting the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPattern {
    /// `-----BEGIN … PRIVATE KEY-----`.
    PemPrivateKey,
    /// `scheme://user:password@host`.
    UrlWithPassword,
    /// `password=…`, `token: …`, `"secret": "…"`.
    Assignment,
    /// `Bearer <token>`, `Basic <base64>`.
    HttpCredential,
    /// `AKIA…`, `ASIA…`.
    AwsAccessKeyId,
    /// 40 characters shaped like an AWS secret access key.
    AwsSecretAccessKey,
}

impl fmt::Display for SecretPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PemPrivateKey => "a PEM private key",
            Self::UrlWithPassword => "a URL with a password",
            Self::Assignment => "a value assigned to a secret-looking key",
            Self::HttpCredential => "an HTTP credential (Bearer or Basic)",
            Self::AwsAccessKeyId => "an AWS access key id",
            Self::AwsSecretAccessKey => "an AWS secret access key",
        })
    }
}

/// The maximal runs of ASCII letters, digits, `/` and `+` in `text` (the characters of base64).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '+'))).filter(|w| !w.is_empty())
}

fn is_aws_access_key_id(word: &str) -> bool {
    word.len() == 20
        && ["AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"].iter().any(|p| word.starts_with(p))
        && word.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// 40 characters of base64 with both cases and a digit; a word that starts with `/` or holds more than three is a
/// path, not a key.
fn is_aws_secret_key_shaped(word: &str) -> bool {
    word.len() == 40
        && !word.starts_with('/')
        && word.bytes().filter(|&b| b == b'/').count() <= 3
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && word.bytes().any(|b| b.is_ascii_uppercase())
        && word.bytes().any(|b| b.is_ascii_lowercase())
        && word.bytes().any(|b| b.is_ascii_digit())
}

/// An assignment `key = value` / `key: value` to a secret-looking key, or an HTTP credential scheme with its
/// credential.
fn secret_assignment(value: &str) -> Option<SecretPattern> {
    let is_key_byte = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut rest = value;
    while let Some(start) = rest.find(is_key_byte) {
        let word = &rest[start..];
        let end = word.find(|c: char| !is_key_byte(c)).unwrap_or(word.len());
        let (key, after) = word.split_at(end);
        rest = after;
        if ["bearer", "basic"].iter().any(|scheme| key.eq_ignore_ascii_case(scheme)) {
            let credential = after.trim_start_matches(' ');
            let length = credential
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/=".contains(c)))
                .unwrap_or(credential.len());
            let credential = &credential[..length];
            let spaced = after.len() > after.trim_start_matches(' ').len();
            let found = if key.eq_ignore_ascii_case("basic") {
                is_basic_credential(credential)
            } else {
                is_bearer_credential(credential)
            };
            if spaced && found {
                return Some(SecretPattern::HttpCredential);
            }
        }
        let key = key.trim_matches(['.', '-']);
        let Some(kind) = secret_assignment_key(key) else { continue };
        // `key=…`, `key: …`, `"key": "…"`, `key = '…'`.
        let Some(assigned) =
            after.trim_start_matches(['"', '\'']).trim_start_matches([' ', '\t']).strip_prefix(['=', ':'])
        else {
            continue;
        };
        let assigned = assigned.trim_start_matches([' ', '\t', '"', '\'']);
        let starts_credential =
            assigned.chars().next().is_some_and(|c| c.is_alphanumeric() || "+_-.~!#$%^&*\\".contains(c));
        if starts_credential && !is_path(assigned, kind) && !assigned.starts_with("***") {
            return Some(SecretPattern::Assignment);
        }
    }
    None
}

/// `Basic <credential>`: base64 that decodes to `user:password` (printable text with a `:`), so that prose such as
/// "Basic authentication" or "basic settings" is not taken for one.
fn is_basic_credential(credential: &str) -> bool {
    use base64::Engine as _;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let Ok(decoded) = engine.decode(credential) else { return false };
    std::str::from_utf8(&decoded).is_ok_and(|text| text.contains(':') && !text.chars().any(char::is_control))
}

/// `Bearer <credential>`: at least 20 characters of token68 (RFC 9110), or a JWT (three base64url parts joined by
/// dots, the first starting `eyJ`), so that prose such as "a bearer token from the vault" is not taken for one.
fn is_bearer_credential(credential: &str) -> bool {
    let jwt = credential.starts_with("eyJ") && credential.split('.').count() == 3;
    jwt || credential.len() >= 20
}

/// What kind of secret key an assignment inside a value names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// A password, token, secret, credential, signature or JAAS configuration: the value is the secret itself.
    Secret,
    /// A key (`api_key`, `sslkey`, `private_key`): the value is the key or, often, the path of a key file.
    Key,
}

/// Words that name a secret when they are a whole word of the key (`password`, `db_password`, `clientSecret`,
/// `x-auth-token`); a word that only contains one is not taken (`proxy_bypass`, `passive`, `tokenizer`).
const SECRET_WORDS: &[&str] = &[
    "pass",
    "passwd",
    "password",
    "passwords",
    "passphrase",
    "pwd",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "authorization",
    "signature",
    "jaas",
];

/// Endings that make a one-word key secret: `dbpassword`, `clientsecret`, `accesstoken`.
const SECRET_WORD_ENDINGS: &[&str] = &["password", "passwd", "passphrase", "pwd", "secret", "token"];

/// Words before `key` that make it a key of a data structure or a public key, not a secret: `primary_key`,
/// `partitionKey`, `host_key`.
const NON_SECRET_KEY_QUALIFIERS: &[&str] = &[
    "primary",
    "foreign",
    "unique",
    "sort",
    "partition",
    "hash",
    "range",
    "shard",
    "distribution",
    "cluster",
    "clustering",
    "routing",
    "row",
    "cache",
    "dedup",
    "dedupe",
    "idempotency",
    "lookup",
    "join",
    "group",
    "order",
    "index",
    "natural",
    "surrogate",
    "composite",
    "candidate",
    "business",
    "message",
    "object",
    "public",
    "host",
];

/// Words that make `…key` in one word a secret key: `apikey`, `sslkey`, `accesskey`.
const SECRET_KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "account",
    "client",
    "ssl",
    "tls",
    "signing",
    "encryption",
    "master",
    "shared",
    "sas",
    "ssh",
    "auth",
    "app",
    "license",
    "subscription",
    "storage",
    "service",
];

/// The words of a key: split at `_`, `-`, `.` and where a lower-case letter meets an upper-case one (`apiKey`),
/// lower-cased.
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut current));
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    words.push(current);
    words.retain(|w| !w.is_empty());
    words
}

/// Whether a key found inside a value, assigned a value, names a secret, and which kind: it must be secret-looking
/// as a whole ([`is_secret_key`], so `token_url` and `auth_method` are not) and hold a secret word as a whole word
/// of it ([`SECRET_WORDS`], [`SECRET_WORD_ENDINGS`]), or `key` not qualified as a data-structure or public key
/// (`api_key`, `account-key`, `apiKey`, `sslkey`; not `primary_key`, `keyspace`). A marker inside another word is
/// not one: `proxy_bypass`, `passive`, `tokenizer` and ODBC's `DSN` (a data source name) are left alone.
fn secret_assignment_key(key: &str) -> Option<KeyKind> {
    if SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return Some(KeyKind::Secret);
    }
    if !is_secret_key(key) {
        return None;
    }
    let words = key_words(key);
    let secret_word = |w: &String| {
        SECRET_WORDS.contains(&w.as_str()) || SECRET_WORD_ENDINGS.iter().any(|e| w.len() > e.len() && w.ends_with(e))
    };
    let connection_string = words.windows(2).any(|pair| pair[0] == "connection" && pair[1] == "string")
        || words.iter().any(|w| w == "connectionstring");
    if words.iter().any(secret_word) || connection_string {
        return Some(KeyKind::Secret);
    }
    let key_word = words.iter().enumerate().any(|(i, w)| match w.as_str() {
        "key" | "keys" => i == 0 || !NON_SECRET_KEY_QUALIFIERS.contains(&words[i - 1].as_str()),
        _ => {
            let stem = w.strip_suffix("keys").or_else(|| w.strip_suffix("key"));
            stem.is_some_and(|stem| SECRET_KEY_QUALIFIERS.contains(&stem))
        }
    });
    key_word.then_some(KeyKind::Key)
}

/// Whether the value assigned inside a value is a file path rather than a secret: an absolute or home- or
/// dot-relative path (`/etc/…`, `~/…`, `./…`, `../…`) for every key; for a key (`sslkey`, `api_key`), whose value is
/// often the path of a key file, also a Windows path (a drive letter `C:\` or `C:/`, a `\\server\share` path, any
/// `\`) and a relative path with `/` whose last part has a file extension (`certs/client.key`).
fn is_path(assigned: &str, kind: KeyKind) -> bool {
    if ["/", "~/", "./", "../"].iter().any(|p| assigned.starts_with(p)) {
        return true;
    }
    if kind != KeyKind::Key {
        return false;
    }
    let path = &assigned[..assigned.find(['"', '\'', ' ', '\t', ';', '&', ',', '}']).unwrap_or(assigned.len())];
    let bytes = path.as_bytes();
    let drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && matches!(bytes[2], b'\\' | b'/');
    let relative = path.contains('/')
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
        && path.rsplit('/').next().and_then(|file| file.rsplit_once('.')).is_some_and(|(stem, extension)| {
            !stem.is_empty()
                && (1..=5).contains(&extension.len())
                && extension.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    drive || path.contains('\\') || relative
}

/// Whether some URL in `text` (at any position) has a password in its user info.
fn urls_with_password(text: &str) -> bool {
    text.match_indices("://").any(|(at, _)| {
        let authority =
            text[at + 3..].split(['/', '?', '#', ' ', '\t', '\n', '"', '\'', '<', '>']).next().unwrap_or("");
        authority.rsplit_once('@').is_some_and(|(user_info, _)| user_info.contains(':'))
    })
}

/// Whether `value` looks like a URL with a password in its user info (`scheme://user:password@host…`).
pub fn url_has_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').is_some_and(|(user_info, _)| user_info.contains(':'))
}

/// A validated option key: 1..=[`MAX_OPTION_KEY_CHARS`] characters in NFC, no control characters, no whitespace,
/// no invisible characters (bidirectional controls, zero-width characters: [`crate::invisible_character`]).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionKey(String);

impl OptionKey {
    /// Validates `key` and normalises it to NFC.
    pub fn new(key: impl Into<String>) -> Result<Self, crate::Error> {
        let key = key.into();
        let invisible = key.chars().enumerate().find_map(|(index, c)| {
            crate::invisible_character(c).map(|what| format!("contains {what} U+{:04X} at character {index}", c as u32))
        });
        let problem = if key.is_empty() {
            Some("must not be empty".to_owned())
        } else if key.chars().count() > MAX_OPTION_KEY_CHARS {
            Some(format!("is longer than {MAX_OPTION_KEY_CHARS} characters"))
        } else if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            Some("must not contain whitespace or control characters".to_owned())
        } else {
            invisible
        };
        match problem {
            Some(problem) => Err(crate::Error::InvalidOptionKey { key: crate::printable(&key, 64), problem }),
            None => Ok(Self(crate::nfc_str(&key).into_owned())),
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
    fn secret_looking_text_inside_values_is_found_and_named() {
        for (value, what) in [
            ("password=hunter2", "a value assigned to a secret-looking key"),
            ("see PASSWORD = hunter2 on the wiki", "a value assigned to a secret-looking key"),
            ("pwd=x1", "a value assigned to a secret-looking key"),
            ("secret: abc", "a value assigned to a secret-looking key"),
            ("token=abc", "a value assigned to a secret-looking key"),
            (r#"{"password": "hunter2"}"#, "a value assigned to a secret-looking key"),
            ("jdbc:mysql://db/app?user=app&password=hunter2", "a value assigned to a secret-looking key"),
            ("https://api.example.com/x?api_key=abc123", "a value assigned to a secret-looking key"),
            ("Authorization: Bearer eyJhbGciOi.abc", "a value assigned to a secret-looking key"),
            ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "an HTTP credential (Bearer or Basic)"),
            ("curl -H 'Basic dXNlcjpwYXNzd29yZA=='", "an HTTP credential (Bearer or Basic)"),
            ("postgres://app:hunter2@db:5432/app", "a URL with a password"),
            ("primary postgres://app:hunter2@db:5432/app, replica …", "a URL with a password"),
            ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
            ("id ASIAIOSFODNN7EXAMPLE here", "an AWS access key id"),
            ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "an AWS secret access key"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE…", "a PEM private key"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "a PEM private key"),
            ("apiKey=abc123", "a value assigned to a secret-looking key"),
            ("x-api-key: abc123", "a value assigned to a secret-looking key"),
            ("account-key: abc123", "a value assigned to a secret-looking key"),
            ("clientSecret=abc", "a value assigned to a secret-looking key"),
            ("db_password=hunter2", "a value assigned to a secret-looking key"),
            ("Driver={ODBC};DSN=Warehouse;UID=app;PWD=hunter2", "a value assigned to a secret-looking key"),
            ("sslkey=hunter2", "a value assigned to a secret-looking key"),
            ("password=C:\\hunter2", "a value assigned to a secret-looking key"),
            ("password=certs/hunter2.key", "a value assigned to a secret-looking key"),
            ("connection_string=Server=db;Uid=app", "a value assigned to a secret-looking key"),
            ("Bearer abcdefghijklmnopqrstu", "an HTTP credential (Bearer or Basic)"),
            ("Basic dXNlcjpwYXNzd29yZA", "an HTTP credential (Bearer or Basic)"),
        ] {
            assert_eq!(secret_in_value(value).map(|p| p.to_string()).as_deref(), Some(what), "{value}");
        }
        for value in [
            "",
            "db.example.com",
            "/var/lib/lanyard/certs/root.pem",
            "C:\\certs\\root.pem",
            "5432",
            "sslmode=require",
            "require",
            "jdbc:postgresql://db.example.com:5432/app?user=app&sslmode=verify-full",
            "jdbc:cassandra://db:9042/?keyspace=shop",
            "jdbc:postgresql://db/app?sslkey=/etc/lanyard/client.pk8&sslcert=/etc/lanyard/client.crt",
            "postgres://app@db:5432/app",
            "ssh://git@github.com:22/org/repo.git",
            "https://api.example.com/health?x=a:b@c",
            "auth_method=token",
            "token_url=https://login.example.com/oauth2/token",
            "the password is in the vault",
            "password: ",
            "password=***",
            "use a bearer token from the vault",
            "Basic auth",
            "3f786850e387550fdab836ed7e6dc881de23001b", // a git commit (hex, one case)
            "/opt/Data/Lanyard2/certs/ServerCA1/xyzw9",
            "-----BEGIN CERTIFICATE-----",
            "arn:aws:iam::123456789012:role/lanyard",
            "eu-west-1",
            "s3://bucket/path/to/files/*.csv",
            // Found by review: markers inside other words, prose after Basic/Bearer, key file paths.
            "basic settings",
            "Basic authentication",
            "Bearer authentication",
            "sslkey=C:\\certs\\client.key",
            "sslkey=C:/certs/client.key",
            "sslkey=certs/client.key",
            "jdbc:postgresql://db/app?sslkey=certs/client.pk8&sslmode=verify-full",
            "proxy_bypass=localhost",
            "passive=true",
            "tokenizer=standard",
            "DSN=Warehouse;UID=app",
            "primary_key=id",
            "partitionKey: tenant_id",
            "keyspace=shop",
            "monkey=banana",
        ] {
            assert_eq!(secret_in_value(value), None, "{value}");
        }
    }

    #[test]
    fn values_with_secret_looking_text_are_held_as_secrets() {
        let note = OptionKey::new("note").unwrap();
        let value = OptionValue::for_key(&note, "password=hunter2");
        assert!(value.is_secret());
        assert_eq!(format!("{value} {value:?}"), "*** \"***\"");
        assert!(!OptionValue::for_key(&note, "sslmode=require").is_secret());
    }

    #[test]
    fn limits_are_the_documented_ones() {
        assert_eq!(MAX_OPTIONS, 128);
        assert_eq!(MAX_OPTION_VALUE_BYTES, 16384);
        assert!(OptionKey::new("k".repeat(MAX_OPTION_KEY_CHARS)).is_ok());
        assert_eq!(
            OptionKey::new("k".repeat(MAX_OPTION_KEY_CHARS + 1)).unwrap_err().to_string(),
            format!("invalid option key \"{}\": is longer than 128 characters", "k".repeat(64))
        );
    }

    #[test]
    fn option_keys_refuse_invisible_characters_and_are_nfc() {
        assert_eq!(
            OptionKey::new("ho\u{202E}st").unwrap_err().to_string(),
            "invalid option key \"host\": contains bidirectional control character U+202E at character 2"
        );
        assert!(OptionKey::new("a\u{200B}b").is_err());
        assert_eq!(OptionKey::new("cafe\u{301}").unwrap().as_str(), "caf\u{e9}");
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
