//! `cargo xtask lint`: lint the SAM template with cfn-lint and `sam validate`,
//! and the Rust code with `cargo fmt --check` and clippy (warnings denied).

use std::path::Path;

use crate::cmd::{self, step};
use crate::error::Result;
use crate::moto::REGION;
use crate::tools::{self, Venv};

const TEMPLATE: &str = "template.yaml";

pub fn run(root: &Path) -> Result<()> {
    let venv = tools::ensure(root)?;
    lint(root, &venv)?;
    rust_style(root)
}

/// The workspace is formatted as `rustfmt.toml` says, and clippy finds
/// nothing in any target (tests and benches too).
pub fn rust_style(root: &Path) -> Result<()> {
    let mut fmt = cmd::cargo(root)?;
    fmt.args(["fmt", "--all", "--check"]);
    let mut clippy = cmd::cargo(root)?;
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    for command in [&mut fmt, &mut clippy] {
        step(cmd::display(command));
        cmd::run(command)?;
    }
    Ok(())
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
