//! `cargo xtask services`: start `moto_server` and the two local EVM chains
//! and keep them running, printing the environment the tests need (with the
//! offline Solana runtime's installation), until stdin reaches a newline or
//! EOF.

use std::io::{self, BufRead, Write};
use std::path::Path;

use crate::anvil;
use crate::error::{Context, Result};
use crate::moto::Moto;
use crate::solana;
use crate::tools;

pub fn run(root: &Path) -> Result<()> {
    let venv = tools::ensure(root)?;
    let anvil = anvil::ensure(root)?;
    let solana = solana::ensure(root)?;
    let (dynamodb, sqs) = Moto::start_for_tests(&venv, root)?;
    let chains = anvil::start_chains(&anvil)?;
    for (name, value) in Moto::test_env(&dynamodb, &sqs) {
        println!("export {name}={value}");
    }
    for (name, value) in anvil::test_env(&anvil, &chains).into_iter().chain([solana.test_env()]) {
        println!("export {name}={value}");
    }
    io::stdout().flush().context("cannot write to stdout")?;
    eprintln!(
        "moto_server and anvil (chains {}) are running; press Enter or Ctrl-D (or Ctrl-C) to stop them",
        anvil::CHAIN_IDS.map(|id| id.to_string()).join(", ")
    );
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).context("cannot read stdin")?;
    drop(chains);
    drop((dynamodb, sqs));
    Ok(())
}
