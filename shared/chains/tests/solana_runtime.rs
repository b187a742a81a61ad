//! The payer's transaction (`ferry_chains::solana`) executed by the real
//! Solana runtime, offline: litesvm under Node (`tests/solana/runtime.cjs`),
//! whose packages `cargo xtask test` installs from
//! `tests/solana/package-lock.json` and names in `FERRY_TEST_SOLANA`. The
//! script decodes the hex with `@solana/kit`, signs it with the payer's key
//! and executes it; each test has a runtime of its own.
#![cfg(feature = "solana")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use ferry_chains::solana::{
    COMPUTE_UNIT_LIMIT, DEFAULT_COMPUTE_UNIT_PRICE, Hash, Payment, Pubkey, Reference, serialize_hex,
    unsigned_transaction,
};
use ferry_domain::SessionId;
use serde_json::{Value, json};

const TEST_SOLANA_VAR: &str = "FERRY_TEST_SOLANA";
/// How long one command may take (setting up a mint and three accounts, or
/// executing one transaction, takes well under a second).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// One litesvm instance in a Node process, killed on drop.
struct Runtime {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Runtime {
    fn start() -> Self {
        let install = std::env::var_os(TEST_SOLANA_VAR).unwrap_or_else(|| {
            panic!(
                "{TEST_SOLANA_VAR} is not set: this test needs the offline Solana runtime (litesvm, \
                 tests/solana/package-lock.json). Run the tests with `cargo xtask test`, which installs it"
            )
        });
        let modules = PathBuf::from(install).join("node_modules");
        assert!(
            modules.join("litesvm").is_dir(),
            "{} has no litesvm: remove its parent and run `cargo xtask test` to reinstall",
            modules.display()
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/solana/runtime.cjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("NODE_PATH", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` (Node 20+ must be on PATH): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, answers }
    }

    /// Sends one command and returns its answer; fails the test when the
    /// script crashes, answers `fatal` or takes longer than
    /// [`ANSWER_TIMEOUT`].
    fn call(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").expect("write to the runtime");
        self.stdin.flush().expect("flush to the runtime");
        let line = self.answers.recv_timeout(ANSWER_TIMEOUT).unwrap_or_else(|error| {
            panic!("the runtime gave no answer to {command} within {ANSWER_TIMEOUT:?} ({error}); see its stderr")
        });
        let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(answer.get("fatal").is_none(), "the runtime failed on {command}: {}", answer["fatal"]);
        answer
    }

    fn setup(&mut self, payer_units: u64) -> Accounts {
        let answer = self.call(json!({"cmd": "setup", "decimals": 6, "payerUnits": payer_units.to_string()}));
        let accounts = Accounts {
            payer: key(&answer["payer"]),
            treasury: key(&answer["treasury"]),
            mint: key(&answer["mint"]),
            payer_ata: key(&answer["payerAta"]),
            treasury_ata: key(&answer["treasuryAta"]),
            blockhash: blockhash(&answer["blockhash"]),
        };
        assert_eq!(balances(&answer), (payer_units, 0));
        accounts
    }

    fn pay(&mut self, hex: &str) -> Value {
        self.call(json!({"cmd": "pay", "tx": hex}))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `setup` made in the runtime.
struct Accounts {
    payer: Pubkey,
    treasury: Pubkey,
    mint: Pubkey,
    /// The payer's and treasury's token accounts, created by the associated
    /// token account program itself (so at the program's own derivation).
    payer_ata: Pubkey,
    treasury_ata: Pubkey,
    blockhash: Hash,
}

impl Accounts {
    fn payment(&self, amount: u64) -> Payment {
        Payment {
            wallet: self.payer,
            mint: self.mint,
            decimals: 6,
            treasury: self.treasury,
            amount,
            reference: Reference::for_session(&SessionId::from_bytes([0x5e; 16])),
            compute_unit_price: DEFAULT_COMPUTE_UNIT_PRICE,
        }
    }
}

fn key(value: &Value) -> Pubkey {
    let text = value.as_str().unwrap_or_else(|| panic!("not a key: {value}"));
    text.parse().unwrap_or_else(|e| panic!("not a key ({e:?}): {text}"))
}

fn blockhash(value: &Value) -> Hash {
    let text = value.as_str().unwrap_or_else(|| panic!("not a blockhash: {value}"));
    text.parse().unwrap_or_else(|e| panic!("not a blockhash ({e:?}): {text}"))
}

/// The payer's and the treasury's token balances in an answer.
fn balances(answer: &Value) -> (u64, u64) {
    let units = |who: &str| -> u64 {
        let value = &answer["balances"][who];
        value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no {who} balance in {answer}"))
    };
    (units("payer"), units("treasury"))
}

fn hex_for(payment: &Payment, blockhash: Hash) -> String {
    serialize_hex(&unsigned_transaction(payment, blockhash).expect("transaction")).expect("hex")
}

#[test]
fn a_funded_payer_signs_and_executes_the_transaction() {
    let mut runtime = Runtime::start();
    let accounts = runtime.setup(25_000_000);
    let payment = accounts.payment(10_500_000);
    // Ferry's derivation is the associated token account program's.
    assert_eq!(payment.source(), accounts.payer_ata);
    assert_eq!(payment.destination(), accounts.treasury_ata);

    let answer = runtime.pay(&hex_for(&payment, accounts.blockhash));

    assert_eq!(answer["ok"], true, "{answer:#}");
    assert_eq!(balances(&answer), (14_500_000, 10_500_000));
    assert_eq!(answer["recorded"], true, "not in the runtime's history: {answer:#}");
    let executed = &answer["executed"];
    assert_eq!(executed["version"], 0);
    assert_eq!(executed["lookupTables"], 0);
    assert_eq!(executed["blockhash"], accounts.blockhash.to_string());
    // Decoded by @solana/kit: one signature slot, zeroed (so empty) before signing.
    assert_eq!(executed["signaturesBefore"], json!([null]), "{executed:#}");
    let account_keys: Vec<Pubkey> = executed["accountKeys"].as_array().expect("account keys").iter().map(key).collect();
    assert_eq!(account_keys[0], accounts.payer, "the fee payer is account 0");
    let reference = payment.reference.to_pubkey();
    assert!(account_keys.contains(&reference), "the reference is not among {account_keys:?}");
    let transfer = &executed["instructions"][2];
    let transfer_accounts: Vec<Pubkey> = transfer["accounts"].as_array().expect("accounts").iter().map(key).collect();
    assert_eq!(
        transfer_accounts,
        [accounts.payer_ata, accounts.mint, accounts.treasury_ata, accounts.payer, reference],
        "{transfer:#}"
    );
    let units: u64 = answer["computeUnits"].as_str().and_then(|s| s.parse().ok()).expect("compute units");
    assert!(units > 0 && units <= u64::from(COMPUTE_UNIT_LIMIT), "{units} compute units");
}

#[test]
fn a_payer_holding_too_little_is_refused_and_nothing_moves() {
    let mut runtime = Runtime::start();
    let accounts = runtime.setup(5_000_000);

    let answer = runtime.pay(&hex_for(&accounts.payment(5_000_001), accounts.blockhash));

    assert_eq!(answer["ok"], false, "{answer:#}");
    let error = answer["error"].as_str().unwrap_or_default();
    // The token program's InsufficientFunds (custom error 1) in instruction 2.
    assert!(error.contains("InstructionError(2, Custom(1))"), "{answer:#}");
    let logs = answer["logs"].to_string();
    assert!(logs.contains("insufficient funds"), "{logs}");
    assert_eq!(balances(&answer), (5_000_000, 0));

    // The whole balance goes through.
    let answer = runtime.pay(&hex_for(&accounts.payment(5_000_000), accounts.blockhash));
    assert_eq!(answer["ok"], true, "{answer:#}");
    assert_eq!(balances(&answer), (0, 5_000_000));
}

#[test]
fn an_expired_blockhash_is_refused_and_nothing_moves() {
    let mut runtime = Runtime::start();
    let accounts = runtime.setup(25_000_000);
    let payment = accounts.payment(1_000_000);
    let stale = hex_for(&payment, accounts.blockhash);

    let expired = runtime.call(json!({"cmd": "expireBlockhash"}));
    let fresh = blockhash(&expired["blockhash"]);
    assert_ne!(fresh, accounts.blockhash);
    let answer = runtime.pay(&stale);

    assert_eq!(answer["ok"], false, "{answer:#}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("BlockhashNotFound"), "{answer:#}");
    assert_eq!(balances(&answer), (25_000_000, 0));

    // Rebuilt on the fresh blockhash, the same payment goes through.
    let answer = runtime.pay(&hex_for(&payment, fresh));
    assert_eq!(answer["ok"], true, "{answer:#}");
    assert_eq!(balances(&answer), (24_000_000, 1_000_000));
}
