//! The local stack with chains: the HTTP API on the local chain registry and
//! the real receiver factory, two anvil chains of the test's own, and the
//! chain workers (`poll-chains` and `route-deposits`) as `ferry serve --rpc`
//! runs them — or none, for a test that drives the workers itself.
//!
//! Helpers speak the API over HTTP for sessions, the chains for money, and
//! the store for deposit records (which the API does not show).

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use alloy::primitives::{Address, Bytes};
use ferry_chains::evm::{ReceiverDerivation, local};
use ferry_domain::{ChainRegistry, DepositId, DepositRecord, DepositState, EvmAddress, Session, SessionId, UrlPolicy};
use ferry_queue::memory::MemoryQueue;
use ferry_store::dynamodb::DynamoStore;
use ferry_store::sqlite::SqliteStore;
use ferry_store::{ChainStore, Store};
use poll_chains::PollChains;
use route_deposits::RouteDeposits;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::chains::{Chains, Payment, spawn_chains, usdc};
use crate::flaky::{FaultProfile, FlakyNode};
use crate::{TempDir, TestApp, dynamodb_store, spawn_api_with};

/// How long a payment may take to settle: a few blocks of one second each.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The API, the chains and (unless asked otherwise) the workers.
pub struct ChainApp<S> {
    // Dropped first: the workers stop before the store and chains go away.
    _workers: Workers,
    pub app: TestApp<S>,
    pub chains: Chains,
    /// The workers' durable queues (`ferry serve` keeps them in its data
    /// directory).
    _queue_dir: TempDir,
    /// The faulty proxies the workers reach the chains through, if any.
    pub flaky_nodes: Vec<FlakyNode>,
}

impl<S> Deref for ChainApp<S> {
    type Target = TestApp<S>;
    fn deref(&self) -> &TestApp<S> {
        &self.app
    }
}

/// The worker tasks, aborted on drop.
struct Workers(Vec<JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for worker in &self.0 {
            worker.abort();
        }
    }
}

/// Whether the stack runs the chain workers itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerMode {
    /// `ferry_cli::workers::start_local`: poll every second, route from the durable queue.
    Running,
    /// None: the test constructs `PollChains` and `RouteDeposits` itself.
    Manual,
}

/// The stack with chains and workers on the embedded store (a temp dir).
pub async fn spawn_app_with_chains() -> ChainApp<SqliteStore> {
    spawn_on_sqlite(WorkerMode::Running).await
}

/// The stack with chains but no workers, on the embedded store.
pub async fn spawn_app_with_chains_and_manual_workers() -> ChainApp<SqliteStore> {
    spawn_on_sqlite(WorkerMode::Manual).await
}

/// The stack with chains and workers on DynamoDB (a fresh table of the
/// test's moto_server).
pub async fn spawn_app_with_chains_on_dynamodb() -> ChainApp<DynamoStore> {
    spawn_app_on_chains(dynamodb_store(true).await, WorkerMode::Running).await
}

async fn spawn_on_sqlite(workers: WorkerMode) -> ChainApp<SqliteStore> {
    let dir = TempDir::new("e2e-evm");
    let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open store");
    let mut app = spawn_app_on_chains(store, workers).await;
    app.app._data_dir = Some(dir);
    app
}

/// The stack on the embedded store, its workers (their start-up included)
/// reaching each chain only through a [`FlakyNode`] failing as `profile`
/// says; the test itself (payments, balances) reaches the chains directly.
pub async fn spawn_app_behind_flaky_nodes(profile: FaultProfile, seed: u64) -> ChainApp<SqliteStore> {
    let dir = TempDir::new("e2e-flaky");
    let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open store");
    let mut app = spawn_app_on(store, WorkerMode::Running, Some((profile, seed))).await;
    app.app._data_dir = Some(dir);
    app
}

/// The API over `store` with the local chain registry and the factory the
/// chains have, the chains, and the workers if asked for.
pub async fn spawn_app_on_chains<S: Store + ChainStore>(store: S, workers: WorkerMode) -> ChainApp<S> {
    spawn_app_on(store, workers, None).await
}

