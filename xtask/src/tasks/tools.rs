//! `cargo xtask tools`: install the pinned Python tools.

use std::path::Path;

use crate::error::Result;
use crate::tools;

pub fn run(root: &Path) -> Result<()> {
    tools::ensure(root).map(|_| ())
}
