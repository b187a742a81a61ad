//! `cargo xtask lambda-build [--arm64] [cargo-lambda args]`: release builds of
//! the Lambda functions with cargo-lambda and zig from the tools venv.

use std::path::Path;

use crate::cmd::{self, step};
use crate::error::Result;
use crate::tools;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let venv = tools::ensure(root)?;
    let mut command = cmd::cargo(root)?;
    command.args(["lambda", "build", "--release"]).args(args);
    // cargo finds `cargo-lambda`, and cargo-lambda finds zig through
    // `python3 -m ziglang`, on this PATH.
    venv.activate(&mut command)?;
    step(cmd::display(&command));
    cmd::run(&mut command)
}
