//! Running the JavaScript test scripts of `tests/js/` with Node: the
//! published client of the followed API and the headless-browser checks.
//!
//! `cargo xtask test` installs the pinned packages (`tests/js/package-lock.json`)
//! into `$HOME/.cache/ferry/js-<hash>` and names it in `FERRY_TEST_JS`, and
//! Debian's Chromium in `FERRY_TEST_CHROMIUM`. A script runs from a temp
//! directory holding a copy of it and a `node_modules` link to the
//! installation, so that its imports resolve to the pinned packages.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::TempDir;

pub const TEST_JS_VAR: &str = "FERRY_TEST_JS";
pub const TEST_CHROMIUM_VAR: &str = "FERRY_TEST_CHROMIUM";

fn required_path(var: &str, what: &str) -> PathBuf {
    let value = std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: this test needs {what}. Run the tests with `cargo xtask test`, which installs it")
    });
    let path = PathBuf::from(value);
    assert!(path.exists(), "{var}={} does not exist: run `cargo xtask test` to install {what}", path.display());
    path
}

/// The installed `node_modules` of `tests/js/package-lock.json`.
pub fn node_modules() -> PathBuf {
    let modules = required_path(TEST_JS_VAR, "the pinned npm packages of tests/js").join("node_modules");
    assert!(modules.is_dir(), "{} is missing: remove its parent and run `cargo xtask test`", modules.display());
    modules
}

/// Debian's Chromium.
pub fn chromium() -> PathBuf {
    required_path(TEST_CHROMIUM_VAR, "Chromium (/usr/bin/chromium, Debian's `chromium` package)")
}

/// Runs `node tests/js/<script> args…` (at most `timeout`; the process is
/// killed after that) and returns the JSON object it printed last on
/// stdout. Fails the test, with the script's stderr, when it exits
/// non-zero, times out or prints no JSON.
pub async fn run_script(script: &str, args: &[&str], timeout: Duration) -> Value {
    let modules = node_modules();
    let dir = TempDir::new("js");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("js").join(script);
    std::fs::copy(&source, dir.path().join(script)).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).expect("link node_modules");

    let child = tokio::process::Command::new("node")
        .arg(dir.path().join(script))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node 20 must be on PATH): {e}"));
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("node {script} {args:?} did not finish within {timeout:?}"))
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node {script} {args:?} failed ({}):\n{stderr}\nstdout:\n{stdout}", output.status);
    let last = stdout.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("node {script} printed no JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
}
