//! Test support for Ferry's Lambda functions and crates: a dev-dependency
//! of the crates it tests, a dependency only of the end-to-end crate and the
//! benchmarks, never of a Lambda binary.
//!
//! - [`fixture`] and [`request`]: API Gateway HTTP API (payload format 2.0)
//!   events from the repository's `events/apigw/` (the files `sam local
//!   invoke -e` takes), with their sample values replaced by the test's;
//! - [`sam_local_env`]: a function's variables from `events/env.json` (the
//!   file `sam local --env-vars` takes), pointed at the test's services;
//! - [`seed_merchant`], [`seed_api_key`], [`seed_session`]: data put into a
//!   store through its ports, as the operator commands and `create-session`
//!   would;
//! - [`FakeRuntimeApi`]: the Lambda Runtime API on loopback, to run a
//!   function's real binary on one event; [`invoke_lambda`],
//!   [`cold_start_error`], [`BinaryOnMoto`] and
//!   [`refuses_to_start_without_its_configuration!`]: the tests every
//!   function runs its binary in;
//! - [`moto_endpoint`], [`fresh_table`], [`session_function_env`]: the
//!   DynamoDB (moto_server) the binaries run against;
//! - [`WebhookReceiver`]: a webhook endpoint on loopback with scripted answers;
//! - [`CountingStore`]: the in-memory store counting its reads;
//! - [`TempDir`]: a directory of the test's own, removed on drop;
//! - [`sample_session`], [`sample_deposit`], [`sample_webhook`]: the sample
//!   data of the store conformance checks, for tests that need a realistic
//!   value without storing it.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_domain::{ApiKey, Merchant, MerchantId, Session, SessionEvent};
use ferry_store::dynamodb::DynamoStore;
use ferry_store::{ApiKeyRecord, MerchantStore, SessionChange, SessionStore};
use lambda_http::{Body, Response};

mod anvil;
mod binary;
mod counting;
mod receiver;
mod runtime;
mod silent_node;
mod temp_dir;

pub use anvil::Anvil;
pub use binary::{BinaryOnMoto, cold_start_error, invoke_lambda, run_lambda, run_lambda_capturing};
pub use counting::{CountingStore, Reads};
pub use receiver::{ReceivedRequest, Reply, WebhookReceiver};
pub use runtime::{Captured, FakeRuntimeApi, Outcome};
pub use silent_node::SilentNode;
pub use temp_dir::TempDir;

/// Defined beside the store conformance checks that use them (feature
/// `testing` of `ferry-store`): this crate depends on `ferry-store`, so the
/// checks could not take them from here without a dependency cycle.
pub use ferry_store::conformance::{sample_deposit, sample_session, sample_webhook};

/// How long one test may take before it fails.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The repository's `events/`: the API Gateway, EventBridge and SQS events
/// the tests run the functions on, which are also what `sam local invoke -e`
/// takes, and `env.json`, what `sam local --env-vars` takes. One set of
/// files: every value in them is a concrete, valid sample, so SAM runs them
/// as they are and the tests replace the samples by value.
pub const EVENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");

/// Where the API Gateway (HTTP API, payload 2.0) events live.
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/apigw");

/// The scheduled event (EventBridge) of `poll-chains`, `expire-sessions`
/// and `deliver-webhooks`.
pub const SCHEDULED_EVENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/eventbridge/scheduled.json");

/// The SQS event of `route-deposits`: a deposit nobody recorded
/// ([`UNKNOWN_DEPOSIT_ID`]), a settled one ([`SETTLED_DEPOSIT_ID`]) and a
/// body that is not a deposit message.
pub const ROUTE_DEPOSITS_EVENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sqs/route-deposits.json");
/// The webhook queue's batch `deliver-webhooks` gets when an event is
/// announced: one `{"fanOut": EVENT_ID}` message (the sample event id).
pub const DELIVER_WEBHOOKS_EVENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/sqs/deliver-webhooks.json");
/// The first deposit [`ROUTE_DEPOSITS_EVENT`] names.
pub const UNKNOWN_DEPOSIT_ID: &str = "8453:0x3f7a9c1e5b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a:7";
/// The second deposit [`ROUTE_DEPOSITS_EVENT`] names.
pub const SETTLED_DEPOSIT_ID: &str = "8453:0x9b2e4c6a8d0f1e3c5a7b9d2f4e6c8a0b1d3f5e7a9c2b4d6f8e0a1c3b5d7f9e2c:3";

