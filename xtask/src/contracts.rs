//! The Solidity build: `npm ci` in `contracts/` when its lock changed (a
//! marker inside `node_modules` records the hash of `package.json` and
//! `package-lock.json` it was installed from), then `node contracts/build.mjs`.

use std::fs;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cmd::{self, step};
use crate::error::{Context, Result};
use crate::hash;

const DIR: &str = "contracts";
/// The files `npm ci` installs from; their hash names an installation.
const MANIFESTS: [&str; 2] = ["package.json", "package-lock.json"];
/// Inside `contracts/node_modules`, written only after `npm ci` succeeded
/// (and deleted with the directory by the next `npm ci`).
const MARKER: &str = ".ferry-npm-ci";
/// The oldest Node.js major version `build.mjs` and the pinned solc support.
const MIN_NODE_MAJOR: u32 = 18;

/// What `build` does with the compiled contracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite `contracts/out`.
    Write,
    /// Compile in memory and fail if `contracts/out` differs.
    Check,
}

/// Compiles the contracts: writes `contracts/out` or checks it is current.
pub fn build(root: &Path, mode: Mode) -> Result<()> {
    check_node()?;
    ensure_node_modules(root)?;
    let mut node = Command::new("node");
    node.current_dir(root).arg(Path::new(DIR).join("build.mjs"));
    if mode == Mode::Check {
        node.arg("--check");
    }
    step(cmd::display(&node));
    cmd::run(&mut node)
}

/// Runs `npm ci` in `contracts/` unless `node_modules` was installed from
/// the current manifests.
fn ensure_node_modules(root: &Path) -> Result<()> {
    let dir = root.join(DIR);
    let wanted = manifests_hash(&dir)?;
    let marker = dir.join("node_modules").join(MARKER);
    if fs::read_to_string(&marker).is_ok_and(|installed| installed.trim() == wanted) {
        step("contracts: node_modules up to date with package-lock.json");
        return Ok(());
    }

    step("contracts: installing the pinned compiler (npm ci in contracts/)");
    step(format!("using npm {}", version_of("npm")?));
    let mut npm = Command::new("npm");
    npm.current_dir(&dir).args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
    step(cmd::display(&npm));
    cmd::run(&mut npm)?;
    fs::write(&marker, format!("{wanted}\n")).with_context(|| format!("cannot write {}", marker.display()))
}

/// The FNV-1a hash of the manifests, in order, each preceded by its length.
fn manifests_hash(dir: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    for name in MANIFESTS {
        let path = dir.join(name);
        let contents = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        bytes.extend_from_slice(&(contents.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&contents);
    }
    Ok(format!("{:016x}", hash::fnv1a64(&bytes)))
}

/// Fails with an actionable message unless a recent enough `node` is on PATH.
fn check_node() -> Result<()> {
    let version = version_of("node")?;
    match node_major(&version) {
        Some(major) if major >= MIN_NODE_MAJOR => {
            step(format!("using node {version}"));
            Ok(())
        }
        _ => Err(format!(
            "node {version} is too old or unrecognised: the contracts build needs \
             Node.js {MIN_NODE_MAJOR} or later"
        )
        .into()),
    }
}

/// `<program> --version`, trimmed; a missing program is a clear error.
fn version_of(program: &str) -> Result<String> {
    let output = Command::new(program).arg("--version").stdin(Stdio::null()).output();
    match output {
        Ok(output) if output.status.success() => Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
        Ok(output) => Err(format!(
            "`{program} --version` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(format!(
            "`{program}` was not found on PATH: the contracts build needs Node.js \
             {MIN_NODE_MAJOR}+ with npm (e.g. `apt-get install nodejs npm`)"
        )
        .into()),
        Err(error) => Err(error).with_context(|| format!("cannot run `{program} --version`")),
    }
}

/// `v20.11.1` -> 20.
fn node_major(version: &str) -> Option<u32> {
    version.strip_prefix('v')?.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_node_major_version() {
        assert_eq!(node_major("v20.20.2"), Some(20));
        assert_eq!(node_major("v18.0.0"), Some(18));
        assert_eq!(node_major("20.1.0"), None);
        assert_eq!(node_major("vx"), None);
    }

    #[test]
    fn the_manifests_hash_changes_with_either_file() {
        let dir = std::env::temp_dir().join(format!("xtask-contracts-{}", std::process::id()));
        let write = |name: &str, contents: &str| {
            fs::write(dir.join(name), contents).expect("write a manifest");
        };
        let hash = || manifests_hash(&dir).expect("hash the manifests");
        fs::create_dir_all(&dir).expect("create the temp dir");
        write("package.json", "{}");
        write("package-lock.json", "lock");
        let first = hash();
        assert_eq!(hash(), first);
        write("package-lock.json", "lock2");
        let second = hash();
        assert_ne!(second, first);
        // Moving bytes from one file to the other changes the hash too.
        write("package.json", "{}l");
        write("package-lock.json", "ock2");
        assert_ne!(hash(), second);
        fs::remove_dir_all(&dir).expect("remove the temp dir");
    }
}
