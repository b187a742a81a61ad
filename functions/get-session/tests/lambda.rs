//! `GET /v1/sessions/{sessionId}` as API Gateway delivers it: the handler on
//! real HTTP API (payload 2.0) events over the in-memory and the SQLite
//! store, and the real binary through its Lambda entry point against
//! DynamoDB (moto).

use ferry_domain::Session;
use ferry_http::Context;
use ferry_store::Store;
use ferry_testing::{
    BinaryOnMoto, bounded, cold_start_error, fixture, gateway_body, header, on_each_store, request, response_json,
    seed_merchant, seed_session,
};
use http::StatusCode;
use serde_json::{Value, json};

/// `requestContext.requestId` of the `get-session` fixture.
const REQUEST_ID: &str = "Q3kZfhLfoAMEbZQ=";

/// What every view of the seeded session shows.
fn assert_is_the_public_view_of(view: &Value, session: &Session) {
    assert_eq!(view["sessionId"], session.id.to_string(), "{view}");
    assert_eq!(view["status"], "requires_payment_method", "{view}");
    assert_eq!(view["destination"]["chainId"], 8453, "{view}");
    assert_eq!(view["destination"]["tokenSymbol"], "USDC", "{view}");
    assert_eq!(view["destination"]["amountUnits"], "10.00", "{view}");
    assert_eq!(view["destination"]["address"], session.destination.address.to_string(), "{view}");
    assert_eq!(view["display"]["title"], "Order #1", "{view}");
    assert_eq!(view["paymentMethod"], Value::Null, "{view}");
    assert_eq!(view["createdAt"], session.created_at.unix_seconds(), "{view}");
    assert_eq!(view["expiresAt"], session.expires_at.unix_seconds(), "{view}");
}

fn assert_is_the_full_view_of(view: &Value, session: &Session) {
    assert_is_the_public_view_of(view, session);
    assert_eq!(view["clientSecret"], session.client_secret.reveal(), "{view}");
    assert_eq!(view["metadata"], json!({"order": "1"}), "{view}");
}

/// With the owner's API key: 200 and the full session, secret and metadata included.
async fn shows_the_owner_the_full_session<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let cx = Context::new(store);
    let id = session.id.to_string();
    let event = request("get-session", &[("API_KEY", &merchant.api_key), ("SESSION_ID", &id)]);
    let response = ferry_http::respond(event, |request| get_session::handle(&cx, request)).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    assert_is_the_full_view_of(&response_json(&response)["session"], &session);
}

on_each_store!(shows_the_owner_the_full_session);

/// With the client secret in the query string: 200 and the public view,
/// without the secret or the metadata.
async fn shows_the_payer_the_public_view<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let cx = Context::new(store);
    let (id, secret) = (session.id.to_string(), session.client_secret.reveal());
    let event = request("get-session-public", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret)]);
    let response = ferry_http::respond(event, |request| get_session::handle(&cx, request)).await;

    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    let view = &response_json(&response)["session"];
    assert_is_the_public_view_of(view, &session);
    let fields = view.as_object().expect("an object");
    assert!(!fields.contains_key("clientSecret"), "{view}");
    assert!(!fields.contains_key("metadata"), "{view}");
}

on_each_store!(shows_the_payer_the_public_view);

/// A client secret that is not the session's is 401, not the public view.
async fn refuses_a_wrong_client_secret<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let cx = Context::new(store);
    let id = session.id.to_string();
    let wrong = "00000000000000000000000000000000";
    let event = request("get-session-public", &[("SESSION_ID", &id), ("CLIENT_SECRET", wrong)]);
    let response = ferry_http::respond(event, |request| get_session::handle(&cx, request)).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = response_json(&response);
    assert_eq!(body["error"]["code"], "invalid_client_secret", "{body}");
    assert_eq!(body["error"]["param"], "clientSecret", "{body}");
}

on_each_store!(refuses_a_wrong_client_secret);

/// Another merchant's key is told the session does not exist (404, not 403).
async fn hides_the_session_from_other_merchants<S: Store>(store: S) {
    let owner = seed_merchant(&store).await;
    let other = seed_merchant(&store).await;
    let session = seed_session(&store, owner.id).await;
    let cx = Context::new(store);
    let id = session.id.to_string();
    let event = request("get-session", &[("API_KEY", &other.api_key), ("SESSION_ID", &id)]);
    let response = ferry_http::respond(event, |request| get_session::handle(&cx, request)).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response_json(&response)["error"]["code"], "session_not_found");
}

on_each_store!(hides_the_session_from_other_merchants);

/// The real `get-session` binary, started as Lambda starts it, answers the
/// fixture event from the fake Runtime API with the session it reads from
/// DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_get-session")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let session = bounded(seed_session(&store, merchant.id)).await;
    let id = session.id.to_string();
    let event = fixture("get-session", &[("API_KEY", &merchant.api_key), ("SESSION_ID", &id)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_is_the_full_view_of(&gateway_body(&response)["session"], &session);
}

/// The deployed binary reads the CORS origin list (`FERRY_CORS_ALLOWED_ORIGINS`,
/// the template's `CorsAllowedOrigins`): an API key sent by a browser on a
/// listed origin is served, with the CORS headers; from any other origin it
/// is refused; a malformed list stops the cold start, naming the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforces_the_cors_origin_list_it_is_deployed_with() {
    let mut function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_get-session")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let session = bounded(seed_session(&store, merchant.id)).await;
    let id = session.id.to_string();
    let from = |origin: &str| {
        let mut event: Value =
            serde_json::from_str(&fixture("get-session", &[("API_KEY", &merchant.api_key), ("SESSION_ID", &id)]))
                .expect("fixture");
        event["headers"]["origin"] = json!(origin);
        event.to_string()
    };
    function.set("FERRY_CORS_ALLOWED_ORIGINS", "https://admin.shop.example");

    let listed = function.invoke(from("https://admin.shop.example")).await;
    assert_eq!(listed["statusCode"], 200, "{listed}");
    assert_eq!(listed["headers"]["access-control-allow-origin"], "*", "{listed}");
    assert_is_the_full_view_of(&gateway_body(&listed)["session"], &session);

    let other = function.invoke(from("https://evil.example")).await;
    assert_eq!(other["statusCode"], 403, "{other}");
    assert_eq!(gateway_body(&other)["error"]["code"], "origin_not_allowed", "{other}");

    function.set("FERRY_CORS_ALLOWED_ORIGINS", "https://admin.shop.example/");
    let error =
        cold_start_error(env!("CARGO_BIN_EXE_get-session"), function.env, from("https://admin.shop.example")).await;
    assert!(error.contains("FERRY_CORS_ALLOWED_ORIGINS") && error.contains("admin.shop.example/"), "{error}");
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_get-session"),
    ferry_testing::fixture("get-session", &[]),
    "FERRY_TABLE_NAME"
);
