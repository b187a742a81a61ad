//! `route-deposits` as the SQS event source mapping drives it: the batch
//! handler on an SQS event fixture over the in-memory and the SQLite store,
//! and the real binary through its Lambda entry point against DynamoDB and
//! SQS (moto). No chain is needed: one message names a deposit nobody
//! recorded (a routing failure: sent again with a backoff, not redelivered
//! by SQS), one a deposit already settled (done, nothing to send; its refund
//! is listed on its session), one is not a `RouteDeposit` at all (reported,
//! for SQS to redeliver and eventually dead-letter).

use std::time::{Duration, Instant, SystemTime};

use ferry_config::RpcUrls;
use ferry_domain::{DepositRecord, DepositState, EvmAddress, MerchantId, Plan, RefundReason, RouteDeposit};
use ferry_queue::lambda::{SqsBatchResponse, SqsEvent};
use ferry_queue::memory::MemoryQueue;
use ferry_queue::sqs::SqsQueue;
use ferry_queue::{Queue, TypedQueue};
use ferry_runtime::Clock;
use ferry_store::memory::MemoryStore;
use ferry_store::{ChainStore, DepositStore};
use ferry_testing::{
    SETTLED_DEPOSIT_ID, UNKNOWN_DEPOSIT_ID, bounded, cold_start_error, fresh_table, invoke_lambda, moto_endpoint,
    on_each_store, sample_deposit, sample_session, sqs_endpoint, unique_table_name,
};
use route_deposits::RouteDeposits;
use route_deposits::consumer::{DepositConsumer, MAX_FAILED_ATTEMPTS, Outcome, replay_dead_letters};
use route_deposits::lambda::{RouteDepositsLambda, route_batch};

const FIXTURE: &str = ferry_testing::ROUTE_DEPOSITS_EVENT;
/// The fixture's message whose body is not a deposit message (the other
/// two name the unknown and the settled deposit).
const MALFORMED_MESSAGE: &str = "d3c2b1a0-8f7e-4d6c-9b5a-4e3d2c1b0a03";

const TREASURY: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
/// anvil account 2's well-known key: guards nothing.
const RELAYER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// Never contacted (nothing in the fixture needs a chain), and never to be
/// printed: the binary test looks for it in the function's output.
const SECRET_RPC_URL: &str = "http://127.0.0.1:9/v2/sEcReT-rpc-key";

/// The fixture with its two sample deposit ids replaced.
fn fixture_text(unknown: &str, settled: &str) -> String {
    ferry_testing::event_with(FIXTURE, &[(UNKNOWN_DEPOSIT_ID, unknown), (SETTLED_DEPOSIT_ID, settled)])
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
    let recorded_at = ferry_domain::Timestamp::from_unix_seconds(1_800_000_000);
    let settled = DepositRecord {
        state,
        version: 2,
        ..DepositRecord::detected(deposit, session.id, recorded_at, recorded_at.plus_seconds(300))
    };
    store.record_deposit(&settled).await.expect("seed a settled deposit");
    settled
}

fn router<S: ChainStore>(store: S) -> RouteDeposits<S> {
    RouteDeposits::new(store, Vec::new(), TREASURY.parse().expect("treasury"))
}

fn consumer<S: ChainStore, Q: Queue>(store: S, queue: Q, dead_letters: Q) -> DepositConsumer<S, Q> {
    DepositConsumer::new(router(store), queue, dead_letters)
}

/// What a queue holds now (each received once, then left to reappear).
async fn queued<Q: Queue>(queue: &Q) -> Vec<RouteDeposit> {
    let typed = TypedQueue::<Q, RouteDeposit>::new(queue.clone());
    let received = typed.receive(10, Duration::ZERO, Duration::from_secs(1)).await.expect("receive");
    received.into_iter().map(|delivery| delivery.message.expect("a deposit message")).collect()
}

