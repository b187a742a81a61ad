//! The workers in-process, as the deployment runs them on schedules and
//! SQS: `poll-chains` every second (and the deposit recovery sweep every
//! 10 s), `route-deposits` on a durable queue; `expire-sessions` every 5
//! seconds; `deliver-webhooks` on a durable queue, where the router and the
//! expiry worker announce each event they commit, and sweeping every 30 s.
//! What `sam local` would do, without Docker.
//!
//! The queues are [`SqliteQueue`]s in the embedded store's file: a process
//! killed at any instruction finds its queued deposits and deliveries there
//! when it starts again.

use std::sync::Arc;
use std::time::Duration;

use expire_sessions::ExpireSessions;
use ferry_chains::evm::client::EvmClient;
use ferry_chains::evm::local;
use ferry_chains::evm::relayer::{EthereumWallet, Relayer};
use ferry_domain::{ChainId, ChainRegistry, EvmAddress, RetryPolicy, RouteDeposit, UrlPolicy};
use ferry_notify::sender::SenderError;
use ferry_notify::{Announcer, DeliverWebhooks, WebhookMessage, WebhookSender};
use ferry_queue::sqlite::SqliteQueue;
use ferry_queue::{Queue, QueueResult, TypedQueue};
use ferry_store::{ChainCursor, ChainStore, DeliveryStore, ExpiryStore, WebhookStore};
use ferry_watch::{ChainTxLookup, DepositDetector, RecoverDeposits, RecoveryPolicy, TxHintLookup};
use poll_chains::{PollChains, WatchedChain};
use route_deposits::RouteDeposits;
use route_deposits::consumer::DepositConsumer;
use tokio::task::JoinHandle;

/// How often the local watcher scans (deployments use their schedule).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a routing attempt keeps a message hidden before a retry: a
/// message whose process died comes back after this.
const VISIBILITY: Duration = Duration::from_secs(30);
/// How often the local recovery sweep runs.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// Locally, a deposit not routed to its end within a minute is queued
/// again (then after 2, 4, … minutes, at most every 10).
pub const LOCAL_RECOVERY: RecoveryPolicy =
    RecoveryPolicy { first_after: Duration::from_secs(60), max_backoff: Duration::from_secs(600) };
/// A routing budget beyond any attempt's: the local router has no deadline.
const ROUTE_BUDGET: Duration = Duration::from_secs(600);

/// The local stack's queues, durable in one SQLite file.
#[derive(Clone, Debug)]
pub struct LocalQueues {
    pub deposits: SqliteQueue,
    pub dead_deposits: SqliteQueue,
    pub webhooks: SqliteQueue,
}

impl LocalQueues {
    /// The queues in the database file at `path` (the embedded store's).
    pub fn open(path: &std::path::Path) -> QueueResult<Self> {
        let deposits = SqliteQueue::open(path, "deposits")?;
        Ok(Self {
            dead_deposits: deposits.sibling("deposits-dead-letter"),
            webhooks: deposits.sibling("webhooks"),
            deposits,
        })
    }
}

/// A chain id and the JSON-RPC URL of its node, as `--rpc 31337=http://…`.
#[derive(Clone, Debug)]
pub struct RpcEndpoint {
    pub chain_id: ChainId,
    pub url: String,
}

impl std::str::FromStr for RpcEndpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, url) = s.split_once('=').ok_or("expected CHAIN_ID=URL, e.g. 31337=http://127.0.0.1:8545")?;
        let id: u64 = id.parse().map_err(|_| format!("`{id}` is not a chain id"))?;
        Ok(Self { chain_id: ChainId::new(id), url: url.to_string() })
    }
}

pub use ferry_runtime::BoxError;

/// The running local workers.
pub struct LocalWorkers {
    pub tasks: Vec<JoinHandle<()>>,
    /// Looks payers' transaction hints up on the same chains and queue.
    pub tx_lookup: Arc<dyn TxHintLookup>,
}

