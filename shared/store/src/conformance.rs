//! The behaviour every store adapter must have: checks that each adapter's
//! tests run, one test a check, against a fresh instance
//! ([`store_conformance_tests!`](crate::store_conformance_tests)), and the
//! sample data other crates' tests build on ([`sample_session`],
//! [`sample_deposit`], [`sample_webhook`]).
//!
//! Test support only: compiled with the `testing` feature (which this
//! crate's own tests turn on), never into a Lambda binary. The sample data stays here
//! rather than in `ferry-testing` because `ferry-testing` depends on this
//! crate: the checks using it from there would make a dependency cycle.
//!
//! The checks use fresh identifiers, so they can also share one instance (or
//! one DynamoDB table) with other tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_domain::{
    ApiKey, BaseUnits, ChainId, ClientSecret, Deposit, DepositRecord, DepositState, Destination, DisplayInfo, EventId,
    EventKind, EvmAddress, IdempotencyKey, Merchant, MerchantId, Metadata, NewSession, PayoutId, PayoutIntent, Plan,
    RequestHash, Session, SessionEvent, SessionId, SessionStatus, Timestamp, Token, TxHash,
};

use crate::{
    ApiKeyRecord, ChainCursor, ChainStore, CreateSessionError, EventStore, ExpiryStore, IdempotencyRecord, Recorded,
    SessionChange, Store, StoreError,
};

mod api_keys;
mod deliveries;
mod listings;
mod receivers;
mod webhooks;

pub use api_keys::*;
pub use deliveries::*;
pub use listings::*;
pub use receivers::*;
pub use webhooks::*;

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

/// Bounds each check: the slowest, against moto_server, take a few seconds.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// Expands, where it is invoked, to one `#[tokio::test]` per check, each
/// against the fresh store that `$store` evaluates to (inside the test's
/// async body, so it may `.await`). One test a check: a failing check does
/// not hide the others, and nextest names the one that failed.
///
/// ```ignore
/// mod memory {
///     ferry_store::store_conformance_tests!(ferry_store::memory::MemoryStore::new());
/// }
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    (@checks $store:expr; $($check:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store = $store;
                tokio::time::timeout($crate::conformance::CHECK_TIMEOUT, $crate::conformance::$check(&store))
                    .await
                    .expect(concat!(stringify!($check), " finishes in time"));
            }
        )+
    };
    ($store:expr) => {
        $crate::store_conformance_tests!(@checks $store;
            sessions_round_trip,
            session_ids_are_unique,
            commits_are_conditional_on_the_version,
            a_receiver_belongs_to_one_session,
            receivers_are_found_in_bulk,
            claims_are_logged_by_their_commit_and_listed_since_a_time,
            a_commit_with_its_event_stores_both,
            a_losing_commit_stores_neither_the_change_nor_its_event,
            an_event_id_used_twice_loses,
            concurrent_commits_with_events_store_exactly_the_winners_event,
            idempotency_keys_are_scoped_to_a_merchant_and_expire,
            concurrent_creates_with_one_key_store_one_session,
            concurrent_commits_on_one_version_let_exactly_one_win,
            merchants_and_api_keys_round_trip,
            a_merchant_lists_its_keys_oldest_first,
            a_revoked_key_is_gone_at_once_and_its_sibling_stays,
            the_last_day_of_use_only_moves_forward,
            cursors_advance_only_from_where_they_are,
            deposits_are_recorded_once,
            deposit_updates_are_conditional_on_the_version,
            concurrent_records_of_one_deposit_store_it_once,
            unfinished_deposits_are_due_for_recovery_soonest_first,
            payouts_are_created_once_and_updated_by_version,
            webhooks_round_trip_scoped_to_their_merchant,
            webhooks_are_listed_oldest_first,
            the_limit_counts_live_endpoints,
            concurrent_creates_never_exceed_the_limit,
            events_wait_to_be_fanned_out_once,
            concurrent_fan_outs_of_one_event_store_one_set,
            delivery_updates_are_conditional_on_the_version,
            due_deliveries_are_the_unfinished_ones_whose_time_came,
            parked_deliveries_wait_for_a_replay,
            due_sessions_are_the_open_ones_past_their_expiry,
            due_sessions_are_listed_oldest_first_up_to_the_limit,
            an_expiry_racing_a_deposit_loses_to_it,
            open_sessions_are_listed_by_expiry_across_shards,
            pending_events_are_listed_oldest_first_across_shards,
            deliveries_are_listed_by_wake_time_and_creation_across_shards,
            deposits_due_for_recovery_are_listed_soonest_first_across_shards,
        );
    };
}

fn fresh_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&nanos.to_be_bytes());
    bytes[8..].copy_from_slice(&count.to_be_bytes());
    bytes
}

fn fresh_address() -> EvmAddress {
    let mut raw = [0u8; 20];
    raw[4..].copy_from_slice(&fresh_bytes());
    EvmAddress::new(raw.into())
}

