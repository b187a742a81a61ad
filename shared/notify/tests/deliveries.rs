//! The webhook worker over the in-memory store and queue — and, for the
//! retry and parking scenarios, over DynamoDB and SQS (moto_server) too —
//! against real HTTP receivers on loopback.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ferry_domain::webhook::{SIGNATURE_TOLERANCE_SECONDS, verify};
use ferry_domain::{AttemptOutcome, DeliveryState, EventId, RetryPolicy, SessionEvent, UrlPolicy, WebhookDelivery};
use ferry_notify::{
    DeliverWebhooks, Delivered, DeliveryMessage, DispatchReport, HostLookup, ReplayScope, WebhookSender,
};
use ferry_queue::memory::MemoryQueue;
use ferry_queue::sqs::SqsQueue;
use ferry_queue::{Queue, TypedQueue};
use ferry_store::dynamodb::DynamoStore;
use ferry_store::memory::MemoryStore;
use ferry_store::{DeliveryStore, WebhookStore};
use ferry_testing::{
    Reply, WebhookReceiver, bounded, fresh_table, moto_endpoint, seed_event, seed_merchant, seed_webhook_at,
    unique_table_name,
};

const DEV: UrlPolicy = UrlPolicy::DEVELOPMENT;
const PRODUCTION: UrlPolicy = UrlPolicy::PRODUCTION;

/// Retries after a second, so tests see several attempts quickly.
const FAST: RetryPolicy = RetryPolicy { max_attempts: 10, first_delay_seconds: 1, factor: 1, max_delay_seconds: 1 };

struct Harness<S = MemoryStore, Q = MemoryQueue> {
    store: S,
    queue: Q,
    worker: DeliverWebhooks<S, Q>,
}

fn harness(policy: RetryPolicy, sender: WebhookSender) -> Harness {
    let (store, queue) = (MemoryStore::new(), MemoryQueue::new());
    let worker = DeliverWebhooks::new(store.clone(), queue.clone(), sender, policy);
    Harness { store, queue, worker }
}

/// The worker over a fresh DynamoDB table and SQS queue of the tests'
/// moto_server.
async fn moto_harness(policy: RetryPolicy) -> Harness<DynamoStore, SqsQueue> {
    let store = fresh_table(&moto_endpoint(), "ferry-notify").await;
    let sqs = std::env::var("FERRY_TEST_SQS_ENDPOINT")
        .expect("FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server");
    let queue = SqsQueue::local(&sqs, &unique_table_name("webhooks")).await.expect("queue");
    let worker = DeliverWebhooks::new(store.clone(), queue.clone(), dev_sender(), policy);
    Harness { store, queue, worker }
}

fn dev_sender() -> WebhookSender {
    WebhookSender::new(DEV).expect("sender")
}

impl<S: DeliveryStore + WebhookStore + Clone, Q: Queue> Harness<S, Q> {
    /// Receives and delivers queued messages until every delivery of
    /// `event` is finished (bounded by the test timeout).
    async fn run_until_finished(&self, event: &EventId) -> Vec<WebhookDelivery> {
        let queue: TypedQueue<Q, DeliveryMessage> = TypedQueue::new(self.queue.clone());
        loop {
            let deliveries = self.store.list_deliveries(event).await.expect("list");
            if deliveries.iter().all(WebhookDelivery::is_finished) {
                return deliveries;
            }
            for received in
                queue.receive(10, Duration::from_millis(200), Duration::from_secs(30)).await.expect("receive")
            {
                let message = received.message.expect("a delivery message");
                self.worker.deliver(&message, ferry_testing::now()).await.expect("deliver");
                queue.ack(&received.receipt).await.expect("ack");
            }
        }
    }
}

async fn dispatched<S: DeliveryStore + WebhookStore, Q: Queue>(harness: &Harness<S, Q>) -> DispatchReport {
    harness.worker.dispatch(ferry_testing::now()).await.expect("dispatch")
}

