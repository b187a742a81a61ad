//! The local development chains: anvil's public, well-known test accounts
//! and the deployment of Ferry's contracts and a test stablecoin onto a
//! fresh anvil, at the same addresses on every chain.
//!
//! These keys are anvil's published defaults (mnemonic "test test … junk"):
//! they guard nothing and must never hold real funds.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256, address};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use ferry_domain::ChainId;

use super::client::{BoxError, ChainError};
use super::contracts::{FerryFactory, TestStablecoin};
use crate::redact::Redacted;

/// anvil account 0: deploys the contracts and owns the factory.
pub const DEPLOYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil account 2: the relayer.
pub const RELAYER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// anvil account 3: a payer with test stablecoins.
pub const PAYER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
/// anvil account 1: where the local walkthrough's money lands.
pub const DESTINATION: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
/// anvil account 4: the treasury that collects deposits paid out elsewhere.
pub const TREASURY: Address = address!("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65");

/// The first contract account 0 deploys (nonce 0).
pub const FACTORY: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
/// The second (nonce 1): the test USDC, as `chains/local.toml` lists it.
pub const USDC: Address = address!("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");

/// Test USDC minted to the payer and to the relayer's inventory on each chain.
pub const MINTED_UNITS: u64 = 1_000_000 * 1_000_000;

/// The signer of one of the well-known keys above.
///
/// # Panics
///
/// On anything but a valid key: it is meant for the constants above (a test
/// holds them to the accounts they name), never for input.
pub fn signer(key: &str) -> PrivateKeySigner {
    key.parse().expect("one of the well-known anvil keys")
}

fn failed(chain: ChainId, what: &'static str, source: impl Into<BoxError>) -> ChainError {
    let source: BoxError = source.into();
    ChainError::Transaction { chain, what, source: Box::new(Redacted::of(source.as_ref())) }
}

/// The RPC client of the local tooling's providers: a worker's (a timeout
/// per request, transient failures retried), like every RPC client.
fn rpc(chain_id: ChainId, url: &str) -> Result<alloy::rpc::client::RpcClient, ChainError> {
    super::transport::rpc_client(chain_id, url, super::transport::RpcOptions::WORKER)
}

/// Whether the chain at `url` has the factory already: `false` on a chain
/// the local tooling has not prepared, such as a freshly started anvil.
pub async fn has_factory(chain_id: ChainId, url: &str) -> Result<bool, ChainError> {
    let provider = ProviderBuilder::new().connect_client(rpc(chain_id, url)?);
    let code = provider.get_code_at(FACTORY).await.map_err(|e| failed(chain_id, "reading code", e))?;
    Ok(!code.is_empty())
}

/// Deploys the factory and the test USDC at their fixed addresses (unless
/// already there), mints test USDC to the payer and the relayer, and lets
/// the factory draw on the relayer's inventory for payouts with a call.
pub async fn deploy(chain_id: ChainId, url: &str) -> Result<(), ChainError> {
    let deployer = signer(DEPLOYER_KEY);
    let owner = deployer.address();
    let relayer = signer(RELAYER_KEY);
    let payer = signer(PAYER_KEY);
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(deployer)).connect_client(rpc(chain_id, url)?);

    let has_code = |at: Address| {
        let provider = provider.clone();
        async move { provider.get_code_at(at).await.map(|code| !code.is_empty()) }
    };
    if !has_code(FACTORY).await.map_err(|e| failed(chain_id, "reading code", e))? {
        let deployed = FerryFactory::deploy(&provider, owner, relayer.address())
            .await
            .map_err(|e| failed(chain_id, "deploying the factory", e))?;
        if *deployed.address() != FACTORY {
            return Err(failed(
                chain_id,
                "deploying the factory",
                format!("landed at {}, not {FACTORY}: account 0 had sent transactions before", deployed.address()),
            ));
        }
    }
    if !has_code(USDC).await.map_err(|e| failed(chain_id, "reading code", e))? {
        let deployed = TestStablecoin::deploy(&provider, "USD Coin".into(), "USDC".into())
            .await
            .map_err(|e| failed(chain_id, "deploying the test USDC", e))?;
        if *deployed.address() != USDC {
            return Err(failed(
                chain_id,
                "deploying the test USDC",
                format!("landed at {}, not {USDC}", deployed.address()),
            ));
        }
    }
    let usdc = TestStablecoin::new(USDC, &provider);
    for holder in [payer.address(), relayer.address()] {
        let balance = usdc.balanceOf(holder).call().await.map_err(|e| failed(chain_id, "reading a balance", e))?;
        if balance < U256::from(MINTED_UNITS / 2) {
            usdc.mint(holder, U256::from(MINTED_UNITS))
                .send()
                .await
                .map_err(|e| failed(chain_id, "minting test USDC", e))?
                .get_receipt()
                .await
                .map_err(|e| failed(chain_id, "minting test USDC", e))?;
        }
    }
    let relayer_provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(relayer.clone())).connect_client(rpc(chain_id, url)?);
    let as_relayer = TestStablecoin::new(USDC, &relayer_provider);
    let allowance = as_relayer
        .allowance(relayer.address(), FACTORY)
        .call()
        .await
        .map_err(|e| failed(chain_id, "reading an allowance", e))?;
    if allowance < U256::from(MINTED_UNITS) {
        as_relayer
            .approve(FACTORY, U256::MAX)
            .send()
            .await
            .map_err(|e| failed(chain_id, "approving the factory", e))?
            .get_receipt()
            .await
            .map_err(|e| failed(chain_id, "approving the factory", e))?;
    }
    Ok(())
}

/// Sends `amount` base units of the test USDC from the payer's wallet to
/// `to`, as a payer's wallet app would, and waits for it to be mined.
pub async fn pay_from_test_wallet(
    chain_id: ChainId,
    url: &str,
    to: Address,
    amount: U256,
) -> Result<alloy::primitives::B256, ChainError> {
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer(PAYER_KEY))).connect_client(rpc(chain_id, url)?);
    let receipt = TestStablecoin::new(USDC, &provider)
        .transfer(to, amount)
        .send()
        .await
        .map_err(|e| failed(chain_id, "paying from the test wallet", e))?
        .get_receipt()
        .await
        .map_err(|e| failed(chain_id, "paying from the test wallet", e))?;
    Ok(receipt.transaction_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_keys_are_the_accounts_named() {
        assert_eq!(signer(DEPLOYER_KEY).address(), address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(signer(RELAYER_KEY).address(), address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"));
        assert_eq!(signer(PAYER_KEY).address(), address!("0x90F79bf6EB2c4f870365E785982E1f101E93b906"));
        assert_eq!(FACTORY, signer(DEPLOYER_KEY).address().create(0));
        assert_eq!(USDC, signer(DEPLOYER_KEY).address().create(1));
    }
}
