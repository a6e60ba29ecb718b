//! [`PrivateMoto`]: a moto server of the test's own with moto's IAM access control on, for tests that need a key to
//! stop working (the shared moto that `cargo xtask test` starts accepts any key and checks no signature).
//!
//! moto checks keys only after its first `INITIAL_NO_AUTH_ACTION_COUNT` actions: the set-up here (create an IAM
//! user, give it a policy allowing everything, create its first access key) uses exactly those, and every later
//! request must carry an existing key and a valid AWS Signature Version 4. Requests are signed with
//! `object_store`'s signer, the one Lanyard's connectors use.

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use object_store::aws::{AwsAuthorizer, AwsCredential};
use object_store::client::{HttpRequest, HttpRequestBody};

use crate::{TempDir, free_port, http, unique_name};

/// Overrides where [`PrivateMoto`] finds `moto_server` (default: `moto-venv/bin/moto_server` in the target
/// directory this test binary was built into, where `cargo xtask test` installs it).
pub const MOTO_SERVER_ENV: &str = "LANYARD_TEST_MOTO_SERVER";

/// The actions the set-up makes before moto starts checking keys: CreateUser, PutUserPolicy, CreateAccessKey.
const SETUP_ACTIONS: u32 = 3;

/// The region every request is signed for.
const REGION: &str = "us-east-1";

/// How long moto may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(60);

/// An IAM access key. `Debug` shows the id only.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id (`AKIA…`).
    pub id: String,
    /// The secret access key.
    pub secret: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A `moto_server` on a free port of 127.0.0.1 with IAM access control on and one IAM user allowed everything.
/// Dropping it kills the server (also when the test fails).
pub struct PrivateMoto {
    child: Child,
    url: String,
    user: String,
    log: PathBuf,
    _dir: TempDir,
}

impl PrivateMoto {
    /// Starts moto, creates the IAM user and its first access key, and checks that moto now refuses an unknown
    /// key; returns the server and the key.
    ///
    /// # Panics
    ///
    /// When `moto_server` is missing (it is installed by `cargo xtask test`; see [`MOTO_SERVER_ENV`]), does not
    /// start, or does not behave as described.
    pub fn with_iam_user() -> (Self, AccessKey) {
        let program = moto_server();
        let dir = TempDir::new("moto");
        let log = dir.join("moto-server.log");
        let mut attempt = 1;
        let (child, url) = loop {
            match start(&program, &log) {
                Ok(Ok(started)) => break started,
                // The port may have been taken between our probe and moto's bind: try another.
                Ok(Err(exited)) if attempt < 5 => {
                    eprintln!("lanyard-testsupport: moto did not start (attempt {attempt}): {exited}");
                    attempt += 1;
                }
                Ok(Err(error)) | Err(error) => panic!("cannot start {}: {error}", program.display()),
            }
        };
        let moto = Self { child, url, user: unique_name("lanyard-t-"), log, _dir: dir };
        // Signatures are not checked yet, but moto routes a request by the service its signature names.
        let setup = AccessKey { id: "AKIASETUPONLY".into(), secret: "setup".into() };
        moto.iam(&setup, &[("Action", "CreateUser"), ("UserName", &moto.user)]);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let put_policy =
            [("Action", "PutUserPolicy"), ("UserName", &moto.user), ("PolicyName", "all"), ("PolicyDocument", policy)];
        moto.iam(&setup, &put_policy);
        let key = moto.create_access_key(&setup);
        // From here on moto checks keys: an unknown one is refused, ours is accepted.
        let unknown = AccessKey { id: "AKIAUNKNOWNKEY".into(), secret: "nope".into() };
        match moto.list_buckets(&unknown) {
            Err(code) if code == "InvalidAccessKeyId" => {}
            other => panic!(
                "moto does not check keys after {SETUP_ACTIONS} actions (a ListBuckets with an unknown key gave \
                 {other:?}); its log ({}):\n{}",
                moto.log.display(),
                moto.log_text()
            ),
        }
        if let Err(code) = moto.list_buckets(&key) {
            panic!("moto refuses the new IAM user's key ({code}); its log:\n{}", moto.log_text());
        }
        (moto, key)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The IAM user's name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Rotates the user's key as an operator does: creates a new access key (signed with `current`), then deletes
    /// `current` (signed with the new one). Returns the new key; `current` stops working at once.
    pub fn rotate_access_key(&self, current: &AccessKey) -> AccessKey {
        let new = self.create_access_key(current);
        self.iam(&new, &[("Action", "DeleteAccessKey"), ("UserName", &self.user), ("AccessKeyId", &current.id)]);
        new
    }

    /// A signed S3 ListBuckets with `key`: `Ok` when moto answers 200, else the error code moto gives
    /// (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`).
    pub fn list_buckets(&self, key: &AccessKey) -> Result<(), String> {
        let response = self.send(key, "s3", "GET", "/", Vec::new(), &[]);
        if response.status == 200 { Ok(()) } else { Err(element(&response.body, "Code").unwrap_or(response.body)) }
    }

    /// Creates the S3 bucket `bucket` (signed with `key`).
    pub fn create_bucket(&self, bucket: &str, key: &AccessKey) {
        let response = self.send(key, "s3", "PUT", &format!("/{bucket}"), Vec::new(), &[]);
        assert!(response.status == 200, "cannot create the bucket {bucket:?} in moto: {}", response.body);
    }

    fn create_access_key(&self, signer: &AccessKey) -> AccessKey {
        let reply = self.iam(signer, &[("Action", "CreateAccessKey"), ("UserName", &self.user)]);
        let field =
            |name| element(&reply, name).unwrap_or_else(|| panic!("moto's CreateAccessKey reply has no {name}"));
        AccessKey { id: field("AccessKeyId"), secret: field("SecretAccessKey") }
    }

    /// One IAM Query API call, signed with `key`; the reply's body. Panics unless moto answers 200.
    fn iam(&self, key: &AccessKey, params: &[(&str, &str)]) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.extend_pairs(params).append_pair("Version", "2010-05-08");
        let content_type = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let response = self.send(key, "iam", "POST", "/", form.finish().into_bytes(), &content_type);
        let action = params.first().map_or("?", |(_, action)| *action);
        assert!(response.status == 200, "moto refused IAM {action} ({}): {}", response.status, response.body);
        response.body
    }

