//! Where a node keeps its state: the data directory and the catalog URL, shared by `serve`, `token` and `admin`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lanyard_control::{ControlConfig, ControlError, ControlPlane};
use lanyard_core::{REDACTED, is_secret_key, url_has_password};
use url::Url;

/// The local vault's key files, whose mode the local vault checks itself (it refuses one others could read).
const KEY_FILES: &[&str] = &["master.key", "master.key.next"];

/// The default data directory of `lanyard serve` and the commands that work on the catalog directly.
pub(crate) const DEFAULT_DATA_DIR: &str = "./lanyard-data";

/// The SQLite catalog URL inside a data directory.
pub(crate) fn default_catalog_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("catalog.db").display())
}

/// `--data-dir` and `--catalog`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Place {
    /// The data directory: the SQLite catalog (by default), master.key and admin.token live here.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// The catalog database: sqlite://FILE or postgres://… (default: sqlite://<data-dir>/catalog.db).
    #[arg(long, value_name = "URL")]
    pub(crate) catalog: Option<String>,
}

impl Place {
    /// The catalog URL: `--catalog`, or SQLite in the data directory.
    pub(crate) fn catalog_url(&self) -> String {
        self.catalog.clone().unwrap_or_else(|| default_catalog_url(&self.data_dir))
    }

    /// Creates the data directory if it is missing, mode 0700 whatever the umask (it holds the master key, the admin
    /// token and, by default, the catalog), then checks the catalog file ([`Place::prepare_catalog`]: one that is
    /// not a catalog is refused before anything in the directory is changed). An existing directory is then
    /// checked: when its group or others have any access to it or to a file in it, that access is taken away (the
    /// owner's own bits are kept: 0755 becomes 0700, 0644 becomes 0600) and a warning for each is returned, to be
    /// shown to the operator. The key files `master.key` and `master.key.next` are left as they are: the local
    /// vault refuses a key file others could read (see docs/operations.md). A data directory that is a symbolic
    /// link is followed; symbolic links and subdirectories inside it are not (a symbolic link gets a warning), and a
    /// file whose mode cannot be changed (another user's) gets a warning naming it instead of stopping the start.
    pub(crate) async fn secure_data_dir(&self, doing: &str) -> Result<Vec<String>> {
        let dir = &self.data_dir;
        if !dir.is_dir() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        self.prepare_catalog(doing).await?;
        #[cfg(unix)]
        return narrow_modes(dir);
        #[cfg(not(unix))]
        Ok(Vec::new())
    }

    /// [`Place::secure_data_dir`] for the commands that work on the catalog directly: warnings on stderr.
    pub(crate) async fn create_data_dir(&self, doing: &str) -> Result<()> {
        for warning in self.secure_data_dir(doing).await? {
            eprintln!("warning: {warning}");
        }
        Ok(())
    }

    /// Checks the local vault's master key against the catalog's fingerprint of it (see
    /// [`Place::check_master_key`]), then opens (and migrates) the catalog as a Control Plane over the vault backends
    /// compiled into this binary. A SQLite catalog file is checked before anything else ([`lanyard_control::prepare_catalog`]: one
    /// that is not a catalog is refused, a missing one created with mode 0600). The key check comes first, so that a node with the wrong key neither migrates nor
    /// seeds a catalog that other nodes use.
    pub(crate) async fn open(&self) -> Result<ControlPlane> {
        self.prepare_catalog("start").await?;
        #[cfg(feature = "vault-local")]
        self.check_master_key("start").await?;
        let config = ControlConfig { catalog_url: self.catalog_url(), data_dir: self.data_dir.clone() };
        let registry = lanyard_vault::Registry::global()?;
        ControlPlane::open(&config, registry)
            .await
            .map_err(explain)
            .with_context(|| format!("cannot open the catalog {}", redact_url(&config.catalog_url)))
    }

