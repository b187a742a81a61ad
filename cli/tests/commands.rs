//! The `ferry` binary as an operator and a new user run it.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferry_domain::{ApiKey, MerchantId};
use ferry_store::MerchantStore;
use ferry_store::dynamodb::DynamoStore;
use ferry_store::sqlite::SqliteStore;

mod support;

use ferry_testing::TempDir;
use support::{FERRY, ferry, stdout_lines};

/// Creates a merchant and a key with the CLI and returns them.
fn merchant_and_key(store_args: &[&str]) -> (MerchantId, ApiKey) {
    let merchant = ferry(&[&["merchant", "create", "--name", "Acme"], store_args].concat());
    let merchant: MerchantId = merchant.parse().expect("merchant id printed");
    let key = ferry(&[&["api-key", "create", "--merchant", &merchant.to_string()], store_args].concat());
    (merchant, key.parse().expect("API key printed"))
}

#[tokio::test]
async fn operators_create_merchants_and_keys_in_the_embedded_store() {
    let dir = TempDir::new("operator");
    let data_dir = dir.as_str();
    let (merchant, key) = merchant_and_key(&["--data-dir", data_dir]);
    let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open");
    let record = store.find_api_key(&key.hash()).await.expect("find").expect("key stored");
    assert_eq!(record.merchant_id, merchant);
    assert_eq!(store.get_merchant(&merchant).await.expect("get").map(|m| m.name), Some("Acme".to_string()));
    // Only the hash is stored: the key's text appears nowhere in the database.
    for file in ["ferry.db", "ferry.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(&key.reveal()), "the plain API key is in {file}");
    }
}

#[tokio::test]
async fn operators_create_merchants_and_keys_in_dynamodb() {
    let endpoint = std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect(
        "FERRY_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server",
    );
    let table = format!("ferry-cli-{}", std::process::id());
    let store_args = ["--table", table.as_str(), "--dynamodb-endpoint", endpoint.as_str()];
    let (merchant, key) = merchant_and_key(&store_args);
    let store = DynamoStore::local(&endpoint, table.clone()).await;
    let record = store.find_api_key(&key.hash()).await.expect("find").expect("key stored");
    assert_eq!(record.merchant_id, merchant);

    // Listed by id (never the key), and revoked by that id.
    let merchant = merchant.to_string();
    let listed = ferry(&[&["api-key", "list", "--merchant", &merchant][..], &store_args].concat());
    let id = record.id().to_string();
    assert!(listed.contains(&id) && listed.ends_with("1 API keys"), "{listed}");
    assert!(!listed.contains(&key.reveal()) && !listed.contains(&key.hash().to_string()), "{listed}");
    ferry(&[&["api-key", "revoke", &id][..], &store_args].concat());
    assert_eq!(store.find_api_key(&key.hash()).await.expect("find"), None);
    let listed = ferry(&[&["api-key", "list", "--merchant", &merchant][..], &store_args].concat());
    assert!(listed.ends_with("0 API keys"), "{listed}");
}