#[tokio::test]
async fn a_delivery_carries_the_event_signed_with_the_endpoint_secret() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let harness = harness(FAST, dev_sender());
        let merchant = seed_merchant(&harness.store).await;
        let endpoint = seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["*"]).await;
        let (session, event) = seed_event(&harness.store, merchant.id).await;

        assert_eq!(dispatched(&harness).await, DispatchReport { events: 1, deliveries: 1 });
        let [delivery] = <[WebhookDelivery; 1]>::try_from(harness.run_until_finished(&event.id).await).expect("one");
        assert_eq!(delivery.state, DeliveryState::Succeeded);
        assert_eq!(delivery.webhook_id, endpoint.id);

        let [request] = <[_; 1]>::try_from(receiver.received()).expect("one request");
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/hooks"));
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        let signature = request.signature.as_deref().expect("a Ferry-Signature header");
        verify(&endpoint.secret, signature, &request.body, ferry_testing::now(), SIGNATURE_TOLERANCE_SECONDS)
            .expect("the signature verifies with the endpoint's secret");
        let other = ferry_testing::sample_webhook(merchant.id, ferry_testing::now()).secret;
        assert!(verify(&other, signature, &request.body, ferry_testing::now(), 300).is_err(), "and no other secret");

        let body = request.json();
        assert_eq!(body["id"], event.id.to_string());
        assert_eq!(body["type"], "session.processing");
        assert_eq!(body["data"]["session"]["sessionId"], session.id.to_string());
        assert_eq!(body["data"]["session"]["status"], "processing");
        assert!(body.get("isTestEvent").is_none());
        assert!(!String::from_utf8_lossy(&request.body).contains(&session.client_secret.reveal()));
    })
    .await;
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_one_successful_delivery_and_four_logged_attempts() {
    bounded(fails_three_times_then_succeeds(harness(FAST, dev_sender()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_three_times_gets_one_successful_delivery_on_dynamodb_and_sqs() {
    bounded(async { fails_three_times_then_succeeds(moto_harness(FAST).await).await }).await;
}

async fn fails_three_times_then_succeeds<S, Q>(harness: Harness<S, Q>)
where
    S: DeliveryStore + WebhookStore + ferry_store::MerchantStore + ferry_store::SessionStore + Clone,
    Q: Queue,
{
    let receiver =
        WebhookReceiver::start([Reply::Status(500), Reply::Status(503), Reply::Status(404)], Reply::Status(200)).await;
    let merchant = seed_merchant(&harness.store).await;
    seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["session.processing"]).await;
    let (_, event) = seed_event(&harness.store, merchant.id).await;

    dispatched(&harness).await;
    let [delivery] = <[WebhookDelivery; 1]>::try_from(harness.run_until_finished(&event.id).await).expect("one");
    assert_eq!(delivery.state, DeliveryState::Succeeded);
    let statuses: Vec<&AttemptOutcome> = delivery.attempts.iter().map(|a| &a.outcome).collect();
    assert_eq!(
        statuses,
        [500, 503, 404, 200].map(|status| AttemptOutcome::Responded { status }).iter().collect::<Vec<_>>(),
        "the log shows every attempt"
    );
    for pair in delivery.attempts.windows(2) {
        assert!(pair[1].at > pair[0].at, "each retry waited: {:?}", delivery.attempts);
    }
    let requests = receiver.received();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.json()["id"] == event.id.to_string()), "the same event id each time");

    // Nothing more is sent: the success is final.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 4);
}

/// Three attempts a round, for the parking scenario.
const PARKS_AFTER_THREE: RetryPolicy = RetryPolicy { max_attempts: 3, ..FAST };

#[tokio::test]
async fn a_permanently_failing_receiver_ends_parked_and_an_operator_replays_it() {
    bounded(parks_and_replays(harness(PARKS_AFTER_THREE, dev_sender()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_failing_receiver_ends_parked_and_replays_on_dynamodb_and_sqs() {
    bounded(async { parks_and_replays(moto_harness(PARKS_AFTER_THREE).await).await }).await;
}

async fn parks_and_replays<S, Q>(harness: Harness<S, Q>)
where
    S: DeliveryStore + WebhookStore + ferry_store::MerchantStore + ferry_store::SessionStore + Clone,
    Q: Queue,
{
    let receiver = WebhookReceiver::start([Reply::Status(500); 3], Reply::Status(204)).await;
    let merchant = seed_merchant(&harness.store).await;
    seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["*"]).await;
    let (_, event) = seed_event(&harness.store, merchant.id).await;

    dispatched(&harness).await;
    let [parked] = <[WebhookDelivery; 1]>::try_from(harness.run_until_finished(&event.id).await).expect("one");
    assert_eq!(parked.state, DeliveryState::Parked);
    assert_eq!(parked.attempts.len(), 3);
    assert_eq!(harness.store.parked_deliveries(10).await.expect("parked"), vec![parked.clone()]);

    let replayed =
        harness.worker.replay(ReplayScope::Parked { limit: 10 }, ferry_testing::now()).await.expect("replay");
    assert_eq!(replayed.len(), 1);
    let [delivered] = <[WebhookDelivery; 1]>::try_from(harness.run_until_finished(&event.id).await).expect("one");
    assert_eq!(delivered.state, DeliveryState::Succeeded);
    assert_eq!(delivered.attempts.len(), 4, "three failures, then the replay's success");
    assert_eq!(receiver.received().len(), 4);
    assert_eq!(harness.store.parked_deliveries(10).await.expect("parked"), vec![]);

    let again = harness.worker.replay(ReplayScope::Event(event.id), ferry_testing::now()).await.expect("replay");
    assert!(again.is_empty(), "a delivered event has nothing parked");
}

#[tokio::test]
async fn duplicate_and_reordered_messages_deliver_each_event_once_per_endpoint() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let harness = harness(FAST, dev_sender());
        let merchant = seed_merchant(&harness.store).await;
        seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["*"]).await;
        seed_webhook_at(&harness.store, merchant.id, &format!("{}/second", receiver.url()), &["*"]).await;
        let (_, first) = seed_event(&harness.store, merchant.id).await;
        let (_, second) = seed_event(&harness.store, merchant.id).await;

        // Dispatch twice at once: each event fans out once.
        let (a, b) = tokio::join!(dispatched(&harness), dispatched(&harness));
        assert_eq!(a.deliveries + b.deliveries, 4);
        let mut messages: Vec<DeliveryMessage> = Vec::new();
        let queue: TypedQueue<MemoryQueue, DeliveryMessage> = TypedQueue::new(harness.queue.clone());
        for received in queue.receive(10, Duration::from_millis(200), Duration::from_secs(30)).await.expect("receive") {
            messages.push(received.message.expect("message"));
            queue.ack(&received.receipt).await.expect("ack");
        }
        assert_eq!(messages.len(), 4);
        // Every message twice, newest first, two workers at a time.
        messages.reverse();
        for message in messages.iter().chain(messages.iter()) {
            let now = ferry_testing::now();
            let (x, y) = tokio::join!(harness.worker.deliver(message, now), harness.worker.deliver(message, now));
            let outcomes = [x.expect("deliver"), y.expect("deliver")];
            assert!(outcomes.iter().filter(|o| **o == Delivered::Succeeded).count() <= 1, "{outcomes:?}");
        }
        let requests = receiver.received();
        assert_eq!(requests.len(), 4, "one request per event and endpoint");
        for event in [&first, &second] {
            let deliveries = harness.store.list_deliveries(&event.id).await.expect("list");
            assert!(deliveries.iter().all(|d| d.state == DeliveryState::Succeeded && d.attempts.len() == 1));
            let to_event = requests.iter().filter(|r| r.json()["id"] == event.id.to_string()).count();
            assert_eq!(to_event, 2);
        }
    })
    .await;
}

