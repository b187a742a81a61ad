//! `cargo xtask bench`: Ferry's performance claims, measured on real anvil
//! chains in one run, each against a baseline measured in the same run.
//!
//! 1. RPC calls per poll cycle with 10 and with 10,000 open sessions, over
//!    the same blocks, against a per-address poller (one `eth_getLogs` per
//!    open receiver) — the watcher's cost must not grow with sessions.
//! 2. Deposit mined → session `succeeded` latency (p50/p95) over 24
//!    payments on 1 s blocks, in blocks of the chain's own block time.
//! 3. The router's throughput: a backlog of deposits routed to their end,
//!    per minute, on one chain (sweeps) and across two (payout and
//!    collection), against the blocks the chains mined meanwhile.
//! 4. Store reads per scan with 10,000 unrelated transfers ([`store_reads`]).
//!
//! `cargo xtask bench store-reads` runs only the fourth (no chains needed).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ferry_chains::evm::ReceiverDerivation;
use ferry_chains::evm::client::EvmClient;
use ferry_chains::evm::contracts::IERC20;
use ferry_chains::evm::local;
use ferry_cli::workers::{RpcEndpoint, start_local};
use ferry_domain::{
    BaseUnits, ChainId, ChainRegistry, ClientSecret, Destination, DisplayInfo, EvmAddress, MerchantId, NewSession,
    Session, SessionId, SessionStatus, Timestamp,
};
use ferry_queue::memory::MemoryQueue;
use ferry_store::memory::MemoryStore;
use ferry_store::{SessionChange, SessionStore};
use ferry_watch::WatchedChain;
use poll_chains::PollChains;

mod store_reads;

type Error = Box<dyn std::error::Error + Send + Sync>;