#[test]
fn unknown_merchants_get_no_keys() {
    let dir = TempDir::new("orphan");
    let output = Command::new(FERRY)
        .args(["api-key", "create", "--merchant", "6f1c1f2e-2a8c-4c55-9d2e-3c1f3e0a9b7d", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run ferry");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
}

/// `ferry dev` on `data_dir` with `args`, its stdout piped.
fn spawn_dev(data_dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(FERRY)
        .args(["dev", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ferry dev")
}

/// Reads `ferry dev`'s output until it says it is serving (after its
/// self-check), waiting at most `patience` for each line: whether it got
/// there, and everything it printed before.
fn read_until_serving(
    child: &mut std::process::Child,
    patience: Duration,
) -> (Result<(), mpsc::RecvTimeoutError>, String) {
    let received = stdout_lines(child);
    let mut seen = Vec::new();
    let outcome = loop {
        match received.recv_timeout(patience) {
            Ok(line) if line.starts_with("Serving until Ctrl-C") => break Ok(()),
            Ok(line) => seen.push(line),
            Err(error) => break Err(error),
        }
    };
    (outcome, seen.join("\n"))
}

/// README command 1: `ferry dev` serves, passes its self-check, prints the
/// walkthrough and keeps serving.
#[test]
fn ferry_dev_passes_its_self_check_and_keeps_serving() {
    let dir = TempDir::new("dev");
    let mut child = spawn_dev(dir.path(), &[]);
    let (outcome, transcript) = read_until_serving(&mut child, Duration::from_secs(30));
    // Still serving: the process has not exited.
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(outcome.is_ok(), "ferry dev did not finish its self-check:\n{transcript}");
    assert!(still_running, "ferry dev exited after its self-check");
    assert!(transcript.contains("Self-check passed"), "{transcript}");
    assert!(transcript.contains("waiting_payment"), "{transcript}");
    assert!(transcript.contains("curl -s -X POST $FERRY/v1/sessions"), "{transcript}");
    // Its webhook receiver is registered through the API, and named in the walkthrough.
    let registered = transcript.lines().find(|l| l.contains("registered webhook endpoint wh_")).expect(&transcript);
    let webhook_id = registered.split_whitespace().find(|w| w.starts_with("wh_")).expect("an endpoint id");
    assert!(transcript.contains(&format!("/v1/webhooks/{webhook_id}/test")), "{transcript}");
}

/// `ferry webhooks parked` lists a delivery every attempt of which failed,
/// and `ferry webhooks replay` gives it a fresh round, due now.
#[test]
fn operators_list_and_replay_parked_deliveries() {
    use ferry_domain::{AttemptOutcome, DeliveryAttempt, DeliveryState, RetryPolicy, WebhookDelivery};
    use ferry_store::DeliveryStore;

    let dir = TempDir::new("replay");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (event, parked) = runtime.block_on(async {
        let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open");
        let merchant = ferry_testing::seed_merchant(&store).await;
        let endpoint =
            ferry_testing::seed_webhook_at(&store, merchant.id, "https://merchant.example/hooks", &["*"]).await;
        let (_, event) = ferry_testing::seed_event(&store, merchant.id).await;
        let now = ferry_testing::now();
        let delivery = WebhookDelivery::new(event.id, endpoint.id, merchant.id, now);
        store.fan_out(&event.id, std::slice::from_ref(&delivery)).await.expect("fan out");
        let claimed = delivery.claim(now, 60).expect("due");
        store.update_delivery(&claimed).await.expect("claim");
        let attempt = DeliveryAttempt { at: now, outcome: AttemptOutcome::Responded { status: 503 }, latency_ms: 7 };
        let parked = claimed.record(attempt, &RetryPolicy { max_attempts: 1, ..RetryPolicy::STANDARD }, 0);
        assert_eq!(parked.state, DeliveryState::Parked);
        store.update_delivery(&parked).await.expect("park");
        (event, parked)
    });
    let data_dir = dir.as_str();

    let listed = ferry(&["webhooks", "parked", "--data-dir", data_dir]);
    assert!(listed.contains(&event.id.to_string()) && listed.contains("last answer HTTP 503"), "{listed}");
    assert!(listed.ends_with("1 parked deliveries"), "{listed}");

    let replayed = ferry(&["webhooks", "replay", "--event", &event.id.to_string(), "--data-dir", data_dir]);
    assert!(replayed.contains("1 deliveries replayed"), "{replayed}");
    let stored = runtime.block_on(async {
        let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open");
        store.get_delivery(&parked.event_id, &parked.webhook_id).await.expect("get").expect("stored")
    });
    assert!(matches!(stored.state, DeliveryState::Pending { .. }), "{stored:?}");
    assert_eq!(stored.attempts_this_round(), 0);
    assert!(ferry(&["webhooks", "parked", "--data-dir", data_dir]).ends_with("0 parked deliveries"));

    let output = Command::new(FERRY).args(["webhooks", "replay", "--data-dir", data_dir]).output().expect("run ferry");
    assert!(!output.status.success(), "replay needs --event or --parked");
}

/// `GET path` on a running `ferry serve` with `Authorization: Bearer key`:
/// the status and the body.
fn get_with_key(addr: &str, path: &str, key: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect(&response);
    (status, response)
}

/// A running `ferry serve`, killed when dropped (also when a test fails).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ferry serve` on the data directory and returns it with the
/// address it listens on.
fn serve(data_dir: &std::path::Path) -> (Server, String) {
    let mut server = Server(
        Command::new(FERRY)
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ferry serve"),
    );
    let received = stdout_lines(&mut server.0);
    loop {
        // Dropping `server` on a failure kills it.
        let line = received.recv_timeout(Duration::from_secs(30)).expect("ferry serve did not start");
        if let Some(rest) = line.strip_prefix("Ferry is listening on http://") {
            let addr = rest.split_whitespace().next().expect("an address").to_string();
            return (server, addr);
        }
    }
}

/// A rotation: a merchant holds two keys at once, lists them (never their
/// text nor their hash), and a key revoked — by its id or by itself — is
/// refused with 401 `invalid_api_key` on the next request to a server that
/// is already running, while the other keeps working.
#[test]
fn operators_rotate_keys_and_a_revoked_key_is_refused_at_once() {
    use ferry_domain::{ApiKey, Timestamp, utc_date, utc_day};

    let dir = TempDir::new("rotate");
    let data_dir = dir.as_str();
    let store = ["--data-dir", data_dir];
    let merchant = ferry(&[&["merchant", "create", "--name", "Acme"][..], &store].concat());
    let create = |label: &str| -> ApiKey {
        let key = ferry(&[&["api-key", "create", "--merchant", &merchant, "--label", label][..], &store].concat());
        key.parse().expect("API key printed")
    };
    let (old, new) = (create("old"), create("rotation 2026-12"));
    let (server, addr) = serve(dir.path());
    let today = || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        utc_date(utc_day(Timestamp::from_unix_seconds(now)))
    };
    let day = today();

    assert_eq!(get_with_key(&addr, "/v1/webhooks", &old.reveal()).0, 200);
    assert_eq!(get_with_key(&addr, "/v1/webhooks", &new.reveal()).0, 200);

    let listed = ferry(&[&["api-key", "list", "--merchant", &merchant][..], &store].concat());
    assert!(listed.ends_with("2 API keys"), "{listed}");
    for key in [&old, &new] {
        assert!(!listed.contains(&key.reveal()) && !listed.contains(&key.hash().to_string()), "{listed}");
    }
    let line_of = |label: &str| listed.lines().find(|l| l.ends_with(&format!("  {label}"))).expect(&listed).to_string();
    let old_line = line_of("old");
    assert!(old_line.contains("created "), "{old_line}");
    assert!(old_line.contains(&format!("last used {day}")) || day != today(), "used today: {old_line}");
    assert!(line_of("rotation 2026-12").contains("last used "), "{listed}");
    let old_id = old_line.split_whitespace().next().expect("an id");
    assert!(old_id.starts_with("key_"), "{old_line}");

    let revoked = ferry(&[&["api-key", "revoke", old_id][..], &store].concat());
    assert!(revoked.contains(old_id) && revoked.contains(&merchant), "{revoked}");
    let (status, body) = get_with_key(&addr, "/v1/webhooks", &old.reveal());
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_api_key"), "{body}");
    assert_eq!(get_with_key(&addr, "/v1/webhooks", &new.reveal()).0, 200, "the other key still works");

    ferry(&[&["api-key", "revoke", &new.reveal()][..], &store].concat());
    assert_eq!(get_with_key(&addr, "/v1/webhooks", &new.reveal()).0, 401);
    let again = Command::new(FERRY).args(["api-key", "revoke", &new.reveal(), "--data-dir", data_dir]).output();
    let again = again.expect("run ferry");
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("no such API key"));
    let listed = ferry(&[&["api-key", "list", "--merchant", &merchant][..], &store].concat());
    assert!(listed.ends_with("0 API keys"), "{listed}");
    let bad_label = Command::new(FERRY)
        .args(["api-key", "create", "--merchant", &merchant, "--label", "two\nlines", "--data-dir", data_dir])
        .output()
        .expect("run ferry");
    assert!(!bad_label.status.success(), "a label is one short line");
    drop(server);
}

/// README command 1 run again: `cargo xtask up` starts new chains each time
/// while the embedded store keeps the cursors of the earlier ones. A chain
/// without the factory is new, so its stale cursor (here far beyond the new
/// chain's head) is reset, and the self-check's payment is still detected
/// and delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_dev_on_new_chains_forgets_the_cursors_of_earlier_ones() {
    use ferry_domain::ChainId;
    use ferry_store::{ChainCursor, CursorStore};
    use ferry_testing::Anvil;

    let dir = TempDir::new("dev-new-chains");
    let store = SqliteStore::open(&dir.path().join("ferry.db")).expect("open");
    for chain in [31337, 31338] {
        let stale = ChainCursor { chain_id: ChainId::new(chain), last_scanned_block: 100_000 };
        store.advance_cursor(None, stale).await.expect("an earlier chain's cursor");
    }
    drop(store);
    let (a, b) = (Anvil::start(31337), Anvil::start(31338));
    let rpc = [format!("31337={}", a.url()), format!("31338={}", b.url())];
    let mut child = spawn_dev(dir.path(), &["--rpc", &rpc[0], "--rpc", &rpc[1]]);
    let (outcome, transcript) =
        tokio::task::block_in_place(|| read_until_serving(&mut child, Duration::from_secs(120)));
    let _ = child.kill();
    let _ = child.wait();
    assert!(outcome.is_ok(), "ferry dev did not finish its self-check:\n{transcript}");
    assert!(transcript.contains("Self-check passed"), "{transcript}");
    assert!(transcript.contains("delivered 10.00 USDC to the destination"), "{transcript}");
}
