//! Reading one wallet's balances of several tokens on one chain in ONE RPC
//! request, however many tokens there are.
//!
//! The request is an `eth_call` of Multicall3's `aggregate3` (deployed at
//! [`MULTICALL3_ADDRESS`] on every production chain Ferry serves), each
//! `balanceOf` allowed to fail on its own. Where Multicall3 has no code —
//! local anvil chains — that call returns no data; the reader then remembers
//! it and from then on sends the `balanceOf` calls as one JSON-RPC batch
//! request of `eth_call`s instead (still one HTTP request per chain).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::bindings::IMulticall3;
use alloy::providers::{MULTICALL3_ADDRESS, Provider};
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use alloy::transports::RpcError;
use ferry_domain::ChainId;

use super::client::{ChainError, EvmClient};
use super::contracts::IERC20;

/// How a [`BalanceReader`] reads a chain's balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BalanceBatching {
    /// One `eth_call` of Multicall3's `aggregate3`.
    Multicall3,
    /// One JSON-RPC batch request of `eth_call`s (Multicall3 has no code there).
    JsonRpcBatch,
}

/// Reads token balances on one chain, one RPC request per read.
#[derive(Clone)]
pub struct BalanceReader {
    client: EvmClient,
    multicall: Address,
    /// Set once the Multicall3 address turned out to have no code.
    no_multicall: Arc<AtomicBool>,
}

impl BalanceReader {
    /// A reader through `client`, using Multicall3 at its canonical address.
    pub fn new(client: EvmClient) -> Self {
        Self { client, multicall: MULTICALL3_ADDRESS, no_multicall: Arc::default() }
    }

    /// Uses a Multicall3 (its `aggregate3`) at another address.
    pub fn with_multicall_address(mut self, address: Address) -> Self {
        self.multicall = address;
        self
    }

    pub fn chain_id(&self) -> ChainId {
        self.client.chain_id()
    }

    pub fn client(&self) -> &EvmClient {
        &self.client
    }

    /// How the next read will be made.
    pub fn batching(&self) -> BalanceBatching {
        if self.no_multicall.load(Ordering::Relaxed) {
            BalanceBatching::JsonRpcBatch
        } else {
            BalanceBatching::Multicall3
        }
    }

    /// `owner`'s balance of each of `tokens`, in order, at the latest block:
    /// `None` for a token whose `balanceOf` failed or answered something
    /// that is not a `uint256`. An error means the chain could not be read.
    ///
    /// One RPC request; two the first time on a chain without Multicall3.
    pub async fn balances(&self, owner: Address, tokens: &[Address]) -> Result<Vec<Option<U256>>, ChainError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        if !self.no_multicall.load(Ordering::Relaxed) {
            match self.multicall_balances(owner, tokens).await? {
                Some(balances) => return Ok(balances),
                None => {
                    tracing::info!(
                        chain = %self.chain_id(),
                        multicall = %self.multicall,
                        "Multicall3 has no code on this chain; reading balances with JSON-RPC batches"
                    );
                    self.no_multicall.store(true, Ordering::Relaxed);
                }
            }
        }
        self.batched_balances(owner, tokens).await
    }

    /// `None` when the Multicall3 address has no code (the call returns no data).
    async fn multicall_balances(
        &self,
        owner: Address,
        tokens: &[Address],
    ) -> Result<Option<Vec<Option<U256>>>, ChainError> {
        let calls = tokens
            .iter()
            .map(|&target| IMulticall3::Call3 { target, allowFailure: true, callData: balance_of(owner) })
            .collect();
        let request = call_request(self.multicall, IMulticall3::aggregate3Call { calls }.abi_encode().into());
        let provider = self.client.provider();
        let output = self.client.call("eth_call aggregate3", || async { provider.call(request.clone()).await }).await?;
        if output.is_empty() {
            return Ok(None);
        }
        let results = IMulticall3::aggregate3Call::abi_decode_returns(&output)
            .map_err(|e| self.malformed("eth_call aggregate3", Box::new(e)))?;
        if results.len() != tokens.len() {
            let message = format!("{} results for {} calls", results.len(), tokens.len());
            return Err(self.malformed("eth_call aggregate3", message.into()));
        }
        Ok(Some(
            results
                .into_iter()
                .map(|result| if result.success { decode_balance(&result.returnData) } else { None })
                .collect(),
        ))
    }

    async fn batched_balances(&self, owner: Address, tokens: &[Address]) -> Result<Vec<Option<U256>>, ChainError> {
        let client = self.client.provider().client();
        let params: Vec<(TransactionRequest, BlockId)> =
            tokens.iter().map(|&token| (call_request(token, balance_of(owner)), BlockId::latest())).collect();
        self.client
            .call("eth_call batch", || async {
                let mut batch = BatchRequest::new(client);
                let mut waiters = Vec::with_capacity(params.len());
                for params in &params {
                    waiters.push(batch.add_call::<_, Bytes>("eth_call", params)?);
                }
                batch.send().await?;
                let mut balances = Vec::with_capacity(waiters.len());
                for waiter in waiters {
                    balances.push(match waiter.await {
                        Ok(output) => decode_balance(&output),
                        // The node answered this call with an error (a revert): no balance for this token.
                        Err(RpcError::ErrorResp(_)) => None,
                        Err(other) => return Err(other),
                    });
                }
                Ok(balances)
            })
            .await
    }

    fn malformed(&self, call: &'static str, source: super::client::BoxError) -> ChainError {
        ChainError::MalformedResponse { chain: self.chain_id(), call, source }
    }
}

fn balance_of(owner: Address) -> Bytes {
    IERC20::balanceOfCall { account: owner }.abi_encode().into()
}

fn call_request(to: Address, input: Bytes) -> TransactionRequest {
    TransactionRequest::default().to(to).input(input.into())
}

/// A `uint256` return value; `None` for anything else.
fn decode_balance(output: &[u8]) -> Option<U256> {
    output.get(..32).map(U256::from_be_slice)
}
