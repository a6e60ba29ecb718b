//! `s3`, `gcs`, `azure_adls` and `local`: the `object_store` crate (its own HTTP client: reqwest with rustls and ring;
//! no cloud SDK).
//!
//! The store a helper returns is rooted at the connection's `path` option (a [`PrefixStore`]), so callers address
//! objects relative to it; the probe lists at most one object there. An `S3` or `GCS` link without a `bucket` is
//! probed with a signed ListBuckets instead (SingleStore's link names no bucket: its pipelines do).

use std::sync::Arc;

use futures::StreamExt as _;
use lanyard_core::ConnectionType;
use lanyard_resolve::{Auth, ConnectionRef, ResolvedConnection, Resolver};
use object_store::aws::{AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::{HttpConnector as _, HttpRequest, HttpRequestBody, ReqwestConnector};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use url::Url;

use crate::gcs_json::{Failure, GcsJson};
use crate::target::{Credential, Fields, Target, chain, invalid, utf8};
use crate::{ConnectError, Result};

/// The types this module opens.
const KINDS: &[ConnectionType] =
    &[ConnectionType::S3, ConnectionType::Gcs, ConnectionType::AzureAdls, ConnectionType::Local];

/// Resolves `conn` fresh and builds its object store, rooted at its `path` option. Credentials are read once, now:
/// build a new store to pick up a rotation.
pub async fn object_store(resolver: &Resolver, conn: impl Into<ConnectionRef>) -> Result<Arc<dyn ObjectStore>> {
    let resolved = resolver.resolve(conn).await?;
    connect_object_store(&resolved).await
}

/// Builds the object store of a connection whose credential was just resolved, rooted at its `path` option.
pub async fn connect_object_store(conn: &ResolvedConnection) -> Result<Arc<dyn ObjectStore>> {
    let target = Target::of(conn)?;
    target.expect(KINDS, "an object store type (s3, gcs, azure_adls, local)")?;
    target.bounded(build(&target)).await
}

/// Lists at most one object under the configured path: an empty bucket passes, a missing one fails with the
/// store's reason. An S3-style link without a bucket lists the buckets instead ([`list_buckets`]).
pub(crate) async fn probe(target: &Target<'_>) -> Result<Option<String>> {
    if target.is_link() && target.kind == Some(ConnectionType::S3) && target.get("bucket").is_none() {
        return list_buckets(target).await;
    }
    // GCS with a service account key (a link's CREDENTIALS, a connection's secret or a `gcp` storage's lent key)
    // lists through the JSON API, which the real service and its emulators share.
    if target.kind == Some(ConnectionType::Gcs)
        && (target.is_link() || crate::gcs_json::service_account_key(target)?.is_some())
    {
        return probe_gcs_json(target).await;
    }
    let store = build(target).await?;
    let mut listing = store.list(None);
    match listing.next().await {
        None | Some(Ok(_)) => Ok(None),
        Some(Err(error)) => Err(target.remote(format_args!("listing failed: {}", without_xml_body(&chain(&error))))),
    }
}

/// A `GCS` link or connection with a service account key: lists at most one object of its `bucket` through the
/// JSON API ([`GcsJson`]); a link without a bucket names one to probe, since a pipeline's path names it otherwise.
async fn probe_gcs_json(target: &Target<'_>) -> Result<Option<String>> {
    let bucket = target.required("bucket")?;
    let client = GcsJson::new(target, bucket)?;
    // A connection's `path` is under the bucket; a link's probe lists the bucket.
    let prefix = if target.is_link() { None } else { target.get("path") };
    if let Some(path) = prefix.map(|path| path.trim_matches('/')).filter(|path| !path.is_empty()) {
        Path::parse(path).map_err(|_| invalid(format!("{} is not a valid object path", target.describe("path"))))?;
    }
    match client.probe(prefix, target.timeout).await {
        Ok(()) => Ok(None),
        Err(Failure::Timeout) => Err(ConnectError::Timeout(target.timeout)),
        Err(Failure::Changed) => Err(target.remote("listing failed: the bucket is gone")),
        Err(Failure::Failed(reason)) => Err(target.remote(format_args!("listing failed: {reason}"))),
    }
}

/// A signed ListBuckets (`GET /` on the endpoint, AWS Signature Version 4): passes when the service accepts the
/// keys, fails with its error code otherwise (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`). The
/// endpoint is the `endpoint` option, else AWS's regional one.
async fn list_buckets(target: &Target<'_>) -> Result<Option<String>> {
    let keys = match target.credential()? {
        Credential::Fields(fields) => match (fields.get(&["access_key_id"]), fields.get(&["secret_access_key"])) {
            (Some(id), Some(secret)) => Some(AwsCredential {
                key_id: id.expose_secret().to_owned(),
                secret_key: secret.expose_secret().to_owned(),
                token: fields.get(&["session_token"]).map(|token| token.expose_secret().to_owned()),
            }),
            _ => None,
        },
        _ => None,
    };
    let Some(credential) = keys else {
        return Err(invalid(format!("listing the buckets needs keys: set {}", target.describe("bucket"))));
    };
    // The signer puts the token in a header and panics on a value no header may hold: refuse it first.
    if credential.token.as_deref().is_some_and(|token| token.chars().any(char::is_control)) {
        return Err(invalid("the session token is not a valid HTTP header value"));
    }
    let region = target.get("region").unwrap_or("us-east-1");
    let endpoint = match target.get("endpoint") {
        Some(endpoint) => endpoint.to_owned(),
        None => format!("https://s3.{region}.amazonaws.com"),
    };
    let not_a_url = || invalid(format!("{} must be an http:// or https:// URL", target.describe("endpoint")));
    let url = Url::parse(&endpoint).map_err(|_| not_a_url())?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || url.password().is_some() {
        return Err(not_a_url());
    }
    let mut request = HttpRequest::new(HttpRequestBody::empty());
    *request.uri_mut() = url.as_str().parse().map_err(|_| not_a_url())?;
    AwsAuthorizer::new(&credential, "s3", region).authorize(&mut request, None);
    let options = probe_client_options(target).with_allow_http(url.scheme() == "http");
    let client = ReqwestConnector::default()
        .connect(&options)
        .map_err(|error| target.remote(format_args!("cannot build the HTTP client: {}", chain(&error))))?;
    let response = client
        .execute(request)
        .await
        .map_err(|error| target.remote(format_args!("listing the buckets failed: {}", chain(&error))))?;
    let status = response.status();
    if status.is_success() {
        return Ok(None);
    }
    // Only an S3 error document's code and message are quoted; any other body is left out.
    let body = response.into_body().bytes().await.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let reason = match body {
        Ok(body) if body.contains("<Error>") => without_xml_body(&format!("status {status}: {body}")),
        _ => format!("status {status}"),
    };
    Err(target.remote(format_args!("listing the buckets failed: {reason}")))
}

/// The store's reason without the XML error document some services append (S3's `<Error>` with request and host
/// ids): its `Code` and `Message` are kept, the rest is noise in a one-line reason.
pub(crate) fn without_xml_body(reason: &str) -> String {
    let Some(start) = reason.find("<?xml").or_else(|| reason.find("<Error>")) else { return reason.to_owned() };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let from = reason[start..].find(&open)? + start + open.len();
        let to = reason[from..].find(&format!("</{name}>"))? + from;
        Some(reason[from..to].trim().to_owned())
    };
    let head = reason[..start].trim_end().trim_end_matches(':').trim_end();
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{head}: {code}: {message}"),
        (Some(code), None) => format!("{head}: {code}"),
        _ => head.to_owned(),
    }
}

