//! What the webhook functions need: the table, whether this deployment
//! accepts `http` URLs to loopback (development only) and ports other than
//! 443, and for the delivery worker its queue.

use ferry_domain::UrlPolicy;

use crate::{ConfigError, TABLE_NAME, Vars};

/// `true` lets merchants register loopback endpoints (`http://127.0.0.1:…`,
/// `http://localhost:…`) for development. Unset, empty or `false`: https
/// to public hosts only.
pub const ALLOW_INSECURE_WEBHOOKS: &str = "FERRY_ALLOW_INSECURE_WEBHOOKS";

/// `true` lets merchants register endpoints on ports other than 443 (and
/// lets deliveries go to them). Unset, empty or `false`: port 443 only.
pub const ALLOW_WEBHOOK_PORTS: &str = "FERRY_ALLOW_WEBHOOK_PORTS";

/// The webhook queue: deliveries to attempt and committed events to fan out
/// (`deliver-webhooks` consumes it; it and the writers of events send to
/// it).
pub const WEBHOOK_QUEUE_URL: &str = "FERRY_WEBHOOK_QUEUE_URL";
/// Where the writers of events (`route-deposits`, `expire-sessions`)
/// announce each one after its commit: [`WEBHOOK_QUEUE_URL`], optional
/// (unset or empty, their events wait for the webhook sweep, at most a
/// minute).
pub fn announce_queue_url(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    Vars(lookup).optional(WEBHOOK_QUEUE_URL)
}

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
        let vars = Vars(lookup);
        let table_name = vars.required(TABLE_NAME)?;
        let allow_insecure_loopback = vars.flag(ALLOW_INSECURE_WEBHOOKS)?;
        let allow_any_port = vars.flag(ALLOW_WEBHOOK_PORTS)?;
        Ok(Self { table_name, url_policy: UrlPolicy { allow_insecure_loopback, allow_any_port } })
    }
}

/// What `deliver-webhooks` needs: the endpoint functions' configuration and
/// the delivery queue.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub webhooks: WebhookConfig,
    pub queue_url: String,
}

impl DeliveryConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let queue_url = Vars(&lookup).required(WEBHOOK_QUEUE_URL)?;
        Ok(Self { webhooks: WebhookConfig::from_lookup(lookup)?, queue_url })
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
    fn other_ports_are_closed_unless_the_operator_opens_them() {
        let with_ports = |ports: Option<&'static str>| {
            WebhookConfig::from_lookup(move |name| match name {
                TABLE_NAME => Some("ferry".into()),
                ALLOW_WEBHOOK_PORTS => ports.map(str::to_string),
                _ => None,
            })
        };
        for off in [None, Some(""), Some("false")] {
            assert_eq!(with_ports(off).expect("config").url_policy, UrlPolicy::PRODUCTION, "{off:?}");
        }
        let open = with_ports(Some("true")).expect("config").url_policy;
        assert!(open.allow_any_port && !open.allow_insecure_loopback);
        let error = with_ports(Some("8443")).expect_err("a boolean").to_string();
        assert!(error.contains(ALLOW_WEBHOOK_PORTS), "{error}");
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

    #[test]
    fn the_delivery_worker_needs_its_queue() {
        let full = |name: &str| match name {
            TABLE_NAME => Some("ferry".to_string()),
            WEBHOOK_QUEUE_URL => Some("https://sqs.us-east-1.amazonaws.com/123456789012/webhooks".to_string()),
            _ => None,
        };
        let config = DeliveryConfig::from_lookup(full).expect("config");
        assert_eq!(config.queue_url, "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks");
        assert_eq!(config.webhooks.table_name, "ferry");
        let without_queue = DeliveryConfig::from_lookup(|name| full(name).filter(|_| name != WEBHOOK_QUEUE_URL));
        assert!(matches!(without_queue, Err(ConfigError::Missing(WEBHOOK_QUEUE_URL))));
    }
}
