//! `cargo xtask up [args]`: the local stack, owned by `ferry dev`.

use std::path::Path;

use crate::cmd::{self, step};
use crate::error::Result;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut command = cmd::cargo(root)?;
    command.args(["run", "--package", "ferry-cli", "--bin", "ferry", "--", "dev"]).args(args);
    step(cmd::display(&command));
    exec(&mut command)
}

/// Replaces this process (so Ctrl-C and the exit code go straight to and
/// from `ferry dev`); elsewhere runs it and propagates its exit code.
#[cfg(unix)]
fn exec(command: &mut std::process::Command) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    Err(cmd::spawn_error(command, error))
}

#[cfg(not(unix))]
fn exec(command: &mut std::process::Command) -> Result<()> {
    cmd::run(command)
}
