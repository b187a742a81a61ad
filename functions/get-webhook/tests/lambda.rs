//! `GET /v1/webhooks/{webhookId}` as API Gateway delivers it: the handler
//! over the in-memory and the SQLite store, and the real binary through its
//! Lambda entry point against DynamoDB (moto).

use ferry_domain::WebhookEndpoint;
use ferry_http::Context;
use ferry_store::Store;
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_merchant,
    seed_webhook,
};
use http::StatusCode;
use serde_json::{Value, json};

/// `requestContext.requestId` of the `get-webhook` fixture.
const REQUEST_ID: &str = "Q3kZwBh3oAMEbZc=";

fn assert_shows(view: &Value, endpoint: &WebhookEndpoint) {
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

/// The owner gets the endpoint, without its secret.
async fn shows_the_owner_its_endpoint<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let webhook = seed_webhook(&store, merchant.id).await;
    let cx = Context::new(store);
    let id = webhook.id.to_string();
    let event = request("get-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);
    let response = ferry_http::respond(event, |request| get_webhook::handle(&cx, request)).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    assert_shows(&response_json(&response)["webhook"], &webhook);
}

on_each_store!(shows_the_owner_its_endpoint);

/// Another merchant's endpoint, an unknown id and a malformed one are all 404.
async fn hides_what_is_not_the_merchants<S: Store>(store: S) {
    let owner = seed_merchant(&store).await;
    let other = seed_merchant(&store).await;
    let webhook = seed_webhook(&store, owner.id).await;
    let cx = Context::new(store);
    for id in [webhook.id.to_string(), "wh_00000000000000000000000000000000".into(), "nope".into()] {
        let key = if id == webhook.id.to_string() { &other.api_key } else { &owner.api_key };
        let event = request("get-webhook", &[("API_KEY", key), ("WEBHOOK_ID", &id)]);
        let response = ferry_http::respond(event, |request| get_webhook::handle(&cx, request)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
        assert_eq!(response_json(&response)["error"]["code"], "webhook_not_found", "{id}");
    }
}

on_each_store!(hides_what_is_not_the_merchants);

/// Without an API key: 401 `missing_api_key`.
async fn needs_an_api_key<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let webhook = seed_webhook(&store, merchant.id).await;
    let cx = Context::new(store);
    let id = webhook.id.to_string();
    let mut event = request("get-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);
    event.headers_mut().remove("authorization");
    let response = ferry_http::respond(event, |request| get_webhook::handle(&cx, request)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response_json(&response)["error"]["code"], "missing_api_key");
}

on_each_store!(needs_an_api_key);

/// The real `get-webhook` binary answers the fixture event from DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_get-webhook")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let webhook = bounded(seed_webhook(&store, merchant.id)).await;
    let id = webhook.id.to_string();
    let event = fixture("get-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_shows(&gateway_body(&response)["webhook"], &webhook);
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_get-webhook"),
    ferry_testing::fixture("get-webhook", &[]),
    "FERRY_TABLE_NAME"
);