/// `events/env.json`: per function of `template.yaml` (logical id), the
/// variables `sam local` sets, with the local services as a SAM container
/// reaches them.
pub const SAM_ENV_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/env.json");

/// The environment variable naming the tests' DynamoDB endpoint.
pub const DYNAMODB_ENDPOINT_VAR: &str = "FERRY_TEST_DYNAMODB_ENDPOINT";

/// The receiver factory the Lambda tests configure (the first contract a
/// fresh Anvil deploys) and an arbitrary init-code hash.
pub const RECEIVER_FACTORY: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/// The sample values in the API Gateway events, by the name tests replace
/// them with ([`fixture`]). Each is valid where it stands (a v4 UUID API key,
/// 32 hex digits for ids and secrets, an EIP-55 address), and none is part
/// of another, so replacing one never touches the rest.
pub const SAMPLE_VALUES: [(&str, &str); 6] = [
    ("API_KEY", "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10"),
    ("SESSION_ID", "8f1c2e4a6b0d9c7e5f3a1b2c4d6e8f0a"),
    ("CLIENT_SECRET", "fedcba9876543210fedcba9876543210"),
    ("EVM_ADDRESS", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
    ("WEBHOOK_ID", "wh_4d2c8e1f0a9b7c6d5e4f3a2b1c0d9e8f"),
    ("EVENT_ID", "6f1c2a9e-3b7d-4c58-9e0a-1d2f3a4b5c6d"),
];

// ---------------------------------------------------------------- fixtures

/// The event `events/apigw/<name>.json` with the sample value of each
/// named substitution replaced by the test's value. Substitutions are keyed
/// by the sample's name in [`SAMPLE_VALUES`] (`"API_KEY"`; `"{{API_KEY}}"`
/// also works).
///
/// Values are inserted verbatim inside JSON strings (some inside the
/// JSON-encoded `body`), so they must not contain `"` or `\`. Panics when the
/// event is missing, a name is unknown, the event has no such sample, or
/// the result is not JSON. Samples not substituted stay as they are.
pub fn fixture(name: &str, substitutions: &[(&str, &str)]) -> String {
    let path = Path::new(FIXTURES_DIR).join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read event {}: {error}", path.display()));
    let mut replacements = Vec::new();
    for (key, value) in substitutions {
        let bare = key.trim_start_matches("{{").trim_end_matches("}}");
        let sample = sample_value(bare).unwrap_or_else(|| panic!("no sample value is named {bare}"));
        replacements.push((sample, *value));
    }
    let text = replace_samples(&text, &replacements, name);
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&text) {
        panic!("event {name} is not valid JSON after substitution: {error}");
    }
    text
}

/// The event file at `path` with each `(sample, value)` replaced, as
/// [`fixture`] does for the API Gateway events.
pub fn event_with(path: &str, replacements: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read event {path}: {error}"));
    let text = replace_samples(&text, replacements, path);
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&text) {
        panic!("event {path} is not valid JSON after substitution: {error}");
    }
    text
}

/// The sample value named `name` in [`SAMPLE_VALUES`].
pub fn sample_value(name: &str) -> Option<&'static str> {
    SAMPLE_VALUES.iter().find(|(key, _)| *key == name).map(|(_, sample)| *sample)
}

/// `text` with every occurrence of each sample replaced by its value; each
/// sample must occur, and no value may hold a quote or backslash.
fn replace_samples(text: &str, replacements: &[(&str, &str)], event: &str) -> String {
    let mut text = text.to_string();
    for (sample, value) in replacements {
        assert!(
            !value.contains(['"', '\\']),
            "the value for {sample} must not contain quotes or backslashes: {value:?}"
        );
        assert!(text.contains(sample), "event {event} has no sample value {sample}");
        text = text.replace(sample, value);
    }
    text
}

