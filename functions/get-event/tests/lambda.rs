//! `GET /v1/events/{eventId}` as API Gateway delivers it: the handler over
//! the in-memory and the SQLite store, and the real binary through its
//! Lambda entry point against DynamoDB (moto).

use ferry_domain::{
    AttemptOutcome, DeliveryAttempt, MerchantId, RetryPolicy, SessionEvent, Timestamp, WebhookDelivery, WebhookEndpoint,
};
use ferry_http::Context;
use ferry_http::wire::EventPayload;
use ferry_store::{DeliveryStore, Store};
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_event,
    seed_merchant, seed_webhook_at,
};
use http::StatusCode;
use serde_json::{Value, json};

/// `requestContext.requestId` of the `get-event` fixture.
const REQUEST_ID: &str = "Q3kZwBh6oAMEbZf=";
const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

async fn get<S: Store>(store: &S, key: &str, event_id: &str) -> lambda_http::Response<lambda_http::Body> {
    let cx = Context::new(store.clone());
    let event = request("get-event", &[("API_KEY", key), ("EVENT_ID", event_id)]);
    ferry_http::respond(event, |request| get_event::handle(&cx, request)).await
}

fn payload(event: &SessionEvent) -> Value {
    serde_json::to_value(EventPayload::from(event)).expect("json")
}

fn attempt(at: Timestamp, outcome: AttemptOutcome, latency_ms: u64) -> DeliveryAttempt {
    DeliveryAttempt { at, outcome, latency_ms }
}

/// Claims the delivery and logs `attempt`, as the webhook worker does.
async fn attempted<S: DeliveryStore>(
    store: &S,
    delivery: WebhookDelivery,
    attempt: DeliveryAttempt,
) -> WebhookDelivery {
    let claimed = delivery.claim(attempt.at, 60).expect("due");
    store.update_delivery(&claimed).await.expect("claim");
    let recorded = claimed.record(attempt, &RetryPolicy::STANDARD, 20);
    store.update_delivery(&recorded).await.expect("record");
    recorded
}

/// An event fanned out to two endpoints: the first failed once with a
/// 500 and then succeeded, the second did not answer and waits for its
/// next attempt.
async fn seed_logged_event<S: Store>(
    store: &S,
    merchant_id: MerchantId,
) -> (SessionEvent, [(WebhookEndpoint, WebhookDelivery); 2]) {
    let (_session, event) = seed_event(store, merchant_id).await;
    let first = seed_webhook_at(store, merchant_id, "https://a.example/hooks", &["*"]).await;
    let second = seed_webhook_at(store, merchant_id, "https://b.example/hooks", &["session.processing"]).await;
    let deliveries = [&first, &second].map(|endpoint| WebhookDelivery::new(event.id, endpoint.id, merchant_id, T0));
    store.fan_out(&event.id, &deliveries).await.expect("fan out");
    let [to_first, to_second] = deliveries;

    let failed = attempted(store, to_first, attempt(T0, AttemptOutcome::Responded { status: 500 }, 120)).await;
    let retry_at = failed.wake_at().expect("a retry is due");
    let succeeded = attempted(store, failed, attempt(retry_at, AttemptOutcome::Responded { status: 200 }, 35)).await;
    let timed_out = AttemptOutcome::Failed { error: "no answer within 10 s".into() };
    let pending = attempted(store, to_second, attempt(T0, timed_out, 10_000)).await;
    (event, [(first, succeeded), (second, pending)])
}

