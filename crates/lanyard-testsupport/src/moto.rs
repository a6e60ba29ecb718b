//! moto, the AWS emulator: `cargo xtask test` installs it, starts one `moto_server` on a free port of 127.0.0.1
//! for the whole run, and hands its URL to the tests in [`MOTO_URL_ENV`].
//!
//! moto accepts any credentials and checks no signature, and the tests of one run share the server (nextest runs
//! them in parallel), so: give the AWS SDK (or `object_store`) the endpoint [`moto_url`] with [`MOTO_ACCESS_KEY_ID`]
//! / [`MOTO_SECRET_ACCESS_KEY`] and [`MOTO_REGION`], and name every bucket and secret with
//! [`unique_name`](crate::unique_name) rather than resetting the server between tests.

use crate::http;

/// The environment variable `cargo xtask test` sets to moto's URL, `http://127.0.0.1:<port>`.
pub const MOTO_URL_ENV: &str = "LANYARD_TEST_MOTO_URL";

/// An access key id moto accepts (any is accepted; this one is conventional).
pub const MOTO_ACCESS_KEY_ID: &str = "testing";

/// The secret access key that goes with [`MOTO_ACCESS_KEY_ID`].
pub const MOTO_SECRET_ACCESS_KEY: &str = "testing";

/// The region the helpers here use (moto keeps one state per region).
pub const MOTO_REGION: &str = "us-east-1";

/// moto's URL from [`MOTO_URL_ENV`].
///
/// # Panics
///
/// When the variable is not set: the test was not started by `cargo xtask test` (or `ci`), which starts moto.
pub fn moto_url() -> String {
    url_from(std::env::var(MOTO_URL_ENV).ok())
}

fn url_from(value: Option<String>) -> String {
    crate::emulator_url(value, "moto", MOTO_URL_ENV)
}

/// `POST /moto-api/reset`: forgets every bucket, secret and everything else moto holds.
///
/// Every test of the run shares the one moto, so this also wipes what tests running at the same time hold; use it
/// only in a test that is alone on its own moto. Unique names ([`unique_name`](crate::unique_name)) are the way
/// to keep tests apart.
pub fn moto_reset(url: &str) {
    let response = send(url, "POST", "/moto-api/reset", &[], b"", "reset moto");
    expect_ok(&response, "reset moto");
}

/// Creates the S3 bucket `bucket` in [`MOTO_REGION`] (`PUT /<bucket>`; moto needs no signature). Creating a
/// bucket that exists is no error.
pub fn moto_create_bucket(url: &str, bucket: &str) {
    let what = format!("create the bucket {bucket:?} in moto");
    let response = send(url, "PUT", &format!("/{bucket}"), &[], b"", &what);
    expect_ok(&response, &what);
}

/// Stores `body` as the object `key` of the S3 bucket `bucket` (`PUT /<bucket>/<key>`, as [`MOTO_ACCESS_KEY_ID`]:
/// moto checks no signature, but serves objects only to a request that names an account); returns its ETag as S3
/// reports it (quoted). `key` is sent percent-encoded, `/` kept.
pub fn moto_put_object(url: &str, bucket: &str, key: &str, body: &[u8]) -> String {
    let what = format!("put the object {key:?} into the bucket {bucket:?} in moto");
    let authorization = authorization("s3", MOTO_REGION);
    let headers = [("Authorization", authorization.as_str())];
    let response = send(url, "PUT", &format!("/{bucket}/{}", crate::encode_key(key)), &headers, body, &what);
    expect_ok(&response, &what);
    response.header("etag").unwrap_or_else(|| panic!("cannot {what}: moto's answer has no ETag")).to_owned()
}

/// Creates the Secrets Manager secret `name` with the string value `value` in `region`; returns its ARN.
pub fn moto_create_secret(url: &str, region: &str, name: &str, value: &str) -> String {
    let body = serde_json::json!({ "Name": name, "SecretString": value });
    let reply = secrets_manager(url, region, "CreateSecret", &body, &format!("create the secret {name:?} in moto"));
    reply["ARN"].as_str().unwrap_or_else(|| panic!("moto's CreateSecret reply has no ARN: {reply}")).to_owned()
}

