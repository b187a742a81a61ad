//! The deployed `route-deposits`: the SQS event source mapping hands it up
//! to 10 `RouteDeposit` messages; each is handled in turn by the
//! [`DepositConsumer`], which answers every message itself: routed, or sent
//! again (deferred for lack of time, or after a failure with a backoff of
//! seconds), or moved to the dead-letter queue after its last attempt. A
//! message is reported as a batch item failure only when the queue itself
//! failed or its body is not a deposit message: then SQS redelivers it after
//! the visibility timeout, and `maxReceiveCount` bounds how often.
//!
//! One relayer address sends on every chain, so the function runs at most
//! once at a time (`ReservedConcurrentExecutions: 1` in `template.yaml`):
//! the relayer's nonces are handed out in this process, and a second
//! concurrent instance would race it for them.
//!
//! No message is started with less than [`MIN_MESSAGE_BUDGET`] left before
//! the invocation's deadline, and none runs past it: one cut short is a
//! failed attempt, which routing is built to survive (every step is recorded
//! or checked on chain before it is repeated).
//!
//! Failures are logged with every configured RPC URL redacted: providers
//! put API keys in them, and HTTP client errors quote the URL they failed
//! for.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use alloy::signers::Signer;
use ferry_chains::evm::relayer::{EthereumWallet, Relayer, kms_signer, local_wallet};
use ferry_config::{RelayerSigner, RpcUrls, WorkerConfig};
use ferry_domain::RouteDeposit;
use ferry_notify::Announcer;
use ferry_queue::lambda::{SqsBatchResponse, SqsEvent, process_typed_batch};
use ferry_queue::sqs::SqsQueue;
use ferry_queue::{Queue, QueueError};
use ferry_runtime::{Ambient, Clock, Deadline};
use ferry_store::ChainStore;
use ferry_store::dynamodb::DynamoStore;

use crate::RouteDeposits;
pub use crate::consumer::MIN_MESSAGE_BUDGET;
use crate::consumer::{DepositConsumer, Outcome};
use crate::funds::RelayerFunds;
use ferry_chains::evm::client::{EvmClient, RetryPolicy};

pub use ferry_runtime::BoxError;

/// Kept free before the invocation's deadline, to answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// The dead-letter queue the consumer moves a deposit to after its last
/// failed attempt (the deposit queue's redrive target).
pub const DEAD_LETTER_QUEUE_URL: &str = "FERRY_DEPOSIT_DEAD_LETTER_QUEUE_URL";

/// Handles every message of `event` with `consumer`, one after the other,
/// none started after `stop_at` minus [`MIN_MESSAGE_BUDGET`] and none
/// running past `stop_at`; returns the messages for SQS to redeliver.
pub async fn route_batch<S: ChainStore, Q: Queue>(
    consumer: &DepositConsumer<S, Q>,
    event: SqsEvent,
    stop_at: Instant,
    redactor: &RpcUrls,
    clock: &Clock,
) -> SqsBatchResponse {
    process_typed_batch(event, |message: RouteDeposit| async move {
        let budget = stop_at.checked_duration_since(Instant::now()).unwrap_or_default();
        let outcome: Result<Outcome, QueueError> =
            consumer.consume(&message, budget, clock.now(), |error| redactor.redact_chain(error)).await;
        outcome.map(|_handled| ())
    })
    .await
}

/// The SQS-triggered function: the consumer and what to keep out of logs.
pub struct RouteDepositsLambda<S, Q> {
    pub consumer: DepositConsumer<S, Q>,
    redactor: RpcUrls,
    pub safety_margin: Duration,
    /// The relayer's funds, read after a batch and emitted as metrics.
    funds: Option<RelayerFunds>,
    ambient: Ambient,
}

/// The longest the funds' read may take after a batch.
pub const FUNDS_BUDGET: Duration = Duration::from_secs(10);

impl<S: ChainStore, Q: Queue> RouteDepositsLambda<S, Q> {
    pub fn new(consumer: DepositConsumer<S, Q>, redactor: RpcUrls) -> Self {
        Self { consumer, redactor, safety_margin: SAFETY_MARGIN, funds: None, ambient: Ambient::default() }
    }

