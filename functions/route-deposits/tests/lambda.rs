//! `route-deposits` as the SQS event source mapping drives it: the batch
//! handler on an SQS event fixture over the in-memory and the SQLite store,
//! and the real binary through its Lambda entry point against DynamoDB
//! (moto). No chain is needed: one message names a deposit nobody recorded
//! (a failure), one a deposit already settled (done, nothing to send; its
//! refund is listed on its session), one is not a `RouteDeposit` at all (a
//! failure).

use std::time::{Duration, Instant, SystemTime};

use ferry_config::RpcUrls;
use ferry_domain::{EvmAddress, MerchantId, Plan, RefundReason};
use ferry_queue::lambda::{SqsBatchResponse, SqsEvent};
use ferry_store::conformance::{sample_deposit, sample_session};
use ferry_store::memory::MemoryStore;
use ferry_store::{ChainStore, DepositRecord, DepositState};
use ferry_testing::{FakeRuntimeApi, TEST_TIMEOUT, bounded, fresh_table, moto_endpoint, on_each_store};
use route_deposits::RouteDeposits;
use route_deposits::lambda::{RouteFunction, route_batch};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testing/fixtures/sqs/route-deposits.json");
/// The fixture's message ids, in order.
const UNKNOWN_MESSAGE: &str = "5c0f7d3e-6a1b-4f0e-9a43-2f1d8c3b7e01";
const SETTLED_MESSAGE: &str = "9e4b2a61-3c7d-4d2f-b0a8-6e5f4c3b2a02";
const MALFORMED_MESSAGE: &str = "d3c2b1a0-8f7e-4d6c-9b5a-4e3d2c1b0a03";

const TREASURY: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
/// anvil account 2's well-known key: guards nothing.
const RELAYER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// Never contacted (nothing in the fixture needs a chain), and never to be
/// printed: the binary test looks for it in the function's output.
const SECRET_RPC_URL: &str = "http://127.0.0.1:9/v2/sEcReT-rpc-key";

/// The fixture with the two deposit ids filled in.
fn fixture_text(unknown: &str, settled: &str) -> String {
    let text = std::fs::read_to_string(FIXTURE).expect("read the SQS fixture");
    let text = text.replace("{{UNKNOWN_DEPOSIT_ID}}", unknown).replace("{{SETTLED_DEPOSIT_ID}}", settled);
    assert!(!text.contains("{{"), "a placeholder is left in {FIXTURE}");
    text
}

fn fixture(unknown: &str, settled: &str) -> SqsEvent {
    serde_json::from_str(&fixture_text(unknown, settled)).expect("the fixture is an SQS event")
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response.batch_item_failures.iter().map(|failure| failure.item_identifier.as_str()).collect()
}

/// Stores a deposit that was routed to its end, and its session: refunded
/// (the session had been paid by another deposit), mined. A settled refund
/// needs no chain: routing it again only lists the refund on its session
/// if it is not listed yet.
async fn seed_settled_deposit<S: ChainStore>(store: &S) -> DepositRecord {
    let session = sample_session(MerchantId::from_random_bytes([7; 16]));
    store.create_session(&session, None).await.expect("seed its session");
    let deposit = sample_deposit();
    let to: EvmAddress = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse().expect("address");
    let plan = Plan::Refund { to, reason: RefundReason::AlreadyPaid };
    let state = DepositState::Settled { plan, tx_hash: deposit.tx_hash, amount: deposit.amount };
    let settled = DepositRecord {
        session_id: session.id,
        state,
        recorded_at: ferry_domain::Timestamp::from_unix_seconds(1_800_000_000),
        version: 2,
        deposit,
    };
    store.record_deposit(&settled).await.expect("seed a settled deposit");
    settled
}

fn router<S: ChainStore>(store: S) -> RouteDeposits<S> {
    RouteDeposits::new(store, Vec::new(), TREASURY.parse().expect("treasury"))
}

/// The unknown deposit and the malformed body fail and come back; the
/// settled deposit is done and is deleted from the queue.
async fn reports_only_the_failed_messages<S: ChainStore>(store: S) {
    let settled = seed_settled_deposit(&store).await;
    let unknown = sample_deposit().id();
    let router = router(store.clone());
    let far = Instant::now() + Duration::from_secs(120);

    let response =
        route_batch(&router, fixture(&unknown.to_string(), &settled.id().to_string()), far, &RpcUrls::default()).await;

    assert_eq!(failed_ids(&response), [UNKNOWN_MESSAGE, MALFORMED_MESSAGE]);
    // What Lambda reads back.
    assert_eq!(
        serde_json::to_value(&response).expect("json"),
        serde_json::json!({ "batchItemFailures": [
            { "itemIdentifier": UNKNOWN_MESSAGE },
            { "itemIdentifier": MALFORMED_MESSAGE },
        ]})
    );
    assert_eq!(store.get_deposit(&settled.id()).await.expect("read"), Some(settled.clone()), "left alone");
    assert_eq!(store.get_deposit(&unknown).await.expect("read"), None);
    let session = store.get_session(&settled.session_id).await.expect("read").expect("its session");
    let listed: Vec<_> = session.refunds.iter().map(|refund| refund.deposit_id.clone()).collect();
    assert_eq!(listed, [settled.id()], "its session lists the refund");

    // Again (the message came back): listed once still.
    route_batch(&router, fixture(&unknown.to_string(), &settled.id().to_string()), far, &RpcUrls::default()).await;
    let again = store.get_session(&settled.session_id).await.expect("read").expect("its session");
    assert_eq!((again.refunds, again.version), (session.refunds, session.version));
}

