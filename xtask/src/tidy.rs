//! `cargo xtask tidy`: repository conventions that the compiler and clippy do not check.
//!
//! Each check returns its problems as human-readable messages; [`check`] collects them all so one run shows
//! everything that needs fixing. The same checks run as an ordinary test (`xtask/tests/tidy.rs`).
//!
//! The checks:
//! - crate layering: internal dependencies follow the table in `spec/README.md` ([`LAYERS`]);
//! - every crate root (`lib.rs`, `main.rs`) starts with a `//!` crate doc;
//! - no test is skipped or expects a panic (the `ignore` and `should_panic` attributes are banned);
//! - every crate has `version = "0.0.0"` and `publish = false`;
//! - the SQL test copies of the seed documents match the originals, when the originals are around.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use cargo_metadata::{DependencyKind, Metadata, Package};

/// The table key of every crate under `plugins/`.
pub const PLUGINS: &str = "plugins/*";

/// The allowed internal dependencies: `(crate, crates it may depend on)`, copied from the table in
/// `spec/README.md`. Anything not listed is forbidden. Keep the two in sync.
///
/// Plugin crates (everything under `plugins/`) share the key [`PLUGINS`]. An edge to a plugin must also be an
/// optional dependency: plugins are linked only behind features of the binary.
pub const LAYERS: &[(&str, &[&str])] = &[
    ("lanyard-core", &[]),
    ("lanyard-sql", &["lanyard-core"]),
    ("lanyard-catalog", &["lanyard-core"]),
    ("lanyard-vault", &["lanyard-core"]),
    (PLUGINS, &["lanyard-vault", "lanyard-core"]),
    ("lanyard-resolve", &["lanyard-vault", "lanyard-catalog", "lanyard-core"]),
    ("lanyard-connectors", &["lanyard-resolve", "lanyard-core"]),
    ("lanyard-control", &["lanyard-catalog", "lanyard-vault", "lanyard-resolve", "lanyard-connectors", "lanyard-core"]),
    ("lanyard-api", &["lanyard-core"]),
    ("lanyard-server", &["lanyard-api", "lanyard-control", "lanyard-core"]),
    ("lanyard-client", &["lanyard-api", "lanyard-sql", "lanyard-core"]),
    // Deviation from the spec's table: the composition root reads the plugin registry (`lanyard backends`, the
    // registered-kinds test), which lives in lanyard-vault.
    (
        "lanyard-cli",
        &[
            "lanyard-server",
            "lanyard-control",
            "lanyard-client",
            "lanyard-api",
            "lanyard-sql",
            "lanyard-vault",
            "lanyard-core",
            PLUGINS,
        ],
    ),
];

/// Workspace crates outside the layering table: tooling that no product crate may depend on, except a
/// [`DEV_ONLY`] crate as a dev-dependency.
const UNLAYERED: &[&str] = &["xtask", DEV_ONLY_TESTSUPPORT];

/// The test-support crate: services and harnesses for tests (private PostgreSQL clusters, MariaDB users, moto,
/// `lanyard serve` processes).
const DEV_ONLY_TESTSUPPORT: &str = "lanyard-testsupport";

/// Unlayered crates that any crate may use as a dev-dependency, and none as a normal or build dependency (nothing
/// we ship links them). They depend on no workspace crate themselves: a crate that dev-depends on one of them
/// would otherwise be built twice, and its types would not match.
pub const DEV_ONLY: &[&str] = &[DEV_ONLY_TESTSUPPORT];

/// Runs every tidy check on the workspace at `root` and returns all problems found (empty when tidy).
pub fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    match crate::metadata(root) {
        Ok(metadata) => {
            problems.extend(check_layering(&crates_of(&metadata)));
            problems.extend(check_crate_docs(root, &metadata));
            problems.extend(check_manifests(&metadata));
        }
        Err(err) => problems.push(format!("{err:#}")),
    }
    problems.extend(check_test_attributes(root));
    problems.extend(check_seeds(root));
    problems
}

// ---------------------------------------------------------------------------------------------------------
// Layering

/// A workspace crate as the layering check sees it.
#[derive(Debug, Clone)]
pub struct Crate {
    /// Package name, e.g. `lanyard-sql`.
    pub name: String,
    /// Whether the crate lives under `plugins/` (its table key is then [`PLUGINS`]).
    pub is_plugin: bool,
    /// Its dependencies on other workspace crates.
    pub deps: Vec<Dep>,
}

