//! [`CountingStore`]: the in-memory store, counting its reads, for tests and
//! benchmarks of how often the chain watcher goes to the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferry_domain::{DepositId, DepositRecord, EvmAddress, Session, SessionId, Timestamp};
use ferry_store::memory::MemoryStore;
use ferry_store::{
    CreateSessionError, DepositStore, IdempotencyRecord, ReceiverClaim, ReceiverLog, Recorded, SessionChange,
    SessionStore, StoreResult,
};

/// The in-memory store behind the session, receiver-log and deposit ports,
/// counting every read (writes are not counted). Clones share the store and
/// the counts.
#[derive(Clone, Default)]
pub struct CountingStore {
    inner: MemoryStore,
    counts: Arc<Counters>,
    /// When the receiver log began (`None`: the epoch, as the memory store says).
    log_start: Option<Timestamp>,
}

#[derive(Default)]
struct Counters {
    single_lookups: AtomicUsize,
    bulk_lookups: AtomicUsize,
    bulk_addresses: AtomicUsize,
    distinct_bulk_addresses: AtomicUsize,
    log_reads: AtomicUsize,
    log_days: AtomicUsize,
    claims_read: AtomicUsize,
    session_reads: AtomicUsize,
    deposit_reads: AtomicUsize,
}

/// The reads a [`CountingStore`] saw since it was created or last [reset](CountingStore::reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// `find_session_by_receiver` calls: one receiver each.
    pub single_lookups: usize,
    /// `find_sessions_by_receivers` calls.
    pub bulk_lookups: usize,
    /// Receivers those calls asked for, repeats included.
    pub bulk_addresses: usize,
    /// Receivers those calls asked for, each call's repeats counted once.
    pub distinct_bulk_addresses: usize,
    /// `receivers_claimed_since` calls.
    pub log_reads: usize,
    /// The UTC days those calls spanned, from `since`'s to the day after
    /// `now`'s: on DynamoDB one Query each.
    pub log_days: usize,
    /// Claims those calls returned.
    pub claims_read: usize,
    /// `get_session` calls.
    pub session_reads: usize,
    /// `get_deposit` calls.
    pub deposit_reads: usize,
}

impl CountingStore {
    /// A store whose receiver log began at `start`: claims from before it
    /// are not in the log, as on a table written before the log existed.
    pub fn with_log_start(start: Timestamp) -> Self {
        Self { log_start: Some(start), ..Self::default() }
    }

    /// The reads so far.
    pub fn reads(&self) -> Reads {
        let c = &*self.counts;
        let load = |counter: &AtomicUsize| counter.load(Ordering::Relaxed);
        Reads {
            single_lookups: load(&c.single_lookups),
            bulk_lookups: load(&c.bulk_lookups),
            bulk_addresses: load(&c.bulk_addresses),
            distinct_bulk_addresses: load(&c.distinct_bulk_addresses),
            log_reads: load(&c.log_reads),
            log_days: load(&c.log_days),
            claims_read: load(&c.claims_read),
            session_reads: load(&c.session_reads),
            deposit_reads: load(&c.deposit_reads),
        }
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        let c = &*self.counts;
        for counter in [
            &c.single_lookups,
            &c.bulk_lookups,
            &c.bulk_addresses,
            &c.distinct_bulk_addresses,
            &c.log_reads,
            &c.log_days,
            &c.claims_read,
            &c.session_reads,
            &c.deposit_reads,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    fn count(counter: &AtomicUsize, n: usize) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl SessionStore for CountingStore {
    async fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateSessionError> {
        self.inner.create_session(session, idempotency).await
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        Self::count(&self.counts.session_reads, 1);
        self.inner.get_session(id).await
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        self.inner.commit(change).await
    }

    async fn find_session_by_receiver(&self, receiver: &EvmAddress) -> StoreResult<Option<SessionId>> {
        Self::count(&self.counts.single_lookups, 1);
        self.inner.find_session_by_receiver(receiver).await
    }

    async fn find_sessions_by_receivers(
        &self,
        receivers: &[EvmAddress],
    ) -> StoreResult<HashMap<EvmAddress, SessionId>> {
        let distinct: HashSet<&EvmAddress> = receivers.iter().collect();
        Self::count(&self.counts.bulk_lookups, 1);
        Self::count(&self.counts.bulk_addresses, receivers.len());
        Self::count(&self.counts.distinct_bulk_addresses, distinct.len());
        self.inner.find_sessions_by_receivers(receivers).await
    }
}

impl ReceiverLog for CountingStore {
    async fn receivers_claimed_since(&self, since: Timestamp, now: Timestamp) -> StoreResult<Vec<ReceiverClaim>> {
        let claims = self.inner.receivers_claimed_since(since, now).await?;
        // Claims from before the log began are not in it.
        let claims: Vec<ReceiverClaim> =
            claims.into_iter().filter(|c| self.log_start.is_none_or(|start| c.claimed_at >= start)).collect();
        let days = (now.unix_seconds() / 86_400 + 1).saturating_sub(since.unix_seconds() / 86_400) + 1;
        Self::count(&self.counts.log_reads, 1);
        Self::count(&self.counts.log_days, usize::try_from(days).unwrap_or(usize::MAX));
        Self::count(&self.counts.claims_read, claims.len());
        Ok(claims)
    }

    async fn receiver_log_start(&self, now: Timestamp) -> StoreResult<Timestamp> {
        match self.log_start {
            Some(start) => Ok(start),
            None => self.inner.receiver_log_start(now).await,
        }
    }
}

impl DepositStore for CountingStore {
    async fn record_deposit(&self, record: &DepositRecord) -> StoreResult<Recorded> {
        self.inner.record_deposit(record).await
    }

    async fn get_deposit(&self, id: &DepositId) -> StoreResult<Option<DepositRecord>> {
        Self::count(&self.counts.deposit_reads, 1);
        self.inner.get_deposit(id).await
    }

    async fn update_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        self.inner.update_deposit(record).await
    }

    async fn deposits_due_for_recovery(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<DepositRecord>> {
        self.inner.deposits_due_for_recovery(now, limit).await
    }
}
