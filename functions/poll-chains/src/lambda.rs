//! The deployed `poll-chains`: an EventBridge schedule invokes it every
//! minute, and each invocation keeps scanning until shortly before its
//! deadline, so chains are watched continuously at
//! `FERRY_POLL_INTERVAL_SECONDS` with one invocation at a time.
//!
//! Each chain is scanned on its own loop, so a slow or unreachable node
//! delays only its own chain. A chain is scanned only once its node has
//! confirmed the chain id it is configured for: at cold start, and for a
//! node unreachable then, again before each scan until it answers. A node
//! on the wrong chain is a configuration error: it fails the cold start.
//!
//! A scan cut short by the deadline is safe to drop: a chain's cursor
//! moves only after its deposits are recorded and enqueued, and the next
//! scan repeats what the cut one did not finish.
//!
//! RPC URLs may carry API keys: everything this module logs or returns
//! about a failure goes through [`RpcUrls::redact`].

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use ferry_chains::evm::client::{ChainError, EvmClient, RetryPolicy};
use ferry_config::{RpcUrls, WorkerConfig};
use ferry_domain::ChainId;
use ferry_queue::Queue;
use ferry_queue::sqs::SqsQueue;
use ferry_runtime::lambda::{InvocationFailure, diagnostic};
use ferry_runtime::{Ambient, Deadline, run_until};
use ferry_store::ChainStore;
use ferry_store::dynamodb::DynamoStore;
use ferry_watch::{RecoverDeposits, RecoveryPolicy};

use crate::summary::{ChainSummary, PollSummary, emit_metrics};
use crate::{PollChains, WatchedChain};

pub use ferry_runtime::BoxError;

/// How long before the invocation's deadline scanning stops: enough to
/// drop an in-flight scan and answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// The longest one scan may take before it is dropped and retried on the
/// chain's next tick (an RPC call without an answer would otherwise hold
/// the chain until the deadline).
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(20);

/// What is known of one chain's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Unverified,
    Verified,
    /// It serves the chain with this id instead.
    WrongChain(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("no chains are configured: set FERRY_RPC_URLS")]
    NoChains,
    #[error("the RPC node for chain {chain} serves chain {actual}: check FERRY_RPC_URLS")]
    WrongChain { chain: ChainId, actual: u64 },
    /// Every scan of every chain failed (or no node could be verified):
    /// the invocation fails, so the function's error metric shows it.
    #[error("no chain could be scanned in this invocation ({failed} attempts failed); first error: {first}")]
    NothingScanned { failed: u64, first: String, summary: Box<PollSummary> },
}

impl InvocationFailure for InvocationError {
    const FUNCTION: &'static str = "PollChains";
    fn kind(&self) -> &'static str {
        match self {
            InvocationError::NoChains => "NoChains",
            InvocationError::WrongChain { .. } => "WrongChain",
            InvocationError::NothingScanned { .. } => "NothingScanned",
        }
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    /// `errorType` names the failure (`PollChains.NothingScanned`);
    /// `errorMessage` is the redacted text.
    fn from(error: InvocationError) -> Self {
        diagnostic(&error)
    }
}

/// The scheduled function: a [`PollChains`] over every configured chain,
/// each chain scanned once its node is verified.
pub struct PollChainsLambda<S, Q> {
    poller: PollChains<S, Q>,
    /// Run once at the start of each invocation (every minute).
    recovery: Option<RecoverDeposits<S, Q>>,
    /// Per chain of `poller.chains()`.
    nodes: Vec<Mutex<Node>>,
    /// Per chain: when its cursor last moved or was found at the confirmed
    /// head (the cold start, until the first successful scan). Kept across
    /// invocations: the schedule keeps the instance warm.
    progress: Vec<Mutex<Instant>>,
    redactor: RpcUrls,
    pub interval: Duration,
    pub safety_margin: Duration,
    pub scan_timeout: Duration,
    /// How node verification retries (briefly: it is tried again later).
    pub verify_retry: RetryPolicy,
    ambient: Ambient,
}

impl<S: ChainStore, Q: Queue> PollChainsLambda<S, Q> {
    /// Every chain starts unverified; `redactor` holds the URLs to keep
    /// out of logs and results.
    pub fn new(poller: PollChains<S, Q>, redactor: RpcUrls, interval: Duration) -> Self {
        let nodes = poller.chains().iter().map(|_| Mutex::new(Node::Unverified)).collect();
        let started = Instant::now();
        let progress = poller.chains().iter().map(|_| Mutex::new(started)).collect();
        Self {
            poller,
            recovery: None,
            nodes,
            progress,
            redactor,
            interval,
            safety_margin: SAFETY_MARGIN,
            scan_timeout: SCAN_TIMEOUT,
            verify_retry: RetryPolicy { attempts: 2, first_backoff: Duration::from_millis(250) },
            ambient: Ambient::default(),
        }
    }

