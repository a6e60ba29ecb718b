//! The flags and token discovery of the commands that talk to a Lanyard server (`lanyard sql`, `lanyard audit`):
//! `--server` / `LANYARD_SERVER`, `--token` / `LANYARD_TOKEN` / `<data-dir>/admin.token`, `--ca-cert`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lanyard_client::Client;
use lanyard_control::ADMIN_TOKEN_FILE;
use lanyard_core::SecretString;

/// The server used when neither `--server` nor `LANYARD_SERVER` says otherwise.
pub(crate) const DEFAULT_SERVER: &str = "http://127.0.0.1:7600";

/// `--server`, `--token` and `--ca-cert`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// The server's URL.
    #[arg(long, env = "LANYARD_SERVER", value_name = "URL", default_value = DEFAULT_SERVER)]
    pub(crate) server: String,
    /// The API token. Prefer LANYARD_TOKEN or the data dir's admin.token: a token on the command line lands in
    /// shell history and process listings.
    #[arg(long, env = "LANYARD_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Trust this PEM certificate (a private CA or the server's self-signed certificate) for https:// servers.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    /// The token given with `--token` or `LANYARD_TOKEN`, if not blank.
    pub(crate) fn given_token(&self) -> Option<SecretString> {
        self.token.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(SecretString::new)
    }

    /// A client of `url` with `token` and the `--ca-cert` trust.
    pub(crate) fn client_of(&self, url: String, token: Option<SecretString>) -> Result<Client> {
        let mut builder = Client::builder(url);
        if let Some(token) = token {
            builder = builder.token(token);
        }
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            builder = builder.ca_cert_pem(pem);
        }
        Ok(builder.build()?)
    }

    /// A client of `--server`, with the given token or else the one in `<data_dir>/admin.token`.
    pub(crate) fn client(&self, data_dir: &Path) -> Result<Client> {
        let token = match self.given_token() {
            Some(token) => Some(token),
            None => read_token_file(data_dir)?,
        };
        self.client_of(self.server.clone(), token)
    }
}

/// `<data-dir>/admin.token`, when it exists.
pub(crate) fn read_token_file(data_dir: &Path) -> Result<Option<SecretString>> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(SecretString::new(text.trim().to_owned()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the token file {}", path.display())),
    }
}
