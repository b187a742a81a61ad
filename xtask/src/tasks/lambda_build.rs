//! `cargo xtask lambda-build [--arm64] [cargo-lambda args]`: release builds of
//! the Lambda functions with cargo-lambda and zig from the tools venv.
//!
//! It builds exactly the binaries that `template.yaml` deploys (its
//! `Binary:` build properties), not the developer tools in the workspace.

use std::path::Path;

use crate::cmd::{self, step};
use crate::error::Result;
use crate::tools;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let venv = tools::ensure(root)?;
    let template =
        std::fs::read_to_string(root.join("template.yaml")).map_err(|e| format!("cannot read template.yaml: {e}"))?;
    let mut command = cmd::cargo(root)?;
    command.args(["lambda", "build", "--release"]);
    for binary in deployed_binaries(&template) {
        command.args(["--bin", binary]);
    }
    command.args(args);
    // cargo finds `cargo-lambda`, and cargo-lambda finds zig through
    // `python3 -m ziglang`, on this PATH.
    venv.activate(&mut command)?;
    step(cmd::display(&command));
    cmd::run(&mut command)
}

/// The `Binary:` build properties of the template's functions.
fn deployed_binaries(template: &str) -> Vec<&str> {
    template.lines().filter_map(|line| line.trim().strip_prefix("Binary:")).map(str::trim).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_binaries_the_template_deploys() {
        let template = "Metadata:\n  BuildProperties:\n    Binary: create-session\nX:\n      Binary: openapi\n";
        assert_eq!(super::deployed_binaries(template), ["create-session", "openapi"]);
    }
}