fn fresh_tx_hash() -> TxHash {
    let mut raw = [0u8; 32];
    raw[..16].copy_from_slice(&fresh_bytes());
    raw[16..].copy_from_slice(&fresh_bytes());
    TxHash::new(raw.into())
}

/// A chain id no other check uses.
fn fresh_chain_id() -> ChainId {
    let bytes = fresh_bytes();
    let (nanos, count) = bytes.split_at(8);
    let (nanos, count) = (
        u64::from_be_bytes(nanos.try_into().expect("8 bytes")),
        u64::from_be_bytes(count.try_into().expect("8 bytes")),
    );
    // Unique within the process (the counter), and across runs (the clock).
    ChainId::new((nanos >> 1).wrapping_add(count))
}

/// USDC on Base: 6 decimals.
fn base_usdc() -> Token {
    let address: EvmAddress = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".parse().expect("address");
    Token { symbol: "USDC".into(), address, decimals: 6 }
}

/// A session as `create-session` would build it.
pub fn sample_session(merchant_id: MerchantId) -> Session {
    let new = NewSession {
        destination: Destination {
            address: fresh_address(),
            chain_id: ChainId::new(8453),
            chain_name: "Base".into(),
            token: base_usdc(),
            amount: Some(BaseUnits::new(10_000_000)),
            calldata: Some("0xa9059cbb".parse().expect("calldata")),
            delivery: None,
        },
        display: DisplayInfo::parse("Order #1".into(), "Pay".into(), None, Some(vec!["evm".into()]))
            .expect("display")
            .with_theme_mode(Some(ferry_domain::ThemeMode::Dark)),
        metadata: Some(Metadata::parse(BTreeMap::from([("order".to_string(), "1".to_string())])).expect("metadata")),
        refund_address: Some(fresh_address()),
    };
    Session::create(
        new,
        SessionId::from_bytes(fresh_bytes()),
        merchant_id,
        ClientSecret::from_bytes(fresh_bytes()),
        NOW,
    )
}

/// The next version of `session` (a transaction hint recorded: a change
/// in any status but a final one).
fn next_version(session: &Session) -> Session {
    session.record_tx_hash_hint(fresh_tx_hash()).expect("a hint changes an open session")
}

/// A 25 USDC transfer on Base, as the chain watcher would see it: a fresh
/// transaction, so a fresh [`ferry_domain::DepositId`].
pub fn sample_deposit() -> Deposit {
    Deposit {
        chain_id: ChainId::new(8453),
        chain_name: "Base".into(),
        token: base_usdc(),
        from: fresh_address(),
        receiver: fresh_address(),
        amount: BaseUnits::new(25_000_000),
        tx_hash: fresh_tx_hash(),
        log_index: 7,
        block_number: 24_000_000,
    }
}

fn detected(deposit: Deposit) -> DepositRecord {
    DepositRecord::detected(deposit, SessionId::from_bytes(fresh_bytes()), NOW, NOW.plus_seconds(300))
}

fn sweep_plan(deposit: &Deposit) -> Plan {
    Plan::Sweep {
        to: fresh_address(),
        calldata: Some("0xa9059cbb".parse().expect("calldata")),
        refund_to: deposit.from,
    }
}

fn fresh_merchant() -> MerchantId {
    MerchantId::from_random_bytes(fresh_bytes())
}

fn idempotency(merchant_id: MerchantId, key: &IdempotencyKey, body: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        merchant_id,
        key: key.clone(),
        request_hash: RequestHash::of_canonical(b"{}"),
        response_status: 201,
        response_body: body.into(),
        created_at: NOW,
        expires_at: NOW.plus_seconds(86_400),
    }
}

pub async fn sessions_round_trip<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let loaded = store.get_session(&session.id).await.expect("get");
    assert_eq!(loaded.as_ref(), Some(&session));
    let unknown = SessionId::from_bytes(fresh_bytes());
    assert_eq!(store.get_session(&unknown).await.expect("get unknown"), None);
}

pub async fn session_ids_are_unique<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let again = store.create_session(&session, None).await;
    assert!(matches!(again, Err(CreateSessionError::Store(StoreError::Conflict(_)))), "{again:?}");
}

pub async fn commits_are_conditional_on_the_version<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let receiver = fresh_address();
    let next = session.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
    assert_eq!(next.version(), 1);
    store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.expect("first commit");
    assert_eq!(store.get_session(&session.id).await.expect("get"), Some(next.clone()));

    // The same change again is stale: version 1 is already stored.
    let stale = store.commit(SessionChange::new(&next)).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    // Skipping a version is refused too.
    let skipping = next_version(&next_version(&next));
    assert_eq!(skipping.version(), 3);
    assert!(matches!(store.commit(SessionChange::new(&skipping)).await, Err(StoreError::Conflict(_))));
    // And a session that was never created cannot be committed.
    let ghost = next_version(&sample_session(fresh_merchant()));
    assert!(matches!(store.commit(SessionChange::new(&ghost)).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_session(&session.id).await.expect("get"), Some(next));
}

