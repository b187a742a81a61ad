//! A router that dies mid-way (a store double fails the write it would have
//! made next), then the retry a fresh router makes: the funds move exactly
//! once, and the session still reaches the outcome the chain shows.

use alloy::consensus::Transaction as _;
use alloy::providers::Provider as _;
use alloy::sol_types::SolCall;
use ferry_chains::evm::contracts::{FerryFactory, TestMerchant};
use ferry_chains::evm::local;
use ferry_domain::{ChainId, DepositState, EvmAddress, Plan};
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, relayer, usdc};
use ferry_e2e::evm::{SessionRequest, spawn_app_with_chains_and_manual_workers};
use ferry_e2e::faults::{CrashPoint, Crashing};
use ferry_store::PayoutStore as _;
use route_deposits::RouteError;

use super::{REFUND, merchant_session, tx_hash, units};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_dies_after_paying_out_pays_exactly_once_when_the_deposit_is_routed_again() {
    let app = spawn_app_with_chains_and_manual_workers().await;
    let (destination, source) = (app.chains.get(CHAIN_A), app.chains.get(CHAIN_B));
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let destination_before = destination.usdc_balance(local::DESTINATION).await;
    let inventory_before = destination.usdc_balance(relayer()).await;
    let payment = app.pay(CHAIN_B, session.receiver, "10.00").await;
    let deposit = payment.deposit_id();
    app.watch_until_recorded(&deposit).await;

    // A router that dies after the payout and the collection, before it records either.
    let crashing = Crashing::new(app.store.clone(), CrashPoint::BeforeSettling);
    let error = app.router(crashing.clone()).route(&deposit, ferry_testing::now()).await.expect_err("the router dies");
    assert!(crashing.crashed() && matches!(error, RouteError::Store(_)), "{error:?}");
    let paid = destination.factory_events::<FerryFactory::Paid>().await;
    assert_eq!(paid.len(), 1, "the payout went out before the crash: {paid:?}");
    assert_eq!(destination.usdc_balance(local::DESTINATION).await - destination_before, usdc("10.00"));
    let record = app.deposit(&deposit).await.expect("recorded");
    assert!(matches!(record.state, DepositState::Planned { plan: Plan::Payout { .. } }), "{record:?}");
    assert_eq!(app.session_view(&session.id).await["status"], "processing");
    // Its intent was written before it was sent: the payout, its relayer and the nonce it went out with.
    let (payout, payout_tx) = &paid[0];
    let intent = app.store.get_payout(&payout.payoutId.into()).await.expect("get_payout").expect("an intent");
    let sent = destination.provider().get_transaction_by_hash(*payout_tx).await.expect("tx").expect("mined");
    assert_eq!(
        (intent.deposit_id, intent.chain_id, intent.relayer, intent.nonce, intent.to, intent.amount),
        (
            deposit.clone(),
            ChainId::new(CHAIN_A),
            EvmAddress::new(relayer()),
            sent.nonce(),
            EvmAddress::new(local::DESTINATION),
            units("10.00")
        )
    );

    // The retry (the message reappears; a fresh router takes it) finishes without paying again.
    let router = app.router(app.store.clone());
    router.route(&deposit, ferry_testing::now()).await.expect("the retry routes the deposit");
    let view = app.wait_for_status(&session.id, "succeeded").await;
    let delivery_tx = tx_hash(&view["destination"]["delivery"]["txHash"]);
    assert_eq!(view["destination"]["delivery"]["receivedUnits"], "10.00", "{view:#}");

    let paid = destination.factory_events::<FerryFactory::Paid>().await;
    assert_eq!(paid.len(), 1, "exactly one payout: {paid:?}");
    let (payout, payout_tx) = &paid[0];
    assert_eq!((payout.to, payout.amount, *payout_tx), (local::DESTINATION, usdc("10.00"), delivery_tx));
    assert_eq!(destination.usdc_balance(local::DESTINATION).await - destination_before, usdc("10.00"));
    assert_eq!(inventory_before - destination.usdc_balance(relayer()).await, usdc("10.00"));
    // Collected once, too.
    let collected = source.factory_events::<FerryFactory::Swept>().await;
    assert_eq!(collected.len(), 1, "{collected:?}");
    assert_eq!(source.usdc_balance(local::TREASURY).await, usdc("10.00"));
    let record = app.deposit(&deposit).await.expect("recorded");
    let DepositState::Settled { tx_hash, amount, .. } = record.state else { panic!("{record:?}") };
    assert_eq!((tx_hash.into_inner(), amount), (delivery_tx, units("10.00")));

    // Routing it yet again changes nothing.
    router.route(&deposit, ferry_testing::now()).await.expect("a settled deposit routes to nothing");
    assert_eq!(destination.factory_events::<FerryFactory::Paid>().await.len(), 1);
    assert_eq!(source.factory_events::<FerryFactory::Swept>().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_dies_after_settling_a_bounced_call_bounces_the_session_when_the_deposit_is_routed_again() {
    let app = spawn_app_with_chains_and_manual_workers().await;
    let chain = app.chains.get(CHAIN_A);
    let (merchant, _order, session) = merchant_session(&app, |amount, order_id| {
        TestMerchant::alwaysRevertsCall { _0: local::USDC, _1: amount, _2: order_id }.abi_encode()
    })
    .await;
    let payment = app.pay(CHAIN_A, session.receiver, "10.00").await;
    let deposit = payment.deposit_id();
    app.watch_until_recorded(&deposit).await;

    // A router that records the settlement, then dies before recording the session's outcome.
    let crashing = Crashing::new(app.store.clone(), CrashPoint::BeforeFinishing);
    let error = app.router(crashing.clone()).route(&deposit, ferry_testing::now()).await.expect_err("the router dies");
    assert!(crashing.crashed() && matches!(error, RouteError::Store(_)), "{error:?}");
    let record = app.deposit(&deposit).await.expect("recorded");
    let DepositState::Settled { tx_hash: refund_tx, .. } = record.state else { panic!("{record:?}") };
    assert_eq!(app.session_view(&session.id).await["status"], "processing");
    // The retry records the outcome the chain shows (the call reverted: bounced), moving nothing.
    app.router(app.store.clone()).route(&deposit, ferry_testing::now()).await.expect("the retry routes the deposit");
    let view = app.session_view(&session.id).await;
    assert_eq!(view["status"], "bounced", "{view:#}");
    assert_eq!(view["destination"]["delivery"]["receivedUnits"], "10.00", "{view:#}");
    assert_eq!(tx_hash(&view["destination"]["delivery"]["txHash"]), refund_tx.into_inner());
    let failed = chain.factory_events::<FerryFactory::CallFailedRefunded>().await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!((failed[0].0.target, failed[0].1), (merchant, refund_tx.into_inner()));
    assert_eq!(chain.usdc_balance(REFUND).await, usdc("10.00"), "refunded exactly once");
}