    /// Takes the time and fresh ids from `ambient` (the system's by default).
    pub fn with_ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
    }

    /// Also reads the relayer's funds after batches (at most once a minute)
    /// and emits them as metrics.
    pub fn with_funds(mut self, funds: RelayerFunds) -> Self {
        self.funds = Some(funds);
        self
    }

    /// The funds' metrics, if due and if the invocation has time left for
    /// them; never fails the batch (a chain that cannot be read is logged).
    async fn emit_funds(&self, stop_at: Instant) {
        let Some(funds) = &self.funds else { return };
        let budget = stop_at.saturating_duration_since(Instant::now()).min(FUNDS_BUDGET);
        if budget < Duration::from_secs(1) {
            return;
        }
        let read = funds.emit_if_due(|error| self.redactor.redact_chain(error));
        if tokio::time::timeout(budget, read).await.is_err() {
            tracing::warn!(?budget, "reading the relayer's funds took too long; read again after the next batch");
        }
    }

    /// One invocation: the batch, handled before `deadline` (the Lambda
    /// context's) minus the safety margin.
    pub async fn handle(&self, event: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
        let stop_at = Deadline::before(deadline, self.safety_margin).instant();
        let messages = event.records.len();
        let response = route_batch(&self.consumer, event, stop_at, &self.redactor, &self.ambient.clock).await;
        tracing::info!(messages, redelivered = response.batch_item_failures.len(), "batch handled");
        self.emit_funds(stop_at).await;
        response
    }
}

impl RouteDepositsLambda<DynamoStore, SqsQueue> {
    /// The cold start: the table, the deposit queue and its dead-letter
    /// queue, and a relayer on each configured chain
    /// whose signer (the KMS key, or locally a private key) is bound to
    /// that chain's id, so a node serving another chain cannot get a
    /// transaction signed.
    pub async fn from_config(config: WorkerConfig) -> Result<Self, BoxError> {
        let dead_letter_url = std::env::var(DEAD_LETTER_QUEUE_URL)
            .ok()
            .filter(|url| !url.is_empty())
            .ok_or_else(|| format!("environment variable {DEAD_LETTER_QUEUE_URL} is not set"))?;
        let store = DynamoStore::from_env(config.table_name).await;
        let queue = SqsQueue::from_env(config.deposit_queue_url).await;
        let dead_letters = SqsQueue::new(queue.client().clone(), dead_letter_url);
        let factory = config.receivers.factory;
        let mut relayers = Vec::new();
        match &config.relayer {
            RelayerSigner::Kms { key_id } => {
                let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let signer = kms_signer(aws_sdk_kms::Client::new(&aws), key_id.clone(), None).await?;
                for (chain_id, url) in config.rpc_urls.iter() {
                    let wallet = EthereumWallet::from(signer.clone().with_chain_id(Some(chain_id.get())));
                    let relayer = Relayer::connect(chain_id, url.expose(), wallet, factory)
                        .map_err(|e| config.rpc_urls.redact_chain(&e))?;
                    relayers.push(Arc::new(relayer));
                }
            }
            RelayerSigner::PrivateKey(key) => {
                tracing::warn!("the relayer signs with FERRY_RELAYER_PRIVATE_KEY: for local development only");
                for (chain_id, url) in config.rpc_urls.iter() {
                    let wallet = local_wallet(key.expose_secret(), Some(chain_id))?;
                    let relayer = Relayer::connect(chain_id, url.expose(), wallet, factory)
                        .map_err(|e| config.rpc_urls.redact_chain(&e))?;
                    relayers.push(Arc::new(relayer));
                }
            }
        }
        let mut funds = None;
        if let Some(relayer) = relayers.first() {
            tracing::info!(relayer = %relayer.address(), chains = relayers.len(), "relayer ready");
            let mut chains = Vec::new();
            for (chain_id, url) in config.rpc_urls.iter() {
                let chain = config.registry.chain(chain_id).ok_or("a configured chain left the registry")?.clone();
                // No retries: a chain not read now is read after a later batch.
                let client = EvmClient::connect_with_timeout(chain_id, url.expose(), FUNDS_BUDGET / 2)
                    .map_err(|e| config.rpc_urls.redact_chain(&e))?
                    .with_retry(RetryPolicy { attempts: 1, first_backoff: Duration::ZERO });
                chains.push((chain, client));
            }
            funds = Some(RelayerFunds::new(relayer.address(), chains));
        }
        let announcer = match &config.webhook_queue_url {
            Some(url) => Announcer::to_queue(SqsQueue::new(queue.client().clone(), url.clone())),
            None => Announcer::none(),
        };
        let mut router = RouteDeposits::new(store, relayers, config.treasury).announcing(announcer);
        router.tolerance = config.tolerance;
        router.call_gas = config.call_gas;
        let function = Self::new(DepositConsumer::new(router, queue, dead_letters), config.rpc_urls);
        Ok(match funds {
            Some(funds) => function.with_funds(funds),
            None => function,
        })
    }
}
