//! `poll-chains` (scheduled): watches every configured EVM chain for
//! stablecoin transfers into sessions' deposit addresses.
//!
//! Per chain, a cursor in the store remembers the last scanned block. Each
//! cycle reads the `Transfer` logs of the chain's stablecoins over the
//! confirmed blocks since then — `eth_blockNumber` plus one `eth_getLogs`
//! per block chunk, however many sessions are open — matches recipients
//! against the receivers of sessions, records each deposit once
//! (`chainId:txHash:logIndex`) and enqueues it for the router. The cursor
//! moves only after that, so a crash rescans and re-enqueues (the router is
//! idempotent) rather than missing a deposit.

use alloy::primitives::Address;
use ferry_chains::evm::client::{ChainError, EvmClient, TokenTransfer};
use ferry_domain::{BaseUnits, Chain, Deposit, EvmAddress, RouteDeposit, Timestamp, TxHash};
use ferry_queue::{Queue, QueueError, TypedQueue};
use ferry_store::{ChainCursor, ChainStore, DepositRecord, DepositState, Recorded, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// One chain to watch: its registry entry and a client for its node.
pub struct WatchedChain {
    pub chain: Chain,
    pub client: EvmClient,
}

/// What one chain's scan did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Blocks `from..=to` were scanned (`None`: nothing new was confirmed).
    pub scanned: Option<(u64, u64)>,
    pub transfers: usize,
    pub deposits_enqueued: usize,
}

pub struct PollChains<S, Q> {
    store: S,
    queue: TypedQueue<Q, RouteDeposit>,
    chains: Vec<WatchedChain>,
    /// How far back the very first scan of a chain starts below its head.
    pub initial_lookback: u64,
    /// The most blocks one cycle scans per chain, so a cycle stays short
    /// after downtime; the next cycle continues.
    pub max_blocks_per_cycle: u64,
}

impl<S: ChainStore, Q: Queue> PollChains<S, Q> {
    pub fn new(store: S, queue: Q, chains: Vec<WatchedChain>) -> Self {
        Self { store, queue: TypedQueue::new(queue), chains, initial_lookback: 1_000, max_blocks_per_cycle: 10_000 }
    }

    pub fn chains(&self) -> &[WatchedChain] {
        &self.chains
    }

    /// Scans every chain once; one failing chain does not stop the others.
    pub async fn run_cycle(&self, now: Timestamp) -> Vec<Result<ScanReport, PollError>> {
        let mut reports = Vec::with_capacity(self.chains.len());
        for watched in &self.chains {
            let report = self.scan(watched, now).await;
            if let Err(error) = &report {
                tracing::error!(chain = %watched.chain.id, error = %error, "chain scan failed");
            }
            reports.push(report);
        }
        reports
    }

    /// Scans one chain from its cursor up to its confirmed head.
    pub async fn scan(&self, watched: &WatchedChain, now: Timestamp) -> Result<ScanReport, PollError> {
        let chain = &watched.chain;
        let head = watched.client.block_number().await?;
        let confirmed = head.saturating_sub(chain.confirmations);
        let cursor = self.store.get_cursor(chain.id).await?;
        let from = match cursor {
            Some(cursor) => cursor.last_scanned_block + 1,
            None => confirmed.saturating_sub(self.initial_lookback),
        };
        if from > confirmed {
            return Ok(ScanReport::default());
        }
        let to = confirmed.min(from.saturating_add(self.max_blocks_per_cycle.max(1) - 1));
        let tokens: Vec<Address> = chain.tokens.iter().map(|token| token.address.into_inner()).collect();
        let transfers = watched.client.transfers(&tokens, from, to).await?;
        let mut enqueued = 0;
        for transfer in &transfers {
            if self.record(chain, transfer, now).await? {
                enqueued += 1;
            }
        }
        self.store.advance_cursor(cursor, ChainCursor { chain_id: chain.id, last_scanned_block: to }).await?;
        tracing::debug!(chain = %chain.id, from, to, transfers = transfers.len(), enqueued, "chain scanned");
        Ok(ScanReport { scanned: Some((from, to)), transfers: transfers.len(), deposits_enqueued: enqueued })
    }

    /// Records a transfer into a session's receiver as a deposit and enqueues
    /// it, unless it was already routed. Returns whether it was enqueued.
    async fn record(&self, chain: &Chain, transfer: &TokenTransfer, now: Timestamp) -> Result<bool, PollError> {
        if transfer.value.is_zero() {
            return Ok(false);
        }
        let receiver = EvmAddress::new(transfer.to);
        let Some(session_id) = self.store.find_session_by_receiver(&receiver).await? else {
            return Ok(false);
        };
        let Some(token) = chain.token(&EvmAddress::new(transfer.token)) else {
            return Ok(false);
        };
        let Ok(amount) = u128::try_from(transfer.value) else {
            tracing::error!(chain = %chain.id, tx = %transfer.tx_hash, "transfer amount exceeds 128 bits; needs an operator");
            return Ok(false);
        };
        let deposit = Deposit {
            chain_id: chain.id,
            chain_name: chain.name.clone(),
            token: token.clone(),
            from: EvmAddress::new(transfer.from),
            receiver,
            amount: BaseUnits::new(amount),
            tx_hash: TxHash::new(transfer.tx_hash),
            log_index: transfer.log_index,
            block_number: transfer.block_number,
        };
        let record = DepositRecord { deposit, session_id, state: DepositState::Detected, recorded_at: now, version: 0 };
        let id = record.id();
        let enqueue = match self.store.record_deposit(&record).await? {
            Recorded::New => true,
            // Seen before: enqueue again only if it was never routed (a crash
            // between recording and enqueueing, or a lost message).
            Recorded::AlreadyRecorded => {
                let stored = self.store.get_deposit(&id).await?;
                stored.is_some_and(|stored| stored.state == DepositState::Detected)
            }
        };
        if enqueue {
            self.queue.send(&RouteDeposit { deposit_id: id.clone() }).await?;
            tracing::info!(%session_id, deposit = %id, "deposit detected");
        }
        Ok(enqueue)
    }
}
