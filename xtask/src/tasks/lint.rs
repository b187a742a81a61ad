//! `cargo xtask lint`: lint the SAM template with cfn-lint and `sam validate`.

use std::path::Path;

use crate::cmd::{self, step};
use crate::error::Result;
use crate::moto::REGION;
use crate::tools::{self, Venv};

const TEMPLATE: &str = "template.yaml";

pub fn run(root: &Path) -> Result<()> {
    let venv = tools::ensure(root)?;
    lint(root, &venv)
}

/// Runs both template linters from the given venv.
pub fn lint(root: &Path, venv: &Venv) -> Result<()> {
    let mut cfn_lint = venv.command(root, "cfn-lint")?;
    cfn_lint.arg(TEMPLATE);
    let mut sam = venv.command(root, "sam")?;
    sam.args(["validate", "--lint", "--template", TEMPLATE]);

    for command in [&mut cfn_lint, &mut sam] {
        command.env("AWS_DEFAULT_REGION", REGION).env("SAM_CLI_TELEMETRY", "0");
        step(cmd::display(command));
        cmd::run(command)?;
    }
    Ok(())
}
