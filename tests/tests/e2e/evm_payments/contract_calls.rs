//! Destinations with calldata: the funds are approved to the contract and
//! its call made; if it reverts, the funds go to the refund address and the
//! session bounces. On the destination's chain (`sweepAndCall`) and from
//! another chain (`payAndCall` from the inventory).

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use ferry_chains::evm::contracts::{FerryFactory, TestMerchant};
use ferry_chains::evm::local;
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, usdc};
use ferry_e2e::evm::spawn_app_with_chains;
use serde_json::json;

use super::{REFUND, merchant_session, source_view, tx_hash};

async fn a_contract_destination_is_paid_through_its_call(paid_on: u64) {
    let app = spawn_app_with_chains().await;
    let (destination, source) = (app.chains.get(CHAIN_A), app.chains.get(paid_on));
    let (merchant, order, session) = merchant_session(&app, |amount, order_id| {
        TestMerchant::payCall { token: local::USDC, amount, orderId: order_id }.abi_encode()
    })
    .await;

    app.pay(paid_on, session.receiver, "10.00").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;
    let delivery = &view["destination"]["delivery"];
    assert_eq!(delivery["receivedUnits"], "10.00", "{view:#}");
    let delivery_tx = tx_hash(&delivery["txHash"]);

    // The merchant's contract pulled the amount and recorded the order; nothing was left over.
    assert_eq!(destination.paid_order(merchant, order).await, usdc("10.00"));
    assert_eq!(destination.usdc_balance(merchant).await, usdc("10.00"));
    assert_eq!(destination.usdc_balance(REFUND).await, U256::ZERO, "nothing was refunded");
    assert_eq!(destination.usdc_balance(destination.executor().await).await, U256::ZERO, "the executor keeps nothing");
    assert_eq!(source.usdc_balance(session.receiver).await, U256::ZERO, "the receiver is empty");
    if paid_on == CHAIN_A {
        let calls = destination.factory_events::<FerryFactory::CallDelivered>().await;
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (call, call_tx) = &calls[0];
        assert_eq!(
            (call.target, call.amount, call.refunded, *call_tx),
            (merchant, usdc("10.00"), U256::ZERO, delivery_tx)
        );
    } else {
        let calls = destination.factory_events::<FerryFactory::PayoutCallDelivered>().await;
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (call, call_tx) = &calls[0];
        assert_eq!(
            (call.target, call.amount, call.refunded, *call_tx),
            (merchant, usdc("10.00"), U256::ZERO, delivery_tx)
        );
        assert_eq!(source.usdc_balance(local::TREASURY).await, usdc("10.00"), "the deposit was collected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_destination_paid_on_its_chain_is_paid_through_its_call() {
    a_contract_destination_is_paid_through_its_call(CHAIN_A).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_destination_paid_on_another_chain_is_paid_through_its_call() {
    a_contract_destination_is_paid_through_its_call(CHAIN_B).await;
}

async fn a_reverting_contract_call_bounces_the_payment_to_the_refund_address(paid_on: u64) {
    let app = spawn_app_with_chains().await;
    let (destination, source) = (app.chains.get(CHAIN_A), app.chains.get(paid_on));
    let (merchant, order, session) = merchant_session(&app, |amount, order_id| {
        TestMerchant::alwaysRevertsCall { _0: local::USDC, _1: amount, _2: order_id }.abi_encode()
    })
    .await;

    let payment = app.pay(paid_on, session.receiver, "10.00").await;
    let view = app.wait_for_status(&session.id, "bounced").await;
    assert_eq!(view["paymentMethod"]["source"], source_view(paid_on, "10.00", payment.tx_hash), "{view:#}");
    // `destination.delivery` reports the refund.
    let delivery = &view["destination"]["delivery"];
    assert_eq!(delivery["receivedUnits"], "10.00", "{view:#}");
    let refund_tx = tx_hash(&delivery["txHash"]);
    // …and so does the session's list of refunds, on the chain and in the token the refund went out in.
    let refunds = view["refunds"].as_array().cloned().unwrap_or_default();
    assert_eq!(refunds.len(), 1, "{view:#}");
    assert_eq!((&refunds[0]["reason"], &refunds[0]["chainId"]), (&json!("call_reverted"), &json!(CHAIN_A)), "{view:#}");
    assert_eq!((&refunds[0]["depositChainId"], &refunds[0]["to"]), (&json!(paid_on), &json!(REFUND.to_string())));
    assert_eq!((tx_hash(&refunds[0]["txHash"]), &refunds[0]["amountUnits"]), (refund_tx, &json!("10.00")));

    // The refund address on the destination chain has all of it; the merchant nothing.
    assert_eq!(destination.usdc_balance(REFUND).await, usdc("10.00"));
    assert_eq!(destination.usdc_balance(merchant).await, U256::ZERO);
    assert_eq!(destination.paid_order(merchant, order).await, U256::ZERO);
    assert_eq!(destination.usdc_balance(destination.executor().await).await, U256::ZERO, "the executor keeps nothing");
    assert_eq!(source.usdc_balance(session.receiver).await, U256::ZERO, "the receiver is empty");
    let (target, refund_to, amount, revert_data, tx) = if paid_on == CHAIN_A {
        let failed = destination.factory_events::<FerryFactory::CallFailedRefunded>().await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        let (event, tx) = failed.into_iter().next().expect("one");
        (event.target, event.refundTo, event.amount, event.revertData, tx)
    } else {
        let failed = destination.factory_events::<FerryFactory::PayoutCallFailedRefunded>().await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        let (event, tx) = failed.into_iter().next().expect("one");
        assert_eq!(source.usdc_balance(local::TREASURY).await, usdc("10.00"), "the deposit was collected");
        (event.target, event.refundTo, event.amount, event.revertData, tx)
    };
    assert_eq!((target, refund_to, amount, tx), (merchant, REFUND, usdc("10.00"), refund_tx));
    assert!(String::from_utf8_lossy(&revert_data).contains("TestMerchant: always reverts"), "{revert_data}");
    for call in [
        destination.factory_events::<FerryFactory::CallDelivered>().await.len(),
        destination.factory_events::<FerryFactory::PayoutCallDelivered>().await.len(),
    ] {
        assert_eq!(call, 0, "no call was delivered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverting_contract_call_paid_on_its_chain_bounces_the_payment_to_the_refund_address() {
    a_reverting_contract_call_bounces_the_payment_to_the_refund_address(CHAIN_A).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverting_contract_call_paid_on_another_chain_bounces_the_payment_to_the_refund_address() {
    a_reverting_contract_call_bounces_the_payment_to_the_refund_address(CHAIN_B).await;
}
