//! `deliver-webhooks` as its two triggers drive it: the queue's batches fan
//! announced events out and deliver them, and the scheduled sweep fans out
//! what nobody announced and queues what is overdue — over the in-memory
//! store and queue and through the real binary against DynamoDB and SQS
//! (moto), to a receiver on loopback.

use std::time::{Duration, SystemTime};

use deliver_webhooks::lambda::DeliverWebhooksLambda;
use ferry_domain::webhook::{SIGNATURE_TOLERANCE_SECONDS, verify};
use ferry_domain::{DeliveryState, RetryPolicy, UrlPolicy, WebhookDelivery};
use ferry_notify::{Announcer, DeliverWebhooks, WebhookSender};
use ferry_queue::memory::MemoryQueue;
use ferry_queue::sqs::SqsQueue;
use ferry_queue::{Queue, Received};
use ferry_store::DeliveryStore;
use ferry_store::memory::MemoryStore;
use ferry_testing::{
    TEST_TIMEOUT, WebhookReceiver, bounded, cold_start_error, event_with, fresh_table, moto_endpoint,
    run_lambda_capturing, seed_event, seed_merchant, seed_webhook_at, sqs_event, unique_table_name,
};
use serde_json::{Value, json};

const SCHEDULED: &str = ferry_testing::SCHEDULED_EVENT;
const DEV: UrlPolicy = UrlPolicy::DEVELOPMENT;

fn scheduled_event() -> Value {
    serde_json::from_str(&std::fs::read_to_string(SCHEDULED).expect("fixture")).expect("JSON")
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn function(store: MemoryStore, queue: MemoryQueue) -> DeliverWebhooksLambda<MemoryStore, MemoryQueue> {
    let sender = WebhookSender::new(DEV).expect("sender");
    DeliverWebhooksLambda::new(DeliverWebhooks::new(store, queue, sender, RetryPolicy::STANDARD))
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
        assert_eq!(summary, json!({ "events": 1, "deliveries": 1, "swept": 0, "cutShort": false }));
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
        verify(&endpoint.secret, signature, &request.body, ferry_testing::now(), SIGNATURE_TOLERANCE_SECONDS)
            .expect("verifies");
        assert_eq!(request.json()["id"], event.id.to_string());
        let deliveries = store.list_deliveries(&event.id).await.expect("list");
        assert_eq!(deliveries[0].state, DeliveryState::Succeeded);
    })
    .await;
}

/// The event-driven path: a writer announces the event it committed, the
/// queue's batch fans it out, and the next batch delivers it — no schedule
/// involved. A second announcement of the same event changes nothing.
#[tokio::test]
async fn an_announced_event_is_fanned_out_and_delivered_by_the_queue_alone() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
        let merchant = seed_merchant(&store).await;
        seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
        let (_, event) = seed_event(&store, merchant.id).await;
        let function = function(store.clone(), queue.clone());
        let announcer = Announcer::to_queue(queue.clone());
        announcer.committed(&event).await;
        announcer.committed(&event).await;

        let announced = queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
        assert_eq!(announced.len(), 2);
        assert_eq!(announced[0].body, json!({ "fanOut": event.id.to_string() }).to_string());
        let response = function.handle(sqs_event(&announced), in_a_minute()).await.expect("batch");
        assert_eq!(response, json!({ "batchItemFailures": [] }));
        assert!(receiver.received().is_empty(), "a fan-out only queues");

        let deliveries = queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
        assert_eq!(deliveries.len(), 1, "one delivery for the one endpoint, however often announced");
        let response = function.handle(sqs_event(&deliveries), in_a_minute()).await.expect("batch");
        assert_eq!(response, json!({ "batchItemFailures": [] }));
        let [request] = <[_; 1]>::try_from(receiver.received()).expect("one delivery");
        assert_eq!(request.json()["id"], event.id.to_string());
        assert!(store.pending_events(10).await.expect("pending").is_empty(), "nothing left for the sweep");
    })
    .await;
}

/// The schedule is only the sweep: one pass over what was not announced
/// and what is overdue, then it returns, long before its deadline.
#[tokio::test]
async fn a_scheduled_invocation_sweeps_once_and_returns() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
        let merchant = seed_merchant(&store).await;
        seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
        let function = function(store.clone(), queue.clone());
        // An event whose writer died before announcing it.
        seed_event(&store, merchant.id).await;
        // A delivery whose message was lost two minutes ago.
        let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["session.expired"]).await;
        let (_, old_event) = seed_event(&store, merchant.id).await;
        let long_ago = ferry_domain::Timestamp::from_unix_seconds(ferry_testing::now().unix_seconds() - 120);
        let lost = WebhookDelivery::new(old_event.id, endpoint.id, merchant.id, long_ago);
        store.fan_out(&old_event.id, std::slice::from_ref(&lost)).await.expect("fan out");

        let started = std::time::Instant::now();
        let summary = function.handle(scheduled_event(), in_a_minute()).await.expect("scheduled invocation");
        assert_eq!(summary, json!({ "events": 1, "deliveries": 1, "swept": 1, "cutShort": false }));
        assert!(started.elapsed() < Duration::from_secs(10), "one pass, not a loop until the deadline");
        let queued = queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
        assert_eq!(queued.len(), 2, "the unannounced event's delivery and the swept one");
    })
    .await;
}

