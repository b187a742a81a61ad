//! A payer who names its transaction (`PUT /check` with `txHash`) is seen at
//! once: no chain scan runs in this test, only the hint's lookup and the
//! router.

use std::sync::Arc;
use std::time::Duration;

use ferry_chains::evm::ReceiverDerivation;
use ferry_chains::evm::local;
use ferry_domain::{ChainRegistry, DepositState, RouteDeposit};
use ferry_e2e::TestApp;
use ferry_e2e::chains::{CHAIN_A, CHAIN_B};
use ferry_e2e::evm::{ChainApp, SessionRequest, spawn_app_with_chains_and_manual_workers};
use ferry_e2e::spawn_api_with;
use ferry_queue::TypedQueue;
use ferry_queue::memory::MemoryQueue;
use ferry_store::sqlite::SqliteStore;
use ferry_watch::{ChainTxLookup, DepositDetector};
use serde_json::json;

/// A second API over the same store whose `check` looks hints up on the
/// test's chains, queueing deposits on the returned queue.
async fn api_with_hint_lookups(app: &ChainApp<SqliteStore>) -> (TestApp<SqliteStore>, MemoryQueue) {
    let queue = MemoryQueue::new();
    let lookup = ChainTxLookup::new(DepositDetector::new(app.store.clone(), queue.clone()), app.chains.watched());
    let api = spawn_api_with(
        app.store.clone(),
        ChainRegistry::local().expect("registry"),
        ReceiverDerivation::new(local::FACTORY),
        Some(Arc::new(lookup)),
        ferry_domain::UrlPolicy::default(),
    )
    .await;
    (api, queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_who_names_the_transaction_is_routed_without_waiting_for_a_scan() {
    let app = spawn_app_with_chains_and_manual_workers().await;
    let (api, queue) = api_with_hint_lookups(&app).await;
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let payment = app.pay(CHAIN_B, session.receiver, "10.00").await;
    let deposit = payment.deposit_id();
    // One block on top of the payment: the local chains want one confirmation.
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let hint = json!({"clientSecret": session.secret, "txHash": payment.tx_hash.to_string()});
    let checked = api.check(&session.id, &hint).await;
    assert_eq!(checked.status, 200, "{:#}", checked.body);

    // The hint alone recorded the deposit and queued it for the router.
    let record = app.deposit(&deposit).await.expect("the hint recorded the deposit");
    assert_eq!(record.state, DepositState::Detected);
    let queued: TypedQueue<MemoryQueue, RouteDeposit> = TypedQueue::new(queue.clone());
    let messages = queued.receive(10, Duration::from_millis(100), Duration::from_secs(30)).await.expect("receive");
    assert_eq!(messages.len(), 1, "exactly one routing message");
    let message = messages[0].message.as_ref().expect("a RouteDeposit");
    assert_eq!(message.deposit_id, deposit);

    app.router(app.store.clone()).route(&deposit, ferry_testing::now()).await.expect("routed");
    queued.ack(&messages[0].receipt).await.expect("ack");
    let view = app.wait_for_status(&session.id, "succeeded").await;
    assert_eq!(view["paymentMethod"]["source"]["txHash"], payment.tx_hash.to_string());

    // Naming the same transaction again changes nothing and queues nothing.
    assert_eq!(api.check(&session.id, &hint).await.status, 200);
    assert!(queue.is_empty(), "a routed deposit is not queued again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_naming_another_sessions_or_an_unknown_transaction_records_nothing() {
    let app = spawn_app_with_chains_and_manual_workers().await;
    let (api, queue) = api_with_hint_lookups(&app).await;
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let other = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let payment = app.pay(CHAIN_A, other.receiver, "10.00").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    // A transaction that paid another session's receiver is not this session's deposit.
    let hint = json!({"clientSecret": session.secret, "txHash": payment.tx_hash.to_string()});
    assert_eq!(api.check(&session.id, &hint).await.status, 200);
    assert!(app.deposit(&payment.deposit_id()).await.is_none());
    // A hash no chain knows is fine too: recorded as the hint, nothing more.
    let unknown = json!({"clientSecret": session.secret, "txHash": format!("0x{}", "42".repeat(32))});
    assert_eq!(api.check(&session.id, &unknown).await.status, 200);
    assert!(queue.is_empty());
}

/// One chain's node hangs (accepts, never answers) while the paid chain
/// answers: the hint still finds the deposit on the paid chain, and the
/// check answers within the lookup's budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_is_found_on_the_paid_chain_while_another_chains_node_hangs() {
    use ferry_chains::evm::client::EvmClient;
    use ferry_watch::{HINT_BUDGET, HINT_CALL_TIMEOUT};

    let app = spawn_app_with_chains_and_manual_workers().await;
    let hung = ferry_testing::SilentNode::start().await;
    let queue = MemoryQueue::new();
    let chains = app
        .chains
        .watched()
        .into_iter()
        .map(|mut watched| {
            if watched.chain.id.get() == CHAIN_B {
                watched.client =
                    EvmClient::connect_with_timeout(watched.chain.id, hung.url(), HINT_CALL_TIMEOUT).expect("client");
            }
            watched
        })
        .collect();
    let lookup = ChainTxLookup::new(DepositDetector::new(app.store.clone(), queue.clone()), chains);
    let api = spawn_api_with(
        app.store.clone(),
        ChainRegistry::local().expect("registry"),
        ReceiverDerivation::new(local::FACTORY),
        Some(Arc::new(lookup)),
        ferry_domain::UrlPolicy::default(),
    )
    .await;
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let payment = app.pay(CHAIN_A, session.receiver, "10.00").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let hint = json!({"clientSecret": session.secret, "txHash": payment.tx_hash.to_string()});
    let started = std::time::Instant::now();
    let checked = api.check(&session.id, &hint).await;
    let elapsed = started.elapsed();

    assert_eq!(checked.status, 200, "{:#}", checked.body);
    assert!(elapsed < HINT_BUDGET + Duration::from_millis(500), "answered after {elapsed:?}");
    let record = app.deposit(&payment.deposit_id()).await.expect("found on the chain that answered");
    assert_eq!(record.state, DepositState::Detected);
    assert!(!queue.is_empty(), "queued for the router");
    assert_eq!(hung.requests(), 1, "the hung node was asked once, not retried");
}
