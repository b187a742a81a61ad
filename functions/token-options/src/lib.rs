//! `GET /v1/sessions/{sessionId}/tokenOptions?clientSecret=&evmAddress=&solanaAddress=`:
//! the stablecoins the payer can pay a session with — every token of every
//! chain in the registry — with the amount each would take and, given the
//! payer's EVM wallet, its balance of each.
//!
//! - `requiredUnits` is the session's amount converted at par to the token's
//!   decimals, rounded up so that paying it is never short; `null` when the
//!   session has no fixed amount.
//! - Balances are read with ONE RPC request per chain ([`BalanceReader`]:
//!   Multicall3's `aggregate3`, or a JSON-RPC batch where Multicall3 has no
//!   code), all chains at once, each bounded by a timeout. A chain without a
//!   node, or whose node fails or is slow, is listed without balances; the
//!   failure is logged (without the RPC URL, which may carry an API key).
//! - `solanaAddress` is accepted and ignored: Solana is not supported yet.

pub mod config;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use ferry_chains::evm::balances::BalanceReader;
use ferry_chains::evm::client::{ChainError, EvmClient, RetryPolicy};
use ferry_chains::redact::redacted_chain;
use ferry_domain::{BaseUnits, ChainId, ChainRegistry, EvmAddress, Session};
use ferry_http::auth::check_client_secret;
use ferry_http::request::query_param;
use ferry_http::wire::{TokenOptionView, TokenOptionsResponse};
use ferry_http::{ApiError, HandlerResult, Request, json, sessions};
use ferry_store::SessionStore;
use http::StatusCode;

/// How long one chain's balances may take before the chain is listed
/// without them.
pub const CHAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// A payer is waiting: one attempt per request, no retries.
const INTERACTIVE: RetryPolicy = RetryPolicy { attempts: 1, first_backoff: Duration::ZERO };

/// A balance reader for `chain_id` at `url`, set up for answering requests
/// (no retries: a slow or failing chain is simply listed without balances).
pub fn connect_reader(chain_id: ChainId, url: &str) -> Result<BalanceReader, ChainError> {
    Ok(BalanceReader::new(EvmClient::connect_with_timeout(chain_id, url, CHAIN_TIMEOUT)?.with_retry(INTERACTIVE)))
}

pub struct TokenOptions<S> {
    store: S,
    registry: Arc<ChainRegistry>,
    readers: BTreeMap<ChainId, BalanceReader>,
    chain_timeout: Duration,
}

impl<S: SessionStore> TokenOptions<S> {
    /// Lists the options of `registry`'s chains, without balances until
    /// readers are added.
    pub fn new(store: S, registry: Arc<ChainRegistry>) -> Self {
        Self { store, registry, readers: BTreeMap::new(), chain_timeout: CHAIN_TIMEOUT }
    }

    /// Reads balances on the readers' chains. A reader for a chain that is
    /// not in the registry is never used.
    pub fn with_balance_readers(mut self, readers: impl IntoIterator<Item = BalanceReader>) -> Self {
        for reader in readers {
            let chain = reader.chain_id();
            if self.registry.chain(chain).is_none() {
                tracing::warn!(%chain, "chain is not in the chain registry; its node is not used");
                continue;
            }
            self.readers.insert(chain, reader);
        }
        self
    }

    pub fn with_chain_timeout(mut self, timeout: Duration) -> Self {
        self.chain_timeout = timeout;
        self
    }

    #[tracing::instrument(skip_all)]
    pub async fn handle(&self, request: Request) -> HandlerResult {
        let id = sessions::session_id(&request)?;
        let session = sessions::load(&self.store, &id).await?;
        check_client_secret(&session, query_param(&request, "clientSecret").as_deref())?;
        let wallet = evm_address(&request)?;
        // `solanaAddress` is accepted and ignored: there are no Solana options yet.
        let balances = match wallet {
            Some(wallet) => self.balances(wallet.into_inner()).await,
            None => BTreeMap::new(),
        };
        let options = options(&session, &self.registry, &balances);
        json(StatusCode::OK, &TokenOptionsResponse { session_id: session.id.to_string(), options })
    }

    /// The wallet's balances on every chain that has a reader and answered
    /// in time, each chain's in the order of its registry tokens.
    async fn balances(&self, owner: Address) -> BTreeMap<ChainId, Vec<Option<U256>>> {
        let reads = self.readers.values().filter_map(|reader| {
            let chain = self.registry.chain(reader.chain_id())?;
            let tokens: Vec<Address> = chain.tokens.iter().map(|token| token.address.into_inner()).collect();
            Some(async move {
                let read = tokio::time::timeout(self.chain_timeout, reader.balances(owner, &tokens)).await;
                (chain.id, read)
            })
        });
        let mut balances = BTreeMap::new();
        for (chain, read) in futures::future::join_all(reads).await {
            match read {
                Ok(Ok(read)) => {
                    balances.insert(chain, read);
                }
                Ok(Err(error)) => {
                    tracing::warn!(%chain, error = %redacted_chain(&error), "reading balances failed; the chain is listed without them");
                }
                Err(_elapsed) => {
                    let timeout_ms = self.chain_timeout.as_millis() as u64;
                    tracing::warn!(%chain, timeout_ms, "reading balances timed out; the chain is listed without them");
                }
            }
        }
        balances
    }
}