#[tokio::test]
async fn endpoints_get_only_the_events_they_subscribe_to() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let harness = harness(FAST, dev_sender());
        let merchant = seed_merchant(&harness.store).await;
        seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["session.succeeded"]).await;
        let other_merchant = seed_merchant(&harness.store).await;
        seed_webhook_at(&harness.store, other_merchant.id, &receiver.url(), &["*"]).await;
        let (_, event) = seed_event(&harness.store, merchant.id).await;

        assert_eq!(dispatched(&harness).await, DispatchReport { events: 1, deliveries: 0 });
        assert_eq!(harness.store.list_deliveries(&event.id).await.expect("list"), vec![]);
        assert_eq!(harness.store.pending_events(10).await.expect("pending"), vec![], "fanned out, to nobody");
        assert!(receiver.received().is_empty(), "never to another merchant's endpoint");
    })
    .await;
}

/// A sender whose resolver answers from a table, as a DNS server might.
fn sender_resolving(policy: UrlPolicy, names: &[(&str, IpAddr)]) -> WebhookSender {
    let table: HashMap<String, Vec<IpAddr>> = names.iter().map(|(name, ip)| (name.to_string(), vec![*ip])).collect();
    WebhookSender::with_lookup(policy, HostLookup::Static(Arc::new(table))).expect("sender")
}

