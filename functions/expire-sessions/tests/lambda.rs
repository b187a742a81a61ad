//! `expire-sessions` as its EventBridge schedule drives it: the function's
//! entry on the scheduled-event fixture over the in-memory store, and the
//! real binary through its Lambda entry point against DynamoDB (moto),
//! where due sessions are found through the sparse `open-sessions` index
//! and each `session.expired` event is announced on the webhook queue (SQS),
//! whose batches alone get it to the merchant's endpoint.

use std::time::{Duration, SystemTime};

use deliver_webhooks::lambda::DeliverWebhooksLambda;
use expire_sessions::ExpireSessions;
use expire_sessions::lambda::ExpireSessionsLambda;
use ferry_domain::{RetryPolicy, UrlPolicy};
use ferry_domain::{Session, SessionStatus, Timestamp};
use ferry_notify::{DeliverWebhooks, FanOutMessage, WebhookMessage, WebhookSender};
use ferry_queue::Queue;
use ferry_queue::sqs::SqsQueue;
use ferry_store::DeliveryStore;
use ferry_store::memory::MemoryStore;
use ferry_store::{ExpiryStore, SessionChange, SessionStore};
use ferry_testing::{
    WebhookReceiver, bounded, fresh_table, moto_endpoint, run_lambda, sam_local_env, seed_merchant, seed_webhook_at,
    sqs_event, unique_table_name,
};
use serde_json::Value;

const FIXTURE: &str = ferry_testing::SCHEDULED_EVENT;

fn scheduled_event() -> String {
    std::fs::read_to_string(FIXTURE).expect("read the fixture")
}

/// A stored session that expires `seconds_from_now` from now (negative: in the past).
async fn session_expiring_in<S: SessionStore>(store: &S, seconds_from_now: i64) -> Session {
    let now = ferry_testing::now().unix_seconds();
    let mut session =
        ferry_testing::sample_session(ferry_domain::MerchantId::from_random_bytes(ferry_testing::random_bytes()));
    session.expires_at = Timestamp::from_unix_seconds(now.saturating_add_signed(seconds_from_now));
    session.created_at = Timestamp::from_unix_seconds(session.expires_at.unix_seconds() - 3_600);
    store.create_session(&session, None).await.expect("create");
    session
}

async fn status<S: SessionStore>(store: &S, session: &Session) -> SessionStatus {
    store.get_session(&session.id).await.expect("get").expect("stored").status()
}

#[tokio::test]
async fn the_handler_expires_what_is_due_and_reports_it() {
    bounded(async {
        let store = MemoryStore::new();
        let due = session_expiring_in(&store, -60).await;
        let not_yet = session_expiring_in(&store, 3_600).await;
        let function = ExpireSessionsLambda::new(ExpireSessions::new(store.clone()));
        let event: Value = serde_json::from_str(&scheduled_event()).expect("JSON");

        let report = function.handle(&event, SystemTime::now() + Duration::from_secs(30)).await.expect("ran");

        assert_eq!((report.expired, report.lost_races, report.cut_short), (1, 0, false));
        assert_eq!(status(&store, &due).await, SessionStatus::Expired);
        assert_eq!(status(&store, &not_yet).await, SessionStatus::RequiresPaymentMethod);
        let json = serde_json::to_value(report).expect("JSON");
        assert_eq!(json, serde_json::json!({ "expired": 1, "lostRaces": 0, "cutShort": false }));
    })
    .await;
}

/// The real binary, started as Lambda starts it, on the scheduled event:
/// the due open sessions in the table become `expired`; a session not yet
/// due, a `processing` one past its expiry and an already expired one are
/// left as they are. Its variables are those `sam local --env-vars
/// events/env.json` sets, only the table and moto_server being this test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_expires_due_sessions_in_dynamodb() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-expire-sessions")).await;
    let (due, not_yet, processing) = bounded(async {
        let mut due = Vec::new();
        for age in 1..=5 {
            due.push(session_expiring_in(&store, -60 * age).await);
        }
        let not_yet = session_expiring_in(&store, 3_600).await;
        let open = session_expiring_in(&store, -120).await;
        let receiver = ferry_testing::sample_deposit().receiver;
        let waiting = open.set_evm_payment_method(receiver, open.created_at).expect("legal").expect("changed");
        store.commit(SessionChange::new(&waiting).claiming_receiver(receiver)).await.expect("method");
        let (paid, _event) = waiting.deposit_seen(&ferry_testing::sample_deposit()).expect("legal");
        store.commit(SessionChange::new(&paid)).await.expect("paid");
        (due, not_yet, paid)
    })
    .await;

    let webhooks = bounded(SqsQueue::local(&sqs_endpoint(), &unique_table_name("webhooks"))).await.expect("queue");
    let env = binary_env(&endpoint, store.table(), &webhooks);
    let response = run_lambda(env!("CARGO_BIN_EXE_expire-sessions"), env, scheduled_event(), Duration::from_secs(30))
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(response["expired"], 5, "{response}");
    assert_eq!(response["lostRaces"], 0, "{response}");
    assert_eq!(response["cutShort"], false, "{response}");
    bounded(async {
        for session in &due {
            assert_eq!(status(&store, session).await, SessionStatus::Expired);
        }
        assert_eq!(status(&store, &not_yet).await, SessionStatus::RequiresPaymentMethod);
        assert_eq!(status(&store, &processing).await, SessionStatus::Processing);
        assert!(store.due_sessions(ferry_testing::now(), 100).await.expect("due").is_empty());
        let mut announced = 0;
        loop {
            let received =
                webhooks.receive(10, Duration::from_secs(1), Duration::from_secs(30)).await.expect("receive");
            if received.is_empty() {
                break;
            }
            announced += received.len();
            for message in &received {
                webhooks.ack(&message.receipt).await.expect("ack");
            }
        }
        assert_eq!(announced, 5, "each expiry's event announced once");
    })
    .await;
}

