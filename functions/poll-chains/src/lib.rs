//! `poll-chains` (scheduled): watches every configured EVM chain for
//! stablecoin transfers into sessions' deposit addresses.
//!
//! Per chain, a cursor in the store remembers the last scanned block. Each
//! cycle reads the `Transfer` logs of the chain's stablecoins over the
//! confirmed blocks since then — `eth_blockNumber` plus one `eth_getLogs`
//! per block chunk, however many sessions are open — matches recipients
//! against the receivers of sessions (kept in memory and refreshed from the
//! store's receiver log, so the store is read only for transfers into
//! them; [`ferry_watch::WatchedReceivers`]), records each deposit once
//! (`chainId:txHash:logIndex`) and enqueues it for the router. The cursor
//! moves only after that, so a crash rescans and re-enqueues (the router is
//! idempotent) rather than missing a deposit. A session's receiver is watched
//! until its late-deposit window ends ([`ferry_watch`]).

pub mod lambda;
pub mod summary;

use std::time::Duration;

use alloy::primitives::Address;
use ferry_domain::Timestamp;
use ferry_queue::Queue;
use ferry_store::{ChainCursor, ChainStore};
pub use ferry_watch::WatchedChain;
use ferry_watch::{DepositDetector, WatchError, WatchedReceivers};

/// Why a scan failed: the node, the store or the queue, as for any detection.
pub type PollError = WatchError;

/// What one chain's scan did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Blocks `from..=to` were scanned (`None`: nothing new was confirmed).
    pub scanned: Option<(u64, u64)>,
    pub transfers: usize,
    pub deposits_enqueued: usize,
    /// Confirmed blocks still beyond the cursor after this scan (a cycle
    /// scans at most `max_blocks_per_cycle`): how far the chain is behind.
    pub blocks_behind: u64,
}

pub struct PollChains<S, Q> {
    store: S,
    detector: DepositDetector<S, Q>,
    /// The receivers watched, in memory: a scan reads the store only for
    /// transfers into them (plus one read of the claims since the last scan).
    receivers: WatchedReceivers,
    chains: Vec<WatchedChain>,
    /// How far back the very first scan of a chain starts below its head.
    pub initial_lookback: u64,
    /// The most blocks one cycle scans per chain, so a cycle stays short
    /// after downtime; the next cycle continues.
    pub max_blocks_per_cycle: u64,
}

impl<S: ChainStore, Q: Queue> PollChains<S, Q> {
    pub fn new(store: S, queue: Q, chains: Vec<WatchedChain>) -> Self {
        Self {
            detector: DepositDetector::new(store.clone(), queue),
            receivers: WatchedReceivers::new(ferry_domain::Session::DEFAULT_LATE_DEPOSIT_WINDOW),
            store,
            chains,
            initial_lookback: 1_000,
            max_blocks_per_cycle: 10_000,
        }
    }

    /// How long after its `expiresAt` a final session's receiver is still
    /// watched (default 7 days).
    pub fn with_late_deposit_window(mut self, window: Duration) -> Self {
        self.detector = self.detector.with_late_deposit_window(window);
        self.receivers = WatchedReceivers::new(window);
        self
    }

    /// When deposits it records are due for the recovery sweep (default
    /// [`ferry_watch::RecoveryPolicy::STANDARD`]).
    pub fn with_recovery(mut self, policy: ferry_watch::RecoveryPolicy) -> Self {
        self.detector = self.detector.with_recovery(policy);
        self
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
        let enqueued = self.detector.detect_watched(chain, &transfers, now, &self.receivers).await?;
        self.store.advance_cursor(cursor, ChainCursor { chain_id: chain.id, last_scanned_block: to }).await?;
        tracing::debug!(chain = %chain.id, from, to, transfers = transfers.len(), enqueued, "chain scanned");
        Ok(ScanReport {
            scanned: Some((from, to)),
            transfers: transfers.len(),
            deposits_enqueued: enqueued,
            blocks_behind: confirmed - to,
        })
    }
}
