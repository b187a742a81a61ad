//! RPC URLs from AWS Secrets Manager. Providers put API keys in RPC URLs,
//! so deployments keep them out of the functions' environment (which the
//! Lambda console and `GetFunctionConfiguration` show to anyone who may read
//! the function): `FERRY_RPC_URLS_SECRET_ARN` names a secret whose string
//! is what `FERRY_RPC_URLS` would hold (`CHAIN_ID=URL,…`). It is read once,
//! at cold start, by the functions that talk to chains; `FERRY_RPC_URLS`
//! keeps working for local runs. Setting both is refused.
//!
//! Nothing here prints the secret: errors name the variable and say what
//! failed (the SDK's error, which names the secret's ARN, not its value).

use crate::{ConfigError, RPC_URLS, Vars};

pub const RPC_URLS_SECRET_ARN: &str = "FERRY_RPC_URLS_SECRET_ARN";

/// The process environment, with `FERRY_RPC_URLS` taken from the secret
/// when `FERRY_RPC_URLS_SECRET_ARN` names one.
#[derive(Clone, Default)]
pub struct Environment {
    /// The secret's string, when the URLs came from a secret.
    rpc_urls: Option<String>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = if self.rpc_urls.is_some() { "secret" } else { "environment" };
        f.debug_struct("Environment").field("rpc_urls_from", &from).finish()
    }
}

impl Environment {
    /// Reads the secret if `FERRY_RPC_URLS_SECRET_ARN` is set (with the AWS
    /// SDK's default configuration: region, credentials, endpoint).
    pub async fn load() -> Result<Self, ConfigError> {
        Self::load_from(|name| std::env::var(name).ok()).await
    }

    /// [`Self::load`] with the variables read through `lookup`.
    pub async fn load_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Some(arn) = secret_arn(&lookup)? else { return Ok(Self::default()) };
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_secretsmanager::Client::new(&aws);
        let answer = client.get_secret_value().secret_id(&arn).send().await.map_err(|error| {
            use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
            // The service's code and message (a failed read carries no
            // value); otherwise why the request could not be made.
            let why = match error.as_service_error() {
                Some(service) => format!("{}: {}", service.code().unwrap_or("error"), service.message().unwrap_or("")),
                None => DisplayErrorContext(&error).to_string(),
            };
            ConfigError::Invalid { name: RPC_URLS_SECRET_ARN, reason: format!("cannot read the secret: {why}") }
        })?;
        let text = answer.secret_string().ok_or_else(|| ConfigError::Invalid {
            name: RPC_URLS_SECRET_ARN,
            reason: "the secret has no string value (CHAIN_ID=URL,…)".into(),
        })?;
        Ok(Self::with_secret(text))
    }

    /// The environment with `FERRY_RPC_URLS` read from a secret's `text`.
    pub fn with_secret(text: impl Into<String>) -> Self {
        Self { rpc_urls: Some(text.into()) }
    }

    /// Looks a variable up: `FERRY_RPC_URLS` from the secret if there is one,
    /// everything else from the process environment.
    pub fn var(&self, name: &str) -> Option<String> {
        match (&self.rpc_urls, name == RPC_URLS) {
            (Some(secret), true) => Some(secret.clone()),
            _ => std::env::var(name).ok(),
        }
    }

    /// Reads a configuration through [`Self::var`]; a malformed secret is
    /// named by the variable that names the secret.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        read(&|name| self.var(name)).map_err(|error| match error {
            ConfigError::Invalid { name: RPC_URLS, reason } if self.rpc_urls.is_some() => {
                ConfigError::Invalid { name: RPC_URLS_SECRET_ARN, reason: format!("the secret's value: {reason}") }
            }
            ConfigError::Missing(RPC_URLS) if self.rpc_urls.is_some() => {
                ConfigError::Invalid { name: RPC_URLS_SECRET_ARN, reason: "the secret's value lists no chain".into() }
            }
            other => other,
        })
    }
}

/// The secret's ARN, if set (empty is unset); refused next to `FERRY_RPC_URLS`.
fn secret_arn(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let vars = Vars(lookup);
    match (vars.optional(RPC_URLS_SECRET_ARN), vars.optional(RPC_URLS)) {
        (Some(_), Some(_)) => Err(ConfigError::Conflicting(RPC_URLS_SECRET_ARN, RPC_URLS)),
        (arn, _) => Ok(arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TxLookupConfig, WorkerConfig};
    use ferry_domain::ChainRegistry;

    const SECRET: &str = "31337=https://rpc.example.com/v2/sEcReT-key";

    #[test]
    fn the_arn_is_optional_and_exclusive_with_the_urls() {
        let none = |_: &str| None;
        assert_eq!(secret_arn(&none).expect("ok"), None);
        let arn = |name: &str| (name == RPC_URLS_SECRET_ARN).then(|| "arn:aws:secretsmanager:x".to_string());
        assert_eq!(secret_arn(&arn).expect("ok").as_deref(), Some("arn:aws:secretsmanager:x"));
        let both = |_: &str| Some("set".to_string());
        let error = secret_arn(&both).expect_err("both");
        assert!(error.to_string().contains(RPC_URLS_SECRET_ARN) && error.to_string().contains(RPC_URLS), "{error}");
        let empty_arn = |name: &str| Some(if name == RPC_URLS { "1=http://a".into() } else { " ".into() });
        assert_eq!(secret_arn(&empty_arn).expect("ok"), None);
    }

    #[test]
    fn the_urls_come_from_the_secret_and_never_print() {
        let env = Environment::with_secret(SECRET);
        assert_eq!(env.var(RPC_URLS).as_deref(), Some(SECRET));
        let registry = ChainRegistry::local().expect("registry");
        let urls = env
            .read(|lookup| {
                let text = lookup(RPC_URLS).ok_or(ConfigError::Missing(RPC_URLS))?;
                crate::RpcUrls::parse(&text, &registry)
                    .map_err(|reason| ConfigError::Invalid { name: RPC_URLS, reason })
            })
            .expect("urls");
        assert_eq!(urls.len(), 1);
        assert!(!format!("{env:?} {urls:?}").contains("sEcReT"));
    }

    #[test]
    fn a_malformed_secret_is_named_by_its_arn_variable_without_its_value() {
        let registry = ChainRegistry::local().expect("registry");
        let env = Environment::with_secret("8453=https://rpc.example.com/v2/sEcReT-key");
        let error = env
            .read(|lookup| TxLookupConfig::from_lookup(|name| lookup(name).or_else(|| Some("q".into())), &registry))
            .expect_err("8453 is not a local chain");
        let message = error.to_string();
        assert!(message.starts_with("environment variable FERRY_RPC_URLS_SECRET_ARN is invalid"), "{message}");
        assert!(message.contains("chain 8453 (entry 1) is not in the chain registry"), "{message}");
        assert!(!message.contains("sEcReT"), "{message}");
        // A worker's other variables still come from the environment.
        let error = env.read(|lookup| WorkerConfig::from_lookup(lookup)).expect_err("no table in this environment");
        assert!(!error.to_string().contains("sEcReT"), "{error}");
    }
}
