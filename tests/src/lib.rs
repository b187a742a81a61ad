//! The end-to-end harness: [`spawn_app`] starts the local stack — every
//! function behind `ferry serve`'s HTTP server — on a free loopback port
//! over a store of its own, and gives the test typed request helpers.
//!
//! With chains: [`evm::spawn_app_with_chains`] adds two anvil chains of the
//! test's own ([`chains`]) and the chain workers, for the payment flow end
//! to end; [`faults`] holds the store doubles that simulate crashes.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256};
use ferry_chains::evm::ReceiverDerivation;
use ferry_cli::api::Api;
use ferry_cli::operator;
use ferry_domain::{ChainRegistry, Session, SessionId, UrlPolicy};
use ferry_store::dynamodb::DynamoStore;
use ferry_store::sqlite::SqliteStore;
use ferry_store::{SessionChange, Store};
pub use ferry_testing::TempDir;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub mod chains;
pub mod evm;
pub mod faults;
pub mod flaky;
pub mod js;
mod loopback;
pub mod recording;

/// Base USDC: a real production token the tests create sessions for.
pub const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
pub const BASE: u64 = 8453;
pub const DESTINATION: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

pub fn receivers() -> ReceiverDerivation {
    ReceiverDerivation { factory: Address::repeat_byte(0x11), init_code_hash: B256::repeat_byte(0x22) }
}

pub struct TestApp<S> {
    pub base_url: String,
    pub client: reqwest::Client,
    pub store: S,
    /// An API key of the merchant the tests act as.
    pub api_key: String,
    /// An API key of another merchant.
    pub other_api_key: String,
    _shutdown: oneshot::Sender<()>,
    pub(crate) _data_dir: Option<TempDir>,
}

/// The stack over the embedded store, as `ferry serve` runs by default.
pub async fn spawn_app() -> TestApp<SqliteStore> {
    let dir = TempDir::new("e2e");
    let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open store");
    let mut app = spawn_app_with(store).await;
    app._data_dir = Some(dir);
    app
}

/// The stack over DynamoDB on the test's moto_server, in a fresh table.
pub async fn spawn_app_on_dynamodb() -> TestApp<DynamoStore> {
    let store = dynamodb_store(true).await;
    spawn_app_with(store).await
}

/// A store on a fresh table of the test's moto_server; `create: false`
/// leaves the table missing, to provoke backend failures.
pub async fn dynamodb_store(create: bool) -> DynamoStore {
    let endpoint = std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect(
        "FERRY_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
    );
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let store = DynamoStore::local(&endpoint, format!("ferry-e2e-{}-{nanos}", std::process::id())).await;
    if create {
        store.ensure_table().await.expect("create table");
    }
    store
}

pub async fn spawn_app_with<S: Store>(store: S) -> TestApp<S> {
    let registry = ChainRegistry::production().expect("registry");
    spawn_api(store, registry, receivers()).await
}

/// The HTTP server over `store`, with the given chains and receivers, and
/// two merchants' API keys.
pub async fn spawn_api<S: Store>(store: S, registry: ChainRegistry, receivers: ReceiverDerivation) -> TestApp<S> {
    spawn_api_with(store, registry, receivers, None, UrlPolicy::default()).await
}

/// [`spawn_api`], with payers' `txHash` hints looked up through `tx_lookup`
/// and webhook URLs accepted under `webhook_policy`.
pub async fn spawn_api_with<S: Store>(
    store: S,
    registry: ChainRegistry,
    receivers: ReceiverDerivation,
    tx_lookup: Option<Arc<dyn ferry_watch::TxHintLookup>>,
    webhook_policy: UrlPolicy,
) -> TestApp<S> {
    let mut api = Api::new(store.clone(), Arc::new(registry), receivers).with_webhook_url_policy(webhook_policy);
    if let Some(lookup) = tx_lookup {
        api = api.with_tx_lookup(lookup);
    }
    serve_api(api, store).await
}

/// The stack over the embedded store (production registry) with browser
/// origins allowed to send API keys as `--cors-allowed-origins` says.
pub async fn spawn_app_with_cors(cors: ferry_http::cors::CorsPolicy) -> TestApp<SqliteStore> {
    let dir = TempDir::new("e2e-cors");
    let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open store");
    let registry = ChainRegistry::production().expect("registry");
    let api = Api::new(store.clone(), Arc::new(registry), receivers()).with_cors(cors);
    let mut app = serve_api(api, store).await;
    app._data_dir = Some(dir);
    app
}

