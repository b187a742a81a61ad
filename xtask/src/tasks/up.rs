//! `cargo xtask up [args]`: the local stack, owned by `ferry dev`, against
//! two local EVM chains (anvil, chain ids 31337 and 31338, 1 s blocks) that
//! live as long as it does.
//!
//! xtask runs `ferry dev --rpc 31337=URL --rpc 31338=URL [args]` as a child
//! (not `exec`, since it has to stop the chains afterwards), waits for it,
//! then stops the chains and exits with the child's code.
//!
//! Ctrl-C: std has no signal API and the workspace forbids `unsafe`, so xtask
//! cannot ignore SIGINT and dies at once, without running its cleanup. That
//! is fine because the terminal sends SIGINT to the whole foreground process
//! group: `ferry dev` (through `cargo run`) and both anvils are in it and get
//! their own SIGINT, on which anvil exits. So nothing survives a Ctrl-C in
//! the terminal, and on every other way out (the child exits, xtask fails)
//! the guards kill and reap the chains. Only a signal sent to xtask alone
//! (e.g. `kill <pid of xtask>`) leaves the chains running; they log to
//! `$HOME/.cache/ferry/anvil-<chain id>.log`.

use std::path::Path;

use crate::anvil;
use crate::cmd::{self, step};
use crate::error::Result;

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let anvil = anvil::ensure(root)?;
    let chains = anvil::start_chains(&anvil)?;
    let mut command = cmd::cargo(root)?;
    command.args(["run", "--package", "ferry-cli", "--bin", "ferry", "--", "dev"]);
    for chain in &chains {
        command.arg("--rpc").arg(format!("{}={}", chain.chain_id(), chain.rpc_url()));
    }
    command.args(args);
    step(cmd::display(&command));
    let status = cmd::status(&mut command);
    drop(chains);
    cmd::check(&command, status?)
}
