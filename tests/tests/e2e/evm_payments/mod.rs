//! The EVM payment flow end to end: a session created and read over HTTP,
//! paid from the test wallet on real anvil chains (two per test, from
//! `FERRY_TEST_ANVIL`), watched and routed by the real workers
//! (`poll-chains`, `route-deposits`) through Ferry's real contracts. Each test
//! checks what the API says, what happened on chain, and (where the API
//! cannot show it) what the store recorded.
//!
//! Chain 31337 ("Anvil A") is always the destination; a payment on 31338
//! ("Anvil B") is delivered from the relayer's inventory on 31337 and the
//! deposit collected into the treasury on 31338.
//!
//! - `delivery`: payments that reach the destination, on its chain or another;
//! - `contract_calls`: destinations with calldata, succeeding or reverting;
//! - `refunds`: deposits that go back (wrong amount, too late, already paid);
//! - `crashes`: a router that dies mid-way, and its retry;
//! - `hints`: a payer's `txHash` looked up at once, without a chain scan;
//! - `flaky_nodes`: nodes failing like public providers delay payments, lose none;
//! - `session_cost`: what one session asks of DynamoDB, SQS and the nodes, measured;
//! - `webhooks`: the merchant's endpoint hears of the payment, announced by the router.

mod contract_calls;
mod crashes;
mod delivery;
mod flaky_nodes;
mod hints;
mod refunds;
mod session_cost;
mod webhooks;

use alloy::primitives::{Address, B256, U256};
use ferry_chains::evm::local;
use ferry_domain::BaseUnits;
use ferry_e2e::chains::{CHAIN_A, payer, usdc};
use ferry_e2e::evm::{ChainApp, OpenSession, SessionRequest};
use ferry_store::{ChainStore, Store};
use serde_json::{Value, json};

/// A refund address with no code and no funds of its own.
const REFUND: Address = Address::repeat_byte(0x5e);

/// A transaction hash as the API shows it.
#[track_caller]
fn tx_hash(value: &Value) -> B256 {
    value.as_str().and_then(|hash| hash.parse().ok()).unwrap_or_else(|| panic!("not a tx hash: {value}"))
}

fn units(amount: &str) -> BaseUnits {
    BaseUnits::new(usdc(amount).to::<u128>())
}

/// `paymentMethod.source` as the API must show a test-wallet payment.
fn source_view(chain_id: u64, amount: &str, tx: B256) -> Value {
    json!({
        "address": payer().to_string(),
        "chainId": chain_id,
        "chainName": if chain_id == CHAIN_A { "Anvil A" } else { "Anvil B" },
        "tokenAddress": local::USDC.to_string(),
        "tokenSymbol": "USDC",
        "sentUnits": amount,
        "txHash": format!("{tx:#x}"),
    })
}

/// A TestMerchant on the destination chain and a session that pays order
/// 4242 of 10.00 through `calldata`, refunding to [`REFUND`].
async fn merchant_session(
    app: &ChainApp<impl Store + ChainStore>,
    calldata: impl FnOnce(U256, U256) -> Vec<u8>,
) -> (Address, U256, OpenSession) {
    let merchant = app.chains.get(CHAIN_A).deploy_merchant().await;
    let order = U256::from(4242);
    let request = SessionRequest::to(merchant, CHAIN_A)
        .amount("10.00")
        .calldata(calldata(usdc("10.00"), order))
        .refund_to(REFUND);
    (merchant, order, app.open_session(&request).await)
}
