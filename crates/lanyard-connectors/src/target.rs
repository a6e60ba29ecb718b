//! What every connector reads from a resolved connection or link: its type, options, credential and timeout, plus
//! the [`Scrubber`] that keeps the credential's text out of every message. A link's SingleStore keys are translated
//! to these by the `links` module; messages then name the keys as the link spells them.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use lanyard_core::{ConnectionType, LinkType, REDACTED, SecretString};
use lanyard_resolve::{AmbientIdentity, Auth, ResolvedConnection, SecretValue, Subject};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::{Position, Url};

use crate::{ConnectError, DEFAULT_TIMEOUT, Result};

/// Needles shorter than this are not scrubbed: replacing every `ab` in a message would garble it, and the drivers'
/// own messages never quote a credential in the first place.
const MIN_NEEDLE: usize = 4;

/// A reason longer than this is cut (a store's error body can be long).
const MAX_REASON: usize = 1000;

/// JSON credential fields that name who connects rather than prove it: kept out of the scrubber so that
/// `password authentication failed for user "app"` stays readable (`database.user` is a MYSQL link's user,
/// `account_name` an AZURE link's storage account).
const IDENTITY_FIELDS: &[&str] = &["username", "user", "database.user", "account_name"];

/// More JSON credential fields the scrubber leaves alone: a GCS service account key's account, project and kind, and
/// the emulator flag (`true` would otherwise turn every `true` of a message into `***`).
const PUBLIC_KEY_FIELDS: &[&str] = &["client_email", "project_id", "type", "disable_oauth"];

/// Where a target comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A connection: options and credential as `docs/connectors.md` lists them.
    Connection,
    /// A link of this type: its CONFIG and CREDENTIALS keys are SingleStore's, translated by the `links` module.
    Link(LinkType),
}

/// A link's CONFIG translated to a connection type's options.
#[derive(Debug, Default)]
pub(crate) struct LinkOptions {
    /// Option → value.
    pub(crate) values: BTreeMap<String, String>,
    /// Option → the CONFIG key it is read from, also when that key is unset (messages name it).
    pub(crate) keys: BTreeMap<String, String>,
}

/// A connection (or link) as the connectors see it.
pub(crate) struct Target<'a> {
    /// Its display name.
    pub(crate) name: String,
    /// Its type as stored (`postgresql`; for a link `KAFKA`), for messages.
    pub(crate) stored_kind: String,
    /// The connection type it connects as; `None`: no connector knows it.
    pub(crate) kind: Option<ConnectionType>,
    /// A connection, or a link.
    pub(crate) origin: Origin,
    /// Its options, keys lower-case (a link's: translated from its CONFIG).
    options: BTreeMap<String, String>,
    /// For a link, the CONFIG key each option was read from, so that messages name what the user wrote.
    config_keys: BTreeMap<String, String>,
    /// The freshly resolved credential.
    pub(crate) auth: &'a Auth,
    /// For a link, its CREDENTIALS translated to the fields the probes read; `None` for a connection.
    link_credential: Option<Credential>,
    /// The bound on the probe or connect.
    pub(crate) timeout: Duration,
    scrubber: Scrubber,
}

impl<'a> Target<'a> {
    /// The target of a resolved connection or link; an invalid `connection_timeout` is an error, and so is a link
    /// whose CONFIG or CREDENTIALS lack what its type's probe needs.
    pub(crate) fn of(conn: &'a ResolvedConnection) -> Result<Self> {
        if let Subject::Link(link) = conn.subject() {
            return crate::links::target(conn, link.link_type);
        }
        let options =
            conn.options().iter().map(|(key, value)| (key.to_ascii_lowercase(), value.into_owned())).collect();
        Self::new(&conn.name(), conn.connection_type(), options, &conn.auth, conn.timeout_seconds())
    }

    /// A connection's target from its parts (unit tests build them directly).
    pub(crate) fn new(
        name: &str,
        kind: &str,
        options: BTreeMap<String, String>,
        auth: &'a Auth,
        timeout_seconds: Option<i64>,
    ) -> Result<Self> {
        Self {
            name: name.to_owned(),
            stored_kind: kind.to_owned(),
            kind: kind.parse().ok(),
            origin: Origin::Connection,
            options,
            config_keys: BTreeMap::new(),
            auth,
            link_credential: None,
            timeout: DEFAULT_TIMEOUT,
            scrubber: Scrubber::of(auth),
        }
        .with_timeout(timeout_seconds)
    }

