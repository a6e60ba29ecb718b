//! Backend factories, their registration through `inventory`, option validation, and the registry.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use lanyard_core::{BackendId, OptionValue, SecretString, printable};

use crate::VaultBackend;
use crate::error::{ErrorKind, Operation, Result, VaultError};

/// One option key a backend accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// The key, snake_case.
    pub name: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// Whether its value is secret: the Control Plane strips it out of the catalog into `backend::<id>` in the local
    /// backend, and it is masked everywhere.
    pub secret: bool,
    /// One line of help.
    pub help: &'static str,
}

/// Options every backend accepts; the resolver applies them (vault.md, "Bounded").
pub const COMMON_OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "timeout_ms",
        required: false,
        secret: false,
        help: "timeout of one backend call in milliseconds (default 5000)",
    },
    OptionSpec {
        name: "max_concurrent_requests",
        required: false,
        secret: false,
        help: "backend calls in flight at once, over all profiles (default 32)",
    },
    OptionSpec {
        name: "max_requests_per_second",
        required: false,
        secret: false,
        help: "rate limit of backend calls, shared by all profiles (default and 0: none)",
    },
];

/// A backend plugin's registration: a plain struct built by a `const fn`, submitted with `inventory::submit!`.
pub struct BackendFactory {
    /// The registering crate (`env!("CARGO_PKG_NAME")`), named when two crates register the same kind.
    pub crate_name: &'static str,
    /// The stable snake_case kind (`local`, `aws`); SQL's `TYPE = AWS` matches it case-insensitively.
    pub kind: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// The option keys it accepts, beyond [`COMMON_OPTIONS`].
    pub options: &'static [OptionSpec],
    /// Builds an instance from validated options.
    pub build: fn(BackendConfig) -> Result<Arc<dyn VaultBackend>>,
}

impl BackendFactory {
    /// The factory; call it inside `inventory::submit!`.
    pub const fn new(
        crate_name: &'static str,
        kind: &'static str,
        description: &'static str,
        options: &'static [OptionSpec],
        build: fn(BackendConfig) -> Result<Arc<dyn VaultBackend>>,
    ) -> Self {
        Self { crate_name, kind, description, options, build }
    }

    /// The plugin's own option keys followed by the common ones.
    pub fn all_options(&self) -> impl Iterator<Item = &'static OptionSpec> {
        self.options.iter().chain(COMMON_OPTIONS)
    }

    /// The spec of `key`, if the backend accepts it (case-insensitive).
    pub fn option(&self, key: &str) -> Option<&'static OptionSpec> {
        self.all_options().find(|spec| spec.name.eq_ignore_ascii_case(key))
    }

    /// Whether `key` is one of its secret options.
    pub fn is_secret_option(&self, key: &str) -> bool {
        self.option(key).is_some_and(|spec| spec.secret)
    }

    /// Checks `options` against the table: unknown keys are rejected with the list of valid ones, required keys
    /// must be present, values of secret keys are held as secrets. Keys are normalised to the table's spelling.
    pub fn validate<K, V>(&self, options: impl IntoIterator<Item = (K, V)>) -> Result<BackendOptions>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        self.validate_with_secrets(options, std::iter::empty::<(String, SecretString)>())
    }

    /// [`BackendFactory::validate`] over the options stored in the catalog row plus the secret ones kept
    /// elsewhere (the local backend's `backend::<id>` profile); a kept secret under a key that is not a secret
    /// option is an error.
    pub fn validate_with_secrets<K, V, S>(
        &self,
        options: impl IntoIterator<Item = (K, V)>,
        secrets: impl IntoIterator<Item = (S, SecretString)>,
    ) -> Result<BackendOptions>
    where
        K: AsRef<str>,
        V: Into<String>,
        S: AsRef<str>,
    {
        let error =
            |detail: String| VaultError::new(ErrorKind::ConfigInvalid, self.kind, Operation::Build).with_detail(detail);
        let unknown = |key: &str| {
            let valid: Vec<_> = self.all_options().map(|spec| spec.name).collect();
            let key = printable(key, 64);
            error(format!("unknown option {key:?}; valid options are: {}", valid.join(", ")))
        };
        let mut values = BTreeMap::new();
        let mut insert = |spec: &'static OptionSpec, value: OptionValue| {
            if values.insert(spec.name, value).is_some() {
                return Err(error(format!("option {:?} is given twice", spec.name)));
            }
            Ok(())
        };
        for (key, value) in options {
            let key = key.as_ref();
            let spec = self.option(key).ok_or_else(|| unknown(key))?;
            let value = value.into();
            insert(
                spec,
                if spec.secret { OptionValue::Secret(SecretString::new(value)) } else { OptionValue::Plain(value) },
            )?;
        }
        for (key, value) in secrets {
            let key = key.as_ref();
            let spec = self.option(key).ok_or_else(|| unknown(key))?;
            if !spec.secret {
                return Err(error(format!(
                    "stored secret option {:?} is not a secret option of this backend",
                    spec.name
                )));
            }
            insert(spec, OptionValue::Secret(value))?;
        }
        let missing: Vec<_> = self
            .all_options()
            .filter(|spec| spec.required && !values.contains_key(spec.name))
            .map(|s| s.name)
            .collect();
        if !missing.is_empty() {
            return Err(error(format!("missing required option(s): {}", missing.join(", "))));
        }
        let options = BackendOptions { kind: self.kind, values };
        // A zero timeout would fail every call at once; a zero concurrency would admit none.
        if options.parse::<u64>("timeout_ms")? == Some(0) {
            return Err(error("option \"timeout_ms\" must be at least 1".to_owned()));
        }
        options.parse::<u32>("max_requests_per_second")?;
        if options.parse::<u32>("max_concurrent_requests")? == Some(0) {
            return Err(error("option \"max_concurrent_requests\" must be at least 1".to_owned()));
        }
        Ok(options)
    }
}