pub async fn a_receiver_belongs_to_one_session<S: Store>(store: &S) {
    let receiver = fresh_address();
    let first = sample_session(fresh_merchant());
    let second = sample_session(fresh_merchant());
    for session in [&first, &second] {
        store.create_session(session, None).await.expect("create");
    }
    let first_next = first.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
    store.commit(SessionChange::new(&first_next).claiming_receiver(receiver)).await.expect("claim");
    assert_eq!(store.find_session_by_receiver(&receiver).await.expect("find"), Some(first.id));

    let second_next = second.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
    let stolen = store.commit(SessionChange::new(&second_next).claiming_receiver(receiver)).await;
    assert!(matches!(stolen, Err(StoreError::Conflict(_))), "{stolen:?}");
    // The losing write left nothing behind.
    assert_eq!(store.get_session(&second.id).await.expect("get"), Some(second));
    assert_eq!(store.find_session_by_receiver(&receiver).await.expect("find"), Some(first.id));

    // The owner may claim its own receiver again.
    let again = next_version(&first_next);
    store.commit(SessionChange::new(&again).claiming_receiver(receiver)).await.expect("re-claim");
    assert_eq!(store.find_session_by_receiver(&fresh_address()).await.expect("find"), None);
}

/// Receivers are found in bulk: more addresses than one DynamoDB batch
/// holds, repeats among them, most belonging to no session.
pub async fn receivers_are_found_in_bulk<S: Store>(store: &S) {
    let mut owned = Vec::new();
    for _ in 0..3 {
        let session = sample_session(fresh_merchant());
        store.create_session(&session, None).await.expect("create");
        let receiver = fresh_address();
        let next = session.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
        store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.expect("claim");
        owned.push((receiver, session.id));
    }
    let mut asked: Vec<EvmAddress> = (0..150).map(|_| fresh_address()).collect();
    for (index, (receiver, _)) in owned.iter().enumerate() {
        asked.insert(index * 60, *receiver);
    }
    asked.push(owned[1].0);
    let found = store.find_sessions_by_receivers(&asked).await.expect("find");
    assert_eq!(found, owned.iter().copied().collect(), "exactly the receivers that belong to sessions");
    assert_eq!(store.find_sessions_by_receivers(&[]).await.expect("find nothing"), Default::default());
}

pub async fn idempotency_keys_are_scoped_to_a_merchant_and_expire<S: Store>(store: &S) {
    let merchant = fresh_merchant();
    let key = IdempotencyKey::parse(&format!("order-{}", hex_of(fresh_bytes()))).expect("key");
    let first = sample_session(merchant);
    let record = idempotency(merchant, &key, "first");
    store.create_session(&first, Some(&record)).await.expect("create");
    assert_eq!(store.get_idempotency(&merchant, &key, NOW).await.expect("get"), Some(record.clone()));

    let second = sample_session(merchant);
    let reused = store.create_session(&second, Some(&idempotency(merchant, &key, "second"))).await;
    assert!(matches!(reused, Err(CreateSessionError::IdempotencyKeyExists)), "{reused:?}");
    assert_eq!(store.get_session(&second.id).await.expect("get"), None, "nothing written on reuse");

    let other_merchant = fresh_merchant();
    assert_eq!(store.get_idempotency(&other_merchant, &key, NOW).await.expect("get"), None);
    let theirs = sample_session(other_merchant);
    store.create_session(&theirs, Some(&idempotency(other_merchant, &key, "theirs"))).await.expect("other merchant");

    // After 24 hours the key is forgotten and may be used again.
    let later = record.expires_at;
    assert_eq!(store.get_idempotency(&merchant, &key, later).await.expect("get"), None);
    let mut fresh = idempotency(merchant, &key, "after expiry");
    fresh.created_at = later;
    fresh.expires_at = later.plus_seconds(86_400);
    let third = sample_session(merchant);
    store.create_session(&third, Some(&fresh)).await.expect("reuse after expiry");
    assert_eq!(store.get_idempotency(&merchant, &key, later).await.expect("get"), Some(fresh));
}

pub async fn concurrent_creates_with_one_key_store_one_session<S: Store>(store: &S) {
    let merchant = fresh_merchant();
    let key = IdempotencyKey::parse(&format!("race-{}", hex_of(fresh_bytes()))).expect("key");
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let session = sample_session(merchant);
            let record = idempotency(merchant, &key, &session.id.to_string());
            tokio::spawn(async move { store.create_session(&session, Some(&record)).await.map(|()| session.id) })
        })
        .collect();
    let mut created = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(id) => created.push(id),
            Err(CreateSessionError::IdempotencyKeyExists) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one create wins");
    let record = store.get_idempotency(&merchant, &key, NOW).await.expect("get").expect("recorded");
    assert_eq!(record.response_body, created[0].to_string());
}