/// The settled deposit is done; the unknown one failed and is queued again
/// with one failed attempt (not redelivered by SQS); only the malformed
/// body is reported, for SQS to redeliver and in the end dead-letter.
async fn reports_only_what_the_queue_must_redeliver<S: ChainStore>(store: S) {
    let settled = seed_settled_deposit(&store).await;
    let unknown = sample_deposit().id();
    let (queue, dead_letters) = (MemoryQueue::new(), MemoryQueue::new());
    let consumer = consumer(store.clone(), queue.clone(), dead_letters.clone());
    let far = Instant::now() + Duration::from_secs(120);
    let (redactor, clock) = (RpcUrls::default(), Clock::system());
    let batch = || fixture(&unknown.to_string(), &settled.id().to_string());

    let response = route_batch(&consumer, batch(), far, &redactor, &clock).await;

    assert_eq!(failed_ids(&response), [MALFORMED_MESSAGE]);
    // What Lambda reads back.
    assert_eq!(
        serde_json::to_value(&response).expect("json"),
        serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": MALFORMED_MESSAGE }]})
    );
    assert_eq!(queue.len(), 1, "the failed deposit is queued again, delayed");
    assert!(dead_letters.is_empty());
    let finished = store.get_deposit(&settled.id()).await.expect("read").expect("recorded");
    assert_eq!(finished.state, settled.state, "nothing moved");
    assert!(finished.is_finished(), "a settled deposit whose session shows it leaves the recovery queue");
    assert_eq!(store.get_deposit(&unknown).await.expect("read"), None);
    let session = store.get_session(&settled.session_id).await.expect("read").expect("its session");
    let listed: Vec<_> = session.refunds.iter().map(|refund| refund.deposit_id.clone()).collect();
    assert_eq!(listed, [settled.id()], "its session lists the refund");

    // Again (the message came back): listed once still.
    route_batch(&consumer, batch(), far, &redactor, &clock).await;
    let again = store.get_session(&settled.session_id).await.expect("read").expect("its session");
    assert_eq!((&again.refunds, again.version()), (&session.refunds, session.version()));
}

on_each_store!(reports_only_what_the_queue_must_redeliver);

/// Through the function's entry, with a Lambda deadline: the same answer.
#[tokio::test]
async fn the_function_routes_before_its_deadline() {
    bounded(async {
        let store = MemoryStore::new();
        let settled = seed_settled_deposit(&store).await;
        let function =
            RouteDepositsLambda::new(consumer(store, MemoryQueue::new(), MemoryQueue::new()), RpcUrls::default());
        let deadline = SystemTime::now() + Duration::from_secs(120);
        let response = function.handle(fixture("8453:0x00:0", &settled.id().to_string()), deadline).await;
        assert_eq!(failed_ids(&response), [MALFORMED_MESSAGE]);
    })
    .await;
}

/// Too close to the deadline, nothing is started: every deposit message is
/// queued again as it was (no failed attempt counted), none redelivered.
#[tokio::test]
async fn messages_are_deferred_when_the_invocation_is_nearly_over() {
    bounded(async {
        let store = MemoryStore::new();
        let settled = seed_settled_deposit(&store).await;
        let queue = MemoryQueue::new();
        let function = RouteDepositsLambda::new(consumer(store, queue.clone(), MemoryQueue::new()), RpcUrls::default());
        let deadline = SystemTime::now() + Duration::from_secs(10);
        let response = function.handle(fixture("8453:0x00:0", &settled.id().to_string()), deadline).await;
        assert_eq!(failed_ids(&response), [MALFORMED_MESSAGE]);
        let mut requeued = queued(&queue).await;
        requeued.sort_by(|a, b| a.deposit_id.cmp(&b.deposit_id));
        let unknown = serde_json::from_value(serde_json::json!("8453:0x00:0")).expect("a deposit id");
        let mut expected = vec![RouteDeposit::new(unknown), RouteDeposit::new(settled.id())];
        expected.sort_by(|a, b| a.deposit_id.cmp(&b.deposit_id));
        assert_eq!(requeued, expected);
    })
    .await;
}