fn sqs_endpoint() -> String {
    std::env::var("FERRY_TEST_SQS_ENDPOINT")
        .expect("FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server")
}

/// Runs the real binary on `event` and returns its answer.
async fn invoke(env: &[(&'static str, String)], event: Value) -> Value {
    let binary = env!("CARGO_BIN_EXE_deliver-webhooks");
    let captured = run_lambda_capturing(binary, env.to_vec(), event.to_string(), TEST_TIMEOUT).await;
    let (answer, peak_kib) = (captured.result.unwrap_or_else(|error| panic!("{error}")), captured.peak_kib);
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
    let env = binary_env(&dynamodb, &sqs, store.table(), queue.url());

    let summary = invoke(&env, scheduled_event()).await;
    assert_eq!(summary["events"], 1, "{summary}");
    assert_eq!(summary["deliveries"], 1, "{summary}");
    let messages = bounded(queue.receive(10, Duration::from_secs(5), Duration::from_secs(30))).await.expect("receive");
    assert_eq!(messages.len(), 1, "the delivery is on the queue");

    let response = invoke(&env, sqs_event(&messages)).await;
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let [request] = <[_; 1]>::try_from(receiver.received()).expect("one delivery");
    verify(&endpoint.secret, request.signature.as_deref().expect("signed"), &request.body, ferry_testing::now(), 300)
        .expect("verifies");
    let deliveries = bounded(store.list_deliveries(&event.id)).await.expect("list");
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Succeeded);
    assert_eq!(deliveries[0].attempts.len(), 1);
}

/// The variables of the real binary: this test's moto_servers, table and
/// queue; loopback receivers allowed.
fn binary_env(dynamodb: &str, sqs: &str, table: &str, queue_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.to_string()),
        ("AWS_ENDPOINT_URL_SQS", sqs.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("FERRY_TABLE_NAME", table.to_string()),
        ("FERRY_WEBHOOK_QUEUE_URL", queue_url.to_string()),
        ("FERRY_ALLOW_INSECURE_WEBHOOKS", "true".to_string()),
    ]
}

/// The real binary on `events/sqs/deliver-webhooks.json` (what
/// `sam local invoke -e` sends it), naming an event a writer committed:
/// that batch fans the event out onto SQS, and the next batch delivers it.
/// No schedule runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_fans_an_announced_event_out_from_its_queue() {
    let receiver = WebhookReceiver::accepting().await;
    let (dynamodb, sqs) = (moto_endpoint(), sqs_endpoint());
    let store = bounded(fresh_table(&dynamodb, "ferry-deliver-announced")).await;
    let queue = bounded(SqsQueue::local(&sqs, &unique_table_name("webhooks"))).await.expect("queue");
    let merchant = bounded(seed_merchant(&store)).await;
    bounded(seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"])).await;
    let (_, event) = bounded(seed_event(&store, merchant.id)).await;
    let env = binary_env(&dynamodb, &sqs, store.table(), queue.url());
    let sample = ferry_testing::sample_value("EVENT_ID").expect("a sample event id");
    let announced = event_with(ferry_testing::DELIVER_WEBHOOKS_EVENT, &[(sample, &event.id.to_string())]);

    let response = invoke(&env, serde_json::from_str(&announced).expect("JSON")).await;
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    assert!(receiver.received().is_empty(), "a fan-out only queues");
    let messages = bounded(queue.receive(10, Duration::from_secs(5), Duration::from_secs(30))).await.expect("receive");
    assert_eq!(messages.len(), 1, "the delivery is on the queue");

    let response = invoke(&env, sqs_event(&messages)).await;
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let [request] = <[_; 1]>::try_from(receiver.received()).expect("one delivery");
    assert_eq!(request.json()["id"], event.id.to_string());
}

/// A missing variable stops the cold start with its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_fails_the_cold_start_by_name() {
    let env = vec![("AWS_REGION", "us-east-1".to_string()), ("FERRY_TABLE_NAME", "ferry".to_string())];
    let error = cold_start_error(env!("CARGO_BIN_EXE_deliver-webhooks"), env, r#"{"Records":[]}"#.into()).await;
    assert!(error.contains("FERRY_WEBHOOK_QUEUE_URL"), "{error}");
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_deliver-webhooks"),
    std::fs::read_to_string(ferry_testing::DELIVER_WEBHOOKS_EVENT).expect("the event file"),
    "FERRY_WEBHOOK_QUEUE_URL"
);
