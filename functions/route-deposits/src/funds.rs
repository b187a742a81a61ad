//! The relayer's funds on each chain, as metrics: its gas balance and its
//! stablecoin inventory (what cross-chain payouts are paid from). Both only
//! fall when the relayer sends, which is what this function does, so it
//! reads them after a batch — at most once per [`FUNDS_INTERVAL`], two RPC
//! requests per chain — and emits them as EMF lines
//! ([`ferry_runtime::metrics`]): per chain (`ChainId`), and the lowest of all
//! chains without dimensions, which the template's alarms compare with
//! their thresholds whatever chains are configured.
//!
//! Amounts are in whole tokens (a float): gas in the native token
//! (18 decimals on every EVM chain Ferry serves), inventory as the sum of
//! the chain's stablecoins at par (USDC and USDT, each by its decimals).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use ferry_chains::evm::balances::BalanceReader;
use ferry_chains::evm::client::{ChainError, EvmClient};
use ferry_domain::Chain;
use ferry_runtime::metrics::{MetricLine, Unit};

/// Metric names; the alarms in `template.yaml` name them.
pub mod metrics {
    /// Per chain (`ChainId`): the relayer's native balance, whole tokens.
    pub const RELAYER_GAS_BALANCE: &str = "RelayerGasBalance";
    /// Per chain (`ChainId`): the relayer's stablecoins, whole tokens.
    pub const RELAYER_INVENTORY: &str = "RelayerInventory";
    /// Without dimensions: the lowest [`RELAYER_GAS_BALANCE`] of all chains.
    pub const MIN_RELAYER_GAS_BALANCE: &str = "MinRelayerGasBalance";
    /// Without dimensions: the lowest [`RELAYER_INVENTORY`] of all chains.
    pub const MIN_RELAYER_INVENTORY: &str = "MinRelayerInventory";
    pub const CHAIN_ID: &str = "ChainId";
}

/// How often the funds are read at most: CloudWatch's alarm period.
pub const FUNDS_INTERVAL: Duration = Duration::from_secs(60);
/// The native token's decimals on every EVM chain.
const NATIVE_DECIMALS: u8 = 18;

/// The relayer's funds on one chain; `None` where the chain could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainFunds {
    pub chain_id: u64,
    pub gas: Option<f64>,
    pub inventory: Option<f64>,
}

/// Reads the relayer's funds on every configured chain.
pub struct RelayerFunds {
    relayer: Address,
    chains: Vec<(Chain, BalanceReader)>,
    last_read: Mutex<Option<Instant>>,
    pub interval: Duration,
}

/// `amount` base units of a token with `decimals`, in whole tokens.
pub fn whole_tokens(amount: U256, decimals: u8) -> f64 {
    // Exact to f64's precision for any amount: the decimal string parses.
    let units: f64 = amount.to_string().parse().unwrap_or(f64::MAX);
    units / 10f64.powi(i32::from(decimals))
}

impl RelayerFunds {
    /// `chains`: each chain of the registry with a client for its node.
    pub fn new(relayer: Address, chains: Vec<(Chain, EvmClient)>) -> Self {
        let chains = chains.into_iter().map(|(chain, client)| (chain, BalanceReader::new(client))).collect();
        Self { relayer, chains, last_read: Mutex::new(None), interval: FUNDS_INTERVAL }
    }