impl fmt::Debug for BackendFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendFactory").field("kind", &self.kind).field("crate_name", &self.crate_name).finish()
    }
}

inventory::collect!(BackendFactory);

/// Validated options of one backend. Values of secret keys are [`OptionValue::Secret`]; `Debug` masks them.
#[derive(Clone)]
pub struct BackendOptions {
    kind: &'static str,
    values: BTreeMap<&'static str, OptionValue>,
}

impl BackendOptions {
    /// A plain (non-secret) option's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.values.get(key)? {
            OptionValue::Plain(value) => Some(value),
            OptionValue::Secret(_) => None,
        }
    }

    /// A secret option's value.
    pub fn secret(&self, key: &str) -> Option<&SecretString> {
        match self.values.get(key)? {
            OptionValue::Secret(value) => Some(value),
            OptionValue::Plain(_) => None,
        }
    }

    /// A plain option parsed as `T`; a value that does not parse is a [`ErrorKind::ConfigInvalid`] error naming
    /// the key and the value.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        let Some(value) = self.get(key) else { return Ok(None) };
        value.trim().parse().map(Some).map_err(|_| {
            VaultError::new(ErrorKind::ConfigInvalid, self.kind, Operation::Build)
                .with_detail(format!("option {key:?} must be a {}, not {value:?}", short_type_name::<T>()))
        })
    }

    /// Every option, in key order (secret values masked in their `Display`).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &OptionValue)> {
        self.values.iter().map(|(key, value)| (*key, value))
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    match name {
        "u8" | "u16" | "u32" | "u64" | "usize" => "non-negative whole number",
        "i8" | "i16" | "i32" | "i64" | "isize" => "whole number",
        "f32" | "f64" => "number",
        "bool" => "boolean (true or false)",
        other => other.rsplit("::").next().unwrap_or(other),
    }
}

impl fmt::Debug for BackendOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.values.iter()).finish()
    }
}

/// What the composition root tells every backend about where it runs.
#[derive(Debug, Clone, Default)]
pub struct BackendEnv {
    /// The catalog database URL (`sqlite://…`, `postgres://…`); the local backend keeps its ciphertext there.
    pub catalog_url: Option<String>,
    /// The data directory (`./lanyard-data`); the local backend's master key file lives there.
    pub data_dir: Option<PathBuf>,
}

