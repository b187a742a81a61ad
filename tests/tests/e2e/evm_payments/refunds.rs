//! Deposits that go back on the chain they came from, to the refund address
//! or else their sender, with the reason recorded on the deposit and listed
//! in the merchant's view of the session: outside the amount's tolerance,
//! after expiry, or to a session already paid.

use alloy::primitives::{Address, B256, U256};
use ferry_chains::evm::contracts::FerryFactory;
use ferry_chains::evm::local;
use ferry_domain::{DepositState, EvmAddress, Plan, RefundReason};
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, payer, usdc};
use ferry_e2e::evm::{ChainApp, SessionRequest, eventually, spawn_app_with_chains};
use ferry_store::{ChainStore, Store};
use serde_json::{Value, json};

use super::{REFUND, source_view, tx_hash, units};

/// The merchant's view of the session once it lists `count` refunds.
async fn wait_for_refunds<S: Store + ChainStore>(app: &ChainApp<S>, id: &str, count: usize) -> Value {
    eventually(&format!("session {id} to list {count} refunds"), || async {
        let view = app.session_view(id).await;
        let listed = view["refunds"].as_array().map_or(0, Vec::len);
        if listed == count { Ok(view) } else { Err(format!("{listed} listed: {view:#}")) }
    })
    .await
}

