//! `PUT /v1/sessions/{sessionId}/check` as API Gateway delivers it: the
//! handler on a real HTTP API (payload 2.0) event over the in-memory and the
//! SQLite store, and the real binary through its Lambda entry point against
//! DynamoDB (moto).

use std::sync::Arc;
use std::time::{Duration, Instant};

use check_session::CheckSession;
use ferry_chains::evm::client::EvmClient;
use ferry_domain::{ChainId, ChainRegistry, EvmAddress, Session, SessionStatus, TxHash};
use ferry_http::Context;
use ferry_queue::memory::MemoryQueue;
use ferry_store::{DepositStore, SessionChange, SessionStore, Store};
use ferry_testing::{
    BinaryOnMoto, SilentNode, bounded, fixture, gateway_body, header, on_each_store, request, response_json,
    seed_merchant, seed_session,
};
use ferry_watch::{ChainTxLookup, DepositDetector, HINT_BUDGET, HINT_CALL_TIMEOUT, WatchedChain};
use http::StatusCode;
use serde_json::Value;

/// `requestContext.requestId` of the `check-session` fixture.
const REQUEST_ID: &str = "Q3kZlj1ZoAMEbdQ=";
/// The `txHash` in the fixture's body.
const TX_HASH: &str = "0x8d1c3e5a7b9f0d2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a0b2d4f6e8a0c2e4b6d8f";

fn tx_hash() -> TxHash {
    TX_HASH.parse().expect("the fixture's tx hash")
}

/// The payer's view of the still-unpaid session.
fn assert_is_the_public_view_of(view: &Value, session: &Session) {
    assert_eq!(view["sessionId"], session.id.to_string(), "{view}");
    assert_eq!(view["status"], "requires_payment_method", "{view}");
    assert_eq!(view["destination"]["chainId"], 8453, "{view}");
    assert_eq!(view["paymentMethod"], Value::Null, "{view}");
    let fields = view.as_object().expect("an object");
    assert!(!fields.contains_key("clientSecret"), "the payer's view leaks the secret: {view}");
}

/// With the client secret and a `txHash`: 200 with the public view, and the
/// hash is recorded once (checking again with it writes nothing).
async fn records_the_tx_hash_hint<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = CheckSession::new(Context::new(store.clone()));
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let values = [("SESSION_ID", id.as_str()), ("CLIENT_SECRET", secret.as_str())];

    let response = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    assert_is_the_public_view_of(&response_json(&response)["session"], &session);

    let stored = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(stored.tx_hash_hint, Some(tx_hash()));
    assert_eq!(stored.status(), SessionStatus::RequiresPaymentMethod);
    assert_eq!(stored.version(), session.version() + 1);

    let again = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    assert_eq!(again.status(), StatusCode::OK);
    let unchanged = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(unchanged.version(), stored.version());
}

on_each_store!(records_the_tx_hash_hint);

/// A check for a session that does not exist is 404 in the envelope.
async fn answers_404_for_an_unknown_session<S: Store>(store: S) {
    let function = CheckSession::new(Context::new(store));
    let values =
        [("SESSION_ID", "0123456789abcdef0123456789abcdef"), ("CLIENT_SECRET", "fedcba9876543210fedcba9876543210")];
    let response = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response_json(&response);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "session_not_found", "{body}");
}

on_each_store!(answers_404_for_an_unknown_session);

/// The real `check-session` binary, started as Lambda starts it, answers
/// the fixture event from the fake Runtime API and records the hint in
/// DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_check-session")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let session = bounded(seed_session(&store, merchant.id)).await;
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let event = fixture("check-session", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_is_the_public_view_of(&gateway_body(&response)["session"], &session);
    let stored = bounded(store.get_session(&session.id)).await.expect("get").expect("stored");
    assert_eq!(stored.tx_hash_hint, Some(tx_hash()));
}

/// A session waiting for a payment at an EVM receiver, as after
/// `POST …/paymentMethods`.
async fn seed_waiting_session<S: Store>(store: &S) -> Session {
    let merchant = seed_merchant(store).await;
    let session = seed_session(store, merchant.id).await;
    let receiver: EvmAddress = "0x00000000000000000000000000000000000f3771".parse().expect("address");
    let waiting = session.set_evm_payment_method(receiver, ferry_testing::now()).expect("allowed").expect("a change");
    store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("commit");
    waiting
}

