//! What the JavaScript end-to-end tests need: the published client of the
//! followed API and playwright-core, pinned in `tests/js/package-lock.json`,
//! and Debian's Chromium for the browser tests.
//!
//! The tests find them through [`TEST_JS_VAR`] (the installation directory,
//! whose `node_modules` the test scripts import from) and
//! [`TEST_CHROMIUM_VAR`]; without them those tests fail, telling the reader to
//! run `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cmd::{self, step};
use crate::error::{self, Result};
use crate::npm::{self, Pins};

/// The pins: `@daimo/sdk` (its `client` entry point and its error type) and
/// playwright-core.
const PINS: Pins<'static> = Pins {
    dir: "tests/js",
    name: "js",
    required: &["@daimo/sdk/dist/client/index.js", "@daimo/sdk/dist/common/index.js", "playwright-core/index.mjs"],
};

/// Debian's `chromium` package installs the browser here.
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub const TEST_JS_VAR: &str = "FERRY_TEST_JS";
pub const TEST_CHROMIUM_VAR: &str = "FERRY_TEST_CHROMIUM";

/// The installed JavaScript test tools.
pub struct JsTools {
    dir: PathBuf,
    chromium: PathBuf,
}

/// Installs the pinned npm packages and, when missing, Debian's Chromium
/// (`apt-get`, as the root user these machines and CI run as).
pub fn ensure(root: &Path) -> Result<JsTools> {
    let dir = npm::ensure(root, &PINS)?;
    let chromium = ensure_chromium()?;
    Ok(JsTools { dir, chromium })
}

impl JsTools {
    /// `FERRY_TEST_JS` and `FERRY_TEST_CHROMIUM`.
    pub fn test_env(&self) -> Vec<(String, String)> {
        vec![
            (TEST_JS_VAR.to_owned(), self.dir.display().to_string()),
            (TEST_CHROMIUM_VAR.to_owned(), self.chromium.display().to_string()),
        ]
    }
}

fn ensure_chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if !path.is_file() {
        step(format!("chromium: {CHROMIUM} is missing; installing Debian's `chromium` with apt-get"));
        for args in [&["update"][..], &["install", "-y", "--no-install-recommends", "chromium"][..]] {
            let mut apt = Command::new("apt-get");
            apt.args(args).env("DEBIAN_FRONTEND", "noninteractive").stdin(Stdio::null()).stdout(std::io::stderr());
            step(cmd::display(&apt));
            cmd::run(&mut apt).map_err(|error| {
                error::with_source(
                    "cannot install Chromium for the browser tests: run `apt-get update && apt-get install \
                     chromium` as root (Debian), or provide /usr/bin/chromium",
                    error,
                )
            })?;
        }
        if !path.is_file() {
            return Err(format!("apt-get installed `chromium` but {CHROMIUM} is still missing").into());
        }
    }
    let output = Command::new(&path).arg("--version").stdin(Stdio::null()).output();
    match output {
        Ok(output) if output.status.success() => {
            step(format!("using {}", String::from_utf8_lossy(&output.stdout).trim()));
            Ok(path)
        }
        Ok(output) => Err(format!(
            "`{CHROMIUM} --version` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into()),
        Err(error) => Err(error::with_source(format!("cannot run `{CHROMIUM} --version`"), error)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pins_hold_the_packages_the_tests_import() {
        let lock = include_str!("../../tests/js/package-lock.json");
        assert!(lock.contains("\"node_modules/@daimo/sdk\""));
        assert!(lock.contains("\"node_modules/playwright-core\""));
    }
}