/// A deposit whose routing keeps failing is retried with a growing backoff
/// and moved to the dead-letter queue after its last attempt, exactly once;
/// `replay_dead_letters` puts it back with a fresh count.
#[tokio::test(start_paused = true)]
async fn a_deposit_that_keeps_failing_is_dead_lettered_after_its_last_attempt_and_replayable() {
    tokio::time::timeout(Duration::from_secs(3600), async {
        let store = MemoryStore::new();
        let (queue, dead_letters) = (MemoryQueue::new(), MemoryQueue::new());
        let consumer = consumer(store, queue.clone(), dead_letters.clone());
        let typed = TypedQueue::<_, RouteDeposit>::new(queue.clone());
        let failing = sample_deposit().id();
        typed.send(&RouteDeposit::new(failing.clone())).await.expect("send");
        let mut outcomes = Vec::new();
        while dead_letters.is_empty() {
            // Paused time jumps to the next delayed message.
            let batch = typed.receive(1, Duration::from_secs(20), Duration::from_secs(30)).await.expect("receive");
            for delivery in batch {
                let message = delivery.message.expect("a deposit message");
                let budget = Duration::from_secs(60);
                let outcome = consumer.consume(&message, budget, ferry_testing::now(), |e| e.to_string());
                outcomes.push(outcome.await.expect("the queue works"));
                typed.ack(&delivery.receipt).await.expect("ack");
            }
        }
        assert_eq!(outcomes.len(), MAX_FAILED_ATTEMPTS as usize);
        for (index, outcome) in outcomes[..outcomes.len() - 1].iter().enumerate() {
            let failed_attempts = index as u32 + 1;
            let delay = route_deposits::consumer::retry_delay(failed_attempts);
            assert_eq!(outcome, &Outcome::Retrying { failed_attempts, delay });
        }
        assert_eq!(outcomes.last(), Some(&Outcome::DeadLettered { failed_attempts: MAX_FAILED_ATTEMPTS }));
        assert!(queue.is_empty(), "nothing is left to retry");
        assert_eq!(dead_letters.len(), 1);

        assert_eq!(replay_dead_letters(dead_letters.clone(), queue.clone(), 10).await.expect("replay"), 1);
        assert!(dead_letters.is_empty());
        assert_eq!(queued(&queue).await, [RouteDeposit::new(failing)]);
    })
    .await
    .expect("bounded");
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
/// fake Runtime API with the partial batch response, reading DynamoDB. Its
/// variables are those `sam local --env-vars events/env.json` sets, with
/// this test's table, moto_servers and queues, and two swaps: the RPC URLs
/// directly instead of the secret that names them (read from moto by
/// `poll-chains`' binary test), and the relayer's private key instead of a
/// KMS key (moto's KMS cannot sign: getmoto/moto#10202).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_sqs_event_through_its_lambda_entry_point() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-route-deposits")).await;
    let settled = bounded(seed_settled_deposit(&store)).await;
    let unknown = sample_deposit().id();
    let event = fixture_text(&unknown.to_string(), &settled.id().to_string());
    let sqs = sqs_endpoint();
    let queue = bounded(SqsQueue::local(&sqs, &unique_table_name("deposits"))).await.expect("queue");
    let dead_letters = bounded(SqsQueue::local(&sqs, &unique_table_name("deposits-dlq"))).await.expect("queue");
    let webhooks = bounded(SqsQueue::local(&sqs, &unique_table_name("webhooks"))).await.expect("queue");
    let overrides = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("FERRY_TABLE_NAME", store.table()),
        ("FERRY_DEPOSIT_QUEUE_URL", queue.url()),
        ("FERRY_DEPOSIT_DEAD_LETTER_QUEUE_URL", dead_letters.url()),
        ("FERRY_WEBHOOK_QUEUE_URL", webhooks.url()),
    ];
    let mut env = ferry_testing::sam_local_env("RouteDepositsFunction", &overrides);
    let swapped = ["FERRY_RPC_URLS_SECRET_ARN", "FERRY_RELAYER_KMS_KEY_ID"];
    assert_eq!(env.iter().filter(|(name, _)| swapped.contains(&name.as_str())).count(), 2, "{env:?}");
    env.retain(|(name, _)| !swapped.contains(&name.as_str()));
    env.extend([
        ("AWS_ENDPOINT_URL_SQS".to_string(), sqs.clone()),
        ("FERRY_RPC_URLS".to_string(), format!("31337={SECRET_RPC_URL}")),
        ("FERRY_RELAYER_PRIVATE_KEY".to_string(), RELAYER_KEY.to_string()),
    ]);
    let response = invoke_lambda(env!("CARGO_BIN_EXE_route-deposits"), env, event).await;

    assert_eq!(response, serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": MALFORMED_MESSAGE }]}));
    // The failed deposit went back to the deposit queue, after its backoff.
    let typed = TypedQueue::<_, RouteDeposit>::new(queue);
    let mut requeued = Vec::new();
    for _ in 0..5 {
        let batch = bounded(typed.receive(10, Duration::from_secs(5), Duration::from_secs(30))).await.expect("receive");
        requeued.extend(batch.into_iter().map(|delivery| delivery.message.expect("a deposit message")));
        if !requeued.is_empty() {
            break;
        }
    }
    assert_eq!(requeued, [RouteDeposit { deposit_id: unknown, failed_attempts: 1 }]);
}

