//! A store double that simulates a worker dying at a chosen point: it
//! delegates everything to the real store except the one write the worker
//! would have made next, which fails (and does not reach the store).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_domain::{
    ChainId, DepositId, DepositRecord, DepositState, EvmAddress, PayoutId, PayoutIntent, SessionId, Timestamp,
};
use ferry_store::{
    ChainCursor, CursorStore, DepositStore, PayoutStore, ReceiverClaim, ReceiverLog, Recorded, SessionChange,
    SessionStore, StoreError, StoreResult,
};

/// Where the worker dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the funds moved on chain, before the deposit is recorded as
    /// `Settled`.
    BeforeSettling,
    /// After the deposit is recorded as `Settled`, before the session is
    /// recorded as `succeeded` or `bounced`.
    BeforeFinishing,
}

#[derive(Clone)]
pub struct Crashing<S> {
    inner: S,
    at: CrashPoint,
    crashed: Arc<AtomicBool>,
}

impl<S> Crashing<S> {
    pub fn new(inner: S, at: CrashPoint) -> Self {
        Self { inner, at, crashed: Arc::default() }
    }

    /// Whether the simulated crash happened.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    fn crash(&self) -> StoreError {
        self.crashed.store(true, Ordering::SeqCst);
        StoreError::Backend(format!("simulated crash: the worker died {:?}", self.at).into())
    }
}

impl<S: SessionStore> SessionStore for Crashing<S> {
    fn create_session(
        &self,
        session: &ferry_domain::Session,
        idempotency: Option<&ferry_store::IdempotencyRecord>,
    ) -> impl Future<Output = Result<(), ferry_store::CreateSessionError>> + Send {
        self.inner.create_session(session, idempotency)
    }

    fn get_session(&self, id: &SessionId) -> impl Future<Output = StoreResult<Option<ferry_domain::Session>>> + Send {
        self.inner.get_session(id)
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        if self.at == CrashPoint::BeforeFinishing && change.session.status().is_final() {
            return Err(self.crash());
        }
        self.inner.commit(change).await
    }

    fn find_session_by_receiver(
        &self,
        receiver: &EvmAddress,
    ) -> impl Future<Output = StoreResult<Option<SessionId>>> + Send {
        self.inner.find_session_by_receiver(receiver)
    }
}

impl<S: ReceiverLog> ReceiverLog for Crashing<S> {
    fn receivers_claimed_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Vec<ReceiverClaim>>> + Send {
        self.inner.receivers_claimed_since(since, now)
    }

    fn receiver_log_start(&self, now: Timestamp) -> impl Future<Output = StoreResult<Timestamp>> + Send {
        self.inner.receiver_log_start(now)
    }
}

impl<S: CursorStore> CursorStore for Crashing<S> {
    fn get_cursor(&self, chain_id: ChainId) -> impl Future<Output = StoreResult<Option<ChainCursor>>> + Send {
        self.inner.get_cursor(chain_id)
    }

    fn advance_cursor(
        &self,
        previous: Option<ChainCursor>,
        next: ChainCursor,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.inner.advance_cursor(previous, next)
    }
}

impl<S: DepositStore> DepositStore for Crashing<S> {
    fn record_deposit(&self, record: &DepositRecord) -> impl Future<Output = StoreResult<Recorded>> + Send {
        self.inner.record_deposit(record)
    }

    fn get_deposit(&self, id: &DepositId) -> impl Future<Output = StoreResult<Option<DepositRecord>>> + Send {
        self.inner.get_deposit(id)
    }

    async fn update_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        if self.at == CrashPoint::BeforeSettling && matches!(record.state, DepositState::Settled { .. }) {
            return Err(self.crash());
        }
        self.inner.update_deposit(record).await
    }

    fn deposits_due_for_recovery(
        &self,
        now: ferry_domain::Timestamp,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<DepositRecord>>> + Send {
        self.inner.deposits_due_for_recovery(now, limit)
    }
}

impl<S: PayoutStore> PayoutStore for Crashing<S> {
    fn create_payout(&self, intent: &PayoutIntent) -> impl Future<Output = StoreResult<()>> + Send {
        self.inner.create_payout(intent)
    }

    fn get_payout(&self, payout_id: &PayoutId) -> impl Future<Output = StoreResult<Option<PayoutIntent>>> + Send {
        self.inner.get_payout(payout_id)
    }

    fn update_payout(&self, intent: &PayoutIntent) -> impl Future<Output = StoreResult<()>> + Send {
        self.inner.update_payout(intent)
    }
}