fn assert_shows_the_log(deliveries: &Value, logged: &[(WebhookEndpoint, WebhookDelivery); 2]) {
    let [(first, succeeded), (second, pending)] = logged;
    let by_id =
        |id: String| deliveries.as_array().and_then(|all| all.iter().find(|d| d["webhookId"] == id.as_str())).cloned();
    assert_eq!(deliveries.as_array().map(Vec::len), Some(2), "{deliveries}");
    let retry_at = succeeded.attempts[1].at.unix_seconds();
    assert_eq!(
        by_id(first.id.to_string()),
        Some(json!({
            "webhookId": first.id.to_string(),
            "status": "succeeded",
            "attempts": [
                {"at": T0.unix_seconds(), "statusCode": 500, "latencyMs": 120},
                {"at": retry_at, "statusCode": 200, "latencyMs": 35},
            ],
        }))
    );
    let next_attempt_at = pending.wake_at().map(Timestamp::unix_seconds).expect("pending");
    assert_eq!(
        by_id(second.id.to_string()),
        Some(json!({
            "webhookId": second.id.to_string(),
            "status": "pending",
            "nextAttemptAt": next_attempt_at,
            "attempts": [{"at": T0.unix_seconds(), "error": "no answer within 10 s", "latencyMs": 10_000}],
        }))
    );
}

/// The owner gets the event as its deliveries carry it, and each delivery
/// with its status and every attempt.
async fn shows_the_event_with_its_delivery_log<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let (event, logged) = seed_logged_event(&store, merchant.id).await;
    let response = get(&store, &merchant.api_key, &event.id.to_string()).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let body = response_json(&response);
    assert_eq!(body["event"], payload(&event));
    assert_eq!(body["event"]["type"], "session.processing");
    assert!(body["event"].get("isTestEvent").is_none(), "{body}");
    assert_shows_the_log(&body["deliveries"], &logged);
}

on_each_store!(shows_the_event_with_its_delivery_log);

/// An event not fanned out yet has no deliveries.
async fn an_event_not_fanned_out_has_no_deliveries_yet<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let (_session, event) = seed_event(&store, merchant.id).await;
    let response = get(&store, &merchant.api_key, &event.id.to_string()).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(response_json(&response), json!({"event": payload(&event), "deliveries": []}));
}

on_each_store!(an_event_not_fanned_out_has_no_deliveries_yet);

/// Another merchant's event, an unknown id and malformed ones are all 404
/// `event_not_found`.
async fn hides_what_is_not_the_merchants<S: Store>(store: S) {
    let owner = seed_merchant(&store).await;
    let other = seed_merchant(&store).await;
    let (event, _logged) = seed_logged_event(&store, owner.id).await;
    let id = event.id.to_string();
    for (key, event_id) in [
        (&other.api_key, id.as_str()),
        (&owner.api_key, "6f1c2a9e-3b7d-4c58-9e0a-1d2f3a4b5c6d"),
        (&owner.api_key, "nope"),
        (&owner.api_key, "wh_0123456789abcdef0123456789abcdef"),
    ] {
        let response = get(&store, key, event_id).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{event_id}");
        let body = response_json(&response);
        assert_eq!(body["error"]["code"], "event_not_found", "{event_id}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{event_id}: {body}");
    }
}

on_each_store!(hides_what_is_not_the_merchants);

/// Without an API key: 401 `missing_api_key`.
async fn needs_an_api_key<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let (_session, event) = seed_event(&store, merchant.id).await;
    let cx = Context::new(store.clone());
    let id = event.id.to_string();
    let mut request = request("get-event", &[("API_KEY", &merchant.api_key), ("EVENT_ID", &id)]);
    request.headers_mut().remove("authorization");
    let response = ferry_http::respond(request, |request| get_event::handle(&cx, request)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response_json(&response)["error"]["code"], "missing_api_key");
}

on_each_store!(needs_an_api_key);

/// The real `get-event` binary answers the fixture event from DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_get-event")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let (event, logged) = bounded(seed_logged_event(&store, merchant.id)).await;
    let id = event.id.to_string();
    let request = fixture("get-event", &[("API_KEY", &merchant.api_key), ("EVENT_ID", &id)]);

    let response = function.invoke(request).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    let body = gateway_body(&response);
    assert_eq!(body["event"], payload(&event));
    assert_shows_the_log(&body["deliveries"], &logged);
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_get-event"),
    ferry_testing::fixture("get-event", &[]),
    "FERRY_TABLE_NAME"
);