/// The variables `events/env.json` gives the template's function
/// `function` (a logical id), as `sam local --env-vars` sets them, each
/// variable named in `overrides` replaced by the test's value (its table,
/// its moto_server, its queues) — it must be in the file. `sam local` adds
/// the region and credentials, as these do (moto accepts any).
pub fn sam_local_env(function: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(SAM_ENV_FILE).unwrap_or_else(|error| panic!("cannot read {SAM_ENV_FILE}: {error}"));
    let file: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{SAM_ENV_FILE} is not JSON: {error}"));
    let variables = file[function].as_object().unwrap_or_else(|| panic!("{SAM_ENV_FILE} has no {function}"));
    let mut env: Vec<(String, String)> = variables
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().unwrap_or_else(|| panic!("{function}.{name} is not a string"));
            (name.clone(), value.to_string())
        })
        .collect();
    for (name, value) in overrides {
        let slot = env.iter_mut().find(|(key, _)| key == name);
        let (_, current) = slot.unwrap_or_else(|| panic!("{SAM_ENV_FILE} gives {function} no {name} to override"));
        *current = value.to_string();
    }
    env.extend([
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID".to_string(), "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "testing".to_string()),
    ]);
    env
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
        id: MerchantId::from_random_bytes(random_bytes()),
        name: "Test merchant".to_string(),
        created_at: now(),
    };
    store.create_merchant(&merchant).await.expect("seed a merchant");
    let key = ApiKey::from_random_bytes(random_bytes());
    let record = ApiKeyRecord::new(key.hash(), merchant.id, now(), None);
    store.create_api_key(&record).await.expect("seed an API key");
    SeededMerchant { id: merchant.id, api_key: key.reveal() }
}

/// A new merchant's API key text.
pub async fn seed_api_key<S: MerchantStore>(store: &S) -> String {
    seed_merchant(store).await.api_key
}

/// Stores an open session of `merchant_id` — the conformance checks'
/// [`sample_session`] (Base USDC, 10.00, metadata `{"order": "1"}`),
/// created now — and returns it.
pub async fn seed_session<S: SessionStore>(store: &S, merchant_id: MerchantId) -> Session {
    let mut session = sample_session(merchant_id);
    let now = now();
    session.created_at = now;
    session.expires_at = now.plus_seconds(Session::DEFAULT_LIFETIME_SECONDS);
    store.create_session(&session, None).await.expect("seed a session");
    session
}

