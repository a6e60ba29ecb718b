//! Pipeline sources: the files under a pipeline's path, read through its link's object store.
//!
//! A pipeline names its files SingleStore's way, `'<bucket>/<prefix>'` (`'<container>/<prefix>'` for `AZURE`): the
//! link names no bucket, the pipeline's path does. [`parse_pipeline_path`] splits and checks a path without I/O
//! (CREATE PIPELINE calls it, with [`pipeline_source_supported`]); [`FileSource`] lists and reads the files, with
//! the link's CONFIG and CREDENTIALS resolved fresh each time one is opened.
//!
//! What a path matches:
//!
//! - `'bucket/in/'`: every key that starts with `in/`, at any depth; `'bucket/in'` also matches `inbox/x` (a key
//!   prefix, as S3 lists it); `'bucket'`: every key of the bucket.
//! - A wildcard in the last segment: `'bucket/in/*.csv'` matches `in/a.csv` but not `in/sub/b.csv`; `*` is any run
//!   of characters but `/`, `?` one character but `/`. A wildcard anywhere else, and `**`, are refused.
//! - Keys are compared as the store names them, byte for byte; files are listed in key order.
//!
//! Which store reads a link's files: `S3` links through `object_store`'s S3 client at the link's region and
//! `endpoint_url`; `AZURE` links through its Azure client at the account's endpoint (CONFIG `endpoint_url` for
//! Azurite or a sovereign cloud); `GCS` links with HMAC keys through the S3 client at GCS's XML API, and `GCS` links
//! with a service account key through GCS's JSON API (the `gcs_json` module), which is also what emulators such as
//! gcp-storage-emulator implement.

use lanyard_core::LinkType;

#[cfg(feature = "object-store")]
pub use reader::{FileSource, SourceFile};

/// Whether a link of `link_type` can be a pipeline's source in this build: `S3`, `AZURE` and `GCS` can when the
/// `object-store` feature is on. No I/O. The error is `no pipeline source for link type KAFKA in this build`.
pub fn pipeline_source_supported(link_type: LinkType) -> Result<(), String> {
    match link_type {
        LinkType::S3 | LinkType::Azure | LinkType::Gcs if cfg!(feature = "object-store") => Ok(()),
        _ => Err(crate::ConnectError::UnsupportedSource(link_type).to_string()),
    }
}

/// A pipeline's path, split and checked by [`parse_pipeline_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelinePath {
    /// The bucket (`S3`, `GCS`) or container (`AZURE`) the link's store is opened at.
    pub bucket: String,
    /// What every key starts with: the path after the bucket's `/`; with a wildcard, up to and including the `/`
    /// before the last segment.
    pub prefix: String,
    /// The last segment, when it holds a wildcard (`*.csv`): the rest of a key after [`prefix`](Self::prefix) must
    /// match it whole.
    pub pattern: Option<String>,
}

impl PipelinePath {
    /// Whether the object `key` (as the store names it) is one of the path's files.
    pub fn matches(&self, key: &str) -> bool {
        match key.strip_prefix(self.prefix.as_str()) {
            None => false,
            Some(rest) => self.pattern.as_deref().is_none_or(|pattern| wildcard_match(pattern, rest)),
        }
    }

    /// The directory a listing must cover: the prefix up to and including its last `/` (empty: the whole bucket).
    pub fn directory(&self) -> &str {
        self.prefix.rfind('/').map_or("", |at| &self.prefix[..=at])
    }
}

