//! `cargo xtask tools`: the pinned Python tools (moto, cfn-lint, SAM CLI,
//! cargo-lambda, zig) in a venv named after the hash of the pins, so a change
//! to `xtask/requirements.txt` gets a fresh venv.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cmd::{self, step};
use crate::error::{Context, Result};
use crate::hash;
use crate::paths;

const REQUIREMENTS: &str = "xtask/requirements.txt";
/// Written (with the pins as contents) only after pip succeeded.
const MARKER: &str = ".ferry-tools-installed";

/// The tools venv.
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// A command for `program` from the venv, run from `root` with the venv
    /// bin dir first on PATH.
    pub fn command(&self, root: &Path, program: impl AsRef<OsStr>) -> Result<Command> {
        let mut command = Command::new(self.bin_dir().join(program.as_ref()));
        command.current_dir(root);
        self.activate(&mut command)?;
        Ok(command)
    }

    /// Puts the venv bin dir first on the command's PATH.
    pub fn activate(&self, command: &mut Command) -> Result<()> {
        command.env("PATH", cmd::path_with(&self.bin_dir())?).env("VIRTUAL_ENV", &self.dir);
        Ok(())
    }
}

/// Makes sure the venv for the current pins exists and is complete.
pub fn ensure(root: &Path) -> Result<Venv> {
    let requirements = root.join(REQUIREMENTS);
    let pins = fs::read(&requirements).with_context(|| format!("cannot read {}", requirements.display()))?;
    let dir = paths::cache_dir()?.join(format!("venv-{}", hash::short_hex(&pins)));
    let venv = Venv { dir };
    let marker = venv.dir.join(MARKER);

    if fs::read(&marker).is_ok_and(|installed| installed == pins) {
        step(format!("tools: up to date in {}", venv.dir.display()));
        return Ok(venv);
    }

    step(format!("tools: installing {REQUIREMENTS} into {}", venv.dir.display()));
    check_python()?;
    if venv.dir.exists() {
        step("tools: removing the incomplete venv left by an interrupted install");
        fs::remove_dir_all(&venv.dir).with_context(|| format!("cannot remove {}", venv.dir.display()))?;
    }
    if let Some(parent) = venv.dir.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }

    let mut create = Command::new("python3");
    create.current_dir(root).args(["-m", "venv"]).arg(&venv.dir);
    step(cmd::display(&create));
    cmd::run(&mut create)?;

    let mut install = venv.command(root, "python")?;
    install.args(["-m", "pip", "install", "--disable-pip-version-check", "-r"]).arg(REQUIREMENTS);
    step(format!("pip install --disable-pip-version-check -r {REQUIREMENTS}"));
    cmd::run(&mut install)?;

    fs::write(&marker, &pins).with_context(|| format!("cannot write {}", marker.display()))?;
    step(format!("tools: installed into {}", venv.dir.display()));
    Ok(venv)
}

/// Fails with an actionable message when there is no usable `python3`.
fn check_python() -> Result<()> {
    let output = Command::new("python3").arg("--version").stdin(Stdio::null()).output();
    match output {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout);
            step(format!("using {}", version.trim()));
            Ok(())
        }
        Ok(output) => Err(format!(
            "`python3 --version` failed ({}): {}\nInstall Python 3 (with the venv module) to use the xtask tools.",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err("python3 was not found on PATH: install Python 3 (with the venv module, \
             e.g. `apt-get install python3 python3-venv`) and retry"
                .into())
        }
        Err(error) => Err(error).context("cannot run `python3 --version`"),
    }
}
