//! The relayer's funds as `route-deposits` reads them for its metrics, on
//! a chain of the test's own (anvil) with Ferry's contracts deployed: the
//! gas the relayer account holds and the test USDC minted to it.

use std::time::Duration;

use ferry_chains::evm::client::EvmClient;
use ferry_chains::evm::local;
use ferry_domain::{ChainId, ChainRegistry};
use ferry_testing::{Anvil, bounded};
use route_deposits::funds::RelayerFunds;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relayers_gas_and_inventory_are_read_per_chain_at_most_once_an_interval() {
    let anvil = Anvil::start(31337);
    let chain_id = ChainId::new(31337);
    tokio::time::timeout(Duration::from_secs(60), local::deploy(chain_id, anvil.url()))
        .await
        .expect("deploy within a minute")
        .expect("deploy Ferry's contracts");
    let chain = ChainRegistry::local().expect("registry").chain(chain_id).expect("chain").clone();
    let relayer = local::signer(local::RELAYER_KEY).address();
    let client = EvmClient::connect(chain_id, anvil.url()).expect("client");
    let funds = RelayerFunds::new(relayer, vec![(chain, client)]);

    let read = bounded(funds.emit_if_due(|error| error.to_string())).await.expect("the first read is due");

    assert_eq!(read.len(), 1);
    assert_eq!(read[0].chain_id, 31337);
    // anvil's accounts start with 10,000 ETH; the relayer paid gas for its
    // approval of the factory.
    let gas = read[0].gas.expect("the gas balance");
    assert!(gas > 9_999.0 && gas < 10_000.0, "{gas}");
    assert_eq!(read[0].inventory, Some(local::MINTED_UNITS as f64 / 1e6));
    // Not again within the interval.
    assert!(bounded(funds.emit_if_due(|error| error.to_string())).await.is_none());
}
