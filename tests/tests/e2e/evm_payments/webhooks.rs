//! The merchant hears about a real payment: an endpoint registered over
//! HTTP gets `session.processing` and then `session.succeeded`, each signed
//! with its secret, from the webhook worker the local stack runs; and the
//! event's delivery log is readable through the API.

use std::time::Duration;

use ferry_chains::evm::local;
use ferry_domain::WebhookSecret;
use ferry_domain::webhook::{SIGNATURE_TOLERANCE_SECONDS, verify};
use ferry_e2e::chains::{CHAIN_A, CHAIN_B};
use ferry_e2e::evm::{SessionRequest, eventually, spawn_app_with_chains, spawn_app_with_chains_and_manual_workers};
use ferry_notify::{Announcer, FanOutMessage, WebhookMessage};
use ferry_queue::TypedQueue;
use ferry_queue::memory::MemoryQueue;
use ferry_store::EventStore;
use ferry_testing::WebhookReceiver;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_session_is_announced_to_the_merchant_endpoint_signed() {
    let app = spawn_app_with_chains().await;
    let receiver = WebhookReceiver::accepting().await;
    let created = app
        .send(app.client.post(app.url("/v1/webhooks")).bearer_auth(&app.api_key).json(&json!({"url": receiver.url()})))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let secret: WebhookSecret = created.body["webhook"]["secret"].as_str().expect("secret").parse().expect("whsec");

    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    app.pay(CHAIN_B, session.receiver, "10.00").await;
    app.wait_for_status(&session.id, "succeeded").await;

    let requests = eventually("both events at the receiver", || async {
        let requests = receiver.received();
        if requests.len() >= 2 { Ok(requests) } else { Err(format!("{} requests", requests.len())) }
    })
    .await;
    let mut kinds = Vec::new();
    for request in &requests {
        let header = request.signature.as_deref().expect("signed");
        verify(&secret, header, &request.body, ferry_testing::now(), SIGNATURE_TOLERANCE_SECONDS).expect("verifies");
        let event = request.json();
        assert_eq!(event["data"]["session"]["sessionId"], session.id.as_str());
        assert!(event["data"]["session"].get("clientSecret").is_none(), "{event:#}");
        kinds.push(event["type"].as_str().expect("type").to_string());
    }
    kinds.sort();
    assert_eq!(kinds, ["session.processing", "session.succeeded"]);
    let succeeded = requests.iter().map(|r| r.json()).find(|e| e["type"] == "session.succeeded").expect("succeeded");
    assert_eq!(succeeded["data"]["session"]["status"], "succeeded");
    assert_eq!(succeeded["data"]["session"]["destination"]["delivery"]["receivedUnits"], "10.00");

    let event_id = succeeded["id"].as_str().expect("id");
    let log = app.send(app.client.get(app.url(&format!("/v1/events/{event_id}"))).bearer_auth(&app.api_key)).await;
    assert_eq!(log.status, 200, "{:#}", log.body);
    assert_eq!(log.body["event"], succeeded, "the event as delivered");
    assert_eq!(log.body["deliveries"][0]["status"], "succeeded", "{:#}", log.body);
    assert_eq!(log.body["deliveries"][0]["attempts"][0]["statusCode"], 200, "{:#}", log.body);
    let other =
        app.send(app.client.get(app.url(&format!("/v1/events/{event_id}"))).bearer_auth(&app.other_api_key)).await;
    other.assert_error(404, "invalid_request_error", "event_not_found");
}

/// The router announces each event it commits on the webhook queue, right
/// after the commit: `session.processing` when the deposit claims the
/// session, `session.succeeded` when the payout lands. `deliver-webhooks`
/// fans each out from there, without waiting for its sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_announces_each_event_it_commits() {
    let app = spawn_app_with_chains_and_manual_workers().await;
    let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let payment = app.pay(CHAIN_B, session.receiver, "10.00").await;
    app.watch_until_recorded(&payment.deposit_id()).await;

    let webhooks = MemoryQueue::new();
    let router = app.router(app.store.clone()).announcing(Announcer::to_queue(webhooks.clone()));
    router.route(&payment.deposit_id(), ferry_testing::now()).await.expect("routed");

    let queue: TypedQueue<MemoryQueue, WebhookMessage> = TypedQueue::new(webhooks);
    let announced = queue.receive(10, Duration::ZERO, Duration::from_secs(30)).await.expect("receive");
    let mut kinds = Vec::new();
    for received in announced {
        let Ok(WebhookMessage::FanOut(FanOutMessage { fan_out })) = received.message else {
            panic!("not an announcement: {:?}", received.message)
        };
        let event = app.store.get_event(&fan_out).await.expect("read").expect("the announced event is committed");
        assert_eq!(event.session_id.to_string(), session.id);
        kinds.push(event.kind.as_str());
    }
    assert_eq!(kinds, ["session.processing", "session.succeeded"]);
}