/// Stores a webhook endpoint of `merchant_id` — the conformance checks'
/// [`sample_webhook`] (`https://merchant.example/hooks/ferry`, succeeded
/// and bounced), created now — and returns it.
pub async fn seed_webhook<S: ferry_store::WebhookStore>(
    store: &S,
    merchant_id: MerchantId,
) -> ferry_domain::WebhookEndpoint {
    let endpoint = sample_webhook(merchant_id, now());
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
    let mut endpoint = sample_webhook(merchant_id, now());
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
    let deposit = sample_deposit();
    let now = now();
    let waiting = session.set_evm_payment_method(deposit.receiver, now).expect("legal").expect("changed");
    store.commit(SessionChange::new(&waiting).claiming_receiver(deposit.receiver)).await.expect("set payment method");
    let (processing, kind) = waiting.deposit_seen(&deposit).expect("legal");
    let event = SessionEvent::new(random_bytes(), kind, &processing, now);
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

/// The system's time, for tests (the code under test is handed a
/// [`ferry_runtime::Clock`]).
pub fn now() -> ferry_domain::Timestamp {
    ferry_runtime::Clock::system().now()
}

/// 16 fresh random bytes, for tests' ids.
pub fn random_bytes() -> [u8; 16] {
    ferry_runtime::Ids::random().next()
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

    /// Every file under `events/`, by its path there.
    fn event_files() -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        let mut folders = vec![Path::new(EVENTS_DIR).to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("events folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() { folders.push(path) } else { files.push(path) }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn placeholders_are_found_only_when_well_formed() {
        assert_eq!(first_placeholder(r#"{"a":"Bearer {{API_KEY}}"}"#), Some("{{API_KEY}}"));
        assert_eq!(first_placeholder(r#"{"a":{"b":1}}"#), None);
        assert_eq!(first_placeholder("{{ not one }} {{X_1}}"), Some("{{X_1}}"));
    }

    /// SAM runs the files as they are: JSON, with no placeholder to fill.
    #[test]
    fn every_event_file_is_json_without_placeholders() {
        let files = event_files();
        assert!(files.len() >= 18, "{files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path).expect("read");
            assert_eq!(first_placeholder(&text), None, "{}", path.display());
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    /// Each API Gateway event, as it is and with every sample it holds
    /// replaced, is a request `lambda_http` accepts; a replaced sample is
    /// gone everywhere.
    #[test]
    fn every_fixture_is_an_event_lambda_http_accepts() {
        let mut names: Vec<String> = std::fs::read_dir(FIXTURES_DIR)
            .expect("events directory")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
            .collect();
        names.sort();
        assert!(names.len() >= 8, "{names:?}");
        let values = [
            ("API_KEY", "0b7e3a52-6c1d-4e8f-9a0b-c2d4e6f8a1b3"),
            ("SESSION_ID", "0123456789abcdef0123456789abcdef"),
            ("CLIENT_SECRET", "00112233445566778899aabbccddeeff"),
            ("EVM_ADDRESS", "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
            ("WEBHOOK_ID", "wh_0123456789abcdef0123456789abcdef"),
            ("EVENT_ID", "0d9c8b7a-6f5e-4d3c-8b2a-190817263544"),
        ];
        for name in names {
            let text = std::fs::read_to_string(Path::new(FIXTURES_DIR).join(format!("{name}.json"))).expect("read");
            let used: Vec<(&str, &str)> =
                values.iter().copied().filter(|(key, _)| text.contains(sample_value(key).expect("a sample"))).collect();
            for substitutions in [&[][..], &used[..]] {
                let request = request(&name, substitutions);
                let replaced = fixture(&name, substitutions);
                let event: serde_json::Value = serde_json::from_str(&replaced).expect("json");
                assert_eq!(event["version"], "2.0", "{name}");
                assert_eq!(request.method().as_str(), event["requestContext"]["http"]["method"], "{name}");
                assert_eq!(request.uri().path(), event["rawPath"], "{name}");
                for (key, value) in substitutions {
                    assert!(!replaced.contains(sample_value(key).expect("a sample")), "{name}: {key} left");
                    assert!(replaced.contains(value), "{name}: {key} not replaced");
                }
            }
        }
    }

    /// Replacing one sample never changes another.
    #[test]
    fn no_sample_value_contains_another() {
        for (name, sample) in SAMPLE_VALUES {
            for (other, other_sample) in SAMPLE_VALUES.iter().filter(|(other, _)| *other != name) {
                assert!(!sample.contains(other_sample), "{name}'s sample contains {other}'s");
            }
        }
        assert!(!SETTLED_DEPOSIT_ID.contains(UNKNOWN_DEPOSIT_ID) && !UNKNOWN_DEPOSIT_ID.contains(SETTLED_DEPOSIT_ID));
    }

    #[test]
    fn the_base64_fixture_decodes_to_the_plain_body() {
        let key = [("API_KEY", "0b7e3a52-6c1d-4e8f-9a0b-c2d4e6f8a1b3")];
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
    #[should_panic(expected = "event openapi has no sample value 5f0c3c6e")]
    fn a_substitution_the_event_lacks_fails_loudly() {
        fixture("openapi", &[("API_KEY", "0b7e3a52-6c1d-4e8f-9a0b-c2d4e6f8a1b3")]);
    }

    #[test]
    #[should_panic(expected = "no sample value is named MERCHANT_ID")]
    fn an_unknown_sample_name_fails_loudly() {
        fixture("create-session", &[("MERCHANT_ID", "m")]);
    }

    #[test]
    fn the_sqs_event_names_both_sample_deposits() {
        let text =
            event_with(ROUTE_DEPOSITS_EVENT, &[(UNKNOWN_DEPOSIT_ID, "1:0x01:1"), (SETTLED_DEPOSIT_ID, "1:0x02:2")]);
        assert!(text.contains(r#"{\"depositId\":\"1:0x01:1\"}"#) && text.contains(r#"{\"depositId\":\"1:0x02:2\"}"#));
    }

    /// Overrides replace the file's values by name; a name the file does not
    /// give the function is refused, so a test cannot override what SAM
    /// would never set.
    #[test]
    fn sam_local_env_takes_the_file_and_replaces_what_is_named() {
        let env = sam_local_env("CreateSessionFunction", &[("FERRY_TABLE_NAME", "t-1")]);
        let get = |name: &str| env.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        assert_eq!(get("FERRY_TABLE_NAME"), Some("t-1"));
        assert_eq!(get("FERRY_CHAIN_REGISTRY"), Some("local"));
        assert_eq!(get("AWS_REGION"), Some("us-east-1"));
        let refused = std::panic::catch_unwind(|| sam_local_env("CreateSessionFunction", &[("FERRY_NOT_A_VAR", "x")]));
        assert!(refused.is_err());
    }
}