/// SQS counts every receive toward the deposit queue's `maxReceiveCount`;
/// deferring a message must not. Ten invocations in a row that are too
/// close to their deadline to start it leave the deposit in the deposit
/// queue (first receive each time), its dead-letter queue empty, and the
/// eleventh routes it. The queues are moto's, with a redrive policy at a
/// `maxReceiveCount` of 5 (stricter than the template's backstop of 50).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_deferrals_in_a_row_do_not_dead_letter_a_deposit() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let store = MemoryStore::new();
        let settled = seed_settled_deposit(&store).await;
        let sqs = sqs_endpoint();
        let redrive = SqsQueue::local(&sqs, &unique_table_name("redrive-dlq")).await.expect("dead-letter queue");
        let queue = SqsQueue::local_with_redrive(&sqs, &unique_table_name("redrive"), redrive.url(), 5)
            .await
            .expect("deposit queue");
        let function =
            RouteDepositsLambda::new(consumer(store.clone(), queue.clone(), redrive.clone()), RpcUrls::default());
        TypedQueue::<_, RouteDeposit>::new(queue.clone()).send(&RouteDeposit::new(settled.id())).await.expect("send");

        for invocation in 1..=11 {
            // As the event source mapping: receive, invoke, delete what was not reported.
            let received = loop {
                let batch = queue.receive(1, Duration::from_secs(2), Duration::from_secs(30)).await.expect("receive");
                if let Some(message) = batch.into_iter().next() {
                    break message;
                }
            };
            assert_eq!(received.receive_count, 1, "invocation {invocation}: a fresh message, no receive burned");
            let event = sqs_event(&received);
            let deadline = if invocation <= 10 {
                SystemTime::now() + Duration::from_secs(10)
            } else {
                SystemTime::now() + Duration::from_secs(120)
            };
            let response = function.handle(event, deadline).await;
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
            queue.ack(&received.receipt).await.expect("delete");
        }
        let left = redrive.receive(10, Duration::from_secs(1), Duration::from_secs(30)).await.expect("receive");
        assert!(left.is_empty(), "nothing was dead-lettered: {left:?}");
        let left = queue.receive(10, Duration::from_secs(1), Duration::from_secs(30)).await.expect("receive");
        assert!(left.is_empty(), "routed on the eleventh invocation: {left:?}");
        let routed = store.get_deposit(&settled.id()).await.expect("read").expect("recorded");
        assert!(routed.is_finished());
    })
    .await
    .expect("bounded");
}

/// An SQS event as the event source mapping builds it from one message.
fn sqs_event(received: &ferry_queue::Received) -> SqsEvent {
    serde_json::from_value(ferry_testing::sqs_event(std::slice::from_ref(received))).expect("an SQS event")
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
    let error = cold_start_error(env!("CARGO_BIN_EXE_route-deposits"), env, r#"{"Records":[]}"#.into()).await;
    assert!(error.contains("FERRY_RELAYER_KMS_KEY_ID"), "{error}");
    assert!(!error.contains("sEcReT"), "{error}");
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_route-deposits"),
    std::fs::read_to_string(ferry_testing::ROUTE_DEPOSITS_EVENT).expect("the event file"),
    "FERRY_TABLE_NAME"
);