    /// Before anything opens the catalog file: refuses one that is not a catalog, creates a missing one private
    /// ([`lanyard_control::prepare_catalog`]). `doing` names what is refused.
    pub(crate) async fn prepare_catalog(&self, doing: &str) -> Result<()> {
        lanyard_control::prepare_catalog(&self.catalog_url()).await.map_err(|error| match error {
            lanyard_control::CatalogError::NotACatalog { .. } => anyhow::anyhow!("refusing to {doing}: {error}"),
            error => anyhow::anyhow!("cannot open the catalog {}: {error}", redact_url(&self.catalog_url())),
        })
    }

    /// Checks the master key this node read (`LANYARD_MASTER_KEY`, else `<data-dir>/master.key`, plus
    /// `LANYARD_MASTER_KEY_PREVIOUS`) against the fingerprint the catalog holds, recording it on the first start, so
    /// that a node with the wrong key stops here instead of failing at its first read of a secret. `doing` names
    /// what is refused (`start`, `rotate`).
    #[cfg(feature = "vault-local")]
    pub(crate) async fn check_master_key(&self, doing: &str) -> Result<()> {
        use lanyard_vault_local::{LocalVault, LocalVaultSettings, MasterKeySource};
        self.prepare_catalog(doing).await?;
        let refused = |error: lanyard_vault::VaultError| match error.kind() {
            lanyard_vault::ErrorKind::ConfigInvalid => {
                anyhow::anyhow!("refusing to {doing}: {}", error.detail().unwrap_or("the master key is invalid"))
            }
            _ => anyhow::anyhow!("cannot check the master key of the local vault: {error}"),
        };
        let source = MasterKeySource::from_process_env(Some(&self.data_dir)).map_err(refused)?;
        let settings = LocalVaultSettings { max_connections: 1, ..LocalVaultSettings::default() };
        let vault = LocalVault::new(&self.catalog_url(), source, settings).map_err(refused)?;
        let checked = vault.check_master_key().await;
        vault.close().await;
        let check = checked.map_err(refused)?;
        if check.recorded_now {
            tracing::info!(key_id = %check.key_id, "recorded the fingerprint of the local vault's master key");
        } else {
            tracing::debug!(key_id = %check.key_id, "the master key matches the catalog's fingerprint");
        }
        Ok(())
    }
}

/// A Control Plane error for the operator's terminal: the message and, for internal errors, the detail a client
/// of the API would not see.
pub(crate) fn explain(error: ControlError) -> anyhow::Error {
    match error.internal_detail() {
        Some(detail) if !detail.is_empty() && detail != error.message() => {
            anyhow::anyhow!("{}: {detail}", error.message())
        }
        _ => anyhow::anyhow!("{}", error.message()),
    }
}

/// A database URL without its password, for logs and messages: `postgres://user:***@host/db`.
///
/// The `url` crate reads the URL as the database drivers do. The password of the userinfo and the value of every
/// query parameter whose key looks secret (`?password=…`, which sqlx accepts too) become `***`; a URL with neither
/// is returned as written. When it cannot parse a URL that holds an `@`, or finds no password where a plain split
/// at the last `@` of the authority sees one ([`url_has_password`]), only the scheme is kept: where that password
/// ends is anybody's guess.
pub(crate) fn redact_url(text: &str) -> String {
    let scheme_only =
        || text.split_once("://").map_or_else(|| REDACTED.to_owned(), |(scheme, _)| format!("{scheme}://{REDACTED}"));
    match Url::parse(text) {
        Ok(mut url) => {
            let secret_query = url.query_pairs().any(|(key, _)| is_secret_key(&key));
            if secret_query {
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if is_secret_key(&k) { REDACTED.to_owned() } else { v.into_owned() };
                        (k.into_owned(), v)
                    })
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            let has_password = url.password().is_some();
            match has_password {
                true if url.set_password(Some(REDACTED)).is_err() => scheme_only(),
                true => url.into(),
                false if url_has_password(text) => scheme_only(),
                false if secret_query => url.into(),
                false => text.to_owned(),
            }
        }
        Err(_) if text.contains('@') || url_has_password(text) => scheme_only(),
        Err(_) => text.to_owned(),
    }
}

