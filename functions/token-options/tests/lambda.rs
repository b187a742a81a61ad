//! `GET /v1/sessions/{sessionId}/tokenOptions` as API Gateway delivers it:
//! the handler on real HTTP API (payload 2.0) events over the in-memory and
//! the SQLite store; balances read from a real anvil (through Multicall3 and
//! through the JSON-RPC batch fallback); and the real binary through its
//! Lambda entry point against DynamoDB (moto) and anvil.
//!
//! The anvil tests use the chain at `FERRY_TEST_EVM_RPC_31337` (`cargo xtask
//! test` starts it); like DynamoDB, a missing chain fails them, it never
//! skips them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256, address};
use alloy::providers::{Provider, ProviderBuilder};
use ferry_chains::evm::balances::{BalanceBatching, BalanceReader};
use ferry_chains::evm::contracts::{IERC20, TestMulticall3};
use ferry_chains::evm::local;
use ferry_domain::{BaseUnits, ChainId, ChainRegistry, MerchantId, Session, Token};
use ferry_http::RequestExt;
use ferry_store::memory::MemoryStore;
use ferry_store::{SessionStore, Store};
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_merchant,
    seed_session,
};
use http::StatusCode;
use serde_json::{Value, json};
use token_options::{TokenOptions, connect_reader};

/// `requestContext.requestId` of the `token-options` fixture.
const REQUEST_ID: &str = "Q3kZm4TxoAMEbfQ=";
/// anvil account 3, the local payer (`local::PAYER_KEY`).
const PAYER: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const ANVIL_A: ChainId = ChainId::new(31337);
const RPC_VAR: &str = "FERRY_TEST_EVM_RPC_31337";
/// Where the tests put Multicall3's code on anvil (not its canonical
/// address: the fallback tests need that one empty).
const TEST_MULTICALL: Address = address!("0x00000000000000000000000000000000000ca113");

fn production() -> Arc<ChainRegistry> {
    Arc::new(ChainRegistry::production().expect("registry"))
}

/// The fixture for `session`, with the wallet `evm_address`.
fn event(session: &Session, evm_address: &str) -> ferry_http::Request {
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    request("token-options", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret), ("EVM_ADDRESS", evm_address)])
}

/// The fixture for `session` with exactly these query parameters.
fn event_with_query(session: &Session, query: &[(&str, &str)]) -> ferry_http::Request {
    let params: HashMap<String, String> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    event(session, PAYER).with_query_string_parameters(params)
}

async fn call<S: SessionStore>(function: &TokenOptions<S>, request: ferry_http::Request) -> (StatusCode, Value) {
    let response = ferry_http::respond(request, |request| function.handle(request)).await;
    let body = response_json(&response);
    assert!(header(&response, "request-id").is_some());
    (response.status(), body)
}

/// A session of `merchant` paying out `token` on `chain_id`, for `amount`
/// (in token units) or an amount the payer chooses.
async fn seed_session_for<S: SessionStore>(
    store: &S,
    merchant: MerchantId,
    chain_id: u64,
    token: &str,
    amount: Option<&str>,
) -> Session {
    let registry = production();
    let chain = registry.chain(ChainId::new(chain_id)).expect("chain");
    let token: Token = chain.token(&token.parse().expect("token address")).expect("token").clone();
    let mut session = ferry_testing::sample_session(merchant);
    session.created_at = ferry_testing::now();
    session.expires_at = session.created_at.plus_seconds(Session::DEFAULT_LIFETIME_SECONDS);
    session.destination.chain_id = chain.id;
    session.destination.chain_name = chain.name.clone();
    session.destination.amount =
        amount.map(|amount| BaseUnits::parse_token_amount(amount, token.decimals).expect("amount"));
    session.destination.token = token;
    store.create_session(&session, None).await.expect("seed the session");
    session
}

/// The option of `token` on `chain_id`.
fn option<'a>(body: &'a Value, chain_id: u64, token: &str) -> &'a Value {
    body["options"]
        .as_array()
        .and_then(|options| {
            options.iter().find(|o| o["chainId"] == chain_id && o["tokenAddress"].as_str() == Some(token))
        })
        .unwrap_or_else(|| panic!("no option for {token} on chain {chain_id}: {body}"))
}

const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const BSC_USDC: &str = "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d";
const BSC_USDT: &str = "0x55d398326f99059fF775485246999027B3197955";
const ETHEREUM_USDT: &str = "0xdAC17F958D2ee523a2206206994597C13D831ec7";

