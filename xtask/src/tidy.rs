//! `cargo xtask tidy`: repository conventions that the compiler and clippy do not check.
//!
//! Each check returns its problems as human-readable messages; [`check`] collects them all so one run shows
//! everything that needs fixing, with notes that need no fixing. The same checks run as an ordinary test
//! (`xtask/tests/tidy.rs`).
//!
//! The checks:
//! - crate layering: internal dependencies follow the table under `### Layering` in `ARCHITECTURE.md`, the one
//!   place the table lives ([`Layers`]);
//! - every crate root (`lib.rs`, `main.rs`) starts with a `//!` crate doc;
//! - no test is skipped or expects a panic (the `ignore` and `should_panic` attributes are banned);
//! - every crate has `version = "0.0.0"` and `publish = false`;
//! - every cargo feature that the README, `docs/`, `ARCHITECTURE.md` or a message in the code tells users to build with
//!   (`--features <list>`) exists: in the crate the line names with `-p`, else in `lanyard-cli`;
//! - the SQL test copies of the seed documents match the originals in `../shared/seeds` (or [`SEEDS_ENV`]), which
//!   must be there.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, Metadata, Package};

/// What [`check`] found.
#[derive(Debug, Default)]
pub struct Report {
    /// Convention breaks: tidy fails when there is any.
    pub problems: Vec<String>,
    /// Worth knowing, not failures (a layering row for a crate that does not exist yet).
    pub notes: Vec<String>,
}

/// Runs every tidy check on the workspace at `root` and returns everything found.
pub fn check(root: &Path) -> Report {
    let mut report = Report::default();
    match crate::metadata(root) {
        Ok(metadata) => {
            match Layers::read(root) {
                Ok(layers) => {
                    let crates = crates_of(&metadata);
                    report.problems.extend(check_layering(&crates, &layers));
                    report.notes.extend(rows_without_a_crate(&crates, &layers));
                }
                Err(problem) => report.problems.push(problem),
            }
            report.problems.extend(check_crate_docs(root, &metadata));
            report.problems.extend(check_manifests(&metadata));
            report.problems.extend(check_feature_hints(root, &metadata));
        }
        Err(err) => report.problems.push(format!("{err:#}")),
    }
    report.problems.extend(check_test_attributes(root));
    report.problems.extend(check_seeds(root, &seeds_dir(root)));
    report.problems.extend(crate::fuzz::check_layout(root));
    report
}

// ---------------------------------------------------------------------------------------------------------
// Layering

/// The document that holds the layering table, relative to the workspace root.
pub const ARCHITECTURE: &str = "ARCHITECTURE.md";

/// The heading the layering table stands under, in [`ARCHITECTURE`].
pub const LAYERING_HEADING: &str = "### Layering";

/// The table key of every crate under `plugins/`, and the crate column's spelling of it.
pub const PLUGINS: &str = "plugins/*";

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

/// The allowed internal dependencies, read from the markdown table under [`LAYERING_HEADING`] in
/// [`ARCHITECTURE`]: the one copy of the table (no list here to keep in sync with it).
///
/// Each row is `| crate | may depend on |`. The crate column is a package name (`lanyard-sql`) or [`PLUGINS`] for
/// every crate under `plugins/`. The other column lists short names separated by commas: `core` means
/// `lanyard-core`, `plugins` means the plugin crates (which must then be optional dependencies: plugins are linked
/// only behind features of the binary), and `—` means none; parenthesised remarks are ignored. Anything not
/// listed is forbidden, and every short name must be a row of the table itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    /// `(crate key, keys it may depend on)`, in the table's order.
    rows: Vec<(String, Vec<String>)>,
}

