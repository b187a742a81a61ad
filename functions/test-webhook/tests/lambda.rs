//! `POST /v1/webhooks/{webhookId}/test` as API Gateway delivers it: the
//! handler over the in-memory and the SQLite store, sending to webhook
//! receivers on loopback, and the real binary through its Lambda entry
//! point against DynamoDB (moto).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ferry_domain::webhook::{SIGNATURE_TOLERANCE_SECONDS, verify};
use ferry_domain::{EventId, UrlPolicy, WebhookEndpoint};
use ferry_http::Context;
use ferry_notify::{HostLookup, WebhookSender};
use ferry_store::Store;
use ferry_testing::{
    BinaryOnMoto, ReceivedRequest, Reply, WebhookReceiver, bounded, fixture, gateway_body, header, is_hex32,
    on_each_store, request, response_json, seed_merchant, seed_webhook, seed_webhook_at,
};
use http::StatusCode;
use lambda_http::Body;
use serde_json::{Value, json};
use test_webhook::TestWebhook;

/// `requestContext.requestId` of the `test-webhook` fixture.
const REQUEST_ID: &str = "Q3kZwBh5oAMEbZe=";
const PRODUCTION: UrlPolicy = UrlPolicy::PRODUCTION;
const DEVELOPMENT: UrlPolicy = UrlPolicy::DEVELOPMENT;

fn function<S: Store>(store: &S, policy: UrlPolicy) -> TestWebhook<S> {
    TestWebhook::new(Context::new(store.clone()), WebhookSender::new(policy).expect("sender"))
}

/// The fixture's request (`{"eventType": "session.succeeded"}`), or with
/// `body` instead.
async fn post<S: Store>(
    function: &TestWebhook<S>,
    key: &str,
    webhook: &str,
    body: Option<Value>,
) -> lambda_http::Response<Body> {
    let mut event = request("test-webhook", &[("API_KEY", key), ("WEBHOOK_ID", webhook)]);
    if let Some(body) = body {
        *event.body_mut() = Body::Text(body.to_string());
    }
    ferry_http::respond(event, |request| function.handle(request)).await
}

/// The delivery is signed with the endpoint's secret, and carries exactly
/// the event the response shows.
fn assert_is_the_signed_event(received: &ReceivedRequest, endpoint: &WebhookEndpoint, event: &Value) {
    assert_eq!(received.method, "POST");
    assert_eq!(received.content_type.as_deref(), Some("application/json"));
    let signature = received.signature.as_deref().expect("a Ferry-Signature header");
    let verified =
        verify(&endpoint.secret, signature, &received.body, ferry_testing::now(), SIGNATURE_TOLERANCE_SECONDS);
    assert_eq!(verified, Ok(()), "{signature}");
    assert_eq!(received.json(), *event, "the response shows the event as sent");
}

/// A test event of the type asked for, marked as a test, about a sample
/// session of the merchant in the matching status.
fn assert_is_a_test_event(event: &Value, kind: &str, status: &str) {
    assert!(event["id"].as_str().is_some_and(|id| id.parse::<EventId>().is_ok()), "{event}");
    assert_eq!(event["type"], kind, "{event}");
    assert_eq!(event["isTestEvent"], true, "{event}");
    assert!(event["createdAt"].as_u64().is_some_and(|t| t > 1_700_000_000), "{event}");
    let session = &event["data"]["session"];
    assert_eq!(session["status"], status, "{event}");
    assert!(session["sessionId"].as_str().is_some_and(is_hex32), "{event}");
    assert_eq!(session["destination"]["address"], "0x1111111111111111111111111111111111111111", "{event}");
    assert_eq!(session["destination"]["tokenSymbol"], "USDC", "{event}");
    assert_eq!(session["display"]["title"], "Test event", "{event}");
    assert!(session.get("clientSecret").is_none(), "{event}");
}

