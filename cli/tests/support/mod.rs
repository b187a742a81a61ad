//! What the `ferry` binary's tests share: the binary and running a command
//! to completion (their temporary data directories are
//! [`ferry_testing::TempDir`]s).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::sync::mpsc;

pub const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

/// Runs `ferry args…` to completion and returns its trimmed stdout.
pub fn ferry(args: &[&str]) -> String {
    let output = Command::new(FERRY).args(args).output().expect("run ferry");
    assert!(output.status.success(), "ferry {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf8").trim().to_string()
}

/// The lines `child` prints on its (piped) stdout, as a thread reads them.
pub fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}