impl Layers {
    /// Reads the table from [`ARCHITECTURE`] in the workspace at `root`.
    pub fn read(root: &Path) -> Result<Self, String> {
        let path = root.join(ARCHITECTURE);
        let text = fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}; tidy reads the layering table from it", path.display()))?;
        Self::parse(&text)
    }

    /// Parses the table under [`LAYERING_HEADING`] in `markdown`; errors name the line of [`ARCHITECTURE`].
    pub fn parse(markdown: &str) -> Result<Self, String> {
        let lines: Vec<&str> = markdown.lines().collect();
        let Some(heading) = lines.iter().position(|line| line.trim_end() == LAYERING_HEADING) else {
            return Err(format!(
                "{ARCHITECTURE} has no `{LAYERING_HEADING}` heading: tidy reads the allowed dependencies between \
                 crates from the table under it"
            ));
        };
        // The section runs to the next heading; its table is the first run of lines starting with `|`.
        let section = lines[heading + 1..]
            .iter()
            .enumerate()
            .map(|(offset, line)| (heading + 2 + offset, line.trim()))
            .take_while(|(_, line)| !line.starts_with('#'));
        let table: Vec<(usize, &str)> = section
            .skip_while(|(_, line)| !line.starts_with('|'))
            .take_while(|(_, line)| line.starts_with('|'))
            .collect();
        let at = |number: usize| format!("{ARCHITECTURE}:{number}");
        let no_table = || format!("{ARCHITECTURE} has no table `| crate | may depend on |` under `{LAYERING_HEADING}`");
        let [_header, (separator_line, separator), rows @ ..] = &table[..] else { return Err(no_table()) };
        if !separator.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            return Err(format!("{}: expected the table's `|---|---|` line", at(*separator_line)));
        }
        if rows.is_empty() {
            return Err(no_table());
        }

        let mut parsed: Vec<(usize, String, Vec<String>)> = Vec::new();
        for (number, line) in rows {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let [krate, deps] = cells[..] else {
                return Err(format!("{}: a row has two cells, `| crate | may depend on |`", at(*number)));
            };
            let krate = krate.trim_matches('`');
            if !(krate == PLUGINS || is_crate_name(krate)) {
                return Err(format!(
                    "{}: `{krate}` is not a crate: write `lanyard-<name>` or `{PLUGINS}`",
                    at(*number)
                ));
            }
            if parsed.iter().any(|(_, key, _)| key == krate) {
                return Err(format!("{}: {krate} has a second row", at(*number)));
            }
            let deps = without_remarks(deps);
            let deps = deps.trim();
            let deps = if deps == "—" {
                Vec::new()
            } else {
                deps.split(',')
                    .map(|name| {
                        let name = name.trim().trim_matches('`');
                        match name {
                            "plugins" => Ok(PLUGINS.to_owned()),
                            _ if !name.is_empty() && is_crate_name(&format!("lanyard-{name}")) => {
                                Ok(format!("lanyard-{name}"))
                            }
                            _ => Err(format!(
                                "{}: `{name}` is not a short crate name: write `core` for lanyard-core, `plugins` for \
                                 the plugin crates, `—` for none",
                                at(*number)
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            parsed.push((*number, krate.to_owned(), deps));
        }
        for (number, krate, deps) in &parsed {
            if let Some(unknown) = deps.iter().find(|dep| !parsed.iter().any(|(_, key, _)| key == *dep)) {
                let short = unknown.strip_prefix("lanyard-").unwrap_or("plugins");
                return Err(format!(
                    "{}: {krate} may depend on `{short}`, an unknown crate: the table has no row for {unknown}",
                    at(*number)
                ));
            }
        }
        Ok(Self { rows: parsed.into_iter().map(|(_, krate, deps)| (krate, deps)).collect() })
    }

    /// The crates `key` may depend on, in the table's order; `None` when it has no row.
    pub fn allowed(&self, key: &str) -> Option<&[String]> {
        self.rows.iter().find(|(krate, _)| krate == key).map(|(_, deps)| deps.as_slice())
    }

    /// The crate keys of the table, in its order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|(krate, _)| krate.as_str())
    }
}

/// Whether `name` is spelt like one of our package names: `lanyard-` and lower-case ASCII, digits and dashes.
fn is_crate_name(name: &str) -> bool {
    name.strip_prefix("lanyard-").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

/// `text` without its parenthesised remarks (nested ones included).
fn without_remarks(text: &str) -> String {
    let mut depth = 0_usize;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

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
    /// The key of this crate in the layering table.
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

/// Checks every crate's internal dependencies against `layers`; a workspace crate without a row is a problem.
pub fn check_layering(crates: &[Crate], layers: &Layers) -> Vec<String> {
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
        let Some(may_use) = layers.allowed(krate.key()) else {
            problems.push(format!(
                "crate {} is not in the layering table; add a row for it to the table under `{LAYERING_HEADING}` \
                 in {ARCHITECTURE}",
                krate.name
            ));
            continue;
        };
        for dep in krate.deps.iter().filter(|dep| !DEV_ONLY.contains(&dep.name.as_str())) {
            let dep_key = key_of(&dep.name).unwrap_or(&dep.name);
            if !may_use.iter().any(|allowed| allowed == dep_key) {
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

/// Rows of the table that no workspace crate answers to: a crate that is planned, or one that was renamed or
/// removed. Notes, not problems: the table may name a crate before it lands.
pub fn rows_without_a_crate(crates: &[Crate], layers: &Layers) -> Vec<String> {
    layers
        .keys()
        .filter(|key| !crates.iter().any(|krate| krate.key() == *key))
        .map(|key| {
            let what = if key == PLUGINS { "no crate under plugins/".to_owned() } else { format!("no crate {key}") };
            format!("the layering table in {ARCHITECTURE} has a row for {key}, but the workspace has {what} (yet)")
        })
        .collect()
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
// Feature hints

/// The crate whose features a hint names when its line does not say `-p <crate>`: the binary's.
const BINARY_CRATE: &str = "lanyard-cli";

/// Every `--features …` of the documents and of the code's strings names a feature that exists. A document may
/// introduce a feature of its own in a ```toml block (the plugin guide's example crate): those count as existing
/// in that document.
fn check_feature_hints(root: &Path, metadata: &Metadata) -> Vec<String> {
    let features = |name: &str| -> Vec<String> {
        metadata
            .workspace_packages()
            .into_iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.features.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut files: Vec<PathBuf> = ["README.md", ARCHITECTURE].iter().map(|f| root.join(f)).collect();
    if let Ok(entries) = fs::read_dir(root.join("docs")) {
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "md")));
    }
    for dir in ["crates", "plugins", "xtask"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        let introduced = introduced_features(&text);
        for (line, crate_name, feature) in feature_hints(&text) {
            let owner = crate_name.unwrap_or(BINARY_CRATE);
            if !features(owner).contains(&feature) && !introduced.contains(&feature) {
                problems.push(format!(
                    "{}:{line}: names the cargo feature `{feature}`, which {owner} does not have",
                    relative(root, &file)
                ));
            }
        }
    }
    problems
}

/// The `(line, -p crate, feature)` of every `--features <list>` (or `--features=<list>`) in `text`.
pub fn feature_hints(text: &str) -> Vec<(usize, Option<&str>, String)> {
    let mut hints = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let words: Vec<&str> =
            line.split([' ', '`', '"', '(', ')', '[', ']', ',', '\'']).filter(|w| !w.is_empty()).collect();
        let crate_name = words.windows(2).find(|w| w[0] == "-p" || w[0] == "--package").map(|w| w[1]);
        let mut rest = line;
        while let Some(at) = rest.find("--features") {
            rest = &rest[at + "--features".len()..];
            let list = rest.trim_start_matches(['=', ' ']);
            let list: String =
                list.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',')).collect();
            for feature in list.split(',').filter(|f| !f.is_empty() && !f.starts_with('-')) {
                hints.push((index + 1, crate_name, feature.to_owned()));
            }
        }
    }
    hints
}

/// The features a document defines itself, in a ```toml block: `name = [` lines after a `[features]` header.
fn introduced_features(text: &str) -> Vec<String> {
    let mut features = Vec::new();
    let mut in_features = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            in_features = line == "[features]";
        } else if in_features && let Some((name, _)) = line.split_once(" = [") {
            features.push(name.trim().to_owned());
        }
    }
    features
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

/// Where the seed documents are, relative to the workspace root, unless [`SEEDS_ENV`] says otherwise.
const SEEDS_DEFAULT: &str = "../shared/seeds";

/// The environment variable naming the directory of the seed documents (absolute, or relative to the workspace
/// root), for a checkout without `shared/` beside it.
pub const SEEDS_ENV: &str = "LANYARD_SEEDS_DIR";

/// The directory of the seed documents: [`SEEDS_ENV`] if set, else [`SEEDS_DEFAULT`].
fn seeds_dir(root: &Path) -> PathBuf {
    let dir = std::env::var_os(SEEDS_ENV).filter(|dir| !dir.is_empty());
    root.join(dir.map_or_else(|| PathBuf::from(SEEDS_DEFAULT), PathBuf::from))
}

/// The seed documents in `originals` must be copied byte for byte into [`SEED_COPIES`]. Missing originals are a
/// problem, not a pass: a check that cannot see what it compares against checks nothing (CI runs with a copy of
/// `shared/` beside the clone).
pub fn check_seeds(root: &Path, originals: &Path) -> Vec<String> {
    let shown_originals = originals.display();
    let entries = match fs::read_dir(originals) {
        Ok(entries) => entries,
        Err(err) => {
            return vec![format!(
                "the seed documents are not where tidy looked, {shown_originals} ({err}): tidy compares \
                 {SEED_COPIES}/ with them byte for byte; put a copy of shared/ beside the clone, or set {SEEDS_ENV} \
                 to the directory that holds them"
            )];
        }
    };
    let mut names: Vec<_> =
        entries.flatten().filter(|entry| entry.path().is_file()).map(|entry| entry.file_name()).collect();
    names.sort();
    if names.is_empty() {
        return vec![format!(
            "{shown_originals} holds no seed documents; point {SEEDS_ENV} at the directory that holds them"
        )];
    }
    let copies = root.join(SEED_COPIES);
    if !copies.is_dir() {
        return vec![format!("{SEED_COPIES} is missing; copy the seed documents from {shown_originals} into it")];
    }
    let mut problems = Vec::new();
    for name in names {
        let name = name.to_string_lossy();
        let shown = format!("{SEED_COPIES}/{name}");
        let original = originals.join(&*name);
        match (fs::read(&original), fs::read(copies.join(&*name))) {
            (Ok(original), Ok(copy)) if original == copy => {}
            (Ok(_), Ok(_)) => problems.push(format!("{shown} differs from {}; copy it again", original.display())),
            (Err(err), _) => problems.push(format!("{}: cannot read: {err}", original.display())),
            (_, Err(_)) => problems.push(format!("{shown} is missing; copy it from {shown_originals}")),
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

    #[test]
    fn feature_hints_are_found_in_prose_code_and_command_lines() {
        // Built at run time, so that tidy's own scan of this file finds no hint here.
        let flag = "--".to_owned() + "features";
        let text = format!(
            "rebuild lanyard with `{flag} vault-aws`\n\
             cargo build -p lanyard-vault-local --no-default-features {flag}=x,y # comment\n\
             {flag} <list> and {flag} --no-default-features name nothing\n"
        );
        assert_eq!(
            feature_hints(&text),
            [
                (1, None, "vault-aws".to_owned()),
                (2, Some("lanyard-vault-local"), "x".to_owned()),
                (2, Some("lanyard-vault-local"), "y".to_owned()),
            ]
        );
        let guide = format!("```toml\n[features]\nvault-file = [\"dep:x\"]\n```\nthen {flag} vault-file\n");
        assert_eq!(introduced_features(&guide), ["vault-file"]);
    }

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

    /// A layering section as `ARCHITECTURE.md` writes it, with prose and a remark around the table.
    const TABLE: &str = "\
# Title

### Layering

Allowed internal dependencies.

| crate | may depend on |
|---|---|
| lanyard-core | — |
| lanyard-sql | core |
| lanyard-catalog | core |
| lanyard-vault | core |
| plugins/* | vault, core |
| lanyard-api | core (the wire types; utoipa behind a feature) |
| lanyard-cli | sql, vault, catalog, core, plugins |

Text after the table.

## Next section

| lanyard-elsewhere | core |
";

    /// [`TABLE`], parsed.
    fn layers() -> Layers {
        Layers::parse(TABLE).unwrap()
    }

    /// [`check_layering`] against [`TABLE`].
    fn check(crates: &[Crate]) -> Vec<String> {
        check_layering(crates, &layers())
    }

    #[test]
    fn the_table_is_parsed_into_full_crate_names_without_remarks() {
        let layers = layers();
        assert_eq!(
            layers.keys().collect::<Vec<_>>(),
            ["lanyard-core", "lanyard-sql", "lanyard-catalog", "lanyard-vault", PLUGINS, "lanyard-api", "lanyard-cli"]
        );
        assert_eq!(layers.allowed("lanyard-core"), Some(&[][..]));
        assert_eq!(layers.allowed(PLUGINS).unwrap(), ["lanyard-vault", "lanyard-core"]);
        assert_eq!(layers.allowed("lanyard-api").unwrap(), ["lanyard-core"]);
        assert_eq!(
            layers.allowed("lanyard-cli").unwrap(),
            ["lanyard-sql", "lanyard-vault", "lanyard-catalog", "lanyard-core", PLUGINS]
        );
        // The table ends at the end of its section: a later section's table is not read.
        assert_eq!(layers.allowed("lanyard-elsewhere"), None);
    }

    #[test]
    fn a_missing_heading_or_table_is_an_error() {
        let error = Layers::parse(&TABLE.replace("### Layering", "### Layers")).unwrap_err();
        assert_eq!(
            error,
            "ARCHITECTURE.md has no `### Layering` heading: tidy reads the allowed dependencies between crates from \
             the table under it"
        );
        let section_only = &TABLE[..TABLE.find("| crate").unwrap()];
        let error = Layers::parse(section_only).unwrap_err();
        assert_eq!(error, "ARCHITECTURE.md has no table `| crate | may depend on |` under `### Layering`");
        let header_only = &TABLE[..TABLE.find("| lanyard-core").unwrap()];
        assert_eq!(Layers::parse(header_only).unwrap_err(), error);
    }

    #[test]
    fn an_unknown_short_name_is_an_error_with_its_line() {
        let error = Layers::parse(&TABLE.replace("| sql, vault,", "| sql, vault, server,")).unwrap_err();
        assert_eq!(
            error,
            "ARCHITECTURE.md:15: lanyard-cli may depend on `server`, an unknown crate: the table has no row for \
             lanyard-server"
        );
        let error = Layers::parse(&TABLE.replace("| plugins/* | vault, core |\n", "")).unwrap_err();
        assert!(error.contains("lanyard-cli may depend on `plugins`, an unknown crate"), "{error}");
        let error = Layers::parse(&TABLE.replace("| sql, vault,", "| sql, the vault,")).unwrap_err();
        assert!(error.starts_with("ARCHITECTURE.md:15: `the vault` is not a short crate name"), "{error}");
    }

    #[test]
    fn a_row_that_is_not_a_crate_or_repeats_one_is_an_error() {
        let error = Layers::parse(&TABLE.replace("| lanyard-sql | core |", "| sql | core |")).unwrap_err();
        assert_eq!(error, "ARCHITECTURE.md:10: `sql` is not a crate: write `lanyard-<name>` or `plugins/*`");
        let error = Layers::parse(&TABLE.replace("| lanyard-catalog |", "| lanyard-sql |")).unwrap_err();
        assert_eq!(error, "ARCHITECTURE.md:11: lanyard-sql has a second row");
        let error = Layers::parse(&TABLE.replace("| lanyard-sql | core |", "| lanyard-sql | core | x |")).unwrap_err();
        assert_eq!(error, "ARCHITECTURE.md:10: a row has two cells, `| crate | may depend on |`");
    }

    #[test]
    fn a_row_without_a_crate_is_a_note_and_a_crate_without_a_row_a_problem() {
        let crates = workspace(&[
            ("lanyard-core", &[]),
            ("lanyard-sql", &["lanyard-core"]),
            ("lanyard-catalog", &["lanyard-core"]),
            ("lanyard-vault", &["lanyard-core"]),
            ("lanyard-vault-local", &["lanyard-vault"]),
            ("lanyard-cli", &["lanyard-sql", "lanyard-core"]),
        ]);
        assert_eq!(check(&crates), Vec::<String>::new());
        assert_eq!(
            rows_without_a_crate(&crates, &layers()),
            ["the layering table in ARCHITECTURE.md has a row for lanyard-api, but the workspace has no crate \
              lanyard-api (yet)"]
        );
        let mut more = crates.clone();
        more.push(krate("lanyard-server", &["lanyard-core"]));
        assert_eq!(
            check(&more),
            ["crate lanyard-server is not in the layering table; add a row for it to the table under \
              `### Layering` in ARCHITECTURE.md"]
        );
    }

    #[test]
    fn missing_seeds_fail_and_say_where_tidy_looked() {
        let root = crate::workspace_root();
        let nowhere = root.join("target/no-such-seeds-dir");
        let problems = check_seeds(&root, &nowhere);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("the seed documents are not where tidy looked, "), "{problems:?}");
        assert!(problems[0].contains(&nowhere.display().to_string()), "{problems:?}");
        assert!(problems[0].contains("set LANYARD_SEEDS_DIR to the directory that holds them"), "{problems:?}");
    }

    #[test]
    fn seed_copies_are_compared_byte_for_byte() {
        let root = crate::workspace_root();
        // The copies compared with themselves pass.
        assert_eq!(check_seeds(&root, &root.join(SEED_COPIES)), Vec::<String>::new());
        // A directory of originals that differ from the copies, and one with no copy.
        let originals = root.join("target/tidy-seeds-test").join(std::process::id().to_string());
        fs::create_dir_all(&originals).unwrap();
        let first = fs::read_dir(root.join(SEED_COPIES)).unwrap().flatten().next().unwrap().file_name();
        let first = first.to_string_lossy();
        fs::write(originals.join(&*first), "changed\n").unwrap();
        fs::write(originals.join("zz-not-copied.txt"), "new\n").unwrap();
        let problems = check_seeds(&root, &originals);
        fs::remove_dir_all(&originals).unwrap();
        assert_eq!(
            problems,
            [
                format!("{SEED_COPIES}/{first} differs from {}; copy it again", originals.join(&*first).display()),
                format!("{SEED_COPIES}/zz-not-copied.txt is missing; copy it from {}", originals.display()),
            ]
        );
        // An empty directory of originals is no pass either.
        fs::create_dir_all(&originals).unwrap();
        let problems = check_seeds(&root, &originals);
        fs::remove_dir_all(&originals).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].ends_with("holds no seed documents; point LANYARD_SEEDS_DIR at the directory that holds them")
        );
    }

    #[test]
    fn allowed_edge_passes() {
        let crates = workspace(&[("lanyard-core", &[]), ("lanyard-sql", &["lanyard-core"])]);
        assert_eq!(check(&crates), Vec::<String>::new());
    }

    #[test]
    fn forbidden_edge_is_reported_with_the_allowed_list() {
        let crates = workspace(&[
            ("lanyard-core", &[]),
            ("lanyard-catalog", &["lanyard-core"]),
            ("lanyard-sql", &["lanyard-core", "lanyard-catalog"]),
        ]);
        assert_eq!(check(&crates), vec!["lanyard-sql may not depend on lanyard-catalog (allowed: lanyard-core)"]);
    }

    #[test]
    fn crate_with_no_allowed_deps_says_none() {
        let crates = workspace(&[("lanyard-core", &["lanyard-sql"]), ("lanyard-sql", &[])]);
        assert_eq!(check(&crates), vec!["lanyard-core may not depend on lanyard-sql (allowed: none)"]);
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
            check(&crates),
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
            check(&crates),
            vec![
                "lanyard-cli may depend on plugin lanyard-vault-local only as an optional \
                 dependency, behind a feature"
            ]
        );
    }

    #[test]
    fn unknown_crate_must_be_added_to_the_table() {
        let crates = workspace(&[("lanyard-extra", &[]), ("xtask", &["lanyard-extra"])]);
        let problems = check(&crates);
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
            check(&crates),
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
        let problems = check(&crates);
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
