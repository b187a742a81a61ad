//! Pinned npm packages installed outside the clone: `npm ci --ignore-scripts`
//! from a checked-in `package.json` + `package-lock.json` into
//! `$HOME/.cache/ferry/<name>-<hash of the two files>`, reused by every clone
//! with the same pins. The install happens in a `.partial-<pid>` directory
//! that is renamed into place only after npm succeeded and the expected
//! files arrived, with a marker (the hash) written last. anvil
//! (`xtask/anvil`), the JavaScript test packages (`tests/js`) and the
//! offline Solana runtime (`tests/solana`) install this way.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{self, Command, Stdio};

use crate::cmd::{self, step};
use crate::error::{Context, Result};
use crate::hash;
use crate::paths;

/// The files `npm ci` installs from; their hash names an installation.
const MANIFESTS: [&str; 2] = ["package.json", "package-lock.json"];
/// Written into the installation directory only after everything succeeded.
const MARKER: &str = ".ferry-npm-ci";

/// A pinned package set: the directory (relative to the workspace root)
/// holding its manifests, the cache name, and files (relative to
/// `node_modules`) whose absence means the install is broken.
pub struct Pins<'a> {
    pub dir: &'static str,
    pub name: &'static str,
    pub required: &'a [&'a str],
}

/// Makes sure `pins` are installed; returns the installation directory
/// (whose `node_modules` holds the packages).
pub fn ensure(root: &Path, pins: &Pins<'_>) -> Result<PathBuf> {
    let source = root.join(pins.dir);
    let mut manifests = Vec::new();
    for name in MANIFESTS {
        let path = source.join(name);
        let contents = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        manifests.push((name, contents));
    }
    let wanted = manifests_hash(&manifests);
    let cache = paths::cache_dir()?;
    let dir = cache.join(format!("{}-{wanted}", pins.name));

    if is_installed(&dir, &wanted) {
        check_required(&dir, pins)?;
        step(format!("{}: up to date in {}", pins.name, dir.display()));
        return Ok(dir);
    }

    step(format!("{}: installing {}/package-lock.json into {}", pins.name, pins.dir, dir.display()));
    check_npm()?;
    let partial = cache.join(format!("{}-{wanted}.partial-{}", pins.name, process::id()));
    if partial.exists() {
        fs::remove_dir_all(&partial).with_context(|| format!("cannot remove {}", partial.display()))?;
    }
    fs::create_dir_all(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let installed = install(&partial, &manifests, &wanted, pins);
    if installed.is_err() {
        // Best effort: the error at hand matters more than this one.
        let _ = fs::remove_dir_all(&partial);
    }
    installed?;

    // Another run may have finished the same install meanwhile; anything
    // else at `dir` is a leftover without a marker.
    if dir.exists() && !is_installed(&dir, &wanted) {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot remove the incomplete {}", dir.display()))?;
    }
    if let Err(error) = fs::rename(&partial, &dir) {
        let _ = fs::remove_dir_all(&partial);
        if !is_installed(&dir, &wanted) {
            return Err(error).with_context(|| format!("cannot move {} to {}", partial.display(), dir.display()));
        }
    }
    step(format!("{}: installed into {}", pins.name, dir.display()));
    Ok(dir)
}

fn install(dir: &Path, manifests: &[(&str, Vec<u8>)], hash: &str, pins: &Pins<'_>) -> Result<()> {
    for (name, contents) in manifests {
        let path = dir.join(name);
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut npm = Command::new("npm");
    // npm's report goes to stderr: stdout stays for what the commands print.
    npm.current_dir(dir).args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]).stdout(io::stderr());
    step(format!("{} (in {})", cmd::display(&npm), dir.display()));
    cmd::run(&mut npm)?;
    check_required(dir, pins)?;
    let marker = dir.join(MARKER);
    fs::write(&marker, format!("{hash}\n")).with_context(|| format!("cannot write {}", marker.display()))
}

fn check_required(dir: &Path, pins: &Pins<'_>) -> Result<()> {
    for file in pins.required {
        let path = dir.join("node_modules").join(file);
        if !path.is_file() {
            return Err(format!(
                "{}: {} is missing: is it pinned in {}/package-lock.json? (remove {} to reinstall)",
                pins.name,
                path.display(),
                pins.dir,
                dir.display()
            )
            .into());
        }
    }
    Ok(())
}

fn is_installed(dir: &Path, hash: &str) -> bool {
    fs::read_to_string(dir.join(MARKER)).is_ok_and(|installed| installed.trim() == hash)
}

/// The FNV-1a hash (12 hex digits) of the manifests, in order, each preceded
/// by its length.
fn manifests_hash(manifests: &[(&str, Vec<u8>)]) -> String {
    let mut bytes = Vec::new();
    for (_, contents) in manifests {
        bytes.extend_from_slice(&(contents.len() as u64).to_le_bytes());
        bytes.extend_from_slice(contents);
    }
    hash::short_hex(&bytes)
}

/// Fails with an actionable message when there is no usable `npm`.
fn check_npm() -> Result<()> {
    let output = Command::new("npm").arg("--version").stdin(Stdio::null()).output();
    match output {
        Ok(output) if output.status.success() => {
            step(format!("using npm {}", String::from_utf8_lossy(&output.stdout).trim()));
            Ok(())
        }
        Ok(output) => Err(format!(
            "`npm --version` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err("`npm` was not found on PATH: the pinned \
             npm packages need Node.js 20+ with npm (e.g. `apt-get install nodejs npm`)"
            .into()),
        Err(error) => Err(error).context("cannot run `npm --version`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_hash_changes_with_either_file() {
        let hash = |json: &str, lock: &str| {
            manifests_hash(&[
                ("package.json", json.as_bytes().to_vec()),
                ("package-lock.json", lock.as_bytes().to_vec()),
            ])
        };
        let first = hash("{}", "lock");
        assert_eq!(first.len(), 12);
        assert_eq!(hash("{}", "lock"), first);
        assert_ne!(hash("{}", "lock2"), first);
        assert_ne!(hash("{}l", "ock"), first);
    }
}