/// A dependency of one workspace crate on another.
#[derive(Debug, Clone)]
pub struct Dep {
    /// Package name of the dependency.
    pub name: String,
    /// Whether it is an optional dependency (enabled by a feature).
    pub optional: bool,
}

impl Crate {
    /// The key of this crate in [`LAYERS`].
    fn key(&self) -> &str {
        if self.is_plugin { PLUGINS } else { &self.name }
    }
}

/// Builds the layering view of the workspace from `cargo metadata`.
///
/// Normal and build dependencies count. Dev-dependencies are exempt: tests may use any crate (an end-to-end
/// test of the catalog may well start a server, and every test may use [`DEV_ONLY`] support), and they are never
/// linked into what we ship.
fn crates_of(metadata: &Metadata) -> Vec<Crate> {
    let members = metadata.workspace_packages();
    let plugins_dir = metadata.workspace_root.join("plugins");
    let is_plugin = |package: &Package| package.manifest_path.starts_with(&plugins_dir);
    members
        .iter()
        .map(|package| {
            // A crate may list the same dependency more than once (normal and build, or per target);
            // it counts once, and as optional only if every listing is optional.
            let mut deps: BTreeMap<&str, bool> = BTreeMap::new();
            for dep in &package.dependencies {
                let internal = members.iter().any(|member| member.name == dep.name);
                if internal && dep.kind != DependencyKind::Development {
                    let optional = deps.entry(dep.name.as_str()).or_insert(true);
                    *optional &= dep.optional;
                }
            }
            Crate {
                name: package.name.to_string(),
                is_plugin: is_plugin(package),
                deps: deps.into_iter().map(|(name, optional)| Dep { name: name.to_owned(), optional }).collect(),
            }
        })
        .collect()
}

