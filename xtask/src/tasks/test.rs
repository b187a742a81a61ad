//! `cargo xtask test [nextest args]`: every check and test, against a local
//! `moto_server` and two local EVM chains (anvil, chain ids 31337 and 31338),
//! shared by the tests through `FERRY_TEST_EVM_RPC_<chain id>`; tests that need
//! chains (and a relayer) of their own start them from `FERRY_TEST_ANVIL`.
//! The JavaScript tests (the published client, Chromium) find their tools
//! through `FERRY_TEST_JS` and `FERRY_TEST_CHROMIUM`, the offline Solana
//! runtime (litesvm) through `FERRY_TEST_SOLANA`.

use std::path::Path;

use crate::anvil;
use crate::cmd::{self, step};
use crate::contracts::{self, Mode};
use crate::error::Result;
use crate::js;
use crate::moto::Moto;
use crate::solana;
use crate::tasks::lint;
use crate::tools;

pub fn run(root: &Path, nextest_args: &[String]) -> Result<()> {
    let venv = tools::ensure(root)?;
    // Lint, check the style and the contract artifacts first: they need no
    // server and fail fast.
    lint::lint(root, &venv)?;
    lint::rust_style(root)?;
    contracts::build(root, Mode::Check)?;
    let anvil = anvil::ensure(root)?;
    let js = js::ensure(root)?;
    let solana = solana::ensure(root)?;

    let (dynamodb, sqs) = Moto::start_for_tests(&venv, root)?;
    let chains = anvil::start_chains(&anvil)?;
    let mut nextest = cmd::cargo(root)?;
    nextest
        .args(["nextest", "run", "--workspace", "--no-fail-fast"])
        .args(nextest_args)
        .envs(Moto::test_env(&dynamodb, &sqs))
        .envs(anvil::test_env(&anvil, &chains))
        .envs(js.test_env())
        .envs([solana.test_env()]);
    venv.activate(&mut nextest)?;
    step(cmd::display(&nextest));
    let result = cmd::run(&mut nextest);
    // Stop the servers before reporting the outcome (also on failure).
    drop(chains);
    drop((dynamodb, sqs));
    result
}
