//! Links: SingleStore's CONFIG and CREDENTIALS keys, translated to the options and credential fields of the
//! connection type that talks to the same system, so that TEST LINK runs the very probe TEST CONNECTION runs.
//!
//! | link type | probe | CONFIG read | CREDENTIALS read |
//! |---|---|---|---|
//! | `S3` | `s3`: one object of `bucket`; without `bucket`, a signed ListBuckets | `region`, `endpoint_url`, `bucket`¹ | `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token` |
//! | `GCS` | `s3` against GCS's XML API (HMAC keys, `https://storage.googleapis.com`); with a service account key, one object of `bucket` through GCS's JSON API | `region`, `endpoint_url`, `bucket`¹ | `access_id`, `secret_key`; or a service account key¹ (`client_email`, `private_key_id`, `private_key`; `gcs_base_url`, `disable_oauth` for emulators) |
//! | `AZURE` | `azure_adls`: one blob of `container` | `container`¹, `endpoint_url`¹ | `account_name`, `account_key` |
//! | `HTTP` | `rest`: one request, its status checked | `url`¹, `method`¹, `expected_status`¹ | `headers`¹ (an object), `token`¹ |
//! | `MYSQL` | `mysql`: `SELECT 1`, `SELECT VERSION()` | `database.hostname`, `database.port`, `database.ssl.mode`; or `host`, `port`; `database`¹ | `database.user`, `database.password`; or `username` / `user`, `password` |
//!
//! ¹ A Lanyard key: SingleStore's link has none for it. Every type also reads `connection_timeout` (seconds, a
//! Lanyard key). Any other key is stored and ignored here (`disable_gunzip`, `request_payer`, the
//! `x-amz-server-side-encryption…` keys, `database.exclude.list`, …). `role_arn` is refused: assuming a role is
//! not built. `KAFKA`, `HDFS` and `MONGODB` have no probe: `no probe for link type KAFKA in this build`.
//!
//! What a link lacks is reported here, in the link's own words (`an S3 link's CREDENTIALS need both …`), before
//! any request is made; the probes then name CONFIG keys as the link spells them.

use lanyard_core::{ConnectionType, LinkType, SecretString};
use lanyard_resolve::{Auth, ResolvedConnection};

use crate::target::{Credential, Fields, LinkOptions, Target, invalid, utf8};
use crate::{ConnectError, Result};

/// GCS's XML API, which accepts HMAC keys signed as AWS Signature Version 4.
pub(crate) const GCS_XML_API: &str = "https://storage.googleapis.com";

/// The target of a resolved link of type `link_type`.
pub(crate) fn target(conn: &ResolvedConnection, link_type: LinkType) -> Result<Target<'_>> {
    let config: Vec<(String, String)> =
        conn.options().iter().map(|(key, value)| (key.to_owned(), value.into_owned())).collect();
    let Translation { kind, options, credential } = translate(link_type, &config, &conn.auth)?;
    Target::link(&conn.name(), link_type, kind, options, &conn.auth, credential)
}

/// A link, as the probe of a connection type reads it.
#[derive(Debug)]
pub(crate) struct Translation {
    /// The connection type whose probe runs.
    pub(crate) kind: ConnectionType,
    /// The CONFIG, as that type's options.
    pub(crate) options: LinkOptions,
    /// The CREDENTIALS, as that type's credential fields.
    pub(crate) credential: Credential,
}

/// The connection type whose probe a link of `link_type` runs; `None` for the types without one.
pub(crate) const fn probe_kind(link_type: LinkType) -> Option<ConnectionType> {
    match link_type {
        LinkType::S3 | LinkType::Gcs => Some(ConnectionType::S3),
        LinkType::Azure => Some(ConnectionType::AzureAdls),
        LinkType::Http => Some(ConnectionType::Rest),
        LinkType::Mysql => Some(ConnectionType::Mysql),
        LinkType::Kafka | LinkType::Hdfs | LinkType::Mongodb => None,
    }
}

