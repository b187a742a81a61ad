//! The expiry worker over the in-memory and embedded stores: due open
//! sessions expire in batches, the rest are left alone, and a session paid
//! between the listing and the expiry's commit stays `processing`. Every
//! expiry's `session.expired` event is stored with it; a lost race stores none.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use expire_sessions::{ExpireSessions, ExpiryReport};
use ferry_domain::{EventKind, Session, SessionEvent, SessionStatus, Timestamp};
use ferry_store::{EventStore, ExpiryStore, SessionChange, SessionStore, StoreResult};
use ferry_testing::{on_each_store, sample_deposit, sample_session};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

/// A stored session of a new merchant that expires at `expires_at`.
async fn session_expiring<S: SessionStore>(store: &S, expires_at: Timestamp) -> Session {
    let mut session = sample_session(ferry_domain::MerchantId::from_random_bytes(ferry_testing::random_bytes()));
    session.created_at = Timestamp::from_unix_seconds(expires_at.unix_seconds() - 3_600);
    session.expires_at = expires_at;
    store.create_session(&session, None).await.expect("create");
    session
}

async fn with_payment_method<S: SessionStore>(store: &S, session: &Session) -> Session {
    let receiver = sample_deposit().receiver;
    let next = session.set_evm_payment_method(receiver, session.created_at).expect("legal").expect("changed");
    store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.expect("commit");
    next
}

async fn status<S: SessionStore>(store: &S, session: &Session) -> SessionStatus {
    store.get_session(&session.id).await.expect("get").expect("stored").status()
}

async fn expires_due_open_sessions_in_batches_and_nothing_else<S: ExpiryStore + Clone>(store: S) {
    let mut due = Vec::new();
    for i in 0..7 {
        let session = session_expiring(&store, Timestamp::from_unix_seconds(NOW.unix_seconds() - 100 + i)).await;
        due.push(if i % 2 == 0 { with_payment_method(&store, &session).await } else { session });
    }
    let at_now = session_expiring(&store, NOW).await;
    let later = session_expiring(&store, NOW.plus_seconds(1)).await;
    let processing = {
        let past = Timestamp::from_unix_seconds(NOW.unix_seconds() - 50);
        let waiting = with_payment_method(&store, &session_expiring(&store, past).await).await;
        let (paid, _event) = waiting.deposit_seen(&sample_deposit()).expect("legal");
        store.commit(SessionChange::new(&paid)).await.expect("paid");
        paid
    };

    let mut worker = ExpireSessions::new(store.clone());
    worker.batch_size = 3;
    let report = worker.run_once(NOW).await.expect("run");
    // The 7 past their expiry and the one due exactly now, in batches of 3.
    assert_eq!(report, ExpiryReport { expired: 8, lost_races: 0, cut_short: false });
    for session in due.iter().chain([&at_now]) {
        let stored = store.get_session(&session.id).await.expect("get").expect("stored");
        assert_eq!(stored.status(), SessionStatus::Expired);
        assert_eq!(stored.version(), session.version() + 1);
    }
    assert_eq!(status(&store, &later).await, SessionStatus::RequiresPaymentMethod);
    assert_eq!(status(&store, &processing).await, SessionStatus::Processing);
    assert!(store.due_sessions(NOW, 100).await.expect("due").is_empty());

    // Nothing left: a second run does nothing.
    assert_eq!(worker.run_once(NOW).await.expect("run"), ExpiryReport::default());
    // A minute later the last one is due.
    let report = worker.run_once(NOW.plus_seconds(60)).await.expect("run");
    assert_eq!(report.expired, 1);
    assert_eq!(status(&store, &later).await, SessionStatus::Expired);
}

/// A store that, the first time a session's expiry is committed, first
/// commits the payer's deposit for it, as `route-deposits` would in
/// between the worker's listing and its commit.
#[derive(Clone)]
struct DepositArrivesFirst<S> {
    inner: S,
    paid: Arc<Mutex<Vec<Session>>>,
}

