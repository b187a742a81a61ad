//! `poll-chains` as its EventBridge schedule drives it: the function's entry
//! on the scheduled-event fixture with no chains, an unreachable node, a
//! node on the wrong chain and a working (fake) node; and the real binary
//! through its Lambda entry point against DynamoDB and SQS (moto).
//!
//! The node is a few lines of JSON-RPC on loopback: `eth_chainId`,
//! `eth_blockNumber`, and `eth_getLogs` answering no logs.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ferry_chains::evm::client::EvmClient;
use ferry_config::RpcUrls;
use ferry_domain::{ChainId, ChainRegistry};
use ferry_queue::memory::MemoryQueue;
use ferry_store::CursorStore;
use ferry_store::memory::MemoryStore;
use ferry_testing::{bounded, cold_start_error, fresh_table, moto_endpoint, run_lambda, run_lambda_capturing};
use http_body_util::{BodyExt, Full};
use poll_chains::lambda::{InvocationError, PollChainsLambda};
use poll_chains::{PollChains, WatchedChain};
use serde_json::{Value, json};

const FIXTURE: &str = ferry_testing::SCHEDULED_EVENT;
const BASE: ChainId = ChainId::new(8453);
/// The path a provider would put its key in: it must never be printed.
const SECRET_PATH: &str = "/v2/sEcReT-rpc-key";

fn scheduled_event() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).expect("read the fixture")).expect("JSON")
}

fn base() -> ferry_domain::Chain {
    ChainRegistry::production().expect("registry").chain(BASE).expect("Base").clone()
}

/// A JSON-RPC node on loopback serving `chain_id` with its head at `head`;
/// returns its URL (with [`SECRET_PATH`]) and the methods it was asked.
async fn fake_node(chain_id: u64, head: u64) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let call: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let answer = |call: &Value| {
                            let method = call["method"].as_str().unwrap_or("").to_string();
                            let result = match method.as_str() {
                                "eth_chainId" => json!(format!("{chain_id:#x}")),
                                "eth_blockNumber" => json!(format!("{head:#x}")),
                                "eth_getLogs" => json!([]),
                                _ => Value::Null,
                            };
                            log.lock().expect("lock").push(method);
                            json!({ "jsonrpc": "2.0", "id": call["id"], "result": result })
                        };
                        let reply = match &call {
                            Value::Array(calls) => Value::Array(calls.iter().map(answer).collect()),
                            single => answer(single),
                        };
                        let response = hyper::Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(reply.to_string())))
                            .expect("response");
                        Ok::<_, Infallible>(response)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _closed = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (format!("http://{address}{SECRET_PATH}"), asked)
}

/// The function over the in-memory store and queue, watching Base at `url`.
fn function(url: &str) -> PollChainsLambda<MemoryStore, MemoryQueue> {
    function_over(MemoryStore::new(), url)
}

fn function_over(store: MemoryStore, url: &str) -> PollChainsLambda<MemoryStore, MemoryQueue> {
    let client = EvmClient::connect(BASE, url).expect("client");
    let chains = vec![WatchedChain { chain: base(), client }];
    let mut function = PollChainsLambda::new(
        PollChains::new(store, MemoryQueue::new(), chains),
        RpcUrls::single(BASE, url),
        Duration::from_millis(500),
    );
    function.safety_margin = Duration::ZERO;
    function
}