async fn spawn_app_on<S: Store + ChainStore>(
    store: S,
    workers: WorkerMode,
    faults: Option<(FaultProfile, u64)>,
) -> ChainApp<S> {
    init_logs();
    let chains = spawn_chains().await;
    let mut flaky_nodes = Vec::new();
    let mut endpoints = chains.rpc_endpoints();
    if let Some((profile, seed)) = faults {
        for (index, endpoint) in endpoints.iter_mut().enumerate() {
            let node = FlakyNode::start(&endpoint.url, profile, seed.wrapping_add(index as u64)).await;
            endpoint.url = node.url.clone();
            flaky_nodes.push(node);
        }
    }
    let registry = ChainRegistry::local().expect("local registry");
    // Webhook receivers in these tests listen on loopback, as on a laptop.
    let webhooks = UrlPolicy::DEVELOPMENT;
    let queue_dir = TempDir::new("e2e-queues");
    let queues = ferry_cli::workers::LocalQueues::open(&queue_dir.path().join("queues.db")).expect("open the queues");
    let (handles, tx_lookup) = match workers {
        WorkerMode::Running => {
            let mut workers = ferry_cli::workers::start_local(store.clone(), &queues, &registry, &endpoints)
                .await
                .expect("start the workers");
            let webhook_worker = ferry_cli::workers::start_webhooks(store.clone(), queues.webhooks.clone(), webhooks);
            workers.tasks.extend(webhook_worker.expect("webhook worker"));
            (workers.tasks, Some(workers.tx_lookup))
        }
        WorkerMode::Manual => (Vec::new(), None),
    };
    let app = spawn_api_with(store, registry, ReceiverDerivation::new(local::FACTORY), tx_lookup, webhooks).await;
    ChainApp { _workers: Workers(handles), app, chains, _queue_dir: queue_dir, flaky_nodes }
}

/// Worker logs (warnings and errors unless `RUST_LOG` says otherwise), in
/// the test's captured output.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _already = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// What to create a session for: a destination on a local chain, in the
/// test USDC.
#[derive(Clone, Debug)]
pub struct SessionRequest {
    pub address: Address,
    pub chain_id: u64,
    pub amount_units: Option<String>,
    pub calldata: Option<Bytes>,
    pub refund_address: Option<Address>,
}

impl SessionRequest {
    /// Any amount, no calldata, no refund address.
    pub fn to(address: Address, chain_id: u64) -> Self {
        Self { address, chain_id, amount_units: None, calldata: None, refund_address: None }
    }

    pub fn amount(mut self, units: &str) -> Self {
        self.amount_units = Some(units.into());
        self
    }

    pub fn calldata(mut self, data: impl Into<Bytes>) -> Self {
        self.calldata = Some(data.into());
        self
    }

    pub fn refund_to(mut self, address: Address) -> Self {
        self.refund_address = Some(address);
        self
    }

    pub fn body(&self) -> Value {
        let mut destination = json!({
            "type": "evm",
            "address": self.address.to_string(),
            "chainId": self.chain_id,
            "tokenAddress": local::USDC.to_string(),
        });
        if let Some(amount) = &self.amount_units {
            destination["amountUnits"] = json!(amount);
        }
        if let Some(calldata) = &self.calldata {
            destination["calldata"] = json!(calldata.to_string());
        }
        let mut body = json!({"destination": destination, "display": {"title": "E2E order", "verb": "Pay"}});
        if let Some(refund) = self.refund_address {
            body["refundAddress"] = json!(refund.to_string());
        }
        body
    }
}

/// A session waiting for payment at its deposit address.
#[derive(Clone, Debug)]
pub struct OpenSession {
    pub id: String,
    pub secret: String,
    pub receiver: Address,
}

impl<S: Store + ChainStore> ChainApp<S> {
    /// Creates the session (as the merchant) and sets its EVM payment
    /// method (as the payer): `waiting_payment` at its receiver.
    pub async fn open_session(&self, request: &SessionRequest) -> OpenSession {
        let created = self.create_session(&request.body()).await;
        assert_eq!(created.status, 201, "{:#}", created.body);
        let session = &created.body["session"];
        let id = session["sessionId"].as_str().expect("sessionId").to_string();
        let secret = session["clientSecret"].as_str().expect("clientSecret").to_string();
        let receiver = self.set_evm_method(&id, &secret).await;
        OpenSession { id, secret, receiver }
    }

