//! Test support for Ferry's Lambda functions. A dev-dependency only.
//!
//! - [`fixture`] and [`request`]: API Gateway HTTP API (payload format 2.0)
//!   events from `fixtures/apigw/`, with their `{{PLACEHOLDER}}`s filled in;
//! - [`seed_merchant`], [`seed_api_key`], [`seed_session`]: data put into a
//!   store through its ports, as the operator commands and `create-session`
//!   would;
//! - [`FakeRuntimeApi`]: the Lambda Runtime API on loopback, to run a
//!   function's real binary on one event;
//! - [`moto_endpoint`], [`fresh_table`], [`session_function_env`]: the
//!   DynamoDB (moto_server) the binaries run against;
//! - [`WebhookReceiver`]: a webhook endpoint on loopback with scripted answers.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_domain::{ApiKey, Merchant, MerchantId, Session, SessionEvent};
use ferry_store::dynamodb::DynamoStore;
use ferry_store::{ApiKeyRecord, MerchantStore, SessionChange, SessionStore};
use lambda_http::{Body, Response};

mod anvil;
mod receiver;
mod runtime;
mod silent_node;

pub use anvil::Anvil;
pub use receiver::{ReceivedRequest, Reply, WebhookReceiver};
pub use runtime::{Captured, FakeRuntimeApi, Outcome};
pub use silent_node::SilentNode;

/// How long one test may take before it fails.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the API Gateway event fixtures live.
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/apigw");

/// The environment variable naming the tests' DynamoDB endpoint.
pub const DYNAMODB_ENDPOINT_VAR: &str = "FERRY_TEST_DYNAMODB_ENDPOINT";

/// The receiver factory the Lambda tests configure (the first contract a
/// fresh Anvil deploys) and an arbitrary init-code hash.
pub const RECEIVER_FACTORY: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

// ---------------------------------------------------------------- fixtures

/// The fixture `fixtures/apigw/<name>.json` with each `{{NAME}}` placeholder
/// replaced by its value. Substitutions are keyed by the bare name
/// (`"API_KEY"`) or the placeholder itself (`"{{API_KEY}}"`).
///
/// Placeholders sit inside JSON strings (some inside the JSON-encoded
/// `body`), so values are inserted verbatim and must not contain `"` or
/// `\`. Panics when the fixture is missing, a substitution matches nothing,
/// a placeholder is left unfilled, or the result is not JSON.
pub fn fixture(name: &str, substitutions: &[(&str, &str)]) -> String {
    let path = Path::new(FIXTURES_DIR).join(format!("{name}.json"));
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read fixture {}: {error}", path.display()));
    for (key, value) in substitutions {
        let bare = key.trim_start_matches("{{").trim_end_matches("}}");
        let placeholder = format!("{{{{{bare}}}}}");
        assert!(
            !value.contains(['"', '\\']),
            "the value for {placeholder} must not contain quotes or backslashes: {value:?}"
        );
        assert!(text.contains(&placeholder), "fixture {name} has no {placeholder}");
        text = text.replace(&placeholder, value);
    }
    if let Some(placeholder) = first_placeholder(&text) {
        panic!("fixture {name} still has {placeholder}: pass a value for it");
    }
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&text) {
        panic!("fixture {name} is not valid JSON after substitution: {error}");
    }
    text
}

/// The first `{{NAME}}` (upper case, digits, `_`) left in `text`.
fn first_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let candidate = &rest[start..];
        if let Some(end) = candidate[2..].find("}}") {
            let name = &candidate[2..2 + end];
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
                return Some(&candidate[..end + 4]);
            }
        }
        rest = &candidate[2..];
    }
    None
}

/// The fixture as the request `lambda_http` hands a function: parsed with
/// `lambda_http::request::from_str`, exactly as the runtime does.
pub fn request(name: &str, substitutions: &[(&str, &str)]) -> lambda_http::Request {
    let text = fixture(name, substitutions);
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|error| panic!("fixture {name} is not an event lambda_http accepts: {error}"))
}

// --------------------------------------------------------------- responses

