//! Running child processes: step banners, building commands with the right
//! working directory and environment, and turning failures into errors.

use std::env;
use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus};

use crate::error::{self, CommandFailed, Context, Result};
use crate::paths;

/// Prints a step banner (`==> what`) to stderr.
pub fn step(what: impl std::fmt::Display) {
    eprintln!("==> {what}");
}

/// `cargo` (the one running xtask, if known), run from the workspace root
/// with `CARGO_TARGET_DIR` defaulted to `$HOME/.cache/ferry/target`.
pub fn cargo(root: &Path) -> Result<Command> {
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(root);
    if let Some(target_dir) = paths::nested_target_dir()? {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    Ok(command)
}

/// `PATH` with `dir` in front.
pub fn path_with(dir: &Path) -> Result<OsString> {
    let current = env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(dir.to_path_buf()).chain(env::split_paths(&current));
    env::join_paths(dirs).context("cannot put the venv bin directory on PATH")
}

/// Runs `command` with inherited stdio; fails unless it exits successfully.
pub fn run(command: &mut Command) -> Result<()> {
    let status = status(command)?;
    check(command, status)
}

/// Runs `command` with inherited stdio and returns its exit status.
pub fn status(command: &mut Command) -> Result<ExitStatus> {
    command.status().map_err(|error| spawn_error(command, error))
}

/// Turns an unsuccessful exit status into a [`CommandFailed`].
pub fn check(command: &Command, status: ExitStatus) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    Err(Box::new(CommandFailed { command: display(command), code: exit_code(status) }))
}

/// The error for a command that could not be started at all.
pub fn spawn_error(command: &Command, error: io::Error) -> Box<dyn std::error::Error> {
    let program = command.get_program().to_string_lossy().into_owned();
    let hint = if error.kind() == io::ErrorKind::NotFound {
        format!(" (is `{program}` installed and on PATH?)")
    } else {
        String::new()
    };
    error::with_source(format!("cannot run `{}`{hint}", display(command)), error)
}

/// The exit code to propagate; signals map to the shell convention 128+N.
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

/// `program arg1 arg2`, for messages.
pub fn display(command: &Command) -> String {
    let program =
        Path::new(command.get_program()).file_name().unwrap_or(command.get_program()).to_string_lossy().into_owned();
    std::iter::once(program)
        .chain(command.get_args().map(|arg| arg.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}
