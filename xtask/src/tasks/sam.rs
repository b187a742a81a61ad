//! `cargo xtask sam <args>`: the pinned SAM CLI with the tools venv on
//! `PATH`, so that `sam build` finds cargo-lambda and zig
//! (`cargo xtask sam build`, `cargo xtask sam deploy --guided`).

use std::path::Path;

use crate::cmd::{self, step};
use crate::error::Result;
use crate::tools;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let venv = tools::ensure(root)?;
    let mut command = venv.command(root, "sam")?;
    command.args(args).env("SAM_CLI_TELEMETRY", "0");
    venv.activate(&mut command)?;
    step(cmd::display(&command));
    cmd::run(&mut command)
}
