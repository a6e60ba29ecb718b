//! gcp-storage-emulator, an emulator of Google Cloud Storage's JSON API: `cargo xtask test` installs it from PyPI,
//! starts one (in memory) on a free port of 127.0.0.1 for the whole run, and hands the tests its URL in
//! [`GCS_URL_ENV`].
//!
//! The emulator checks no credential and speaks the JSON API only (`/storage/v1/…`, `/upload/storage/v1/…`; not
//! the XML API's listing). The tests of one run share it, so every test names its buckets with
//! [`unique_name`](crate::unique_name).

use crate::http;

/// The environment variable `cargo xtask test` sets to the emulator's URL, `http://127.0.0.1:<port>`.
pub const GCS_URL_ENV: &str = "LANYARD_TEST_GCS_URL";

/// The emulator's URL from [`GCS_URL_ENV`], without a trailing `/`.
///
/// # Panics
///
/// When the variable is not set: the test was not started by `cargo xtask test` (or `ci`), which starts the
/// emulator.
pub fn gcs_url() -> String {
    crate::emulator_url(std::env::var(GCS_URL_ENV).ok(), "gcp-storage-emulator", GCS_URL_ENV)
}

/// An object the emulator stored, as its JSON resource describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsObject {
    /// The object's ETag.
    pub etag: String,
    /// The object's generation (its version).
    pub generation: String,
}

/// Creates the bucket `bucket` (`POST /storage/v1/b`). Creating a bucket that exists is no error.
pub fn gcs_create_bucket(url: &str, bucket: &str) {
    let what = format!("create the bucket {bucket:?} in gcp-storage-emulator");
    let body = serde_json::json!({ "name": bucket }).to_string();
    let headers = [("content-type", "application/json")];
    let response = send(url, "POST", "/storage/v1/b?project=lanyard-test", &headers, body.as_bytes(), &what);
    assert!(
        response.status == 200 || response.status == 409,
        "cannot {what}: the emulator answered {}: {}",
        response.status,
        response.body
    );
}

/// Stores `body` as the object `name` of `bucket` (a media upload, `POST /upload/storage/v1/b/<bucket>/o`); returns
/// its ETag and generation.
pub fn gcs_put_object(url: &str, bucket: &str, name: &str, body: &[u8]) -> GcsObject {
    let what = format!("put the object {name:?} into the bucket {bucket:?} in gcp-storage-emulator");
    let path = format!("/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}", crate::percent_encode(name));
    let headers = [("content-type", "application/octet-stream")];
    let response = send(url, "POST", &path, &headers, body, &what);
    assert!(response.status == 200, "cannot {what}: the emulator answered {}: {}", response.status, response.body);
    let resource: serde_json::Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("cannot {what}: the answer is not JSON ({e}): {}", response.body));
    let field = |key: &str| {
        resource[key]
            .as_str()
            .unwrap_or_else(|| panic!("cannot {what}: the answer has no {key}: {resource}"))
            .to_owned()
    };
    GcsObject { etag: field("etag"), generation: field("generation") }
}

fn send(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], what: &str) -> http::Response {
    http::request(url, method, path, headers, body).unwrap_or_else(|e| {
        panic!(
            "cannot {what}: gcp-storage-emulator at {url} does not answer ({e}); is `cargo xtask test` still running \
             it?"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique_name;

    /// Needs the emulator: runs under `cargo xtask test`, and fails loudly (never skips) without it.
    #[test]
    fn buckets_and_objects_can_be_created_in_the_gcs_emulator() {
        let url = gcs_url();
        let bucket = unique_name("lanyard-t-");
        gcs_create_bucket(&url, &bucket);
        gcs_create_bucket(&url, &bucket);
        let object = gcs_put_object(&url, &bucket, "in/a b.csv", b"x,y\n1,2\n");
        assert!(!object.etag.is_empty() && !object.generation.is_empty(), "{object:?}");
        let listing = send(&url, "GET", &format!("/storage/v1/b/{bucket}/o?prefix=in/"), &[], b"", "list");
        assert_eq!(listing.status, 200, "{}", listing.body);
        assert!(listing.body.contains(r#""name": "in/a b.csv""#), "{}", listing.body);
        let media = send(&url, "GET", &format!("/storage/v1/b/{bucket}/o/in%2Fa%20b.csv?alt=media"), &[], b"", "get");
        assert_eq!((media.status, media.body.as_str()), (200, "x,y\n1,2\n"));
    }

    #[test]
    fn gcs_url_says_how_to_start_the_emulator_when_unset() {
        let panic =
            std::panic::catch_unwind(|| crate::emulator_url(None, "gcp-storage-emulator", GCS_URL_ENV)).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted panic message");
        assert!(message.starts_with("gcp-storage-emulator is not running: run the suite with `cargo xtask test`"));
        assert!(message.contains("LANYARD_TEST_GCS_URL is not set"), "{message}");
    }
}
