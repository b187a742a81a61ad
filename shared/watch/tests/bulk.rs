//! A chain scan's transfers find their sessions without one store read per
//! transfer: on a busy chain most transfers of USDC and USDT pay somebody
//! else. With the receivers in memory ([`WatchedReceivers`]), the store is
//! read only for transfers into them; without, in one bulk lookup.

use alloy::primitives::{B256, U256};
use ferry_chains::evm::client::TokenTransfer;
use ferry_domain::{Chain, ChainId, ChainRegistry, EvmAddress, MerchantId, Session, Timestamp};
use ferry_queue::memory::MemoryQueue;
use ferry_store::{SessionChange, SessionStore};
use ferry_testing::CountingStore;
use ferry_watch::{DepositDetector, WatchedReceivers};

fn base() -> Chain {
    ChainRegistry::production().expect("registry").chain(ChainId::new(8453)).expect("Base").clone()
}

/// 10 USDC into `to` in transaction `[tx; 32]`.
fn transfer(chain: &Chain, to: EvmAddress, tx: u8) -> TokenTransfer {
    let usdc = chain.tokens.iter().find(|token| token.symbol == "USDC").expect("USDC on Base");
    TokenTransfer {
        token: usdc.address.into_inner(),
        from: [0x5e; 20].into(),
        to: to.into_inner(),
        value: U256::from(10_000_000u64),
        tx_hash: B256::repeat_byte(tx),
        log_index: 0,
        block_number: 100,
    }
}

#[tokio::test]
async fn a_scan_looks_its_receivers_up_in_bulk() {
    let (store, queue, chain) = (CountingStore::default(), MemoryQueue::new(), base());
    let session = ferry_testing::sample_session(MerchantId::from_random_bytes([1; 16]));
    store.create_session(&session, None).await.expect("create");
    let receiver = EvmAddress::new([0x7e; 20].into());
    let waiting = session.set_evm_payment_method(receiver, session.created_at).expect("legal").expect("changed");
    store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("set the method");

    // 200 transfers to strangers, two to the session's receiver.
    let mut transfers: Vec<TokenTransfer> = (0..200u8)
        .map(|i| transfer(&chain, EvmAddress::new([i; 20].into()), i))
        .filter(|t| t.to != receiver.into_inner())
        .collect();
    transfers.insert(17, transfer(&chain, receiver, 201));
    transfers.push(transfer(&chain, receiver, 202));

    let detector = DepositDetector::new(store.clone(), queue.clone());
    let enqueued = detector.detect_all(&chain, &transfers, session.created_at).await.expect("detect");
    assert_eq!(enqueued, 2, "both payments into the receiver");
    assert_eq!(queue.len(), 2);
    assert_eq!(store.reads().bulk_lookups, 1, "one bulk lookup for the whole scan");
    assert_eq!(store.reads().single_lookups, 0, "and no lookup per transfer");
}

/// A stored session waiting for payment into `receiver`, claimed at `at`.
async fn waiting_session(store: &CountingStore, receiver: EvmAddress, at: Timestamp) -> Session {
    let mut session = ferry_testing::sample_session(MerchantId::from_random_bytes([receiver.into_inner()[0]; 16]));
    session.created_at = at;
    session.expires_at = at.plus_seconds(Session::DEFAULT_LIFETIME_SECONDS);
    store.create_session(&session, None).await.expect("create");
    let waiting = session.set_evm_payment_method(receiver, at).expect("legal").expect("changed");
    store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("set the method");
    waiting
}

/// `count` transfers to addresses no session owns (20 bytes from `i`, first byte 0xaa).
fn strangers(chain: &Chain, count: u32) -> Vec<TokenTransfer> {
    (0..count)
        .map(|i| {
            let mut to = [0xaa; 20];
            to[16..].copy_from_slice(&i.to_be_bytes());
            let mut t = transfer(chain, EvmAddress::new(to.into()), 0);
            t.tx_hash = B256::left_padding_from(&i.to_be_bytes());
            t
        })
        .collect()
}

const T: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