/// Every token of every chain, in registry order, each priced for the
/// session; without nodes, no balances even though a wallet was given.
async fn lists_every_token_of_every_chain<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = TokenOptions::new(store, production());
    let response = ferry_http::respond(event(&session, PAYER), |request| function.handle(request)).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let body = response_json(&response);
    assert_eq!(body["sessionId"], session.id.to_string(), "{body}");
    let listed: Vec<(u64, String, String)> = body["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| (o["chainId"].as_u64().expect("chainId"), o["tokenAddress"].to_string(), o["tokenSymbol"].to_string()))
        .collect();
    let expected: Vec<(u64, String, String)> = production()
        .chains()
        .flat_map(|chain| {
            chain.tokens.iter().map(|token| {
                (chain.id.get(), json!(token.address.to_string()).to_string(), json!(token.symbol).to_string())
            })
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(listed.len(), 25);
    for option in body["options"].as_array().expect("options") {
        assert!(option.get("balanceUnits").is_none(), "no node, no balance: {option}");
        assert!(option["requiredUnits"].is_string(), "{option}");
    }
    // The session asks for 10.00 Base USDC: 10.00 of every 6-decimal token.
    assert_eq!(option(&body, 8453, BASE_USDC)["requiredUnits"], "10.00");
    assert_eq!(option(&body, 1, ETHEREUM_USDT)["requiredUnits"], "10.00");
    assert_eq!(option(&body, 56, BSC_USDC)["requiredUnits"], "10.00");
}

on_each_store!(lists_every_token_of_every_chain);

/// 6 → 18 decimals scales exactly: 10.123457 USDC is 10.123457000000000000
/// of an 18-decimal token.
async fn scales_required_units_up_to_18_decimals<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session_for(&store, merchant.id, 8453, BASE_USDC, Some("10.123457")).await;
    let function = TokenOptions::new(store, production());
    let (status, body) = call(&function, event(&session, PAYER)).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(option(&body, 8453, BASE_USDC)["requiredUnits"], "10.123457");
    assert_eq!(option(&body, 56, BSC_USDC)["requiredUnits"], "10.123457");
    assert_eq!(option(&body, 56, BSC_USDT)["requiredUnits"], "10.123457");
}

on_each_store!(scales_required_units_up_to_18_decimals);

/// 18 → 6 decimals rounds UP, so paying the required units is never short.
async fn rounds_required_units_up_to_6_decimals<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session_for(&store, merchant.id, 56, BSC_USDC, Some("1.000000000000000001")).await;
    let function = TokenOptions::new(store, production());
    let (status, body) = call(&function, event(&session, PAYER)).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(option(&body, 56, BSC_USDC)["requiredUnits"], "1.000000000000000001");
    assert_eq!(option(&body, 56, BSC_USDT)["requiredUnits"], "1.000000000000000001");
    assert_eq!(option(&body, 8453, BASE_USDC)["requiredUnits"], "1.000001");
    assert_eq!(option(&body, 1, ETHEREUM_USDT)["requiredUnits"], "1.000001");
}

on_each_store!(rounds_required_units_up_to_6_decimals);

/// A session without a fixed amount: every option is listed, `requiredUnits` null.
async fn lists_null_required_units_without_an_amount<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session_for(&store, merchant.id, 8453, BASE_USDC, None).await;
    let function = TokenOptions::new(store, production());
    let (status, body) =
        call(&function, event_with_query(&session, &[("clientSecret", &session.client_secret.reveal())])).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let options = body["options"].as_array().expect("options");
    assert_eq!(options.len(), 25);
    for option in options {
        assert_eq!(option.get("requiredUnits"), Some(&Value::Null), "{option}");
    }
}

on_each_store!(lists_null_required_units_without_an_amount);

/// `evmAddress` must be an address (a mixed-case one correctly
/// checksummed); an empty one counts as absent; `solanaAddress` is ignored.
async fn validates_the_evm_address<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = TokenOptions::new(store, production());
    let secret = session.client_secret.reveal();
    let bad_checksum = "0x90f79bf6EB2c4f870365E785982E1f101E93b906";
    for bad in ["0x1234", "90F79bf6EB2c4f870365E785982E1f101E93b906", bad_checksum, "0xZZ"] {
        let (status, body) =
            call(&function, event_with_query(&session, &[("clientSecret", &secret), ("evmAddress", bad)])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
        assert_eq!(body["error"]["param"], "evmAddress", "{body}");
    }
    for fine in [PAYER, &PAYER.to_lowercase(), ""] {
        let query = [("clientSecret", secret.as_str()), ("evmAddress", fine), ("solanaAddress", "not checked")];
        let (status, body) = call(&function, event_with_query(&session, &query)).await;
        assert_eq!(status, StatusCode::OK, "{fine:?}: {body}");
    }
}