    /// A link's target: `kind` is the connection type whose probe it runs, `options` its CONFIG translated to that
    /// type's options (with the CONFIG key each came from), `credential` its CREDENTIALS translated. The scrubber
    /// is built from `auth`, the CREDENTIALS as stored, so that every value in it is hidden.
    pub(crate) fn link(
        name: &str,
        link_type: LinkType,
        kind: ConnectionType,
        options: LinkOptions,
        auth: &'a Auth,
        credential: Credential,
    ) -> Result<Self> {
        Self {
            name: name.to_owned(),
            stored_kind: link_type.as_str().to_owned(),
            kind: Some(kind),
            origin: Origin::Link(link_type),
            options: options.values,
            config_keys: options.keys,
            auth,
            link_credential: Some(credential),
            timeout: DEFAULT_TIMEOUT,
            scrubber: Scrubber::of(auth),
        }
        .with_timeout(None)
    }

    /// Sets the timeout: the connection's own (`timeout_seconds`), else the `connection_timeout` option, else
    /// [`DEFAULT_TIMEOUT`].
    fn with_timeout(mut self, timeout_seconds: Option<i64>) -> Result<Self> {
        self.timeout = match timeout_seconds.and_then(|s| u64::try_from(s).ok()).filter(|s| *s > 0) {
            Some(seconds) => Duration::from_secs(seconds),
            None => match self.get("connection_timeout") {
                None => DEFAULT_TIMEOUT,
                Some(text) => match text.parse::<f64>() {
                    Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => {
                        Duration::from_secs_f64(seconds)
                    }
                    _ => {
                        return Err(invalid(format!(
                            "{} must be a positive number of seconds",
                            self.describe("connection_timeout")
                        )));
                    }
                },
            },
        };
        Ok(self)
    }

    /// How messages name option `key`: `option "port"`; for a link, the CONFIG key it was read from,
    /// `CONFIG key "database.port"`.
    pub(crate) fn describe(&self, key: &str) -> String {
        match self.origin {
            Origin::Connection => format!("option {key:?}"),
            Origin::Link(_) => format!("CONFIG key {:?}", self.config_keys.get(key).map_or(key, String::as_str)),
        }
    }

    /// How messages name the type: `type "s3"`, `link type S3`.
    fn type_phrase(&self) -> String {
        match self.origin {
            Origin::Connection => format!("type {:?}", self.stored_kind),
            Origin::Link(link_type) => format!("link type {link_type}"),
        }
    }

    /// The error of a target whose type has no probe in this build.
    pub(crate) fn unsupported(&self) -> ConnectError {
        match self.origin {
            Origin::Connection => ConnectError::Unsupported(self.stored_kind.clone()),
            Origin::Link(link_type) => ConnectError::UnsupportedLink(link_type),
        }
    }

    /// Whether this is a link.
    pub(crate) fn is_link(&self) -> bool {
        matches!(self.origin, Origin::Link(_))
    }

    /// Fails with [`ConnectError::WrongType`] unless the type is one of `kinds`.
    pub(crate) fn expect(&self, kinds: &[ConnectionType], expected: &'static str) -> Result<()> {
        if self.kind.is_some_and(|kind| kinds.contains(&kind)) {
            Ok(())
        } else {
            Err(ConnectError::WrongType { connection: self.name.clone(), actual: self.stored_kind.clone(), expected })
        }
    }