/// Splits a pipeline's `path` (`'<bucket>/<prefix>'`) for a link of `link_type` and checks it, without I/O: the
/// link type must be a source ([`pipeline_source_supported`]), the bucket or container a valid name of its store,
/// the prefix free of empty, `.` and `..` segments, and a wildcard (`*`, `?`) only in the last segment. The error
/// says what is wrong in the user's terms.
pub fn parse_pipeline_path(link_type: LinkType, path: &str) -> Result<PipelinePath, String> {
    pipeline_source_supported(link_type)?;
    let container = if link_type == LinkType::Azure { "container" } else { "bucket" };
    let shown = lanyard_core::printable(path, 200);
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(format!(
            "pipeline path {shown:?}: write it as '<{container}>/<prefix>', without {:?}",
            format!("{}://", lanyard_core::printable(scheme, 20))
        ));
    }
    let (bucket, rest) = path.split_once('/').unwrap_or((path, ""));
    check_bucket(link_type, bucket).map_err(|rule| {
        if bucket.is_empty() {
            format!("pipeline path {shown:?} names no {container}: write it as '<{container}>/<prefix>'")
        } else {
            format!("pipeline path {shown:?}: {container} name {:?} {rule}", lanyard_core::printable(bucket, 80))
        }
    })?;
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() && index != last {
            return Err(format!(
                "pipeline path {shown:?} has an empty segment (\"//\" or a '/' right after the {container})"
            ));
        }
        if matches!(*segment, "." | "..") {
            return Err(format!(
                "pipeline path {shown:?} has a {segment:?} segment: object keys have no directories to step through"
            ));
        }
        let wild = segment.contains(['*', '?']);
        if wild && index != last {
            return Err(format!(
                "pipeline path {shown:?}: a wildcard may stand in the last segment only (\"dir/*.csv\"), not in {:?}",
                lanyard_core::printable(segment, 80)
            ));
        }
        if segment.contains("**") {
            return Err(format!(
                "pipeline path {shown:?}: \"**\" (any depth) is not supported: match one level with \"*\", or \
                 name a prefix without a wildcard to take every depth"
            ));
        }
    }
    let wild = segments[last].contains(['*', '?']);
    Ok(match wild {
        true => PipelinePath {
            bucket: bucket.to_owned(),
            prefix: rest[..rest.len() - segments[last].len()].to_owned(),
            pattern: Some(segments[last].to_owned()),
        },
        false => PipelinePath { bucket: bucket.to_owned(), prefix: rest.to_owned(), pattern: None },
    })
}

/// Checks a bucket or container name against its store's rules; the rule it breaks.
fn check_bucket(link_type: LinkType, name: &str) -> Result<(), &'static str> {
    let (range, allowed, rule): (std::ops::RangeInclusive<usize>, fn(char) -> bool, _) = match link_type {
        // Legacy buckets in us-east-1 may hold capitals and underscores and be up to 255 characters long.
        LinkType::S3 => (
            1..=255,
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'),
            "must be 1 to 255 letters, digits, '.', '-' or '_'",
        ),
        LinkType::Gcs => (
            3..=222,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'),
            "must be 3 to 222 lowercase letters, digits, '.', '-' or '_'",
        ),
        _ => (
            3..=63,
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
            "must be 3 to 63 lowercase letters, digits or '-' ($root, $web and $logs aside)",
        ),
    };
    if link_type == LinkType::Azure && matches!(name, "$root" | "$web" | "$logs") {
        return Ok(());
    }
    if range.contains(&name.len()) && name.chars().all(allowed) { Ok(()) } else { Err(rule) }
}

/// Whether all of `text` matches `pattern`: `*` is any run of characters but `/`, `?` one character but `/`, and
/// every other character stands for itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some('?') if text[t] != '/' => {
                p += 1;
                t += 1;
            }
            Some(&c) if c != '*' && c != '?' && c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character, unless that is a `/`.
                Some((star_p, star_t)) if text[star_t] != '/' => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                _ => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(feature = "object-store")]
mod reader {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::{Bytes, BytesMut};
    use futures::StreamExt as _;
    use lanyard_core::{ConnectionType, LinkId, LinkType};
    use lanyard_resolve::{ResolvedConnection, Resolver, Subject};
    use object_store::path::Path;
    use object_store::{GetOptions, ObjectStore};

    use super::{PipelinePath, parse_pipeline_path, pipeline_source_supported};
    use crate::gcs_json::{Failure, GcsJson};
    use crate::target::{Scrubber, Target, chain, invalid};
    use crate::{ConnectError, Result};