on_each_store!(validates_the_evm_address);

/// The client secret is required and must be the session's.
async fn refuses_a_wrong_or_missing_client_secret<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let other = seed_session(&store, merchant.id).await;
    let function = TokenOptions::new(store, production());

    for wrong in ["00000000000000000000000000000000", &other.client_secret.reveal(), "not-a-secret"] {
        let (status, body) = call(&function, event_with_query(&session, &[("clientSecret", wrong)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "invalid_client_secret", "{body}");
        assert_eq!(body["error"]["param"], "clientSecret", "{body}");
    }
    let (status, body) = call(&function, event_with_query(&session, &[("evmAddress", PAYER)])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "missing_client_secret", "{body}");
    // Authentication comes before validation: a stranger learns nothing about the parameters.
    let (status, body) = call(&function, event_with_query(&session, &[("evmAddress", "0x12")])).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::UNAUTHORIZED, &json!("missing_client_secret")));
}

on_each_store!(refuses_a_wrong_or_missing_client_secret);

/// An unknown (or malformed) session id is 404.
async fn answers_404_for_an_unknown_session<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = TokenOptions::new(store, production());
    let secret = session.client_secret.reveal();
    for id in ["0123456789abcdef0123456789abcdef", "nope"] {
        let values = [("SESSION_ID", id), ("CLIENT_SECRET", secret.as_str()), ("EVM_ADDRESS", PAYER)];
        let (status, body) = call(&function, request("token-options", &values)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "session_not_found", "{body}");
    }
}

on_each_store!(answers_404_for_an_unknown_session);

// ------------------------------------------------------------------ anvil

