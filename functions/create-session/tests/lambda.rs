//! `POST /v1/sessions` as API Gateway delivers it: the handler on a real
//! HTTP API (payload 2.0) event over the in-memory and the SQLite store, and
//! the real binary through its Lambda entry point against DynamoDB (moto),
//! configured as `sam local` configures it. The event
//! (`events/apigw/create-session.json`) asks for a session on the local
//! registry's chain 31337, which `events/env.json` configures.

use std::sync::Arc;

use create_session::CreateSession;
use ferry_domain::{ChainRegistry, ClientSecret, Session, SessionId, SessionStatus, Timestamp};
use ferry_http::Context;
use ferry_runtime::{Ambient, Clock, Ids};
use ferry_store::memory::MemoryStore;
use ferry_store::sqlite::SqliteStore;
use ferry_store::{SessionStore, Store};
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, invoke_lambda, is_hex32, on_each_store, request,
    response_json, sam_local_env, seed_merchant,
};
use http::StatusCode;
use serde_json::{Value, json};

/// `requestContext.requestId` of the `create-session` fixture.
const REQUEST_ID: &str = "Q3kZbjJ0oAMEbXw=";

fn function<S: Store>(store: S) -> CreateSession<S> {
    with_context(Context::new(store))
}

fn with_context<S: Store>(cx: Context<S>) -> CreateSession<S> {
    CreateSession::new(cx, Arc::new(ChainRegistry::local().expect("local registry")))
}

fn sqlite() -> SqliteStore {
    SqliteStore::in_memory().expect("in-memory SQLite store")
}

/// The session the fixture's body asks for, as the merchant sees it.
fn assert_is_the_requested_session(session: &Value) {
    assert_eq!(session["status"], "requires_payment_method", "{session}");
    let id = session["sessionId"].as_str().unwrap_or_default();
    assert!(is_hex32(id), "sessionId {id:?}");
    let secret = session["clientSecret"].as_str().unwrap_or_default();
    assert!(is_hex32(secret), "clientSecret {secret:?}");
    assert_eq!(
        session["destination"],
        json!({
            "type": "evm",
            "address": "0x1111111111111111111111111111111111111111",
            "chainId": 31337,
            "chainName": "Anvil A",
            "tokenAddress": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
            "tokenSymbol": "USDC",
            "amountUnits": "10.00",
        })
    );
    assert_eq!(session["display"], json!({"title": "Order #1042", "verb": "Pay"}));
    assert_eq!(session["metadata"], json!({"orderId": "1042"}));
    assert_eq!(session["paymentMethod"], Value::Null);
    let created = session["createdAt"].as_u64().expect("createdAt");
    assert_eq!(session["expiresAt"].as_u64(), Some(created + 3600));
}

fn session_id(session: &Value) -> SessionId {
    session["sessionId"].as_str().and_then(|id| id.parse().ok()).expect("a session id")
}

/// A fixture event with a valid key creates the session, answers 201 with
/// the full view, and stores it for the key's merchant.
async fn creates_the_session<S: Store>(store: S, fixture_name: &str) {
    let merchant = seed_merchant(&store).await;
    let function = function(store.clone());
    let event = request(fixture_name, &[("API_KEY", &merchant.api_key)]);
    let response = ferry_http::respond(event, |request| function.handle(request)).await;

    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.body());
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert!(header(&response, "request-id").is_some_and(|id| !id.is_empty()));
    let body = response_json(&response);
    assert_is_the_requested_session(&body["session"]);

    let stored = store.get_session(&session_id(&body["session"])).await.expect("get").expect("stored");
    assert_eq!(stored.merchant_id, merchant.id);
    assert_eq!(stored.status(), SessionStatus::RequiresPaymentMethod);
    assert_eq!(body["session"]["clientSecret"], stored.client_secret.reveal());
}

#[tokio::test]
async fn creates_a_session_from_an_api_gateway_event_in_memory() {
    bounded(creates_the_session(MemoryStore::new(), "create-session")).await;
}

#[tokio::test]
async fn creates_a_session_from_an_api_gateway_event_in_sqlite() {
    bounded(creates_the_session(sqlite(), "create-session")).await;
}

#[tokio::test]
async fn decodes_a_base64_encoded_body_in_memory() {
    bounded(creates_the_session(MemoryStore::new(), "create-session-base64")).await;
}

#[tokio::test]
async fn decodes_a_base64_encoded_body_in_sqlite() {
    bounded(creates_the_session(sqlite(), "create-session-base64")).await;
}

/// The handler reads the time and its ids from what it is given: at a fixed
/// time, with sequenced ids, the session is exactly predictable.
#[tokio::test]
async fn the_time_and_the_ids_are_the_handlers_to_be_given() {
    bounded(async {
        let store = MemoryStore::new();
        let key = seed_merchant(&store).await.api_key;
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let ids = Ids::sequence(42);
        let expected = Ids::sequence(42);
        let function = with_context(Context::new(store).with_ambient(Ambient { clock: Clock::fixed(at), ids }));
        let response =
            ferry_http::respond(request("create-session", &[("API_KEY", &key)]), |r| function.handle(r)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let session = &response_json(&response)["session"];
        assert_eq!(session["createdAt"], 1_800_000_000, "{session}");
        assert_eq!(session["expiresAt"], 1_800_000_000 + Session::DEFAULT_LIFETIME_SECONDS, "{session}");
        // The same sequence, replayed: the session id, then the client secret.
        assert_eq!(session["sessionId"], SessionId::from_bytes(expected.next()).to_string());
        assert_eq!(session["clientSecret"], ClientSecret::from_bytes(expected.next()).reveal());
    })
    .await;
}

/// The API Gateway request id becomes the response's `request-id`.
#[tokio::test]
async fn answers_with_the_api_gateway_request_id() {
    bounded(async {
        let store = MemoryStore::new();
        let key = seed_merchant(&store).await.api_key;
        let function = function(store);
        let response =
            ferry_http::respond(request("create-session", &[("API_KEY", &key)]), |r| function.handle(r)).await;
        assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    })
    .await;
}

/// A well-formed key nobody issued is 401 `invalid_api_key`, in the envelope.
async fn refuses_an_unknown_api_key<S: Store>(store: S) {
    seed_merchant(&store).await;
    let function = function(store);
    let unknown = "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10";
    let response =
        ferry_http::respond(request("create-session", &[("API_KEY", unknown)]), |r| function.handle(r)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let body = response_json(&response);
    assert_eq!(body["error"]["type"], "authentication_error", "{body}");
    assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
}

on_each_store!(refuses_an_unknown_api_key);

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_create-session"),
    fixture("create-session", &[("API_KEY", "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10")]),
    "FERRY_TABLE_NAME"
);

/// The real `create-session` binary, started as Lambda starts it, answers
/// the fixture event from the fake Runtime API and writes to DynamoDB. Its
/// variables are those `sam local --env-vars events/env.json` sets, only
/// the table and moto_server being this test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_create-session")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let event = fixture("create-session", &[("API_KEY", &merchant.api_key)]);
    let env = sam_local_env(
        "CreateSessionFunction",
        &[("AWS_ENDPOINT_URL", &function.endpoint), ("FERRY_TABLE_NAME", store.table())],
    );

    let response = invoke_lambda(env!("CARGO_BIN_EXE_create-session"), env, event).await;

    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json", "{response}");
    let body = gateway_body(&response);
    assert_is_the_requested_session(&body["session"]);
    let stored = bounded(store.get_session(&session_id(&body["session"]))).await.expect("get").expect("stored");
    assert_eq!(stored.merchant_id, merchant.id);
}
