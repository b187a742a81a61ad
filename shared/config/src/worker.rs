//! What the chain workers (`poll-chains`, `route-deposits`) need on top of
//! the session functions' configuration: the chains' RPC endpoints, the
//! deposit queue, the treasury and the relayer's signer.
//! The two secrets among them are typed in [`crate::redacted`].

use std::time::Duration;

use ferry_chains::evm::ReceiverDerivation;
use ferry_domain::{ChainRegistry, EvmAddress, Tolerance};

use crate::env::{Vars, invalid};
use crate::{Config, ConfigError, RelayerSigner, RpcUrls};

pub const RPC_URLS: &str = "FERRY_RPC_URLS";
pub const DEPOSIT_QUEUE_URL: &str = "FERRY_DEPOSIT_QUEUE_URL";
pub const TREASURY_ADDRESS: &str = "FERRY_TREASURY_ADDRESS";
pub const RELAYER_PRIVATE_KEY: &str = "FERRY_RELAYER_PRIVATE_KEY";
pub const RELAYER_KMS_KEY_ID: &str = "FERRY_RELAYER_KMS_KEY_ID";
pub const AMOUNT_TOLERANCE_BPS: &str = "FERRY_AMOUNT_TOLERANCE_BPS";
pub const CALL_GAS: &str = "FERRY_CALL_GAS";
pub const POLL_INTERVAL_SECONDS: &str = "FERRY_POLL_INTERVAL_SECONDS";
pub const LATE_DEPOSIT_WINDOW_SECONDS: &str = "FERRY_LATE_DEPOSIT_WINDOW_SECONDS";

/// Defaults of the optional variables.
pub const DEFAULT_TOLERANCE_BPS: u32 = 100;
pub const DEFAULT_CALL_GAS: u64 = 500_000;
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The longest poll interval: a scheduled invocation lasts about a minute.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_LATE_DEPOSIT_WINDOW: Duration = ferry_domain::Session::DEFAULT_LATE_DEPOSIT_WINDOW;
/// The longest late-deposit window: a year.
pub const MAX_LATE_DEPOSIT_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);