/// A hint lookup over one chain whose node never answers.
fn lookup_on_a_silent_node<S: Store + DepositStore>(
    store: &S,
    node: &SilentNode,
    http_timeout: Duration,
) -> ChainTxLookup<S, MemoryQueue> {
    let chain = ChainRegistry::local().expect("registry").chain(ChainId::new(31337)).cloned().expect("chain");
    let client = EvmClient::connect_with_timeout(chain.id, node.url(), http_timeout).expect("client");
    ChainTxLookup::new(DepositDetector::new(store.clone(), MemoryQueue::new()), vec![WatchedChain { chain, client }])
}

/// Checks `session` with the fixture's `txHash`; the answer and how long it took.
async fn check_with_hint<S: Store>(
    function: &CheckSession<S>,
    session: &Session,
) -> (lambda_http::Response<lambda_http::Body>, Duration) {
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let values = [("SESSION_ID", id.as_str()), ("CLIENT_SECRET", secret.as_str())];
    let started = Instant::now();
    let response = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    (response, started.elapsed())
}

/// A node that never answers costs the payer at most the lookup's budget:
/// 200 with the session as it is (the hint recorded; the chain scan will
/// find the deposit), the node asked once — no retries.
async fn answers_within_the_budget_when_a_node_never_answers<S: Store + DepositStore>(store: S) {
    let node = SilentNode::start().await;
    let session = seed_waiting_session(&store).await;
    let lookup = lookup_on_a_silent_node(&store, &node, HINT_CALL_TIMEOUT);
    let function = CheckSession::new(Context::new(store.clone())).with_tx_lookup(Arc::new(lookup));

    let (response, elapsed) = check_with_hint(&function, &session).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert!(elapsed < HINT_BUDGET + Duration::from_millis(500), "answered after {elapsed:?}");
    assert_eq!(response_json(&response)["session"]["status"], "waiting_payment");
    let stored = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(stored.tx_hash_hint, Some(tx_hash()));
    assert_eq!(node.requests(), 1, "one receipt request, not retried");
}

on_each_store!(answers_within_the_budget_when_a_node_never_answers);

/// The budget bounds the lookup even when each call may take longer: with
/// a 0.5 s budget and clients that would wait 30 s, the answer comes in
/// about half a second.
async fn the_budget_bounds_the_lookup_whatever_the_call_timeout<S: Store + DepositStore>(store: S) {
    let node = SilentNode::start().await;
    let session = seed_waiting_session(&store).await;
    let lookup = lookup_on_a_silent_node(&store, &node, Duration::from_secs(30))
        .with_limits(Duration::from_millis(500), Duration::from_secs(30));
    let function = CheckSession::new(Context::new(store.clone())).with_tx_lookup(Arc::new(lookup));

    let (response, elapsed) = check_with_hint(&function, &session).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_millis(1_500),
        "answered after {elapsed:?}"
    );
    assert_eq!(response_json(&response)["session"]["status"], "waiting_payment");
}

on_each_store!(the_budget_bounds_the_lookup_whatever_the_call_timeout);

/// The real binary, configured with a chain whose node never answers
/// (`FERRY_RPC_URLS`), answers 200 within the budget: its clients have the
/// hint's timeout and no retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_within_the_budget_when_a_node_never_answers() {
    let node = SilentNode::start().await;
    let mut function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_check-session")).await;
    let session = bounded(seed_waiting_session(&function.store)).await;
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let event = fixture("check-session", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret)]);
    // Base, in the production registry the function is configured with.
    function.set("FERRY_RPC_URLS", format!("8453={}", node.url()));
    function.set("FERRY_DEPOSIT_QUEUE_URL", "http://127.0.0.1:9/000000000000/unused");

    let started = Instant::now();
    let response = function.invoke(event).await;
    let elapsed = started.elapsed();

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(gateway_body(&response)["session"]["status"], "waiting_payment", "{response}");
    // The budget, plus starting the process and its store and queue clients.
    assert!(elapsed < HINT_BUDGET + Duration::from_secs(3), "answered after {elapsed:?}");
    assert_eq!(node.requests(), 1, "one receipt request, not retried");
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_check-session"),
    ferry_testing::fixture("check-session", &[]),
    "FERRY_TABLE_NAME"
);
