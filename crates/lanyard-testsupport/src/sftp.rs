//! [`SftpServer`]: an SFTP server double on 127.0.0.1 — russh's SSH server with russh-sftp's subsystem — serving a
//! temporary directory read-only to one user, who logs in with a password or a public key. It records every
//! authentication attempt, so that a test can prove that no credential was sent (a host key refused by the client).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::keys::HashAlg;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::ssh_key::{LineEnding, PrivateKey, PublicKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Server as _, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet, SshId};
use russh_sftp::protocol::{File, FileAttributes, Handle, Name, Status, StatusCode, Version};

use crate::TempDir;

/// The software part of the double's SSH identification string (`SSH-2.0-lanyard-sftp-double_1.0`).
pub const SFTP_DOUBLE_SOFTWARE: &str = "lanyard-sftp-double_1.0";

/// An SSH key pair for a test: the private key in OpenSSH PEM form (what a vault entry holds) and the public key.
pub struct SshKeyPair {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----…`, unencrypted.
    pub private_pem: String,
    /// The public key.
    pub public: PublicKey,
}

impl SshKeyPair {
    /// A fresh Ed25519 key pair (its seed from the OS's random source, through UUID v4).
    pub fn ed25519() -> Self {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let private = PrivateKey::new(KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)), "lanyard-test")
            .expect("an Ed25519 private key");
        let private_pem = private.to_openssh(LineEnding::LF).expect("the key in OpenSSH form").to_string();
        Self { private_pem, public: private.public_key().clone() }
    }

    /// The public key's fingerprint, `SHA256:…`.
    pub fn fingerprint(&self) -> String {
        self.public.fingerprint(HashAlg::Sha256).to_string()
    }
}

/// One authentication attempt the double saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpAttempt {
    /// The user name sent.
    pub user: String,
    /// `password` or `publickey`.
    pub method: &'static str,
    /// Whether the double accepted it.
    pub accepted: bool,
}

/// Who may log in.
struct Account {
    user: String,
    password: String,
    authorized_key: PublicKey,
}

/// An SFTP server on `127.0.0.1:<port>` serving [`root`](Self::root) as `/` (read-only: listings only) to one
/// user, with a password or an authorized public key. It runs on a runtime of its own, so a plain `#[test]` and a
/// `#[tokio::test]` may both start it. Stopped on drop.
pub struct SftpServer {
    addr: SocketAddr,
    host_key: SshKeyPair,
    root: TempDir,
    attempts: Arc<Mutex<Vec<SftpAttempt>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl SftpServer {
    /// Starts a server that lets `user` in with `password` or with the key `authorized_key`.
    pub fn start(user: &str, password: &str, authorized_key: &PublicKey) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sftp-double")
            .enable_all()
            .build()
            .expect("a runtime for the SFTP double");
        let host_key = SshKeyPair::ed25519();
        let root = TempDir::new("sftp-double");
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let account = Arc::new(Account {
            user: user.to_owned(),
            password: password.to_owned(),
            authorized_key: authorized_key.clone(),
        });
        let config = Arc::new(russh::server::Config {
            server_id: SshId::Standard(format!("SSH-2.0-{SFTP_DOUBLE_SOFTWARE}").into()),
            methods: methods(),
            auth_rejection_time: Duration::ZERO,
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: Some(Duration::from_secs(60)),
            keys: vec![russh::keys::decode_secret_key(&host_key.private_pem, None).expect("the double's own host key")],
            ..russh::server::Config::default()
        });
        // Bound here, without the runtime (a `#[tokio::test]` may call this): connections queue in the backlog until
        // the server task accepts them.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the SFTP double binds 127.0.0.1:0");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("a bound address");
        let mut server = Server { account, attempts: attempts.clone(), root: root.path().to_owned() };
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("the listener on the double's runtime");
            if let Err(error) = server.run_on_socket(config, &listener).await {
                eprintln!("the SFTP double stopped: {error}");
            }
        });
        Self { addr, host_key, root, attempts, runtime: Some(runtime) }
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The fingerprint of its host key, `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fn host_key_fingerprint(&self) -> String {
        self.host_key.fingerprint()
    }

    /// The directory served as `/`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Every authentication attempt so far, in order.
    pub fn attempts(&self) -> Vec<SftpAttempt> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What the double offers, as OpenSSH's default configuration does: public keys and passwords, also after a failed
/// attempt.
fn methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..])
}

/// Makes one [`Connection`] per client.
struct Server {
    account: Arc<Account>,
    attempts: Arc<Mutex<Vec<SftpAttempt>>>,
    root: PathBuf,
}

impl russh::server::Server for Server {
    type Handler = Connection;

    fn new_client(&mut self, _: Option<SocketAddr>) -> Connection {
        Connection {
            account: self.account.clone(),
            attempts: self.attempts.clone(),
            root: self.root.clone(),
            channels: HashMap::new(),
        }
    }
}

/// One client's SSH connection.
struct Connection {
    account: Arc<Account>,
    attempts: Arc<Mutex<Vec<SftpAttempt>>>,
    root: PathBuf,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl Connection {
    fn record(&self, user: &str, method: &'static str, accepted: bool) -> Auth {
        let attempt = SftpAttempt { user: user.to_owned(), method, accepted };
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner).push(attempt);
        if accepted {
            Auth::Accept
        } else {
            Auth::Reject { proceed_with_methods: Some(methods()), partial_success: false }
        }
    }

    fn authorized(&self, user: &str, key: &PublicKey) -> bool {
        user == self.account.user && key.key_data() == self.account.authorized_key.key_data()
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let accepted = user == self.account.user && password == self.account.password;
        Ok(self.record(user, "password", accepted))
    }

    /// A key it does not know is refused (and recorded) at the offer; a known one is recorded once its signature is
    /// verified.
    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        if self.authorized(user, offer.public_key) {
            Ok(Auth::Accept)
        } else {
            Ok(self.record(user, "publickey", false))
        }
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        let accepted = self.authorized(user, key.public_key);
        Ok(self.record(user, "publickey", accepted))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.close(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.remove(&channel_id) {
            Some(channel) if name == "sftp" => {
                session.channel_success(channel_id)?;
                let files = Files { root: self.root.clone(), open: HashMap::new(), next: 0 };
                russh_sftp::server::run(channel.into_stream(), files).await;
            }
            _ => session.channel_failure(channel_id)?,
        }
        Ok(())
    }
}

/// The SFTP subsystem: directory listings of the served root.
struct Files {
    root: PathBuf,
    /// Open directory handles and the names not read yet.
    open: HashMap<String, Vec<String>>,
    next: u64,
}

impl Files {
    /// The local path of SFTP path `path` (`.`, relative and absolute paths all start at the root); `..` is refused.
    fn local(&self, path: &str) -> Result<PathBuf, StatusCode> {
        let mut local = self.root.clone();
        for component in Path::new(path).components() {
            match component {
                Component::Normal(part) => local.push(part),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return Err(StatusCode::PermissionDenied),
            }
        }
        Ok(local)
    }
}

impl russh_sftp::server::Handler for Files {
    type Error = StatusCode;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported
    }

    async fn init(&mut self, _version: u32, _extensions: HashMap<String, String>) -> Result<Version, Self::Error> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let local = self.local(&path)?;
        let relative = local.strip_prefix(&self.root).map_err(|_| StatusCode::Failure)?;
        let shown = format!("/{}", relative.display());
        Ok(Name { id, files: vec![File::dummy(shown)] })
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let local = self.local(&path)?;
        let entries = std::fs::read_dir(&local).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => StatusCode::NoSuchFile,
            std::io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
            _ => StatusCode::Failure,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        self.next += 1;
        let handle = format!("dir-{}", self.next);
        self.open.insert(handle.clone(), names);
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        let names = self.open.get_mut(&handle).ok_or(StatusCode::Failure)?;
        if names.is_empty() {
            return Err(StatusCode::Eof);
        }
        let files = names.drain(..).map(|name| File::new(name, FileAttributes::default())).collect();
        Ok(Name { id, files })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        self.open.remove(&handle);
        Ok(Status { id, status_code: StatusCode::Ok, error_message: "Ok".to_owned(), language_tag: "en-US".to_owned() })
    }
}