    /// `POST /v1/sessions/{id}/paymentMethods {"type": "evm"}`: the receiver.
    pub async fn set_evm_method(&self, id: &str, secret: &str) -> Address {
        let body = json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}});
        let answer = self.set_payment_method(id, &body).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        assert_eq!(answer.body["session"]["status"], "waiting_payment", "{:#}", answer.body);
        let receiver = answer.body["session"]["paymentMethod"]["receiverAddress"].as_str().expect("receiverAddress");
        receiver.parse().expect("an address")
    }

    /// Pays `amount` (token units, `"10.00"`) of test USDC from the test
    /// wallet to `to` on chain `chain_id`.
    pub async fn pay(&self, chain_id: u64, to: Address, amount: &str) -> Payment {
        self.chains.get(chain_id).pay(to, usdc(amount)).await
    }

    /// The merchant's view of the session (`GET`, with the API key).
    pub async fn session_view(&self, id: &str) -> Value {
        let answer = self.get_session(id, Some(&self.api_key), None).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        answer.body["session"].clone()
    }

    /// Polls the API until the session is `status` and returns its view;
    /// fails at once if it ends in another final status, or after
    /// [`SETTLE_TIMEOUT`].
    pub async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        eventually(&format!("session {id} to be {status}"), || async {
            let view = self.session_view(id).await;
            let now = view["status"].as_str().unwrap_or_default().to_string();
            if now == status {
                return Ok(view);
            }
            assert!(
                !matches!(now.as_str(), "succeeded" | "bounced" | "expired"),
                "session {id} ended {now}, not {status}: {view:#}"
            );
            Err(format!("still {now}: {view:#}"))
        })
        .await
    }

    /// The deposit as recorded (`None`: not seen yet).
    pub async fn deposit(&self, id: &DepositId) -> Option<DepositRecord> {
        self.store.get_deposit(id).await.expect("get_deposit")
    }

    /// Polls the store until the deposit is settled, and returns it.
    pub async fn wait_until_settled(&self, id: &DepositId) -> DepositRecord {
        eventually(&format!("deposit {id} to be settled"), || async {
            match self.deposit(id).await {
                Some(record) if matches!(record.state, DepositState::Settled { .. }) => Ok(record),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }

    /// Runs the watcher (`PollChains`, as `poll-chains` does on its
    /// schedule) until it has recorded `deposit`: for tests without workers.
    pub async fn watch_until_recorded(&self, deposit: &DepositId) -> DepositRecord {
        let poller = PollChains::new(self.store.clone(), MemoryQueue::new(), self.chains.watched());
        eventually(&format!("the watcher to record deposit {deposit}"), || async {
            for report in poller.run_cycle(ferry_runtime::Clock::system().now()).await {
                report.map_err(|e| format!("a scan failed: {e}"))?;
            }
            self.deposit(deposit).await.ok_or_else(|| "not recorded yet".to_string())
        })
        .await
    }

    /// A router (`RouteDeposits`, as `route-deposits` runs) over `store`,
    /// with a relayer on each chain and the local treasury.
    pub fn router<T: ChainStore>(&self, store: T) -> RouteDeposits<T> {
        RouteDeposits::new(store, self.chains.relayers(), EvmAddress::new(local::TREASURY))
    }

    /// The session as stored.
    pub async fn stored_session(&self, id: &str) -> Session {
        let id: SessionId = id.parse().expect("session id");
        self.store.get_session(&id).await.expect("get_session").expect("the session exists")
    }
}

/// Polls `probe` until it answers `Ok`, every 250 ms for at most
/// [`SETTLE_TIMEOUT`]; panics with the last `Err` (what it saw) after that.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if tokio::time::Instant::now() > deadline => {
                panic!("waited {SETTLE_TIMEOUT:?} for {what}; last saw {seen}")
            }
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}