/// Translates a link of `link_type` with CONFIG `config` (keys as written, values as text) and CREDENTIALS `auth`.
pub(crate) fn translate(link_type: LinkType, config: &[(String, String)], auth: &Auth) -> Result<Translation> {
    let kind = probe_kind(link_type).ok_or(ConnectError::UnsupportedLink(link_type))?;
    let config = Config(config);
    let credentials = credentials(auth)?;
    let mut options = LinkOptions::default();
    options.map(&config, "connection_timeout", &["connection_timeout"]);
    let (kind, credential) = match link_type {
        LinkType::S3 => (kind, s3(&config, &credentials, &mut options)?),
        LinkType::Gcs => gcs(&config, &credentials, &mut options)?,
        LinkType::Azure => (kind, azure(&config, &credentials, &mut options)?),
        LinkType::Http => (kind, http(&config, &credentials, &mut options)?),
        _ => (kind, mysql(&config, &credentials, &mut options)?),
    };
    Ok(Translation { kind, options, credential })
}

/// S3: `region`, `endpoint_url` (an S3-compatible endpoint; `http://` allowed), `bucket`; the AWS keys.
fn s3(config: &Config<'_>, credentials: &Fields, options: &mut LinkOptions) -> Result<Credential> {
    if field(credentials, &["role_arn"]).is_some() {
        return Err(invalid(
            r#"links that assume a role ("role_arn" in CREDENTIALS) are not supported in this build: give the link "aws_access_key_id" and "aws_secret_access_key" of their own"#,
        ));
    }
    options.map(config, "region", &["region"]);
    options.map(config, "endpoint", &["endpoint_url"]);
    options.map(config, "bucket", &["bucket"]);
    let keys = aws_keys(credentials, "an S3 link", "aws_access_key_id", "aws_secret_access_key")?;
    let mut fields = Fields::default();
    if let Some((id, secret)) = keys {
        fields.push("access_key_id", id);
        fields.push("secret_access_key", secret);
        if let Some(token) = field(credentials, &["aws_session_token"]) {
            fields.push("session_token", token);
        }
    }
    unsigned_needs_a_bucket(options, &fields, "an S3 link", "aws_access_key_id", "aws_secret_access_key")
}

/// GCS, in one of two forms, told apart by the CREDENTIALS:
///
/// - HMAC keys (`access_id`, `secret_key`, SingleStore's form) on GCS's XML API, which speaks S3 (an `s3` target);
///   `endpoint_url` and `region` (`auto`) override its defaults;
/// - a service account key (the key file's JSON: `client_email`, `private_key_id`, `private_key`, …; or, for an
///   emulator, `"disable_oauth": true` and no key) on GCS's JSON API (a `gcs` target, read by the `gcs_json`
///   module); `endpoint_url` names the API's base URL (an emulator's), else the key's `gcs_base_url`.
///
/// `bucket` names a bucket to probe.
fn gcs(config: &Config<'_>, credentials: &Fields, options: &mut LinkOptions) -> Result<(ConnectionType, Credential)> {
    let service_account = ["private_key", "client_email", "private_key_id", "disable_oauth"]
        .iter()
        .any(|key| credentials.get(&[*key]).is_some())
        || credentials.get(&["type"]).is_some_and(|kind| kind.expose_secret() == "service_account");
    if service_account {
        if credentials.get(&["access_id"]).is_some() || credentials.get(&["secret_key"]).is_some() {
            return Err(invalid(
                r#"a GCS link's CREDENTIALS hold HMAC keys ("access_id", "secret_key") or a service account key ("client_email", "private_key", …), not both"#,
            ));
        }
        let emulator = credentials.get(&["disable_oauth"]).is_some_and(|flag| flag.expose_secret().trim() == "true");
        let complete =
            ["client_email", "private_key_id", "private_key"].iter().all(|key| field(credentials, &[*key]).is_some());
        if !emulator && !complete {
            return Err(invalid(
                r#"a GCS link's service account key needs "client_email", "private_key_id" and "private_key" (or "disable_oauth": true, for an emulator that checks no credential)"#,
            ));
        }
        options.map(config, "endpoint", &["endpoint_url"]);
        options.map(config, "bucket", &["bucket"]);
        return Ok((ConnectionType::Gcs, Credential::Fields(credentials.clone())));
    }
    Ok((ConnectionType::S3, gcs_hmac(config, credentials, options)?))
}

