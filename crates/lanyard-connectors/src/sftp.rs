//! `sftp`: SSH through russh (pure Rust, ring), the SFTP subsystem through russh-sftp.
//!
//! Options: `host` (required), `port` (22), `path` (`.`, the login directory), `username` (or `user`) when the
//! credential names no user, and `host_key_fingerprint`: the server's host key as `ssh-keygen -l` prints it
//! (`SHA256:…`; several, comma-separated, for a server with several keys). The host key is checked before any
//! credential is sent; without the option the probe fails, naming the key the server offered, so that a password
//! never goes to a server nobody vouched for.
//!
//! Credential: a password (plain text), a private key (plain text starting with `-----BEGIN`: OpenSSH, PKCS#1 or
//! PKCS#8 PEM; or PuTTY's `.ppk`), or a JSON object with `username` (or `user`), `password`, `private_key` and `passphrase` (for an encrypted
//! key). With both a key and a password, the key is tried first.
//!
//! Probe: connects, checks the host key, authenticates, opens the `sftp` subsystem, opens `path` as a directory and
//! reads one batch of its entries. The server version is the software of its SSH identification string and the
//! SFTP protocol version (`OpenSSH_9.2p1 Debian-2 (SFTP 3)`).

use std::sync::{Arc, Mutex, PoisonError};

use lanyard_core::SecretString;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate, decode_secret_key};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

use crate::Result;
use crate::target::{Credential, Target, chain, invalid};

/// The option that pins the server's host key.
const FINGERPRINT_OPTION: &str = "host_key_fingerprint";

/// Connects, checks the host key, authenticates, lists one batch of `path`; the server's version.
pub(crate) async fn probe(target: &Target<'_>) -> Result<Option<String>> {
    let host = target.required("host")?;
    let port = target.number("port", 22)?;
    let path = target.get("path").unwrap_or(".");
    let pinned = pinned_fingerprints(target)?;
    let login = login(target)?;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let handler = Checker { pinned: pinned.clone(), seen: seen.clone() };
    let config = client::Config { inactivity_timeout: Some(target.timeout), ..client::Config::default() };
    let connected = client::connect(Arc::new(config), (host, port), handler).await;
    let mut handle = match connected {
        Ok(handle) => handle,
        Err(error) => {
            let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
            return Err(match (seen.offered, pinned) {
                (Some(offered), None) if !seen.accepted => target.remote(format_args!(
                    "the host key of {host}:{port} is not verified: option {FINGERPRINT_OPTION:?} is not set; the \
                     server offered {offered} (compare it with `ssh-keygen -l` on the server, then set the option \
                     to it)"
                )),
                (Some(offered), Some(_)) if !seen.accepted => target.remote(format_args!(
                    "the host key of {host}:{port} does not match option {FINGERPRINT_OPTION:?}: the server offered \
                     {offered}"
                )),
                _ => target.remote(format_args!("cannot connect to {host}:{port}: {}", chain(&error))),
            });
        }
    };
    let failed = |what: &str, error: &(dyn std::error::Error + 'static)| {
        target.remote(format_args!("{what} on {host}:{port} failed: {}", chain(error)))
    };

    authenticate(target, &mut handle, &login).await?;
    let channel = handle.channel_open_session().await.map_err(|e| failed("opening a session", &e))?;
    channel.request_subsystem(true, "sftp").await.map_err(|e| failed("starting the sftp subsystem", &e))?;
    let sftp = RawSftpSession::new(channel.into_stream());
    sftp.set_timeout(target.timeout.as_secs().max(1));
    let version = sftp.init().await.map_err(|e| failed("starting the sftp subsystem", &e))?;
    list(target, &sftp, path).await?;
    let _ = sftp.close_session();
    let _ = handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;

    let server_id = seen.lock().unwrap_or_else(PoisonError::into_inner).server_id.take();
    let software = server_id.as_deref().map(|id| id.strip_prefix("SSH-2.0-").unwrap_or(id).to_owned());
    Ok(Some(match software {
        Some(software) => format!("{software} (SFTP {})", version.version),
        None => format!("SFTP {}", version.version),
    }))
}

/// Opens `path` as a directory and reads one batch of its entries (an empty directory answers end-of-file).
async fn list(target: &Target<'_>, sftp: &RawSftpSession, path: &str) -> Result<()> {
    let failed = |error: SftpError| target.remote(format_args!("listing {path:?} failed: {}", sftp_reason(&error)));
    let handle = sftp.opendir(path).await.map_err(failed)?.handle;
    match sftp.readdir(handle.as_str()).await {
        Ok(_) => {}
        Err(SftpError::Status(status)) if status.status_code == StatusCode::Eof => {}
        Err(error) => return Err(failed(error)),
    }
    let _ = sftp.close(handle).await;
    Ok(())
}

