//! `GET /v1/webhooks` as API Gateway delivers it: the handler over the
//! in-memory and the SQLite store, and the real binary through its Lambda
//! entry point against DynamoDB (moto).

use ferry_domain::WebhookEndpoint;
use ferry_http::Context;
use ferry_store::Store;
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_merchant,
    seed_webhook,
};
use http::StatusCode;
use serde_json::{Value, json};

/// `requestContext.requestId` of the `list-webhooks` fixture.
const REQUEST_ID: &str = "Q3kZwBh2oAMEbZb=";

/// The listed view of `endpoint`: everything but the secret.
fn assert_lists(view: &Value, endpoint: &WebhookEndpoint) {
    assert_eq!(
        *view,
        json!({
            "id": endpoint.id.to_string(),
            "url": "https://merchant.example/hooks/ferry",
            "events": ["session.succeeded", "session.bounced"],
            "description": "Orders",
            "createdAt": endpoint.created_at.unix_seconds(),
        })
    );
}

/// The merchant's endpoints, and only its own, without secrets.
async fn lists_the_merchants_endpoints<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let other = seed_merchant(&store).await;
    let first = seed_webhook(&store, merchant.id).await;
    let second = seed_webhook(&store, merchant.id).await;
    seed_webhook(&store, other.id).await;
    let cx = Context::new(store);
    let event = request("list-webhooks", &[("API_KEY", &merchant.api_key)]);
    let response = ferry_http::respond(event, |request| list_webhooks::handle(&cx, request)).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let body = response_json(&response);
    let listed = body["webhooks"].as_array().expect("an array");
    assert_eq!(listed.len(), 2, "{body}");
    let mut expected = [first, second];
    expected.sort_by_key(|e| (e.created_at, e.id));
    for (view, endpoint) in listed.iter().zip(&expected) {
        assert_lists(view, endpoint);
    }
}

on_each_store!(lists_the_merchants_endpoints);

/// No endpoints: an empty list.
async fn lists_nothing_for_a_new_merchant<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let cx = Context::new(store);
    let event = request("list-webhooks", &[("API_KEY", &merchant.api_key)]);
    let response = ferry_http::respond(event, |request| list_webhooks::handle(&cx, request)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response_json(&response), json!({"webhooks": []}));
}

on_each_store!(lists_nothing_for_a_new_merchant);

/// The real `list-webhooks` binary answers the fixture event from DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_list-webhooks")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let webhook = bounded(seed_webhook(&store, merchant.id)).await;
    let event = fixture("list-webhooks", &[("API_KEY", &merchant.api_key)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    let body = gateway_body(&response);
    assert_eq!(body["webhooks"].as_array().map(Vec::len), Some(1), "{body}");
    assert_lists(&body["webhooks"][0], &webhook);
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_list-webhooks"),
    ferry_testing::fixture("list-webhooks", &[]),
    "FERRY_TABLE_NAME"
);