/// Stores a new current version of the secret `name` (`PutSecretValue`); returns the new version's id.
pub fn moto_put_secret_value(url: &str, region: &str, name: &str, value: &str) -> String {
    let body = serde_json::json!({ "SecretId": name, "SecretString": value });
    let what = format!("put a new value of the secret {name:?} in moto");
    let reply = secrets_manager(url, region, "PutSecretValue", &body, &what);
    reply["VersionId"]
        .as_str()
        .unwrap_or_else(|| panic!("moto's PutSecretValue reply has no VersionId: {reply}"))
        .to_owned()
}

/// One Secrets Manager JSON call. moto routes on the credential scope of `Authorization`; it checks no signature.
fn secrets_manager(url: &str, region: &str, action: &str, body: &serde_json::Value, what: &str) -> serde_json::Value {
    let target = format!("secretsmanager.{action}");
    let authorization = authorization("secretsmanager", region);
    let headers = [
        ("X-Amz-Target", target.as_str()),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Authorization", authorization.as_str()),
    ];
    let response = send(url, "POST", "/", &headers, body.to_string().as_bytes(), what);
    expect_ok(&response, what);
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("cannot {what}: the reply is not JSON ({e}): {}", response.body))
}

/// An `Authorization` header naming [`MOTO_ACCESS_KEY_ID`] for `service` in `region`: moto routes on its credential
/// scope and checks no signature.
fn authorization(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={MOTO_ACCESS_KEY_ID}/20240101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

fn send(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], what: &str) -> http::Response {
    http::request(url, method, path, headers, body).unwrap_or_else(|e| {
        panic!("cannot {what}: moto at {url} does not answer ({e}); is `cargo xtask test` still running it?")
    })
}

fn expect_ok(response: &http::Response, what: &str) {
    assert!(response.status == 200, "cannot {what}: moto answered {}: {}", response.status, response.body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique_name;

    /// Needs moto: runs under `cargo xtask test`, and fails loudly (never skips) without it.
    #[test]
    fn buckets_objects_and_secrets_can_be_created_in_moto() {
        let url = moto_url();
        let bucket = unique_name("lanyard-t-");
        moto_create_bucket(&url, &bucket);
        let listing = http::request(&url, "GET", "/", &[], b"").unwrap();
        assert_eq!(listing.status, 200, "{}", listing.body);
        assert!(listing.body.contains(&format!("<Name>{bucket}</Name>")), "{}", listing.body);
        let etag = moto_put_object(&url, &bucket, "in/a b.csv", b"x,y\n1,2\n");
        assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
        let signed = [("Authorization", authorization("s3", MOTO_REGION))];
        let signed: Vec<(&str, &str)> = signed.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let object = http::request(&url, "GET", &format!("/{bucket}/in/a%20b.csv"), &signed, b"").unwrap();
        assert_eq!((object.status, object.body.as_str()), (200, "x,y\n1,2\n"));
        assert_eq!(object.header("etag"), Some(etag.as_str()));

        let name = unique_name("lanyard/t/");
        let arn = moto_create_secret(&url, MOTO_REGION, &name, "first \"value\"");
        assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:"), "{arn}");
        let version = moto_put_secret_value(&url, MOTO_REGION, &name, "second");
        assert!(!version.is_empty());
        let current = secrets_manager(
            &url,
            MOTO_REGION,
            "GetSecretValue",
            &serde_json::json!({ "SecretId": name }),
            "read the secret back",
        );
        assert_eq!(current["SecretString"], "second", "{current}");
        assert_eq!(current["VersionId"], version.as_str(), "{current}");
    }

    #[test]
    fn moto_url_says_how_to_start_moto_when_unset() {
        for value in [None, Some(String::new())] {
            let panic = std::panic::catch_unwind(|| url_from(value)).unwrap_err();
            let message = panic.downcast_ref::<String>().expect("a formatted panic message");
            assert!(
                message
                    .starts_with("moto is not running: run the suite with `cargo xtask test` (or ci), which starts it"),
                "{message}"
            );
        }
        assert_eq!(url_from(Some(" http://127.0.0.1:5000/ ".into())), "http://127.0.0.1:5000");
    }
}
