//! Pipeline sources against the emulators `cargo xtask test` starts: S3 links against moto (and a private moto with
//! IAM checks on, for a wrong key), AZURE links against Azurite, GCS links against gcp-storage-emulator. Links resolve
//! the way a pipeline's runner resolves them: through a `Resolver` over a `StaticCatalog`, their CREDENTIALS in a
//! memory backend. An emulator that is not running fails these tests (its fixture says how to start it).

use lanyard_connectors::{ConnectError, FileSource, SourceFile};
use lanyard_core::{LinkId, LinkType, VaultEntryId};
use lanyard_testsupport::{
    AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, MOTO_ACCESS_KEY_ID, MOTO_REGION, MOTO_SECRET_ACCESS_KEY, PrivateMoto,
    azurite_create_container, azurite_put_blob, azurite_url, gcs_create_bucket, gcs_put_object, gcs_url,
    moto_create_bucket, moto_put_object, moto_url, unique_name,
};
use serde_json::json;

mod common;

use common::World;

/// A canary secret: its text must never appear in an error.
const CANARY: &str = "canary-7Hq2/source+secret";

/// What only the sources need of the world.
trait Sources {
    /// Adds a link with CREDENTIALS; its id and its entry's.
    async fn source_link(
        &self,
        link_type: LinkType,
        config: serde_json::Value,
        credentials: serde_json::Value,
    ) -> (LinkId, VaultEntryId);

    /// Opens the source of `link` at `path`.
    async fn open(&self, link: LinkId, path: &str) -> Result<FileSource, ConnectError>;
}

impl Sources for World {
    async fn source_link(
        &self,
        link_type: LinkType,
        config: serde_json::Value,
        credentials: serde_json::Value,
    ) -> (LinkId, VaultEntryId) {
        let (link, entry) = self.link(link_type, config, Some(credentials)).await;
        (link, entry.expect("a link with CREDENTIALS has an entry"))
    }

    async fn open(&self, link: LinkId, path: &str) -> Result<FileSource, ConnectError> {
        FileSource::open(&self.resolver, link, path).await
    }
}

/// The error's text, checked free of the canary.
#[track_caller]
fn message(error: &ConnectError) -> String {
    let text = error.to_string();
    assert!(!text.contains(CANARY) && !text.contains("canary"), "the error leaks the canary: {text}");
    assert!(!format!("{error:?}").contains(CANARY), "the error's Debug leaks the canary: {error:?}");
    text
}

/// The three files under `in/` and the one outside it that every store gets, in upload order (not key order).
const FILES: [(&str, &[u8]); 5] = [
    ("in/c.csv", b"id,name\n3,carol\n"),
    ("in/a.csv", b"id,name\n1,alice\n10,alan\n"),
    ("out/d.csv", b"id,name\n4,dave\n"),
    ("in/b.csv", b"id,name\n2,bob\n"),
    ("inbox.csv", b"id,name\n5,eve\n"),
];

/// Lists `source` and checks it holds exactly `in/a.csv`, `in/b.csv`, `in/c.csv` in key order, with their sizes and
/// the ETags (`etags`, by key) the store gave at upload, and that each reads back as uploaded. Returns the listing.
async fn assert_the_three_files(source: &FileSource, etags: &[(&str, String)]) -> Vec<SourceFile> {
    let files = source.list().await.unwrap_or_else(|error| panic!("{}: {error}", source.location()));
    let keys: Vec<&str> = files.iter().map(|file| file.key.as_str()).collect();
    assert_eq!(keys, ["in/a.csv", "in/b.csv", "in/c.csv"], "{}", source.location());
    for file in &files {
        let (_, body) = FILES.iter().find(|(key, _)| *key == file.key).unwrap();
        assert_eq!(file.size, body.len() as u64, "{}", file.key);
        let etag = etags.iter().find(|(key, _)| *key == file.key).map(|(_, etag)| etag.as_str());
        assert_eq!(file.etag.as_deref(), etag, "{}", file.key);
        let read = source.read(file).await.unwrap_or_else(|error| panic!("{}: {error}", file.key));
        assert_eq!(&read[..], *body, "{}", file.key);
    }
    files
}

// ---------------------------------------------------------------------------------------------------------
// S3 (moto)

/// An S3 link to moto with moto's conventional keys.
async fn moto_link(world: &World) -> LinkId {
    let config = json!({"region": MOTO_REGION, "endpoint_url": moto_url(), "disable_gunzip": true});
    let keys = json!({"aws_access_key_id": MOTO_ACCESS_KEY_ID, "aws_secret_access_key": MOTO_SECRET_ACCESS_KEY});
    world.source_link(LinkType::S3, config, keys).await.0
}

