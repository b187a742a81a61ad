//! Nodes that fail as public providers do — 20 % of requests answered 503,
//! 10 % held 2–4 s, 2 % of answers cut off — slow payments down but lose
//! none: the workers (their start-up's contract checks and deployments
//! included) retry what a second try fixes inside each call, and a routing
//! attempt that fails anyway comes back in seconds.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferry_chains::evm::local;
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, usdc};
use ferry_e2e::evm::{SessionRequest, spawn_app_behind_flaky_nodes};
use ferry_e2e::flaky::FaultProfile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_succeed_through_nodes_that_fail_like_public_providers() {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    println!("flaky node seed {seed}");
    let app = spawn_app_behind_flaky_nodes(FaultProfile::PUBLIC_PROVIDER, seed).await;
    let destination = app.chains.get(CHAIN_A);
    let before = destination.usdc_balance(local::DESTINATION).await;

    let same_chain = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
    let cross_chain = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("7.00")).await;
    let started = Instant::now();
    app.pay(CHAIN_A, same_chain.receiver, "10.00").await;
    app.pay(CHAIN_B, cross_chain.receiver, "7.00").await;
    app.wait_for_status(&same_chain.id, "succeeded").await;
    app.wait_for_status(&cross_chain.id, "succeeded").await;
    let took = started.elapsed();

    assert_eq!(destination.usdc_balance(local::DESTINATION).await - before, usdc("17.00"), "each paid exactly once");
    // The faults really happened, on both nodes.
    for node in &app.flaky_nodes {
        let [requests, unavailable, delayed, _truncated] = node.counts.snapshot();
        assert!(requests >= 20 && unavailable > 0 && delayed > 0, "{:?}", node.counts);
        let _ = node.counts.truncated.load(Ordering::Relaxed);
    }
    assert!(took < Duration::from_secs(60), "both payments took {took:?}");
}
