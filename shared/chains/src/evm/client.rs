//! Reading EVM chains: the head, stablecoin `Transfer` logs over a block
//! range (chunked, retried with backoff), and the transfers of one
//! transaction. Every RPC call is counted, so a benchmark can show that a
//! scan's cost does not depend on how many sessions are open.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use alloy::transports::TransportError;
use ferry_domain::ChainId;

use crate::redact::Redacted;

use super::contracts::IERC20;
use super::transport::{RpcOptions, rpc_client};

pub use ferry_runtime::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("the RPC URL for chain {chain} is invalid")]
    InvalidUrl {
        chain: ChainId,
        #[source]
        source: BoxError,
    },
    #[error("{call} on chain {chain} failed after {attempts} attempts")]
    Rpc {
        chain: ChainId,
        call: &'static str,
        attempts: u32,
        #[source]
        source: Redacted,
    },
    #[error("a log on chain {chain} is not a well-formed Transfer")]
    MalformedLog {
        chain: ChainId,
        #[source]
        source: BoxError,
    },
    #[error("{call} on chain {chain} answered something malformed")]
    MalformedResponse {
        chain: ChainId,
        call: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{what} on chain {chain} failed")]
    Transaction {
        chain: ChainId,
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("chain {chain} reports id {actual}")]
    WrongChain { chain: ChainId, actual: u64 },
    #[error("cannot build the HTTP client for chain {chain}")]
    HttpClient {
        chain: ChainId,
        #[source]
        source: BoxError,
    },
}

/// How long one HTTP request to a node may take unless the caller chooses:
/// a node that accepts the connection and never answers fails the call
/// (and lets the retry policy act) instead of holding it forever.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of every RPC provider Ferry builds: each request,
/// connecting included, gives up after `timeout`.
pub fn http_client(
    chain_id: ChainId,
    timeout: Duration,
) -> Result<alloy::transports::http::reqwest::Client, ChainError> {
    alloy::transports::http::reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| ChainError::HttpClient { chain: chain_id, source: Box::new(e) })
}

/// One ERC-20 transfer, as a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenTransfer {
    pub token: Address,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    pub tx_hash: B256,
    pub log_index: u64,
    pub block_number: u64,
}

/// How RPC calls are retried: `attempts` tries, the wait doubling from
/// `first_backoff`.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 5, first_backoff: Duration::from_millis(200) }
    }
}

/// A read-only connection to one chain.
#[derive(Clone)]
pub struct EvmClient {
    chain_id: ChainId,
    provider: DynProvider,
    calls: Arc<AtomicU64>,
    retry: RetryPolicy,
    /// The widest block range one `eth_getLogs` asks for.
    pub max_block_range: u64,
}

impl EvmClient {
    /// A worker's client ([`RpcOptions::WORKER`]): requests time out after
    /// [`DEFAULT_HTTP_TIMEOUT`], transient failures are retried inside each call.
    pub fn connect(chain_id: ChainId, url: &str) -> Result<Self, ChainError> {
        Self::connect_with(chain_id, url, RpcOptions::WORKER)
    }

    /// A client whose every HTTP request gives up after `timeout`, tried once.
    pub fn connect_with_timeout(chain_id: ChainId, url: &str, timeout: Duration) -> Result<Self, ChainError> {
        Self::connect_with(chain_id, url, RpcOptions::one_try(timeout))
    }

    pub fn connect_with(chain_id: ChainId, url: &str, options: RpcOptions) -> Result<Self, ChainError> {
        let client = rpc_client(chain_id, url, options)?;
        let provider = ProviderBuilder::new().disable_recommended_fillers().connect_client(client).erased();
        Ok(Self { chain_id, provider, calls: Arc::default(), retry: RetryPolicy::default(), max_block_range: 2_000 })
    }

    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// RPC calls made so far (each attempt counts).
    pub fn rpc_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub(super) async fn call<T, F, Fut>(&self, call: &'static str, mut attempt: F) -> Result<T, ChainError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let mut backoff = self.retry.first_backoff;
        let mut tried = 0;
        loop {
            tried += 1;
            self.calls.fetch_add(1, Ordering::Relaxed);
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) if tried < self.retry.attempts => {
                    let error = Redacted::of(&error);
                    tracing::warn!(chain = %self.chain_id, call, %error, ?backoff, "RPC call failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(error) => {
                    let source = Redacted::of(&error);
                    return Err(ChainError::Rpc { chain: self.chain_id, call, attempts: tried, source });
                }
            }
        }
    }

    /// Checks that the node serves the chain it is configured for.
    pub async fn verify_chain_id(&self) -> Result<(), ChainError> {
        let actual = self.call("eth_chainId", || self.provider.get_chain_id()).await?;
        if actual != self.chain_id.get() {
            return Err(ChainError::WrongChain { chain: self.chain_id, actual });
        }
        Ok(())
    }

    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.call("eth_blockNumber", || self.provider.get_block_number()).await
    }

    /// `owner`'s balance of the chain's native (gas) token, in wei, at the
    /// latest block.
    pub async fn native_balance(&self, owner: Address) -> Result<U256, ChainError> {
        self.call("eth_getBalance", || self.provider.get_balance(owner).into_future()).await
    }

    /// `Transfer` logs of `tokens` in blocks `from..=to`, in chain order,
    /// asking for at most `max_block_range` blocks at a time.
    pub async fn transfers(&self, tokens: &[Address], from: u64, to: u64) -> Result<Vec<TokenTransfer>, ChainError> {
        let mut transfers = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(self.max_block_range.max(1) - 1));
            let filter = Filter::new()
                .address(tokens.to_vec())
                .event_signature(IERC20::Transfer::SIGNATURE_HASH)
                .from_block(start)
                .to_block(end);
            let logs = self.call("eth_getLogs", || self.provider.get_logs(&filter)).await?;
            for log in logs {
                transfers.push(self.decode(&log)?);
            }
            start = end + 1;
        }
        Ok(transfers)
    }

    /// The `Transfer` logs of one mined transaction (`None`: not mined, or unknown).
    pub async fn transfers_in_transaction(&self, tx_hash: B256) -> Result<Option<Vec<TokenTransfer>>, ChainError> {
        let receipt = self.call("eth_getTransactionReceipt", || self.provider.get_transaction_receipt(tx_hash)).await?;
        let Some(receipt) = receipt else { return Ok(None) };
        let mut transfers = Vec::new();
        for log in receipt.inner.logs() {
            if log.topic0() == Some(&IERC20::Transfer::SIGNATURE_HASH) {
                transfers.push(self.decode(log)?);
            }
        }
        Ok(Some(transfers))
    }

    fn decode(&self, log: &Log) -> Result<TokenTransfer, ChainError> {
        let malformed = |source: BoxError| ChainError::MalformedLog { chain: self.chain_id, source };
        let decoded = log.log_decode::<IERC20::Transfer>().map_err(|e| malformed(Box::new(e)))?;
        let (Some(tx_hash), Some(log_index), Some(block_number)) =
            (log.transaction_hash, log.log_index, log.block_number)
        else {
            return Err(malformed("a pending log has no position".into()));
        };
        let transfer = decoded.inner.data;
        Ok(TokenTransfer {
            token: log.address(),
            from: transfer.from,
            to: transfer.to,
            value: transfer.value,
            tx_hash,
            log_index,
            block_number,
        })
    }
}