#[tokio::test]
async fn no_chains_is_a_reported_error() {
    bounded(async {
        let function = PollChainsLambda::new(
            PollChains::new(MemoryStore::new(), MemoryQueue::new(), Vec::new()),
            RpcUrls::default(),
            Duration::from_secs(1),
        );
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let started = Instant::now();
        let outcome = function.handle(&scheduled_event(), deadline).await;
        assert!(matches!(outcome, Err(InvocationError::NoChains)), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "it does not wait for the deadline");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_node_is_reported_without_its_url() {
    bounded(async {
        // Port 9 (discard) on loopback: nothing listens, connections are refused.
        let url = format!("http://127.0.0.1:9{SECRET_PATH}");
        let function = function(&url);
        // At cold start an unreachable node is not fatal: it is tried again.
        function.verify_chains().await.expect("only a wrong chain is fatal");

        // Long enough for one verification to give up: the transport retries
        // a refused connection 8 times, 250 ms apart, inside each call.
        let deadline = SystemTime::now() + Duration::from_millis(6_000);
        let outcome = function.handle(&scheduled_event(), deadline).await;
        let Err(error @ InvocationError::NothingScanned { .. }) = &outcome else {
            panic!("expected NothingScanned, got {outcome:?}");
        };
        let InvocationError::NothingScanned { summary, .. } = error else { unreachable!() };
        let chain = &summary.chains[0];
        assert_eq!(chain.chain_id, 8453);
        assert!(!chain.verified);
        assert!(chain.failed_scans >= 1 && chain.failed_scans == chain.scans, "{chain:?}");
        assert!(!chain.errors.is_empty(), "{chain:?}");
        let shown = format!("{error} {:?} {}", outcome, serde_json::to_string(summary).expect("json"));
        assert!(shown.contains("eth_chainId on chain 8453 failed"), "{shown}");
        assert!(!shown.contains("sEcReT"), "{shown}");
    })
    .await;
}

#[tokio::test]
async fn a_node_on_another_chain_fails_the_cold_start() {
    bounded(async {
        let (url, _asked) = fake_node(1, 100).await;
        let function = function(&url);
        let outcome = function.verify_chains().await;
        assert!(matches!(outcome, Err(InvocationError::WrongChain { chain: BASE, actual: 1 })), "{outcome:?}");
        // And it is never scanned.
        let deadline = SystemTime::now() + Duration::from_millis(600);
        let Err(InvocationError::NothingScanned { summary, .. }) = function.handle(&scheduled_event(), deadline).await
        else {
            panic!("a chain on the wrong node is not scanned");
        };
        assert!(summary.chains[0].errors[0].contains("reports id 1"), "{summary:?}");
    })
    .await;
}

#[tokio::test]
async fn scans_a_verified_chain_every_interval_until_the_deadline() {
    bounded(async {
        let head = 1_000;
        let (url, asked) = fake_node(8453, head).await;
        let store = MemoryStore::new();
        let function = function_over(store.clone(), &url);
        function.verify_chains().await.expect("verified");

        let started = Instant::now();
        let deadline = SystemTime::now() + Duration::from_millis(1_300);
        let summary = function.handle(&scheduled_event(), deadline).await.expect("scanned");

        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3), "{elapsed:?}");
        let confirmed = head - base().confirmations;
        let chain = &summary.chains[0];
        assert!(chain.verified);
        // One scan at once, then every 500 ms until 1.3 s: 3 (2 on a very slow machine).
        assert!((2..=3).contains(&chain.scans) && chain.failed_scans == 0, "{summary:?}");
        assert_eq!(chain.last_scanned_block, Some(confirmed));
        assert_eq!(summary.deposits_enqueued, 0);
        // Caught up, and it just scanned: nothing stalls.
        assert_eq!(chain.blocks_behind, Some(0));
        assert_eq!(chain.seconds_since_cursor_advanced, 0, "{summary:?}");
        let cursor = store.get_cursor(BASE).await.expect("cursor").expect("a cursor");
        assert_eq!(cursor.last_scanned_block, confirmed);
        let asked = asked.lock().expect("lock").clone();
        assert_eq!(asked.iter().filter(|m| *m == "eth_chainId").count(), 1, "verified once: {asked:?}");
        assert!(asked.contains(&"eth_getLogs".to_string()), "{asked:?}");
    })
    .await;
}

/// A chain whose node never answers: its cursor does not move, and the
/// metrics say for how long, per chain and as the maximum of all chains.
#[tokio::test]
async fn a_chain_that_cannot_be_scanned_shows_as_stalled_in_its_metrics() {
    bounded(async {
        let (url, _asked) = fake_node(8453, 1_000).await;
        let store = MemoryStore::new();
        let optimism = ChainRegistry::production().expect("registry").chain(ChainId::new(10)).expect("OP").clone();
        let chains = vec![
            WatchedChain { chain: base(), client: EvmClient::connect(BASE, &url).expect("client") },
            // Nothing listens on port 9: every call is refused.
            WatchedChain {
                chain: optimism,
                client: EvmClient::connect(ChainId::new(10), "http://127.0.0.1:9").expect("client"),
            },
        ];
        let poller = PollChains::new(store, MemoryQueue::new(), chains);
        let mut function = PollChainsLambda::new(poller, RpcUrls::default(), Duration::from_millis(500));
        function.scan_timeout = Duration::from_millis(400);
        function.safety_margin = Duration::ZERO;
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let deadline = SystemTime::now() + Duration::from_millis(1_300);
        let summary = function.handle(&scheduled_event(), deadline).await.expect("one chain scanned");

        let (working, stalled) = (&summary.chains[0], &summary.chains[1]);
        assert_eq!((working.seconds_since_cursor_advanced, working.blocks_behind), (0, Some(0)), "{summary:?}");
        assert!(stalled.seconds_since_cursor_advanced >= 1 && stalled.blocks_behind.is_none(), "{summary:?}");

        let lines: Vec<Value> = poll_chains::summary::metric_lines(&summary.chains)
            .iter()
            .map(|line| serde_json::from_str(&line.to_json(1)).expect("EMF JSON"))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[1]["ChainId"], "10");
        assert_eq!(lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["ChainId"]]));
        assert_eq!(lines[1]["SecondsSinceCursorAdvanced"], stalled.seconds_since_cursor_advanced);
        assert!(lines[1].get("BlocksBehindHead").is_none(), "{lines:?}");
        assert_eq!(lines[0]["BlocksBehindHead"], 0);
        assert_eq!(lines[2]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert_eq!(lines[2]["MaxSecondsSinceCursorAdvanced"], stalled.seconds_since_cursor_advanced);
    })
    .await;
}

