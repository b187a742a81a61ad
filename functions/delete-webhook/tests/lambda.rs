//! `DELETE /v1/webhooks/{webhookId}` as API Gateway delivers it: the
//! handler over the in-memory and the SQLite store, and the real binary
//! through its Lambda entry point against DynamoDB (moto).

use ferry_http::Context;
use ferry_store::{Store, WebhookStore};
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_merchant,
    seed_webhook,
};
use http::StatusCode;
use serde_json::json;

/// `requestContext.requestId` of the `delete-webhook` fixture.
const REQUEST_ID: &str = "Q3kZwBh4oAMEbZd=";

/// The owner deletes its endpoint; deleting it again is 404.
async fn deletes_the_endpoint<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let webhook = seed_webhook(&store, merchant.id).await;
    let kept = seed_webhook(&store, merchant.id).await;
    let cx = Context::new(store.clone());
    let id = webhook.id.to_string();
    let event = || request("delete-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);

    let response = ferry_http::respond(event(), |request| delete_webhook::handle(&cx, request)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    assert_eq!(response_json(&response), json!({"id": id, "deleted": true}));
    assert_eq!(store.get_webhook(&merchant.id, &webhook.id).await.expect("get"), None);
    assert_eq!(store.list_webhooks(&merchant.id).await.expect("list"), vec![kept]);

    let again = ferry_http::respond(event(), |request| delete_webhook::handle(&cx, request)).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(response_json(&again)["error"]["code"], "webhook_not_found");
}

on_each_store!(deletes_the_endpoint);

/// Another merchant cannot delete it: 404, and it is still there.
async fn another_merchant_cannot_delete_it<S: Store>(store: S) {
    let owner = seed_merchant(&store).await;
    let other = seed_merchant(&store).await;
    let webhook = seed_webhook(&store, owner.id).await;
    let cx = Context::new(store.clone());
    let id = webhook.id.to_string();
    let event = request("delete-webhook", &[("API_KEY", &other.api_key), ("WEBHOOK_ID", &id)]);
    let response = ferry_http::respond(event, |request| delete_webhook::handle(&cx, request)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response_json(&response)["error"]["code"], "webhook_not_found");
    assert!(store.get_webhook(&owner.id, &webhook.id).await.expect("get").is_some());
}

on_each_store!(another_merchant_cannot_delete_it);

/// The real `delete-webhook` binary deletes from DynamoDB, and frees the
/// place under the limit (the counter item goes down with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_delete-webhook")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let webhook = bounded(seed_webhook(&store, merchant.id)).await;
    let id = webhook.id.to_string();
    let event = fixture("delete-webhook", &[("API_KEY", &merchant.api_key), ("WEBHOOK_ID", &id)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_eq!(gateway_body(&response), json!({"id": id, "deleted": true}));
    assert_eq!(bounded(store.get_webhook(&merchant.id, &webhook.id)).await.expect("get"), None);
    let limit = ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT;
    for _ in 0..limit {
        bounded(seed_webhook(&store, merchant.id)).await;
    }
    assert_eq!(bounded(store.list_webhooks(&merchant.id)).await.expect("list").len(), limit);
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_delete-webhook"),
    ferry_testing::fixture("delete-webhook", &[]),
    "FERRY_TABLE_NAME"
);