/// An SFTP error as a reason: the status, and the server's message where it says more (`Permission denied: …`).
fn sftp_reason(error: &SftpError) -> String {
    match error {
        SftpError::Status(status) => {
            let code = status.status_code.to_string();
            let message = status.error_message.trim();
            if message.is_empty() || message.eq_ignore_ascii_case(&code) { code } else { format!("{code}: {message}") }
        }
        other => other.to_string(),
    }
}

/// Who logs in, and with what.
struct Login {
    user: String,
    password: Option<SecretString>,
    private_key: Option<SecretString>,
    passphrase: Option<SecretString>,
}

/// The login from the credential (and the `username` option).
fn login(target: &Target<'_>) -> Result<Login> {
    const USER: &[&str] = &["username", "user"];
    let option_user = target.get_any(USER).map(str::to_owned);
    let (user, password, private_key, passphrase) = match target.credential()? {
        Credential::Fields(fields) => (
            fields.get(USER).map(|user| user.expose_secret().to_owned()).or(option_user),
            fields.get(&["password"]).cloned(),
            fields.get(&["private_key"]).cloned(),
            fields.get(&["passphrase"]).cloned(),
        ),
        Credential::Text(text) if is_private_key(text.expose_secret()) => (option_user, None, Some(text), None),
        Credential::Text(password) => (option_user, Some(password), None, None),
        Credential::None | Credential::Ambient(_) => (option_user, None, None, None),
    };
    let user = user.ok_or_else(|| {
        invalid(r#"no user to log in as: set option "username", or use a JSON credential with a "username" field"#)
    })?;
    if password.is_none() && private_key.is_none() {
        return Err(invalid(
            r#"an sftp connection needs a credential: a password, a private key, or a JSON object with "password" or "private_key""#,
        ));
    }
    Ok(Login { user, password, private_key, passphrase })
}

/// Whether a plain-text credential is a private key (PEM, or PuTTY's `.ppk`) rather than a password.
fn is_private_key(text: &str) -> bool {
    text.starts_with("-----BEGIN") || text.starts_with("PuTTY-User-Key-File-")
}

/// Authenticates with the private key, then with the password; fails naming what was tried and what the server
/// accepts.
async fn authenticate(target: &Target<'_>, handle: &mut Handle<Checker>, login: &Login) -> Result<()> {
    let auth_failed = |error: russh::Error| target.remote(format_args!("authentication failed: {}", chain(&error)));
    let mut tried = Vec::new();
    let mut accepts = String::new();
    if let Some(text) = &login.private_key {
        let passphrase = login.passphrase.as_ref().map(SecretString::expose_secret);
        let key = decode_secret_key(text.expose_secret(), passphrase).map_err(|error| {
            invalid(format!("the credential's private key cannot be read: {}", target.scrub(&error.to_string())))
        })?;
        let hash = handle.best_supported_rsa_hash().await.map_err(auth_failed)?.flatten();
        let result = handle
            .authenticate_publickey(login.user.as_str(), PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(auth_failed)?;
        match result {
            client::AuthResult::Success => return Ok(()),
            client::AuthResult::Failure { remaining_methods, .. } => accepts = methods(&remaining_methods),
        }
        tried.push("publickey");
    }
    if let Some(password) = &login.password {
        let result =
            handle.authenticate_password(login.user.as_str(), password.expose_secret()).await.map_err(auth_failed)?;
        match result {
            client::AuthResult::Success => return Ok(()),
            client::AuthResult::Failure { remaining_methods, .. } => accepts = methods(&remaining_methods),
        }
        tried.push("password");
    }
    Err(target.remote(format_args!(
        "authentication as {:?} failed ({}); the server accepts: {accepts}",
        login.user,
        tried.join(", ")
    )))
}

/// `publickey, password`.
fn methods(set: &russh::MethodSet) -> String {
    let names: Vec<&str> = set.iter().map(<&str>::from).collect();
    if names.is_empty() { "nothing more".to_owned() } else { names.join(", ") }
}

/// The fingerprints of option `host_key_fingerprint`, `None` when it is unset.
fn pinned_fingerprints(target: &Target<'_>) -> Result<Option<Vec<String>>> {
    let Some(text) = target.get(FINGERPRINT_OPTION) else { return Ok(None) };
    let parsed: Option<Vec<String>> = text.split(',').map(|one| normalize(one.trim())).collect();
    match parsed {
        Some(fingerprints) if !fingerprints.is_empty() => Ok(Some(fingerprints)),
        _ => Err(invalid(format!(
            "{} must be SHA256 fingerprints as `ssh-keygen -l` prints them (SHA256:…), comma-separated",
            target.describe(FINGERPRINT_OPTION)
        ))),
    }
}

/// `SHA256:<base64>` with the prefix spelled `SHA256:` and the base64 without padding; `None` if it is not one.
fn normalize(text: &str) -> Option<String> {
    let (prefix, digest) = text.split_once(':')?;
    let digest = digest.trim_end_matches('=');
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/');
    (prefix.eq_ignore_ascii_case("sha256") && digest.len() == 43 && digest.chars().all(base64))
        .then(|| format!("SHA256:{digest}"))
}

/// What the handshake showed: the host key offered, whether it was accepted, the server's identification string.
#[derive(Default)]
struct Seen {
    offered: Option<String>,
    accepted: bool,
    server_id: Option<String>,
}

/// The client handler: checks the host key against the pinned fingerprints and notes what it saw.
struct Checker {
    pinned: Option<Vec<String>>,
    seen: Arc<Mutex<Seen>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let data = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(certificate) => certificate.public_key(),
        };
        let offered = data.fingerprint(HashAlg::Sha256).to_string();
        let accepted = self.pinned.as_ref().is_some_and(|pinned| pinned.contains(&offered));
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.offered = Some(offered);
        seen.accepted = accepted;
        Ok(accepted)
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        _names: &russh::Names,
        session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let id = String::from_utf8_lossy(session.remote_sshid()).trim().to_owned();
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).server_id = Some(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use lanyard_resolve::Auth;

    use super::*;
    use crate::target::tests::{json_secret, secret, target};

    const FINGERPRINT: &str = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

    #[test]
    fn fingerprints_are_sha256_as_ssh_keygen_prints_them() {
        assert_eq!(normalize(FINGERPRINT).as_deref(), Some(FINGERPRINT));
        let padded = format!("sha256:{}=", &FINGERPRINT[7..]);
        assert_eq!(normalize(&padded).as_deref(), Some(FINGERPRINT));
        assert_eq!(normalize("MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"), None);
        assert_eq!(normalize("SHA256:short"), None);

        let auth = Auth::None;
        let two = format!("{FINGERPRINT}, SHA256:{}", "A".repeat(43));
        let pinned = pinned_fingerprints(&target("sftp", &[(FINGERPRINT_OPTION, &two)], &auth, 1)).unwrap();
        assert_eq!(pinned.unwrap().len(), 2);
        assert_eq!(pinned_fingerprints(&target("sftp", &[], &auth, 1)).unwrap(), None);
        let error = pinned_fingerprints(&target("sftp", &[(FINGERPRINT_OPTION, "aa:bb")], &auth, 1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"option "host_key_fingerprint" must be SHA256 fingerprints as `ssh-keygen -l` prints them (SHA256:…), comma-separated"#
        );
    }

    #[test]
    fn the_login_is_a_password_a_private_key_or_a_json_object() {
        let auth = secret("just-a-password");
        let login = login(&target("sftp", &[("username", "app")], &auth, 1)).unwrap();
        assert_eq!((login.user.as_str(), login.password.is_some(), login.private_key.is_some()), ("app", true, false));

        let auth = secret("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
        let login = super::login(&target("sftp", &[("user", "app")], &auth, 1)).unwrap();
        assert_eq!((login.password.is_some(), login.private_key.is_some()), (false, true));

        let auth =
            json_secret(serde_json::json!({"username": "u", "private_key": "k", "passphrase": "p", "password": "w"}));
        let login = super::login(&target("sftp", &[], &auth, 1)).unwrap();
        assert_eq!(login.user, "u");
        assert!(login.password.is_some() && login.private_key.is_some() && login.passphrase.is_some());

        let auth = secret("pw");
        let error = super::login(&target("sftp", &[], &auth, 1)).err().unwrap();
        assert!(error.to_string().starts_with("no user to log in as"), "{error}");
        let auth = Auth::None;
        let error = super::login(&target("sftp", &[("username", "app")], &auth, 1)).err().unwrap();
        assert!(error.to_string().starts_with("an sftp connection needs a credential"), "{error}");
    }
}
