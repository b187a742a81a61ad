//! A payer's transaction hint (`PUT /v1/sessions/{id}/check` with a
//! `txHash`), looked up at once so the payer does not wait for the next scan.
//!
//! The hint is answered inside an HTTP request, so it is bounded: every
//! chain is asked at the same time (an EVM receiver has the same address on
//! every chain, so the session does not say which chain was paid), each RPC
//! call once — no retries — and within [`HINT_CALL_TIMEOUT`], and the whole
//! lookup within [`HINT_BUDGET`], well inside the function's 10 s. A chain
//! that answers in time has its transfers recorded as soon as it answers;
//! the chains still pending when the budget runs out are left to the chain
//! scan, which finds the deposit anyway. A hint costs at most two RPC calls
//! per chain.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ferry_chains::evm::client::{ChainError, EvmClient, RetryPolicy, TokenTransfer};
use ferry_domain::{Chain, ChainId, EvmAddress, Timestamp, TxHash};
use ferry_queue::Queue;
use ferry_store::{DepositStore, SessionStore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{DepositDetector, WatchError, WatchedChain};

/// How long a whole hint lookup may take, all chains together.
pub const HINT_BUDGET: Duration = Duration::from_secs(4);
/// How long one RPC call of a hint lookup may take (the HTTP timeout of the
/// clients built for it, and a timer around each call whatever the client).
pub const HINT_CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// A hint's RPC calls are tried once.
pub const HINT_RETRY: RetryPolicy = RetryPolicy { attempts: 1, first_backoff: Duration::ZERO };

/// What a hint lookup found, chain by chain.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HintOutcome {
    /// Deposits recorded and enqueued for the router.
    pub enqueued: usize,
    /// Chains that had not answered when the budget ran out.
    pub timed_out: Vec<ChainId>,
    /// Chains whose node (or the store, or the queue) failed; logged.
    pub failed: Vec<ChainId>,
}

/// Looks a payer's transaction up on the watched chains.
pub trait TxHintLookup: Send + Sync {
    /// Detects the confirmed transfers of `tx_hash` into `receiver`, within
    /// the lookup's budget.
    fn look_up<'a>(
        &'a self,
        tx_hash: TxHash,
        receiver: EvmAddress,
        now: Timestamp,
    ) -> Pin<Box<dyn Future<Output = HintOutcome> + Send + 'a>>;
}

/// [`TxHintLookup`] over the watched chains (module docs).
pub struct ChainTxLookup<S, Q> {
    detector: DepositDetector<S, Q>,
    chains: Vec<WatchedChain>,
    budget: Duration,
    call_timeout: Duration,
}

impl<S, Q> ChainTxLookup<S, Q> {
    /// A lookup over `chains`, whose clients are used without retries
    /// whatever their own policy.
    pub fn new(detector: DepositDetector<S, Q>, chains: Vec<WatchedChain>) -> Self {
        let chains = chains
            .into_iter()
            .map(|watched| WatchedChain { chain: watched.chain, client: watched.client.with_retry(HINT_RETRY) })
            .collect();
        Self { detector, chains, budget: HINT_BUDGET, call_timeout: HINT_CALL_TIMEOUT }
    }

    /// Another budget and per-call timeout (tests).
    pub fn with_limits(mut self, budget: Duration, call_timeout: Duration) -> Self {
        self.budget = budget;
        self.call_timeout = call_timeout;
        self
    }
}

/// The confirmed transfers of `tx_hash` into `receiver` on one chain: at
/// most one receipt and one head request, each within `call_timeout`.
async fn confirmed_transfers(
    client: EvmClient,
    confirmations: u64,
    tx_hash: TxHash,
    receiver: EvmAddress,
    call_timeout: Duration,
) -> Result<Vec<TokenTransfer>, LookupError> {
    let Some(transfers) = within(call_timeout, client.transfers_in_transaction(tx_hash.into_inner())).await? else {
        return Ok(Vec::new());
    };
    let mut transfers: Vec<TokenTransfer> =
        transfers.into_iter().filter(|transfer| transfer.to == receiver.into_inner()).collect();
    if transfers.is_empty() {
        return Ok(transfers);
    }
    let head = within(call_timeout, client.block_number()).await?;
    // Not final yet: the scan takes it once it is confirmed.
    transfers.retain(|transfer| head.saturating_sub(transfer.block_number) >= confirmations);
    Ok(transfers)
}

/// `call`, unless it takes longer than `limit`.
async fn within<T>(limit: Duration, call: impl Future<Output = Result<T, ChainError>>) -> Result<T, LookupError> {
    Ok(tokio::time::timeout(limit, call).await.map_err(|_| LookupError::CallTimeout)??)
}

#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("an RPC call took longer than the hint's per-call timeout")]
    CallTimeout,
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl<S: SessionStore + DepositStore, Q: Queue> TxHintLookup for ChainTxLookup<S, Q> {
    fn look_up<'a>(
        &'a self,
        tx_hash: TxHash,
        receiver: EvmAddress,
        now: Timestamp,
    ) -> Pin<Box<dyn Future<Output = HintOutcome> + Send + 'a>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.budget;
            let mut pending: JoinSet<(usize, Result<Vec<TokenTransfer>, LookupError>)> = JoinSet::new();
            for (index, watched) in self.chains.iter().enumerate() {
                let (client, confirmations) = (watched.client.clone(), watched.chain.confirmations);
                let call_timeout = self.call_timeout;
                pending.spawn(async move {
                    (index, confirmed_transfers(client, confirmations, tx_hash, receiver, call_timeout).await)
                });
            }
            let mut outcome = HintOutcome::default();
            let mut answered = vec![false; self.chains.len()];
            // Each chain's transfers are recorded as soon as it answers.
            while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, pending.join_next()).await {
                let Ok((index, result)) = joined else { continue };
                answered[index] = true;
                let chain = &self.chains[index].chain;
                match result {
                    Ok(transfers) => match self.record(chain, &transfers, now).await {
                        Ok(enqueued) => outcome.enqueued += enqueued,
                        Err(error) => {
                            tracing::warn!(chain = %chain.id, %tx_hash, %error, "hinted transfer not recorded");
                            outcome.failed.push(chain.id);
                        }
                    },
                    Err(error) => {
                        tracing::warn!(chain = %chain.id, %tx_hash, %error, "hinted transaction lookup failed");
                        outcome.failed.push(chain.id);
                    }
                }
            }
            pending.abort_all();
            let unanswered = self.chains.iter().zip(&answered).filter(|(_, answered)| !**answered);
            outcome.timed_out = unanswered.map(|(watched, _)| watched.chain.id).collect();
            outcome.failed.sort();
            outcome
        })
    }
}

impl<S: SessionStore + DepositStore, Q: Queue> ChainTxLookup<S, Q> {
    async fn record(&self, chain: &Chain, transfers: &[TokenTransfer], now: Timestamp) -> Result<usize, WatchError> {
        let mut enqueued = 0;
        for transfer in transfers {
            if self.detector.detect(chain, transfer, now).await? {
                enqueued += 1;
            }
        }
        Ok(enqueued)
    }
}