    /// Runs `future` within the timeout.
    pub(crate) async fn bounded<T>(&self, future: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout(self.timeout)),
        }
    }

    /// `text` with the credential's text replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.scrubber.apply(text)
    }

    /// A [`ConnectError::Remote`] from a driver's message, scrubbed.
    pub(crate) fn remote(&self, message: impl Display) -> ConnectError {
        ConnectError::Remote(self.scrub(&message.to_string()))
    }

    /// Sets option `key` (a pipeline's path names the bucket its link's store is opened at).
    pub(crate) fn set(&mut self, key: &str, value: &str) {
        self.options.insert(key.to_owned(), value.to_owned());
    }

    /// The value of option `key`; an empty value counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(|value| value.trim()).filter(|value| !value.is_empty())
    }

    /// The value of the first of `keys` that is set.
    pub(crate) fn get_any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|key| self.get(key))
    }

    /// The value of option `key`, which must be set.
    pub(crate) fn required(&self, key: &str) -> Result<&str> {
        self.get(key).ok_or_else(|| invalid(format!("{} is required for {}", self.describe(key), self.type_phrase())))
    }

    /// Option `key` as `'true'` or `'false'` (any case), `default` when unset.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(invalid(format!("{} must be 'true' or 'false'", self.describe(key)))),
        }
    }

    /// The TLS mode of a database connection: `ssl_mode` or libpq's spelling `sslmode` (`disable`, `prefer`,
    /// `require`, `verify-ca`, `verify-full`; MySQL's spellings `disabled`, `preferred`, `required`, `verify_ca`,
    /// `verify_identity` too), or the older `ssl_enabled` (`'false'` is `disable`, `'true'` is `verify-full`, as it
    /// always verified); `prefer` when none is set. Two of them set and disagreeing is an error.
    pub(crate) fn ssl_mode(&self) -> Result<SslMode> {
        let underscored = self.ssl_mode_of("ssl_mode")?;
        let libpq = self.ssl_mode_of("sslmode")?;
        let mode = match (underscored, libpq) {
            (Some(a), Some(b)) if a != b => {
                return Err(invalid(format!(
                    "{} and {} disagree; give one of them (sslmode is libpq's spelling of ssl_mode)",
                    self.describe("ssl_mode"),
                    self.describe("sslmode")
                )));
            }
            (Some(mode), _) | (None, Some(mode)) => Some(mode),
            (None, None) => None,
        };
        let enabled = match self.get("ssl_enabled") {
            None => None,
            Some(_) => Some(if self.flag("ssl_enabled", false)? { SslMode::VerifyFull } else { SslMode::Disable }),
        };
        match (mode, enabled) {
            (Some(mode), Some(enabled)) if mode != enabled => Err(invalid(format!(
                "{} and {} disagree; give ssl_mode alone (ssl_enabled = 'false' is ssl_mode = 'disable', 'true' is \
                 'verify-full')",
                self.describe("ssl_mode"),
                self.describe("ssl_enabled")
            ))),
            (Some(mode), _) | (None, Some(mode)) => Ok(mode),
            (None, None) => Ok(SslMode::Prefer),
        }
    }

    /// Option `key` (`ssl_mode` or `sslmode`) as a TLS mode, `None` when unset.
    fn ssl_mode_of(&self, key: &str) -> Result<Option<SslMode>> {
        let Some(text) = self.get(key) else { return Ok(None) };
        Ok(Some(match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" | "disabled" => SslMode::Disable,
            "prefer" | "preferred" => SslMode::Prefer,
            "require" | "required" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" | "verify-identity" => SslMode::VerifyFull,
            _ => {
                return Err(invalid(format!(
                    "{} must be 'disable', 'prefer', 'require', 'verify-ca' or 'verify-full'",
                    self.describe(key)
                )));
            }
        }))
    }

    /// Option `key` as a number in `1..=u16::MAX`, `default` when unset.
    pub(crate) fn number(&self, key: &str, default: u16) -> Result<u16> {
        match self.get(key) {
            None => Ok(default),
            Some(value) => match value.parse::<u16>() {
                Ok(number) if number > 0 => Ok(number),
                _ => Err(invalid(format!("{} must be a number from 1 to 65535", self.describe(key)))),
            },
        }
    }

    /// The credential, parsed (a link's: translated).
    pub(crate) fn credential(&self) -> Result<Credential> {
        if let Some(credential) = &self.link_credential {
            return Ok(credential.clone());
        }
        match self.auth {
            Auth::None => Ok(Credential::None),
            Auth::Ambient(identity) => Ok(Credential::Ambient(Fields::of_ambient(identity))),
            Auth::Secret(value) => {
                let text = utf8(value)?.trim();
                Ok(match Fields::parse(text) {
                    Some(fields) => Credential::Fields(fields),
                    None => Credential::Text(SecretString::new(text)),
                })
            }
        }
    }

    /// Who connects to a database, and with which password: a JSON credential's `username` (or `user`) and
    /// `password`; or a plain secret as the password, with the `username` (or `user`) option naming the user.
    pub(crate) fn login(&self) -> Result<Login> {
        let option_user = self.get_any(IDENTITY_FIELDS).map(str::to_owned);
        let (user, password) = match self.credential()? {
            Credential::Fields(fields) => (
                fields.get(IDENTITY_FIELDS).map(|user| user.expose_secret().to_owned()).or(option_user),
                fields.get(&["password"]).cloned(),
            ),
            Credential::Text(password) => (option_user, Some(password)),
            Credential::None | Credential::Ambient(_) => (option_user, None),
        };
        let user = user.ok_or_else(|| {
            invalid(r#"no user to connect as: set option "username", or use a JSON credential with a "username" field"#)
        })?;
        Ok(Login { user, password })
    }
}