    /// Sends a request for `path` (from `/`) to moto, signed with `key` for `service`.
    fn send(
        &self,
        key: &AccessKey,
        service: &str,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&'static str, &str)],
    ) -> http::Response {
        let url = format!("{}{path}", self.url);
        let mut request = HttpRequest::new(HttpRequestBody::from(body.clone()));
        *request.method_mut() = method.parse().expect("an HTTP method");
        *request.uri_mut() = url.parse().expect("moto's URL");
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().expect("a header value"));
        }
        let credential = AwsCredential { key_id: key.id.clone(), secret_key: key.secret.clone(), token: None };
        AwsAuthorizer::new(&credential, service, REGION).authorize(&mut request, None);
        let signed: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().expect("ASCII headers").to_owned()))
            .collect();
        let signed: Vec<(&str, &str)> = signed.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        http::request(&self.url, method, path, &signed, &body).unwrap_or_else(|error| {
            panic!("moto at {} does not answer ({error}); its log:\n{}", self.url, self.log_text())
        })
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|error| format!("(cannot read it: {error})"))
    }
}

impl std::fmt::Debug for PrivateMoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateMoto").field("url", &self.url).field("user", &self.user).finish_non_exhaustive()
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server`: [`MOTO_SERVER_ENV`], else `moto-venv/bin/moto_server` in a directory above this test binary
/// (`target/debug/deps/…` → `target/moto-venv`).
fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os(MOTO_SERVER_ENV).filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().map(|dir| dir.join("moto-venv/bin/moto_server")).find(|path| path.is_file()).unwrap_or_else(|| {
        panic!(
            "moto_server is not installed: run the suite with `cargo xtask test` (or ci), which installs it into \
             target/moto-venv, or set {MOTO_SERVER_ENV} to a moto_server (none above {})",
            exe.display()
        )
    })
}

/// A started moto: the process and its URL.
type Started = (Child, String);

/// Starts `program` on a free port with IAM checks after [`SETUP_ACTIONS`] actions, its output going to `log`;
/// returns once it says it listens. `Ok(Err(…))` when it exited before listening (its port may have been taken:
/// worth another try); `Err(…)` when it cannot run, or says nothing within [`START_LIMIT`].
fn start(program: &PathBuf, log: &PathBuf) -> Result<Result<Started, String>, String> {
    let port = free_port();
    let mut out = fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_ACTIONS.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (ready, listening) = mpsc::channel();
    // Copies moto's stderr (werkzeug's start-up lines, then one line per request) to the log for as long as it
    // runs, and says when it listens.
    std::thread::spawn(move || {
        let mut ready = Some(ready);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(out, "{line}");
            if line.contains("Running on http://")
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(());
            }
        }
    });
    let outcome = listening.recv_timeout(START_LIMIT);
    if outcome.is_ok() {
        return Ok(Ok((child, format!("http://127.0.0.1:{port}"))));
    }
    let _ = child.kill();
    let status = child.wait().map(|status| status.to_string()).unwrap_or_default();
    let text = fs::read_to_string(log).unwrap_or_default();
    match outcome {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("it did not listen within {START_LIMIT:?}; its log:\n{text}"))
        }
        _ => Ok(Err(format!("it exited ({status}) before listening; its log:\n{text}"))),
    }
}

/// The text of the first `<name>…</name>` in `xml`.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let from = xml.find(&open)? + open.len();
    let to = xml[from..].find(&format!("</{name}>"))? + from;
    Some(xml[from..to].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs moto_server (installed by `cargo xtask test`); fails loudly without it.
    #[test]
    fn a_rotated_key_stops_working_and_the_new_one_works() {
        let (moto, first) = PrivateMoto::with_iam_user();
        assert!(format!("{first:?}").contains(&first.id) && !format!("{first:?}").contains(&first.secret));
        moto.create_bucket("lanyard-t-rotation", &first);
        let second = moto.rotate_access_key(&first);
        assert_ne!(first.id, second.id);
        assert_eq!(moto.list_buckets(&first), Err("InvalidAccessKeyId".to_owned()));
        moto.list_buckets(&second).unwrap();
        let forged = AccessKey { secret: "not the secret".into(), ..second.clone() };
        assert_eq!(moto.list_buckets(&forged), Err("SignatureDoesNotMatch".to_owned()));
        let url = moto.url().to_owned();
        drop(moto);
        assert!(http::request(&url, "GET", "/moto-api/", &[], b"").is_err(), "moto is stopped on drop");
    }

    #[test]
    fn elements_are_read_from_xml() {
        assert_eq!(element("<a><Code> X </Code></a>", "Code").as_deref(), Some("X"));
        assert_eq!(element("<a/>", "Code"), None);
    }
}