async fn build(target: &Target<'_>) -> Result<Arc<dyn ObjectStore>> {
    let client = probe_client_options(target);
    let (built, kind): (object_store::Result<Arc<dyn ObjectStore>>, _) = match target.kind {
        Some(kind @ ConnectionType::S3) => (s3(target, client)?.build().map(|store| Arc::new(store) as _), kind),
        Some(kind @ ConnectionType::Gcs) => (gcs(target, client)?.build().map(|store| Arc::new(store) as _), kind),
        Some(kind @ ConnectionType::AzureAdls) => {
            (azure(target, client)?.build().map(|store| Arc::new(store) as _), kind)
        }
        Some(ConnectionType::Local) => return local(target).await,
        _ => return Err(target.unsupported()),
    };
    let store = built.map_err(|error| target.remote(format_args!("{kind}: {}", chain(&error))))?;
    match target.get("path").map(|path| path.trim_matches('/')).filter(|path| !path.is_empty()) {
        None => Ok(store),
        Some(path) => {
            let prefix = Path::parse(path)
                .map_err(|_| invalid(format!("{} is not a valid object path", target.describe("path"))))?;
            Ok(Arc::new(PrefixStore::new(store, prefix)))
        }
    }
}

/// The store of a pipeline's source: a link's target (`s3` or `azure_adls`) whose `bucket` or `container` is the
/// pipeline path's, at the bucket's root. No I/O. Its requests are bounded by connecting within the target's
/// timeout; the caller bounds the waits after that (a big file may take longer than the timeout as a whole).
pub(crate) fn source_store(target: &Target<'_>) -> Result<Arc<dyn ObjectStore>> {
    let client = ClientOptions::new().with_connect_timeout(target.timeout).with_timeout_disabled();
    let (built, kind): (object_store::Result<Arc<dyn ObjectStore>>, _) = match target.kind {
        Some(kind @ ConnectionType::S3) => (s3(target, client)?.build().map(|store| Arc::new(store) as _), kind),
        Some(kind @ ConnectionType::AzureAdls) => {
            (azure(target, client)?.build().map(|store| Arc::new(store) as _), kind)
        }
        _ => return Err(target.unsupported()),
    };
    built.map_err(|error| target.remote(format_args!("{kind}: {}", chain(&error))))
}