/// A connection's credential, parsed. `Debug` shows the field names only (their values are `SecretString`s).
#[derive(Clone, Debug)]
pub(crate) enum Credential {
    /// No credential.
    None,
    /// A secret that is not a JSON object (a password, a token), trimmed.
    Text(SecretString),
    /// A JSON object secret.
    Fields(Fields),
    /// The ambient identity of the connection's credential storage: its options, or `None` when it has none (use the
    /// provider's default chain).
    Ambient(Option<Fields>),
}

/// The fields of a JSON object credential: strings as their text, other values as JSON text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields(Vec<(String, SecretString)>);

impl Fields {
    /// Appends field `key`.
    pub(crate) fn push(&mut self, key: &str, value: SecretString) {
        self.0.push((key.to_owned(), value));
    }

    /// Whether there is no field.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields of `text` if it is a JSON object (leading and trailing whitespace aside).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if !text.starts_with('{') {
            return None;
        }
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text) else { return None };
        let fields = object
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (key, SecretString::new(text))
            })
            .collect();
        Some(Self(fields))
    }

    /// The options of an ambient identity, as fields; `None` when it has none.
    fn of_ambient(identity: &AmbientIdentity) -> Option<Self> {
        let options = &identity.options;
        (!options.is_empty()).then(|| {
            Self(options.iter_exposed().map(|(key, value)| (key.to_owned(), SecretString::new(value))).collect())
        })
    }

    /// The first of `names` present (names compare case-insensitively).
    pub(crate) fn get(&self, names: &[&str]) -> Option<&SecretString> {
        names
            .iter()
            .find_map(|name| self.0.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
    }

    /// Every field, in stored order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value))
    }
}

/// A database login.
pub(crate) struct Login {
    /// The user name (not secret).
    pub(crate) user: String,
    /// The password, if any.
    pub(crate) password: Option<SecretString>,
}

/// Replaces the credential's text in messages by `***`: the whole secret, each value of a JSON credential (but the
/// user name), each secret option of an ambient identity, and the percent-encoded forms of all of these.
pub(crate) struct Scrubber {
    /// Longest first, so that a needle containing another is replaced whole.
    needles: Vec<SecretString>,
}

impl Scrubber {
    /// The scrubber of `auth`.
    pub(crate) fn of(auth: &Auth) -> Self {
        let mut scrubber = Self { needles: Vec::new() };
        match auth {
            Auth::None => {}
            Auth::Secret(value) => {
                if let Ok(text) = utf8(value) {
                    scrubber.add(text);
                    scrubber.add(text.trim());
                    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(text.trim()) {
                        for (key, value) in &object {
                            let mut public = IDENTITY_FIELDS.iter().chain(PUBLIC_KEY_FIELDS);
                            if !public.any(|field| key.eq_ignore_ascii_case(field)) {
                                scrubber.add_json(value);
                            }
                        }
                    }
                }
            }
            Auth::Ambient(identity) => {
                for (_, value) in identity.options.iter() {
                    if value.is_secret() {
                        scrubber.add(value.expose());
                    }
                }
            }
        }
        scrubber.needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        scrubber.needles.dedup_by(|a, b| a.expose_secret() == b.expose_secret());
        scrubber
    }

