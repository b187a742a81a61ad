//! Two EVM chains of the test's own: anvil processes started from
//! `FERRY_TEST_ANVIL` (the pinned binary `cargo xtask test` installs and
//! exports), chain ids 31337 and 31338, one block a second, with Ferry's
//! factory and the test USDC deployed by `ferry_chains::evm::local::deploy`.
//! Each test gets its own, so that tests in parallel processes never share a
//! relayer (its nonces) or chain state (balances, events). Killed on drop.
//!
//! Plus what the tests read from and do on a chain: USDC balances, the
//! factory's events, paying from the test wallet, deploying a TestMerchant.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ferry_chains::evm::client::EvmClient;
use ferry_chains::evm::contracts::{FerryFactory, IERC20, TestMerchant};
use ferry_chains::evm::local;
use ferry_chains::evm::relayer::Relayer;
use ferry_cli::workers::RpcEndpoint;
use ferry_domain::{BaseUnits, ChainId, ChainRegistry, DepositId};
use poll_chains::WatchedChain;

/// The chain ids of the local chain registry (`ChainRegistry::local()`).
pub const CHAIN_A: u64 = 31337;
pub const CHAIN_B: u64 = 31338;

/// How long an anvil gets to listen and answer, and its deployment to land.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The most lines of an anvil's output kept for error messages.
const OUTPUT_LINES: usize = 40;

/// The variable naming the anvil binary (set by `cargo xtask test` and
/// printed by `cargo xtask services`).
pub const ANVIL_VAR: &str = "FERRY_TEST_ANVIL";

/// `amount` in base units of the 6-decimal test USDC (`"10.00"` → 10 000 000).
pub fn usdc(amount: &str) -> U256 {
    let units = BaseUnits::parse_token_amount(amount, 6).unwrap_or_else(|e| panic!("bad amount {amount}: {e}"));
    U256::from(units.get())
}

/// The test wallet that pays (anvil account 3, funded by `deploy`).
pub fn payer() -> Address {
    local::signer(local::PAYER_KEY).address()
}

/// The relayer (anvil account 2), whose USDC is the payout inventory.
pub fn relayer() -> Address {
    local::signer(local::RELAYER_KEY).address()
}

/// The two chains of the local registry, running for this test.
pub struct Chains {
    chains: [LocalChain; 2],
}

/// Starts both chains (31337 and 31338) and deploys Ferry's contracts and
/// the test USDC on each. Panics, telling how to run the tests, when
/// `FERRY_TEST_ANVIL` is not set: these tests never skip.
pub async fn spawn_chains() -> Chains {
    let binary = anvil_binary();
    // Start both processes first, then wait for both: they boot in parallel.
    let a = Anvil::start(&binary, CHAIN_A);
    let b = Anvil::start(&binary, CHAIN_B);
    let (a, b) = tokio::join!(LocalChain::ready(a), LocalChain::ready(b));
    Chains { chains: [a, b] }
}

