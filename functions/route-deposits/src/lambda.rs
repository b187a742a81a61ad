//! The deployed `route-deposits`: the SQS event source mapping hands it up
//! to 10 `RouteDeposit` messages; each is routed in turn, and those that
//! fail come back as batch item failures, so SQS redelivers only them (and
//! after `maxReceiveCount` receives moves them to the dead-letter queue).
//!
//! One relayer address sends on every chain, so the function runs at most
//! once at a time (`ReservedConcurrentExecutions: 1` in `template.yaml`):
//! the relayer's nonces are handed out in this process, and a second
//! concurrent instance would race it for them.
//!
//! A message is not started with less than [`MIN_MESSAGE_BUDGET`] left
//! before the invocation's deadline: it is reported failed and comes back
//! after the visibility timeout. One that runs into the deadline is dropped
//! like a crash, which routing is built to survive (every step is recorded
//! or checked on chain before it is repeated).
//!
//! Failures are reported and logged with every configured RPC URL
//! redacted: providers put API keys in them, and HTTP client errors quote
//! the URL they failed for.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::signers::Signer;
use ferry_chains::evm::relayer::{EthereumWallet, Relayer, kms_signer, local_wallet};
use ferry_config::{RelayerSigner, RpcUrls, WorkerConfig};
use ferry_domain::{RouteDeposit, Timestamp};
use ferry_queue::lambda::{SqsBatchResponse, SqsEvent, process_typed_batch};
use ferry_store::ChainStore;
use ferry_store::dynamodb::DynamoStore;

use crate::RouteDeposits;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Kept free before the invocation's deadline, to answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// A message is only started with at least this long left: a sweep or
/// payout waits for its transaction to be mined.
pub const MIN_MESSAGE_BUDGET: Duration = Duration::from_secs(15);

/// Why one message was reported as failed. Its text is already redacted,
/// and it has no source: `ferry_queue::lambda` logs an error's whole source
/// chain, which is where URLs would hide.
#[derive(Debug, thiserror::Error)]
pub enum MessageFailed {
    #[error("{0}")]
    Routing(String),
    #[error("routing took longer than the {0:?} left in the invocation; dropped, it will be retried")]
    OutOfTime(Duration),
    #[error("deferred: less than {MIN_MESSAGE_BUDGET:?} left in the invocation")]
    Deferred,
}

/// Now, as the store records it.
pub fn now() -> Timestamp {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0);
    Timestamp::from_unix_seconds(seconds)
}

/// Routes every message of `event` with `router`, one after the other,
/// none started after `stop_at` minus [`MIN_MESSAGE_BUDGET`] and none
/// running past `stop_at`; returns the messages to redeliver.
pub async fn route_batch<S: ChainStore>(
    router: &RouteDeposits<S>,
    event: SqsEvent,
    stop_at: Instant,
    redactor: &RpcUrls,
) -> SqsBatchResponse {
    process_typed_batch(event, |message: RouteDeposit| async move {
        let budget = stop_at.checked_duration_since(Instant::now()).unwrap_or_default();
        if budget < MIN_MESSAGE_BUDGET {
            return Err(MessageFailed::Deferred);
        }
        match tokio::time::timeout(budget, router.route(&message.deposit_id, now())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(MessageFailed::Routing(redactor.redact_chain(&error))),
            Err(_elapsed) => Err(MessageFailed::OutOfTime(budget)),
        }
    })
    .await
}

/// The SQS-triggered function: the router and what to keep out of logs.
pub struct RouteFunction<S> {
    pub router: RouteDeposits<S>,
    redactor: RpcUrls,
    pub safety_margin: Duration,
}

impl<S: ChainStore> RouteFunction<S> {
    pub fn new(router: RouteDeposits<S>, redactor: RpcUrls) -> Self {
        Self { router, redactor, safety_margin: SAFETY_MARGIN }
    }

    /// One invocation: the batch, routed before `deadline` (the Lambda
    /// context's) minus the safety margin.
    pub async fn handle(&self, event: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
        let left = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        let stop_at = Instant::now() + left.saturating_sub(self.safety_margin);
        let messages = event.records.len();
        let response = route_batch(&self.router, event, stop_at, &self.redactor).await;
        tracing::info!(messages, failed = response.batch_item_failures.len(), "batch routed");
        response
    }
}

impl RouteFunction<DynamoStore> {
    /// The cold start: the table, and a relayer on each configured chain
    /// whose signer (the KMS key, or locally a private key) is bound to
    /// that chain's id, so a node serving another chain cannot get a
    /// transaction signed.
    pub async fn from_config(config: WorkerConfig) -> Result<Self, BoxError> {
        let store = DynamoStore::from_env(config.table_name).await;
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
        if let Some(relayer) = relayers.first() {
            tracing::info!(relayer = %relayer.address(), chains = relayers.len(), "relayer ready");
        }
        let mut router = RouteDeposits::new(store, relayers, config.treasury);
        router.tolerance = config.tolerance;
        router.call_gas = config.call_gas;
        Ok(Self::new(router, config.rpc_urls))
    }
}
