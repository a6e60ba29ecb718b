//! Runs `cargo xtask tidy` as an ordinary test, so `cargo test` alone catches convention breaks.

#[test]
fn tidy_passes() {
    let problems = xtask::tidy::check(&xtask::workspace_root());
    assert!(problems.is_empty(), "tidy found {} problem(s):\n{}", problems.len(), problems.join("\n"));
}