/// Deploys the contracts and test USDC on each local chain, then starts
/// the watcher and the router. The tasks run until the process ends.
pub async fn start_local<S: ChainStore>(
    store: S,
    queues: &LocalQueues,
    registry: &ChainRegistry,
    endpoints: &[RpcEndpoint],
) -> Result<LocalWorkers, BoxError> {
    let mut watched = Vec::new();
    let mut relayers = Vec::new();
    for endpoint in endpoints {
        let chain = registry
            .chain(endpoint.chain_id)
            .ok_or_else(|| format!("chain {} is not in the chain registry", endpoint.chain_id))?
            .clone();
        let client = EvmClient::connect(chain.id, &endpoint.url)?;
        client.verify_chain_id().await?;
        let new_chain = !local::has_factory(chain.id, &endpoint.url).await?;
        deploy_with_retries(chain.id, &endpoint.url).await?;
        if new_chain {
            forget_cursor(&store, chain.id).await?;
        }
        relayers.push(Arc::new(Relayer::connect(
            chain.id,
            &endpoint.url,
            EthereumWallet::from(local::signer(local::RELAYER_KEY)),
            local::FACTORY,
        )?));
        watched.push(WatchedChain { chain, client });
    }
    let queue = queues.deposits.clone();
    let lookup_chains =
        watched.iter().map(|w| WatchedChain { chain: w.chain.clone(), client: w.client.clone() }).collect();
    let detector = DepositDetector::new(store.clone(), queue.clone()).with_recovery(LOCAL_RECOVERY);
    let tx_lookup = Arc::new(ChainTxLookup::new(detector, lookup_chains));
    let poller = PollChains::new(store.clone(), queue.clone(), watched).with_recovery(LOCAL_RECOVERY);
    let recovery = RecoverDeposits::new(store.clone(), queue.clone(), LOCAL_RECOVERY);
    let router = RouteDeposits::new(store, relayers, EvmAddress::new(local::TREASURY))
        .announcing(Announcer::to_queue(queues.webhooks.clone()));
    let consumer = DepositConsumer::new(router, queue.clone(), queues.dead_deposits.clone());
    let tasks = vec![
        tokio::spawn(poll_forever(poller)),
        tokio::spawn(recover_forever(recovery)),
        tokio::spawn(route_forever(consumer, queue)),
    ];
    Ok(LocalWorkers { tasks, tx_lookup })
}

/// Rewinds the cursor of a chain that had no factory: the embedded store
/// outlives the local chains (`cargo xtask up` starts new ones each time), and
/// a cursor left by an earlier chain would skip this one's blocks up to its
/// height, and the deposits in them. A deployed chain never loses its
/// factory, so this never rewinds a real chain's cursor.
async fn forget_cursor<S: ChainStore>(store: &S, chain_id: ChainId) -> Result<(), BoxError> {
    let Some(stale) = store.get_cursor(chain_id).await? else { return Ok(()) };
    tracing::info!(chain = %chain_id, last_scanned_block = stale.last_scanned_block, "a new chain: its cursor from an earlier one is reset");
    store.advance_cursor(Some(stale), ChainCursor { chain_id, last_scanned_block: 0 }).await?;
    Ok(())
}