/// One attempt per request (a probe reports the first failure rather than retrying into its timeout; a pipeline's
/// runner retries a failed batch itself), bounded by the target's timeout.
fn retry(target: &Target<'_>) -> RetryConfig {
    RetryConfig { backoff: BackoffConfig::default(), max_retries: 0, retry_timeout: target.timeout }
}

/// A probe's and a connect helper's requests: each bounded by the target's timeout as a whole.
fn probe_client_options(target: &Target<'_>) -> ClientOptions {
    ClientOptions::new().with_timeout(target.timeout).with_connect_timeout(target.timeout)
}

/// The builder calls s3 and azure_adls share.
trait CloudBuilder: Sized {
    /// A custom endpoint, plain `http://` allowed for it (emulators).
    fn endpoint(self, endpoint: &str, allow_http: bool) -> Self;
    /// The HTTP client's options.
    fn client_options(self, options: ClientOptions) -> Self;
    /// Unsigned requests.
    fn skip_signature(self) -> Self;
}

impl CloudBuilder for AmazonS3Builder {
    fn endpoint(self, endpoint: &str, allow_http: bool) -> Self {
        self.with_endpoint(endpoint).with_allow_http(allow_http)
    }
    fn client_options(self, options: ClientOptions) -> Self {
        self.with_client_options(options)
    }
    fn skip_signature(self) -> Self {
        self.with_skip_signature(true)
    }
}

impl CloudBuilder for MicrosoftAzureBuilder {
    fn endpoint(self, endpoint: &str, allow_http: bool) -> Self {
        self.with_endpoint(endpoint.to_owned()).with_allow_http(allow_http)
    }
    fn client_options(self, options: ClientOptions) -> Self {
        self.with_client_options(options)
    }
    fn skip_signature(self) -> Self {
        self.with_skip_signature(true)
    }
}

/// The `endpoint` option and the `client` options on `builder`, then the credential's fields to sign with: `None`
/// when the builder is complete already (the ambient default chain, or unsigned requests without a credential). A
/// credential that is not a JSON object is refused with `shape`.
fn endpoint_and_fields<B: CloudBuilder>(
    target: &Target<'_>,
    mut builder: B,
    credential: Credential,
    shape: &str,
    mut client: ClientOptions,
) -> Result<(B, Option<Fields>)> {
    if let Some(endpoint) = target.get("endpoint") {
        let allow_http = endpoint.starts_with("http://");
        builder = builder.endpoint(endpoint, allow_http);
        client = client.with_allow_http(allow_http);
    }
    let builder = builder.client_options(client);
    match credential {
        Credential::Fields(fields) | Credential::Ambient(Some(fields)) => Ok((builder, Some(fields))),
        Credential::Ambient(None) => Ok((builder, None)),
        Credential::None => Ok((builder.skip_signature(), None)),
        Credential::Text(_) => Err(invalid(shape)),
    }
}