fn sqs_endpoint() -> String {
    std::env::var("FERRY_TEST_SQS_ENDPOINT")
        .expect("FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server")
}

/// The variables `sam local --env-vars events/env.json` gives the function,
/// with this test's table, moto_servers and webhook queue.
fn binary_env(dynamodb: &str, table: &str, webhooks: &SqsQueue) -> Vec<(String, String)> {
    let overrides =
        [("AWS_ENDPOINT_URL", dynamodb), ("FERRY_TABLE_NAME", table), ("FERRY_WEBHOOK_QUEUE_URL", webhooks.url())];
    let mut env = sam_local_env("ExpireSessionsFunction", &overrides);
    env.push(("AWS_ENDPOINT_URL_SQS".to_string(), sqs_endpoint()));
    env
}

/// Event-driven webhooks on DynamoDB and SQS (moto): the real binary
/// expires a session and announces its event on the webhook queue; that
/// queue's batch, handed to `deliver-webhooks`, fans the event out, and the
/// next batch delivers it to the merchant's endpoint. No schedule of
/// `deliver-webhooks` runs: the event needs none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_announces_each_expiry_and_the_webhook_goes_out_from_the_queue() {
    let receiver = WebhookReceiver::accepting().await;
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-expire-announce")).await;
    let queue = bounded(SqsQueue::local(&sqs_endpoint(), &unique_table_name("webhooks"))).await.expect("queue");
    let (merchant, session) = bounded(async {
        let merchant = seed_merchant(&store).await;
        seed_webhook_at(&store, merchant.id, &receiver.url(), &["session.expired"]).await;
        let mut session = ferry_testing::sample_session(merchant.id);
        session.expires_at = Timestamp::from_unix_seconds(ferry_testing::now().unix_seconds() - 60);
        session.created_at = Timestamp::from_unix_seconds(session.expires_at.unix_seconds() - 3_600);
        store.create_session(&session, None).await.expect("create");
        (merchant, session)
    })
    .await;

    let env = binary_env(&endpoint, store.table(), &queue);
    let response = run_lambda(env!("CARGO_BIN_EXE_expire-sessions"), env, scheduled_event(), Duration::from_secs(30))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response["expired"], 1, "{response}");

    let deliver = DeliverWebhooksLambda::new(DeliverWebhooks::new(
        store.clone(),
        queue.clone(),
        WebhookSender::new(UrlPolicy::DEVELOPMENT).expect("sender"),
        RetryPolicy::STANDARD,
    ));
    let deadline = SystemTime::now() + Duration::from_secs(60);
    bounded(async {
        let announced = queue.receive(10, Duration::from_secs(5), Duration::from_secs(30)).await.expect("receive");
        let [announcement] = <[_; 1]>::try_from(announced.clone()).expect("one announcement");
        let message: WebhookMessage = serde_json::from_str(&announcement.body).expect("a webhook message");
        let WebhookMessage::FanOut(FanOutMessage { fan_out: event_id }) = message else {
            panic!("not an announcement: {message:?}")
        };
        let answer = deliver.handle(sqs_event(&announced), deadline).await.expect("the announcement's batch");
        assert_eq!(answer, serde_json::json!({ "batchItemFailures": [] }));

        let deliveries = queue.receive(10, Duration::from_secs(5), Duration::from_secs(30)).await.expect("receive");
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        let answer = deliver.handle(sqs_event(&deliveries), deadline).await.expect("the delivery's batch");
        assert_eq!(answer, serde_json::json!({ "batchItemFailures": [] }));

        let [request] = <[_; 1]>::try_from(receiver.received()).expect("one webhook");
        let body = request.json();
        assert_eq!(body["id"], event_id.to_string());
        assert_eq!(body["type"], "session.expired");
        assert_eq!(body["data"]["session"]["sessionId"], session.id.to_string(), "{body}");
        assert!(store.pending_events(10).await.expect("pending").is_empty(), "nothing left for the sweep");
        let _ = merchant;
    })
    .await;
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_expire-sessions"),
    std::fs::read_to_string(ferry_testing::SCHEDULED_EVENT).expect("the event file"),
    "FERRY_TABLE_NAME"
);
