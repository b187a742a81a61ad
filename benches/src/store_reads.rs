//! 3. Store reads per scan with 10,000 unrelated transfers in the scanned
//!    blocks, measured at the [`DepositDetector`] level with synthetic
//!    transfers (a chain scan hands the detector exactly these) over the
//!    memory store, counting every store call: Ferry's watcher with the
//!    receivers in memory against the per-transfer lookup it replaced (one
//!    bulk lookup of every recipient; on DynamoDB one `BatchGetItem` per 100
//!    distinct recipients, each recipient one item read).

use alloy::primitives::{B256, U256};
use ferry_chains::evm::client::TokenTransfer;
use ferry_domain::{Chain, ChainId, ChainRegistry, EvmAddress, MerchantId, Session, Timestamp};
use ferry_queue::memory::MemoryQueue;
use ferry_store::{SessionChange, SessionStore};
use ferry_testing::CountingStore;
use ferry_watch::{DepositDetector, WatchedReceivers};

use crate::Error;

const UNRELATED: u32 = 10_000;
const OPEN_SESSIONS: u8 = 200;
const PAID: u8 = 3;

/// DynamoDB-style (store calls, items read) of `store`'s reads: a bulk
/// lookup is one `BatchGetItem` per 100 distinct addresses; a log read one
/// Query per UTC day from `since`'s to the day after `now`'s.
fn dynamodb_reads(store: &CountingStore) -> (usize, usize) {
    let reads = store.reads();
    let addresses = reads.single_lookups + reads.distinct_bulk_addresses;
    let lookups = reads.single_lookups.max(addresses.div_ceil(100));
    let other_reads = reads.session_reads + reads.deposit_reads;
    let calls = lookups + reads.log_days + other_reads;
    let items = addresses + reads.claims_read + other_reads;
    (calls, items)
}

fn usdc_transfer(chain: &Chain, to: [u8; 20], tx: u32) -> Result<TokenTransfer, Error> {
    let usdc = chain.tokens.iter().find(|token| token.symbol == "USDC").ok_or("no USDC on Base")?;
    Ok(TokenTransfer {
        token: usdc.address.into_inner(),
        from: [0x5e; 20].into(),
        to: to.into(),
        value: U256::from(10_000_000u64),
        tx_hash: B256::left_padding_from(&tx.to_be_bytes()),
        log_index: 0,
        block_number: 100,
    })
}

/// 10,000 transfers to strangers and `PAID` into open sessions' receivers,
/// on a store with `OPEN_SESSIONS` sessions waiting for payment.
async fn scenario(store: &CountingStore, chain: &Chain, now: Timestamp) -> Result<Vec<TokenTransfer>, Error> {
    let mut transfers = Vec::new();
    for i in 0..OPEN_SESSIONS {
        let receiver = EvmAddress::new([0x70, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1].into());
        let mut session = ferry_testing::sample_session(MerchantId::from_random_bytes([i; 16]));
        session.created_at = now;
        session.expires_at = now.plus_seconds(Session::DEFAULT_LIFETIME_SECONDS);
        store.create_session(&session, None).await?;
        let waiting = session.set_evm_payment_method(receiver, now)?.ok_or("no change")?;
        store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await?;
        if i < PAID {
            transfers.push(usdc_transfer(chain, receiver.into_inner().into(), u32::from(i))?);
        }
    }
    for i in 0..UNRELATED {
        let mut to = [0xaa; 20];
        to[16..].copy_from_slice(&i.to_be_bytes());
        transfers.push(usdc_transfer(chain, to, 1_000 + i)?);
    }
    Ok(transfers)
}

pub async fn store_reads_per_scan() -> Result<(), Error> {
    println!(
        "4. Store reads per scan: {UNRELATED} unrelated USDC transfers + {PAID} deposits, {OPEN_SESSIONS} open sessions"
    );
    let chain = ChainRegistry::production()?.chain(ChainId::new(8453)).ok_or("no Base")?.clone();
    let now = Timestamp::from_unix_seconds(1_800_000_000);

    let baseline_store = CountingStore::default();
    let transfers = scenario(&baseline_store, &chain, now).await?;
    let baseline = DepositDetector::new(baseline_store.clone(), MemoryQueue::new());
    baseline_store.reset();
    let enqueued = baseline.detect_all(&chain, &transfers, now.plus_seconds(5)).await?;
    let (base_calls, base_items) = dynamodb_reads(&baseline_store);
    println!(
        "   baseline (every recipient looked up): {base_calls} store calls, {base_items} items read, {enqueued} deposits"
    );

    let store = CountingStore::default();
    let transfers = scenario(&store, &chain, now).await?;
    let detector = DepositDetector::new(store.clone(), MemoryQueue::new());
    let watched = WatchedReceivers::new(Session::DEFAULT_LATE_DEPOSIT_WINDOW);
    store.reset();
    // The cold start's first scan (unrelated transfers only) loads the receivers...
    let first = detector.detect_watched(&chain, &transfers[PAID as usize..], now.plus_seconds(1), &watched).await?;
    let (load_calls, load_items) = dynamodb_reads(&store);
    println!(
        "   Ferry, first scan after a cold start (loads the {OPEN_SESSIONS} receivers, 8 days of the log): \
         {load_calls} store calls, {load_items} items read"
    );
    // ...scans every 5 s read the claims since the previous one (less the 2-minute overlap)...
    let mut enqueued = first;
    for second in (5..300).step_by(5) {
        enqueued +=
            detector.detect_watched(&chain, &transfers[PAID as usize..], now.plus_seconds(second), &watched).await?;
    }
    store.reset();
    // ...and a warm scan's reads follow the matching transfers only.
    let later = detector.detect_watched(&chain, &transfers, now.plus_seconds(300), &watched).await?;
    let (calls, items) = dynamodb_reads(&store);
    println!(
        "   Ferry, warm scan (5 min later, same blocks): {calls} store calls, {items} items read, {} deposits \
         ({}× fewer calls, {}× fewer items than the baseline)",
        enqueued + later,
        base_calls / calls.max(1),
        base_items / items.max(1)
    );
    if enqueued + later != PAID as usize {
        return Err("Ferry missed a deposit".into());
    }
    Ok(())
}
