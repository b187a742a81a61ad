//! Payments that reach the destination: swept straight to it on its own
//! chain, or paid from the relayer's inventory when paid on another chain.

use alloy::primitives::U256;
use ferry_chains::evm::contracts::FerryFactory;
use ferry_chains::evm::local;
use ferry_domain::{ChainId, DepositState, EvmAddress, Plan};
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, relayer, usdc};
use ferry_e2e::evm::{ChainApp, SessionRequest, spawn_app_with_chains, spawn_app_with_chains_on_dynamodb};
use ferry_store::{ChainStore, Store};

use super::{source_view, tx_hash, units};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_on_the_destination_chain_is_swept_straight_to_the_destination() {
    let app = spawn_app_with_chains().await;
    let chain = app.chains.get(CHAIN_A);
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let destination_before = chain.usdc_balance(local::DESTINATION).await;

    let payment = app.pay(CHAIN_A, session.receiver, "10.00").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;

    // The API: what the payer sent, and the transaction that delivered it.
    assert_eq!(view["paymentMethod"]["source"], source_view(CHAIN_A, "10.00", payment.tx_hash), "{view:#}");
    let delivery = &view["destination"]["delivery"];
    assert_eq!(delivery["receivedUnits"], "10.00", "{view:#}");
    let delivery_tx = tx_hash(&delivery["txHash"]);

    // The chain: exactly the amount went from the receiver to the destination, in that transaction.
    assert_eq!(chain.usdc_balance(local::DESTINATION).await - destination_before, usdc("10.00"));
    assert_eq!(chain.usdc_balance(session.receiver).await, U256::ZERO, "the receiver is empty");
    let swept = chain.factory_events::<FerryFactory::Swept>().await;
    assert_eq!(swept.len(), 1, "{swept:?}");
    let (sweep, sweep_tx) = &swept[0];
    assert_eq!(
        (sweep.to, sweep.token, sweep.amount, *sweep_tx),
        (local::DESTINATION, local::USDC, usdc("10.00"), delivery_tx)
    );
    assert!(chain.factory_events::<FerryFactory::Paid>().await.is_empty(), "nothing came from the inventory");

    // The store: the session is paid by this deposit, settled by that sweep.
    assert_eq!(app.stored_session(&session.id).await.paid_by(), Some(&payment.deposit_id()));
    let record = app.deposit(&payment.deposit_id()).await.expect("the deposit is recorded");
    let DepositState::Settled { plan, tx_hash, amount } = record.state else { panic!("{record:?}") };
    assert!(
        matches!(plan, Plan::Sweep { to, calldata: None, .. } if to == EvmAddress::new(local::DESTINATION)),
        "{plan:?}"
    );
    assert_eq!((tx_hash.into_inner(), amount), (delivery_tx, units("10.00")));
}

