//! Configuration: read once per process from the environment, typed, and
//! failing fast with the name of whatever is missing or malformed.

use std::str::FromStr;

use alloy_primitives::Address;
use ferry_chains::evm::ReceiverDerivation;
use ferry_domain::{ChainRegistry, RegistryError};

mod env;
mod redacted;
#[cfg(feature = "secrets")]
pub mod secrets;
mod webhook;
mod worker;

use env::{Vars, invalid};
pub use redacted::{RelayerKey, RelayerSigner, RpcUrl, RpcUrls};

pub use webhook::{
    ALLOW_INSECURE_WEBHOOKS, ALLOW_WEBHOOK_PORTS, DeliveryConfig, WEBHOOK_QUEUE_URL, WebhookConfig, announce_queue_url,
};

pub use worker::{
    AMOUNT_TOLERANCE_BPS, CALL_GAS, DEFAULT_CALL_GAS, DEFAULT_POLL_INTERVAL, DEFAULT_TOLERANCE_BPS, DEPOSIT_QUEUE_URL,
    MAX_POLL_INTERVAL, POLL_INTERVAL_SECONDS, RELAYER_KMS_KEY_ID, RELAYER_PRIVATE_KEY, RPC_URLS, TREASURY_ADDRESS,
    WorkerConfig,
};

pub const TABLE_NAME: &str = "FERRY_TABLE_NAME";
pub const CHAIN_REGISTRY: &str = "FERRY_CHAIN_REGISTRY";
pub const RECEIVER_FACTORY: &str = "FERRY_RECEIVER_FACTORY";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// Exactly one of two variables must be set, and neither is.
    #[error("environment variable {0} (or, for local development, {1}) is not set")]
    MissingOneOf(&'static str, &'static str),
    #[error("environment variables {0} and {1} are both set: set exactly one")]
    Conflicting(&'static str, &'static str),
    #[error("the {0} chain registry is invalid")]
    Registry(&'static str, #[source] RegistryError),
}

/// Which chain registry a deployment uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryChoice {
    Production,
    Local,
}

impl RegistryChoice {
    pub fn load(self) -> Result<ChainRegistry, ConfigError> {
        match self {
            Self::Production => ChainRegistry::production().map_err(|e| ConfigError::Registry("production", e)),
            Self::Local => ChainRegistry::local().map_err(|e| ConfigError::Registry("local", e)),
        }
    }
}

impl FromStr for RegistryChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "production" => Ok(Self::Production),
            "local" => Ok(Self::Local),
            other => Err(format!("expected `production` or `local`, got `{other}`")),
        }
    }
}

/// What the session functions need to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub registry: ChainRegistry,
    pub receivers: ReceiverDerivation,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let table_name = vars.required(TABLE_NAME)?;
        let registry = vars.parsed::<RegistryChoice>(CHAIN_REGISTRY)?.unwrap_or(RegistryChoice::Production).load()?;
        let factory = Address::from_str(&vars.required(RECEIVER_FACTORY)?).map_err(|e| invalid(RECEIVER_FACTORY, e))?;
        Ok(Self { table_name, registry, receivers: ReceiverDerivation::new(factory) })
    }
}

/// Where `check-session` looks payers' transaction hints up: optional, on
/// when `FERRY_RPC_URLS` names any chain (then the deposit queue is needed
/// too).
#[derive(Clone, Debug)]
pub struct TxLookupConfig {
    pub rpc_urls: RpcUrls,
    pub deposit_queue_url: String,
}

impl TxLookupConfig {
    pub fn from_env(registry: &ChainRegistry) -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), registry)
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        registry: &ChainRegistry,
    ) -> Result<Option<Self>, ConfigError> {
        let vars = Vars(lookup);
        let Some(text) = vars.optional(RPC_URLS) else { return Ok(None) };
        let rpc_urls = RpcUrls::parse(&text, registry).map_err(|reason| invalid(RPC_URLS, reason))?;
        if rpc_urls.is_empty() {
            return Ok(None);
        }
        let deposit_queue_url = vars.required(DEPOSIT_QUEUE_URL)?;
        Ok(Some(Self { rpc_urls, deposit_queue_url }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::lookup as env;

    const FULL: [(&str, &str); 3] = [
        (TABLE_NAME, "ferry"),
        (CHAIN_REGISTRY, "local"),
        (RECEIVER_FACTORY, "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    ];

    #[test]
    fn hint_lookups_are_on_only_with_rpc_urls_and_then_need_the_queue() {
        let registry = ChainRegistry::local().expect("registry");
        assert!(TxLookupConfig::from_lookup(env(&[]), &registry).expect("off").is_none());
        assert!(TxLookupConfig::from_lookup(env(&[(RPC_URLS, " ")]), &registry).expect("off").is_none());
        let error = TxLookupConfig::from_lookup(env(&[(RPC_URLS, "31337=http://127.0.0.1:8545")]), &registry)
            .expect_err("no queue");
        assert_eq!(error.to_string(), "environment variable FERRY_DEPOSIT_QUEUE_URL is not set");
        let on = TxLookupConfig::from_lookup(
            env(&[(RPC_URLS, "31337=http://127.0.0.1:8545"), (DEPOSIT_QUEUE_URL, "http://queue")]),
            &registry,
        )
        .expect("on")
        .expect("some");
        assert_eq!(on.rpc_urls.len(), 1);
    }

    #[test]
    fn a_complete_environment_loads() {
        let config = Config::from_lookup(env(&FULL)).expect("config");
        assert_eq!(config.table_name, "ferry");
        assert_eq!(config.registry.chains().count(), 2);
    }

    #[test]
    fn each_missing_variable_is_named() {
        for (missing, _) in FULL.iter().filter(|(name, _)| *name != CHAIN_REGISTRY) {
            let partial: Vec<_> = FULL.iter().copied().filter(|(name, _)| name != missing).collect();
            let error = Config::from_lookup(env(&partial)).expect_err("incomplete");
            assert_eq!(error.to_string(), format!("environment variable {missing} is not set"));
        }
    }

    #[test]
    fn malformed_values_are_named() {
        let mut bad = FULL;
        bad[2] = (RECEIVER_FACTORY, "0x1234");
        let error = Config::from_lookup(env(&bad)).expect_err("bad factory");
        assert!(error.to_string().starts_with("environment variable FERRY_RECEIVER_FACTORY is invalid"), "{error}");
        bad = FULL;
        bad[1] = (CHAIN_REGISTRY, "mainnet");
        assert!(Config::from_lookup(env(&bad)).is_err());
    }
}