/// 200 with the event and a successful delivery; the receiver got it once,
/// signed, even though the endpoint does not subscribe to the type; nothing
/// is stored.
async fn sends_a_signed_test_event<S: Store>(store: S) {
    let receiver = WebhookReceiver::accepting().await;
    let merchant = seed_merchant(&store).await;
    let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["session.bounced"]).await;
    let response = post(&function(&store, DEVELOPMENT), &merchant.api_key, &endpoint.id.to_string(), None).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let body = response_json(&response);
    assert_is_a_test_event(&body["event"], "session.succeeded", "succeeded");
    assert!(body["event"]["data"]["session"]["destination"]["delivery"]["txHash"].is_string(), "{body}");
    let delivery = &body["delivery"];
    assert_eq!((&delivery["succeeded"], &delivery["statusCode"]), (&json!(true), &json!(200)), "{body}");
    assert!(delivery.get("error").is_none(), "{body}");
    assert!(delivery["latencyMs"].is_u64() && delivery["at"].is_u64(), "{body}");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_is_the_signed_event(&received[0], &endpoint, &body["event"]);
    assert!(store.pending_events(10).await.expect("pending").is_empty(), "not in the outbox");
    let id: EventId = body["event"]["id"].as_str().and_then(|id| id.parse().ok()).expect("event id");
    assert!(store.get_event(&id).await.expect("get").is_none(), "not stored");
}

on_each_store!(sends_a_signed_test_event);

/// Each event type gets a session in the status that type reports.
async fn each_type_carries_a_session_in_its_status<S: Store>(store: S) {
    let receiver = WebhookReceiver::accepting().await;
    let merchant = seed_merchant(&store).await;
    let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
    let function = function(&store, DEVELOPMENT);
    let kinds = [
        ("session.processing", "processing"),
        ("session.succeeded", "succeeded"),
        ("session.bounced", "bounced"),
        ("session.expired", "expired"),
    ];
    let mut session_ids = BTreeSet::new();
    for (kind, status) in kinds {
        let body = json!({"eventType": kind});
        let response = post(&function, &merchant.api_key, &endpoint.id.to_string(), Some(body)).await;
        assert_eq!(response.status(), StatusCode::OK, "{kind}: {:?}", response.body());
        let body = response_json(&response);
        assert_is_a_test_event(&body["event"], kind, status);
        session_ids.insert(body["event"]["data"]["session"]["sessionId"].to_string());
    }
    let received = receiver.received();
    assert_eq!(received.len(), kinds.len());
    for (request, (kind, _)) in received.iter().zip(kinds) {
        assert_eq!(request.json()["type"], kind);
    }
    assert_eq!(session_ids.len(), kinds.len(), "a fresh sample session each time");
}

on_each_store!(each_type_carries_a_session_in_its_status);

/// A receiver that fails is reported, not retried, and is not an error of
/// the request.
async fn reports_a_failing_receiver<S: Store>(store: S) {
    let receiver = WebhookReceiver::start([], Reply::Status(500)).await;
    let merchant = seed_merchant(&store).await;
    let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
    let response = post(&function(&store, DEVELOPMENT), &merchant.api_key, &endpoint.id.to_string(), None).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    let body = response_json(&response);
    assert_eq!(body["delivery"]["succeeded"], false, "{body}");
    assert_eq!(body["delivery"]["statusCode"], 500, "{body}");
    assert_eq!(receiver.received().len(), 1, "sent once, not retried");
}

on_each_store!(reports_a_failing_receiver);

/// Under the production policy, an endpoint whose host is (or resolves to)
/// an address webhooks may not reach gets nothing, and the delivery says
/// why.
async fn refuses_addresses_webhooks_may_not_reach<S: Store>(store: S) {
    let receiver = WebhookReceiver::accepting().await;
    let merchant = seed_merchant(&store).await;
    // Stored while loopback was allowed; the deployment no longer allows it.
    let loopback = seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
    let response = post(&function(&store, PRODUCTION), &merchant.api_key, &loopback.id.to_string(), None).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    let body = response_json(&response);
    assert_eq!(body["delivery"]["succeeded"], false, "{body}");
    assert!(body["delivery"].get("statusCode").is_none(), "{body}");
    let error = body["delivery"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("loopback"), "{error}");

    // A public-looking name that resolves to a private address.
    let private = seed_webhook_at(&store, merchant.id, "https://hooks.merchant.example/ferry", &["*"]).await;
    let table = HashMap::from([("hooks.merchant.example".to_string(), vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))])]);
    let sender = WebhookSender::with_lookup(PRODUCTION, HostLookup::Static(Arc::new(table))).expect("sender");
    let function = TestWebhook::new(Context::new(store.clone()), sender);
    let response = post(&function, &merchant.api_key, &private.id.to_string(), None).await;
    let body = response_json(&response);
    assert_eq!(body["delivery"]["succeeded"], false, "{body}");
    let error = body["delivery"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("hooks.merchant.example") && error.contains("private"), "{error}");

    assert!(receiver.received().is_empty(), "nothing reached the receiver");
}

