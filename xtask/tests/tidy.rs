//! Runs `cargo xtask tidy` as an ordinary test, so `cargo test` alone catches convention breaks.

#[test]
fn tidy_passes() {
    let report = xtask::tidy::check(&xtask::workspace_root());
    let problems = &report.problems;
    assert!(problems.is_empty(), "tidy found {} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// The layering table tidy enforces is the one in ARCHITECTURE.md, with the rows the workspace relies on.
#[test]
fn the_layering_table_is_read_from_architecture_md() {
    let layers = xtask::tidy::Layers::read(&xtask::workspace_root()).expect("ARCHITECTURE.md has a layering table");
    let allowed = |krate: &str| layers.allowed(krate).unwrap_or_else(|| panic!("no row for {krate}")).to_vec();
    assert_eq!(allowed("lanyard-core"), Vec::<String>::new());
    assert_eq!(allowed("lanyard-sql"), ["lanyard-core"]);
    assert_eq!(allowed(xtask::tidy::PLUGINS), ["lanyard-vault", "lanyard-core"]);
    assert_eq!(allowed("lanyard-client"), ["lanyard-api", "lanyard-sql", "lanyard-core"]);
    // The composition root links the plugins (optionally) and, deliberately, lanyard-vault.
    let cli = allowed("lanyard-cli");
    assert!(
        cli.iter().any(|dep| dep == xtask::tidy::PLUGINS) && cli.iter().any(|dep| dep == "lanyard-vault"),
        "{cli:?}"
    );
}