pub async fn concurrent_commits_on_one_version_let_exactly_one_win<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let receiver = fresh_address();
            let next = session.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
            tokio::spawn(async move {
                store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.map(|()| next)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await.expect("task") {
            Ok(next) => winners.push(next),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins");
    assert_eq!(store.get_session(&session.id).await.expect("get").as_ref(), winners.first());
    assert_eq!(winners[0].status(), SessionStatus::WaitingPayment);
}

pub async fn merchants_and_api_keys_round_trip<S: Store>(store: &S) {
    let merchant = Merchant { id: fresh_merchant(), name: "Acme".into(), created_at: NOW };
    let key = ApiKey::from_random_bytes(fresh_bytes());
    let label = "production".parse().ok();
    let record = ApiKeyRecord::new(key.hash(), merchant.id, NOW, label);

    let orphan = store.create_api_key(&record).await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "a key needs its merchant: {orphan:?}");

    store.create_merchant(&merchant).await.expect("create merchant");
    assert!(matches!(store.create_merchant(&merchant).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_merchant(&merchant.id).await.expect("get"), Some(merchant.clone()));

    store.create_api_key(&record).await.expect("create key");
    assert!(matches!(store.create_api_key(&record).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.find_api_key(&key.hash()).await.expect("find"), Some(record));
    let unknown = ApiKey::from_random_bytes(fresh_bytes());
    assert_eq!(store.find_api_key(&unknown.hash()).await.expect("find"), None);
}

pub async fn cursors_advance_only_from_where_they_are<S: ChainStore>(store: &S) {
    let chain_id = fresh_chain_id();
    assert_eq!(store.get_cursor(chain_id).await.expect("get"), None);
    let first = ChainCursor { chain_id, last_scanned_block: 100 };
    store.advance_cursor(None, first).await.expect("start");
    assert_eq!(store.get_cursor(chain_id).await.expect("get"), Some(first));
    let second = ChainCursor { chain_id, last_scanned_block: 150 };
    store.advance_cursor(Some(first), second).await.expect("advance");
    assert_eq!(store.get_cursor(chain_id).await.expect("get"), Some(second));

    // Another watcher still at `first` lost the race.
    let stale = store.advance_cursor(Some(first), ChainCursor { chain_id, last_scanned_block: 200 }).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    // And one that thinks the cursor does not exist yet, too.
    let restart = store.advance_cursor(None, ChainCursor { chain_id, last_scanned_block: 0 }).await;
    assert!(matches!(restart, Err(StoreError::Conflict(_))), "{restart:?}");
    // A cursor of another chain at the same block is not this one.
    let other_chain = ChainCursor { chain_id: fresh_chain_id(), last_scanned_block: 150 };
    let crossed = store.advance_cursor(Some(other_chain), ChainCursor { chain_id, last_scanned_block: 200 }).await;
    assert!(matches!(crossed, Err(StoreError::Conflict(_))), "{crossed:?}");
    assert_eq!(store.get_cursor(chain_id).await.expect("get"), Some(second));
    assert_eq!(store.get_cursor(other_chain.chain_id).await.expect("get"), None);
}

pub async fn deposits_are_recorded_once<S: ChainStore>(store: &S) {
    let record = detected(sample_deposit());
    assert_eq!(store.record_deposit(&record).await.expect("record"), Recorded::New);
    assert_eq!(store.get_deposit(&record.id()).await.expect("get"), Some(record.clone()));

    // The same transfer seen again (a rescan, another watcher) changes nothing.
    let mut again = detected(record.deposit.clone());
    again.recorded_at = NOW.plus_seconds(60);
    assert_eq!(again.id(), record.id());
    assert_eq!(store.record_deposit(&again).await.expect("record again"), Recorded::AlreadyRecorded);
    assert_eq!(store.get_deposit(&record.id()).await.expect("get"), Some(record.clone()));

    // Another log in the same transaction is another deposit.
    let mut next_log = record.deposit.clone();
    next_log.log_index += 1;
    assert_eq!(store.get_deposit(&next_log.id()).await.expect("get unknown"), None);
    assert_eq!(store.record_deposit(&detected(next_log)).await.expect("record"), Recorded::New);
}

pub async fn deposit_updates_are_conditional_on_the_version<S: ChainStore>(store: &S) {
    let record = detected(sample_deposit());
    store.record_deposit(&record).await.expect("record");
    let plan = sweep_plan(&record.deposit);
    let planned = DepositRecord { state: DepositState::Planned { plan: plan.clone() }, version: 1, ..record.clone() };
    store.update_deposit(&planned).await.expect("plan");
    assert_eq!(store.get_deposit(&record.id()).await.expect("get"), Some(planned.clone()));

    // The same change again is stale: version 1 is already stored.
    let stale = store.update_deposit(&planned).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    // Skipping a version is refused too.
    let skipping = DepositRecord { version: 3, ..planned.clone() };
    assert!(matches!(store.update_deposit(&skipping).await, Err(StoreError::Conflict(_))));
    // And a deposit that was never recorded cannot be updated.
    let ghost = DepositRecord { version: 1, ..detected(sample_deposit()) };
    assert!(matches!(store.update_deposit(&ghost).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_deposit(&ghost.id()).await.expect("get"), None);
    assert_eq!(store.get_deposit(&record.id()).await.expect("get"), Some(planned.clone()));

    let settled = DepositRecord {
        state: DepositState::Settled { plan, tx_hash: fresh_tx_hash(), amount: record.deposit.amount },
        version: 2,
        ..planned
    };
    store.update_deposit(&settled).await.expect("settle");
    assert_eq!(store.get_deposit(&record.id()).await.expect("get"), Some(settled));
}

/// In an era of its own, long before `NOW` (when the other checks'
/// deposits are due), so that only this check's deposits are ever due.
pub async fn unfinished_deposits_are_due_for_recovery_soonest_first<S: ChainStore>(store: &S) {
    let era = Timestamp::from_unix_seconds(1_000_000);
    let mut by_delay = HashMap::new();
    for delay in [30, 10, 20] {
        let mut record = detected(sample_deposit());
        record.recover_at = Some(era.plus_seconds(delay));
        store.record_deposit(&record).await.expect("record");
        by_delay.insert(delay, record);
    }
    let due = |at: u64, limit: usize| async move {
        let due = store.deposits_due_for_recovery(era.plus_seconds(at), limit).await.expect("due deposits");
        due.iter().map(DepositRecord::id).collect::<Vec<_>>()
    };
    let ids = |delays: &[u64]| delays.iter().map(|delay| by_delay[delay].id()).collect::<Vec<_>>();
    assert_eq!(due(9, 10).await, ids(&[]), "nothing is due before its time");
    assert_eq!(due(20, 10).await, ids(&[10, 20]), "due ones, soonest first");
    assert_eq!(due(30, 2).await, ids(&[10, 20]), "at most the limit");
    let listed = store.deposits_due_for_recovery(era.plus_seconds(10), 1).await.expect("due");
    assert_eq!(listed, [by_delay[&10].clone()], "the whole record comes back");

    // Finished routing leaves the sweep's queue; a rescheduled one moves in it.
    let finished = DepositRecord { recover_at: None, version: 1, ..by_delay[&10].clone() };
    store.update_deposit(&finished).await.expect("finish");
    assert!(finished.is_finished());
    let rescheduled =
        DepositRecord { recover_at: Some(era.plus_seconds(100)), recoveries: 1, version: 1, ..by_delay[&20].clone() };
    store.update_deposit(&rescheduled).await.expect("reschedule");
    assert_eq!(due(30, 10).await, ids(&[30]));
    assert_eq!(due(100, 10).await, ids(&[30, 20]));
    assert_eq!(store.get_deposit(&rescheduled.id()).await.expect("get"), Some(rescheduled));
}

pub async fn concurrent_records_of_one_deposit_store_it_once<S: ChainStore>(store: &S) {
    let deposit = sample_deposit();
    let attempts: Vec<_> = (0..8)
        .map(|attempt| {
            let store = store.clone();
            let mut record = detected(deposit.clone());
            record.recorded_at = NOW.plus_seconds(attempt);
            tokio::spawn(async move { store.record_deposit(&record).await.map(|recorded| (recorded, record)) })
        })
        .collect();
    let mut new = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("task").expect("record") {
            (Recorded::New, record) => new.push(record),
            (Recorded::AlreadyRecorded, _) => {}
        }
    }
    assert_eq!(new.len(), 1, "exactly one record is new");
    assert_eq!(store.get_deposit(&deposit.id()).await.expect("get").as_ref(), new.first());
}

pub async fn payouts_are_created_once_and_updated_by_version<S: ChainStore>(store: &S) {
    let deposit = sample_deposit();
    let intent = PayoutIntent {
        payout_id: fresh_payout_id(),
        deposit_id: deposit.id(),
        chain_id: ChainId::new(8453),
        relayer: fresh_address(),
        nonce: 42,
        token: base_usdc(),
        amount: BaseUnits::new(24_990_000),
        to: fresh_address(),
        tx_hash: None,
        from_block: 1_234,
        created_at: NOW,
        version: 0,
    };
    store.create_payout(&intent).await.expect("create");
    assert_eq!(store.get_payout(&intent.payout_id).await.expect("get"), Some(intent.clone()));
    let duplicate = store.create_payout(&PayoutIntent { nonce: 43, ..intent.clone() }).await;
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))), "{duplicate:?}");
    assert_eq!(store.get_payout(&intent.payout_id).await.expect("get"), Some(intent.clone()));
    let unknown = fresh_payout_id();
    assert_eq!(store.get_payout(&unknown).await.expect("get unknown"), None);

    let signed = PayoutIntent { tx_hash: Some(fresh_tx_hash()), version: 1, ..intent.clone() };
    store.update_payout(&signed).await.expect("sign");
    assert_eq!(store.get_payout(&intent.payout_id).await.expect("get"), Some(signed.clone()));

    let stale = store.update_payout(&signed).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let skipping = PayoutIntent { version: 3, ..signed.clone() };
    assert!(matches!(store.update_payout(&skipping).await, Err(StoreError::Conflict(_))));
    let ghost = PayoutIntent { payout_id: unknown.clone(), version: 1, ..signed.clone() };
    assert!(matches!(store.update_payout(&ghost).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_payout(&unknown).await.expect("get unknown"), None);
    assert_eq!(store.get_payout(&intent.payout_id).await.expect("get"), Some(signed));
}