#[tokio::test]
async fn an_s3_source_lists_and_reads_the_files_under_its_prefix_in_key_order() {
    let world = World::new("sources");
    let moto = moto_url();
    let bucket = unique_name("lanyard-src-");
    moto_create_bucket(&moto, &bucket);
    let etags: Vec<(&str, String)> =
        FILES.iter().map(|(key, body)| (*key, moto_put_object(&moto, &bucket, key, body))).collect();
    let link = moto_link(&world).await;

    let source = world.open(link, &format!("{bucket}/in/")).await.unwrap();
    assert_eq!(source.location(), format!("s3://{bucket}/in/"));
    let files = assert_the_three_files(&source, &etags).await;
    assert!(files.iter().all(|file| file.etag.as_deref().is_some_and(|etag| etag.starts_with('"'))));

    // A wildcard in the last segment: one level, matching names only.
    moto_put_object(&moto, &bucket, "in/sub/e.csv", b"id\n6\n");
    moto_put_object(&moto, &bucket, "in/f.json", b"{}\n");
    // (On a task of its own, as a runner lists: the source and its futures are Send.)
    let wild = world.open(link, &format!("{bucket}/in/*.csv")).await.unwrap();
    let listed = tokio::spawn(async move { wild.list().await }).await.unwrap();
    let keys: Vec<String> = listed.unwrap().into_iter().map(|file| file.key).collect();
    assert_eq!(keys, ["in/a.csv", "in/b.csv", "in/c.csv"]);
    // A bare key prefix takes every depth, and keys that merely start with it.
    let prefix = world.open(link, &format!("{bucket}/in")).await.unwrap();
    let keys: Vec<String> = prefix.list().await.unwrap().into_iter().map(|file| file.key).collect();
    assert_eq!(keys, ["in/a.csv", "in/b.csv", "in/c.csv", "in/f.json", "in/sub/e.csv", "inbox.csv"]);

    // A file replaced after the listing is not read: its ETag no longer matches.
    moto_put_object(&moto, &bucket, "in/a.csv", b"id,name\n1,alice (new)\n");
    let error = source.read(&files[0]).await.unwrap_err();
    assert!(matches!(error, ConnectError::Changed(_)), "{error:?}");
    assert_eq!(
        message(&error),
        format!(
            "s3://{bucket}/in/a.csv changed or was deleted since it was listed (its ETag {} no longer matches): list \
             again",
            files[0].etag.as_deref().unwrap()
        )
    );
}

#[tokio::test]
async fn an_s3_source_on_a_missing_bucket_says_so() {
    let world = World::new("sources");
    let link = moto_link(&world).await;
    let bucket = unique_name("lanyard-src-none-");
    let source = world.open(link, &format!("{bucket}/in/")).await.unwrap();
    let error = source.list().await.unwrap_err();
    let text = message(&error);
    assert!(text.starts_with(&format!("listing s3://{bucket}/in/ failed (link default.l_")), "{text}");
    assert!(text.contains("NoSuchBucket"), "{text}");
}

#[tokio::test]
async fn an_s3_source_with_a_wrong_key_fails_without_quoting_it() {
    let (moto, key) = PrivateMoto::with_iam_user();
    let bucket = unique_name("lanyard-src-iam-");
    moto.create_bucket(&bucket, &key);
    let world = World::new("sources");
    let config = json!({"region": MOTO_REGION, "endpoint_url": moto.url()});

    let good = json!({"aws_access_key_id": key.id, "aws_secret_access_key": key.secret});
    let (link, _) = world.source_link(LinkType::S3, config.clone(), good).await;
    let source = world.open(link, &format!("{bucket}/")).await.unwrap();
    assert_eq!(source.list().await.unwrap(), []);

    let wrong_secret = json!({"aws_access_key_id": key.id, "aws_secret_access_key": CANARY});
    let (link, _) = world.source_link(LinkType::S3, config.clone(), wrong_secret).await;
    let error = world.open(link, &format!("{bucket}/")).await.unwrap().list().await.unwrap_err();
    let text = message(&error);
    assert!(text.starts_with(&format!("listing s3://{bucket}/ failed (link default.l_")), "{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");

    let unknown = json!({"aws_access_key_id": format!("AKIA{CANARY}"), "aws_secret_access_key": CANARY});
    let (link, _) = world.source_link(LinkType::S3, config, unknown).await;
    let error = world.open(link, &format!("{bucket}/")).await.unwrap().list().await.unwrap_err();
    assert!(message(&error).contains("InvalidAccessKeyId"), "{error}");
}

// ---------------------------------------------------------------------------------------------------------
// AZURE (Azurite)

