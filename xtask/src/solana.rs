//! The offline Solana runtime of the tests: litesvm (the Solana runtime with
//! the SPL Token and associated token account programs, prebuilt for Node),
//! `@solana/kit` and the token and system program clients, pinned in
//! `tests/solana/package-lock.json` and installed like anvil
//! ([`crate::npm`]) into `$HOME/.cache/ferry/solana-<hash>`.
//!
//! No Solana validator can be installed or built on these machines; litesvm
//! runs the same runtime in process. The tests find the installation through
//! [`TEST_SOLANA_VAR`] and run `tests/solana/runtime.cjs` against it
//! (with its `node_modules` on `NODE_PATH`).

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::npm::{self, Pins};

/// The environment variable that names the installation to the tests.
pub const TEST_SOLANA_VAR: &str = "FERRY_TEST_SOLANA";

/// The native runtime ships per platform; the registry these machines reach
/// serves only the linux x86_64 (glibc) one, so it is the only one pinned
/// with its integrity.
const BINDING: &str = "litesvm-linux-x64-gnu/litesvm.linux-x64-gnu.node";

/// The installed packages.
pub struct SolanaRuntime {
    dir: PathBuf,
}

/// Makes sure the pinned packages are installed.
pub fn ensure(root: &Path) -> Result<SolanaRuntime> {
    check_platform(std::env::consts::OS, std::env::consts::ARCH)?;
    let pins = Pins {
        dir: "tests/solana",
        name: "solana",
        required: &[
            "litesvm/dist/index.js",
            BINDING,
            "@solana/kit/dist/index.node.cjs",
            "@solana-program/token/package.json",
            "@solana-program/system/package.json",
        ],
    };
    let dir = npm::ensure(root, &pins)?;
    Ok(SolanaRuntime { dir })
}

fn check_platform(os: &str, arch: &str) -> Result<()> {
    match (os, arch) {
        ("linux", "x86_64") => Ok(()),
        _ => Err(format!(
            "solana: litesvm's native runtime is pinned for linux/x86_64 only (tests/solana/package-lock.json), \
             not for {os}/{arch}"
        )
        .into()),
    }
}

impl SolanaRuntime {
    /// `FERRY_TEST_SOLANA` and the installation directory (whose
    /// `node_modules` the runtime script requires from).
    pub fn test_env(&self) -> (String, String) {
        (TEST_SOLANA_VAR.to_owned(), self.dir.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_hold_the_packages_the_runtime_script_imports() {
        let lock = include_str!("../../tests/solana/package-lock.json");
        for package in
            ["litesvm", "litesvm-linux-x64-gnu", "@solana/kit", "@solana-program/token", "@solana-program/system"]
        {
            assert!(lock.contains(&format!("\"node_modules/{package}\"")), "{package}");
        }
        let script = include_str!("../../tests/solana/runtime.cjs");
        for import in ["\"litesvm\"", "\"@solana/kit\"", "\"@solana-program/token\"", "\"@solana-program/system\""] {
            assert!(script.contains(&format!("require({import})")), "{import}");
        }
    }

    #[test]
    fn only_linux_x86_64_is_pinned() {
        assert!(check_platform("linux", "x86_64").is_ok());
        let error = check_platform("macos", "aarch64").err().map(|error| error.to_string()).unwrap_or_default();
        assert!(error.contains("macos/aarch64"), "{error}");
    }
}