/// Everything a factory's `build` gets.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// The credential storage's id.
    pub backend_id: BackendId,
    /// Its display name, for messages.
    pub name: String,
    /// Its validated options, secret ones included.
    pub options: BackendOptions,
    /// The environment.
    pub env: BackendEnv,
}

/// A backend kind Lanyard knows of, compiled in or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKind {
    /// The kind.
    pub kind: &'static str,
    /// Other names SQL accepts for it.
    pub aliases: &'static [&'static str],
    /// The cargo feature of the `lanyard` binary that compiles it in (`crates/lanyard-cli/Cargo.toml` has it,
    /// which the CLI's tests check).
    pub feature: &'static str,
}

/// Every kind of vault.md, with the feature that enables it.
pub const KNOWN_KINDS: &[KnownKind] = &[
    KnownKind { kind: "aws", aliases: &[], feature: "vault-aws" },
    KnownKind { kind: "azure", aliases: &[], feature: "vault-azure" },
    KnownKind { kind: "gcp", aliases: &[], feature: "vault-gcp" },
    KnownKind { kind: "hashicorp", aliases: &[], feature: "vault-hashicorp" },
    KnownKind { kind: "local", aliases: &["os_keychain"], feature: "vault-local" },
    KnownKind { kind: "memory", aliases: &[], feature: "vault-memory" },
];

/// A defect of the set of registered plugins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two crates registered the same kind.
    #[error("backend kind {kind:?} is registered twice: by {first} and by {second}")]
    Duplicate {
        /// The kind.
        kind: &'static str,
        /// One registrant.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A kind that is not snake_case ASCII.
    #[error("backend kind {kind:?} registered by {crate_name} is not a snake_case identifier")]
    InvalidKind {
        /// The kind.
        kind: &'static str,
        /// The registrant.
        crate_name: &'static str,
    },
}

/// The set of backend kinds compiled into this program, sorted by kind.
#[derive(Debug)]
pub struct Registry {
    factories: Vec<&'static BackendFactory>,
}