/// An AZURE link to Azurite's development account with `account_key`.
async fn azurite_link(world: &World, account_key: &str) -> (LinkId, VaultEntryId) {
    let config = json!({"endpoint_url": azurite_url()});
    let credentials = json!({"account_name": AZURITE_ACCOUNT, "account_key": account_key});
    world.source_link(LinkType::Azure, config, credentials).await
}

#[tokio::test]
async fn an_azure_source_lists_and_reads_the_blobs_under_its_prefix_in_key_order() {
    let world = World::new("sources");
    let azurite = azurite_url();
    let container = unique_name("lanyard-src-");
    azurite_create_container(&azurite, &container);
    // The blob service's listing gives ETags unquoted; its PUT answers quote them.
    let etags: Vec<(&str, String)> = FILES
        .iter()
        .map(|(key, body)| (*key, azurite_put_blob(&azurite, &container, key, body).trim_matches('"').to_owned()))
        .collect();
    let (link, _) = azurite_link(&world, AZURITE_ACCOUNT_KEY).await;

    let source = world.open(link, &format!("{container}/in/")).await.unwrap();
    assert_eq!(source.location(), format!("az://{container}/in/"));
    let files = assert_the_three_files(&source, &etags).await;

    azurite_put_blob(&azurite, &container, "in/b.csv", b"id,name\n2,bob (new)\n");
    let error = source.read(&files[1]).await.unwrap_err();
    assert!(matches!(error, ConnectError::Changed(_)), "{error:?}");
    assert!(message(&error).starts_with(&format!("az://{container}/in/b.csv changed or was deleted")), "{error}");
}

