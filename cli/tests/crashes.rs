//! No deposit is ever stranded: `ferry serve` on two anvil chains, a batch
//! of payments (same-chain and cross-chain), and the process killed with
//! SIGKILL at random points while they are detected and routed, then started
//! again on the same data directory each time. Every session must end
//! `succeeded`, and every destination must hold exactly its amount: paid
//! once, never twice, never not at all.
//!
//! The random points come from a seed printed with every failure, so a
//! failing run can be replayed with `FERRY_CRASH_SEED=<seed>`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, U256};
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, Chains, relayer, spawn_chains, usdc};
use serde_json::{Value, json};

mod support;

use ferry_testing::TempDir;
use support::{FERRY, ferry, stdout_lines};
/// Payments in the batch: half from chain B (a payout from inventory on A
/// plus a collection on B), half on chain A (a sweep to the destination).
const PAYMENTS: usize = 6;
const KILLS: usize = 5;
/// How long every session gets to succeed after the last restart: the
/// durable queue brings an in-flight message back after 30 s, the recovery
/// sweep finds a lost one after 60 s.
const SETTLE: Duration = Duration::from_secs(150);

/// A small deterministic generator (xorshift64*), seeded per run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A duration in `[low, high)` milliseconds.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

fn seed() -> u64 {
    std::env::var("FERRY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        nanos | 1
    })
}

/// One `ferry serve` process on the data directory.
struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    fn start(data_dir: &Path, chains: &Chains) -> Server {
        let mut command = Command::new(FERRY);
        command.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        for endpoint in chains.rpc_endpoints() {
            command.arg("--rpc").arg(format!("{}={}", endpoint.chain_id, endpoint.url));
        }
        let child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start ferry serve");
        // Owned by a `Server` at once: dropping it (a panic included) kills and reaps it.
        let mut server = Server { child, base_url: String::new() };
        let received = stdout_lines(&mut server.child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("Ferry is listening on ") {
                        server.base_url = rest.split_whitespace().next().expect("a URL").to_string();
                        return server;
                    }
                }
                Err(error) => panic!("ferry serve did not start listening within 60 s: {error}"),
            }
        }
    }

    /// SIGKILL: no shutdown, no flush, whatever it was doing.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A destination nobody else pays (the chains are this test's own): its
/// balance is what Ferry delivered.
fn destination(index: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xde;
    bytes[19] = u8::try_from(index).expect("few payments");
    Address::from(bytes)
}

async fn api(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_ferry_serve_at_random_points_strands_no_deposit_and_pays_nothing_twice() {
    let seed = seed();
    println!("FERRY_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let chains = spawn_chains().await;
    let dir = TempDir::new("crashes");
    let data_dir = dir.as_str().to_string();
    let merchant = ferry(&["merchant", "create", "--name", "Crash test", "--data-dir", &data_dir]);
    let key = ferry(&["api-key", "create", "--merchant", &merchant, "--data-dir", &data_dir]);

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let inventory_before = chains.get(CHAIN_A).usdc_balance(relayer()).await;
    let mut server = Server::start(dir.path(), &chains);

    // Sessions and their deposit addresses, over the API.
    let mut sessions = Vec::new();
    for index in 0..PAYMENTS {
        let amount = format!("{}.{:02}", 2 + index, index);
        let body = json!({
            "destination": {
                "type": "evm",
                "address": destination(index).to_string(),
                "chainId": CHAIN_A,
                "tokenAddress": ferry_chains::evm::local::USDC.to_string(),
                "amountUnits": amount,
            },
            "display": { "title": format!("Order {index}"), "verb": "Pay" },
        });
        let created = api(client.post(format!("{}/v1/sessions", server.base_url)).bearer_auth(&key).json(&body)).await;
        let session = &created["session"];
        let id = session["sessionId"].as_str().expect("id").to_string();
        let secret = session["clientSecret"].as_str().expect("secret").to_string();
        let method = json!({ "clientSecret": secret, "paymentMethod": { "type": "evm" } });
        let url = format!("{}/v1/sessions/{id}/paymentMethods", server.base_url);
        let set = api(client.post(url).json(&method)).await;
        let receiver: Address =
            set["session"]["paymentMethod"]["receiverAddress"].as_str().expect("receiver").parse().expect("address");
        sessions.push((id, receiver, usdc(&amount)));
    }

    // Pay them one after another while the server is killed and restarted
    // at random points: before, during and after detection and routing.
    let mut kills = 0;
    let mut next_kill = Instant::now() + rng.millis(300, 2_500);
    for (index, (_, receiver, amount)) in sessions.iter().enumerate() {
        let chain = if index % 2 == 0 { CHAIN_B } else { CHAIN_A };
        chains.get(chain).pay(*receiver, *amount).await;
        while kills < KILLS && Instant::now() >= next_kill {
            server.kill();
            kills += 1;
            tokio::time::sleep(rng.millis(0, 500)).await;
            server = Server::start(dir.path(), &chains);
            next_kill = Instant::now() + rng.millis(300, 4_000);
        }
    }
    while kills < KILLS {
        tokio::time::sleep(next_kill.saturating_duration_since(Instant::now())).await;
        server.kill();
        kills += 1;
        server = Server::start(dir.path(), &chains);
        next_kill = Instant::now() + rng.millis(300, 4_000);
    }

    // Every session ends `succeeded`.
    let deadline = Instant::now() + SETTLE;
    let mut statuses = Vec::new();
    loop {
        statuses.clear();
        for (id, _, _) in &sessions {
            let url = format!("{}/v1/sessions/{id}", server.base_url);
            let body = api(client.get(url).bearer_auth(&key)).await;
            statuses.push(body["session"]["status"].as_str().unwrap_or("?").to_string());
        }
        if statuses.iter().all(|status| status == "succeeded") || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        statuses.iter().all(|status| status == "succeeded"),
        "FERRY_CRASH_SEED={seed}: not every session succeeded within {SETTLE:?} of the last restart: {statuses:?}"
    );

    // Each destination holds exactly its amount: paid once.
    let chain_a = chains.get(CHAIN_A);
    let mut cross_chain_total = U256::ZERO;
    for (index, (id, receiver, amount)) in sessions.iter().enumerate() {
        let received = chain_a.usdc_balance(destination(index)).await;
        assert_eq!(received, *amount, "FERRY_CRASH_SEED={seed}: session {id}'s destination received {received}");
        let paid_on = if index % 2 == 0 { CHAIN_B } else { CHAIN_A };
        let left = chains.get(paid_on).usdc_balance(*receiver).await;
        assert_eq!(left, U256::ZERO, "FERRY_CRASH_SEED={seed}: session {id}'s receiver still holds {left}");
        if paid_on == CHAIN_B {
            cross_chain_total += *amount;
        }
    }
    // The relayer's inventory on A paid each cross-chain session once.
    let inventory_after = chain_a.usdc_balance(relayer()).await;
    assert_eq!(
        inventory_before - inventory_after,
        cross_chain_total,
        "FERRY_CRASH_SEED={seed}: the inventory paid out more or less than the cross-chain payments"
    );
    server.kill();
}
