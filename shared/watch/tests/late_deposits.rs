//! The late-deposit window: a transfer into the receiver of a session that
//! has ended is still a deposit for a while after its `expiresAt` (so that
//! the router refunds it), and after that is left alone. Against the
//! in-memory store and queue; the transfers are built by hand, as the chain
//! scan would report them.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use ferry_chains::evm::client::TokenTransfer;
use ferry_domain::{
    Chain, ChainId, ChainRegistry, DepositId, EvmAddress, MerchantId, Session, SessionEvent, SessionStatus, Timestamp,
};
use ferry_queue::memory::MemoryQueue;
use ferry_store::memory::MemoryStore;
use ferry_store::{DepositStore, SessionChange, SessionStore};
use ferry_watch::DepositDetector;

const HOUR: Duration = Duration::from_secs(3600);

fn base() -> Chain {
    ChainRegistry::production().expect("registry").chain(ChainId::new(8453)).expect("Base").clone()
}

/// An expired session with an EVM receiver, as stored after `expire-sessions` ran.
async fn expired_session(store: &MemoryStore) -> (Session, EvmAddress) {
    let created = ferry_testing::sample_session(MerchantId::from_random_bytes([1; 16]));
    store.create_session(&created, None).await.expect("create");
    let receiver = EvmAddress::new([0x7e; 20].into());
    let waiting = created.set_evm_payment_method(receiver, created.created_at).expect("legal").expect("changed");
    store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("set the method");
    let (expired, kind) = waiting.expire(waiting.expires_at).expect("due");
    let event = SessionEvent::new([2; 16], kind, &expired, expired.expires_at);
    store.commit(SessionChange::new(&expired).emitting(&event)).await.expect("expire");
    assert_eq!(expired.status(), SessionStatus::Expired);
    (expired, receiver)
}

/// 10 USDC into `receiver` in transaction `[tx; 32]`.
fn transfer(chain: &Chain, receiver: EvmAddress, tx: u8) -> TokenTransfer {
    let usdc = chain.tokens.iter().find(|token| token.symbol == "USDC").expect("USDC on Base");
    TokenTransfer {
        token: usdc.address.into_inner(),
        from: [0x5e; 20].into(),
        to: receiver.into_inner(),
        value: U256::from(10_000_000u64),
        tx_hash: B256::repeat_byte(tx),
        log_index: 0,
        block_number: 100,
    }
}

/// The id of [`transfer`]'s deposit: `chainId:txHash:logIndex`.
fn deposit_id(chain: &Chain, tx: u8) -> DepositId {
    let id = format!("{}:{:#x}:0", chain.id, B256::repeat_byte(tx));
    serde_json::from_value(serde_json::Value::String(id)).expect("a deposit id is a string")
}

#[tokio::test]
async fn a_transfer_into_an_expired_sessions_receiver_is_a_deposit_inside_the_window_and_ignored_after_it() {
    let (store, queue, chain) = (MemoryStore::new(), MemoryQueue::new(), base());
    let (session, receiver) = expired_session(&store).await;
    let detector = DepositDetector::new(store.clone(), queue.clone()).with_late_deposit_window(HOUR);
    let window_end = session.expires_at.plus_seconds(HOUR.as_secs());

    let inside = Timestamp::from_unix_seconds(window_end.unix_seconds() - 1);
    assert!(detector.detect(&chain, &transfer(&chain, receiver, 1), inside).await.expect("detect"), "enqueued");
    let recorded = store.get_deposit(&deposit_id(&chain, 1)).await.expect("get").expect("recorded");
    assert_eq!(recorded.session_id, session.id);
    assert_eq!(queue.len(), 1);

    let detected = detector.detect(&chain, &transfer(&chain, receiver, 2), window_end).await.expect("detect");
    assert!(!detected, "the window is over");
    assert_eq!(store.get_deposit(&deposit_id(&chain, 2)).await.expect("get"), None, "not recorded");
    assert_eq!(queue.len(), 1, "nothing more enqueued");
}

#[tokio::test]
async fn the_default_window_is_seven_days() {
    let (store, queue, chain) = (MemoryStore::new(), MemoryQueue::new(), base());
    let (session, receiver) = expired_session(&store).await;
    let detector = DepositDetector::new(store.clone(), queue.clone());
    let days = |n: u64| session.expires_at.plus_seconds(n * 24 * HOUR.as_secs());

    assert!(detector.detect(&chain, &transfer(&chain, receiver, 1), days(6)).await.expect("detect"));
    assert!(!detector.detect(&chain, &transfer(&chain, receiver, 2), days(7)).await.expect("detect"));
    assert_eq!(queue.len(), 1);
}