/// The shared test chain, with the local contracts deployed (idempotent;
/// retried, as other tests may be deploying at the same moment: their
/// transactions from the same account race ours until they are mined, a
/// block or two on 1 s blocks).
async fn anvil() -> String {
    let url = match std::env::var(RPC_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{RPC_VAR} is not set: this test needs a local EVM chain (anvil, chain id 31337). Run the tests with \
             `cargo xtask test`, which starts one and sets it (or start anvil and set {RPC_VAR}=http://127.0.0.1:<port>)."
        ),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match local::deploy(ANVIL_A, &url).await {
            Ok(()) => return url,
            Err(error) if attempt < 30 => {
                eprintln!("deploying the local contracts failed (attempt {attempt}): {error}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => panic!("cannot deploy the local contracts on {RPC_VAR}: {error}"),
        }
    }
}

/// The payer's test USDC balance, as a decimal string in token units.
async fn payer_balance(url: &str) -> String {
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    let balance: U256 =
        IERC20::new(local::USDC, &provider).balanceOf(PAYER.parse().expect("payer")).call().await.expect("balanceOf");
    BaseUnits::new(balance.to::<u128>()).to_token_amount(6)
}

/// Puts Multicall3's `aggregate3` at [`TEST_MULTICALL`].
async fn install_test_multicall(url: &str) {
    let provider = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    let code = TestMulticall3::DEPLOYED_BYTECODE.clone();
    let _: Value = provider.raw_request("anvil_setCode".into(), (TEST_MULTICALL, code)).await.expect("anvil_setCode");
}

/// Chain 31337 with three "tokens": the test USDC, an address with no code
/// and a contract that is no ERC-20 — so one read covers three balances,
/// two of which cannot be read.
fn registry_with_three_tokens() -> Arc<ChainRegistry> {
    let toml = format!(
        r#"
[[chain]]
id = 31337
name = "Anvil A"
confirmations = 1
[[chain.token]]
symbol = "USDC"
address = "{usdc}"
decimals = 6
[[chain.token]]
symbol = "NOCODE"
address = "0x000000000000000000000000000000000000dEaD"
decimals = 6
[[chain.token]]
symbol = "NOTERC20"
address = "{factory}"
decimals = 18

[[chain]]
id = 31338
name = "Anvil B"
confirmations = 1
[[chain.token]]
symbol = "USDC"
address = "{usdc}"
decimals = 6
"#,
        usdc = local::USDC.to_checksum(None),
        factory = local::FACTORY.to_checksum(None),
    );
    Arc::new(ChainRegistry::from_toml(&toml).expect("registry"))
}

/// With the payer's wallet, the chain that has a node reports its balances
/// — three tokens in ONE RPC request — and the tokens it cannot read have
/// none; the chain whose node is down is listed without balances (200).
async fn reports_balances(reader: BalanceReader, url: &str) {
    let store = MemoryStore::new();
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let down = connect_reader(ChainId::new(31338), "http://127.0.0.1:1").expect("reader");
    let function = TokenOptions::new(store, registry_with_three_tokens()).with_balance_readers([reader.clone(), down]);

    let before = reader.client().rpc_calls();
    let expected_before = payer_balance(url).await;
    let (status, body) = call(&function, event(&session, PAYER)).await;
    let expected_after = payer_balance(url).await;
    let calls = reader.client().rpc_calls() - before;

    assert_eq!(status, StatusCode::OK, "{body}");
    let usdc = local::USDC.to_checksum(None);
    let balance = &option(&body, 31337, &usdc)["balanceUnits"];
    assert!(
        balance == &json!(expected_before) || balance == &json!(expected_after),
        "{balance} vs {expected_before}: {body}"
    );
    assert_eq!(option(&body, 31337, &usdc)["requiredUnits"], "10.00");
    assert!(option(&body, 31337, "0x000000000000000000000000000000000000dEaD").get("balanceUnits").is_none(), "{body}");
    assert!(option(&body, 31337, &local::FACTORY.to_checksum(None)).get("balanceUnits").is_none(), "{body}");
    assert!(option(&body, 31338, &usdc).get("balanceUnits").is_none(), "the chain is down: {body}");
    assert_eq!(option(&body, 31338, &usdc)["requiredUnits"], "10.00");
    assert_eq!(calls, 1, "one RPC request for the chain's three balances");
}

/// Where Multicall3 is deployed: one `aggregate3` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_balances_through_multicall3() {
    bounded(async {
        let url = anvil().await;
        install_test_multicall(&url).await;
        let reader = connect_reader(ANVIL_A, &url).expect("reader").with_multicall_address(TEST_MULTICALL);
        reports_balances(reader.clone(), &url).await;
        assert_eq!(reader.batching(), BalanceBatching::Multicall3);
    })
    .await;
}

/// Where Multicall3 has no code (anvil): the first read finds out (one
/// extra request), every later read is one JSON-RPC batch of `eth_call`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_balances_with_a_json_rpc_batch_where_multicall3_is_missing() {
    bounded(async {
        let url = anvil().await;
        let reader = connect_reader(ANVIL_A, &url).expect("reader");
        let owner: Address = PAYER.parse().expect("payer");
        let first = reader.balances(owner, &[local::USDC]).await.expect("balances");
        assert!(first[0].is_some());
        assert_eq!(reader.batching(), BalanceBatching::JsonRpcBatch);
        assert_eq!(reader.client().rpc_calls(), 2, "the empty Multicall3 answer, then the batch");
        reports_balances(reader, &url).await;
    })
    .await;
}

/// The real `token-options` binary, started as Lambda starts it with the
/// local registry and `FERRY_RPC_URLS` naming anvil, answers the fixture
/// event with the session it reads from DynamoDB and the payer's balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let url = bounded(anvil()).await;
    let mut function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_token-options")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let session = bounded(seed_session(&store, merchant.id)).await;
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let event = fixture("token-options", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret), ("EVM_ADDRESS", PAYER)]);
    function.set("FERRY_CHAIN_REGISTRY", "local");
    function.set("FERRY_RPC_URLS", format!("31337={url}"));

    let expected_before = bounded(payer_balance(&url)).await;
    let response = function.invoke(event).await;
    let expected_after = bounded(payer_balance(&url)).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    let body = gateway_body(&response);
    assert_eq!(body["sessionId"], id, "{body}");
    let usdc = local::USDC.to_checksum(None);
    assert_eq!(body["options"].as_array().map(Vec::len), Some(2), "{body}");
    let balance = &option(&body, 31337, &usdc)["balanceUnits"];
    assert!(balance == &json!(expected_before) || balance == &json!(expected_after), "{body}");
    assert_eq!(option(&body, 31337, &usdc)["requiredUnits"], "10.00");
    assert!(option(&body, 31338, &usdc).get("balanceUnits").is_none(), "no node for 31338: {body}");
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_token-options"),
    ferry_testing::fixture("token-options", &[]),
    "FERRY_TABLE_NAME"
);