    /// Adds a JSON value: a string as its text, a number or boolean as its JSON text, an object or array as its
    /// JSON text and every value inside it (a link's HTTP `headers` object holds one secret per header).
    fn add_json(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(text) => self.add(text),
            serde_json::Value::Array(items) => {
                self.add(&value.to_string());
                items.iter().for_each(|item| self.add_json(item));
            }
            serde_json::Value::Object(fields) => {
                self.add(&value.to_string());
                fields.values().for_each(|field| self.add_json(field));
            }
            other => self.add(&other.to_string()),
        }
    }

    fn add(&mut self, text: &str) {
        if text.chars().count() < MIN_NEEDLE {
            return;
        }
        let encoded = utf8_percent_encode(text, NOT_UNRESERVED).to_string();
        if encoded != text {
            self.needles.push(SecretString::new(encoded));
        }
        self.needles.push(SecretString::new(text));
    }

    /// `text` with every needle and the userinfo, query and fragment of every URL replaced by `***`, cut to at
    /// most [`MAX_REASON`] characters.
    ///
    /// The needles go first, on the text as written: a URL that is rewritten comes out in the `url` crate's
    /// serialisation, which may encode part of a secret that stood in it and so match neither of its forms. They
    /// go again afterwards, for a secret that serialisation decoded (a percent-encoded host).
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = redact_urls(&self.replace_needles(text.to_owned()));
        out = self.replace_needles(out);
        if out.chars().count() > MAX_REASON {
            out = out.chars().take(MAX_REASON).collect::<String>() + "…";
        }
        out
    }

    /// `text` with every needle replaced by `***`.
    fn replace_needles(&self, mut text: String) -> String {
        for needle in &self.needles {
            if text.contains(needle.expose_secret()) {
                text = text.replace(needle.expose_secret(), REDACTED);
            }
        }
        text
    }
}

/// Hides the userinfo, the query and the fragment of every URL in `text`: any of them may carry a credential
/// (`https://u:pw@h/`, an Azure SAS `?sv=…&sig=…`, a token after `#`).
///
/// A URL is found in free text as its scheme, `://` and everything up to white space, a quote or a closing
/// bracket; the `url` crate then takes it apart. A URL with nothing to hide is kept exactly as written; one the
/// crate cannot parse, or whose userinfo it reads differently from a plain split at the first `/`, `?` or `#`
/// (`http://h\u:pw@x/`), keeps only its scheme.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(index, c)| index + c.len_utf8());
        let tail = &rest[at + 3..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}'))
            .unwrap_or(tail.len());
        out.push_str(&rest[..scheme_start]);
        redact_url(&rest[scheme_start..at], &tail[..end], &mut out);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Appends `scheme://after` to `out` without its userinfo, query and fragment (see [`redact_urls`]).
fn redact_url(scheme: &str, after: &str, out: &mut String) {
    if !after.contains(['@', '?', '#']) {
        out.push_str(scheme);
        out.push_str("://");
        out.push_str(after);
        return;
    }
    let written_userinfo = after[..after.find(['/', '?', '#']).unwrap_or(after.len())].contains('@');
    let url = match Url::parse(&format!("{scheme}://{after}")) {
        Ok(url) if written_userinfo == (!url.username().is_empty() || url.password().is_some()) => url,
        _ => {
            out.push_str(scheme);
            out.push_str("://");
            out.push_str(REDACTED);
            return;
        }
    };
    if written_userinfo {
        out.push_str(&url[..Position::BeforeUsername]);
        out.push_str(REDACTED);
        out.push('@');
        out.push_str(&url[Position::BeforeHost..Position::AfterPath]);
    } else {
        out.push_str(&url[..Position::AfterPath]);
    }
    if url.query().is_some() {
        out.push('?');
        out.push_str(REDACTED);
    }
    if url.fragment().is_some() {
        out.push('#');
        out.push_str(REDACTED);
    }
}

/// Bytes percent-encoded in the encoded form of a secret: all but RFC 3986's unreserved characters.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `error` and its causes on one line (`error connecting to server: Connection refused (os error 111)`); a cause
/// its parent already prints is not repeated.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The text of a secret credential.
pub(crate) fn utf8(value: &SecretValue) -> Result<&str> {
    std::str::from_utf8(value.expose_bytes()).map_err(|_| invalid("the credential is not UTF-8 text"))
}

/// How a database session uses TLS: libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain text; a password is sent as the server asks. Only when the connection says so.
    Disable,
    /// TLS when the server offers it, else plain text; the certificate is not verified (unless `ssl_root_cert` is
    /// given, then its chain is). PostgreSQL: a server that asks for the password in clear text without TLS is
    /// refused. The default.
    Prefer,
    /// TLS or nothing; the certificate is not verified (unless `ssl_root_cert` is given, then its chain is).
    Require,
    /// TLS; the certificate chain is verified, the host name is not.
    VerifyCa,
    /// TLS; the certificate chain and the host name are verified.
    VerifyFull,
}