/// The environment the deployed function gets, pointed at moto and a node.
fn function_env(endpoint: &str, table: &str, queue_url: &str, rpc_url: &str) -> Vec<(&'static str, String)> {
    let mut env = ferry_testing::session_function_env(endpoint, table);
    env.extend([
        ("FERRY_RPC_URLS", format!("8453={rpc_url}")),
        ("FERRY_DEPOSIT_QUEUE_URL", queue_url.to_string()),
        ("FERRY_TREASURY_ADDRESS", "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65".to_string()),
        ("FERRY_RELAYER_KMS_KEY_ID", "alias/ferry-relayer".to_string()),
        ("FERRY_POLL_INTERVAL_SECONDS", "1".to_string()),
    ]);
    env
}

/// The fake Runtime API gives the invocation 30 s; the function polls until
/// 5 s before that.
const BINARY_TIMEOUT: Duration = Duration::from_secs(60);

async fn invoke(env: Vec<(&'static str, String)>) -> Result<Value, String> {
    run_lambda(env!("CARGO_BIN_EXE_poll-chains"), env, fixture(), BINARY_TIMEOUT).await
}

fn fixture() -> String {
    std::fs::read_to_string(FIXTURE).expect("fixture")
}

async fn invoke_capturing(env: Vec<(&'static str, String)>) -> ferry_testing::Captured {
    run_lambda_capturing(env!("CARGO_BIN_EXE_poll-chains"), env, fixture(), BINARY_TIMEOUT).await
}

/// Half of Lambda's smallest memory size (128 MB): what
/// the test build (unoptimised, with debug information) may peak at over
/// a cold start and a whole invocation.
const PEAK_MEMORY_BOUND_KIB: u64 = 64 * 1024;

/// The EMF lines (JSON objects with `_aws`) among `stdout`'s lines.
fn metric_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect()
}

/// The real `poll-chains` binary, started as Lambda starts it: reads its
/// configuration, verifies the node at cold start, scans until shortly
/// before the invocation's deadline, and answers the scheduled event with
/// its summary; the chain's cursor is in DynamoDB. Its peak memory over
/// the cold start and the ~25 s invocation stays well inside 128 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_a_scheduled_event_through_its_lambda_entry_point() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-poll-chains")).await;
    let queue_name = ferry_testing::unique_table_name("ferry-deposits");
    let queue = bounded(ferry_queue::sqs::SqsQueue::local(&endpoint, &queue_name)).await.expect("queue");
    let (rpc_url, _asked) = fake_node(8453, 5_000).await;

    let captured = invoke_capturing(function_env(&endpoint, store.table(), queue.url(), &rpc_url)).await;
    let response = captured.result.unwrap_or_else(|error| panic!("{error}"));
    let peak_kib = captured.peak_kib;

    // Measured, for the README's sizing: printed with `--no-capture`.
    let peak_kib = peak_kib.expect("Linux reports the peak resident memory");
    eprintln!("poll-chains peak resident memory: {peak_kib} KiB");
    assert!(peak_kib < PEAK_MEMORY_BOUND_KIB, "poll-chains peaked at {peak_kib} KiB");
    let confirmed = 5_000 - base().confirmations;
    assert_eq!(response["failedScans"], 0, "{response}");
    assert!(response["scans"].as_u64().is_some_and(|scans| scans >= 10), "{response}");
    assert_eq!(response["chains"][0]["chainId"], 8453, "{response}");
    assert_eq!(response["chains"][0]["verified"], true, "{response}");
    assert_eq!(response["chains"][0]["lastScannedBlock"], confirmed, "{response}");
    assert!(!response.to_string().contains("sEcReT"), "{response}");
    let cursor = bounded(store.get_cursor(BASE)).await.expect("read").expect("the cursor is stored");
    assert_eq!(cursor.last_scanned_block, confirmed);
    // The invocation's metrics, as CloudWatch reads them from stdout.
    let metrics = metric_lines(&captured.stdout);
    let per_chain = metrics.iter().find(|line| line["ChainId"] == "8453").unwrap_or_else(|| panic!("{metrics:?}"));
    assert_eq!(per_chain["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Ferry");
    assert_eq!(per_chain["BlocksBehindHead"], 0, "{per_chain}");
    let max = metrics.iter().find(|line| line.get("MaxSecondsSinceCursorAdvanced").is_some()).expect("the max");
    assert_eq!(max["MaxSecondsSinceCursorAdvanced"], 0, "{max}");
}

/// With its only node unreachable, the binary starts (the node may come
/// back), reports the invocation as failed, and prints the URL nowhere: not
/// in its logs, not in its error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_fails_the_invocation_without_printing_its_url() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-poll-chains")).await;
    let rpc_url = format!("http://127.0.0.1:9{SECRET_PATH}");
    let queue_url = format!("{endpoint}/123456789012/unused");
    let mut env = function_env(&endpoint, store.table(), &queue_url, &rpc_url);
    // Everything the function could log, logged.
    env.push(("RUST_LOG", "trace".to_string()));

    let error = invoke(env).await.expect_err("nothing could be scanned");

    assert!(error.contains(r#""errorType":"PollChains.NothingScanned""#), "{error}");
    assert!(error.contains("no chain could be scanned"), "{error}");
    assert!(error.contains("eth_chainId on chain 8453 failed"), "{error}");
    assert!(!error.contains("sEcReT"), "the RPC URL was printed: {error}");
}

/// A secret in Secrets Manager (moto) holding `value`; returns its ARN.
async fn create_secret(endpoint: &str, value: &str) -> String {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let created = client
        .create_secret()
        .name(ferry_testing::unique_table_name("ferry-rpc-urls"))
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!("create the secret: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&error))
        });
    created.arn().expect("the secret's ARN").to_string()
}

/// Deployments keep the RPC URLs (with their provider keys) in Secrets
/// Manager: the real binary, given only the secret's ARN, reads the URLs
/// from it at cold start and watches the chain they name; nothing it prints
/// (logs at trace, metrics, its answer) shows the URL's secret part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_its_rpc_urls_from_secrets_manager_and_never_prints_them() {
    let endpoint = moto_endpoint();
    let store = bounded(fresh_table(&endpoint, "ferry-poll-chains")).await;
    let queue_name = ferry_testing::unique_table_name("ferry-deposits");
    let queue = bounded(ferry_queue::sqs::SqsQueue::local(&endpoint, &queue_name)).await.expect("queue");
    let (rpc_url, asked) = fake_node(8453, 5_000).await;
    let arn = bounded(create_secret(&endpoint, &format!("8453={rpc_url}"))).await;
    let mut env: Vec<(&'static str, String)> = function_env(&endpoint, store.table(), queue.url(), &rpc_url)
        .into_iter()
        .filter(|(name, _)| *name != "FERRY_RPC_URLS")
        .collect();
    env.push(("FERRY_RPC_URLS_SECRET_ARN", arn));
    env.push(("RUST_LOG", "trace".to_string()));

    let captured = invoke_capturing(env).await;
    let response = captured.result.unwrap_or_else(|error| panic!("{error}"));

    assert_eq!(response["chains"][0]["chainId"], 8453, "{response}");
    assert_eq!(response["chains"][0]["verified"], true, "{response}");
    assert_eq!(response["chains"][0]["lastScannedBlock"], 5_000 - base().confirmations, "{response}");
    assert!(asked.lock().expect("lock").contains(&"eth_getLogs".to_string()), "the node from the secret was scanned");
    for (what, text) in [("answer", response.to_string()), ("stdout", captured.stdout), ("stderr", captured.stderr)] {
        assert!(!text.contains("sEcReT"), "the secret's value is in the {what}: {text}");
    }
}

/// A secret that cannot be read fails the cold start, naming the variable
/// that names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_secret_fails_the_cold_start_by_name() {
    let endpoint = moto_endpoint();
    let queue_url = format!("{endpoint}/123456789012/unused");
    let mut env: Vec<(&'static str, String)> = function_env(&endpoint, "unused", &queue_url, "http://127.0.0.1:9")
        .into_iter()
        .filter(|(name, _)| *name != "FERRY_RPC_URLS")
        .collect();
    env.push((
        "FERRY_RPC_URLS_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf".into(),
    ));

    let error = cold_start_error(env!("CARGO_BIN_EXE_poll-chains"), env, fixture()).await;

    assert!(error.contains("without answering the invocation"), "{error}");
    assert!(
        error.contains(r#"Invalid { name: "FERRY_RPC_URLS_SECRET_ARN", reason: "cannot read the secret: ResourceNotFoundException: "#),
        "{error}"
    );
}

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_poll-chains"),
    std::fs::read_to_string(ferry_testing::SCHEDULED_EVENT).expect("the event file"),
    "FERRY_TABLE_NAME"
);