async fn attempt_to(sender: &WebhookSender, url: &str) -> AttemptOutcome {
    // Read back as a stored URL would be: the rules at registration may
    // have been laxer, and names resolve differently over time.
    let url: ferry_domain::WebhookUrl = serde_json::from_value(serde_json::json!(url)).expect("url");
    let secret =
        ferry_testing::sample_webhook(ferry_domain::MerchantId::from_random_bytes([1; 16]), ferry_testing::now())
            .secret;
    sender.send(&url, &secret, b"{}", ferry_testing::now()).await.outcome
}

#[tokio::test]
async fn names_resolving_to_forbidden_addresses_are_refused_at_delivery() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let port = receiver.address().port();
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        let names = [
            ("rebound.merchant.example", loopback),
            ("internal.merchant.example", "10.1.2.3".parse().expect("ip")),
            ("metadata.merchant.example", "169.254.169.254".parse().expect("ip")),
            ("v6.merchant.example", "fd00::1".parse().expect("ip")),
        ];
        let production = sender_resolving(PRODUCTION, &names);
        let expectations = [
            ("rebound.merchant.example", "loopback"),
            ("internal.merchant.example", "private"),
            ("metadata.merchant.example", "link-local"),
            ("v6.merchant.example", "unique-local"),
        ];
        for (host, class) in expectations {
            let outcome = attempt_to(&production, &format!("https://{host}/hooks")).await;
            let AttemptOutcome::Failed { error } = &outcome else { panic!("{host} was reached: {outcome:?}") };
            assert!(error.contains(host) && error.contains(class), "{host}: {error}");
            // Stored with another port (allowed when it was registered): refused for the port, unsent.
            let outcome = attempt_to(&production, &format!("http://{host}:{port}/hooks")).await;
            let AttemptOutcome::Failed { error } = &outcome else { panic!("{host} was reached: {outcome:?}") };
            assert!(error.contains(&format!("port {port}")), "{host}: {error}");
        }
        // An IP literal stored under a laxer policy is refused too.
        let outcome = attempt_to(&production, &receiver.url()).await;
        assert!(matches!(&outcome, AttemptOutcome::Failed { error } if error.contains("loopback")), "{outcome:?}");
        assert!(receiver.received().is_empty(), "no request left the sender");

        // The same name is delivered to where it resolved when the
        // deployment allows loopback (development).
        let development = sender_resolving(DEV, &names);
        let outcome = attempt_to(&development, &format!("http://rebound.merchant.example:{port}/hooks")).await;
        assert_eq!(outcome, AttemptOutcome::Responded { status: 200 });
        assert_eq!(receiver.received().len(), 1);
        let outcome = attempt_to(&development, &format!("http://internal.merchant.example:{port}/hooks")).await;
        assert!(matches!(&outcome, AttemptOutcome::Failed { error } if error.contains("private")), "{outcome:?}");
    })
    .await;
}