/// Checks every crate's internal dependencies against [`LAYERS`].
pub fn check_layering(crates: &[Crate]) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let key_of = |name: &str| -> Option<&str> { crates.iter().find(|krate| krate.name == name).map(Crate::key) };
    let mut problems = Vec::new();
    for krate in crates {
        if DEV_ONLY.contains(&krate.name.as_str()) {
            for dep in &krate.deps {
                problems.push(format!(
                    "{} is dev-only support and may not depend on workspace crate {} (a crate that dev-depends on \
                     it would be linked twice)",
                    krate.name, dep.name
                ));
            }
        }
        for dep in krate.deps.iter().filter(|dep| DEV_ONLY.contains(&dep.name.as_str())) {
            problems.push(format!(
                "{} may depend on {} only as a dev-dependency (under [dev-dependencies]); nothing we ship links it",
                krate.name, dep.name
            ));
        }
        if UNLAYERED.contains(&krate.name.as_str()) {
            continue;
        }
        let Some(may_use) = allowed.get(krate.key()) else {
            problems.push(format!(
                "crate {} is not in the layering table; add it to LAYERS in xtask/src/tidy.rs \
                 and to the table in spec/README.md",
                krate.name
            ));
            continue;
        };
        for dep in krate.deps.iter().filter(|dep| !DEV_ONLY.contains(&dep.name.as_str())) {
            let dep_key = key_of(&dep.name).unwrap_or(&dep.name);
            if !may_use.contains(&dep_key) {
                let list = if may_use.is_empty() { "none".to_owned() } else { may_use.join(", ") };
                problems.push(format!("{} may not depend on {} (allowed: {list})", krate.name, dep.name));
            } else if dep_key == PLUGINS && !dep.optional {
                problems.push(format!(
                    "{} may depend on plugin {} only as an optional dependency, behind a feature",
                    krate.name, dep.name
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------------------
// Crate docs

/// Every library and binary root must begin with a `//!` crate doc saying what the crate is (and is not).
fn check_crate_docs(root: &Path, metadata: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    for package in metadata.workspace_packages() {
        for target in &package.targets {
            if !(target.is_lib() || target.is_bin() || target.is_proc_macro()) {
                continue;
            }
            let path = target.src_path.as_std_path();
            let shown = relative(root, path);
            match fs::read_to_string(path) {
                Ok(text) if starts_with_crate_doc(&text) => {}
                Ok(_) => {
                    problems.push(format!("{shown}: the first line must be a `//!` crate doc (before any attribute)"))
                }
                Err(err) => problems.push(format!("{shown}: cannot read: {err}")),
            }
        }
    }
    problems
}

/// Whether the first non-blank line of `text` is a `//!` doc comment.
fn starts_with_crate_doc(text: &str) -> bool {
    text.lines().map(str::trim).find(|line| !line.is_empty()).is_some_and(|line| line.starts_with("//!"))
}

// ---------------------------------------------------------------------------------------------------------
// Test attributes

/// Attributes no test may carry: a test never skips, and asserts the error instead of expecting a panic.
///
/// Built with `concat!` so that this file does not contain the patterns it looks for.
const BANNED_ATTRIBUTES: &[(&str, &str)] = &[
    (concat!("#[", "ignore"), "tests must not be skipped; make the test pass or delete it"),
    (concat!("#[", "should_panic"), "assert on the returned error instead of expecting a panic"),
];

/// The directories whose `.rs` files are searched for banned attributes.
const SOURCE_DIRS: &[&str] = &["crates", "plugins", "tests", "xtask"];

/// No `.rs` file in the workspace carries a banned test attribute.
fn check_test_attributes(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            problems.push(format!("{}: cannot read", relative(root, &file)));
            continue;
        };
        problems.extend(
            banned_attributes_in(&text).into_iter().map(|problem| format!("{}:{problem}", relative(root, &file))),
        );
    }
    problems
}

/// The banned attributes in one file, as `line: message`.
fn banned_attributes_in(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for (pattern, why) in BANNED_ATTRIBUTES {
            if line.contains(pattern) {
                problems.push(format!("{}: `{pattern}]` is not allowed: {why}", index + 1));
            }
        }
    }
    problems
}

/// Collects the `.rs` files below `dir`, skipping build output and hidden directories.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return; // a directory that does not exist yet (e.g. `plugins/`) has nothing to check
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Manifests

/// Internal crates are `version = "0.0.0"` and `publish = false` until we mean to publish them.
fn check_manifests(metadata: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    for package in metadata.workspace_packages() {
        if package.version.to_string() != "0.0.0" {
            problems.push(format!(
                "{}: Cargo.toml must say version = \"0.0.0\" (found \"{}\")",
                package.name, package.version
            ));
        }
        // `publish = false`, directly or through `publish.workspace = true`, reads as an empty registry list.
        if package.publish.as_ref().is_none_or(|registries| !registries.is_empty()) {
            problems
                .push(format!("{}: Cargo.toml must say publish = false (or publish.workspace = true)", package.name));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------------------
// Seeds

/// Where the SQL crate keeps its test copies of the seed documents, relative to the workspace root.
const SEED_COPIES: &str = "crates/lanyard-sql/tests/seeds";

/// The seed documents in `../shared/seeds` must be copied byte for byte into [`SEED_COPIES`].
///
/// A clone of the repository on its own has no `../shared/seeds`; the check is then skipped.
fn check_seeds(root: &Path) -> Vec<String> {
    let originals = root.join("../shared/seeds");
    let Ok(entries) = fs::read_dir(&originals) else {
        return Vec::new();
    };
    let copies = root.join(SEED_COPIES);
    if !copies.is_dir() {
        return vec![format!("{SEED_COPIES} is missing; copy the seed documents from ../shared/seeds into it")];
    }
    let mut names: Vec<_> =
        entries.flatten().filter(|entry| entry.path().is_file()).map(|entry| entry.file_name()).collect();
    names.sort();
    let mut problems = Vec::new();
    for name in names {
        let shown = format!("{SEED_COPIES}/{}", name.to_string_lossy());
        match (fs::read(originals.join(&name)), fs::read(copies.join(&name))) {
            (Ok(original), Ok(copy)) if original == copy => {}
            (Ok(_), Ok(_)) => {
                problems.push(format!("{shown} differs from ../shared/seeds/{}; copy it again", name.to_string_lossy()))
            }
            (Err(err), _) => problems.push(format!("../shared/seeds/{}: cannot read: {err}", name.to_string_lossy())),
            (_, Err(_)) => problems.push(format!("{shown} is missing; copy it from ../shared/seeds")),
        }
    }
    problems
}

/// `path` relative to the workspace root, for messages.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(name: &str, deps: &[&str]) -> Crate {
        Crate {
            name: name.to_owned(),
            is_plugin: name.starts_with("lanyard-vault-"),
            deps: deps.iter().map(|dep| Dep { name: (*dep).to_owned(), optional: false }).collect(),
        }
    }

    fn workspace(crates: &[(&str, &[&str])]) -> Vec<Crate> {
        crates.iter().map(|(name, deps)| krate(name, deps)).collect()
    }

    #[test]
    fn allowed_edge_passes() {
        let crates = workspace(&[("lanyard-core", &[]), ("lanyard-sql", &["lanyard-core"])]);
        assert_eq!(check_layering(&crates), Vec::<String>::new());
    }

    #[test]
    fn forbidden_edge_is_reported_with_the_allowed_list() {
        let crates = workspace(&[
            ("lanyard-core", &[]),
            ("lanyard-catalog", &["lanyard-core"]),
            ("lanyard-sql", &["lanyard-core", "lanyard-catalog"]),
        ]);
        assert_eq!(
            check_layering(&crates),
            vec!["lanyard-sql may not depend on lanyard-catalog (allowed: lanyard-core)"]
        );
    }

    #[test]
    fn crate_with_no_allowed_deps_says_none() {
        let crates = workspace(&[("lanyard-core", &["lanyard-sql"]), ("lanyard-sql", &[])]);
        assert_eq!(check_layering(&crates), vec!["lanyard-core may not depend on lanyard-sql (allowed: none)"]);
    }

    #[test]
    fn plugins_share_one_row() {
        let crates = workspace(&[
            ("lanyard-core", &[]),
            ("lanyard-vault", &["lanyard-core"]),
            ("lanyard-vault-aws", &["lanyard-vault", "lanyard-core"]),
            ("lanyard-vault-memory", &["lanyard-vault-aws"]),
        ]);
        assert_eq!(
            check_layering(&crates),
            vec![
                "lanyard-vault-memory may not depend on lanyard-vault-aws \
                 (allowed: lanyard-vault, lanyard-core)"
            ]
        );
    }

    #[test]
    fn cli_links_plugins_only_optionally() {
        let mut crates = workspace(&[
            ("lanyard-core", &[]),
            ("lanyard-vault", &["lanyard-core"]),
            ("lanyard-vault-aws", &["lanyard-vault"]),
            ("lanyard-vault-local", &["lanyard-vault"]),
            ("lanyard-cli", &["lanyard-vault-aws", "lanyard-vault-local"]),
        ]);
        crates[4].deps[0].optional = true;
        assert_eq!(
            check_layering(&crates),
            vec![
                "lanyard-cli may depend on plugin lanyard-vault-local only as an optional \
                 dependency, behind a feature"
            ]
        );
    }

    #[test]
    fn unknown_crate_must_be_added_to_the_table() {
        let crates = workspace(&[("lanyard-extra", &[]), ("xtask", &["lanyard-extra"])]);
        let problems = check_layering(&crates);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("crate lanyard-extra is not in the layering table"));
    }

    #[test]
    fn testsupport_is_a_dev_dependency_only() {
        // As a dev-dependency it is not in `deps` at all (crates_of leaves dev-dependencies out): that passes.
        let crates = workspace(&[
            ("lanyard-core", &[]),
            ("lanyard-testsupport", &[]),
            ("lanyard-sql", &["lanyard-core"]),
            ("lanyard-catalog", &["lanyard-core", "lanyard-testsupport"]),
            ("xtask", &["lanyard-testsupport"]),
        ]);
        assert_eq!(
            check_layering(&crates),
            vec![
                "lanyard-catalog may depend on lanyard-testsupport only as a dev-dependency (under \
                 [dev-dependencies]); nothing we ship links it",
                "xtask may depend on lanyard-testsupport only as a dev-dependency (under [dev-dependencies]); \
                 nothing we ship links it",
            ]
        );
    }

    #[test]
    fn testsupport_depends_on_no_workspace_crate() {
        let crates = workspace(&[("lanyard-core", &[]), ("lanyard-testsupport", &["lanyard-core"])]);
        let problems = check_layering(&crates);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "lanyard-testsupport is dev-only support and may not depend on workspace crate lanyard-core"
            ),
            "{problems:?}"
        );
    }

    #[test]
    fn crate_doc_must_come_first() {
        assert!(starts_with_crate_doc("\n//! The crate.\n#![forbid(unsafe_code)]\n"));
        assert!(!starts_with_crate_doc("#![forbid(unsafe_code)]\n//! The crate.\n"));
        assert!(!starts_with_crate_doc("/// Not a crate doc.\nfn main() {}\n"));
        assert!(!starts_with_crate_doc(""));
    }

    #[test]
    fn banned_attributes_are_found_with_their_line() {
        let text = format!(
            "#[test]\n{}\nfn skipped() {{}}\n{}(expected = \"boom\")]\nfn panics() {{}}\n",
            concat!("#[", "ignore]"),
            concat!("#[", "should_panic"),
        );
        let problems = banned_attributes_in(&text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("2: "), "{problems:?}");
        assert!(problems[1].starts_with("4: "), "{problems:?}");
        assert!(banned_attributes_in("#[test]\nfn fine() {}\n").is_empty());
    }
}