impl<S: SessionStore> SessionStore for DepositArrivesFirst<S> {
    fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&ferry_store::IdempotencyRecord>,
    ) -> impl Future<Output = Result<(), ferry_store::CreateSessionError>> + Send {
        self.inner.create_session(session, idempotency)
    }

    fn get_session(&self, id: &ferry_domain::SessionId) -> impl Future<Output = StoreResult<Option<Session>>> + Send {
        self.inner.get_session(id)
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        if change.session.status() == SessionStatus::Expired {
            let stored = self.inner.get_session(&change.session.id).await?.expect("stored");
            if stored.status() == SessionStatus::WaitingPayment {
                let (paid, _event) = stored.deposit_seen(&sample_deposit()).expect("legal");
                self.inner.commit(SessionChange::new(&paid)).await?;
                self.paid.lock().expect("lock").push(paid);
            }
        }
        self.inner.commit(change).await
    }

    fn find_session_by_receiver(
        &self,
        receiver: &ferry_domain::EvmAddress,
    ) -> impl Future<Output = StoreResult<Option<ferry_domain::SessionId>>> + Send {
        self.inner.find_session_by_receiver(receiver)
    }
}

impl<S: ExpiryStore> ExpiryStore for DepositArrivesFirst<S> {
    fn due_sessions(&self, now: Timestamp, limit: usize) -> impl Future<Output = StoreResult<Vec<Session>>> + Send {
        self.inner.due_sessions(now, limit)
    }
}

async fn a_session_paid_after_listing_stays_processing<S: ExpiryStore + Clone>(store: S) {
    let past = Timestamp::from_unix_seconds(NOW.unix_seconds() - 10);
    let waiting = with_payment_method(&store, &session_expiring(&store, past).await).await;
    let unpaid = session_expiring(&store, past).await;
    let racing = DepositArrivesFirst { inner: store.clone(), paid: Arc::default() };

    let report = ExpireSessions::new(racing.clone()).run_once(NOW).await.expect("run");

    assert_eq!(report, ExpiryReport { expired: 1, lost_races: 1, cut_short: false });
    let paid = racing.paid.lock().expect("lock").clone();
    assert_eq!(paid.len(), 1, "the deposit was committed in between");
    let stored = store.get_session(&waiting.id).await.expect("get").expect("stored");
    assert_eq!(stored, paid[0], "the deposit's write stands, untouched by the expiry");
    assert_eq!(stored.status(), SessionStatus::Processing);
    assert_eq!(status(&store, &unpaid).await, SessionStatus::Expired);
    assert!(store.due_sessions(NOW, 100).await.expect("due").is_empty());
}

/// Also the race committed directly: the worker's stale expiry loses.
async fn an_expiry_at_a_stale_version_loses<S: ExpiryStore + Clone>(store: S) {
    let waiting = with_payment_method(&store, &session_expiring(&store, NOW).await).await;
    let listed = store.due_sessions(NOW, 10).await.expect("due");
    assert_eq!(listed.len(), 1);
    let (paid, _event) = waiting.deposit_seen(&sample_deposit()).expect("legal");
    store.commit(SessionChange::new(&paid)).await.expect("paid");
    let (expired, _event) = listed[0].expire(NOW).expect("due when listed");
    assert!(store.commit(SessionChange::new(&expired)).await.is_err());
    assert_eq!(status(&store, &waiting).await, SessionStatus::Processing);
    assert_eq!(ExpireSessions::new(store.clone()).run_once(NOW).await.expect("run"), ExpiryReport::default());
}

async fn a_past_deadline_stops_the_run_before_any_write<S: ExpiryStore + Clone>(store: S) {
    let session = session_expiring(&store, NOW).await;
    let worker = ExpireSessions::new(store.clone());
    let report = worker.run_until(NOW, Some(Instant::now() - Duration::from_millis(1))).await.expect("run");
    assert_eq!(report, ExpiryReport { expired: 0, lost_races: 0, cut_short: true });
    assert_eq!(status(&store, &session).await, SessionStatus::RequiresPaymentMethod);
    let report = worker.run_until(NOW, Some(Instant::now() + Duration::from_secs(60))).await.expect("run");
    assert_eq!(report, ExpiryReport { expired: 1, lost_races: 0, cut_short: false });
}

/// A store that notes the event of every commit and whether the commit won.
#[derive(Clone)]
struct Recording<S> {
    inner: S,
    events: Arc<Mutex<Vec<(SessionEvent, bool)>>>,
}