    /// One object under a pipeline's path, as listed.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SourceFile {
        /// The object's key as the store names it: the full key within the bucket or container.
        pub key: String,
        /// Its ETag as the store reports it (S3 quotes it), if the store reports one.
        pub etag: Option<String>,
        /// The store's version of the object, if it keeps one: a GCS object's generation.
        pub version: Option<String>,
        /// Its size in bytes.
        pub size: u64,
    }

    /// The files under a pipeline's path, read through its link's object store, with the link's CONFIG and
    /// CREDENTIALS resolved fresh by [`open`](Self::open): open a new one to pick up an ALTER LINK or a rotation.
    ///
    /// Every request is bounded by the link's `connection_timeout` (else [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT))
    /// as a bound on waiting: for the connection, for each page of a listing and for each chunk of a file, so a big
    /// file that keeps arriving is not cut off. One attempt per request; the caller retries. No error carries the
    /// credential's text.
    pub struct FileSource {
        link: String,
        location: String,
        path: PipelinePath,
        reader: Reader,
        timeout: Duration,
        scrubber: Scrubber,
    }

    /// Who lists and reads.
    enum Reader {
        /// `object_store` (S3, Azure; GCS with HMAC keys through its XML API), at the bucket's root.
        Store(Arc<dyn ObjectStore>),
        /// GCS's JSON API (a service account key, or an emulator).
        GcsJson(GcsJson),
    }

    impl std::fmt::Debug for FileSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FileSource").field("link", &self.link).field("location", &self.location).finish()
        }
    }

    impl FileSource {
        /// Resolves the link fresh and opens its store at the path's bucket or container. Refuses a link type that
        /// is not a source (`no pipeline source for link type KAFKA in this build`) and a path
        /// [`parse_pipeline_path`] refuses.
        pub async fn open(resolver: &Resolver, link: LinkId, path: &str) -> Result<Self> {
            let resolved = resolver.resolve(link).await?;
            Self::from_resolved(&resolved, path).await
        }

        /// [`open`](Self::open), for a link whose credential was just resolved.
        pub async fn from_resolved(conn: &ResolvedConnection, path: &str) -> Result<Self> {
            let Subject::Link(link) = conn.subject() else {
                return Err(invalid(format!(
                    "{} is a connection: a pipeline reads its files through a link",
                    conn.name()
                )));
            };
            let link_type = link.link_type;
            pipeline_source_supported(link_type).map_err(|_| ConnectError::UnsupportedSource(link_type))?;
            let parsed = parse_pipeline_path(link_type, path).map_err(ConnectError::Invalid)?;
            let scrubber = Scrubber::of(&conn.auth);
            let scrub = |error: ConnectError| match error {
                ConnectError::Invalid(message) => ConnectError::Invalid(scrubber.apply(&message)),
                ConnectError::Remote(message) => ConnectError::Remote(scrubber.apply(&message)),
                other => other,
            };
            let mut target = Target::of(conn).map_err(scrub)?;
            let option = if link_type == LinkType::Azure { "container" } else { "bucket" };
            target.set(option, &parsed.bucket);
            let reader = target.bounded(reader(&target, &parsed.bucket)).await.map_err(scrub)?;
            let scheme = match link_type {
                LinkType::Azure => "az",
                LinkType::Gcs => "gs",
                _ => "s3",
            };
            Ok(Self {
                link: conn.name().into_owned(),
                location: format!("{scheme}://{path}"),
                path: parsed,
                reader,
                timeout: target.timeout,
                scrubber,
            })
        }

        /// Where the files are, for messages: `s3://bucket/prefix` (`gs://` for GCS, `az://` for AZURE), the path
        /// as the pipeline writes it.
        pub fn location(&self) -> &str {
            &self.location
        }

        /// The path, split.
        pub fn path(&self) -> &PipelinePath {
            &self.path
        }

        /// Every object under the path's prefix that matches its wildcard, if any, sorted by key.
        pub async fn list(&self) -> Result<Vec<SourceFile>> {
            let mut files = match &self.reader {
                Reader::Store(store) => self.list_store(store).await?,
                Reader::GcsJson(gcs) => gcs
                    .list(&self.path.prefix, self.timeout)
                    .await
                    .map_err(|failure| self.gcs_failure(failure, "listing", &self.location, None))?,
            };
            files.retain(|file| self.path.matches(&file.key));
            files.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(files)
        }

        async fn list_store(&self, store: &Arc<dyn ObjectStore>) -> Result<Vec<SourceFile>> {
            let directory = self.path.directory().trim_end_matches('/');
            let directory = match directory.is_empty() {
                true => None,
                false => Some(Path::parse(directory).map_err(|error| {
                    invalid(format!("{}: the prefix is not a valid object path: {error}", self.location))
                })?),
            };
            let mut listing = store.list(directory.as_ref());
            let mut files = Vec::new();
            loop {
                let next = tokio::time::timeout(self.timeout, listing.next()).await;
                let meta = match next {
                    Err(_) => return Err(ConnectError::Timeout(self.timeout)),
                    Ok(None) => break,
                    Ok(Some(Err(error))) => {
                        return Err(self.failed("listing", &self.location, chain(&error)));
                    }
                    Ok(Some(Ok(meta))) => meta,
                };
                files.push(SourceFile {
                    key: meta.location.as_ref().to_owned(),
                    etag: meta.e_tag,
                    version: meta.version,
                    size: meta.size,
                });
            }
            Ok(files)
        }

        /// The object's bytes. When the listing gave an ETag (a GCS generation) the read is conditional on it, so a
        /// file replaced since it was listed fails with [`ConnectError::Changed`] rather than being read half old,
        /// half new; so does a file deleted since.
        pub async fn read(&self, file: &SourceFile) -> Result<Bytes> {
            let location = format!("{}/{}", self.bucket_url(), file.key);
            match &self.reader {
                Reader::Store(store) => self.read_store(store, file, &location).await,
                Reader::GcsJson(gcs) => gcs
                    .read(file, self.timeout)
                    .await
                    .map_err(|failure| self.gcs_failure(failure, "reading", &location, Some(file))),
            }
        }

        async fn read_store(&self, store: &Arc<dyn ObjectStore>, file: &SourceFile, location: &str) -> Result<Bytes> {
            let path = Path::parse(&file.key)
                .map_err(|error| invalid(format!("{location} is not a valid object path: {error}")))?;
            let options = GetOptions { if_match: file.etag.clone(), ..GetOptions::default() };
            let result = match tokio::time::timeout(self.timeout, store.get_opts(&path, options)).await {
                Err(_) => return Err(ConnectError::Timeout(self.timeout)),
                Ok(Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. })) => {
                    return Err(changed(location, file));
                }
                Ok(Err(error)) => return Err(self.failed("reading", location, chain(&error))),
                Ok(Ok(result)) => result,
            };
            let mut bytes = BytesMut::with_capacity(usize::try_from(result.meta.size).unwrap_or(0));
            let mut stream = result.into_stream();
            loop {
                match tokio::time::timeout(self.timeout, stream.next()).await {
                    Err(_) => return Err(ConnectError::Timeout(self.timeout)),
                    Ok(None) => break,
                    Ok(Some(Err(error))) => return Err(self.failed("reading", location, chain(&error))),
                    Ok(Some(Ok(chunk))) => bytes.extend_from_slice(&chunk),
                }
            }
            Ok(bytes.freeze())
        }

        /// `s3://bucket` of the location.
        fn bucket_url(&self) -> String {
            let scheme_end = self.location.find("://").map_or(0, |at| at + 3);
            format!("{}{}", &self.location[..scheme_end], self.path.bucket)
        }

        /// The error of a failed JSON API call.
        fn gcs_failure(
            &self,
            failure: Failure,
            doing: &str,
            location: &str,
            file: Option<&SourceFile>,
        ) -> ConnectError {
            match (failure, file) {
                (Failure::Changed, Some(file)) => changed(location, file),
                (Failure::Changed, None) => self.failed(doing, location, "the object is gone"),
                (Failure::Timeout, _) => ConnectError::Timeout(self.timeout),
                (Failure::Failed(reason), _) => self.failed(doing, location, reason),
            }
        }

        /// A [`ConnectError::Remote`]: `listing s3://b/in/ failed (link db.l): <reason>`, scrubbed.
        fn failed(&self, doing: &str, location: &str, reason: impl std::fmt::Display) -> ConnectError {
            let reason = crate::objects::without_xml_body(&reason.to_string());
            ConnectError::Remote(
                self.scrubber.apply(&format!("{doing} {location} failed (link {}): {reason}", self.link)),
            )
        }
    }

    /// The error of a file that changed or vanished since it was listed.
    fn changed(location: &str, file: &SourceFile) -> ConnectError {
        let what = match (&file.etag, &file.version) {
            (_, Some(version)) => format!("generation {version}"),
            (Some(etag), None) => format!("ETag {etag}"),
            (None, None) => "listing".to_owned(),
        };
        ConnectError::Changed(format!(
            "{location} changed or was deleted since it was listed (its {what} no longer matches): list again"
        ))
    }

    /// Builds the reader of a link's target whose bucket (or container) is set.
    async fn reader(target: &Target<'_>, bucket: &str) -> Result<Reader> {
        match target.kind {
            Some(ConnectionType::Gcs) => Ok(Reader::GcsJson(GcsJson::new(target, bucket)?)),
            Some(ConnectionType::S3 | ConnectionType::AzureAdls) => {
                Ok(Reader::Store(crate::objects::source_store(target)?))
            }
            _ => Err(target.unsupported()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(link_type: LinkType, path: &str) -> PipelinePath {
        parse_pipeline_path(link_type, path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn refused(link_type: LinkType, path: &str) -> String {
        match parse_pipeline_path(link_type, path) {
            Ok(parsed) => panic!("{path}: expected an error, got {parsed:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_source_path_is_a_bucket_and_a_key_prefix() {
        let path = parsed(LinkType::S3, "my-bucket/in/2024/");
        assert_eq!(path, PipelinePath { bucket: "my-bucket".into(), prefix: "in/2024/".into(), pattern: None });
        assert!(path.matches("in/2024/a.csv") && path.matches("in/2024/deep/b.csv"));
        assert!(!path.matches("in/2023/a.csv") && !path.matches("out/in/2024/a.csv"));
        assert_eq!(path.directory(), "in/2024/");

        // Without a trailing '/', a key prefix, as S3 lists it.
        let path = parsed(LinkType::S3, "b1/in");
        assert!(path.matches("in/a.csv") && path.matches("inbox/x") && !path.matches("i"));
        assert_eq!(path.directory(), "");
        let path = parsed(LinkType::S3, "b1/data/file_");
        assert!(path.matches("data/file_1.csv") && !path.matches("data/other.csv"));
        assert_eq!(path.directory(), "data/");

        // The whole bucket.
        for whole in ["bucket", "bucket/"] {
            let path = parsed(LinkType::Gcs, whole);
            assert_eq!((path.bucket.as_str(), path.prefix.as_str(), &path.pattern), ("bucket", "", &None));
            assert!(path.matches("anything/at/all"));
        }
        assert_eq!(parsed(LinkType::Azure, "container-1/x/").bucket, "container-1");
        assert_eq!(parsed(LinkType::Azure, "$root/x").bucket, "$root");
        // Legacy S3 buckets may have capitals and underscores.
        assert_eq!(parsed(LinkType::S3, "Old_Bucket/x").bucket, "Old_Bucket");
    }

    #[test]
    fn a_source_wildcard_in_the_last_segment_matches_one_level() {
        let path = parsed(LinkType::S3, "b1/in/*.csv");
        assert_eq!(path, PipelinePath { bucket: "b1".into(), prefix: "in/".into(), pattern: Some("*.csv".into()) });
        assert!(path.matches("in/a.csv") && path.matches("in/.csv"));
        assert!(!path.matches("in/sub/b.csv") && !path.matches("in/a.json") && !path.matches("in/a.csv.gz"));
        assert_eq!(path.directory(), "in/");

        let path = parsed(LinkType::Gcs, "bkt/part-??.json");
        assert_eq!((path.prefix.as_str(), path.pattern.as_deref()), ("", Some("part-??.json")));
        assert!(path.matches("part-01.json") && !path.matches("part-1.json") && !path.matches("part-a/.json"));

        let path = parsed(LinkType::Azure, "ctr/logs/*-2024-*");
        assert!(path.matches("logs/app-2024-01") && path.matches("logs/x-2024-") && !path.matches("logs/app-2023-01"));
        assert!(!path.matches("logs/app-2024-01/more"));
        assert!(parsed(LinkType::S3, "b1/in/*").matches("in/anything"));
    }

    #[test]
    fn source_wildcards_backtrack() {
        assert!(wildcard_match("*a*b", "xaxxab"));
        assert!(wildcard_match("a*b*c", "abbbc"));
        assert!(!wildcard_match("a*b*c", "abbb"));
        assert!(wildcard_match("**", "") && wildcard_match("*", ""));
        assert!(!wildcard_match("?", ""));
        assert!(!wildcard_match("*x", "a/x"));
        assert!(wildcard_match("é?", "éü"));
    }

    #[test]
    fn source_paths_that_cannot_name_files_are_refused_in_the_users_terms() {
        let cases = [
            (
                LinkType::S3,
                "s3://bucket/in/",
                r#"pipeline path "s3://bucket/in/": write it as '<bucket>/<prefix>', without "s3://""#,
            ),
            (LinkType::S3, "", r#"pipeline path "" names no bucket: write it as '<bucket>/<prefix>'"#),
            (LinkType::S3, "/in/x", r#"pipeline path "/in/x" names no bucket: write it as '<bucket>/<prefix>'"#),
            (LinkType::Azure, "/x", r#"pipeline path "/x" names no container: write it as '<container>/<prefix>'"#),
            (
                LinkType::S3,
                "bad bucket/x",
                r#"pipeline path "bad bucket/x": bucket name "bad bucket" must be 1 to 255 letters, digits, '.', '-' or '_'"#,
            ),
            (
                LinkType::Gcs,
                "Caps/x",
                r#"pipeline path "Caps/x": bucket name "Caps" must be 3 to 222 lowercase letters, digits, '.', '-' or '_'"#,
            ),
            (
                LinkType::Azure,
                "my_container/x",
                r#"pipeline path "my_container/x": container name "my_container" must be 3 to 63 lowercase letters, digits or '-' ($root, $web and $logs aside)"#,
            ),
            (
                LinkType::S3,
                "b1//x",
                r#"pipeline path "b1//x" has an empty segment ("//" or a '/' right after the bucket)"#,
            ),
            (
                LinkType::S3,
                "b1/a//x",
                r#"pipeline path "b1/a//x" has an empty segment ("//" or a '/' right after the bucket)"#,
            ),
            (
                LinkType::S3,
                "b1/a/../x",
                r#"pipeline path "b1/a/../x" has a ".." segment: object keys have no directories to step through"#,
            ),
            (
                LinkType::S3,
                "b1/*/x.csv",
                r#"pipeline path "b1/*/x.csv": a wildcard may stand in the last segment only ("dir/*.csv"), not in "*""#,
            ),
            (
                LinkType::S3,
                "b1/in/**.csv",
                r#"pipeline path "b1/in/**.csv": "**" (any depth) is not supported: match one level with "*", or name a prefix without a wildcard to take every depth"#,
            ),
            (LinkType::Kafka, "topic", "no pipeline source for link type KAFKA in this build"),
            (LinkType::Http, "b1/x", "no pipeline source for link type HTTP in this build"),
        ];
        for (link_type, path, expected) in cases {
            assert_eq!(refused(link_type, path), expected, "{link_type} {path:?}");
        }
        // A bucket name in a wildcard is no wildcard: it is refused as a name.
        assert!(refused(LinkType::S3, "b*/x").contains(r#"bucket name "b*""#));
    }

    #[test]
    fn object_store_links_are_sources_and_the_others_are_not() {
        for link_type in [LinkType::S3, LinkType::Azure, LinkType::Gcs] {
            assert_eq!(pipeline_source_supported(link_type).is_ok(), cfg!(feature = "object-store"), "{link_type}");
        }
        for link_type in [LinkType::Kafka, LinkType::Http, LinkType::Mysql, LinkType::Hdfs, LinkType::Mongodb] {
            assert_eq!(
                pipeline_source_supported(link_type),
                Err(format!("no pipeline source for link type {link_type} in this build"))
            );
        }
    }
}