#[tokio::test]
async fn failures_are_logged_without_the_url_which_may_hold_a_token() {
    bounded(async {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let outcome =
            attempt_to(&dev_sender(), &format!("http://127.0.0.1:{closed}/hooks/tok_s3cr3t?key=hunter2")).await;
        let AttemptOutcome::Failed { error } = outcome else { panic!("a closed port answered") };
        assert!(!error.contains("tok_s3cr3t") && !error.contains("hunter2"), "{error}");
        assert!(!error.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_slow_endpoint_times_out_after_ten_seconds() {
    bounded(async {
        let receiver = WebhookReceiver::start([Reply::Stall(Duration::from_secs(15))], Reply::Status(200)).await;
        let outcome = attempt_to(&dev_sender(), &receiver.url()).await;
        assert_eq!(outcome, AttemptOutcome::Failed { error: "no answer within 10 s".into() });
    })
    .await;
}

#[tokio::test]
async fn a_delivery_to_a_deleted_endpoint_is_parked_without_sending() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let harness = harness(FAST, dev_sender());
        let merchant = seed_merchant(&harness.store).await;
        let endpoint = seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["*"]).await;
        let (_, event) = seed_event(&harness.store, merchant.id).await;
        dispatched(&harness).await;
        assert!(harness.store.delete_webhook(&merchant.id, &endpoint.id).await.expect("delete"));

        let [delivery] = <[WebhookDelivery; 1]>::try_from(harness.run_until_finished(&event.id).await).expect("one");
        assert_eq!(delivery.state, DeliveryState::Parked);
        assert_eq!(delivery.attempts[0].outcome, AttemptOutcome::Failed { error: "the endpoint was deleted".into() });
        assert!(receiver.received().is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_early_message_is_queued_again_for_when_the_delivery_is_due() {
    bounded(async {
        let receiver = WebhookReceiver::start([Reply::Status(500)], Reply::Status(200)).await;
        let slow = RetryPolicy { max_attempts: 3, first_delay_seconds: 600, factor: 1, max_delay_seconds: 600 };
        let harness = harness(slow, dev_sender());
        let merchant = seed_merchant(&harness.store).await;
        seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["*"]).await;
        let (_, event): (_, SessionEvent) = seed_event(&harness.store, merchant.id).await;
        dispatched(&harness).await;
        let delivery = harness.store.list_deliveries(&event.id).await.expect("list").remove(0);
        let message = DeliveryMessage::from(&delivery);
        // This test hands the worker its messages itself.
        for queued in harness.queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive") {
            harness.queue.ack(&queued.receipt).await.expect("ack");
        }
        let now = ferry_testing::now();

        let Delivered::Retrying { at } = harness.worker.deliver(&message, now).await.expect("deliver") else {
            panic!("the first attempt fails")
        };
        // A duplicate of the first message arrives: not due, not sent.
        assert_eq!(harness.worker.deliver(&message, now).await.expect("deliver"), Delivered::NotDue { at });
        assert_eq!(receiver.received().len(), 1);
        // At its time it is sent (the sweep would queue it if its message were lost).
        assert_eq!(harness.worker.deliver(&message, at).await.expect("deliver"), Delivered::Succeeded);
        assert_eq!(receiver.received().len(), 2);
        // Queued for the retry: the first message's and the duplicate's delayed copies.
        let later = harness.store.due_deliveries(at, 10).await.expect("due");
        assert!(later.is_empty(), "finished deliveries are never due");
        assert!(
            harness.queue.receive(10, Duration::ZERO, Duration::from_secs(1)).await.expect("receive").is_empty(),
            "the delayed copies are not visible yet (10 minutes)"
        );
    })
    .await;
}

#[tokio::test]
async fn the_sweep_queues_deliveries_whose_message_was_lost() {
    bounded(async {
        let receiver = WebhookReceiver::accepting().await;
        let harness = harness(FAST, dev_sender());
        let merchant = seed_merchant(&harness.store).await;
        seed_webhook_at(&harness.store, merchant.id, &receiver.url(), &["*"]).await;
        let (_, event) = seed_event(&harness.store, merchant.id).await;
        dispatched(&harness).await;
        // The dispatch's message is lost.
        let lost = harness.queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
        for message in &lost {
            harness.queue.ack(&message.receipt).await.expect("ack");
        }
        let now = ferry_testing::now();
        assert_eq!(harness.worker.sweep(now).await.expect("sweep"), 0, "not overdue yet");
        let overdue = now.plus_seconds(ferry_notify::SWEEP_GRACE_SECONDS);
        assert_eq!(harness.worker.sweep(overdue).await.expect("sweep"), 1);
        let [delivery] = <[WebhookDelivery; 1]>::try_from(harness.run_until_finished(&event.id).await).expect("one");
        assert_eq!(delivery.state, DeliveryState::Succeeded);
        assert_eq!(receiver.received().len(), 1);
    })
    .await;
}