/// Deploys the local contracts, trying the whole deployment again when a
/// node failure outlasts the transport's own retries. A deployment is
/// idempotent (each contract is deployed unless its code is there, at the
/// deployer's fixed nonces), and the pause lets a transaction of a failed
/// try be mined before the next one looks.
async fn deploy_with_retries(chain_id: ChainId, url: &str) -> Result<(), ferry_chains::evm::client::ChainError> {
    const TRIES: u32 = 5;
    let mut tried = 0;
    loop {
        tried += 1;
        match local::deploy(chain_id, url).await {
            Ok(()) => return Ok(()),
            Err(error) if tried < TRIES => {
                tracing::warn!(chain = %chain_id, %error, "deploying the local contracts failed; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// How often the local expiry worker runs (deployments: every minute).
const EXPIRY_INTERVAL: Duration = Duration::from_secs(5);

/// Starts the expiry worker in-process: every [`EXPIRY_INTERVAL`] the open
/// sessions past their `expiresAt` become `expired`, each event announced
/// on `webhooks`. It needs no chain, so it runs whether or not the chain
/// workers do.
pub fn start_expiry<S: ExpiryStore + Clone + 'static>(store: S, webhooks: SqliteQueue) -> JoinHandle<()> {
    tokio::spawn(expire_forever(ExpireSessions::new(store).announcing(Announcer::to_queue(webhooks))))
}

async fn expire_forever<S: ExpiryStore>(worker: ExpireSessions<S>) {
    let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        tick.tick().await;
        match worker.run_once(ferry_runtime::Clock::system().now()).await {
            Ok(report) if report.expired > 0 || report.lost_races > 0 => {
                tracing::info!(expired = report.expired, lost_races = report.lost_races, "sessions expired");
            }
            Ok(_nothing_due) => {}
            // The next tick retries.
            Err(error) => tracing::error!(%error, "expiring sessions failed"),
        }
    }
}

/// Starts the webhook worker in-process: announced events fan out to their
/// endpoints and each delivery is sent (and retried with the standard
/// backoff) from the durable `queue`; every [`ferry_notify::SWEEP_INTERVAL`]
/// a sweep fans out events nobody announced (a writer killed between its
/// commit and its announcement) and queues deliveries left unfinished.
pub fn start_webhooks<S: DeliveryStore + WebhookStore + Clone + 'static>(
    store: S,
    queue: SqliteQueue,
    policy: UrlPolicy,
) -> Result<Vec<JoinHandle<()>>, SenderError> {
    let worker =
        Arc::new(DeliverWebhooks::new(store, queue.clone(), WebhookSender::new(policy)?, RetryPolicy::STANDARD));
    Ok(vec![tokio::spawn(sweep_forever(Arc::clone(&worker))), tokio::spawn(deliver_forever(worker, queue))])
}

async fn sweep_forever<S: DeliveryStore + WebhookStore, Q: Queue>(worker: Arc<DeliverWebhooks<S, Q>>) {
    let mut tick = tokio::time::interval(ferry_notify::SWEEP_INTERVAL);
    loop {
        tick.tick().await;
        let now = ferry_runtime::Clock::system().now();
        if let Err(error) = worker.dispatch(now).await {
            tracing::error!(%error, "fanning pending webhook events out failed; the next sweep retries");
        }
        if let Err(error) = worker.sweep(now).await {
            tracing::error!(%error, "sweeping overdue webhook deliveries failed; the next sweep retries");
        }
    }
}

/// Each delivery runs on its own task, so one slow endpoint (up to 10 s)
/// holds up nobody else.
async fn deliver_forever<S: DeliveryStore + WebhookStore + 'static>(
    worker: Arc<DeliverWebhooks<S, SqliteQueue>>,
    queue: SqliteQueue,
) {
    let queue: TypedQueue<SqliteQueue, WebhookMessage> = TypedQueue::new(queue);
    loop {
        let received = match queue.receive(10, Duration::from_secs(1), VISIBILITY).await {
            Ok(received) => received,
            Err(error) => {
                tracing::error!(%error, "receiving webhook deliveries failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for delivery in received {
            let (worker, queue) = (Arc::clone(&worker), queue.clone());
            tokio::spawn(async move {
                let Ok(message) = delivery.message else {
                    tracing::error!("a malformed webhook message is dropped");
                    let _ = queue.ack(&delivery.receipt).await;
                    return;
                };
                match worker.handle(&message, ferry_runtime::Clock::system().now()).await {
                    Ok(_outcome) => {
                        if let Err(error) = queue.ack(&delivery.receipt).await {
                            tracing::error!(%error, "acknowledging a webhook delivery failed");
                        }
                    }
                    // The message reappears after its visibility timeout.
                    Err(error) => {
                        tracing::error!(?message, %error, "handling a webhook message failed; will retry")
                    }
                }
            });
        }
    }
}

async fn poll_forever<S: ChainStore, Q: Queue>(poller: PollChains<S, Q>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    loop {
        tick.tick().await;
        // Failures are logged per chain inside; the next tick retries.
        let _reports = poller.run_cycle(ferry_runtime::Clock::system().now()).await;
    }
}

async fn recover_forever<S: ChainStore, Q: Queue>(recovery: RecoverDeposits<S, Q>) {
    let mut tick = tokio::time::interval(RECOVERY_INTERVAL);
    loop {
        tick.tick().await;
        match recovery.run_once(ferry_runtime::Clock::system().now()).await {
            Ok(report) if report.requeued + report.contended > 0 => {
                tracing::warn!(requeued = report.requeued, contended = report.contended, "deposits recovered");
            }
            Ok(_nothing_due) => {}
            Err(error) => tracing::error!(%error, "the deposit recovery sweep failed; the next tick retries"),
        }
    }
}

/// Each received message is answered by the consumer (routed, sent again,
/// or dead-lettered) and then acked; one whose answer could not be queued
/// stays and comes back after [`VISIBILITY`].
async fn route_forever<S: ChainStore>(consumer: DepositConsumer<S, SqliteQueue>, queue: SqliteQueue) {
    let queue: TypedQueue<SqliteQueue, RouteDeposit> = TypedQueue::new(queue);
    loop {
        let deliveries = match queue.receive(10, Duration::from_secs(1), VISIBILITY).await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::error!(%error, "receiving deposits failed");
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
        };
        for delivery in deliveries {
            let Ok(message) = &delivery.message else {
                tracing::error!("a malformed deposit message stays queued");
                continue;
            };
            let outcome = consumer
                .consume(message, ROUTE_BUDGET, ferry_runtime::Clock::system().now(), ToString::to_string)
                .await;
            match outcome {
                Ok(_answered) => {
                    if let Err(error) = queue.ack(&delivery.receipt).await {
                        tracing::error!(%error, "acknowledging a deposit message failed");
                    }
                }
                Err(error) => {
                    tracing::error!(deposit = %message.deposit_id, %error, "queueing failed; the message comes back")
                }
            }
        }
    }
}