/// Options: `bucket` (required), `region` (`us-east-1`), `endpoint` (`http://` allowed), `virtual_hosted_style_request`
/// (`'false'`: path-style, what emulators such as moto expect), `path`. Credential: JSON `access_key_id`,
/// `secret_access_key`, `session_token`; or the storage's ambient keys; or none (unsigned requests).
fn s3(target: &Target<'_>, client: ClientOptions) -> Result<AmazonS3Builder> {
    let bucket = target.required("bucket")?;
    let credential = target.credential()?;
    let builder = match credential {
        Credential::Ambient(None) => AmazonS3Builder::from_env(),
        _ => AmazonS3Builder::new(),
    };
    let builder = builder
        .with_bucket_name(bucket)
        .with_region(target.get("region").unwrap_or("us-east-1"))
        .with_virtual_hosted_style_request(target.flag("virtual_hosted_style_request", false)?)
        .with_retry(retry(target));
    let (mut builder, fields) = endpoint_and_fields(target, builder, credential, S3_SHAPE, client)?;
    let Some(fields) = fields else { return Ok(builder) };
    let access = fields.get(&["access_key_id", "aws_access_key_id"]);
    let secret = fields.get(&["secret_access_key", "aws_secret_access_key"]);
    let (Some(access), Some(secret)) = (access, secret) else {
        return Err(invalid(r#"an s3 credential needs both "access_key_id" and "secret_access_key""#));
    };
    builder = builder.with_access_key_id(access.expose_secret()).with_secret_access_key(secret.expose_secret());
    if let Some(token) = fields.get(&["session_token", "aws_session_token", "token"]) {
        builder = builder.with_token(token.expose_secret());
    }
    Ok(builder)
}

/// Options: `bucket` (required), `path`. Credential: the service-account key JSON; or the storage's ambient
/// `service_account_key`; or none (unsigned requests).
fn gcs(target: &Target<'_>, client: ClientOptions) -> Result<GoogleCloudStorageBuilder> {
    let bucket = target.required("bucket")?;
    let builder = match (target.credential()?, target.auth) {
        (Credential::Fields(_) | Credential::Text(_), Auth::Secret(value)) => {
            GoogleCloudStorageBuilder::new().with_service_account_key(utf8(value)?.trim())
        }
        (Credential::Ambient(Some(fields)), _) => {
            match fields.get(&["service_account_key", "google_service_account_key"]) {
                Some(key) => GoogleCloudStorageBuilder::new().with_service_account_key(key.expose_secret()),
                None => GoogleCloudStorageBuilder::from_env(),
            }
        }
        (Credential::Ambient(None), _) => GoogleCloudStorageBuilder::from_env(),
        _ => GoogleCloudStorageBuilder::new().with_skip_signature(true),
    };
    Ok(builder.with_bucket_name(bucket).with_retry(retry(target)).with_client_options(client))
}

/// Options: `container` and `account_name` (required), `endpoint` (`http://` allowed), `path`. Credential: JSON
/// `account_key`, or `sas_token`, or `client_id` + `client_secret` + `tenant_id`; or the storage's ambient keys, or
/// its ambient identity named by `azure_auth` ([`azure_identity`]); or none (unsigned requests).
fn azure(target: &Target<'_>, client: ClientOptions) -> Result<MicrosoftAzureBuilder> {
    let container = target.required("container")?;
    let account = target.required("account_name")?;
    let credential = target.credential()?;
    let builder = match credential {
        Credential::Ambient(None) => MicrosoftAzureBuilder::from_env(),
        _ => MicrosoftAzureBuilder::new(),
    };
    let builder = builder.with_account(account).with_container_name(container).with_retry(retry(target));
    let (builder, fields) = endpoint_and_fields(target, builder, credential, AZURE_SHAPE, client)?;
    let Some(fields) = fields else { return Ok(builder) };
    if let Some(method) = fields.get(&["azure_auth"]) {
        return azure_identity(builder, method.expose_secret(), &fields);
    }
    if let Some(key) = fields.get(&["account_key", "access_key", "azure_storage_account_key"]) {
        return Ok(builder.with_access_key(key.expose_secret()));
    }
    if let Some(sas) = fields.get(&["sas_token", "azure_storage_sas_token"]) {
        return Ok(builder.with_config(AzureConfigKey::SasKey, sas.expose_secret().trim_start_matches('?')));
    }
    let id = fields.get(&["client_id", "azure_client_id"]);
    let secret = fields.get(&["client_secret", "azure_client_secret"]);
    let tenant = fields.get(&["tenant_id", "azure_tenant_id"]);
    match (id, secret, tenant) {
        (Some(id), Some(secret), Some(tenant)) => Ok(builder.with_client_secret_authorization(
            id.expose_secret(),
            secret.expose_secret(),
            tenant.expose_secret(),
        )),
        _ => Err(invalid(AZURE_SHAPE)),
    }
}

/// A storage's ambient identity that is not a key or a client secret, as the `azure` backend lends it: `azure_auth`
/// names the method, the other fields the identity, and nothing comes from the server's environment besides what
/// object_store's credential itself reads (the managed identity endpoint's `IDENTITY_HEADER`).
fn azure_identity(builder: MicrosoftAzureBuilder, method: &str, fields: &Fields) -> Result<MicrosoftAzureBuilder> {
    let field = |name: &str| fields.get(&[name]).map(|value| value.expose_secret().to_owned());
    let authority = |builder: MicrosoftAzureBuilder| match field("authority_host") {
        Some(host) => builder.with_authority_host(host),
        None => builder,
    };
    match method {
        // object_store asks IMDS (or `msi_endpoint`) for a token, of the user-assigned identity `client_id` if given.
        "managed_identity" => {
            let builder = match field("client_id") {
                Some(id) => builder.with_client_id(id),
                None => builder,
            };
            Ok(match field("msi_endpoint") {
                Some(endpoint) => builder.with_msi_endpoint(endpoint),
                None => builder,
            })
        }
        "workload_identity" => match (field("client_id"), field("tenant_id"), field("federated_token_file")) {
            (Some(id), Some(tenant), Some(file)) => {
                Ok(authority(builder.with_client_id(id).with_tenant_id(tenant).with_federated_token_file(file)))
            }
            _ => Err(invalid(
                r#"an ambient workload identity needs "client_id", "tenant_id" and "federated_token_file""#,
            )),
        },
        "azure_cli" => Ok(builder.with_use_azure_cli(true)),
        other => Err(invalid(format!(
            "an ambient identity's \"azure_auth\" must be managed_identity, workload_identity or azure_cli, not {:?}",
            lanyard_core::printable(other, 64)
        ))),
    }
}

const S3_SHAPE: &str = r#"an s3 credential must be a JSON object with "access_key_id" and "secret_access_key""#;

const AZURE_SHAPE: &str = r#"an azure_adls credential must be a JSON object with "account_key", or "sas_token", or "client_id", "client_secret" and "tenant_id""#;

/// Options: `path` (required): an existing directory, the root of the store. No credential.
async fn local(target: &Target<'_>) -> Result<Arc<dyn ObjectStore>> {
    let path = target.required("path")?;
    match tokio::fs::metadata(path).await {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(target.remote(format_args!("local path {path:?} is not a directory"))),
        Err(error) => {
            return Err(target.remote(format_args!("local path {path:?} is not an existing directory: {error}")));
        }
    }
    let store = LocalFileSystem::new_with_prefix(path)
        .map_err(|error| target.remote(format_args!("local: {}", chain(&error))))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::target::tests::{CANARY, json_secret, secret, target};

    #[test]
    fn xml_error_documents_shrink_to_their_code_and_message() {
        use super::without_xml_body;
        let reason = "Client error with status 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code>\
                      <Message>The specified bucket does not exist</Message><RequestId>r</RequestId></Error>";
        assert_eq!(
            without_xml_body(reason),
            "Client error with status 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(without_xml_body("plain reason"), "plain reason");
    }

    #[tokio::test]
    async fn failures_name_the_store_and_never_the_keys() {
        // Azure account keys are base64: this one is "canary-account-key".
        const KEY: &str = "Y2FuYXJ5LWFjY291bnQta2V5";
        let s3 = json_secret(json!({
            "access_key_id": format!("AKIA{CANARY}"),
            "secret_access_key": CANARY,
            "session_token": format!("t-{CANARY}"),
        }));
        let sas = json_secret(json!({"sas_token": format!("?sv=2022-11-02&sig={CANARY}")}));
        let key = json_secret(json!({"account_key": KEY}));
        let azure = [("container", "c"), ("account_name", "acct"), ("endpoint", "http://127.0.0.1:1/acct")];
        let cases = [
            ("s3", &[("bucket", "b"), ("endpoint", "http://127.0.0.1:1"), ("path", "in/here")][..], &s3, CANARY),
            ("azure_adls", &azure[..], &sas, CANARY),
            ("azure_adls", &azure[..], &key, KEY),
        ];
        for (kind, options, auth, needle) in cases {
            let target = target(kind, options, auth, 5);
            let error = super::probe(&target).await.err().unwrap().to_string();
            assert!(error.starts_with("listing failed: "), "{kind}: {error}");
            assert!(!error.contains(needle) && !error.contains("canary"), "{kind}: {error}");
        }
    }

    /// A target for an S3 link with `config` and CREDENTIALS `auth`.
    fn s3_link<'a>(config: &[(&str, &str)], auth: &'a lanyard_resolve::Auth) -> crate::target::Target<'a> {
        use lanyard_core::LinkType;
        let config: Vec<(String, String)> =
            config.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        let translation = crate::links::translate(LinkType::S3, &config, auth).unwrap();
        crate::target::Target::link(
            "db.l",
            LinkType::S3,
            translation.kind,
            translation.options,
            auth,
            translation.credential,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn an_s3_link_without_a_bucket_lists_the_buckets_and_never_quotes_the_keys() {
        let keys = json_secret(json!({
            "aws_access_key_id": format!("AKIA{CANARY}"),
            "aws_secret_access_key": CANARY,
            "aws_session_token": format!("t-{CANARY}"),
        }));
        let target = s3_link(&[("endpoint_url", "http://127.0.0.1:1"), ("region", "us-east-1")], &keys);
        let error = super::probe(&target).await.err().unwrap().to_string();
        assert!(error.starts_with("listing the buckets failed: "), "{error}");
        assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");

        let error = super::probe(&s3_link(&[("endpoint_url", "ftp://h/")], &keys)).await.err().unwrap().to_string();
        assert_eq!(error, r#"CONFIG key "endpoint_url" must be an http:// or https:// URL"#);

        // The signer would panic on a token no header may hold: it is refused first.
        let bad_token =
            json_secret(json!({"aws_access_key_id": "A", "aws_secret_access_key": "B", "aws_session_token": "t\nx"}));
        let error = super::probe(&s3_link(&[("endpoint_url", "http://127.0.0.1:1")], &bad_token)).await.err().unwrap();
        assert_eq!(error.to_string(), "the session token is not a valid HTTP header value");
    }

    #[tokio::test]
    async fn an_ambient_identity_signs_with_its_options() {
        use lanyard_core::{OptionKey, OptionMap};
        use lanyard_resolve::{AmbientIdentity, Auth};
        let ambient = |pairs: &[(&str, &str)]| {
            let mut options = OptionMap::new();
            for (key, value) in pairs {
                options.insert(OptionKey::new(*key).unwrap(), *value);
            }
            Auth::Ambient(AmbientIdentity { backend_kind: "memory", description: "test".into(), options })
        };
        let options = [("bucket", "b"), ("endpoint", "http://127.0.0.1:1")];
        let keys = ambient(&[("access_key_id", "AKIDTEST"), ("secret_access_key", CANARY)]);
        let error = super::probe(&target("s3", &options, &keys, 5)).await.err().unwrap().to_string();
        assert!(error.starts_with("listing failed: "), "{error}");
        assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");
        let half = ambient(&[("access_key_id", "AKIDTEST")]);
        let error = super::probe(&target("s3", &options, &half, 5)).await.err().unwrap().to_string();
        assert_eq!(error, r#"an s3 credential needs both "access_key_id" and "secret_access_key""#);
    }

    /// The `azure` backend lends the identity it is configured with; the store signs as that identity, never as
    /// the server environment's default chain.
    #[test]
    fn an_azure_ambient_identity_signs_as_the_configured_identity() {
        use lanyard_core::{OptionKey, OptionMap};
        use lanyard_resolve::{AmbientIdentity, Auth};
        use object_store::azure::AzureConfigKey as Key;
        let ambient = |pairs: &[(&str, &str)]| {
            let mut options = OptionMap::new();
            for (key, value) in pairs {
                options.insert(OptionKey::new(*key).unwrap(), *value);
            }
            Auth::Ambient(AmbientIdentity { backend_kind: "azure", description: "test".into(), options })
        };
        let options = [("container", "c"), ("account_name", "acct")];
        let config = |auth: &Auth, keys: &[Key]| -> Vec<Option<String>> {
            let target = target("azure_adls", &options, auth, 5);
            let builder = super::azure(&target, super::probe_client_options(&target)).unwrap();
            keys.iter().map(|key| builder.get_config_value(key)).collect()
        };
        let some = |value: &str| Some(value.to_owned());

        let user_assigned = ambient(&[
            ("azure_auth", "managed_identity"),
            ("client_id", "mi-client"),
            ("msi_endpoint", "http://127.0.0.1:41000/msi/token"),
        ]);
        let keys = [Key::ClientId, Key::MsiEndpoint, Key::ClientSecret, Key::UseAzureCli];
        assert_eq!(
            config(&user_assigned, &keys),
            [some("mi-client"), some("http://127.0.0.1:41000/msi/token"), None, some("false")]
        );
        let system_assigned = ambient(&[("azure_auth", "managed_identity")]);
        assert_eq!(config(&system_assigned, &keys), [None, None, None, some("false")]);

        let cli = ambient(&[("azure_auth", "azure_cli")]);
        assert_eq!(config(&cli, &[Key::UseAzureCli, Key::ClientId]), [some("true"), None]);

        let workload = ambient(&[
            ("azure_auth", "workload_identity"),
            ("client_id", "wi-client"),
            ("tenant_id", "wi-tenant"),
            ("federated_token_file", "/var/run/secrets/azure/tokens/azure-identity-token"),
            ("authority_host", "https://login.microsoftonline.us"),
        ]);
        let keys = [Key::ClientId, Key::AuthorityId, Key::FederatedTokenFile, Key::AuthorityHost, Key::UseAzureCli];
        assert_eq!(
            config(&workload, &keys),
            [
                some("wi-client"),
                some("wi-tenant"),
                some("/var/run/secrets/azure/tokens/azure-identity-token"),
                some("https://login.microsoftonline.us"),
                some("false")
            ]
        );

        // The app's client secret signs as before.
        let app = ambient(&[("client_id", "app"), ("client_secret", CANARY), ("tenant_id", "t")]);
        let keys = [Key::ClientId, Key::ClientSecret, Key::AuthorityId];
        assert_eq!(config(&app, &keys), [some("app"), some(CANARY), some("t")]);

        let half = ambient(&[("azure_auth", "workload_identity"), ("client_id", "wi-client")]);
        let half = target("azure_adls", &options, &half, 5);
        let error = super::azure(&half, super::probe_client_options(&half)).err().unwrap().to_string();
        assert_eq!(error, r#"an ambient workload identity needs "client_id", "tenant_id" and "federated_token_file""#);
        let unknown = ambient(&[("azure_auth", "kerberos")]);
        let unknown = target("azure_adls", &options, &unknown, 5);
        let error = super::azure(&unknown, super::probe_client_options(&unknown)).err().unwrap().to_string();
        assert!(error.contains(r#""azure_auth" must be managed_identity, workload_identity or azure_cli"#), "{error}");
    }

    #[tokio::test]
    async fn credentials_of_the_wrong_shape_are_refused_without_quoting_them() {
        let plain = secret(CANARY);
        let s3 = target("s3", &[("bucket", "b")], &plain, 5);
        let error = super::probe(&s3).await.err().unwrap().to_string();
        assert_eq!(error, r#"an s3 credential must be a JSON object with "access_key_id" and "secret_access_key""#);
        let gcs = target("gcs", &[("bucket", "b")], &plain, 5);
        let error = super::probe(&gcs).await.err().unwrap().to_string();
        assert!(error.starts_with("gcs: "), "{error}");
        assert!(!error.contains(CANARY) && !error.contains("canary"), "{error}");
    }
}