    /// Reads every chain at once; `redact` turns a failure into loggable text.
    pub async fn read(&self, redact: impl Fn(&ChainError) -> String) -> Vec<ChainFunds> {
        let redact = &redact;
        let reads = self.chains.iter().map(|(chain, reader)| async move {
            let tokens: Vec<Address> = chain.tokens.iter().map(|token| token.address.into_inner()).collect();
            let (gas, balances) =
                futures::join!(reader.client().native_balance(self.relayer), reader.balances(self.relayer, &tokens));
            let gas = gas
                .map_err(
                    |error| tracing::warn!(chain = %chain.id, error = %redact(&error), "relayer gas balance unread"),
                )
                .ok()
                .map(|wei| whole_tokens(wei, NATIVE_DECIMALS));
            let inventory = match balances {
                Ok(balances) => {
                    let known: Vec<f64> = chain
                        .tokens
                        .iter()
                        .zip(balances)
                        .filter_map(|(token, balance)| balance.map(|units| whole_tokens(units, token.decimals)))
                        .collect();
                    (!known.is_empty()).then(|| known.iter().sum())
                }
                Err(error) => {
                    tracing::warn!(chain = %chain.id, error = %redact(&error), "relayer inventory unread");
                    None
                }
            };
            ChainFunds { chain_id: chain.id.get(), gas, inventory }
        });
        futures::future::join_all(reads).await
    }

    /// Reads and emits the funds if the last read is [`Self::interval`] ago
    /// or more (or there was none); returns what it read.
    pub async fn emit_if_due(&self, redact: impl Fn(&ChainError) -> String) -> Option<Vec<ChainFunds>> {
        {
            let mut last = self.last_read.lock().unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < self.interval) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let funds = self.read(redact).await;
        for line in metric_lines(&funds) {
            line.emit();
        }
        Some(funds)
    }
}

/// One EMF line per chain (the amounts that were read) and one without
/// dimensions with the lowest of each over the chains that were read.
pub fn metric_lines(funds: &[ChainFunds]) -> Vec<MetricLine> {
    let mut lines: Vec<MetricLine> = funds
        .iter()
        .map(|chain| {
            let mut line = MetricLine::new().dimension(metrics::CHAIN_ID, chain.chain_id.to_string());
            if let Some(gas) = chain.gas {
                line = line.metric(metrics::RELAYER_GAS_BALANCE, gas, Unit::None);
            }
            if let Some(inventory) = chain.inventory {
                line = line.metric(metrics::RELAYER_INVENTORY, inventory, Unit::None);
            }
            line
        })
        .filter(|line| !line.is_empty())
        .collect();
    let lowest = |values: Vec<f64>| values.into_iter().reduce(f64::min);
    let mut minimum = MetricLine::new();
    if let Some(gas) = lowest(funds.iter().filter_map(|chain| chain.gas).collect()) {
        minimum = minimum.metric(metrics::MIN_RELAYER_GAS_BALANCE, gas, Unit::None);
    }
    if let Some(inventory) = lowest(funds.iter().filter_map(|chain| chain.inventory).collect()) {
        minimum = minimum.metric(metrics::MIN_RELAYER_INVENTORY, inventory, Unit::None);
    }
    if !minimum.is_empty() {
        lines.push(minimum);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_tokens() {
        assert_eq!(whole_tokens(U256::from(1_500_000u64), 6), 1.5);
        assert_eq!(whole_tokens(U256::from(10u128.pow(18) / 100), 18), 0.01);
        assert_eq!(whole_tokens(U256::ZERO, 6), 0.0);
    }

    #[test]
    fn lines_per_chain_and_the_lowest_of_all() {
        let funds = [
            ChainFunds { chain_id: 8453, gas: Some(0.5), inventory: Some(1200.0) },
            ChainFunds { chain_id: 10, gas: Some(0.002), inventory: None },
            ChainFunds { chain_id: 1, gas: None, inventory: None },
        ];
        let lines: Vec<serde_json::Value> =
            metric_lines(&funds).iter().map(|line| serde_json::from_str(&line.to_json(1)).expect("EMF JSON")).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["ChainId"], "8453");
        assert_eq!(lines[0]["RelayerGasBalance"], 0.5);
        assert_eq!(lines[0]["RelayerInventory"], 1200);
        assert_eq!(lines[1]["ChainId"], "10");
        assert!(lines[1].get("RelayerInventory").is_none());
        assert_eq!(lines[2]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([[]]));
        assert_eq!(lines[2]["MinRelayerGasBalance"], 0.002);
        assert_eq!(lines[2]["MinRelayerInventory"], 1200);
    }
}
