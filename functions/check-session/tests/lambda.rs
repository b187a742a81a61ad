//! `PUT /v1/sessions/{sessionId}/check` as API Gateway delivers it: the
//! handler on a real HTTP API (payload 2.0) event over the in-memory and the
//! SQLite store, and the real binary through its Lambda entry point against
//! DynamoDB (moto).

use check_session::CheckSession;
use ferry_domain::{Session, SessionStatus, TxHash};
use ferry_store::{SessionStore, Store};
use ferry_testing::{
    bounded, fixture, fresh_table, gateway_body, header, invoke_lambda, moto_endpoint, on_each_store, request,
    response_json, seed_merchant, seed_session, session_function_env,
};
use http::StatusCode;
use serde_json::Value;

/// `requestContext.requestId` of the `check-session` fixture.
const REQUEST_ID: &str = "Q3kZlj1ZoAMEbdQ=";
/// The `txHash` in the fixture's body.
const TX_HASH: &str = "0x8d1c3e5a7b9f0d2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a0b2d4f6e8a0c2e4b6d8f";

fn tx_hash() -> TxHash {
    TX_HASH.parse().expect("the fixture's tx hash")
}

/// The payer's view of the still-unpaid session.
fn assert_is_the_public_view_of(view: &Value, session: &Session) {
    assert_eq!(view["sessionId"], session.id.to_string(), "{view}");
    assert_eq!(view["status"], "requires_payment_method", "{view}");
    assert_eq!(view["destination"]["chainId"], 8453, "{view}");
    assert_eq!(view["paymentMethod"], Value::Null, "{view}");
    let fields = view.as_object().expect("an object");
    assert!(!fields.contains_key("clientSecret"), "the payer's view leaks the secret: {view}");
}

/// With the client secret and a `txHash`: 200 with the public view, and the
/// hash is recorded once (checking again with it writes nothing).
async fn records_the_tx_hash_hint<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = CheckSession::new(store.clone());
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let values = [("SESSION_ID", id.as_str()), ("CLIENT_SECRET", secret.as_str())];

    let response = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    assert_is_the_public_view_of(&response_json(&response)["session"], &session);

    let stored = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(stored.tx_hash_hint, Some(tx_hash()));
    assert_eq!(stored.status, SessionStatus::RequiresPaymentMethod);
    assert_eq!(stored.version, session.version + 1);

    let again = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    assert_eq!(again.status(), StatusCode::OK);
    let unchanged = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(unchanged.version, stored.version);
}

on_each_store!(records_the_tx_hash_hint);

/// A check for a session that does not exist is 404 in the envelope.
async fn answers_404_for_an_unknown_session<S: Store>(store: S) {
    let function = CheckSession::new(store);
    let values =
        [("SESSION_ID", "0123456789abcdef0123456789abcdef"), ("CLIENT_SECRET", "fedcba9876543210fedcba9876543210")];
    let response = ferry_http::respond(request("check-session", &values), |r| function.handle(r)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response_json(&response);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "session_not_found", "{body}");
}

on_each_store!(answers_404_for_an_unknown_session);

/// The real `check-session` binary, started as Lambda starts it, answers
/// the fixture event from the fake Runtime API and records the hint in
/// DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-check-session")).await;
    let merchant = bounded(seed_merchant(&store)).await;
    let session = bounded(seed_session(&store, merchant.id)).await;
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let event = fixture("check-session", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret)]);

    let response =
        invoke_lambda(env!("CARGO_BIN_EXE_check-session"), session_function_env(&endpoint, store.table()), event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_is_the_public_view_of(&gateway_body(&response)["session"], &session);
    let stored = bounded(store.get_session(&session.id)).await.expect("get").expect("stored");
    assert_eq!(stored.tx_hash_hint, Some(tx_hash()));
}
