//! An anvil of a test's own: a fresh chain no other test sends on, so
//! balances and nonces are the test's alone.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long anvil may take to listen.
const ANVIL_TIMEOUT: Duration = Duration::from_secs(20);

/// An anvil on a port the OS picks (a block a second); dropping it kills
/// and reaps it. Needs `FERRY_TEST_ANVIL` (set by `cargo xtask test`).
pub struct Anvil {
    child: Child,
    url: String,
}

impl Anvil {
    /// Starts anvil serving `chain_id`.
    ///
    /// # Panics
    ///
    /// When `FERRY_TEST_ANVIL` is unset or anvil does not listen in time: the
    /// test cannot run.
    pub fn start(chain_id: u64) -> Anvil {
        let binary = std::env::var_os("FERRY_TEST_ANVIL")
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("FERRY_TEST_ANVIL is not set: run `cargo xtask test`, which installs anvil"));
        assert!(binary.is_file(), "FERRY_TEST_ANVIL={} is not a file: run `cargo xtask test`", binary.display());
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--chain-id", &chain_id.to_string(), "--block-time", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let Some(stdout) = child.stdout.take() else { panic!("anvil's stdout is not piped") };
        let (tx, rx) = mpsc::channel();
        // Reads anvil's output to its end (so anvil never blocks on a full
        // pipe), reporting the address it listens on.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = line.trim().strip_prefix("Listening on ") {
                    let _ = tx.send(address.trim().to_string());
                }
            }
        });
        let mut anvil = Anvil { child, url: String::new() };
        match rx.recv_timeout(ANVIL_TIMEOUT) {
            Ok(address) => anvil.url = format!("http://{address}"),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("anvil did not listen within {ANVIL_TIMEOUT:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = anvil.child.wait().ok();
                panic!("anvil exited before listening ({status:?})")
            }
        }
        anvil
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
