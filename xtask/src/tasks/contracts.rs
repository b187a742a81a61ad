//! `cargo xtask contracts [--check]`: compile `contracts/src` into the
//! checked-in artifacts in `contracts/out`, or (`--check`) fail if they are
//! not current.

use std::path::Path;

use crate::contracts::{self, Mode};
use crate::error::{Result, Usage};

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    contracts::build(root, mode(args)?)
}

fn mode(args: &[String]) -> Result<Mode> {
    match args {
        [] => Ok(Mode::Write),
        [flag] if flag == "--check" => Ok(Mode::Check),
        [other, ..] => {
            Err(Box::new(Usage(format!("`contracts` takes only `--check`, got `{other}` (see `cargo xtask help`)"))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|&arg| arg.to_owned()).collect()
    }

    #[test]
    fn parses_the_mode() {
        assert!(matches!(mode(&args(&[])), Ok(Mode::Write)));
        assert!(matches!(mode(&args(&["--check"])), Ok(Mode::Check)));
        assert!(mode(&args(&["--chek"])).is_err());
        assert!(mode(&args(&["--check", "--check"])).is_err());
    }
}