/// A [`ConnectError::Invalid`].
pub(crate) fn invalid(message: impl Into<String>) -> ConnectError {
    ConnectError::Invalid(message.into())
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A canary secret: its text must never appear in a probe's reason.
    pub(crate) const CANARY: &str = "canary-Zq7/x+K9@w#s3cr3t";

    /// A secret credential holding `text`.
    pub(crate) fn secret(text: &str) -> Auth {
        Auth::Secret(SecretValue::from(SecretString::new(text)))
    }

    /// A secret credential holding the JSON document `value`.
    pub(crate) fn json_secret(value: serde_json::Value) -> Auth {
        secret(&value.to_string())
    }

    /// A target of `kind` with `options` and `auth`, timing out after `seconds`.
    pub(crate) fn target<'a>(kind: &str, options: &[(&str, &str)], auth: &'a Auth, seconds: i64) -> Target<'a> {
        let options = options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Target::new("test", kind, options, auth, Some(seconds)).unwrap()
    }

    #[test]
    fn sslmode_is_libpqs_spelling_of_ssl_mode() {
        let auth = Auth::None;
        let mode = |options: &[(&str, &str)]| target("postgresql", options, &auth, 5).ssl_mode();
        assert_eq!(mode(&[]).unwrap(), SslMode::Prefer);
        assert_eq!(mode(&[("sslmode", "verify-full")]).unwrap(), SslMode::VerifyFull);
        assert_eq!(mode(&[("sslmode", "disable")]).unwrap(), SslMode::Disable);
        assert_eq!(mode(&[("ssl_mode", "require"), ("sslmode", "require")]).unwrap(), SslMode::Require);
        assert_eq!(
            mode(&[("ssl_mode", "require"), ("sslmode", "verify-full")]).unwrap_err().to_string(),
            "option \"ssl_mode\" and option \"sslmode\" disagree; give one of them (sslmode is libpq's spelling of \
             ssl_mode)"
        );
        assert_eq!(
            mode(&[("sslmode", "sometimes")]).unwrap_err().to_string(),
            "option \"sslmode\" must be 'disable', 'prefer', 'require', 'verify-ca' or 'verify-full'"
        );
        assert!(mode(&[("sslmode", "require"), ("ssl_enabled", "false")]).is_err());
        assert_eq!(mode(&[("sslmode", "verify-full"), ("ssl_enabled", "true")]).unwrap(), SslMode::VerifyFull);
    }

    #[test]
    fn the_scrubber_hides_the_secret_its_json_values_and_their_encodings() {
        let auth = json_secret(json!({"username": "app", "password": CANARY, "port": 5}));
        let scrubber = Scrubber::of(&auth);
        let message =
            format!("user app with {CANARY}, encoded sig={} failed", utf8_percent_encode(CANARY, NOT_UNRESERVED));
        let scrubbed = scrubber.apply(&message);
        assert_eq!(scrubbed, "user app with ***, encoded sig=*** failed");
        // Short values are left alone; the user name is not a secret.
        assert_eq!(scrubber.apply("port 5 for app"), "port 5 for app");

        let plain = secret(&format!("  {CANARY}\n"));
        assert_eq!(Scrubber::of(&plain).apply(&format!("[{CANARY}]")), "[***]");
        assert_eq!(Scrubber::of(&Auth::None).apply("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn the_scrubber_hides_values_nested_in_a_json_credential() {
        // A link's HTTP credentials hold their header values in an object.
        let auth = json_secret(json!({"headers": {"X-Api-Key": CANARY, "X-Other": ["list-secret"]}, "user": "app"}));
        let scrubber = Scrubber::of(&auth);
        assert_eq!(
            scrubber.apply(&format!("header {CANARY} and list-secret refused for app")),
            "header *** and *** refused for app"
        );
        // A MYSQL link's user and an AZURE link's account name stay readable.
        let auth =
            json_secret(json!({"database.user": "s2user", "account_name": "acct1", "database.password": CANARY}));
        assert_eq!(
            Scrubber::of(&auth).apply(&format!("access denied for s2user at acct1 with {CANARY}")),
            "access denied for s2user at acct1 with ***"
        );
        // A GCS service account key: its private key and key id are hidden, its account and kind are not.
        let auth = json_secret(json!({
            "type": "service_account",
            "client_email": "loader@p.iam.gserviceaccount.com",
            "private_key_id": "key-id-1234",
            "private_key": CANARY,
            "disable_oauth": true,
        }));
        assert_eq!(
            Scrubber::of(&auth)
                .apply(&format!("service_account loader@p.iam.gserviceaccount.com (key-id-1234, {CANARY}) is true")),
            "service_account loader@p.iam.gserviceaccount.com (***, ***) is true"
        );
    }

    #[test]
    fn urls_lose_their_userinfo_and_query() {
        let scrubber = Scrubber::of(&Auth::None);
        assert_eq!(
            scrubber.apply("GET https://u:pw@h.example/a/b?sv=1&sig=xyz failed, see http://h/doc."),
            "GET https://***@h.example/a/b?*** failed, see http://h/doc."
        );
        assert_eq!(scrubber.apply("(\"http://h:1/x?y\")"), "(\"http://h:1/x?***\")");
        assert_eq!(scrubber.apply("no url here"), "no url here");
        let cases = [
            // A URL with nothing to hide stays exactly as written.
            ("GET HTTP://H.example:80 failed", "GET HTTP://H.example:80 failed"),
            // The last `@` of the authority ends the userinfo; the query runs to white space (a trailing comma with
            // it).
            (
                "postgres://app:p@ss@db:5432/x?sslmode=require, mysql://root@h/db",
                "postgres://***@db:5432/x?*** mysql://***@h/db",
            ),
            // A fragment may hold a token too.
            ("callback https://h/cb#access_token=abc", "callback https://h/cb#***"),
            ("see:https://h/?a=1#b", "see:https://h/?***#***"),
            ("é→https://u:pw@h/", "é→https://***@h/"),
            // What the url crate cannot parse, or reads differently than it is written, keeps only its scheme.
            ("at postgres://u:pw@/db now", "at postgres://*** now"),
            (r"at http://h\u:pw@x/y now", "at http://*** now"),
            ("at ://u:pw@h/ now", "at ://*** now"),
        ];
        for (text, redacted) in cases {
            assert_eq!(scrubber.apply(text), redacted, "{text}");
        }
    }

    #[test]
    fn a_secret_inside_a_url_is_hidden_before_the_url_is_rewritten() {
        // The url crate would serialise `{` as `%7B` but keep `|`: neither form of the secret would match then.
        let secret_text = "canary{x|y}";
        let scrubber = Scrubber::of(&secret(secret_text));
        let scrubbed = scrubber.apply(&format!("GET https://h/{secret_text}/?q=1 failed"));
        assert_eq!(scrubbed, "GET https://h/***/?*** failed");
    }

    #[test]
    fn long_reasons_are_cut() {
        let long = "x".repeat(5000);
        assert_eq!(Scrubber::of(&Auth::None).apply(&long).chars().count(), MAX_REASON + 1);
    }

    #[test]
    fn logins_come_from_json_or_from_a_plain_password_and_the_username_option() {
        let auth = secret(r#"{"user":"app","password":"pw"}"#);
        let login = target("postgresql", &[], &auth, 1).login().unwrap();
        assert_eq!((login.user.as_str(), login.password.unwrap().expose_secret()), ("app", "pw"));

        let auth = secret("just-a-password\n");
        let login = target("mysql", &[("username", "root")], &auth, 1).login().unwrap();
        assert_eq!((login.user.as_str(), login.password.unwrap().expose_secret()), ("root", "just-a-password"));

        let auth = Auth::None;
        let error = target("mysql", &[], &auth, 1).login().err().unwrap();
        assert!(error.to_string().starts_with("no user to connect as"), "{error}");
    }

    #[test]
    fn the_timeout_comes_from_the_connection_then_the_option_then_the_default() {
        let auth = Auth::None;
        let options = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let of = |pairs: &[(&str, &str)], seconds| Target::new("t", "rest", options(pairs), &auth, seconds);
        assert_eq!(of(&[("connection_timeout", "3")], Some(7)).unwrap().timeout, Duration::from_secs(7));
        assert_eq!(of(&[("connection_timeout", "3")], None).unwrap().timeout, Duration::from_secs(3));
        assert_eq!(of(&[], Some(0)).unwrap().timeout, DEFAULT_TIMEOUT);
        let error = of(&[("connection_timeout", "soon")], None).err().unwrap();
        assert_eq!(error.to_string(), r#"option "connection_timeout" must be a positive number of seconds"#);
    }
}
