//! `POST /v1/sessions/{sessionId}/paymentMethods` as API Gateway delivers
//! it: the handler on a real HTTP API (payload 2.0) event over the in-memory
//! and the SQLite store, and the real binary through its Lambda entry point
//! against DynamoDB (moto).

use create_payment_method::CreatePaymentMethod;
use ferry_chains::evm::ReceiverDerivation;
use ferry_config::Config;
use ferry_domain::{PaymentMethod, Session, SessionStatus};
use ferry_http::Context;
use ferry_store::{SessionStore, Store};
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_merchant,
    seed_session, session_function_env,
};
use http::StatusCode;
use serde_json::Value;

/// `requestContext.requestId` of the `create-payment-method` fixture.
const REQUEST_ID: &str = "Q3kZjiVzoAMEbcA=";

/// The receiver derivation the Lambda tests configure, read the way the
/// binary reads it.
fn derivation() -> ReceiverDerivation {
    let env = session_function_env("http://127.0.0.1:1", "unused");
    let lookup = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone());
    Config::from_lookup(lookup).expect("the test configuration").receivers
}

/// The session's id and client secret, for the fixture's placeholders.
fn credentials(session: &Session) -> (String, String) {
    (session.id.to_string(), session.client_secret.reveal())
}

/// The session now waits for its payment at its CREATE2 receiver.
fn assert_waits_at_its_receiver(view: &Value, session: &Session) {
    assert_eq!(view["sessionId"], session.id.to_string(), "{view}");
    assert_eq!(view["status"], "waiting_payment", "{view}");
    assert_eq!(view["paymentMethod"]["type"], "evm", "{view}");
    assert_eq!(view["paymentMethod"]["receiverAddress"], derivation().receiver(&session.id).to_string(), "{view}");
    assert!(view["paymentMethod"]["createdAt"].as_u64().is_some_and(|at| at >= session.created_at.unix_seconds()));
    let fields = view.as_object().expect("an object");
    assert!(!fields.contains_key("clientSecret"), "the payer's view leaks the secret: {view}");
}

/// With the client secret and `{"type": "evm"}`: 200, `waiting_payment`,
/// the receiver stored and indexed; asking again gives the same address.
async fn assigns_the_receiver<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = CreatePaymentMethod::new(Context::new(store.clone()), derivation());
    let (id, secret) = credentials(&session);
    let values = [("SESSION_ID", id.as_str()), ("CLIENT_SECRET", secret.as_str())];

    let response = ferry_http::respond(request("create-payment-method", &values), |r| function.handle(r)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let first = response_json(&response);
    assert_waits_at_its_receiver(&first["session"], &session);

    let receiver = derivation().receiver(&session.id);
    let stored = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(stored.status(), SessionStatus::WaitingPayment);
    assert!(
        matches!(stored.payment_method, Some(PaymentMethod::Evm { receiver_address, .. }) if receiver_address == receiver)
    );
    assert_eq!(store.find_session_by_receiver(&receiver).await.expect("find"), Some(session.id));

    let again = ferry_http::respond(request("create-payment-method", &values), |r| function.handle(r)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(response_json(&again), first, "asking again must change nothing");
    let unchanged = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(unchanged.version(), stored.version());
}

on_each_store!(assigns_the_receiver);

/// Another session's client secret is 401 and changes nothing.
async fn refuses_a_wrong_client_secret<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let session = seed_session(&store, merchant.id).await;
    let function = CreatePaymentMethod::new(Context::new(store.clone()), derivation());
    let id = session.id.to_string();
    let wrong = "00000000000000000000000000000000";
    let event = request("create-payment-method", &[("SESSION_ID", &id), ("CLIENT_SECRET", wrong)]);
    let response = ferry_http::respond(event, |r| function.handle(r)).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response_json(&response)["error"]["code"], "invalid_client_secret");
    let stored = store.get_session(&session.id).await.expect("get").expect("stored");
    assert_eq!(stored, session);
}

on_each_store!(refuses_a_wrong_client_secret);

/// The real `create-payment-method` binary, started as Lambda starts it,
/// answers the fixture event from the fake Runtime API with the receiver
/// its configuration derives, and records it in DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_create-payment-method")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let session = bounded(seed_session(&store, merchant.id)).await;
    let (id, secret) = credentials(&session);
    let event = fixture("create-payment-method", &[("SESSION_ID", &id), ("CLIENT_SECRET", &secret)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    assert_waits_at_its_receiver(&gateway_body(&response)["session"], &session);
    let receiver = derivation().receiver(&session.id);
    let indexed = bounded(store.find_session_by_receiver(&receiver)).await.expect("find");
    assert_eq!(indexed, Some(session.id));
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_create-payment-method"),
    ferry_testing::fixture("create-payment-method", &[]),
    "FERRY_TABLE_NAME"
);
