//! This function's configuration, read once per process from the
//! environment, failing fast with the variable's name:
//!
//! | variable | meaning |
//! |---|---|
//! | `FERRY_TABLE_NAME` | the DynamoDB table |
//! | `FERRY_CHAIN_REGISTRY` | `production` (default) or `local` |
//! | `FERRY_RPC_URLS` | optional `CHAIN_ID=URL,...`: the nodes balances are read from; chains without one are listed without balances |
//!
//! RPC URLs often carry an API key, so they are never logged or echoed in
//! errors: errors name the entry by position and chain id only.

pub use ferry_config::{RpcUrl, RpcUrls};
use ferry_domain::ChainRegistry;

use ferry_config::RegistryChoice;
pub use ferry_config::{CHAIN_REGISTRY, ConfigError, RPC_URLS, TABLE_NAME};

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub registry: ChainRegistry,
    pub rpc_urls: RpcUrls,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };
        let table_name = lookup(TABLE_NAME).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(TABLE_NAME))?;
        let registry = match lookup(CHAIN_REGISTRY) {
            None => RegistryChoice::Production,
            Some(text) => text.parse().map_err(|reason| invalid(CHAIN_REGISTRY, reason))?,
        }
        .load()?;
        let rpc_urls = match lookup(RPC_URLS) {
            None => RpcUrls::default(),
            Some(text) => RpcUrls::parse(&text, &registry).map_err(|reason| invalid(RPC_URLS, reason))?,
        };
        Ok(Self { table_name, registry, rpc_urls })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const SECRET_URL: &str = "https://base-mainnet.example/v2/sk_live_SECRET";

    #[test]
    fn the_rpc_urls_are_optional_and_the_registry_defaults_to_production() {
        let config = Config::from_lookup(env(&[(TABLE_NAME, "ferry")])).expect("config");
        assert_eq!(config.table_name, "ferry");
        assert_eq!(config.registry.chains().count(), 14);
        assert!(config.rpc_urls.is_empty());
        let blank = Config::from_lookup(env(&[(TABLE_NAME, "ferry"), (RPC_URLS, " ")])).expect("config");
        assert!(blank.rpc_urls.is_empty());
        let error = Config::from_lookup(env(&[])).expect_err("no table");
        assert_eq!(error.to_string(), "environment variable FERRY_TABLE_NAME is not set");
    }

    #[test]
    fn rpc_urls_are_read_per_chain() {
        let text = format!("8453={SECRET_URL}, 1=http://127.0.0.1:8545/?key=a=b,");
        let config = Config::from_lookup(env(&[(TABLE_NAME, "t"), (RPC_URLS, &text)])).expect("config");
        let urls: Vec<(u64, &str)> = config.rpc_urls.iter().map(|(id, url)| (id.get(), url.expose())).collect();
        assert_eq!(urls, vec![(1, "http://127.0.0.1:8545/?key=a=b"), (8453, SECRET_URL)]);
        let local = env(&[(TABLE_NAME, "t"), (CHAIN_REGISTRY, "local"), (RPC_URLS, "31337=http://127.0.0.1:8545")]);
        assert_eq!(Config::from_lookup(local).expect("config").rpc_urls.len(), 1);
    }

    #[test]
    fn bad_rpc_urls_are_refused_without_echoing_the_url() {
        for (text, expected) in [
            ("https://node.example/?key=sk_live_SECRET".to_string(), "does not start with a decimal chain id"),
            (SECRET_URL.to_string(), "entry 1 is not CHAIN_ID=URL"),
            ("8453".to_string(), "entry 1 is not CHAIN_ID=URL"),
            ("8453=ftp://sk_live_SECRET".to_string(), "is not an http(s):// URL"),
            (format!("31337={SECRET_URL}"), "chain 31337 (entry 1) is not in the chain registry"),
            (format!("8453={SECRET_URL},8453={SECRET_URL}"), "chain 8453 is listed more than once"),
        ] {
            let error = Config::from_lookup(env(&[(TABLE_NAME, "t"), (RPC_URLS, &text)])).expect_err(&text);
            let message = error.to_string();
            assert!(message.starts_with("environment variable FERRY_RPC_URLS is invalid"), "{message}");
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains("SECRET"), "the error leaks the URL: {message}");
        }
    }

    #[test]
    fn debug_output_hides_the_urls() {
        let config =
            Config::from_lookup(env(&[(TABLE_NAME, "t"), (RPC_URLS, &format!("8453={SECRET_URL}"))])).expect("config");
        let debug = format!("{:?}", config.rpc_urls);
        assert!(debug.contains("8453") && !debug.contains("SECRET"), "{debug}");
    }

    #[test]
    fn an_unknown_registry_is_named() {
        let error = Config::from_lookup(env(&[(TABLE_NAME, "t"), (CHAIN_REGISTRY, "mainnet")])).expect_err("bad");
        assert!(error.to_string().starts_with("environment variable FERRY_CHAIN_REGISTRY is invalid"), "{error}");
    }
}