/// The event of the change that produced `session`, under a fresh id.
fn event_for(kind: EventKind, session: &Session) -> SessionEvent {
    SessionEvent::new(fresh_bytes(), kind, session, NOW)
}

/// A stored session in `waiting_payment`, and its receiver.
async fn stored_waiting<S: Store>(store: &S) -> Session {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let receiver = fresh_address();
    let next = session.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
    store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.expect("set payment method");
    next
}

pub async fn a_commit_with_its_event_stores_both<S: Store + EventStore>(store: &S) {
    let waiting = stored_waiting(store).await;
    let (processing, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal");
    let event = event_for(kind, &processing);
    store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("commit with event");
    assert_eq!(store.get_session(&waiting.id).await.expect("get"), Some(processing.clone()));
    let stored = store.get_event(&event.id).await.expect("get event").expect("the event is stored");
    assert_eq!(stored, event);
    assert_eq!((stored.kind, stored.session_id, stored.merchant_id), (kind, processing.id, processing.merchant_id));
    assert_eq!(stored.session, processing, "the snapshot after the change");
    let unknown = EventId::from_random_bytes(fresh_bytes());
    assert_eq!(store.get_event(&unknown).await.expect("get unknown event"), None);

    // With a receiver claimed in the same change too.
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let receiver = fresh_address();
    let next = session.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
    let event = event_for(EventKind::Processing, &next);
    store.commit(SessionChange::new(&next).claiming_receiver(receiver).emitting(&event)).await.expect("commit");
    assert_eq!(store.find_session_by_receiver(&receiver).await.expect("find"), Some(session.id));
    assert_eq!(store.get_event(&event.id).await.expect("get event"), Some(event));
}

pub async fn a_losing_commit_stores_neither_the_change_nor_its_event<S: Store + EventStore>(store: &S) {
    let waiting = stored_waiting(store).await;
    let (processing, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal");
    let winner = event_for(kind, &processing);
    store.commit(SessionChange::new(&processing).emitting(&winner)).await.expect("first commit");

    // The same transition on the stale copy, under its own event: loses whole.
    let (stale, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal on the stale copy");
    let loser = event_for(kind, &stale);
    let lost = store.commit(SessionChange::new(&stale).emitting(&loser)).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    assert_eq!(store.get_event(&loser.id).await.expect("get event"), None, "no event without its change");
    assert_eq!(store.get_session(&waiting.id).await.expect("get"), Some(processing));
    assert_eq!(store.get_event(&winner.id).await.expect("get event"), Some(winner));

    // A session that was never created: no event either.
    let ghost = next_version(&sample_session(fresh_merchant()));
    let orphan = event_for(EventKind::Expired, &ghost);
    assert!(matches!(store.commit(SessionChange::new(&ghost).emitting(&orphan)).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_event(&orphan.id).await.expect("get event"), None);

    // A change that loses on its receiver stores no event.
    let owner = stored_waiting(store).await;
    let taken = match &owner.payment_method {
        Some(ferry_domain::PaymentMethod::Evm { receiver_address, .. }) => *receiver_address,
        None => panic!("waiting sessions have a receiver"),
    };
    let thief = sample_session(fresh_merchant());
    store.create_session(&thief, None).await.expect("create");
    let next = thief.set_evm_payment_method(taken, NOW).expect("legal").expect("changed");
    let event = event_for(EventKind::Processing, &next);
    let stolen = store.commit(SessionChange::new(&next).claiming_receiver(taken).emitting(&event)).await;
    assert!(matches!(stolen, Err(StoreError::Conflict(_))), "{stolen:?}");
    assert_eq!(store.get_event(&event.id).await.expect("get event"), None);
    assert_eq!(store.get_session(&thief.id).await.expect("get"), Some(thief));
}

pub async fn an_event_id_used_twice_loses<S: Store + EventStore>(store: &S) {
    let first = stored_waiting(store).await;
    let (processing, kind) = first.deposit_seen(&sample_deposit()).expect("legal");
    let event = event_for(kind, &processing);
    store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("first commit");

    // Another session's change reusing the id: refused, and nothing of it is written.
    let second = stored_waiting(store).await;
    let (other, kind) = second.deposit_seen(&sample_deposit()).expect("legal");
    let reused = SessionEvent { id: event.id, ..event_for(kind, &other) };
    let lost = store.commit(SessionChange::new(&other).emitting(&reused)).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    assert_eq!(store.get_session(&second.id).await.expect("get"), Some(second));
    // The same session's next change reusing it: refused too.
    let delivery = ferry_domain::Delivery { tx_hash: fresh_tx_hash(), received: BaseUnits::new(10_000_000) };
    let (succeeded, kind) = processing.delivered(delivery).expect("legal");
    let reused = SessionEvent { id: event.id, ..event_for(kind, &succeeded) };
    assert!(matches!(
        store.commit(SessionChange::new(&succeeded).emitting(&reused)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_session(&first.id).await.expect("get"), Some(processing));
    assert_eq!(store.get_event(&event.id).await.expect("get event"), Some(event), "the first event stays");
}

pub async fn concurrent_commits_with_events_store_exactly_the_winners_event<S: Store + EventStore>(store: &S) {
    let waiting = stored_waiting(store).await;
    let attempts: Vec<(Session, SessionEvent)> = (0..4)
        .map(|_| {
            let (next, kind) = waiting.deposit_seen(&sample_deposit()).expect("legal");
            let event = event_for(kind, &next);
            (next, event)
        })
        .collect();
    let handles: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|(next, event)| {
            let store = store.clone();
            tokio::spawn(async move { store.commit(SessionChange::new(&next).emitting(&event)).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (handle, attempt) in handles.into_iter().zip(&attempts) {
        match handle.await.expect("task") {
            Ok(()) => winners.push(attempt),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one commit wins");
    let stored = store.get_session(&waiting.id).await.expect("get").expect("stored");
    assert_eq!(&stored, &winners[0].0);
    for (_, event) in &attempts {
        let found = store.get_event(&event.id).await.expect("get event");
        let won = event.id == winners[0].1.id;
        assert_eq!(found.as_ref(), won.then_some(event), "only the winner's event exists");
    }
}

/// More than any check stores: "everything due" in a listing.
const ALL: usize = 1_000;

/// A stored open session (`requires_payment_method`) that expires at `expires_at`.
async fn open_session_expiring<S: ExpiryStore>(store: &S, expires_at: Timestamp) -> Session {
    let mut session = sample_session(fresh_merchant());
    session.created_at = Timestamp::from_unix_seconds(expires_at.unix_seconds() - 3_600);
    session.expires_at = expires_at;
    store.create_session(&session, None).await.expect("create");
    session
}

/// `session` given a deposit address, committed: `waiting_payment`.
async fn waiting<S: ExpiryStore>(store: &S, session: &Session) -> Session {
    let receiver = fresh_address();
    let next = session.set_evm_payment_method(receiver, session.created_at).expect("legal").expect("changed");
    store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.expect("set payment method");
    next
}

/// `session` paid, committed: `processing`.
async fn paid<S: ExpiryStore>(store: &S, session: &Session) -> Session {
    let mut deposit = sample_deposit();
    deposit.receiver = fresh_address();
    let (next, _event) = session.deposit_seen(&deposit).expect("legal");
    store.commit(SessionChange::new(&next)).await.expect("deposit seen");
    next
}

fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// Every listed session is open and due at `now`, and the list is sorted by expiry.
fn assert_due_listing(listed: &[Session], now: Timestamp) {
    for session in listed {
        assert!(session.status().is_open(), "{:?} is {}", session.id, session.status());
        assert!(session.expires_at <= now, "{:?} expires at {}, after {now}", session.id, session.expires_at);
    }
    assert!(listed.windows(2).all(|pair| pair[0].expires_at <= pair[1].expires_at), "oldest first");
}

pub async fn due_sessions_are_the_open_ones_past_their_expiry<S: ExpiryStore>(store: &S) {
    let now = Timestamp::from_unix_seconds(1_300_000_000);
    let long_ago = open_session_expiring(store, Timestamp::from_unix_seconds(1_299_990_000)).await;
    let just_now = open_session_expiring(store, now).await;
    let waiting_due =
        waiting(store, &open_session_expiring(store, Timestamp::from_unix_seconds(1_299_999_000)).await).await;
    let not_yet = open_session_expiring(store, now.plus_seconds(1)).await;
    let waiting_not_yet = waiting(store, &open_session_expiring(store, now.plus_seconds(600)).await).await;
    let processing = paid(store, &waiting(store, &open_session_expiring(store, now).await).await).await;
    let already_expired = {
        let open = open_session_expiring(store, Timestamp::from_unix_seconds(1_299_000_000)).await;
        let (expired, _event) = open.expire(now).expect("due");
        store.commit(SessionChange::new(&expired)).await.expect("expire");
        expired
    };

    let listed = store.due_sessions(now, ALL).await.expect("due sessions");
    assert_due_listing(&listed, now);
    let listed_ids = ids(&listed);
    for due in [&long_ago, &just_now, &waiting_due] {
        let found = listed.iter().find(|s| s.id == due.id);
        assert_eq!(found, Some(due), "a due open session is listed as stored");
    }
    for not_due in [&not_yet, &waiting_not_yet, &processing, &already_expired] {
        assert!(!listed_ids.contains(&not_due.id), "{} at {} is not due", not_due.status(), not_due.expires_at);
    }
    let position = |id| listed_ids.iter().position(|listed| *listed == id).expect("listed");
    assert!(position(long_ago.id) < position(waiting_due.id) && position(waiting_due.id) < position(just_now.id));

    // Once expired (the index is sparse: an expired session leaves it), it is listed no more.
    let (expired, event) = waiting_due.expire(now).expect("due");
    assert_eq!(event, ferry_domain::EventKind::Expired);
    store.commit(SessionChange::new(&expired)).await.expect("expire");
    let listed = ids(&store.due_sessions(now, ALL).await.expect("due sessions"));
    assert!(!listed.contains(&waiting_due.id) && listed.contains(&long_ago.id), "{listed:?}");
    assert_eq!(store.get_session(&waiting_due.id).await.expect("get"), Some(expired));
    // A later `now` lists the ones that were not yet due.
    let later = ids(&store.due_sessions(now.plus_seconds(600), ALL).await.expect("due sessions"));
    assert!(later.contains(&not_yet.id) && later.contains(&waiting_not_yet.id), "{later:?}");
    assert!(!later.contains(&processing.id));
    // Nothing is due before the first of them.
    let before = store.due_sessions(Timestamp::from_unix_seconds(1_000_000_000), ALL).await.expect("due sessions");
    assert!(!ids(&before).contains(&long_ago.id), "{before:?}");
}

pub async fn due_sessions_are_listed_oldest_first_up_to_the_limit<S: ExpiryStore>(store: &S) {
    let now = Timestamp::from_unix_seconds(1_200_000_000);
    let mut created = Vec::new();
    // Stored newest first, so that the store's order is not insertion order.
    for age in 1..=7 {
        created.push(open_session_expiring(store, Timestamp::from_unix_seconds(now.unix_seconds() - age * 60)).await);
    }
    let everything = store.due_sessions(now, ALL).await.expect("due sessions");
    assert_due_listing(&everything, now);
    let mine: Vec<SessionId> = ids(&everything).into_iter().filter(|id| created.iter().any(|s| s.id == *id)).collect();
    let oldest_first: Vec<SessionId> = created.iter().rev().map(|s| s.id).collect();
    assert_eq!(mine, oldest_first);

    for limit in [0, 1, 3, 5] {
        let page = store.due_sessions(now, limit).await.expect("due sessions");
        assert_eq!(page.len(), limit.min(everything.len()), "limit {limit}");
        let expiries: Vec<Timestamp> = page.iter().map(|s| s.expires_at).collect();
        let first: Vec<Timestamp> = everything.iter().take(limit).map(|s| s.expires_at).collect();
        assert_eq!(expiries, first, "the oldest {limit}");
    }
}

pub async fn an_expiry_racing_a_deposit_loses_to_it<S: ExpiryStore>(store: &S) {
    let now = Timestamp::from_unix_seconds(1_100_000_000);
    let session = waiting(store, &open_session_expiring(store, now).await).await;
    let listed = store.due_sessions(now, ALL).await.expect("due sessions");
    let seen = listed.into_iter().find(|s| s.id == session.id).expect("due and listed");

    // Between the listing and the expiry's commit, the deposit is seen.
    let processing = paid(store, &session).await;
    let (expired, _event) = seen.expire(now).expect("due when listed");
    let lost = store.commit(SessionChange::new(&expired)).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    assert_eq!(store.get_session(&session.id).await.expect("get"), Some(processing));
    assert!(!ids(&store.due_sessions(now, ALL).await.expect("due sessions")).contains(&session.id));

    // And the other way round: once expired, the deposit's transition is refused by the domain,
    // and a stale write (at the listed version) by the store.
    let other = waiting(store, &open_session_expiring(store, now).await).await;
    let (expired, _event) = other.expire(now).expect("due");
    store.commit(SessionChange::new(&expired)).await.expect("expire");
    assert!(expired.deposit_seen(&sample_deposit()).is_err());
    let (late, _event) = other.deposit_seen(&sample_deposit()).expect("legal on the stale copy");
    assert!(matches!(store.commit(SessionChange::new(&late)).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_session(&other.id).await.expect("get"), Some(expired));
}

fn fresh_payout_id() -> PayoutId {
    let mut bytes = [0; 32];
    bytes[..16].copy_from_slice(&fresh_bytes());
    bytes[16..].copy_from_slice(&fresh_bytes());
    bytes.into()
}

fn hex_of(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