impl<S> Recording<S> {
    fn new(inner: S) -> Self {
        Self { inner, events: Arc::default() }
    }

    /// The events of commits that won (`true`) or lost (`false`).
    fn events(&self, won: bool) -> Vec<SessionEvent> {
        let events = self.events.lock().expect("lock");
        events.iter().filter(|(_, w)| *w == won).map(|(event, _)| event.clone()).collect()
    }
}

impl<S: SessionStore> SessionStore for Recording<S> {
    fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&ferry_store::IdempotencyRecord>,
    ) -> impl Future<Output = Result<(), ferry_store::CreateSessionError>> + Send {
        self.inner.create_session(session, idempotency)
    }

    fn get_session(&self, id: &ferry_domain::SessionId) -> impl Future<Output = StoreResult<Option<Session>>> + Send {
        self.inner.get_session(id)
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        let result = self.inner.commit(change).await;
        if let Some(event) = change.event {
            self.events.lock().expect("lock").push((event.clone(), result.is_ok()));
        }
        result
    }

    fn find_session_by_receiver(
        &self,
        receiver: &ferry_domain::EvmAddress,
    ) -> impl Future<Output = StoreResult<Option<ferry_domain::SessionId>>> + Send {
        self.inner.find_session_by_receiver(receiver)
    }
}

impl<S: ExpiryStore> ExpiryStore for Recording<S> {
    fn due_sessions(&self, now: Timestamp, limit: usize) -> impl Future<Output = StoreResult<Vec<Session>>> + Send {
        self.inner.due_sessions(now, limit)
    }
}

/// Each expired session has exactly one `session.expired` event stored, with
/// the session as expired; a session that was paid instead has none, and the
/// event its lost expiry carried was never stored.
async fn every_expiry_stores_its_event_and_a_lost_race_none<S: ExpiryStore + EventStore + Clone>(store: S) {
    let past = Timestamp::from_unix_seconds(NOW.unix_seconds() - 10);
    let mut unpaid = Vec::new();
    for _ in 0..3 {
        unpaid.push(session_expiring(&store, past).await);
    }
    // Waiting for payment: the double pays it between the listing and the expiry's commit.
    let racer = with_payment_method(&store, &session_expiring(&store, past).await).await;
    let recording = Recording::new(DepositArrivesFirst { inner: store.clone(), paid: Arc::default() });

    let report = ExpireSessions::new(recording.clone()).run_once(NOW).await.expect("run");
    assert_eq!(report, ExpiryReport { expired: 3, lost_races: 1, cut_short: false });

    let won = recording.events(true);
    assert_eq!(won.len(), unpaid.len(), "one event per expiry: {won:?}");
    for session in &unpaid {
        let expired = store.get_session(&session.id).await.expect("get").expect("stored");
        assert_eq!(expired.status(), SessionStatus::Expired);
        let mine: Vec<&SessionEvent> = won.iter().filter(|e| e.session_id == session.id).collect();
        assert_eq!(mine.len(), 1, "exactly one event for {:?}", session.id);
        let stored = store.get_event(&mine[0].id).await.expect("get event").expect("the event is stored");
        assert_eq!(&stored, mine[0]);
        assert_eq!(stored.kind, EventKind::Expired);
        assert_eq!((stored.merchant_id, stored.created_at), (session.merchant_id, NOW));
        assert_eq!(stored.session, expired, "the session as expired");
    }

    assert_eq!(status(&store, &racer).await, SessionStatus::Processing);
    assert!(won.iter().all(|e| e.session_id != racer.id), "no event for the session that was paid");
    let lost = recording.events(false);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!((lost[0].session_id, lost[0].kind), (racer.id, EventKind::Expired));
    assert_eq!(store.get_event(&lost[0].id).await.expect("get event"), None, "the lost expiry's event was not stored");
}

on_each_store!(
    expires_due_open_sessions_in_batches_and_nothing_else,
    a_session_paid_after_listing_stays_processing,
    an_expiry_at_a_stale_version_loses,
    a_past_deadline_stops_the_run_before_any_write,
    every_expiry_stores_its_event_and_a_lost_race_none,
);
