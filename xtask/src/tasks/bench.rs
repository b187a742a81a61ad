//! `cargo xtask bench`: the benchmarks of `benches/` (crate ferry-bench) on
//! anvil chains they start themselves from the pinned anvil binary.

use std::path::Path;

use crate::anvil;
use crate::cmd::{self, step};
use crate::error::Result;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let anvil = anvil::ensure(root)?;
    let mut command = cmd::cargo(root)?;
    command.args(["run", "--package", "ferry-bench", "--"]).args(args);
    let (name, value) = anvil.test_env();
    command.env(name, value);
    step(cmd::display(&command));
    cmd::run(&mut command)
}