impl Registry {
    /// The registry of every factory submitted with `inventory::submit!` in the linked crates, built once.
    pub fn global() -> std::result::Result<&'static Registry, RegistryError> {
        static GLOBAL: OnceLock<std::result::Result<Registry, RegistryError>> = OnceLock::new();
        GLOBAL.get_or_init(|| Self::from_factories(inventory::iter::<BackendFactory>)).as_ref().map_err(Clone::clone)
    }

    /// A registry of the given factories: sorted, duplicates rejected naming both registrants.
    pub fn from_factories(
        factories: impl IntoIterator<Item = &'static BackendFactory>,
    ) -> std::result::Result<Self, RegistryError> {
        let mut factories: Vec<_> = factories.into_iter().collect();
        for factory in &factories {
            let valid = !factory.kind.is_empty()
                && factory.kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(RegistryError::InvalidKind { kind: factory.kind, crate_name: factory.crate_name });
            }
        }
        factories.sort_by(|a, b| a.kind.cmp(b.kind).then(a.crate_name.cmp(b.crate_name)));
        if let Some(pair) = factories.windows(2).find(|pair| pair[0].kind == pair[1].kind) {
            return Err(RegistryError::Duplicate {
                kind: pair[0].kind,
                first: pair[0].crate_name,
                second: pair[1].crate_name,
            });
        }
        Ok(Self { factories })
    }

    /// The factories, sorted by kind.
    pub fn factories(&self) -> &[&'static BackendFactory] {
        &self.factories
    }

    /// The compiled-in kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.factories.iter().map(|f| f.kind).collect()
    }

    /// The canonical kind for a `TYPE` as written in SQL: lower-cased, aliases resolved (`OS_KEYCHAIN` → `local`).
    pub fn canonical_kind(kind: &str) -> String {
        let lower = kind.trim().to_ascii_lowercase();
        KNOWN_KINDS
            .iter()
            .find(|known| known.aliases.contains(&lower.as_str()))
            .map_or(lower, |known| known.kind.to_owned())
    }

    /// The factory of `kind` (as written in SQL). An unknown kind lists the available ones; a known kind that is
    /// not compiled in names the cargo feature that enables it.
    pub fn factory(&self, kind: &str) -> Result<&'static BackendFactory> {
        let canonical = Self::canonical_kind(kind);
        if let Some(factory) = self.factories.iter().find(|f| f.kind == canonical) {
            return Ok(factory);
        }
        let shown = printable(kind, 64);
        let available = self.kinds().iter().map(|k| k.to_ascii_uppercase()).collect::<Vec<_>>().join(", ");
        let detail = match KNOWN_KINDS.iter().find(|known| known.kind == canonical) {
            Some(KnownKind { feature, .. }) => format!(
                "backend kind {shown:?} is not enabled in this build; rebuild lanyard with `--features {feature}`"
            ),
            None => format!("unknown backend kind {shown:?}; available kinds: {available}"),
        };
        Err(VaultError::new(ErrorKind::Unsupported, "vault", Operation::Build).with_detail(detail))
    }

    /// Validates `options` for `kind` and builds an instance.
    pub fn build<K, V>(
        &self,
        kind: &str,
        backend_id: BackendId,
        name: impl Into<String>,
        options: impl IntoIterator<Item = (K, V)>,
        env: BackendEnv,
    ) -> Result<Arc<dyn VaultBackend>>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        let factory = self.factory(kind)?;
        let options = factory.validate(options)?;
        (factory.build)(BackendConfig { backend_id, name: name.into(), options, env })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, ProbeReport, SecretRef, SecretValue};

    #[derive(Debug)]
    struct Nothing;

    #[async_trait::async_trait]
    impl VaultBackend for Nothing {
        fn kind(&self) -> &'static str {
            "nothing"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        fn physical_name(&self, profile: &crate::Profile) -> String {
            profile.to_string()
        }
        async fn get(&self, secret: &SecretRef) -> Result<SecretValue> {
            Err(VaultError::new(ErrorKind::NotFound, "nothing", Operation::Get).with_target(secret.to_string()))
        }
        async fn probe(&self) -> Result<ProbeReport> {
            Ok(ProbeReport::default())
        }
    }

    fn build(_: BackendConfig) -> Result<Arc<dyn VaultBackend>> {
        Ok(Arc::new(Nothing))
    }

    const OPTIONS: &[OptionSpec] = &[
        OptionSpec { name: "region", required: true, secret: false, help: "" },
        OptionSpec { name: "secret_access_key", required: false, secret: true, help: "" },
    ];
    static AWS_A: BackendFactory = BackendFactory::new("crate-a", "aws", "", OPTIONS, build);
    static AWS_B: BackendFactory = BackendFactory::new("crate-b", "aws", "", OPTIONS, build);
    static MEMORY: BackendFactory = BackendFactory::new("crate-m", "memory", "", &[], build);
    static BAD: BackendFactory = BackendFactory::new("crate-x", "Bad-Kind", "", &[], build);

    #[test]
    fn duplicates_name_both_registrants() {
        let error = Registry::from_factories([&AWS_B, &MEMORY, &AWS_A]).unwrap_err();
        assert_eq!(error.to_string(), r#"backend kind "aws" is registered twice: by crate-a and by crate-b"#);
        assert!(matches!(Registry::from_factories([&BAD]), Err(RegistryError::InvalidKind { .. })));
    }

    #[test]
    fn kinds_are_sorted_and_missing_ones_explained() {
        let registry = Registry::from_factories([&MEMORY, &AWS_A]).unwrap();
        assert_eq!(registry.kinds(), ["aws", "memory"]);
        assert_eq!(registry.factory("AWS").unwrap().crate_name, "crate-a");
        let missing = registry.factory("GCP").unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Unsupported);
        assert!(
            missing.to_string().contains(
                r#"backend kind "GCP" is not enabled in this build; rebuild lanyard with `--features vault-gcp`"#
            ),
            "{missing}"
        );
        let keychain = registry.factory("OS_KEYCHAIN").unwrap_err();
        assert!(keychain.to_string().contains("--features vault-local"), "{keychain}");
        let hashicorp = registry.factory("hashicorp").unwrap_err();
        assert!(hashicorp.to_string().contains("--features vault-hashicorp"), "{hashicorp}");
        let without_aws = Registry::from_factories([&MEMORY]).unwrap().factory("AWS").unwrap_err();
        assert!(
            without_aws.to_string().contains(
                r#"backend kind "AWS" is not enabled in this build; rebuild lanyard with `--features vault-aws`"#
            ),
            "{without_aws}"
        );
        let unknown = registry.factory("foo").unwrap_err();
        assert!(
            unknown.to_string().contains(r#"unknown backend kind "foo"; available kinds: AWS, MEMORY"#),
            "{unknown}"
        );
    }

    #[test]
    fn options_are_validated_and_secrets_marked() {
        let options = AWS_A
            .validate([("REGION", "eu-west-1"), ("secret_access_key", "canary-sak"), ("timeout_ms", "250")])
            .unwrap();
        assert_eq!(options.get("region"), Some("eu-west-1"));
        assert_eq!(options.get("secret_access_key"), None);
        assert_eq!(options.secret("secret_access_key").unwrap().expose_secret(), "canary-sak");
        assert_eq!(options.parse::<u64>("timeout_ms").unwrap(), Some(250));
        assert!(!format!("{options:?}").contains("canary"));

        let unknown = AWS_A.validate([("region", "x"), ("regoin", "y")]).unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::ConfigInvalid);
        assert!(
            unknown.to_string().contains(
                r#"unknown option "regoin"; valid options are: region, secret_access_key, timeout_ms, max_concurrent_requests, max_requests_per_second"#
            ),
            "{unknown}"
        );
        let missing = AWS_A.validate(std::iter::empty::<(&str, &str)>()).unwrap_err();
        assert!(missing.to_string().contains("missing required option(s): region"), "{missing}");
        let twice = AWS_A.validate([("region", "x"), ("Region", "y")]).unwrap_err();
        assert!(twice.to_string().contains(r#"option "region" is given twice"#), "{twice}");
        let zero = AWS_A.validate([("region", "x"), ("max_concurrent_requests", "0")]).unwrap_err();
        assert!(zero.to_string().contains("must be at least 1"), "{zero}");
        let instant = AWS_A.validate([("region", "x"), ("timeout_ms", "0")]).unwrap_err();
        assert!(instant.to_string().contains(r#"option "timeout_ms" must be at least 1"#), "{instant}");
        let huge = AWS_A.validate([("region", "x"), ("max_requests_per_second", "99999999999")]).unwrap_err();
        assert!(huge.to_string().contains("must be a non-negative whole number"), "{huge}");
        let bad_number = AWS_A.validate([("region", "x"), ("timeout_ms", "soon")]).unwrap_err();
        assert!(
            bad_number.to_string().contains(r#"option "timeout_ms" must be a non-negative whole number, not "soon""#),
            "{bad_number}"
        );
    }

    #[test]
    fn kept_secrets_complete_the_row_options() {
        let secret = |v: &str| SecretString::new(v);
        let options = AWS_A.validate_with_secrets([("region", "x")], [("secret_access_key", secret("kept"))]).unwrap();
        assert_eq!(options.secret("secret_access_key").unwrap().expose_secret(), "kept");
        let error = AWS_A.validate_with_secrets([("secret_access_key", "y")], [("region", secret("x"))]).unwrap_err();
        assert!(error.to_string().contains(r#"stored secret option "region" is not a secret option"#), "{error}");
        let error = AWS_A
            .validate_with_secrets([("region", "x"), ("secret_access_key", "y")], [("secret_access_key", secret("z"))]);
        assert!(error.unwrap_err().to_string().contains("given twice"));
    }

    #[test]
    fn aliases_resolve_to_their_kind() {
        assert_eq!(Registry::canonical_kind("OS_KEYCHAIN"), "local");
        assert_eq!(Registry::canonical_kind(" Aws "), "aws");
    }
}
