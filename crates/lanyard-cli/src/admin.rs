//! `lanyard admin …`: operator commands that work on the data directory directly.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lanyard_vault_local::{LocalVault, LocalVaultSettings, MasterKey, MasterKeySource};

use crate::place::{DEFAULT_DATA_DIR, default_catalog_url};

/// Which key `rotate-master-key` rotates to.
pub(crate) enum NewKey {
    /// A fresh random key.
    Generate,
    /// The key in this environment variable (base64), so it never appears on a command line.
    FromEnv(String),
    /// The current key again: re-encrypts rows written under an older key.
    Current,
}

/// `lanyard admin rotate-master-key`: finishes an interrupted rotation, or re-encrypts every row of the local
/// vault under a new master key in one transaction.
pub(crate) fn rotate_master_key(
    data_dir: Option<PathBuf>,
    catalog: Option<String>,
    new_key: NewKey,
) -> Result<ExitCode> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let catalog = catalog.unwrap_or_else(|| default_catalog_url(&data_dir));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        // The keys this node read must include the one the catalog's material is under (the documented rolling
        // rotation always has it, as the current or a previous key); the rotation then moves the fingerprint in
        // the transaction that re-encrypts.
        let place = crate::place::Place { data_dir: data_dir.clone(), catalog: Some(catalog.clone()) };
        place.check_master_key("rotate the master key").await?;
        let source = MasterKeySource::from_process_env(Some(&data_dir))?;
        let from_env = matches!(source, MasterKeySource::Keys(_));
        let vault = LocalVault::open(&catalog, source, LocalVaultSettings::default())
            .await
            .with_context(|| format!("opening the local vault in {catalog}"))?;
        if let Some(report) = vault.resume_rotation().await? {
            println!(
                "resumed an interrupted rotation: {} rows now under master key {}",
                report.rows, report.new_key_id
            );
            vault.close().await;
            return Ok(ExitCode::SUCCESS);
        }
        let key = match new_key {
            // A generated key would have to be shown for the operator to install it; keys never go to the terminal.
            NewKey::Generate if from_env => bail!(
                "this node reads its master key from LANYARD_MASTER_KEY: make the new key yourself \
                 (openssl rand -base64 32), put it in an environment variable and pass --new-key-from-env VAR"
            ),
            NewKey::Generate => MasterKey::generate()?,
            NewKey::FromEnv(name) => {
                let Ok(text) = std::env::var(&name) else { bail!("environment variable {name} is not set") };
                MasterKey::from_base64(&text).with_context(|| format!("the key in {name}"))?
            }
            NewKey::Current => vault.key_ring().await?.current().clone(),
        };
        let report = vault.rotate_master_key(key).await?;
        vault.close().await;
        println!("re-encrypted {} rows under master key {}", report.rows, report.new_key_id);
        for (old, rows) in &report.rows_by_old_key {
            println!("  {rows} rows were under master key {old}");
        }
        if let Some(file) = &report.key_file {
            println!("the new key is in {}", file.display());
        } else if from_env {
            println!("install the new key as LANYARD_MASTER_KEY on every node");
        }
        Ok(ExitCode::SUCCESS)
    })
}
