//! Turning chain transfers into deposits: a transfer of a supported
//! stablecoin into a session's receiver is recorded once
//! (`chainId:txHash:logIndex`) and enqueued for the router. Both ways of
//! finding transfers use it: the chain scan (`poll-chains`) and the payer's
//! transaction hint (`check-session`).
//!
//! A receiver is watched while its session is open or `processing`, and
//! after that for a late-deposit window past the session's `expiresAt`
//! ([`Session::is_watched`](ferry_domain::Session::is_watched)), so that a
//! late or second payment is still refunded. A transfer after the window is
//! not recorded: it is logged at `warn` and stays at the receiver, which
//! only the factory can sweep.

use std::collections::HashMap;
use std::time::Duration;

use ferry_chains::evm::client::{ChainError, EvmClient, TokenTransfer};
use ferry_domain::{
    BaseUnits, Chain, Deposit, DepositRecord, DepositState, EvmAddress, RouteDeposit, Session, SessionId, Timestamp,
    TxHash,
};
use ferry_queue::{Queue, QueueError, TypedQueue};
use ferry_store::{DepositStore, ReceiverLog, Recorded, SessionStore, StoreError};

mod hints;
pub mod receivers;
pub mod recovery;

pub use hints::{ChainTxLookup, HINT_BUDGET, HINT_CALL_TIMEOUT, HINT_RETRY, HintOutcome, TxHintLookup};
pub use receivers::{Refresh, WatchedReceivers};
pub use recovery::{RecoverDeposits, RecoveryPolicy, RecoveryReport};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
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

/// The recipients of the transfers that move anything (addresses may repeat).
fn paid_receivers(transfers: &[TokenTransfer]) -> Vec<EvmAddress> {
    transfers.iter().filter(|transfer| !transfer.value.is_zero()).map(|transfer| EvmAddress::new(transfer.to)).collect()
}

/// Records transfers into receivers as deposits and enqueues them.
pub struct DepositDetector<S, Q> {
    store: S,
    queue: TypedQueue<Q, RouteDeposit>,
    late_deposit_window: Duration,
    recovery: RecoveryPolicy,
}

impl<S: SessionStore + DepositStore, Q: Queue> DepositDetector<S, Q> {
    /// A detector with the default late-deposit window (7 days).
    pub fn new(store: S, queue: Q) -> Self {
        Self {
            store,
            queue: TypedQueue::new(queue),
            late_deposit_window: Session::DEFAULT_LATE_DEPOSIT_WINDOW,
            recovery: RecoveryPolicy::STANDARD,
        }
    }

    /// When deposits it records are due for the recovery sweep.
    pub fn with_recovery(mut self, policy: RecoveryPolicy) -> Self {
        self.recovery = policy;
        self
    }

    /// How long after its `expiresAt` a final session's receiver is watched.
    pub fn with_late_deposit_window(mut self, window: Duration) -> Self {
        self.late_deposit_window = window;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Records each of `transfers` that pays a watched session's receiver
    /// in a supported token as a deposit (see [`Self::detect`]), finding
    /// the receivers' sessions with one bulk lookup instead of one per
    /// transfer. Returns how many deposits were enqueued.
    pub async fn detect_all(
        &self,
        chain: &Chain,
        transfers: &[TokenTransfer],
        now: Timestamp,
    ) -> Result<usize, WatchError> {
        let sessions = self.store.find_sessions_by_receivers(&paid_receivers(transfers)).await?;
        self.detect_matched(chain, transfers, &sessions, now).await
    }

    /// [`Self::detect_all`] with the receivers kept in memory (`watched`):
    /// refreshed from the store's receiver log before matching (one
    /// consistent read of the claims since the last refresh, and only when
    /// the scan found transfers), so that the store is read per transfer
    /// only for transfers into watched receivers, however many other
    /// transfers the scanned blocks hold. Call it after the transfers were
    /// fetched: a receiver claimed before a transfer into it is then known.
    pub async fn detect_watched(
        &self,
        chain: &Chain,
        transfers: &[TokenTransfer],
        now: Timestamp,
        watched: &WatchedReceivers,
    ) -> Result<usize, WatchError>
    where
        S: ReceiverLog,
    {
        let mut receivers = paid_receivers(transfers);
        receivers.sort_unstable();
        receivers.dedup();
        if receivers.is_empty() {
            return Ok(0);
        }
        watched.refresh(&self.store, now).await?;
        let (mut sessions, unknown) = watched.sessions_of(&receivers, now).await;
        if !unknown.is_empty() {
            // Only while the log may lack receivers claimed before it began.
            sessions.extend(self.store.find_sessions_by_receivers(&unknown).await?);
        }
        self.detect_matched(chain, transfers, &sessions, now).await
    }

    /// [`Self::detect_for`] each of `transfers` whose recipient is in
    /// `sessions`; returns how many deposits were enqueued.
    async fn detect_matched(
        &self,
        chain: &Chain,
        transfers: &[TokenTransfer],
        sessions: &HashMap<EvmAddress, SessionId>,
        now: Timestamp,
    ) -> Result<usize, WatchError> {
        let mut enqueued = 0;
        for transfer in transfers {
            if let Some(session_id) = sessions.get(&EvmAddress::new(transfer.to))
                && self.detect_for(chain, transfer, *session_id, now).await?
            {
                enqueued += 1;
            }
        }
        Ok(enqueued)
    }

    /// Records `transfer` as a deposit if it pays a watched session's
    /// receiver in a supported token, and enqueues it unless it was already
    /// routed. Returns whether it was enqueued.
    pub async fn detect(&self, chain: &Chain, transfer: &TokenTransfer, now: Timestamp) -> Result<bool, WatchError> {
        let receiver = EvmAddress::new(transfer.to);
        match self.store.find_session_by_receiver(&receiver).await? {
            Some(session_id) => self.detect_for(chain, transfer, session_id, now).await,
            None => Ok(false),
        }
    }

    /// [`Self::detect`] for a transfer into the receiver of `session_id`.
    async fn detect_for(
        &self,
        chain: &Chain,
        transfer: &TokenTransfer,
        session_id: SessionId,
        now: Timestamp,
    ) -> Result<bool, WatchError> {
        if transfer.value.is_zero() {
            return Ok(false);
        }
        let receiver = EvmAddress::new(transfer.to);
        let Some(token) = chain.token(&EvmAddress::new(transfer.token)) else {
            return Ok(false);
        };
        let Ok(amount) = u128::try_from(transfer.value) else {
            tracing::error!(chain = %chain.id, tx = %transfer.tx_hash, "transfer amount exceeds 128 bits; needs an operator");
            return Ok(false);
        };
        // A receiver without its session is recorded anyway: the router reports it.
        if let Some(session) = self.store.get_session(&session_id).await?
            && !session.is_watched(self.late_deposit_window, now)
        {
            tracing::warn!(
                %session_id,
                status = %session.status(),
                expires_at = %session.expires_at,
                chain = %chain.id,
                tx = %transfer.tx_hash,
                log_index = transfer.log_index,
                token = %token.address,
                amount = amount,
                "transfer into a receiver past its late-deposit window: not recorded; \
                 the funds stay at the receiver, which only the factory can sweep"
            );
            return Ok(false);
        }
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
        let record = DepositRecord::detected(deposit, session_id, now, self.recovery.first_due(now));
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
            self.queue.send(&RouteDeposit::new(id.clone())).await?;
            tracing::info!(%session_id, deposit = %id, "deposit detected");
        }
        Ok(enqueue)
    }
}
