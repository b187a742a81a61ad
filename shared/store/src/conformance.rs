//! The behaviour every store adapter must have, as one suite that each
//! adapter's tests run against a fresh instance.
//!
//! The checks use fresh identifiers, so they can share one instance (or one
//! DynamoDB table) with other tests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_domain::{
    ApiKey, BaseUnits, ChainId, ClientSecret, Deposit, Destination, DisplayInfo, EvmAddress, Merchant, MerchantId,
    Metadata, NewSession, Plan, Session, SessionId, SessionStatus, Timestamp, Token, TxHash,
};

use crate::{
    ApiKeyRecord, ChainCursor, ChainStore, CreateSessionError, DepositRecord, DepositState, IdempotencyRecord,
    PayoutIntent, Recorded, SessionChange, Store, StoreError,
};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

/// Runs every check against `store`.
pub async fn run_all<S: Store + ChainStore>(store: S) {
    sessions_round_trip(&store).await;
    session_ids_are_unique(&store).await;
    commits_are_conditional_on_the_version(&store).await;
    a_receiver_belongs_to_one_session(&store).await;
    idempotency_keys_are_scoped_to_a_merchant_and_expire(&store).await;
    concurrent_creates_with_one_key_store_one_session(&store).await;
    concurrent_commits_on_one_version_let_exactly_one_win(&store).await;
    merchants_and_api_keys_round_trip(&store).await;
    cursors_advance_only_from_where_they_are(&store).await;
    deposits_are_recorded_once(&store).await;
    deposit_updates_are_conditional_on_the_version(&store).await;
    concurrent_records_of_one_deposit_store_it_once(&store).await;
    payouts_are_created_once_and_updated_by_version(&store).await;
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
        display: DisplayInfo {
            title: "Order #1".into(),
            verb: "Pay".into(),
            theme_css_url: None,
            payment_options: Some(vec!["evm".into()]),
        },
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
    DepositRecord {
        deposit,
        session_id: SessionId::from_bytes(fresh_bytes()),
        state: DepositState::Detected,
        recorded_at: NOW,
        version: 0,
    }
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

fn idempotency(merchant_id: MerchantId, key: &str, body: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        merchant_id,
        key: key.into(),
        request_hash: "ab".repeat(32),
        response_status: 201,
        response_body: body.into(),
        created_at: NOW,
        expires_at: NOW.plus_seconds(86_400),
    }
}

async fn sessions_round_trip<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let loaded = store.get_session(&session.id).await.expect("get");
    assert_eq!(loaded.as_ref(), Some(&session));
    let unknown = SessionId::from_bytes(fresh_bytes());
    assert_eq!(store.get_session(&unknown).await.expect("get unknown"), None);
}

async fn session_ids_are_unique<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let again = store.create_session(&session, None).await;
    assert!(matches!(again, Err(CreateSessionError::Store(StoreError::Conflict(_)))), "{again:?}");
}

async fn commits_are_conditional_on_the_version<S: Store>(store: &S) {
    let session = sample_session(fresh_merchant());
    store.create_session(&session, None).await.expect("create");
    let receiver = fresh_address();
    let next = session.set_evm_payment_method(receiver, NOW).expect("legal").expect("changed");
    assert_eq!(next.version, 1);
    store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await.expect("first commit");
    assert_eq!(store.get_session(&session.id).await.expect("get"), Some(next.clone()));

    // The same change again is stale: version 1 is already stored.
    let stale = store.commit(SessionChange::new(&next)).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    // Skipping a version is refused too.
    let mut skipping = next.clone();
    skipping.version = 3;
    assert!(matches!(store.commit(SessionChange::new(&skipping)).await, Err(StoreError::Conflict(_))));
    // And a session that was never created cannot be committed.
    let mut ghost = sample_session(fresh_merchant());
    ghost.version = 1;
    assert!(matches!(store.commit(SessionChange::new(&ghost)).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_session(&session.id).await.expect("get"), Some(next));
}

async fn a_receiver_belongs_to_one_session<S: Store>(store: &S) {
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
    let mut again = first_next.clone();
    again.version += 1;
    store.commit(SessionChange::new(&again).claiming_receiver(receiver)).await.expect("re-claim");
    assert_eq!(store.find_session_by_receiver(&fresh_address()).await.expect("find"), None);
}

async fn idempotency_keys_are_scoped_to_a_merchant_and_expire<S: Store>(store: &S) {
    let merchant = fresh_merchant();
    let key = format!("order-{}", hex_of(fresh_bytes()));
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

async fn concurrent_creates_with_one_key_store_one_session<S: Store>(store: &S) {
    let merchant = fresh_merchant();
    let key = format!("race-{}", hex_of(fresh_bytes()));
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

async fn concurrent_commits_on_one_version_let_exactly_one_win<S: Store>(store: &S) {
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
    assert_eq!(winners[0].status, SessionStatus::WaitingPayment);
}

async fn merchants_and_api_keys_round_trip<S: Store>(store: &S) {
    let merchant = Merchant { id: fresh_merchant(), name: "Acme".into(), created_at: NOW };
    let key = ApiKey::from_random_bytes(fresh_bytes());
    let record = ApiKeyRecord { hash: key.hash(), merchant_id: merchant.id, created_at: NOW };

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

async fn cursors_advance_only_from_where_they_are<S: ChainStore>(store: &S) {
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

async fn deposits_are_recorded_once<S: ChainStore>(store: &S) {
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

async fn deposit_updates_are_conditional_on_the_version<S: ChainStore>(store: &S) {
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

async fn concurrent_records_of_one_deposit_store_it_once<S: ChainStore>(store: &S) {
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

async fn payouts_are_created_once_and_updated_by_version<S: ChainStore>(store: &S) {
    let deposit = sample_deposit();
    let intent = PayoutIntent {
        payout_id: format!("0x{}{}", hex_of(fresh_bytes()), hex_of(fresh_bytes())),
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
    let unknown = format!("0x{}{}", hex_of(fresh_bytes()), hex_of(fresh_bytes()));
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

fn hex_of(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
