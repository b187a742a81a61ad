//! What the `ferry` binary's tests share: the binary, a temporary data
//! directory, and running a command to completion.

use std::process::Command;

pub const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

/// A directory of the test's own, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("ferry-cli-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `ferry args…` to completion and returns its trimmed stdout.
pub fn ferry(args: &[&str]) -> String {
    let output = Command::new(FERRY).args(args).output().expect("run ferry");
    assert!(output.status.success(), "ferry {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf8").trim().to_string()
}