async fn a_payment_on_another_chain_is_paid_from_inventory_and_collected_into_the_treasury<S: Store + ChainStore>(
    app: ChainApp<S>,
) {
    let (destination, source) = (app.chains.get(CHAIN_A), app.chains.get(CHAIN_B));
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("25.00")).await;
    let destination_before = destination.usdc_balance(local::DESTINATION).await;
    let inventory_before = destination.usdc_balance(relayer()).await;
    let treasury_before = source.usdc_balance(local::TREASURY).await;

    let payment = app.pay(CHAIN_B, session.receiver, "25.00").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;

    assert_eq!(view["paymentMethod"]["source"], source_view(CHAIN_B, "25.00", payment.tx_hash), "{view:#}");
    let delivery = &view["destination"]["delivery"];
    assert_eq!(delivery["receivedUnits"], "25.00", "{view:#}");
    let delivery_tx = tx_hash(&delivery["txHash"]);

    // The destination chain: paid once from the relayer's inventory, by the delivery transaction.
    assert_eq!(destination.usdc_balance(local::DESTINATION).await - destination_before, usdc("25.00"));
    assert_eq!(inventory_before - destination.usdc_balance(relayer()).await, usdc("25.00"));
    let paid = destination.factory_events::<FerryFactory::Paid>().await;
    assert_eq!(paid.len(), 1, "{paid:?}");
    let (payout, payout_tx) = &paid[0];
    assert_eq!(
        (payout.to, payout.token, payout.amount, *payout_tx),
        (local::DESTINATION, local::USDC, usdc("25.00"), delivery_tx)
    );
    assert!(destination.factory_events::<FerryFactory::Swept>().await.is_empty(), "nothing was swept there");

    // The paying chain: the deposit went from the receiver into the treasury.
    assert_eq!(source.usdc_balance(local::TREASURY).await - treasury_before, usdc("25.00"));
    assert_eq!(source.usdc_balance(session.receiver).await, U256::ZERO, "the receiver is empty");
    let collected = source.factory_events::<FerryFactory::Swept>().await;
    assert_eq!(collected.len(), 1, "{collected:?}");
    assert_eq!((collected[0].0.to, collected[0].0.amount), (local::TREASURY, usdc("25.00")));

    let record = app.deposit(&payment.deposit_id()).await.expect("the deposit is recorded");
    let DepositState::Settled { plan, tx_hash, amount } = record.state else { panic!("{record:?}") };
    assert!(
        matches!(&plan, Plan::Payout { chain_id, amount, to, .. }
            if *chain_id == ChainId::new(CHAIN_A) && *amount == units("25.00") && *to == EvmAddress::new(local::DESTINATION)),
        "{plan:?}"
    );
    assert_eq!((tx_hash.into_inner(), amount), (delivery_tx, units("25.00")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_on_another_chain_is_paid_from_inventory_and_collected_into_the_treasury_on_sqlite() {
    a_payment_on_another_chain_is_paid_from_inventory_and_collected_into_the_treasury(spawn_app_with_chains().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_on_another_chain_is_paid_from_inventory_and_collected_into_the_treasury_on_dynamodb() {
    let app = spawn_app_with_chains_on_dynamodb().await;
    a_payment_on_another_chain_is_paid_from_inventory_and_collected_into_the_treasury(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_within_the_tolerance_on_another_chain_pays_out_what_was_received() {
    let app = spawn_app_with_chains().await;
    let destination = app.chains.get(CHAIN_A);
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let destination_before = destination.usdc_balance(local::DESTINATION).await;

    // 9.90 is exactly 1% short: accepted, and paid out as received, never topped up from the inventory.
    app.pay(CHAIN_B, session.receiver, "9.90").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;
    assert_eq!(view["destination"]["delivery"]["receivedUnits"], "9.90", "{view:#}");
    assert_eq!(view["paymentMethod"]["source"]["sentUnits"], "9.90", "{view:#}");
    assert_eq!(destination.usdc_balance(local::DESTINATION).await - destination_before, usdc("9.90"));
    let paid = destination.factory_events::<FerryFactory::Paid>().await;
    assert_eq!(paid.iter().map(|(e, _)| e.amount).collect::<Vec<_>>(), vec![usdc("9.90")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_an_amount_delivers_whatever_was_paid() {
    let app = spawn_app_with_chains().await;
    let destination = app.chains.get(CHAIN_A);
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A)).await;
    let destination_before = destination.usdc_balance(local::DESTINATION).await;

    let payment = app.pay(CHAIN_B, session.receiver, "1234.567891").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;
    assert!(view["destination"].get("amountUnits").is_none(), "{view:#}");
    assert_eq!(view["paymentMethod"]["source"], source_view(CHAIN_B, "1234.567891", payment.tx_hash), "{view:#}");
    assert_eq!(view["destination"]["delivery"]["receivedUnits"], "1234.567891", "{view:#}");
    assert_eq!(destination.usdc_balance(local::DESTINATION).await - destination_before, usdc("1234.567891"));
}
