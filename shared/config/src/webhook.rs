//! What the webhook endpoint functions need: the table, and whether this
//! deployment accepts `http` URLs to loopback (development only).

use ferry_domain::UrlPolicy;

use crate::{ConfigError, TABLE_NAME};

/// `true` lets merchants register loopback endpoints (`http://127.0.0.1:…`,
/// `http://localhost:…`) for development. Unset, empty or `false`: https
/// to public hosts only.
pub const ALLOW_INSECURE_WEBHOOKS: &str = "FERRY_ALLOW_INSECURE_WEBHOOKS";

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub table_name: String,
    pub url_policy: UrlPolicy,
}

impl WebhookConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup(TABLE_NAME).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(TABLE_NAME))?;
        let allow_insecure_loopback = match lookup(ALLOW_INSECURE_WEBHOOKS).as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: ALLOW_INSECURE_WEBHOOKS,
                    reason: format!("expected `true` or `false`, got `{other}`"),
                });
            }
        };
        Ok(Self { table_name, url_policy: UrlPolicy { allow_insecure_loopback } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(allow: Option<&str>) -> Result<WebhookConfig, ConfigError> {
        WebhookConfig::from_lookup(|name| match name {
            TABLE_NAME => Some("ferry".into()),
            ALLOW_INSECURE_WEBHOOKS => allow.map(str::to_string),
            _ => None,
        })
    }

    #[test]
    fn insecure_webhooks_are_off_unless_asked_for() {
        for off in [None, Some(""), Some("false")] {
            assert!(!config(off).expect("config").url_policy.allow_insecure_loopback, "{off:?}");
        }
        assert!(config(Some("true")).expect("config").url_policy.allow_insecure_loopback);
        let error = config(Some("yes")).expect_err("invalid");
        assert!(error.to_string().contains(ALLOW_INSECURE_WEBHOOKS), "{error}");
        assert!(matches!(WebhookConfig::from_lookup(|_| None), Err(ConfigError::Missing(TABLE_NAME))));
    }
}