/// The body of a handler's response, parsed as JSON.
pub fn response_json(response: &Response<Body>) -> serde_json::Value {
    let bytes: &[u8] = match response.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    serde_json::from_slice(bytes)
        .unwrap_or_else(|error| panic!("the response body is not JSON ({error}): {:?}", String::from_utf8_lossy(bytes)))
}

/// A response header as text.
pub fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

/// Whether `text` is 32 lowercase hex characters, like session ids and
/// client secrets.
pub fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Runs `future`, failing the test if it takes longer than [`TEST_TIMEOUT`].
pub async fn bounded<F: Future>(future: F) -> F::Output {
    match tokio::time::timeout(TEST_TIMEOUT, future).await {
        Ok(output) => output,
        Err(_elapsed) => panic!("the test did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// Runs the function binary at `binary` on `event` through a
/// [`FakeRuntimeApi`] (from async code, on the blocking pool), bounded by
/// [`TEST_TIMEOUT`], and returns the API Gateway response it answered.
/// Panics with the function's output if it did not answer.
pub async fn invoke_lambda(binary: &str, env: Vec<(&'static str, String)>, event: String) -> serde_json::Value {
    let binary = binary.to_string();
    let invocation = tokio::task::spawn_blocking(move || FakeRuntimeApi::invoke(&binary, &env, &event, TEST_TIMEOUT));
    match invocation.await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => panic!("the Lambda invocation failed: {error}"),
        Err(join) => panic!("the Lambda invocation thread failed: {join}"),
    }
}

/// The body of an API Gateway (payload 2.0) response, which must be JSON
/// text (`isBase64Encoded` false).
pub fn gateway_body(response: &serde_json::Value) -> serde_json::Value {
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    let text = response["body"].as_str().unwrap_or_else(|| panic!("the response has no text body: {response}"));
    serde_json::from_str(text).unwrap_or_else(|error| panic!("the response body is not JSON ({error}): {text}"))
}

// ----------------------------------------------------------------- seeding

/// A merchant put into a store, with one API key.
#[derive(Clone, Debug)]
pub struct SeededMerchant {
    pub id: MerchantId,
    /// The key's text, for `Authorization: Bearer <key>`.
    pub api_key: String,
}

/// Creates a merchant and an API key for it, as `ferry merchant create` and
/// `ferry api-key create` do: only the key's hash is stored.
pub async fn seed_merchant<S: MerchantStore>(store: &S) -> SeededMerchant {
    let merchant = Merchant {
        id: MerchantId::from_random_bytes(ferry_http::random_bytes()),
        name: "Test merchant".to_string(),
        created_at: ferry_http::now(),
    };
    store.create_merchant(&merchant).await.expect("seed a merchant");
    let key = ApiKey::from_random_bytes(ferry_http::random_bytes());
    let record = ApiKeyRecord::new(key.hash(), merchant.id, ferry_http::now(), None);
    store.create_api_key(&record).await.expect("seed an API key");
    SeededMerchant { id: merchant.id, api_key: key.reveal() }
}

/// A new merchant's API key text.
pub async fn seed_api_key<S: MerchantStore>(store: &S) -> String {
    seed_merchant(store).await.api_key
}

/// Stores an open session of `merchant_id` — the conformance suite's
/// [`sample_session`](ferry_store::conformance::sample_session) (Base USDC,
/// 10.00, metadata `{"order": "1"}`), created now — and returns it.
pub async fn seed_session<S: SessionStore>(store: &S, merchant_id: MerchantId) -> Session {
    let mut session = ferry_store::conformance::sample_session(merchant_id);
    let now = ferry_http::now();
    session.created_at = now;
    session.expires_at = now.plus_seconds(Session::DEFAULT_LIFETIME_SECONDS);
    store.create_session(&session, None).await.expect("seed a session");
    session
}

/// Stores a webhook endpoint of `merchant_id` — the conformance suite's
/// [`sample_webhook`](ferry_store::conformance::sample_webhook)
/// (`https://merchant.example/hooks/ferry`, succeeded and bounced), created
/// now — and returns it.
pub async fn seed_webhook<S: ferry_store::WebhookStore>(
    store: &S,
    merchant_id: MerchantId,
) -> ferry_domain::WebhookEndpoint {
    let endpoint = ferry_store::conformance::sample_webhook(merchant_id, ferry_http::now());
    store.create_webhook(&endpoint, ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT).await.expect("seed a webhook");
    endpoint
}

/// Stores an endpoint of `merchant_id` at `url` (checked under the
/// development policy, which allows loopback), subscribed to `events`.
pub async fn seed_webhook_at<S: ferry_store::WebhookStore>(
    store: &S,
    merchant_id: MerchantId,
    url: &str,
    events: &[&str],
) -> ferry_domain::WebhookEndpoint {
    let mut endpoint = ferry_store::conformance::sample_webhook(merchant_id, ferry_http::now());
    let policy = ferry_domain::UrlPolicy::DEVELOPMENT;
    endpoint.url = ferry_domain::WebhookUrl::parse(url, policy).expect("a valid endpoint URL");
    endpoint.events = ferry_domain::EventSelection::parse(events).expect("valid events");
    store.create_webhook(&endpoint, ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT).await.expect("seed a webhook");
    endpoint
}

/// A session of `merchant_id` paid into `processing`, committed with its
/// `session.processing` event as `route-deposits` does: the event is in the
/// outbox, waiting to be fanned out. Returns the session and the event.
pub async fn seed_event<S: SessionStore>(store: &S, merchant_id: MerchantId) -> (Session, SessionEvent) {
    let session = seed_session(store, merchant_id).await;
    let deposit = ferry_store::conformance::sample_deposit();
    let now = ferry_http::now();
    let waiting = session.set_evm_payment_method(deposit.receiver, now).expect("legal").expect("changed");
    store.commit(SessionChange::new(&waiting).claiming_receiver(deposit.receiver)).await.expect("set payment method");
    let (processing, kind) = waiting.deposit_seen(&deposit).expect("legal");
    let event = SessionEvent::new(ferry_http::random_bytes(), kind, &processing, now);
    store.commit(SessionChange::new(&processing).emitting(&event)).await.expect("commit with its event");
    (processing, event)
}

// ---------------------------------------------------------------- services

/// The DynamoDB endpoint (moto_server) for tests. Panics when it is not
/// configured: a missing service fails the tests, it never skips them.
pub fn moto_endpoint() -> String {
    match std::env::var(DYNAMODB_ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!(
            "{DYNAMODB_ENDPOINT_VAR} is not set: this test needs DynamoDB (moto_server). \
             Run the tests with `cargo xtask test`, which starts moto_server and sets it \
             (or start one and set {DYNAMODB_ENDPOINT_VAR}=http://127.0.0.1:<port>)."
        ),
    }
}

/// The variable naming the SQS endpoint (a second moto_server) for tests.
pub const SQS_ENDPOINT_VAR: &str = "FERRY_TEST_SQS_ENDPOINT";

/// The SQS endpoint (moto_server) for tests. Panics when it is not
/// configured: a missing service fails the tests, it never skips them.
pub fn sqs_endpoint() -> String {
    match std::env::var(SQS_ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!(
            "{SQS_ENDPOINT_VAR} is not set: this test needs SQS (moto_server). \
             Run the tests with `cargo xtask test`, which starts moto_server and sets it."
        ),
    }
}

/// A table name no other test uses.
pub fn unique_table_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{count}", std::process::id())
}

/// A store over a new, empty table (named after `prefix`) at `endpoint`.
pub async fn fresh_table(endpoint: &str, prefix: &str) -> DynamoStore {
    let store = DynamoStore::local(endpoint, unique_table_name(prefix)).await;
    store.ensure_table().await.expect("create the DynamoDB table");
    store
}

/// The environment a session function's binary needs to run against
/// `table` at the DynamoDB `endpoint`: the deployed variables (see
/// `ferry_config`) plus the AWS SDK's endpoint, region and dummy credentials.
pub fn session_function_env(endpoint: &str, table: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("FERRY_TABLE_NAME", table.to_string()),
        ("FERRY_CHAIN_REGISTRY", "production".to_string()),
        ("FERRY_RECEIVER_FACTORY", RECEIVER_FACTORY.to_string()),
    ]
}

/// A fresh private SQLite store (the embedded adapter, in memory).
pub fn sqlite() -> ferry_store::sqlite::SqliteStore {
    ferry_store::sqlite::SqliteStore::in_memory().expect("in-memory SQLite store")
}

/// An SQS event as the event source mapping builds it from `messages`
/// (received from a real queue, so their receipts can be acked).
pub fn sqs_event(messages: &[ferry_queue::Received]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            serde_json::json!({
                "messageId": format!("00000000-0000-4000-8000-{index:012}"),
                "receiptHandle": message.receipt.as_str(),
                "body": message.body,
                "attributes": { "ApproximateReceiveCount": message.receive_count.to_string() },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ferry-queue",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

#[doc(hidden)]
pub use ferry_store as __ferry_store;

/// Runs each named scenario — an `async fn(store)` generic over the store —
/// as two tests, `<scenario>::in_memory` and `<scenario>::in_sqlite`, each
/// bounded in time.
#[macro_export]
macro_rules! on_each_store {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn in_memory() {
                $crate::bounded(super::$scenario($crate::__ferry_store::memory::MemoryStore::new())).await;
            }

            #[tokio::test]
            async fn in_sqlite() {
                $crate::bounded(super::$scenario($crate::sqlite())).await;
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_only_when_well_formed() {
        assert_eq!(first_placeholder(r#"{"a":"Bearer {{API_KEY}}"}"#), Some("{{API_KEY}}"));
        assert_eq!(first_placeholder(r#"{"a":{"b":1}}"#), None);
        assert_eq!(first_placeholder("{{ not one }} {{X_1}}"), Some("{{X_1}}"));
    }

    #[test]
    fn every_fixture_is_an_event_lambda_http_accepts() {
        let mut names: Vec<String> = std::fs::read_dir(FIXTURES_DIR)
            .expect("fixtures directory")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .collect();
        names.sort();
        assert!(names.len() >= 8, "{names:?}");
        let values = [
            ("API_KEY", "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10"),
            ("SESSION_ID", "0123456789abcdef0123456789abcdef"),
            ("CLIENT_SECRET", "fedcba9876543210fedcba9876543210"),
            ("EVM_ADDRESS", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
            ("WEBHOOK_ID", "wh_0123456789abcdef0123456789abcdef"),
            ("EVENT_ID", "6f1c2a9e-3b7d-4c58-9e0a-1d2f3a4b5c6d"),
        ];
        for name in names {
            let text = std::fs::read_to_string(Path::new(FIXTURES_DIR).join(format!("{name}.json"))).expect("read");
            let used: Vec<(&str, &str)> =
                values.iter().copied().filter(|(key, _)| text.contains(&format!("{{{{{key}}}}}"))).collect();
            let request = request(&name, &used);
            let event: serde_json::Value = serde_json::from_str(&fixture(&name, &used)).expect("json");
            assert_eq!(event["version"], "2.0", "{name}");
            assert_eq!(request.method().as_str(), event["requestContext"]["http"]["method"], "{name}");
            assert_eq!(request.uri().path(), event["rawPath"], "{name}");
        }
    }

    #[test]
    fn the_base64_fixture_decodes_to_the_plain_body() {
        let key = [("API_KEY", "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10")];
        let plain = request("create-session", &key);
        let encoded = request("create-session-base64", &key);
        let bytes = |body: &Body| match body {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Binary(bytes) => bytes.clone(),
            _ => Vec::new(),
        };
        assert!(matches!(encoded.body(), Body::Binary(_)));
        assert_eq!(bytes(encoded.body()), bytes(plain.body()));
    }

    #[test]
    #[should_panic(expected = "still has {{API_KEY}}")]
    fn unfilled_placeholders_fail_loudly() {
        fixture("create-session", &[]);
    }
}