const CHAIN_A: ChainId = ChainId::new(31337);
const CHAIN_B: ChainId = ChainId::new(31338);
const LATENCY_PAYMENTS: usize = 24;
const BLOCK_TIME: Duration = Duration::from_secs(1);

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_anvil(binary: &str, chain: ChainId) -> Result<Anvil, Error> {
    let port = free_port()?;
    let child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--chain-id", &chain.to_string()])
        .args(["--block-time", "1", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start anvil at {binary}: {e}"))?;
    let anvil = Anvil { child, url: format!("http://127.0.0.1:{port}") };
    let client = EvmClient::connect(chain, &anvil.url)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.provider().get_chain_id().await.is_err() {
        if Instant::now() > deadline {
            return Err("anvil did not start within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    local::deploy(chain, &anvil.url).await?;
    Ok(anvil)
}

fn new_session(index: u64, destination_chain: ChainId, amount: u128) -> Session {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&index.to_be_bytes());
    id[8..].copy_from_slice(&std::process::id().to_be_bytes().repeat(2));
    let token = ferry_domain::Token { symbol: "USDC".into(), address: EvmAddress::new(local::USDC), decimals: 6 };
    let new = NewSession {
        destination: Destination {
            address: EvmAddress::new(local::DESTINATION),
            chain_id: destination_chain,
            chain_name: "Anvil".into(),
            token,
            amount: Some(BaseUnits::new(amount)),
            calldata: None,
            delivery: None,
        },
        display: DisplayInfo::parse("bench".into(), "Pay".into(), None, None).expect("display"),
        metadata: None,
        refund_address: None,
    };
    let now = Timestamp::from_unix_seconds(unix_now());
    Session::create(
        new,
        SessionId::from_bytes(id),
        MerchantId::from_random_bytes([7; 16]),
        ClientSecret::from_bytes(id),
        now,
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Stores `count` sessions waiting for payment, returning their receivers.
async fn open_sessions(store: &MemoryStore, count: u64, first: u64) -> Result<Vec<(SessionId, Address)>, Error> {
    let receivers = ReceiverDerivation::new(local::FACTORY);
    let mut open = Vec::with_capacity(count as usize);
    for index in first..first + count {
        let session = new_session(index, CHAIN_A, 1_000_000);
        store.create_session(&session, None).await?;
        let receiver = receivers.receiver(&session.id);
        let now = Timestamp::from_unix_seconds(unix_now());
        let Some(next) = session.set_evm_payment_method(receiver, now)? else { continue };
        store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await?;
        open.push((session.id, receiver.into_inner()));
    }
    Ok(open)
}

/// RPC calls of one watcher cycle over `from..=to` with `count` open sessions.
async fn watcher_calls(url: &str, count: u64, from: u64, paid: &[Address]) -> Result<(u64, usize), Error> {
    let store = MemoryStore::new();
    // The paid receivers are the first sessions' (their ids are deterministic).
    let open = open_sessions(&store, count, 0).await?;
    debug_assert!(paid.iter().all(|p| open.iter().any(|(_, r)| r == p)));
    let client = EvmClient::connect(CHAIN_A, url)?;
    let registry = ChainRegistry::local()?;
    let chain = registry.chain(CHAIN_A).ok_or("no local chain")?.clone();
    let head = client.block_number().await?;
    let mut poller = PollChains::new(store, MemoryQueue::new(), vec![WatchedChain { chain, client: client.clone() }]);
    poller.initial_lookback = head.saturating_sub(1) - from;
    let before = client.rpc_calls();
    let report = poller.scan(&poller.chains()[0], Timestamp::from_unix_seconds(unix_now())).await?;
    Ok((client.rpc_calls() - before, report.deposits_enqueued))
}

/// RPC calls of a per-address poller: one `eth_getLogs` per open receiver.
async fn per_address_calls(url: &str, receivers: &[Address], from: u64, to: u64) -> Result<u64, Error> {
    let client = EvmClient::connect(CHAIN_A, url)?;
    let mut calls = 0;
    for receiver in receivers {
        let filter = Filter::new()
            .address(local::USDC)
            .event_signature(IERC20::Transfer::SIGNATURE_HASH)
            .topic2(receiver.into_word())
            .from_block(from)
            .to_block(to);
        client.provider().get_logs(&filter).await?;
        calls += 1;
    }
    Ok(calls)
}

async fn rpc_calls_per_cycle(anvil: &Anvil) -> Result<(), Error> {
    println!("1. RPC calls per poll cycle (one chain, the same blocks)");
    let client = EvmClient::connect(CHAIN_A, &anvil.url)?;
    let from = client.block_number().await? + 1;
    // Three payments to the first sessions' receivers (ids are deterministic).
    let probe = MemoryStore::new();
    let paid: Vec<Address> = open_sessions(&probe, 3, 0).await?.into_iter().map(|(_, r)| r).collect();
    for receiver in &paid {
        local::pay_from_test_wallet(CHAIN_A, &anvil.url, *receiver, U256::from(1_000_000u64)).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to = client.block_number().await?.saturating_sub(1);
    println!("   blocks {from}..={to}, 3 deposits");
    let mut ours = Vec::new();
    for count in [10u64, 10_000] {
        let (calls, found) = watcher_calls(&anvil.url, count, from, &paid).await?;
        let all: Vec<Address> =
            open_sessions(&MemoryStore::new(), count, 0).await?.into_iter().map(|(_, r)| r).collect();
        let naive = per_address_calls(&anvil.url, &all, from, to).await?;
        println!(
            "   {count:>6} open sessions: watcher {calls} calls ({found} deposits found), per-address poller {naive} calls — {:.0}× fewer",
            naive as f64 / calls as f64
        );
        ours.push(calls);
    }
    if ours[0] != ours[1] {
        return Err(format!("the watcher's calls grew with sessions: {ours:?}").into());
    }
    println!("   watcher calls with 10 and 10,000 open sessions are equal: {}", ours[0]);
    Ok(())
}

async fn latency(a: &Anvil, b: &Anvil) -> Result<(), Error> {
    println!("2. Deposit mined → succeeded, {LATENCY_PAYMENTS} payments on 1 s blocks (half cross-chain)");
    let store = MemoryStore::new();
    let registry = ChainRegistry::local()?;
    let endpoints =
        [RpcEndpoint { chain_id: CHAIN_A, url: a.url.clone() }, RpcEndpoint { chain_id: CHAIN_B, url: b.url.clone() }];
    let queue_file = std::env::temp_dir().join(format!("ferry-bench-queues-{}.db", std::process::id()));
    let queues = ferry_cli::workers::LocalQueues::open(&queue_file)?;
    let workers = start_local(store.clone(), &queues, &registry, &endpoints).await?;
    let receivers = ReceiverDerivation::new(local::FACTORY);
    let mut samples = Vec::new();
    for index in 0..LATENCY_PAYMENTS as u64 {
        let session = new_session(1_000_000 + index, CHAIN_A, 1_000_000);
        store.create_session(&session, None).await?;
        let receiver = receivers.receiver(&session.id);
        let now = Timestamp::from_unix_seconds(unix_now());
        let next = session.set_evm_payment_method(receiver, now)?.ok_or("payment method not set")?;
        store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await?;
        let source = if index % 2 == 0 { &endpoints[0] } else { &endpoints[1] };
        local::pay_from_test_wallet(source.chain_id, &source.url, receiver.into_inner(), U256::from(1_000_000u64))
            .await?;
        let mined = Instant::now();
        let deadline = mined + Duration::from_secs(60);
        loop {
            let status = store.get_session(&session.id).await?.map(|s| s.status());
            if status == Some(SessionStatus::Succeeded) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("payment {index} not delivered within 60 s ({status:?})").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        samples.push(mined.elapsed());
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let (p50, p95) = (pick(0.50), pick(0.95));
    println!(
        "   p50 {:.2} s = {:.1} block times, p95 {:.2} s = {:.1} block times (1 s blocks), max {:.2} s",
        p50.as_secs_f64(),
        p50.as_secs_f64() / BLOCK_TIME.as_secs_f64(),
        p95.as_secs_f64(),
        p95.as_secs_f64() / BLOCK_TIME.as_secs_f64(),
        samples[samples.len() - 1].as_secs_f64()
    );
    for task in workers.tasks {
        task.abort();
    }
    Ok(())
}

/// Deposits in the router's backlog for the throughput figure.
const BACKLOG: u64 = 20;

/// Pays [`BACKLOG`] sessions (destination chain A) from `source` while no
/// worker runs, then starts the workers and times the backlog to its end.
async fn throughput(a: &Anvil, b: &Anvil, source_chain: ChainId, label: &str, seed: u64) -> Result<(), Error> {
    let store = MemoryStore::new();
    let registry = ChainRegistry::local()?;
    let endpoints =
        [RpcEndpoint { chain_id: CHAIN_A, url: a.url.clone() }, RpcEndpoint { chain_id: CHAIN_B, url: b.url.clone() }];
    let source = endpoints.iter().find(|e| e.chain_id == source_chain).ok_or("no such chain")?;
    let receivers = ReceiverDerivation::new(local::FACTORY);
    let mut sessions = Vec::new();
    for index in 0..BACKLOG {
        let session = new_session(seed + index, CHAIN_A, 1_000_000);
        store.create_session(&session, None).await?;
        let receiver = receivers.receiver(&session.id);
        let now = Timestamp::from_unix_seconds(unix_now());
        let next = session.set_evm_payment_method(receiver, now)?.ok_or("payment method not set")?;
        store.commit(SessionChange::new(&next).claiming_receiver(receiver)).await?;
        local::pay_from_test_wallet(source.chain_id, &source.url, receiver.into_inner(), U256::from(1_000_000u64))
            .await?;
        sessions.push(session.id);
    }
    let client = EvmClient::connect(CHAIN_A, &a.url)?;
    let head_before = client.block_number().await?;
    let queue_file = std::env::temp_dir().join(format!("ferry-bench-throughput-{}-{seed}.db", std::process::id()));
    let queues = ferry_cli::workers::LocalQueues::open(&queue_file)?;
    let started = Instant::now();
    let workers = start_local(store.clone(), &queues, &registry, &endpoints).await?;
    let deadline = started + Duration::from_secs(300);
    loop {
        let mut done = 0;
        for id in &sessions {
            if store.get_session(id).await?.map(|s| s.status()) == Some(SessionStatus::Succeeded) {
                done += 1;
            }
        }
        if done == sessions.len() {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{label}: only {done} of {BACKLOG} deposits routed within 300 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let blocks = client.block_number().await?.saturating_sub(head_before).max(1);
    for task in workers.tasks {
        task.abort();
    }
    let _ = std::fs::remove_file(&queue_file);
    println!(
        "   {label}: {BACKLOG} deposits in {:.1} s = {:.0} per minute; the chains mined {blocks} blocks meanwhile: {:.2} deposits per block",
        elapsed.as_secs_f64(),
        BACKLOG as f64 * 60.0 / elapsed.as_secs_f64(),
        BACKLOG as f64 / blocks as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::args().nth(1).as_deref() == Some("store-reads") {
        return store_reads::store_reads_per_scan().await;
    }
    let anvil = std::env::var("FERRY_TEST_ANVIL")
        .map_err(|_| "FERRY_TEST_ANVIL is not set: run `cargo xtask bench`, which installs anvil")?;
    let a = start_anvil(&anvil, CHAIN_A).await?;
    let b = start_anvil(&anvil, CHAIN_B).await?;
    rpc_calls_per_cycle(&a).await?;
    latency(&a, &b).await?;
    println!("3. The router's throughput: a backlog of {BACKLOG} deposits, routed one at a time by one relayer");
    throughput(&a, &b, CHAIN_A, "one chain (sweeps on A)", 2_000_000).await?;
    throughput(&a, &b, CHAIN_B, "two chains (paid on B: payout on A, collection on B)", 3_000_000).await?;
    store_reads::store_reads_per_scan().await?;
    Ok(())
}