/// The `evmAddress` query parameter; empty counts as absent.
fn evm_address(request: &Request) -> Result<Option<EvmAddress>, ApiError> {
    match query_param(request, "evmAddress").filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|error| ApiError::invalid("evmAddress", error)),
    }
}

/// Every token of every chain in `registry`, in order, priced for `session`.
fn options(
    session: &Session,
    registry: &ChainRegistry,
    balances: &BTreeMap<ChainId, Vec<Option<U256>>>,
) -> Vec<TokenOptionView> {
    let destination = &session.destination;
    let mut options = Vec::new();
    for chain in registry.chains() {
        let chain_balances = balances.get(&chain.id);
        for (index, token) in chain.tokens.iter().enumerate() {
            let required_units = match destination.amount {
                None => None,
                Some(amount) => match required_units(amount, destination.token.decimals, token.decimals) {
                    Some(required) => Some(required.to_token_amount(token.decimals)),
                    // More base units than Ferry can count: this token cannot pay the session.
                    None => continue,
                },
            };
            let balance_units = chain_balances
                .and_then(|balances| balances.get(index).copied().flatten())
                .and_then(|balance| u128::try_from(balance).ok())
                .map(|balance| BaseUnits::new(balance).to_token_amount(token.decimals));
            options.push(TokenOptionView {
                chain_id: chain.id.get(),
                token_address: token.address.to_string(),
                token_symbol: token.symbol.clone(),
                required_units,
                balance_units,
            });
        }
    }
    options
}

/// `amount` (with `from_decimals`) converted at par to `to_decimals`,
/// rounded UP: paying the result is never short of `amount`, even where
/// the routing converts it back rounding down. `None` on overflow.
pub fn required_units(amount: BaseUnits, from_decimals: u8, to_decimals: u8) -> Option<BaseUnits> {
    let units = amount.get();
    let converted = if to_decimals >= from_decimals {
        units.checked_mul(10u128.checked_pow(u32::from(to_decimals - from_decimals))?)?
    } else {
        units.div_ceil(10u128.checked_pow(u32::from(from_decimals - to_decimals))?)
    };
    Some(BaseUnits::new(converted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(amount: &str, from: u8, to: u8) -> String {
        let amount = BaseUnits::parse_token_amount(amount, from).expect("amount");
        required_units(amount, from, to).expect("fits").to_token_amount(to)
    }

    #[test]
    fn required_units_scale_up_exactly() {
        assert_eq!(units("10.00", 6, 18), "10.00");
        assert_eq!(required_units(BaseUnits::new(10_000_000), 6, 18), Some(BaseUnits::new(10 * 10u128.pow(18))));
        assert_eq!(units("10.123457", 6, 18), "10.123457");
        assert_eq!(units("10.5", 6, 6), "10.50");
    }

    #[test]
    fn required_units_round_up_when_scaling_down() {
        assert_eq!(units("10.00", 18, 6), "10.00");
        assert_eq!(units("1.000000000000000001", 18, 6), "1.000001");
        assert_eq!(units("0.000000000000000001", 18, 6), "0.000001");
        assert_eq!(units("1.0000009", 18, 6), "1.000001");
        assert_eq!(units("1.000001", 18, 6), "1.000001");
    }

    #[test]
    fn paying_the_required_units_is_never_short() {
        for (amount, from, to) in [("1.000000000000000001", 18, 6), ("7.1234565", 7, 6), ("3.3", 6, 0), ("0.01", 2, 18)]
        {
            let expected = BaseUnits::parse_token_amount(amount, from).expect("amount");
            let required = required_units(expected, from, to).expect("fits");
            let back = ferry_domain::convert_at_par(required, to, from).expect("converts");
            assert!(back >= expected, "{amount}: {required:?} converts back to {back:?}");
        }
    }

    #[test]
    fn amounts_too_large_to_scale_are_none() {
        assert_eq!(required_units(BaseUnits::new(u128::MAX), 6, 18), None);
        assert_eq!(
            required_units(BaseUnits::new(u128::MAX), 18, 6).map(BaseUnits::get),
            Some(u128::MAX.div_ceil(10u128.pow(12)))
        );
    }
}