/// Serves `api` on a free loopback port, with two merchants' API keys.
pub async fn serve_api<S: Store>(api: Api<S>, store: S) -> TestApp<S> {
    let api = Arc::new(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(ferry_cli::server::serve(listener, api, async {
        let _ = stopped.await;
    }));
    let (api_key, other_api_key) = match (merchant_key(&store).await, merchant_key(&store).await) {
        (Some(a), Some(b)) => (a, b),
        // A store that cannot be written (the missing-table test) gets keys that do not exist.
        _ => ("00000000-0000-4000-8000-000000000000".into(), "00000000-0000-4000-8000-000000000001".into()),
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    TestApp { base_url, client, store, api_key, other_api_key, _shutdown: shutdown, _data_dir: None }
}

async fn merchant_key<S: Store>(store: &S) -> Option<String> {
    let merchant = operator::create_merchant(store, "Test merchant").await.ok()?;
    let key = operator::create_api_key(store, merchant.id).await.ok()?;
    Some(key.reveal())
}

/// A valid create-session body.
pub fn session_body() -> Value {
    json!({
        "destination": {
            "type": "evm",
            "address": DESTINATION.to_lowercase(),
            "chainId": BASE,
            "tokenAddress": BASE_USDC,
            "amountUnits": "10.5",
            "calldata": "0xa9059cbb",
        },
        "display": {
            "title": "Order #42",
            "verb": "Pay",
            "themeCssUrl": "https://shop.example/theme.css",
            "themeMode": "dark",
        },
        "metadata": {"orderId": "42"},
        "refundAddress": DESTINATION,
    })
}

/// A response: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts this is the error envelope with the given status, type and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, kind: &str, code: &str) -> &Self {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["error"]["type"], kind, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{:#}", self.body);
        assert!(self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{:#}", self.body);
        assert!(self.header("request-id").is_some(), "no request-id");
        assert_eq!(self.header("content-type"), Some("application/json"));
        self
    }

    #[track_caller]
    pub fn assert_param(&self, param: &str) -> &Self {
        assert_eq!(self.body["error"]["param"], param, "{:#}", self.body);
        self
    }
}

impl<S: Store> TestApp<S> {
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        Answer { status, headers, body }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn create_session_with(&self, key: &str, body: &Value) -> Answer {
        self.send(self.client.post(self.url("/v1/sessions")).bearer_auth(key).json(body)).await
    }

    pub async fn create_session(&self, body: &Value) -> Answer {
        self.create_session_with(&self.api_key, body).await
    }

    /// Creates a session and returns its id and client secret.
    pub async fn new_session(&self) -> (String, String) {
        let created = self.create_session(&session_body()).await;
        assert_eq!(created.status, 201, "{:#}", created.body);
        let session = &created.body["session"];
        (session["sessionId"].as_str().expect("id").into(), session["clientSecret"].as_str().expect("secret").into())
    }

    pub async fn get_session(&self, id: &str, key: Option<&str>, secret: Option<&str>) -> Answer {
        let mut request = self.client.get(self.url(&format!("/v1/sessions/{id}")));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(secret) = secret {
            request = request.query(&[("clientSecret", secret)]);
        }
        self.send(request).await
    }

    pub async fn set_payment_method(&self, id: &str, body: &Value) -> Answer {
        self.send(self.client.post(self.url(&format!("/v1/sessions/{id}/paymentMethods"))).json(body)).await
    }

    pub async fn check(&self, id: &str, body: &Value) -> Answer {
        self.send(self.client.put(self.url(&format!("/v1/sessions/{id}/check"))).json(body)).await
    }

    /// Rewrites a stored session behind the API's back, to reach states the
    /// API cannot be asked for directly (an expired or finished session):
    /// `change` edits the stored document (its JSON, as a store holds it),
    /// which is then written as the next version.
    pub async fn rewrite_session(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let id: SessionId = id.parse().expect("session id");
        let session = self.store.get_session(&id).await.expect("get").expect("exists");
        let mut stored = serde_json::to_value(&session).expect("encode");
        change(&mut stored);
        stored["version"] = (session.version() + 1).into();
        let session: Session = serde_json::from_value(stored).expect("still a session");
        self.store.commit(SessionChange::new(&session)).await.expect("commit");
    }
}