/// Asserts the session still waits for its payment, with no source and no delivery.
async fn assert_still_waiting<S: Store + ChainStore>(app: &ChainApp<S>, id: &str) {
    let view = app.session_view(id).await;
    assert_eq!(view["status"], "waiting_payment", "{view:#}");
    assert!(view["paymentMethod"].get("source").is_none(), "{view:#}");
    assert!(view["destination"].get("delivery").is_none(), "{view:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_underpayment_is_refunded_to_the_refund_address_and_the_session_keeps_waiting() {
    let app = spawn_app_with_chains().await;
    let chain = app.chains.get(CHAIN_A);
    let request = SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00").refund_to(REFUND);
    let session = app.open_session(&request).await;
    let destination_before = chain.usdc_balance(local::DESTINATION).await;

    // 9.89 is just beyond the 1% tolerance (9.90 would be accepted).
    let short = app.pay(CHAIN_A, session.receiver, "9.89").await;
    let record = app.wait_until_settled(&short.deposit_id()).await;
    let DepositState::Settled { plan, tx_hash, amount } = record.state else { unreachable!() };
    let reason = RefundReason::Underpaid { expected: units("10.00"), received: units("9.89") };
    assert_eq!(plan, Plan::Refund { to: EvmAddress::new(REFUND), reason });
    assert_eq!(amount, units("9.89"));

    // On chain: all of it went back to the refund address, in the recorded transaction.
    assert_eq!(chain.usdc_balance(REFUND).await, usdc("9.89"));
    assert_eq!(chain.usdc_balance(session.receiver).await, U256::ZERO);
    assert_eq!(chain.usdc_balance(local::DESTINATION).await, destination_before);
    let swept = chain.factory_events::<FerryFactory::Swept>().await;
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!((swept[0].0.to, swept[0].0.amount, swept[0].1), (REFUND, usdc("9.89"), tx_hash.into_inner()));
    assert_still_waiting(&app, &session.id).await;
    let view = wait_for_refunds(&app, &session.id, 1).await;
    assert_eq!(
        (&view["refunds"][0]["reason"], &view["refunds"][0]["amountUnits"]),
        (&json!("underpaid"), &json!("9.89"))
    );

    // The right amount still pays the session.
    let full = app.pay(CHAIN_A, session.receiver, "10.00").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;
    assert_eq!(view["paymentMethod"]["source"], source_view(CHAIN_A, "10.00", full.tx_hash), "{view:#}");
    assert_eq!(view["destination"]["delivery"]["receivedUnits"], "10.00", "{view:#}");
    assert_eq!(chain.usdc_balance(local::DESTINATION).await - destination_before, usdc("10.00"));
    assert_eq!(chain.usdc_balance(REFUND).await, usdc("9.89"), "the refund stays refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overpayment_without_a_refund_address_is_refunded_to_its_sender_and_the_session_keeps_waiting() {
    let app = spawn_app_with_chains().await;
    let (destination, source) = (app.chains.get(CHAIN_A), app.chains.get(CHAIN_B));
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let destination_before = destination.usdc_balance(local::DESTINATION).await;
    let payer_before = source.usdc_balance(payer()).await;

    // 10.11 is just beyond the 1% tolerance (10.10 would be accepted); paid on the other chain.
    let over = app.pay(CHAIN_B, session.receiver, "10.11").await;
    let record = app.wait_until_settled(&over.deposit_id()).await;
    let DepositState::Settled { plan, tx_hash, amount } = record.state else { unreachable!() };
    let reason = RefundReason::Overpaid { expected: units("10.00"), received: units("10.11") };
    assert_eq!(plan, Plan::Refund { to: EvmAddress::new(payer()), reason });
    assert_eq!(amount, units("10.11"));

    // On chain: it went back to the payer on the chain it came from; nothing was paid out.
    assert_eq!(source.usdc_balance(payer()).await, payer_before);
    assert_eq!(source.usdc_balance(session.receiver).await, U256::ZERO);
    assert_eq!(source.usdc_balance(local::TREASURY).await, U256::ZERO);
    let swept = source.factory_events::<FerryFactory::Swept>().await;
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!((swept[0].0.to, swept[0].0.amount, swept[0].1), (payer(), usdc("10.11"), tx_hash.into_inner()));
    assert!(destination.factory_events::<FerryFactory::Paid>().await.is_empty(), "nothing was paid out");
    assert_eq!(destination.usdc_balance(local::DESTINATION).await, destination_before);
    assert_still_waiting(&app, &session.id).await;

    // The right amount still pays the session.
    let full = app.pay(CHAIN_B, session.receiver, "10.00").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;
    assert_eq!(view["paymentMethod"]["source"], source_view(CHAIN_B, "10.00", full.tx_hash), "{view:#}");
    assert_eq!(destination.usdc_balance(local::DESTINATION).await - destination_before, usdc("10.00"));
    assert_eq!(payer_before - source.usdc_balance(payer()).await, usdc("10.00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_after_the_session_expired_is_refunded_to_the_refund_address() {
    let app = spawn_app_with_chains().await;
    let chain = app.chains.get(CHAIN_A);
    let request = SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00").refund_to(REFUND);
    let session = app.open_session(&request).await;
    // Its time ran out (the expiry worker may not have recorded it yet).
    app.rewrite_session(&session.id, |s| s["expires_at"] = serde_json::json!(1)).await;
    let destination_before = chain.usdc_balance(local::DESTINATION).await;

    let late = app.pay(CHAIN_A, session.receiver, "10.00").await;
    let record = app.wait_until_settled(&late.deposit_id()).await;
    let DepositState::Settled { plan, tx_hash, amount } = record.state else { unreachable!() };
    assert_eq!(plan, Plan::Refund { to: EvmAddress::new(REFUND), reason: RefundReason::Expired });
    assert_eq!(amount, units("10.00"));

    assert_eq!(chain.usdc_balance(REFUND).await, usdc("10.00"));
    assert_eq!(chain.usdc_balance(session.receiver).await, U256::ZERO);
    assert_eq!(chain.usdc_balance(local::DESTINATION).await, destination_before);
    let swept = chain.factory_events::<FerryFactory::Swept>().await;
    assert_eq!(swept.iter().map(|(e, tx)| (e.to, *tx)).collect::<Vec<_>>(), vec![(REFUND, tx_hash.into_inner())]);
    // The merchant sees the refund on the session (`GET` with the API key); the public view does not.
    let view = wait_for_refunds(&app, &session.id, 1).await;
    assert!(matches!(view["status"].as_str(), Some("waiting_payment" | "expired")), "{view:#}");
    assert!(view["paymentMethod"].get("source").is_none(), "{view:#}");
    assert!(view["destination"].get("delivery").is_none(), "{view:#}");
    assert_eq!(
        view["refunds"],
        json!([{
            "depositChainId": CHAIN_A,
            "depositTxHash": format!("{:#x}", late.tx_hash),
            "chainId": CHAIN_A,
            "chainName": "Anvil A",
            "tokenAddress": local::USDC.to_string(),
            "tokenSymbol": "USDC",
            "amountUnits": "10.00",
            "to": REFUND.to_string(),
            "txHash": format!("{:#x}", tx_hash.into_inner()),
            "reason": "expired",
        }]),
        "{view:#}"
    );
    let public = app.get_session(&session.id, None, None).await;
    assert!(public.body["session"].get("refunds").is_none(), "{:#}", public.body);
    let stored = app.stored_session(&session.id).await;
    assert_eq!(stored.refunds.len(), 1, "{:?}", stored.refunds);
    assert_eq!((stored.refunds[0].deposit_id.clone(), stored.refunds[0].amount), (late.deposit_id(), units("10.00")));

    // Routing the deposit again (a redelivered message) moves nothing and lists nothing twice.
    app.router(app.store.clone()).route(&late.deposit_id(), ferry_testing::now()).await.expect("routes to nothing");
    let again = app.stored_session(&session.id).await;
    assert_eq!((&again.refunds, again.version()), (&stored.refunds, stored.version()), "unchanged");
    assert_eq!(chain.factory_events::<FerryFactory::Swept>().await.len(), 1, "refunded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_payment_to_a_paid_session_is_refunded_to_its_sender() {
    let app = spawn_app_with_chains().await;
    let chain = app.chains.get(CHAIN_A);
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let destination_before = chain.usdc_balance(local::DESTINATION).await;
    let payer_before = chain.usdc_balance(payer()).await;

    let first = app.pay(CHAIN_A, session.receiver, "10.00").await;
    let second = app.pay(CHAIN_A, session.receiver, "10.00").await;
    let view = app.wait_for_status(&session.id, "succeeded").await;
    let record = app.wait_until_settled(&second.deposit_id()).await;

    // The first payment paid the session; the second went back to its sender.
    assert_eq!(view["paymentMethod"]["source"], source_view(CHAIN_A, "10.00", first.tx_hash), "{view:#}");
    let DepositState::Settled { plan, tx_hash: refund_tx, amount } = record.state else { unreachable!() };
    assert_eq!(plan, Plan::Refund { to: EvmAddress::new(payer()), reason: RefundReason::AlreadyPaid });
    assert_eq!(amount, units("10.00"));

    // The merchant got exactly one amount, the payer paid exactly one, the receiver is empty.
    assert_eq!(chain.usdc_balance(local::DESTINATION).await - destination_before, usdc("10.00"));
    assert_eq!(payer_before - chain.usdc_balance(payer()).await, usdc("10.00"));
    assert_eq!(chain.usdc_balance(session.receiver).await, U256::ZERO);
    let swept = chain.factory_events::<FerryFactory::Swept>().await;
    let moves: Vec<(Address, U256, B256)> = swept.iter().map(|(e, tx)| (e.to, e.amount, *tx)).collect();
    let delivery_tx = tx_hash(&view["destination"]["delivery"]["txHash"]);
    assert_eq!(
        moves,
        vec![(local::DESTINATION, usdc("10.00"), delivery_tx), (payer(), usdc("10.00"), refund_tx.into_inner())]
    );
    let stored = app.stored_session(&session.id).await;
    assert_eq!(stored.paid_by(), Some(&first.deposit_id()));

    // The `succeeded` session lists the second deposit's refund, and stays `succeeded`.
    let view = wait_for_refunds(&app, &session.id, 1).await;
    assert_eq!(view["status"], "succeeded", "{view:#}");
    let refund = &view["refunds"][0];
    assert_eq!((&refund["reason"], &refund["amountUnits"]), (&json!("already_paid"), &json!("10.00")), "{view:#}");
    assert_eq!(refund["depositTxHash"], format!("{:#x}", second.tx_hash), "{view:#}");
    assert_eq!((tx_hash(&refund["txHash"]), &refund["to"]), (refund_tx.into_inner(), &json!(payer().to_string())));
}