#[tokio::test]
async fn with_receivers_in_memory_a_scan_reads_the_store_only_for_transfers_into_them() {
    let (store, queue, chain) = (CountingStore::default(), MemoryQueue::new(), base());
    let receiver = EvmAddress::new([0x7e; 20].into());
    waiting_session(&store, receiver, T).await;
    let mut transfers = strangers(&chain, 10_000);
    transfers.insert(4_321, transfer(&chain, receiver, 201));

    let detector = DepositDetector::new(store.clone(), queue.clone());
    let watched = WatchedReceivers::new(Session::DEFAULT_LATE_DEPOSIT_WINDOW);
    let enqueued = detector.detect_watched(&chain, &transfers, T.plus_seconds(30), &watched).await.expect("detect");
    assert_eq!(enqueued, 1);
    assert_eq!(queue.len(), 1);
    assert_eq!(store.reads().bulk_lookups + store.reads().single_lookups, 0, "no receiver lookups");
    assert_eq!(store.reads().log_reads, 1, "one read of the receiver log");
    assert_eq!(store.reads().session_reads, 1, "the matching transfer's session only");

    // The next scan: one more log read, and nothing else for strangers.
    let enqueued =
        detector.detect_watched(&chain, &strangers(&chain, 500), T.plus_seconds(40), &watched).await.expect("detect");
    assert_eq!(enqueued, 0);
    assert_eq!(store.reads().log_reads, 2);
    assert_eq!(store.reads().session_reads, 1);
    // A scan without transfers reads nothing at all.
    detector.detect_watched(&chain, &[], T.plus_seconds(50), &watched).await.expect("detect");
    assert_eq!(store.reads().log_reads, 2);
}

#[tokio::test]
async fn a_receiver_claimed_after_the_last_refresh_is_detected_in_the_next_scan() {
    let (store, queue, chain) = (CountingStore::default(), MemoryQueue::new(), base());
    let detector = DepositDetector::new(store.clone(), queue.clone());
    let watched = WatchedReceivers::new(Session::DEFAULT_LATE_DEPOSIT_WINDOW);
    detector.detect_watched(&chain, &strangers(&chain, 10), T, &watched).await.expect("first scan loads");

    // Claimed with a time a minute before the last refresh (its commit landed late), and paid at once.
    let receiver = EvmAddress::new([0x7f; 20].into());
    waiting_session(&store, receiver, Timestamp::from_unix_seconds(T.unix_seconds() - 60)).await;
    let paid = [transfer(&chain, receiver, 9)];
    let enqueued = detector.detect_watched(&chain, &paid, T.plus_seconds(5), &watched).await.expect("detect");
    assert_eq!(enqueued, 1, "a receiver claimed since the last refresh is found");
    assert_eq!(store.reads().bulk_lookups, 0);
}

#[tokio::test]
async fn while_the_receiver_log_may_lack_older_claims_unknown_recipients_are_looked_up() {
    let store = CountingStore::with_log_start(T);
    let (queue, chain) = (MemoryQueue::new(), base());
    // Claimed before the log began: as an older version did, with no log entry.
    let receiver = EvmAddress::new([0x7d; 20].into());
    waiting_session(&store, receiver, Timestamp::from_unix_seconds(T.unix_seconds() - 100)).await;

    let detector = DepositDetector::new(store.clone(), queue.clone());
    let watched = WatchedReceivers::new(Session::DEFAULT_LATE_DEPOSIT_WINDOW);
    let mut transfers = strangers(&chain, 100);
    transfers.push(transfer(&chain, receiver, 7));
    let enqueued = detector.detect_watched(&chain, &transfers, T.plus_seconds(10), &watched).await.expect("detect");
    assert_eq!(enqueued, 1);
    assert_eq!(store.reads().bulk_addresses, 101, "the recipients not in memory, the receiver too");

    // Once every claim from before the log is past its window, strangers cost nothing.
    let later = T.plus_seconds(Session::DEFAULT_LIFETIME_SECONDS + 8 * 86_400 + 1);
    detector.detect_watched(&chain, &strangers(&chain, 100), later, &watched).await.expect("detect");
    assert_eq!(store.reads().bulk_addresses, 101, "no more lookups");
}