#[tokio::test]
async fn an_azure_source_with_a_wrong_key_fails_and_a_rotated_key_is_read_at_the_next_open() {
    let world = World::new("sources");
    let azurite = azurite_url();
    let container = unique_name("lanyard-src-");
    azurite_create_container(&azurite, &container);
    azurite_put_blob(&azurite, &container, "in/a.csv", b"id\n1\n");
    // A well-formed key (base64) that is not the account's: "canary-account-key".
    const WRONG: &str = "Y2FuYXJ5LWFjY291bnQta2V5";
    let (link, entry) = azurite_link(&world, WRONG).await;

    let error = world.open(link, &format!("{container}/in/")).await.unwrap().list().await.unwrap_err();
    let text = message(&error);
    assert!(!text.contains(WRONG), "{text}");
    assert!(text.starts_with(&format!("listing az://{container}/in/ failed (link default.l_")), "{text}");
    assert!(text.contains("403") || text.contains("AuthorizationFailure"), "{text}");

    // The key is rotated in the vault: the next open reads with it, no other step.
    world.put(entry, &json!({"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_ACCOUNT_KEY}).to_string()).await;
    let files = world.open(link, &format!("{container}/in/")).await.unwrap().list().await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].key, "in/a.csv");
}

// ---------------------------------------------------------------------------------------------------------
// GCS (gcp-storage-emulator)

#[tokio::test]
async fn a_gcs_source_lists_and_reads_the_objects_under_its_prefix_in_key_order() {
    let world = World::new("sources");
    let gcs = gcs_url();
    let bucket = unique_name("lanyard-src-");
    gcs_create_bucket(&gcs, &bucket);
    let uploaded: Vec<(&str, lanyard_testsupport::GcsObject)> =
        FILES.iter().map(|(key, body)| (*key, gcs_put_object(&gcs, &bucket, key, body))).collect();
    let etags: Vec<(&str, String)> = uploaded.iter().map(|(key, object)| (*key, object.etag.clone())).collect();
    // The emulator checks no credential: a key that says so, and the emulator's URL.
    let (link, _) =
        world.source_link(LinkType::Gcs, json!({"endpoint_url": gcs}), json!({"disable_oauth": true})).await;

    let source = world.open(link, &format!("{bucket}/in/")).await.unwrap();
    assert_eq!(source.location(), format!("gs://{bucket}/in/"));
    let files = assert_the_three_files(&source, &etags).await;
    for file in &files {
        let (_, object) = uploaded.iter().find(|(key, _)| *key == file.key).unwrap();
        assert_eq!(file.version.as_deref(), Some(object.generation.as_str()), "{}", file.key);
    }

    // A wildcard; and an object that is gone by the time it is read.
    let wild = world.open(link, &format!("{bucket}/in/?.csv")).await.unwrap();
    assert_eq!(wild.list().await.unwrap(), files);
    let vanished = SourceFile { key: "in/vanished.csv".into(), etag: None, version: Some("1".into()), size: 1 };
    let error = source.read(&vanished).await.unwrap_err();
    assert!(matches!(error, ConnectError::Changed(_)), "{error:?}");

    // The key's gcs_base_url (object_store's convention) names the emulator too.
    let credentials = json!({"disable_oauth": true, "gcs_base_url": gcs});
    let (link, _) = world.source_link(LinkType::Gcs, json!({}), credentials).await;
    assert_eq!(world.open(link, &format!("{bucket}/in/")).await.unwrap().list().await.unwrap(), files);

    // A missing bucket.
    let (link, _) =
        world.source_link(LinkType::Gcs, json!({"endpoint_url": gcs}), json!({"disable_oauth": true})).await;
    let missing = unique_name("lanyard-src-none-");
    let error = world.open(link, &format!("{missing}/in/")).await.unwrap().list().await.unwrap_err();
    let text = message(&error);
    assert!(text.starts_with(&format!("listing gs://{missing}/in/ failed (link default.l_")), "{text}");
    assert!(text.ends_with("status 404 Not Found"), "{text}");
}

/// TEST LINK on a GCS link with a service account key goes through the JSON API too, on its CONFIG `bucket`.
#[tokio::test]
async fn a_gcs_source_link_passes_test_link_through_the_json_api() {
    let world = World::new("sources");
    let gcs = gcs_url();
    let bucket = unique_name("lanyard-src-");
    gcs_create_bucket(&gcs, &bucket);
    let probe = |config: serde_json::Value| {
        let world = &world;
        async move {
            let (link, _) = world.source_link(LinkType::Gcs, config, json!({"disable_oauth": true})).await;
            lanyard_connectors::probe(&world.resolver.resolve(link).await.unwrap()).await
        }
    };
    let passed = probe(json!({"endpoint_url": gcs, "bucket": bucket})).await;
    assert!(passed.passed, "{passed:?}");
    let missing = probe(json!({"endpoint_url": gcs, "bucket": unique_name("lanyard-src-none-")})).await;
    assert_eq!(missing.error.as_deref(), Some("listing failed: status 404 Not Found"));
    let no_bucket = probe(json!({"endpoint_url": gcs})).await;
    assert_eq!(no_bucket.error.as_deref(), Some(r#"CONFIG key "bucket" is required for link type GCS"#));
}

#[tokio::test]
async fn a_gcs_source_with_a_broken_service_account_key_fails_without_quoting_it() {
    let world = World::new("sources");
    let key = json!({
        "type": "service_account",
        "client_email": "loader@lanyard-test.iam.gserviceaccount.com",
        "private_key_id": "k1",
        "private_key": format!("-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----\n"),
    });
    let (link, _) = world.source_link(LinkType::Gcs, json!({"endpoint_url": gcs_url()}), key).await;
    let error = world.open(link, "bucket-x/in/").await.unwrap_err();
    let text = message(&error);
    assert!(text.starts_with("the service account key: "), "{text}");

    let half = json!({"type": "service_account", "client_email": "a@b.c", "private_key": CANARY});
    let (link, _) = world.source_link(LinkType::Gcs, json!({}), half).await;
    let error = world.open(link, "bucket-x/in/").await.unwrap_err();
    assert!(message(&error).starts_with(r#"a GCS link's service account key needs "client_email""#), "{error}");
}

// ---------------------------------------------------------------------------------------------------------
// What is not a source

#[tokio::test]
async fn links_that_are_no_source_and_paths_that_name_no_files_are_refused_before_any_request() {
    let world = World::new("sources");
    for link_type in [LinkType::Kafka, LinkType::Http, LinkType::Mysql] {
        let (link, _) = world
            .source_link(link_type, json!({"bootstrap_servers": "127.0.0.1:9092"}), json!({"password": CANARY}))
            .await;
        let error = world.open(link, "topic").await.unwrap_err();
        assert!(matches!(error, ConnectError::UnsupportedSource(_)), "{error:?}");
        assert_eq!(message(&error), format!("no pipeline source for link type {link_type} in this build"));
    }
    // Nothing listens there: the path is refused before any request.
    let config = json!({"region": MOTO_REGION, "endpoint_url": "http://127.0.0.1:1"});
    let (link, _) = world
        .source_link(LinkType::S3, config, json!({"aws_access_key_id": "A", "aws_secret_access_key": CANARY}))
        .await;
    let error = world.open(link, "bucket-x//in").await.unwrap_err();
    assert_eq!(
        message(&error),
        r#"pipeline path "bucket-x//in" has an empty segment ("//" or a '/' right after the bucket)"#
    );
    let error = world.open(link, "s3://bucket-x/in").await.unwrap_err();
    assert!(message(&error).ends_with(r#"without "s3://""#), "{error}");
    // A link that is missing is the resolver's error.
    let error = world.open(LinkId::new_random(), "bucket-x/in").await.unwrap_err();
    assert!(matches!(error, ConnectError::Resolve(_)), "{error:?}");
}