/// What the chain workers need to run.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub table_name: String,
    pub registry: ChainRegistry,
    /// The receiver factory (`FERRY_RECEIVER_FACTORY`), same on every chain.
    pub receivers: ReceiverDerivation,
    pub rpc_urls: RpcUrls,
    pub deposit_queue_url: String,
    /// Where `route-deposits` announces the events it commits
    /// ([`crate::announce_queue_url`]).
    pub webhook_queue_url: Option<String>,
    /// Collects deposits that were paid out from inventory on another chain.
    pub treasury: EvmAddress,
    pub relayer: RelayerSigner,
    pub tolerance: Tolerance,
    /// Gas given to a destination contract call.
    pub call_gas: u64,
    /// How often `poll-chains` scans within one invocation.
    pub poll_interval: Duration,
    /// How long after its `expiresAt` a final session's receiver is still
    /// watched, so that a late or second payment is refunded.
    pub late_deposit_window: Duration,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map
    /// in tests). An empty variable counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Config { table_name, registry, receivers } = Config::from_lookup(&lookup)?;
        let vars = Vars(&lookup);

        let rpc_urls =
            RpcUrls::parse(&vars.required(RPC_URLS)?, &registry).map_err(|reason| invalid(RPC_URLS, reason))?;
        if rpc_urls.is_empty() {
            return Err(invalid(RPC_URLS, "lists no chain (expected CHAIN_ID=URL,CHAIN_ID=URL)"));
        }
        let deposit_queue_url = vars.required(DEPOSIT_QUEUE_URL)?;
        let treasury =
            vars.required(TREASURY_ADDRESS)?.parse::<EvmAddress>().map_err(|e| invalid(TREASURY_ADDRESS, e))?;
        if treasury.into_inner().is_zero() {
            return Err(invalid(TREASURY_ADDRESS, "the zero address cannot hold funds"));
        }
        let relayer = match (vars.optional(RELAYER_PRIVATE_KEY), vars.optional(RELAYER_KMS_KEY_ID)) {
            (Some(_), Some(_)) => return Err(ConfigError::Conflicting(RELAYER_PRIVATE_KEY, RELAYER_KMS_KEY_ID)),
            (None, None) => return Err(ConfigError::MissingOneOf(RELAYER_KMS_KEY_ID, RELAYER_PRIVATE_KEY)),
            (Some(key), None) => {
                RelayerSigner::PrivateKey(key.parse().map_err(|reason| invalid(RELAYER_PRIVATE_KEY, reason))?)
            }
            (None, Some(key_id)) => {
                if key_id.chars().any(char::is_whitespace) {
                    return Err(invalid(RELAYER_KMS_KEY_ID, "contains whitespace"));
                }
                RelayerSigner::Kms { key_id }
            }
        };
        let number = |name, default, range| vars.number(name, default, range);
        let basis_points = number(AMOUNT_TOLERANCE_BPS, DEFAULT_TOLERANCE_BPS.into(), 0..=10_000)?;
        let call_gas = number(CALL_GAS, DEFAULT_CALL_GAS, 1..=u64::from(u32::MAX))?;
        let poll_seconds =
            number(POLL_INTERVAL_SECONDS, DEFAULT_POLL_INTERVAL.as_secs(), 1..=MAX_POLL_INTERVAL.as_secs())?;
        let late_deposit_seconds = number(
            LATE_DEPOSIT_WINDOW_SECONDS,
            DEFAULT_LATE_DEPOSIT_WINDOW.as_secs(),
            0..=MAX_LATE_DEPOSIT_WINDOW.as_secs(),
        )?;
        Ok(Self {
            table_name,
            registry,
            receivers,
            rpc_urls,
            deposit_queue_url,
            webhook_queue_url: crate::announce_queue_url(&lookup),
            treasury,
            relayer,
            // At most 10 000, checked above.
            tolerance: Tolerance { basis_points: u32::try_from(basis_points).unwrap_or(10_000) },
            call_gas,
            poll_interval: Duration::from_secs(poll_seconds),
            late_deposit_window: Duration::from_secs(late_deposit_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RpcUrl;
    use crate::env::lookup as env;
    use crate::{CHAIN_REGISTRY, RECEIVER_FACTORY, TABLE_NAME};
    use ferry_domain::ChainId;

    /// anvil account 2's well-known key: guards nothing.
    const KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
    const SECRET_URL: &str = "https://rpc.example.com/v2/sEcReT-api-key";

    const FULL: [(&str, &str); 7] = [
        (TABLE_NAME, "ferry"),
        (CHAIN_REGISTRY, "local"),
        (RECEIVER_FACTORY, "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        (RPC_URLS, "31337=http://127.0.0.1:8545, 31338=https://rpc.example.com/v2/sEcReT-api-key"),
        (DEPOSIT_QUEUE_URL, "https://sqs.us-east-1.amazonaws.com/123456789012/deposits"),
        (TREASURY_ADDRESS, "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        (RELAYER_KMS_KEY_ID, "arn:aws:kms:us-east-1:123456789012:key/0b7c9a3e-1f2d-4c5b-8a6e-9d0f1e2a3b4c"),
    ];

    fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs: Vec<_> =
            FULL.iter().copied().filter(|(name, _)| !changes.iter().any(|(n, _)| n == name)).collect();
        pairs.extend(changes.iter().copied().filter(|(_, value)| !value.is_empty()));
        pairs
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        WorkerConfig::from_lookup(env(pairs)).expect_err("refused").to_string()
    }

    #[test]
    fn a_complete_environment_loads_with_defaults() {
        let config = WorkerConfig::from_lookup(env(&FULL)).expect("config");
        assert_eq!(config.table_name, "ferry");
        assert_eq!(config.rpc_urls.chain_ids().map(ChainId::get).collect::<Vec<_>>(), [31337, 31338]);
        assert_eq!(config.rpc_urls.get(ChainId::new(31337)).map(RpcUrl::expose), Some("http://127.0.0.1:8545"));
        assert_eq!(config.rpc_urls.get(ChainId::new(31338)).map(RpcUrl::expose), Some(SECRET_URL));
        assert_eq!(config.deposit_queue_url, FULL[4].1);
        assert_eq!(config.treasury.to_string(), FULL[5].1);
        assert_eq!(config.relayer, RelayerSigner::Kms { key_id: FULL[6].1.to_string() });
        assert_eq!(config.tolerance, Tolerance { basis_points: 100 });
        assert_eq!(config.call_gas, 500_000);
        assert_eq!(config.poll_interval, Duration::from_secs(5));
        assert_eq!(config.late_deposit_window, Duration::from_secs(604_800), "7 days");

        // Empty entries are skipped, as token-options skips them.
        let trailing = WorkerConfig::from_lookup(env(&with(&[(RPC_URLS, " 31337=http://127.0.0.1:8545, ")])));
        assert_eq!(trailing.expect("config").rpc_urls.len(), 1);
        assert_eq!(error(&with(&[(RPC_URLS, "  ")])), format!("environment variable {RPC_URLS} is not set"));
    }

    #[test]
    fn optional_values_are_read_and_bounded() {
        let config = WorkerConfig::from_lookup(env(&with(&[
            (AMOUNT_TOLERANCE_BPS, "10000"),
            (CALL_GAS, "1200000"),
            (POLL_INTERVAL_SECONDS, "12"),
            (LATE_DEPOSIT_WINDOW_SECONDS, "0"),
        ])))
        .expect("config");
        assert_eq!(config.tolerance.basis_points, 10_000);
        assert_eq!(config.call_gas, 1_200_000);
        assert_eq!(config.poll_interval, Duration::from_secs(12));
        assert_eq!(config.late_deposit_window, Duration::ZERO);
        let year = with(&[(LATE_DEPOSIT_WINDOW_SECONDS, "31536000")]);
        assert_eq!(WorkerConfig::from_lookup(env(&year)).expect("config").late_deposit_window, MAX_LATE_DEPOSIT_WINDOW);

        for (name, value) in [
            (AMOUNT_TOLERANCE_BPS, "10001"),
            (AMOUNT_TOLERANCE_BPS, "-1"),
            (AMOUNT_TOLERANCE_BPS, "1%"),
            (CALL_GAS, "0"),
            (CALL_GAS, "lots"),
            (POLL_INTERVAL_SECONDS, "0"),
            (POLL_INTERVAL_SECONDS, "61"),
            (LATE_DEPOSIT_WINDOW_SECONDS, "31536001"),
            (LATE_DEPOSIT_WINDOW_SECONDS, "7d"),
        ] {
            let message = error(&with(&[(name, value)]));
            assert!(message.starts_with(&format!("environment variable {name} is invalid")), "{message}");
        }
    }

    #[test]
    fn each_missing_variable_is_named() {
        for missing in [TABLE_NAME, RECEIVER_FACTORY, RPC_URLS, DEPOSIT_QUEUE_URL, TREASURY_ADDRESS] {
            let partial: Vec<_> = FULL.iter().copied().filter(|(name, _)| *name != missing).collect();
            assert_eq!(error(&partial), format!("environment variable {missing} is not set"));
            // Empty is unset.
            assert_eq!(error(&with(&[(missing, "")])), format!("environment variable {missing} is not set"));
        }
    }

    #[test]
    fn exactly_one_relayer_signer_is_required() {
        let neither = with(&[(RELAYER_KMS_KEY_ID, "")]);
        let message = error(&neither);
        assert!(message.contains(RELAYER_KMS_KEY_ID) && message.contains(RELAYER_PRIVATE_KEY), "{message}");

        let both = with(&[(RELAYER_PRIVATE_KEY, KEY)]);
        let message = error(&both);
        assert!(message.contains(RELAYER_KMS_KEY_ID) && message.contains(RELAYER_PRIVATE_KEY), "{message}");

        let local = with(&[(RELAYER_KMS_KEY_ID, ""), (RELAYER_PRIVATE_KEY, KEY)]);
        let config = WorkerConfig::from_lookup(env(&local)).expect("config");
        let RelayerSigner::PrivateKey(key) = &config.relayer else { panic!("{:?}", config.relayer) };
        assert_eq!(key.expose_secret().to_string(), KEY);
        // Without 0x too.
        let bare = with(&[(RELAYER_KMS_KEY_ID, ""), (RELAYER_PRIVATE_KEY, &KEY[2..])]);
        assert_eq!(WorkerConfig::from_lookup(env(&bare)).expect("config").relayer, config.relayer);
    }

    #[test]
    fn malformed_values_are_named_without_quoting_secrets() {
        let cases: [(&str, &str, &str); 10] = [
            (RPC_URLS, "31337", "entry 1 is not CHAIN_ID=URL"),
            (RPC_URLS, "https://rpc.example.com/v2?key=sEcReT", "entry 1 does not start with a decimal chain id"),
            (RPC_URLS, " , ,", "lists no chain"),
            (
                RPC_URLS,
                "8453=https://rpc.example.com/v2/sEcReT-api-key",
                "chain 8453 (entry 1) is not in the chain registry",
            ),
            (
                RPC_URLS,
                "31337=ws://rpc.example.com/v2/sEcReT-api-key",
                "the URL of chain 31337 (entry 1) is not an http(s):// URL",
            ),
            (
                RPC_URLS,
                "31337=http://a, 31337=https://rpc.example.com/v2/sEcReT-api-key",
                "chain 31337 is listed more than once",
            ),
            (TREASURY_ADDRESS, "0x15d34aaf54267db7d7c367839aaf71a00a2C6A65", "EIP-55"),
            (TREASURY_ADDRESS, "0x0000000000000000000000000000000000000000", "zero address"),
            (RELAYER_KMS_KEY_ID, "alias/ferry relayer", "whitespace"),
            (RELAYER_KMS_KEY_ID, "", "is not set"),
        ];
        for (name, value, expected) in cases {
            let message = error(&with(&[(name, value)]));
            assert!(message.contains(name), "{name}={value}: {message}");
            assert!(message.contains(expected), "{name}={value}: {message}");
            assert!(!message.contains("sEcReT"), "{message}");
        }
        let message = error(&with(&[(RELAYER_KMS_KEY_ID, ""), (RELAYER_PRIVATE_KEY, "0x1234")]));
        assert!(message.starts_with("environment variable FERRY_RELAYER_PRIVATE_KEY is invalid"), "{message}");
        let almost = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365g";
        let message = error(&with(&[(RELAYER_KMS_KEY_ID, ""), (RELAYER_PRIVATE_KEY, almost)]));
        assert!(!message.contains(&almost[..20]), "{message}");
        let zero = "0x0000000000000000000000000000000000000000000000000000000000000000";
        assert!(error(&with(&[(RELAYER_KMS_KEY_ID, ""), (RELAYER_PRIVATE_KEY, zero)])).contains("zero key"));
    }

    #[test]
    fn secrets_never_print() {
        let local = with(&[(RELAYER_KMS_KEY_ID, ""), (RELAYER_PRIVATE_KEY, KEY)]);
        let config = WorkerConfig::from_lookup(env(&local)).expect("config");
        let debug = format!("{config:?} {:#?}", config);
        assert!(!debug.contains("sEcReT"), "{debug}");
        assert!(!debug.contains("127.0.0.1"), "{debug}");
        assert!(!debug.contains(&KEY[2..]), "{debug}");
        assert!(debug.contains("RpcUrls {31337: <redacted>, 31338: <redacted>}"), "{debug}");
        assert!(debug.contains("RelayerKey(<redacted>)"), "{debug}");
    }
}
