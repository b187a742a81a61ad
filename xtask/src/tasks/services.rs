//! `cargo xtask services`: start `moto_server` and keep it running, printing
//! the environment the tests need, until stdin reaches a newline or EOF.

use std::io::{self, BufRead};
use std::path::Path;

use crate::error::{Context, Result};
use crate::moto::Moto;
use crate::tools;

pub fn run(root: &Path) -> Result<()> {
    let venv = tools::ensure(root)?;
    let moto = Moto::start(&venv, root)?;
    for (name, value) in moto.test_env() {
        println!("export {name}={value}");
    }
    eprintln!("moto_server is running; press Enter or Ctrl-D (or Ctrl-C) to stop it");
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).context("cannot read stdin")?;
    drop(moto);
    Ok(())
}
