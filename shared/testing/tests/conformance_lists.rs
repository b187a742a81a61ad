//! The conformance macros list their checks by name (one test per check),
//! and a check is a `pub async fn` of its crate's `conformance` module, so a
//! check added to the module but not to its macro's list would compile and
//! never run. These tests read both and hold them equal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `crate_dir`'s `src/conformance.rs` and `src/conformance/*.rs`, if any.
fn module_sources(crate_dir: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(crate_dir).join("src");
    let mut files: Vec<PathBuf> = vec![src.join("conformance.rs")];
    if let Ok(entries) = std::fs::read_dir(src.join("conformance")) {
        files.extend(entries.map(|entry| entry.expect("a directory entry").path()));
    }
    files
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        .collect()
}

/// The checks the module defines (but `helpers`, which are not checks) and
/// the names listed after `arm` in its macro, up to the closing `);`.
fn defined_and_listed(crate_dir: &str, arm: &str, helpers: &[&str]) -> (BTreeSet<String>, BTreeSet<String>) {
    let sources = module_sources(crate_dir);
    let defined = sources
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| line.strip_prefix("pub async fn "))
        .filter_map(|rest| rest.split(['<', '(']).next())
        .filter(|name| !helpers.contains(name))
        .map(str::to_string)
        .collect();
    let root = &sources[0];
    let start = root.find(arm).unwrap_or_else(|| panic!("{crate_dir}: the macro arm `{arm}` is gone")) + arm.len();
    let end = start + root[start..].find(");").expect("the list ends");
    let listed =
        root[start..end].split(',').map(str::trim).filter(|name| !name.is_empty()).map(str::to_string).collect();
    (defined, listed)
}

#[test]
fn the_store_macro_runs_every_store_check() {
    let (defined, listed) = defined_and_listed("store", "store_conformance_tests!(@checks $store;", &[]);
    assert_eq!(defined.len(), 39, "the checks counted when each became its own test");
    assert_eq!(defined, listed);
}

#[test]
fn the_queue_macro_runs_every_queue_check() {
    let arm = "queue_conformance_tests!(@checks ($queue) ($after);";
    let (defined, listed) = defined_and_listed("queue", arm, &["nothing_is_left"]);
    assert_eq!(defined.len(), 8, "the checks counted when each became its own test");
    assert_eq!(defined, listed);
}