    /// Takes the time and fresh ids from `ambient` (the system's by default).
    pub fn with_ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
    }

    pub fn poller(&self) -> &PollChains<S, Q> {
        &self.poller
    }

    /// Also runs the deposit recovery sweep once per invocation.
    pub fn with_recovery_sweep(mut self, recovery: RecoverDeposits<S, Q>) -> Self {
        self.recovery = Some(recovery);
        self
    }

    /// The recovery sweep, if configured: deposits not routed to their end
    /// in time are queued again. Its failure fails no scan (the next
    /// invocation sweeps again), but is logged at `error`.
    async fn recover(&self, budget: Duration) -> u64 {
        let Some(recovery) = &self.recovery else { return 0 };
        // Boxed: the store's and queue's SDK futures nested inside the
        // invocation's are deeper than the compiler's layout limit.
        match tokio::time::timeout(budget, Box::pin(recovery.run_once(self.ambient.now()))).await {
            Ok(Ok(report)) => {
                if report.requeued + report.contended > 0 {
                    tracing::warn!(requeued = report.requeued, contended = report.contended, "deposits recovered");
                }
                (report.requeued + report.contended) as u64
            }
            Ok(Err(error)) => {
                tracing::error!(error = %self.redactor.redact_chain(&error), "the deposit recovery sweep failed");
                0
            }
            Err(_elapsed) => {
                tracing::error!(?budget, "the deposit recovery sweep took too long; the next invocation continues");
                0
            }
        }
    }

    /// Checks the chain id of every unverified node, concurrently. A node
    /// on another chain is an error (and its chain is never scanned); an
    /// unreachable one is logged and tried again before its next scan.
    pub async fn verify_chains(&self) -> Result<(), InvocationError> {
        let checks = self.poller.chains().iter().enumerate().map(|(index, watched)| self.verify(index, watched));
        let outcomes = futures::future::join_all(checks).await;
        for (watched, outcome) in self.poller.chains().iter().zip(outcomes) {
            match outcome {
                Ok(()) => tracing::info!(chain = %watched.chain.id, "RPC node verified"),
                Err(ChainError::WrongChain { chain, actual }) => {
                    return Err(InvocationError::WrongChain { chain, actual });
                }
                Err(error) => {
                    let error = self.redactor.redact_chain(&error);
                    tracing::error!(chain = %watched.chain.id, %error, "RPC node not verified; tried again before each scan");
                }
            }
        }
        Ok(())
    }

    fn node(&self, index: usize) -> Node {
        *self.nodes[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_node(&self, index: usize, node: Node) {
        *self.nodes[index].lock().unwrap_or_else(PoisonError::into_inner) = node;
    }

    /// Verifies chain `index` unless it already is; `Ok` when it may be
    /// scanned. The caller logs failures.
    async fn verify(&self, index: usize, watched: &WatchedChain) -> Result<(), ChainError> {
        let chain = watched.chain.id;
        match self.node(index) {
            Node::Verified => return Ok(()),
            Node::WrongChain(actual) => return Err(ChainError::WrongChain { chain, actual }),
            Node::Unverified => {}
        }
        let client = watched.client.clone().with_retry(self.verify_retry);
        let verified = client.verify_chain_id().await;
        match &verified {
            Ok(()) => self.set_node(index, Node::Verified),
            Err(ChainError::WrongChain { actual, .. }) => self.set_node(index, Node::WrongChain(*actual)),
            Err(_unreachable) => {}
        }
        verified
    }

    /// Scans every chain every `interval` until `safety_margin` before
    /// `deadline`. Fails when there are no chains, or when nothing at all
    /// could be scanned.
    pub async fn run_until(&self, deadline: Instant) -> Result<PollSummary, InvocationError> {
        if self.poller.chains().is_empty() {
            return Err(InvocationError::NoChains);
        }
        let started = Instant::now();
        let stop_at = deadline.checked_sub(self.safety_margin).unwrap_or(started);
        // The sweep first: it reads one index page and sends a message per
        // deposit due, normally nothing at all.
        let deposits_recovered = self.recover(stop_at.saturating_duration_since(started).min(self.scan_timeout)).await;
        let loops =
            self.poller.chains().iter().enumerate().map(|(index, watched)| self.chain_loop(index, watched, stop_at));
        let chains = futures::future::join_all(loops).await;
        emit_metrics(&chains);
        let summary = PollSummary {
            deposits_recovered,
            scans: chains.iter().map(|c| c.scans).sum(),
            failed_scans: chains.iter().map(|c| c.failed_scans).sum(),
            transfers: chains.iter().map(|c| c.transfers).sum(),
            deposits_enqueued: chains.iter().map(|c| c.deposits_enqueued).sum(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            chains,
        };
        let succeeded = summary.scans - summary.failed_scans;
        if succeeded == 0 && summary.failed_scans > 0 {
            let first = summary.chains.iter().find_map(|c| c.errors.first()).cloned().unwrap_or_default();
            return Err(InvocationError::NothingScanned {
                failed: summary.failed_scans,
                first,
                summary: Box::new(summary),
            });
        }
        Ok(summary)
    }

    /// One chain's scans until `stop_at`, one every `interval` (at once
    /// after a scan that took longer).
    async fn chain_loop(&self, index: usize, watched: &WatchedChain, stop_at: Instant) -> ChainSummary {
        let mut summary = ChainSummary { chain_id: watched.chain.id.get(), ..ChainSummary::default() };
        run_until(Deadline::at(stop_at), self.interval, async |left| {
            let budget = left.min(self.scan_timeout);
            summary.scans += 1;
            let attempt = async {
                self.verify(index, watched).await.map_err(|e| self.redactor.redact_chain(&e))?;
                self.poller.scan(watched, self.ambient.now()).await.map_err(|e| self.redactor.redact_chain(&e))
            };
            match tokio::time::timeout(budget, attempt).await {
                Ok(Ok(report)) => {
                    summary.transfers += report.transfers as u64;
                    summary.deposits_enqueued += report.deposits_enqueued as u64;
                    if let Some((_from, to)) = report.scanned {
                        summary.last_scanned_block = Some(to);
                    }
                    summary.blocks_behind = Some(report.blocks_behind);
                    // Moved, or nothing new was confirmed: not stalled.
                    *self.progress[index].lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                }
                Ok(Err(message)) => {
                    summary.failed_scans += 1;
                    tracing::error!(chain = %watched.chain.id, error = %message, "chain scan failed");
                    summary.error(message);
                }
                Err(_elapsed) => {
                    summary.failed_scans += 1;
                    let message = format!("a scan of chain {} took longer than {budget:?}", watched.chain.id);
                    tracing::warn!(chain = %watched.chain.id, "{message}; dropped, the next scan resumes");
                    summary.error(message);
                }
            }
        })
        .await;
        summary.verified = self.node(index) == Node::Verified;
        let progress = *self.progress[index].lock().unwrap_or_else(PoisonError::into_inner);
        summary.seconds_since_cursor_advanced = progress.elapsed().as_secs();
        summary
    }

    /// One scheduled invocation: `event` (the EventBridge schedule event,
    /// or anything when invoked by hand) is only logged.
    pub async fn handle(
        &self,
        event: &serde_json::Value,
        deadline: SystemTime,
    ) -> Result<PollSummary, InvocationError> {
        let deadline = Deadline::before(deadline, Duration::ZERO);
        tracing::debug!(
            event_id = event["id"].as_str().unwrap_or(""),
            time = event["time"].as_str().unwrap_or(""),
            left = ?deadline.remaining(),
            "polling"
        );
        let outcome = self.run_until(deadline.instant()).await;
        match &outcome {
            Ok(summary) => tracing::info!(
                scans = summary.scans,
                failed_scans = summary.failed_scans,
                transfers = summary.transfers,
                deposits_enqueued = summary.deposits_enqueued,
                "poll finished"
            ),
            Err(error) => tracing::error!(%error, "poll failed"),
        }
        outcome
    }
}

impl PollChainsLambda<DynamoStore, SqsQueue> {
    /// The cold start: the table, the deposit queue and a client per
    /// configured chain, every node's chain id checked.
    pub async fn from_config(config: WorkerConfig) -> Result<Self, BoxError> {
        let store = DynamoStore::from_env(config.table_name).await;
        let queue = SqsQueue::from_env(config.deposit_queue_url).await;
        let mut chains = Vec::new();
        for (chain_id, url) in config.rpc_urls.iter() {
            // `FERRY_RPC_URLS` holds only chains of the registry.
            let chain = config.registry.chain(chain_id).ok_or("a configured chain left the registry")?.clone();
            let client = EvmClient::connect(chain_id, url.expose()).map_err(|e| config.rpc_urls.redact_chain(&e))?;
            chains.push(WatchedChain { chain, client });
        }
        let recovery = RecoverDeposits::new(store.clone(), queue.clone(), RecoveryPolicy::STANDARD);
        let poller = PollChains::new(store, queue, chains).with_late_deposit_window(config.late_deposit_window);
        let function = Self::new(poller, config.rpc_urls, config.poll_interval).with_recovery_sweep(recovery);
        function.verify_chains().await?;
        Ok(function)
    }
}