fn anvil_binary() -> PathBuf {
    let path = std::env::var_os(ANVIL_VAR).unwrap_or_else(|| {
        panic!(
            "{ANVIL_VAR} is not set: run the tests with `cargo xtask test`, which installs the pinned anvil and \
             exports its path (or export what `cargo xtask services` prints)"
        )
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{ANVIL_VAR}={} is not a file: run `cargo xtask test` (or `cargo xtask services`) to install the pinned anvil",
        path.display()
    );
    path
}

impl Chains {
    /// The chain with this id (31337 or 31338).
    #[track_caller]
    pub fn get(&self, id: u64) -> &LocalChain {
        self.chains.iter().find(|chain| chain.id.get() == id).unwrap_or_else(|| panic!("no local chain {id}"))
    }

    /// What `ferry serve --rpc` takes: each chain's id and URL.
    pub fn rpc_endpoints(&self) -> Vec<RpcEndpoint> {
        self.chains.iter().map(|chain| RpcEndpoint { chain_id: chain.id, url: chain.url.clone() }).collect()
    }

    /// The chains as the watcher (`PollChains`) takes them.
    pub fn watched(&self) -> Vec<WatchedChain> {
        self.watched_through(|chain| chain.url.clone())
    }

    /// [`Self::watched`], each chain reached at `url_of(chain)` (a proxy).
    pub fn watched_through(&self, url_of: impl Fn(&LocalChain) -> String) -> Vec<WatchedChain> {
        let registry = ChainRegistry::local().expect("local registry");
        self.chains
            .iter()
            .map(|chain| WatchedChain {
                chain: registry.chain(chain.id).expect("the local registry lists the chain").clone(),
                client: EvmClient::connect(chain.id, &url_of(chain)).expect("client"),
            })
            .collect()
    }

    /// A relayer on each chain, as the router (`RouteDeposits`) takes them.
    pub fn relayers(&self) -> Vec<Arc<Relayer>> {
        self.relayers_through(|chain| chain.url.clone())
    }

    /// [`Self::relayers`], each chain reached at `url_of(chain)` (a proxy).
    pub fn relayers_through(&self, url_of: impl Fn(&LocalChain) -> String) -> Vec<Arc<Relayer>> {
        self.chains
            .iter()
            .map(|chain| {
                let wallet = EthereumWallet::from(local::signer(local::RELAYER_KEY));
                Arc::new(Relayer::connect(chain.id, &url_of(chain), wallet, local::FACTORY).expect("relayer"))
            })
            .collect()
    }

    /// Every chain.
    pub fn all(&self) -> &[LocalChain] {
        &self.chains
    }
}

/// One running chain.
pub struct LocalChain {
    pub id: ChainId,
    pub url: String,
    provider: DynProvider,
    _anvil: Anvil,
}

/// A test wallet's payment: one USDC `Transfer` to a receiver.
#[derive(Clone, Debug)]
pub struct Payment {
    pub chain_id: u64,
    pub tx_hash: B256,
    /// The `Transfer` log's index in its block.
    pub log_index: u64,
    pub amount: U256,
}

impl Payment {
    /// The id the watcher records this payment's deposit under,
    /// `chainId:txHash:logIndex`.
    pub fn deposit_id(&self) -> DepositId {
        let id = format!("{}:{:#x}:{}", self.chain_id, self.tx_hash, self.log_index);
        serde_json::from_value(serde_json::Value::String(id)).expect("a deposit id is a string")
    }
}

impl LocalChain {
    /// Waits until `anvil` listens and answers with its chain id, then deploys.
    async fn ready(mut anvil: Anvil) -> LocalChain {
        let address = anvil.listening_address().await;
        let url = format!("http://{address}");
        let provider = ProviderBuilder::new().connect_http(url.parse().expect("anvil URL")).erased();
        let chain_id = anvil.chain_id;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            match provider.get_chain_id().await {
                Ok(id) if id == chain_id => break,
                Ok(id) => panic!("anvil at {url} answers chain id {id}, not {chain_id}"),
                Err(error) if tokio::time::Instant::now() > deadline => {
                    panic!(
                        "anvil at {url} did not answer eth_chainId within {READY_TIMEOUT:?}: {error}\n{}",
                        anvil.output()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let id = ChainId::new(chain_id);
        match tokio::time::timeout(READY_TIMEOUT, local::deploy(id, &url)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("deploying onto chain {chain_id} failed: {error:?}\n{}", anvil.output()),
            Err(_) => panic!("deploying onto chain {chain_id} took over {READY_TIMEOUT:?}\n{}", anvil.output()),
        }
        LocalChain { id, url, provider, _anvil: anvil }
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// `holder`'s balance of the test USDC.
    pub async fn usdc_balance(&self, holder: Address) -> U256 {
        IERC20::new(local::USDC, &self.provider).balanceOf(holder).call().await.expect("balanceOf")
    }

    /// Sends `amount` of test USDC from the test wallet to `to` and waits
    /// until it is mined.
    pub async fn pay(&self, to: Address, amount: U256) -> Payment {
        let tx_hash =
            local::pay_from_test_wallet(self.id, &self.url, to, amount).await.expect("pay from the test wallet");
        let receipt =
            self.provider.get_transaction_receipt(tx_hash).await.expect("receipt").expect("the payment is mined");
        let log_index = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == local::USDC)
            .find_map(|log| {
                let transfer = log.log_decode::<IERC20::Transfer>().ok()?;
                (transfer.inner.data.to == to).then_some(log.log_index).flatten()
            })
            .expect("the payment has a Transfer log to the receiver");
        Payment { chain_id: self.id.get(), tx_hash, log_index, amount }
    }

    /// Deploys a TestMerchant (a contract-call target) from the deployer
    /// (anvil account 0: after `deploy`'s fixed deployments, so they keep
    /// their addresses).
    pub async fn deploy_merchant(&self) -> Address {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(local::signer(local::DEPLOYER_KEY)))
            .connect_http(self.url.parse().expect("URL"));
        *TestMerchant::deploy(&provider).await.expect("deploy TestMerchant").address()
    }

    /// `TestMerchant.paidOrders(order)` of the merchant at `merchant`.
    pub async fn paid_order(&self, merchant: Address, order: U256) -> U256 {
        TestMerchant::new(merchant, &self.provider).paidOrders(order).call().await.expect("paidOrders")
    }

    /// The factory's executor (makes the destination calls; must keep nothing).
    pub async fn executor(&self) -> Address {
        FerryFactory::new(local::FACTORY, &self.provider).executor().call().await.expect("executor")
    }

    /// Every `E` the factory emitted so far, with its transaction.
    pub async fn factory_events<E: SolEvent>(&self) -> Vec<(E, B256)> {
        let filter = Filter::new().address(local::FACTORY).event_signature(E::SIGNATURE_HASH).from_block(0);
        let logs = self.provider.get_logs(&filter).await.expect("eth_getLogs");
        logs.iter()
            .map(|log| {
                let event = log.log_decode::<E>().expect("a well-formed factory event").inner.data;
                (event, log.transaction_hash.expect("a mined log"))
            })
            .collect()
    }
}

/// An anvil process; dropping it kills and reaps it.
struct Anvil {
    child: Child,
    chain_id: u64,
    /// `Listening on 127.0.0.1:PORT`, as anvil prints it once bound.
    listening: mpsc::Receiver<String>,
    /// The last lines anvil printed (both streams).
    output: Arc<Mutex<VecDeque<String>>>,
}

impl Anvil {
    /// Starts anvil on a port the OS picks (`--port 0`: no race with other
    /// processes for a port picked in advance), one block a second.
    fn start(binary: &Path, chain_id: u64) -> Anvil {
        let mut child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--chain-id", &chain_id.to_string(), "--block-time", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, listening) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        drain(stdout, Arc::clone(&output), Some(tx));
        drain(stderr, Arc::clone(&output), None);
        Anvil { child, chain_id, listening, output }
    }

    /// The address anvil listens on, once it says so (bounded).
    async fn listening_address(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(address) = self.listening.try_recv() {
                return address;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers catch the last words.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!("anvil (chain {}) exited before listening ({status})\n{}", self.chain_id, self.output());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "anvil (chain {}) did not start listening within {READY_TIMEOUT:?}\n{}",
                self.chain_id,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        let lines = self.output.lock().map(|lines| lines.iter().cloned().collect::<Vec<_>>()).unwrap_or_default();
        format!("anvil (chain {}) said:\n{}", self.chain_id, lines.join("\n"))
    }
}

/// Reads a stream of anvil's to its end on a thread, keeping the last lines
/// and reporting the listening address.
fn drain(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<VecDeque<String>>>,
    listening: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let (Some(tx), Some(address)) = (&listening, line.trim().strip_prefix("Listening on ")) {
                let _ = tx.send(address.trim().to_string());
            }
            if let Ok(mut lines) = output.lock() {
                if lines.len() == OUTPUT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    });
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
