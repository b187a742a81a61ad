//! The workers in-process, as the deployment runs them on schedules and
//! SQS: `poll-chains` every second, `route-deposits` on an in-process
//! queue; `expire-sessions` every 5 seconds; `deliver-webhooks` fanning
//! events out every second and delivering from an in-process queue. What
//! `sam local` would do, without Docker.

use std::sync::Arc;
use std::time::Duration;

use expire_sessions::ExpireSessions;
use ferry_chains::evm::client::EvmClient;
use ferry_chains::evm::local;
use ferry_chains::evm::relayer::{EthereumWallet, Relayer};
use ferry_domain::{ChainId, ChainRegistry, EvmAddress, RetryPolicy, RouteDeposit, UrlPolicy};
use ferry_notify::sender::SenderError;
use ferry_notify::{DeliverWebhooks, DeliveryMessage, WebhookSender};
use ferry_queue::memory::MemoryQueue;
use ferry_queue::{Queue, TypedQueue};
use ferry_store::{ChainStore, DeliveryStore, ExpiryStore, WebhookStore};
use ferry_watch::{ChainTxLookup, DepositDetector, TxHintLookup};
use poll_chains::{PollChains, WatchedChain};
use route_deposits::RouteDeposits;
use tokio::task::JoinHandle;

/// How often the local watcher scans (deployments use their schedule).
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a routing attempt keeps a message hidden before a retry.
const VISIBILITY: Duration = Duration::from_secs(30);

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

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
        local::deploy(chain.id, &endpoint.url).await?;
        relayers.push(Arc::new(Relayer::connect(
            chain.id,
            &endpoint.url,
            EthereumWallet::from(local::signer(local::RELAYER_KEY)),
            local::FACTORY,
        )?));
        watched.push(WatchedChain { chain, client });
    }
    let queue = MemoryQueue::new();
    let lookup_chains =
        watched.iter().map(|w| WatchedChain { chain: w.chain.clone(), client: w.client.clone() }).collect();
    let tx_lookup = Arc::new(ChainTxLookup::new(DepositDetector::new(store.clone(), queue.clone()), lookup_chains));
    let poller = PollChains::new(store.clone(), queue.clone(), watched);
    let router = RouteDeposits::new(store, relayers, EvmAddress::new(local::TREASURY));
    let tasks = vec![tokio::spawn(poll_forever(poller)), tokio::spawn(route_forever(router, queue))];
    Ok(LocalWorkers { tasks, tx_lookup })
}

/// How often the local expiry worker runs (deployments: every minute).
const EXPIRY_INTERVAL: Duration = Duration::from_secs(5);

/// Starts the expiry worker in-process: every [`EXPIRY_INTERVAL`] the open
/// sessions past their `expiresAt` become `expired`. It needs no chain, so
/// it runs whether or not the chain workers do.
pub fn start_expiry<S: ExpiryStore + Clone + 'static>(store: S) -> JoinHandle<()> {
    tokio::spawn(expire_forever(ExpireSessions::new(store)))
}

async fn expire_forever<S: ExpiryStore>(worker: ExpireSessions<S>) {
    let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        tick.tick().await;
        match worker.run_once(ferry_http::now()).await {
            Ok(report) if report.expired > 0 || report.lost_races > 0 => {
                tracing::info!(expired = report.expired, lost_races = report.lost_races, "sessions expired");
            }
            Ok(_nothing_due) => {}
            // The next tick retries.
            Err(error) => tracing::error!(%error, "expiring sessions failed"),
        }
    }
}

/// How often the local webhook worker fans pending events out and sweeps
/// overdue deliveries (deployments: every 2 s of each scheduled minute).
const DISPATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the webhook worker in-process: pending events fan out to their
/// endpoints every [`DISPATCH_INTERVAL`], and each delivery is sent (and
/// retried with the standard backoff) from an in-process queue. Deliveries
/// left unfinished by a restart are found again by the sweep (every
/// [`ferry_notify::SWEEP_INTERVAL`]).
pub fn start_webhooks<S: DeliveryStore + WebhookStore + Clone + 'static>(
    store: S,
    policy: UrlPolicy,
) -> Result<Vec<JoinHandle<()>>, SenderError> {
    let queue = MemoryQueue::new();
    let worker =
        Arc::new(DeliverWebhooks::new(store, queue.clone(), WebhookSender::new(policy)?, RetryPolicy::STANDARD));
    Ok(vec![tokio::spawn(dispatch_forever(Arc::clone(&worker))), tokio::spawn(deliver_forever(worker, queue))])
}

async fn dispatch_forever<S: DeliveryStore + WebhookStore, Q: Queue>(worker: Arc<DeliverWebhooks<S, Q>>) {
    let mut tick = tokio::time::interval(DISPATCH_INTERVAL);
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        tick.tick().await;
        let now = ferry_http::now();
        if let Err(error) = worker.dispatch(now).await {
            tracing::error!(%error, "fanning webhook events out failed; the next tick retries");
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= ferry_notify::SWEEP_INTERVAL) {
            last_sweep = Some(std::time::Instant::now());
            if let Err(error) = worker.sweep(now).await {
                tracing::error!(%error, "sweeping overdue webhook deliveries failed; the next sweep retries");
            }
        }
    }
}

/// Each delivery runs on its own task, so one slow endpoint (up to 10 s)
/// holds up nobody else.
async fn deliver_forever<S: DeliveryStore + WebhookStore + 'static>(
    worker: Arc<DeliverWebhooks<S, MemoryQueue>>,
    queue: MemoryQueue,
) {
    let queue: TypedQueue<MemoryQueue, DeliveryMessage> = TypedQueue::new(queue);
    loop {
        let received = match queue.receive(10, Duration::from_secs(1), VISIBILITY).await {
            Ok(received) => received,
            Err(error) => {
                tracing::error!(%error, "receiving webhook deliveries failed");
                tokio::time::sleep(DISPATCH_INTERVAL).await;
                continue;
            }
        };
        for delivery in received {
            let (worker, queue) = (Arc::clone(&worker), queue.clone());
            tokio::spawn(async move {
                let Ok(message) = delivery.message else {
                    tracing::error!("a malformed webhook delivery message is dropped");
                    let _ = queue.ack(&delivery.receipt).await;
                    return;
                };
                match worker.deliver(&message, ferry_http::now()).await {
                    Ok(_outcome) => {
                        if let Err(error) = queue.ack(&delivery.receipt).await {
                            tracing::error!(%error, "acknowledging a webhook delivery failed");
                        }
                    }
                    // The message reappears after its visibility timeout.
                    Err(error) => {
                        tracing::error!(event_id = %message.event_id, %error, "delivering failed; will retry")
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
        let _reports = poller.run_cycle(ferry_http::now()).await;
    }
}

async fn route_forever<S: ChainStore>(router: RouteDeposits<S>, queue: MemoryQueue) {
    let queue: TypedQueue<MemoryQueue, RouteDeposit> = TypedQueue::new(queue);
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
            match router.route(&message.deposit_id, ferry_http::now()).await {
                Ok(()) => {
                    if let Err(error) = queue.ack(&delivery.receipt).await {
                        tracing::error!(%error, "acknowledging a routed deposit failed");
                    }
                }
                // The message reappears after its visibility timeout and is retried.
                Err(error) => tracing::error!(deposit = %message.deposit_id, %error, "routing failed; will retry"),
            }
        }
    }
}
