//! `deliver-webhooks` as its two triggers drive it: a scheduled invocation
//! fans pending events out onto the queue, and the queue's batches deliver
//! them, over the in-memory store and queue and through the real binary
//! against DynamoDB and SQS (moto), to a receiver on loopback.

use std::time::{Duration, SystemTime};

use deliver_webhooks::DeliverFunction;
use ferry_domain::webhook::{SIGNATURE_TOLERANCE_SECONDS, verify};
use ferry_domain::{DeliveryState, RetryPolicy, UrlPolicy, WebhookDelivery};
use ferry_notify::{DeliverWebhooks, WebhookSender};
use ferry_queue::memory::MemoryQueue;
use ferry_queue::sqs::SqsQueue;
use ferry_queue::{Queue, Received};
use ferry_store::DeliveryStore;
use ferry_store::memory::MemoryStore;
use ferry_testing::{
    FakeRuntimeApi, TEST_TIMEOUT, WebhookReceiver, bounded, fresh_table, moto_endpoint, seed_event, seed_merchant,
    seed_webhook_at, unique_table_name,
};
use serde_json::{Value, json};

const SCHEDULED: &str = ferry_testing::SCHEDULED_EVENT;
const DEV: UrlPolicy = UrlPolicy::DEVELOPMENT;

fn scheduled_event() -> Value {
    serde_json::from_str(&std::fs::read_to_string(SCHEDULED).expect("fixture")).expect("JSON")
}

/// An SQS event as the event source mapping builds it from `messages`.
fn sqs_event(messages: &[Received]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            json!({
                "messageId": format!("00000000-0000-4000-8000-00000000000{index}"),
                "receiptHandle": message.receipt.as_str(),
                "body": message.body,
                "attributes": { "ApproximateReceiveCount": message.receive_count.to_string() },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ferry-WebhookQueue",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn function(store: MemoryStore, queue: MemoryQueue) -> DeliverFunction<MemoryStore, MemoryQueue> {
    let sender = WebhookSender::new(DEV).expect("sender");
    let mut function = DeliverFunction::new(DeliverWebhooks::new(store, queue, sender, RetryPolicy::STANDARD));
    function.max_dispatch_loop = Duration::ZERO;
    function
}

#[tokio::test]
async fn a_schedule_queues_pending_events_and_a_batch_delivers_them() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
        let merchant = seed_merchant(&store).await;
        let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
        let (_, event) = seed_event(&store, merchant.id).await;
        let function = function(store.clone(), queue.clone());

        let summary = function.handle(scheduled_event(), in_a_minute()).await.expect("scheduled invocation");
        assert_eq!(summary, json!({ "cycles": 1, "failedCycles": 0, "events": 1, "deliveries": 1, "swept": 0 }));
        assert!(receiver.received().is_empty(), "the schedule only queues");

        let mut messages = queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
        assert_eq!(messages.len(), 1);
        messages.push(Received { body: "not a delivery".into(), ..messages[0].clone() });
        let response = function.handle(sqs_event(&messages), in_a_minute()).await.expect("batch invocation");
        assert_eq!(
            response,
            json!({ "batchItemFailures": [{ "itemIdentifier": "00000000-0000-4000-8000-000000000001" }] }),
            "only the malformed message comes back"
        );
        let [request] = <[_; 1]>::try_from(receiver.received()).expect("one delivery");
        let signature = request.signature.as_deref().expect("signed");
        verify(&endpoint.secret, signature, &request.body, ferry_http::now(), SIGNATURE_TOLERANCE_SECONDS)
            .expect("verifies");
        assert_eq!(request.json()["id"], event.id.to_string());
        let deliveries = store.list_deliveries(&event.id).await.expect("list");
        assert_eq!(deliveries[0].state, DeliveryState::Succeeded);
    })
    .await;
}

#[tokio::test]
async fn a_scheduled_invocation_keeps_dispatching_until_its_loop_ends() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
        let merchant = seed_merchant(&store).await;
        seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
        let mut function = function(store.clone(), queue.clone());
        function.max_dispatch_loop = Duration::from_millis(1500);
        function.dispatch_interval = Duration::from_millis(200);

        // An event committed while the invocation runs is picked up by it.
        let late = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            seed_event(&store, merchant.id).await
        };
        // A delivery whose message was lost two minutes ago: the sweep queues it, once.
        let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["session.expired"]).await;
        let (_, old_event) = seed_event(&store, merchant.id).await;
        let long_ago = ferry_domain::Timestamp::from_unix_seconds(ferry_http::now().unix_seconds() - 120);
        let lost = WebhookDelivery::new(old_event.id, endpoint.id, merchant.id, long_ago);
        store.fan_out(&old_event.id, std::slice::from_ref(&lost)).await.expect("fan out");

        let (summary, _) = tokio::join!(function.handle(scheduled_event(), in_a_minute()), late);
        let summary = summary.expect("scheduled invocation");
        assert!(summary["cycles"].as_u64().expect("cycles") >= 3, "{summary}");
        assert_eq!(summary["events"], 1, "{summary}");
        assert_eq!(summary["swept"], 1, "swept on the first cycle only, not on every one: {summary}");
        let queued = queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
        assert_eq!(queued.len(), 2, "the new event's delivery and the swept one");
    })
    .await;
}

