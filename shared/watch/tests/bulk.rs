//! A chain scan's transfers find their sessions with one bulk lookup, not
//! one store read per transfer: on a busy chain most transfers of USDC and
//! USDT pay somebody else.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy::primitives::{B256, U256};
use ferry_chains::evm::client::TokenTransfer;
use ferry_domain::{Chain, ChainId, ChainRegistry, DepositId, EvmAddress, MerchantId, Session, SessionId, Timestamp};
use ferry_queue::memory::MemoryQueue;
use ferry_store::memory::MemoryStore;
use ferry_store::{
    CreateSessionError, DepositRecord, DepositStore, IdempotencyRecord, Recorded, SessionChange, SessionStore,
    StoreResult, conformance,
};
use ferry_watch::DepositDetector;

/// The in-memory store, counting how receivers are looked up.
#[derive(Clone, Default)]
struct Counting {
    inner: MemoryStore,
    single: Arc<AtomicUsize>,
    bulk: Arc<AtomicUsize>,
}

impl SessionStore for Counting {
    async fn create_session(
        &self,
        session: &Session,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateSessionError> {
        self.inner.create_session(session, idempotency).await
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<Session>> {
        self.inner.get_session(id).await
    }

    async fn commit(&self, change: SessionChange<'_>) -> StoreResult<()> {
        self.inner.commit(change).await
    }

    async fn find_session_by_receiver(&self, receiver: &EvmAddress) -> StoreResult<Option<SessionId>> {
        self.single.fetch_add(1, Ordering::Relaxed);
        self.inner.find_session_by_receiver(receiver).await
    }

    async fn find_sessions_by_receivers(
        &self,
        receivers: &[EvmAddress],
    ) -> StoreResult<HashMap<EvmAddress, SessionId>> {
        self.bulk.fetch_add(1, Ordering::Relaxed);
        self.inner.find_sessions_by_receivers(receivers).await
    }
}

impl DepositStore for Counting {
    async fn record_deposit(&self, record: &DepositRecord) -> StoreResult<Recorded> {
        self.inner.record_deposit(record).await
    }

    async fn get_deposit(&self, id: &DepositId) -> StoreResult<Option<DepositRecord>> {
        self.inner.get_deposit(id).await
    }

    async fn update_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        self.inner.update_deposit(record).await
    }

    async fn deposits_due_for_recovery(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<DepositRecord>> {
        self.inner.deposits_due_for_recovery(now, limit).await
    }
}

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
    let (store, queue, chain) = (Counting::default(), MemoryQueue::new(), base());
    let session = conformance::sample_session(MerchantId::from_random_bytes([1; 16]));
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
    assert_eq!(store.bulk.load(Ordering::Relaxed), 1, "one bulk lookup for the whole scan");
    assert_eq!(store.single.load(Ordering::Relaxed), 0, "and no lookup per transfer");
}