on_each_store!(reports_only_the_failed_messages);

/// Through the function's entry, with a Lambda deadline: the same answer.
#[tokio::test]
async fn the_function_routes_before_its_deadline() {
    bounded(async {
        let store = MemoryStore::new();
        let settled = seed_settled_deposit(&store).await;
        let function = RouteFunction::new(router(store), RpcUrls::default());
        let deadline = SystemTime::now() + Duration::from_secs(120);
        let response = function.handle(fixture("8453:0x00:0", &settled.id().to_string()), deadline).await;
        assert_eq!(failed_ids(&response), [UNKNOWN_MESSAGE, MALFORMED_MESSAGE]);
    })
    .await;
}

/// Too close to the deadline, nothing is started: every message comes back.
#[tokio::test]
async fn messages_are_deferred_when_the_invocation_is_nearly_over() {
    bounded(async {
        let store = MemoryStore::new();
        let settled = seed_settled_deposit(&store).await;
        let function = RouteFunction::new(router(store), RpcUrls::default());
        let deadline = SystemTime::now() + Duration::from_secs(10);
        let response = function.handle(fixture("8453:0x00:0", &settled.id().to_string()), deadline).await;
        assert_eq!(failed_ids(&response), [UNKNOWN_MESSAGE, SETTLED_MESSAGE, MALFORMED_MESSAGE]);
    })
    .await;
}

/// A routing failure is reported with every configured RPC URL redacted.
#[test]
fn failures_are_redacted() {
    let urls = RpcUrls::single(ferry_domain::ChainId::new(8453), SECRET_RPC_URL);
    let error = std::io::Error::other(format!("error sending request for url ({SECRET_RPC_URL})"));
    let text = urls.redact_chain(&error);
    assert_eq!(text, "error sending request for url (<redacted>)");
}

/// The real `route-deposits` binary, started as Lambda starts it, reads its
/// configuration, builds its relayer, and answers the SQS fixture from the
/// fake Runtime API with the partial batch response, reading DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_sqs_event_through_its_lambda_entry_point() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-route-deposits")).await;
    let settled = bounded(seed_settled_deposit(&store)).await;
    let event = fixture_text(&sample_deposit().id().to_string(), &settled.id().to_string());
    let mut env = ferry_testing::session_function_env(&endpoint, store.table());
    env.extend([
        ("FERRY_RPC_URLS", format!("8453={SECRET_RPC_URL}")),
        ("FERRY_DEPOSIT_QUEUE_URL", format!("{endpoint}/123456789012/deposits")),
        ("FERRY_TREASURY_ADDRESS", TREASURY.to_string()),
        ("FERRY_RELAYER_PRIVATE_KEY", RELAYER_KEY.to_string()),
    ]);
    let binary = env!("CARGO_BIN_EXE_route-deposits");
    let invocation = tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke(binary, &env, &event, TEST_TIMEOUT));
    let response = invocation.await.expect("the invocation thread").unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(
        response,
        serde_json::json!({ "batchItemFailures": [
            { "itemIdentifier": UNKNOWN_MESSAGE },
            { "itemIdentifier": MALFORMED_MESSAGE },
        ]})
    );
}

/// A configuration error stops the cold start with the variable's name,
/// and never prints the RPC URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_fails_the_cold_start_by_name() {
    let env = vec![
        ("AWS_REGION", "us-east-1".to_string()),
        ("FERRY_TABLE_NAME", "ferry".to_string()),
        ("FERRY_RECEIVER_FACTORY", ferry_testing::RECEIVER_FACTORY.to_string()),
        ("FERRY_RPC_URLS", format!("8453={SECRET_RPC_URL}")),
        ("FERRY_DEPOSIT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/deposits".to_string()),
        ("FERRY_TREASURY_ADDRESS", TREASURY.to_string()),
    ];
    let binary = env!("CARGO_BIN_EXE_route-deposits");
    let invocation =
        tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke(binary, &env, "{\"Records\":[]}", TEST_TIMEOUT));
    let error = invocation.await.expect("the invocation thread").expect_err("no relayer signer is configured");
    assert!(error.contains("FERRY_RELAYER_KMS_KEY_ID"), "{error}");
    assert!(!error.contains("sEcReT"), "{error}");
}