fn sqs_endpoint() -> String {
    std::env::var("FERRY_TEST_SQS_ENDPOINT")
        .expect("FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server")
}

/// Runs the real binary on `event` and returns its answer.
async fn invoke(env: &[(&'static str, String)], event: Value) -> Value {
    let (env, event) = (env.to_vec(), event.to_string());
    let binary = env!("CARGO_BIN_EXE_deliver-webhooks");
    let invocation =
        tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke_measured(binary, &env, &event, TEST_TIMEOUT));
    let (answer, peak_kib) = invocation.await.expect("the invocation thread").unwrap_or_else(|error| panic!("{error}"));
    // Measured, for the README's sizing: printed with `--no-capture`.
    let peak_kib = peak_kib.expect("Linux reports the peak resident memory");
    eprintln!("deliver-webhooks peak resident memory: {peak_kib} KiB");
    assert!(peak_kib < PEAK_MEMORY_BOUND_KIB, "deliver-webhooks peaked at {peak_kib} KiB");
    answer
}

/// Half of Lambda's smallest memory size (128 MB): what
/// the test build (unoptimised, with debug information) may peak at over
/// a cold start and an invocation.
const PEAK_MEMORY_BOUND_KIB: u64 = 64 * 1024;

/// The real binary, started as Lambda starts it, against DynamoDB and SQS:
/// a scheduled invocation queues the event's delivery on SQS, and the batch
/// SQS hands it delivers it, signed, to the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_fans_out_on_schedule_and_delivers_from_sqs() {
    let receiver = WebhookReceiver::accepting().await;
    let (dynamodb, sqs) = (moto_endpoint(), sqs_endpoint());
    let store = bounded(fresh_table(&dynamodb, "ferry-deliver-webhooks")).await;
    let queue = bounded(SqsQueue::local(&sqs, &unique_table_name("webhooks"))).await.expect("queue");
    let merchant = bounded(seed_merchant(&store)).await;
    let endpoint = bounded(seed_webhook_at(&store, merchant.id, &receiver.url(), &["session.processing"])).await;
    let (_, event) = bounded(seed_event(&store, merchant.id)).await;
    let env = vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.clone()),
        ("AWS_ENDPOINT_URL_SQS", sqs.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("FERRY_TABLE_NAME", store.table().to_string()),
        ("FERRY_WEBHOOK_QUEUE_URL", queue.url().to_string()),
        ("FERRY_ALLOW_INSECURE_WEBHOOKS", "true".to_string()),
        ("FERRY_DISPATCH_LOOP_SECONDS", "0".to_string()),
    ];

    let summary = invoke(&env, scheduled_event()).await;
    assert_eq!(summary["events"], 1, "{summary}");
    assert_eq!(summary["deliveries"], 1, "{summary}");
    let messages = bounded(queue.receive(10, Duration::from_secs(5), Duration::from_secs(30))).await.expect("receive");
    assert_eq!(messages.len(), 1, "the delivery is on the queue");

    let response = invoke(&env, sqs_event(&messages)).await;
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let [request] = <[_; 1]>::try_from(receiver.received()).expect("one delivery");
    verify(&endpoint.secret, request.signature.as_deref().expect("signed"), &request.body, ferry_http::now(), 300)
        .expect("verifies");
    let deliveries = bounded(store.list_deliveries(&event.id)).await.expect("list");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Succeeded);
    assert_eq!(deliveries[0].attempts.len(), 1);
}

/// A missing variable stops the cold start with its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_fails_the_cold_start_by_name() {
    let env = vec![("AWS_REGION", "us-east-1".to_string()), ("FERRY_TABLE_NAME", "ferry".to_string())];
    let binary = env!("CARGO_BIN_EXE_deliver-webhooks");
    let invocation =
        tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke(binary, &env, "{\"Records\":[]}", TEST_TIMEOUT));
    let error = invocation.await.expect("the invocation thread").expect_err("no queue is configured");
    assert!(error.contains("FERRY_WEBHOOK_QUEUE_URL"), "{error}");
}