/// Takes group and other access away from `dir` (followed if it is a symbolic link) and from each regular file in
/// it but the key files, keeping the owner's bits; one warning per change, per symbolic link (not followed) and per
/// file whose mode cannot be changed.
#[cfg(unix)]
fn narrow_modes(dir: &Path) -> Result<Vec<String>> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let mut warnings = Vec::new();
    let changed = |what: &str, path: &Path, mode: u32, fixed: u32| {
        format!(
            "{what} {} had mode {mode:04o}: group or others could reach it; changed it to {fixed:04o} (check who may \
             have read it)",
            path.display()
        )
    };
    // The directory itself: `metadata` follows a symbolic link (a link's own mode is always 0777).
    let metadata =
        std::fs::metadata(dir).with_context(|| format!("cannot inspect the data directory {}", dir.display()))?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        let fixed = mode & !0o077;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(fixed)).with_context(|| {
            format!(
                "the data directory {} has mode {mode:04o} (group or others may reach it) and its mode cannot be \
                 changed by this user",
                dir.display()
            )
        })?;
        warnings.push(changed("the data directory", dir, mode, fixed));
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list the data directory {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Ok(link) = std::fs::symlink_metadata(&path) else { continue };
        if link.file_type().is_symlink() {
            warnings.push(format!(
                "the data file {} is a symbolic link: not followed, its target's mode was not checked",
                path.display()
            ));
            continue;
        }
        let mode = link.permissions().mode() & 0o7777;
        if !link.file_type().is_file() || KEY_FILES.contains(&name.as_str()) || mode & 0o077 == 0 {
            continue;
        }
        let fixed = mode & !0o077;
        // Changed through a handle checked to be the very file inspected above (the same device and inode), so that
        // a file replaced meanwhile by a symbolic link is not followed.
        let outcome = std::fs::File::open(&path).and_then(|file| {
            let opened = file.metadata()?;
            if (opened.dev(), opened.ino()) != (link.dev(), link.ino()) {
                return Err(std::io::Error::other("it was replaced while being checked"));
            }
            file.set_permissions(std::fs::Permissions::from_mode(fixed))
        });
        match outcome {
            Ok(()) => warnings.push(changed("the data file", &path, mode, fixed)),
            Err(error) => warnings.push(format!(
                "the data file {} has mode {mode:04o} (group or others may read it, owner uid {}) and its mode could \
                 not be changed ({error}): check who may have read it and narrow it by hand",
                path.display(),
                link.uid()
            )),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact_url("postgres://app:s3cr3t@db:5432/lanyard"), "postgres://app:***@db:5432/lanyard");
        assert_eq!(redact_url("postgres://app@db/lanyard"), "postgres://app@db/lanyard");
        assert_eq!(redact_url("sqlite://./lanyard-data/catalog.db"), "sqlite://./lanyard-data/catalog.db");
        assert_eq!(redact_url("postgres://a:b@c@host/x?y=@"), "postgres://a:***@host/x?y=@");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("postgres://u:pw@/db"), "postgres://***");
        assert_eq!(redact_url("postgres://u:pw@h:notaport/db"), "postgres://***");
        // A password in the query (sqlx reads `?password=`), or one holding `/` that stops the URL from parsing.
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=s3cr3t"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(redact_url("postgres://u:pa/ss@h/db"), "postgres://***");
    }

    #[test]
    fn the_default_catalog_is_sqlite_in_the_data_dir() {
        let place = Place { data_dir: PathBuf::from("/srv/lanyard"), catalog: None };
        assert_eq!(place.catalog_url(), "sqlite:///srv/lanyard/catalog.db");
        let place = Place { catalog: Some("postgres://h/db".into()), ..place };
        assert_eq!(place.catalog_url(), "postgres://h/db");
    }
}
