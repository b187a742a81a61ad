//! Ferry's task runner: `cargo xtask <command>` (see `cargo xtask help`).

mod anvil;
mod cmd;
mod contracts;
mod error;
mod hash;
mod js;
mod moto;
mod npm;
mod paths;
mod service;
mod solana;
mod tasks;
mod tools;

use std::env;
use std::process::ExitCode;

use crate::error::{Result, Usage};

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  tools                 install the pinned Python tools (xtask/requirements.txt)
                        into $HOME/.cache/ferry/venv-<hash>
  test [nextest args]   lint template.yaml, check the Rust style (`cargo fmt
                        --check`, clippy with warnings denied) and the
                        contract artifacts (`contracts --check`), start
                        moto_server and two
                        anvil chains (ids 31337, 31338), and run
                        `cargo nextest run --workspace --no-fail-fast [args]`
  bench                 benchmarks on local chains: RPC calls per poll cycle
                        (10 vs 10,000 open sessions) and deposit latency
  up [args]             run the local stack: start two anvil chains (ids
                        31337, 31338) and run `ferry dev --rpc 31337=URL
                        --rpc 31338=URL [args]`; the chains stop with it
  lambda-build [--arm64] [args]
                        `cargo lambda build --release [args]` of the binaries
                        template.yaml deploys, with the tools venv
  lint                  cfn-lint and `sam validate --lint` on template.yaml,
                        `cargo fmt --check` and clippy (warnings denied)
  contracts [--check]   compile contracts/src with the pinned solc (running
                        `npm ci` in contracts/ when its lock changed) into
                        contracts/out; --check fails if the checked-in
                        artifacts are not what the sources compile to
  sam [args]            the pinned SAM CLI with the tools venv on PATH
                        (`sam build` needs cargo-lambda and zig from it)
  services              start moto_server and the two anvil chains, print the
                        test environment, and keep them running until Enter,
                        Ctrl-D or Ctrl-C
  help                  show this message

anvil (test, up, services) is the one pinned in xtask/anvil/package-lock.json,
installed with `npm ci --ignore-scripts` into $HOME/.cache/ferry/anvil-<hash>.
`test` also installs tests/js/package-lock.json (the published JS client and
playwright-core) into $HOME/.cache/ferry/js-<hash>, tests/solana/package-lock.json
(litesvm, the offline Solana runtime, and @solana/kit) into
$HOME/.cache/ferry/solana-<hash>, and Debian's chromium with apt-get when
/usr/bin/chromium is missing.

Nested cargo commands use CARGO_TARGET_DIR=$HOME/.cache/ferry/target unless
CARGO_TARGET_DIR is already set.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error::report(error.as_ref());
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Err(Box::new(Usage("no command given".to_owned())));
    };
    let root = paths::workspace_root()?;
    let no_args = |name: &str| -> Result<()> {
        match rest.first() {
            None => Ok(()),
            Some(arg) => {
                Err(Box::new(Usage(format!("`{name}` takes no arguments, got `{arg}` (see `cargo xtask help`)"))))
            }
        }
    };

    match command.as_str() {
        "tools" => no_args("tools").and_then(|()| tasks::tools::run(&root)),
        "test" => tasks::test::run(&root, rest),
        "up" => tasks::up::run(&root, rest),
        "bench" => tasks::bench::run(&root, rest),
        "lambda-build" => tasks::lambda_build::run(&root, rest),
        "lint" => no_args("lint").and_then(|()| tasks::lint::run(&root)),
        "contracts" => tasks::contracts::run(&root, rest),
        "sam" => tasks::sam::run(&root, rest),
        "services" => no_args("services").and_then(|()| tasks::services::run(&root)),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("{USAGE}");
            Err(Box::new(Usage(format!("unknown command `{other}`"))))
        }
    }
}