on_each_store!(refuses_addresses_webhooks_may_not_reach);

/// Another merchant's endpoint, an unknown id and a malformed one are all
/// 404, and nothing is sent.
async fn hides_what_is_not_the_merchants<S: Store>(store: S) {
    let receiver = WebhookReceiver::accepting().await;
    let owner = seed_merchant(&store).await;
    let other = seed_merchant(&store).await;
    let endpoint = seed_webhook_at(&store, owner.id, &receiver.url(), &["*"]).await;
    let function = function(&store, DEVELOPMENT);
    let id = endpoint.id.to_string();
    for (key, webhook) in [
        (&other.api_key, id.as_str()),
        (&owner.api_key, "wh_00000000000000000000000000000000"),
        (&owner.api_key, "nope"),
    ] {
        let response = post(&function, key, webhook, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{webhook}");
        assert_eq!(response_json(&response)["error"]["code"], "webhook_not_found", "{webhook}");
    }
    assert!(receiver.received().is_empty());
}

on_each_store!(hides_what_is_not_the_merchants);

/// A missing, unknown or mistyped `eventType` and unknown fields are 400
/// `invalid_parameter` naming the field; a body that is not a JSON object
/// is `invalid_json`. Nothing is sent.
async fn names_the_bad_field<S: Store>(store: S) {
    let receiver = WebhookReceiver::accepting().await;
    let merchant = seed_merchant(&store).await;
    let endpoint = seed_webhook_at(&store, merchant.id, &receiver.url(), &["*"]).await;
    let function = function(&store, DEVELOPMENT);
    let id = endpoint.id.to_string();
    for (body, param) in [
        (json!({}), "eventType"),
        (json!({"eventType": "session.paid"}), "eventType"),
        (json!({"eventType": "*"}), "eventType"),
        (json!({"eventType": 1}), "eventType"),
        (json!({"eventType": "session.succeeded", "isTestEvent": false}), "isTestEvent"),
    ] {
        let response = post(&function, &merchant.api_key, &id, Some(body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error = response_json(&response);
        assert_eq!(error["error"]["code"], "invalid_parameter", "{body}: {error}");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
    let unknown = post(&function, &merchant.api_key, &id, Some(json!({"eventType": "session.paid"}))).await;
    let message = response_json(&unknown)["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("session.expired"), "the message lists what is accepted: {message}");
    for body in [json!([]), json!("session.succeeded")] {
        let response = post(&function, &merchant.api_key, &id, Some(body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response_json(&response)["error"]["code"], "invalid_json", "{body}");
    }
    assert!(receiver.received().is_empty());
}

on_each_store!(names_the_bad_field);

/// Without an API key: 401 `missing_api_key`.
async fn needs_an_api_key<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let webhook = seed_webhook(&store, merchant.id).await;
    let function = function(&store, DEVELOPMENT);
    let id = webhook.id.to_string();
    let mut event = request("test-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);
    event.headers_mut().remove("authorization");
    let response = ferry_http::respond(event, |request| function.handle(request)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response_json(&response)["error"]["code"], "missing_api_key");
}

on_each_store!(needs_an_api_key);

/// The real `test-webhook` binary, on a deployment that allows loopback
/// endpoints, reads the endpoint from DynamoDB and delivers the test event
/// to a receiver on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let receiver = WebhookReceiver::accepting().await;
    let mut function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_test-webhook")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let webhook = bounded(seed_webhook_at(&store, merchant.id, &receiver.url(), &["session.expired"])).await;
    let id = webhook.id.to_string();
    let event = fixture("test-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);
    function.set("FERRY_ALLOW_INSECURE_WEBHOOKS", "true");

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    let body = gateway_body(&response);
    assert_is_a_test_event(&body["event"], "session.succeeded", "succeeded");
    assert_eq!(body["delivery"]["succeeded"], true, "{body}");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_is_the_signed_event(&received[0], &webhook, &body["event"]);
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_test-webhook"),
    ferry_testing::fixture("test-webhook", &[]),
    "FERRY_TABLE_NAME"
);
