//! Azurite, the Azure Blob Storage emulator: `cargo xtask test` installs it from the npm registry, starts one
//! `azurite-blob` (in memory, telemetry off) on a free port of 127.0.0.1 for the whole run, and hands the tests the
//! blob endpoint of its well-known account in [`AZURITE_URL_ENV`].
//!
//! Azurite checks Shared Key signatures: requests are signed with [`AZURITE_ACCOUNT`] and [`AZURITE_ACCOUNT_KEY`]
//! (the development account every Azurite serves). The tests of one run share the server, so every test names its
//! containers with [`unique_name`](crate::unique_name).

use object_store::azure::{AzureAccessKey, AzureAuthorizer, AzureCredential};
use object_store::client::{HttpRequest, HttpRequestBody};

use crate::http;

/// The environment variable `cargo xtask test` sets to Azurite's blob endpoint for [`AZURITE_ACCOUNT`],
/// `http://127.0.0.1:<port>/devstoreaccount1`: what an AZURE link's CONFIG `endpoint_url` names.
pub const AZURITE_URL_ENV: &str = "LANYARD_TEST_AZURITE_URL";

/// The storage account every Azurite serves.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// The key of [`AZURITE_ACCOUNT`]: public, the same in every Azurite (Microsoft documents it).
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Azurite's blob endpoint from [`AZURITE_URL_ENV`], without a trailing `/`.
///
/// # Panics
///
/// When the variable is not set: the test was not started by `cargo xtask test` (or `ci`), which starts Azurite.
pub fn azurite_url() -> String {
    crate::emulator_url(std::env::var(AZURITE_URL_ENV).ok(), "Azurite", AZURITE_URL_ENV)
}

/// Creates the blob container `container` (`PUT <url>/<container>?restype=container`, signed). Creating a container
/// that exists is no error.
pub fn azurite_create_container(url: &str, container: &str) {
    let what = format!("create the container {container:?} in Azurite");
    let response = send(url, "PUT", &format!("/{container}?restype=container"), &[], b"", &what);
    let exists = response.status == 409 && response.header("x-ms-error-code") == Some("ContainerAlreadyExists");
    assert!(response.status == 201 || exists, "cannot {what}: Azurite answered {}: {}", response.status, response.body);
}

/// Stores `body` as the block blob `name` of `container` (`PUT <url>/<container>/<name>`, signed); returns its ETag
/// as Azurite reports it. `name` is sent percent-encoded, `/` kept.
pub fn azurite_put_blob(url: &str, container: &str, name: &str, body: &[u8]) -> String {
    let what = format!("put the blob {name:?} into the container {container:?} in Azurite");
    let path = format!("/{container}/{}", crate::encode_key(name));
    let response = send(url, "PUT", &path, &[("x-ms-blob-type", "BlockBlob")], body, &what);
    assert!(response.status == 201, "cannot {what}: Azurite answered {}: {}", response.status, response.body);
    response.header("etag").unwrap_or_else(|| panic!("cannot {what}: Azurite's answer has no ETag")).to_owned()
}

/// Sends `method` `<url><path>` with `headers` and `body`, signed with the account key (Shared Key).
fn send(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&'static str, &str)],
    body: &[u8],
    what: &str,
) -> http::Response {
    let full = format!("{url}{path}");
    let mut request = HttpRequest::new(HttpRequestBody::from(body.to_vec()));
    *request.method_mut() = method.parse().expect("an HTTP method");
    *request.uri_mut() = full.parse().unwrap_or_else(|e| panic!("cannot {what}: {full:?} is not a URL ({e})"));
    let length = body.len().to_string();
    for (name, value) in headers.iter().chain(&[("content-length", length.as_str())]) {
        request.headers_mut().insert(*name, value.parse().expect("a header value"));
    }
    let key = AzureAccessKey::try_new(AZURITE_ACCOUNT_KEY).expect("the well-known key is base64");
    let credential = AzureCredential::AccessKey(key);
    AzureAuthorizer::new(&credential, AZURITE_ACCOUNT).authorize(&mut request);
    let signed: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "content-length")
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().expect("ASCII headers").to_owned()))
        .collect();
    let signed: Vec<(&str, &str)> = signed.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    // The path of the account URL stays: `http::request` would replace it with an absolute path.
    let base_path = url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..])).unwrap_or("");
    http::request(url, method, &format!("{base_path}{path}"), &signed, body).unwrap_or_else(|e| {
        panic!("cannot {what}: Azurite at {url} does not answer ({e}); is `cargo xtask test` still running it?")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique_name;

    /// Needs Azurite: runs under `cargo xtask test`, and fails loudly (never skips) without it.
    #[test]
    fn containers_and_blobs_can_be_created_in_azurite() {
        let url = azurite_url();
        let container = unique_name("lanyard-t-");
        azurite_create_container(&url, &container);
        azurite_create_container(&url, &container);
        let etag = azurite_put_blob(&url, &container, "in/a.csv", b"x,y\n1,2\n");
        assert!(!etag.is_empty());
        let listing = send(&url, "GET", &format!("/{container}?restype=container&comp=list"), &[], b"", "list");
        assert_eq!(listing.status, 200, "{}", listing.body);
        assert!(listing.body.contains("<Name>in/a.csv</Name>"), "{}", listing.body);
        let blob = send(&url, "GET", &format!("/{container}/in/a.csv"), &[], b"", "get");
        assert_eq!((blob.status, blob.body.as_str()), (200, "x,y\n1,2\n"));
        assert_eq!(blob.header("etag"), Some(etag.as_str()));
    }

    #[test]
    fn azurite_url_says_how_to_start_azurite_when_unset() {
        let panic = std::panic::catch_unwind(|| crate::emulator_url(None, "Azurite", AZURITE_URL_ENV)).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted panic message");
        assert!(
            message.starts_with(
                "Azurite is not running: run the suite with `cargo xtask test` (or ci), which starts it \
                 (LANYARD_TEST_AZURITE_URL is not set"
            ),
            "{message}"
        );
    }
}