/// GCS with HMAC keys: the `s3` target of GCS's XML API.
fn gcs_hmac(config: &Config<'_>, credentials: &Fields, options: &mut LinkOptions) -> Result<Credential> {
    options.map(config, "region", &["region"]);
    options.values.entry("region".to_owned()).or_insert_with(|| "auto".to_owned());
    options.map(config, "endpoint", &["endpoint_url"]);
    options.values.entry("endpoint".to_owned()).or_insert_with(|| GCS_XML_API.to_owned());
    options.map(config, "bucket", &["bucket"]);
    let mut fields = Fields::default();
    if let Some((id, secret)) = aws_keys(credentials, "a GCS link", "access_id", "secret_key")? {
        fields.push("access_key_id", id);
        fields.push("secret_access_key", secret);
    }
    unsigned_needs_a_bucket(options, &fields, "a GCS link", "access_id", "secret_key")
}

/// AZURE: the storage account's `account_name` and `account_key`; `container` names the container to list and
/// `endpoint_url` an emulator or sovereign-cloud endpoint.
fn azure(config: &Config<'_>, credentials: &Fields, options: &mut LinkOptions) -> Result<Credential> {
    options.map(config, "container", &["container"]);
    options.map(config, "endpoint", &["endpoint_url"]);
    let (Some(account), Some(key)) = (field(credentials, &["account_name"]), field(credentials, &["account_key"]))
    else {
        return Err(invalid(r#"an AZURE link's CREDENTIALS need "account_name" and "account_key""#));
    };
    options.values.insert("account_name".to_owned(), account.expose_secret().to_owned());
    let mut fields = Fields::default();
    fields.push("account_key", key);
    Ok(Credential::Fields(fields))
}

/// HTTP: `url`, `method`, `expected_status`; CREDENTIALS `headers` (each sent as a header) and `token` (sent as
/// `Authorization: Bearer <token>`).
fn http(config: &Config<'_>, credentials: &Fields, options: &mut LinkOptions) -> Result<Credential> {
    options.map(config, "endpoint", &["url"]);
    options.map(config, "method", &["method"]);
    options.map(config, "expected_status", &["expected_status"]);
    let mut fields = Fields::default();
    if let Some(headers) = credentials.get(&["headers"]) {
        let not_an_object = || {
            invalid(
                r#"CREDENTIALS key "headers" of an HTTP link must be a JSON object of header names and text values"#,
            )
        };
        let Ok(serde_json::Value::Object(headers)) = serde_json::from_str(headers.expose_secret()) else {
            return Err(not_an_object());
        };
        for (name, value) in headers {
            let serde_json::Value::String(value) = value else { return Err(not_an_object()) };
            fields.push(&name, SecretString::new(value));
        }
    }
    if let Some(token) = field(credentials, &["token"]) {
        if fields.get(&["authorization"]).is_some() {
            return Err(invalid(
                r#"an HTTP link's CREDENTIALS set "Authorization" twice: in "headers" and as "token"; keep one"#,
            ));
        }
        fields.push("Authorization", SecretString::new(format!("Bearer {}", token.expose_secret())));
    }
    Ok(if fields.is_empty() { Credential::None } else { Credential::Fields(fields) })
}

/// MYSQL: SingleStore's `database.hostname`, `database.port`, `database.ssl.mode`, `database.user`,
/// `database.password`, or the plain `host`, `port`, `username` / `user`, `password`; `database` to connect to.
fn mysql(config: &Config<'_>, credentials: &Fields, options: &mut LinkOptions) -> Result<Credential> {
    options.map(config, "host", &["database.hostname", "host"]);
    options.map(config, "port", &["database.port", "port"]);
    options.map(config, "database", &["database"]);
    if let Some((key, mode)) = config.find(&["database.ssl.mode"]) {
        let tls = match mode.trim().to_ascii_lowercase().as_str() {
            "disabled" => "disable",
            "preferred" => "prefer",
            "required" => "require",
            "verify_ca" => "verify-ca",
            "verify_identity" => "verify-full",
            _ => {
                return Err(invalid(format!(
                    "CONFIG key {key:?} must be disabled, preferred, required, verify_ca or verify_identity"
                )));
            }
        };
        options.values.insert("ssl_mode".to_owned(), tls.to_owned());
        options.keys.insert("ssl_mode".to_owned(), key.to_owned());
    }
    let Some(user) = field(credentials, &["database.user", "username", "user"]) else {
        return Err(invalid(r#"a MYSQL link's CREDENTIALS need "database.user" (or "username")"#));
    };
    let mut fields = Fields::default();
    fields.push("username", user);
    if let Some(password) = field(credentials, &["database.password", "password"]) {
        fields.push("password", password);
    }
    Ok(Credential::Fields(fields))
}

/// The access key id and secret of an S3-style link (`link`: `an S3 link`): both or neither.
fn aws_keys(
    credentials: &Fields,
    link: &str,
    id_key: &str,
    secret_key: &str,
) -> Result<Option<(SecretString, SecretString)>> {
    match (field(credentials, &[id_key]), field(credentials, &[secret_key])) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        _ => Err(invalid(format!("{link}'s CREDENTIALS need both {id_key:?} and {secret_key:?}"))),
    }
}

/// A link without keys makes unsigned requests, which only a public bucket answers; listing the buckets needs
/// keys.
fn unsigned_needs_a_bucket(
    options: &LinkOptions,
    fields: &Fields,
    link: &str,
    id_key: &str,
    secret_key: &str,
) -> Result<Credential> {
    if !fields.is_empty() {
        return Ok(Credential::Fields(fields.clone()));
    }
    if !options.values.contains_key("bucket") {
        return Err(invalid(format!(
            r#"{link} without keys can only be probed on a public bucket: set CONFIG key "bucket", or CREDENTIALS {id_key:?} and {secret_key:?}"#
        )));
    }
    Ok(Credential::None)
}

/// A link's CREDENTIALS as fields: a JSON object (the Control Plane stores nothing else); none without CREDENTIALS.
fn credentials(auth: &Auth) -> Result<Fields> {
    match auth {
        Auth::Secret(value) => {
            Fields::parse(utf8(value)?).ok_or_else(|| invalid("the link's CREDENTIALS are not a JSON object"))
        }
        // A link has no credential storage, so no ambient identity.
        Auth::None | Auth::Ambient(_) => Ok(Fields::default()),
    }
}

/// The first of `keys` in `fields` with a value that is not blank.
fn field(fields: &Fields, keys: &[&str]) -> Option<SecretString> {
    keys.iter().filter_map(|key| fields.get(&[*key])).find(|value| !value.expose_secret().trim().is_empty()).cloned()
}

/// A link's CONFIG: keys as written, values as text.
struct Config<'a>(&'a [(String, String)]);

impl Config<'_> {
    /// The first of `keys` set to a value that is not blank (keys compare case-insensitively), with the key as
    /// written.
    fn find(&self, keys: &[&str]) -> Option<(&str, &str)> {
        keys.iter().find_map(|key| {
            self.0
                .iter()
                .find(|(written, value)| written.eq_ignore_ascii_case(key) && !value.trim().is_empty())
                .map(|(written, value)| (written.as_str(), value.as_str()))
        })
    }
}

impl LinkOptions {
    /// Reads option `option` from the first of CONFIG `keys` that is set; messages name that key, or `keys[0]`
    /// when none is.
    fn map(&mut self, config: &Config<'_>, option: &str, keys: &[&str]) {
        match config.find(keys) {
            Some((key, value)) => {
                self.values.insert(option.to_owned(), value.trim().to_owned());
                self.keys.insert(option.to_owned(), key.to_owned());
            }
            None => {
                self.keys.insert(option.to_owned(), keys[0].to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::target::tests::{CANARY, json_secret};

    fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    fn translate_ok(link_type: LinkType, pairs: &[(&str, &str)], auth: &Auth) -> Translation {
        translate(link_type, &config(pairs), auth).unwrap_or_else(|error| panic!("{link_type}: {error}"))
    }

    fn translate_err(link_type: LinkType, pairs: &[(&str, &str)], auth: &Auth) -> String {
        match translate(link_type, &config(pairs), auth) {
            Ok(translation) => panic!("{link_type}: expected an error, got {translation:?}"),
            Err(error) => error.to_string(),
        }
    }

    /// The options as `(option, value)` pairs.
    fn values(translation: &Translation) -> Vec<(&str, &str)> {
        translation.options.values.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect()
    }

    /// The credential's fields as `(name, value)` pairs; `None` for no credential.
    fn fields(translation: &Translation) -> Option<Vec<(String, String)>> {
        match &translation.credential {
            Credential::Fields(fields) => {
                Some(fields.iter().map(|(key, value)| (key.to_owned(), value.expose_secret().to_owned())).collect())
            }
            Credential::None => None,
            _ => panic!("a link's credential is fields or nothing"),
        }
    }

    fn pairs(items: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(items.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect())
    }

    #[test]
    fn s3_reads_the_aws_keys_region_and_endpoint_url_and_ignores_the_rest() {
        let auth = json_secret(json!({
            "aws_access_key_id": "AKIDLINK",
            "aws_secret_access_key": CANARY,
            "aws_session_token": "session-token",
        }));
        let config = [
            ("region", "eu-west-1"),
            ("endpoint_url", "http://127.0.0.1:9000"),
            ("disable_gunzip", "true"),
            ("request_payer", "requester"),
            ("x-amz-server-side-encryption", "AES256"),
        ];
        let translation = translate_ok(LinkType::S3, &config, &auth);
        assert_eq!(translation.kind, ConnectionType::S3);
        assert_eq!(values(&translation), [("endpoint", "http://127.0.0.1:9000"), ("region", "eu-west-1")]);
        assert_eq!(
            fields(&translation),
            pairs(&[("access_key_id", "AKIDLINK"), ("secret_access_key", CANARY), ("session_token", "session-token")])
        );
        assert_eq!(translation.options.keys["endpoint"], "endpoint_url");

        let bucket = translate_ok(LinkType::S3, &[("bucket", "data")], &Auth::None);
        assert_eq!(values(&bucket), [("bucket", "data")]);
        assert!(fields(&bucket).is_none(), "no keys: unsigned requests");
    }

    #[test]
    fn s3_refuses_half_a_key_a_role_and_unsigned_requests_without_a_bucket() {
        let half = json_secret(json!({"aws_access_key_id": "AKIDLINK"}));
        assert_eq!(
            translate_err(LinkType::S3, &[], &half),
            r#"an S3 link's CREDENTIALS need both "aws_access_key_id" and "aws_secret_access_key""#
        );
        let role = json_secret(json!({"aws_access_key_id": "A", "aws_secret_access_key": "B", "role_arn": "arn:r"}));
        assert!(translate_err(LinkType::S3, &[], &role).starts_with("links that assume a role"));
        assert_eq!(
            translate_err(LinkType::S3, &[("region", "us-east-1")], &json_secret(json!({}))),
            r#"an S3 link without keys can only be probed on a public bucket: set CONFIG key "bucket", or CREDENTIALS "aws_access_key_id" and "aws_secret_access_key""#
        );
    }

    #[test]
    fn gcs_signs_with_its_hmac_keys_on_the_xml_api() {
        let auth = json_secret(json!({"access_id": "GOOG1EXAMPLE", "secret_key": CANARY}));
        let translation = translate_ok(LinkType::Gcs, &[], &auth);
        assert_eq!(translation.kind, ConnectionType::S3);
        assert_eq!(values(&translation), [("endpoint", GCS_XML_API), ("region", "auto")]);
        assert_eq!(fields(&translation), pairs(&[("access_key_id", "GOOG1EXAMPLE"), ("secret_access_key", CANARY)]));
        let custom = translate_ok(LinkType::Gcs, &[("endpoint_url", "http://127.0.0.1:4443"), ("bucket", "b")], &auth);
        assert_eq!(values(&custom), [("bucket", "b"), ("endpoint", "http://127.0.0.1:4443"), ("region", "auto")]);
        assert_eq!(
            translate_err(LinkType::Gcs, &[], &json_secret(json!({"secret_key": CANARY}))),
            r#"a GCS link's CREDENTIALS need both "access_id" and "secret_key""#
        );
    }

    #[test]
    fn gcs_source_links_with_a_service_account_key_read_through_the_json_api() {
        let key = json!({
            "type": "service_account",
            "project_id": "p",
            "client_email": "loader@p.iam.gserviceaccount.com",
            "private_key_id": "k1",
            "private_key": CANARY,
        });
        let translation = translate_ok(LinkType::Gcs, &[("endpoint_url", "http://127.0.0.1:4443")], &json_secret(key));
        assert_eq!(translation.kind, ConnectionType::Gcs);
        assert_eq!(values(&translation), [("endpoint", "http://127.0.0.1:4443")]);
        let fields = fields(&translation).unwrap();
        assert!(fields.contains(&("private_key".to_owned(), CANARY.to_owned())), "{:?}", fields.len());

        // An emulator: no key at all.
        let emulator = json_secret(json!({"disable_oauth": true}));
        assert_eq!(translate_ok(LinkType::Gcs, &[("bucket", "b")], &emulator).kind, ConnectionType::Gcs);

        let half = json_secret(json!({"type": "service_account", "client_email": "a@b", "private_key": CANARY}));
        let error = translate_err(LinkType::Gcs, &[], &half);
        assert!(
            error.starts_with(
                r#"a GCS link's service account key needs "client_email", "private_key_id" and "private_key""#
            ),
            "{error}"
        );
        let both = json_secret(json!({"access_id": "GOOG1", "secret_key": CANARY, "private_key": CANARY}));
        let error = translate_err(LinkType::Gcs, &[], &both);
        assert!(
            error.starts_with(
                r#"a GCS link's CREDENTIALS hold HMAC keys ("access_id", "secret_key") or a service account key"#
            ),
            "{error}"
        );
        assert!(!error.contains(CANARY));
    }

    #[test]
    fn azure_reads_the_account_from_its_credentials() {
        let auth = json_secret(json!({"account_name": "acct", "account_key": CANARY}));
        let translation = translate_ok(LinkType::Azure, &[("container", "c")], &auth);
        assert_eq!(translation.kind, ConnectionType::AzureAdls);
        assert_eq!(values(&translation), [("account_name", "acct"), ("container", "c")]);
        assert_eq!(fields(&translation), pairs(&[("account_key", CANARY)]));
        assert_eq!(
            translate_err(LinkType::Azure, &[("container", "c")], &json_secret(json!({"account_name": "acct"}))),
            r#"an AZURE link's CREDENTIALS need "account_name" and "account_key""#
        );
    }

    #[test]
    fn http_sends_its_headers_and_token() {
        let auth = json_secret(json!({"headers": {"X-Api-Key": CANARY}, "token": "tok"}));
        let config = [("url", "https://api.example/health"), ("method", "HEAD"), ("expected_status", "204")];
        let translation = translate_ok(LinkType::Http, &config, &auth);
        assert_eq!(translation.kind, ConnectionType::Rest);
        assert_eq!(
            values(&translation),
            [("endpoint", "https://api.example/health"), ("expected_status", "204"), ("method", "HEAD")]
        );
        assert_eq!(fields(&translation), pairs(&[("X-Api-Key", CANARY), ("Authorization", "Bearer tok")]));
        assert!(fields(&translate_ok(LinkType::Http, &config, &Auth::None)).is_none());

        let twice = json_secret(json!({"headers": {"authorization": "Basic x"}, "token": "tok"}));
        assert!(translate_err(LinkType::Http, &config, &twice).contains(r#"set "Authorization" twice"#));
        let nested = json_secret(json!({"headers": {"X-A": {"deep": CANARY}}}));
        let error = translate_err(LinkType::Http, &config, &nested);
        assert!(error.starts_with(r#"CREDENTIALS key "headers" of an HTTP link must be a JSON object"#), "{error}");
        assert!(!error.contains(CANARY));
    }

    #[test]
    fn mysql_reads_singlestores_database_keys_or_the_plain_ones() {
        let auth = json_secret(json!({"database.user": "s2user", "database.password": CANARY}));
        let config = [
            ("database.hostname", "db.internal"),
            ("database.port", "3307"),
            ("database.ssl.mode", "required"),
            ("database.exclude.list", "dbTest"),
        ];
        let translation = translate_ok(LinkType::Mysql, &config, &auth);
        assert_eq!(translation.kind, ConnectionType::Mysql);
        assert_eq!(values(&translation), [("host", "db.internal"), ("port", "3307"), ("ssl_mode", "require")]);
        assert_eq!(fields(&translation), pairs(&[("username", "s2user"), ("password", CANARY)]));
        assert_eq!(translation.options.keys["port"], "database.port");

        let plain = json_secret(json!({"username": "app", "password": "pw"}));
        let config =
            [("host", "127.0.0.1"), ("port", "3306"), ("database", "shop"), ("database.ssl.mode", "preferred")];
        let translation = translate_ok(LinkType::Mysql, &config, &plain);
        assert_eq!(
            values(&translation),
            [("database", "shop"), ("host", "127.0.0.1"), ("port", "3306"), ("ssl_mode", "prefer")]
        );
        assert_eq!(fields(&translation), pairs(&[("username", "app"), ("password", "pw")]));

        assert_eq!(
            translate_err(LinkType::Mysql, &[("host", "h")], &json_secret(json!({"password": CANARY}))),
            r#"a MYSQL link's CREDENTIALS need "database.user" (or "username")"#
        );
        assert_eq!(
            translate_err(LinkType::Mysql, &[("database.ssl.mode", "sometimes")], &plain),
            r#"CONFIG key "database.ssl.mode" must be disabled, preferred, required, verify_ca or verify_identity"#
        );
    }

    #[test]
    fn kafka_hdfs_and_mongodb_have_no_probe() {
        let garbage = json_secret(json!("not even an object"));
        for link_type in [LinkType::Kafka, LinkType::Hdfs, LinkType::Mongodb] {
            let error = translate_err(link_type, &[], &garbage);
            assert_eq!(error, format!("no probe for link type {link_type} in this build"));
        }
        assert_eq!(translate_err(LinkType::Kafka, &[], &Auth::None), "no probe for link type KAFKA in this build");
    }

    #[test]
    fn credentials_that_are_not_an_object_are_refused_without_quoting_them() {
        let error = translate_err(LinkType::S3, &[], &json_secret(json!(CANARY)));
        assert_eq!(error, "the link's CREDENTIALS are not a JSON object");
    }

    /// The target of a link of `link_type`.
    #[cfg(all(feature = "mysql", feature = "rest"))]
    fn link_target<'a>(link_type: LinkType, pairs: &[(&str, &str)], auth: &'a Auth) -> Result<Target<'a>> {
        let Translation { kind, options, credential } = translate_ok(link_type, pairs, auth);
        Target::link("db.l", link_type, kind, options, auth, credential)
    }

    #[cfg(all(feature = "mysql", feature = "rest"))]
    #[tokio::test]
    async fn messages_name_config_keys_as_the_link_writes_them() {
        let auth = json_secret(json!({"database.user": "u", "database.password": CANARY}));
        let target = link_target(LinkType::Mysql, &[("database.port", "none")], &auth).unwrap();
        let error = crate::mysql::probe(&target).await.err().unwrap().to_string();
        assert_eq!(error, r#"CONFIG key "database.hostname" is required for link type MYSQL"#);
        let target = link_target(LinkType::Mysql, &[("host", "h"), ("database.port", "none")], &auth).unwrap();
        let error = crate::mysql::probe(&target).await.err().unwrap().to_string();
        assert_eq!(error, r#"CONFIG key "database.port" must be a number from 1 to 65535"#);

        let target = link_target(LinkType::Http, &[], &Auth::None).unwrap();
        let error = crate::rest::probe_rest(&target).await.err().unwrap().to_string();
        assert_eq!(error, r#"CONFIG key "url" is required for link type HTTP"#);

        let error = link_target(LinkType::S3, &[("connection_timeout", "soon"), ("bucket", "b")], &Auth::None)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(error, r#"CONFIG key "connection_timeout" must be a positive number of seconds"#);
    }
}
