//! The chain and token registry: which EVM chains Ferry serves and which
//! stablecoins it accepts and delivers on each. Loaded from TOML
//! (`chains/production.toml` is checked in and embedded; `chains/local.toml`
//! describes the local dev chains).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::EvmAddress;

/// An EVM chain id (EIP-155).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChainId(u64);

impl ChainId {
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stablecoin on one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub symbol: String,
    pub address: EvmAddress,
    pub decimals: u8,
}

/// A chain with the tokens Ferry supports on it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    pub id: ChainId,
    pub name: String,
    /// Blocks after which a deposit counts as final.
    pub confirmations: u64,
    #[serde(rename = "token", default)]
    pub tokens: Vec<Token>,
}

impl Chain {
    pub fn token(&self, address: &EvmAddress) -> Option<&Token> {
        self.tokens.iter().find(|token| &token.address == address)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("chain registry is not valid TOML of the expected shape: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("chain {0} is listed twice")]
    DuplicateChain(ChainId),
    #[error("chain {chain} lists token {token} twice")]
    DuplicateToken { chain: ChainId, token: EvmAddress },
    #[error("token {token} on chain {chain} has {decimals} decimals; at most 38 are supported")]
    TooManyDecimals { chain: ChainId, token: EvmAddress, decimals: u8 },
    #[error("chain {0} has no tokens")]
    NoTokens(ChainId),
}

/// All supported chains, by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRegistry {
    chains: BTreeMap<ChainId, Chain>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(rename = "chain")]
    chains: Vec<Chain>,
}

impl ChainRegistry {
    /// The production chains, embedded at build time.
    pub const PRODUCTION_TOML: &'static str = include_str!("../chains/production.toml");
    /// The local development chains (two anvil nodes).
    pub const LOCAL_TOML: &'static str = include_str!("../chains/local.toml");

    pub fn from_toml(text: &str) -> Result<Self, RegistryError> {
        let file: RegistryFile = toml::from_str(text)?;
        let mut chains = BTreeMap::new();
        for chain in file.chains {
            if chain.tokens.is_empty() {
                return Err(RegistryError::NoTokens(chain.id));
            }
            for (index, token) in chain.tokens.iter().enumerate() {
                if chain.tokens[..index].iter().any(|other| other.address == token.address) {
                    return Err(RegistryError::DuplicateToken { chain: chain.id, token: token.address });
                }
                if token.decimals > 38 {
                    return Err(RegistryError::TooManyDecimals {
                        chain: chain.id,
                        token: token.address,
                        decimals: token.decimals,
                    });
                }
            }
            let id = chain.id;
            if chains.insert(id, chain).is_some() {
                return Err(RegistryError::DuplicateChain(id));
            }
        }
        Ok(Self { chains })
    }

    pub fn production() -> Result<Self, RegistryError> {
        Self::from_toml(Self::PRODUCTION_TOML)
    }

    pub fn local() -> Result<Self, RegistryError> {
        Self::from_toml(Self::LOCAL_TOML)
    }

    pub fn chain(&self, id: ChainId) -> Option<&Chain> {
        self.chains.get(&id)
    }

    pub fn chains(&self) -> impl Iterator<Item = &Chain> {
        self.chains.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_registries_load() {
        let production = ChainRegistry::production().expect("production registry");
        assert_eq!(production.chains().count(), 14);
        let base = production.chain(ChainId::new(8453)).expect("Base");
        let usdc: EvmAddress = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".parse().expect("address");
        assert_eq!(base.token(&usdc).map(|t| (t.symbol.as_str(), t.decimals)), Some(("USDC", 6)));
        let local = ChainRegistry::local().expect("local registry");
        assert_eq!(local.chains().count(), 2);
    }

    #[test]
    fn duplicate_chains_and_tokens_are_refused() {
        let token = r#"[[chain.token]]
symbol = "USDC"
address = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
decimals = 6
"#;
        let chain = format!("[[chain]]\nid = 1\nname = \"A\"\nconfirmations = 1\n{token}");
        assert!(matches!(ChainRegistry::from_toml(&format!("{chain}{chain}")), Err(RegistryError::DuplicateChain(_))));
        assert!(matches!(
            ChainRegistry::from_toml(&format!("{chain}{token}")),
            Err(RegistryError::DuplicateToken { .. })
        ));
        assert!(matches!(
            ChainRegistry::from_toml("[[chain]]\nid = 1\nname = \"A\"\nconfirmations = 1\n"),
            Err(RegistryError::NoTokens(_))
        ));
    }
}
