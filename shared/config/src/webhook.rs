//! What the webhook functions need: the table, whether this deployment
//! accepts `http` URLs to loopback (development only) and ports other than
//! 443, and for the delivery worker its queue.

use ferry_domain::UrlPolicy;

use crate::{ConfigError, TABLE_NAME};

/// `true` lets merchants register loopback endpoints (`http://127.0.0.1:…`,
/// `http://localhost:…`) for development. Unset, empty or `false`: https
/// to public hosts only.
pub const ALLOW_INSECURE_WEBHOOKS: &str = "FERRY_ALLOW_INSECURE_WEBHOOKS";

/// `true` lets merchants register endpoints on ports other than 443 (and
/// lets deliveries go to them). Unset, empty or `false`: port 443 only.
pub const ALLOW_WEBHOOK_PORTS: &str = "FERRY_ALLOW_WEBHOOK_PORTS";

/// The queue of deliveries to attempt (`deliver-webhooks` sends to it and
/// consumes it).
pub const WEBHOOK_QUEUE_URL: &str = "FERRY_WEBHOOK_QUEUE_URL";
/// How long one scheduled `deliver-webhooks` invocation keeps dispatching,
/// in seconds (default 55: until the next one starts; 0: one pass).
pub const DISPATCH_LOOP_SECONDS: &str = "FERRY_DISPATCH_LOOP_SECONDS";
/// The default of [`DISPATCH_LOOP_SECONDS`], and its maximum: schedules
/// start an invocation every minute.
pub const DEFAULT_DISPATCH_LOOP: std::time::Duration = std::time::Duration::from_secs(55);

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
        let allow_insecure_loopback = flag(&lookup, ALLOW_INSECURE_WEBHOOKS)?;
        let allow_any_port = flag(&lookup, ALLOW_WEBHOOK_PORTS)?;
        Ok(Self { table_name, url_policy: UrlPolicy { allow_insecure_loopback, allow_any_port } })
    }
}

/// A boolean variable: unset, empty or `false` is off, `true` is on.
fn flag(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match lookup(name).as_deref().map(str::trim) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError::Invalid { name, reason: format!("expected `true` or `false`, got `{other}`") }),
    }
}

/// What `deliver-webhooks` needs: the endpoint functions' configuration and
/// the delivery queue.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub webhooks: WebhookConfig,
    pub queue_url: String,
    pub dispatch_loop: std::time::Duration,
}

impl DeliveryConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let queue_url =
            lookup(WEBHOOK_QUEUE_URL).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(WEBHOOK_QUEUE_URL))?;
        let dispatch_loop = match lookup(DISPATCH_LOOP_SECONDS).as_deref().map(str::trim) {
            None | Some("") => DEFAULT_DISPATCH_LOOP,
            Some(text) => match text.parse::<u64>() {
                Ok(seconds) if seconds <= DEFAULT_DISPATCH_LOOP.as_secs() => std::time::Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: DISPATCH_LOOP_SECONDS,
                        reason: format!("expected whole seconds from 0 to 55, got `{text}`"),
                    });
                }
            },
        };
        Ok(Self { webhooks: WebhookConfig::from_lookup(lookup)?, queue_url, dispatch_loop })
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
        assert_eq!(config.dispatch_loop, DEFAULT_DISPATCH_LOOP);
        let without_queue = DeliveryConfig::from_lookup(|name| full(name).filter(|_| name != WEBHOOK_QUEUE_URL));
        assert!(matches!(without_queue, Err(ConfigError::Missing(WEBHOOK_QUEUE_URL))));
        let with_loop = |value: &'static str| {
            DeliveryConfig::from_lookup(
                move |name| if name == DISPATCH_LOOP_SECONDS { Some(value.into()) } else { full(name) },
            )
        };
        assert_eq!(with_loop("0").expect("one pass").dispatch_loop, std::time::Duration::ZERO);
        for bad in ["56", "-1", "1.5", "soon"] {
            let error = with_loop(bad).expect_err(bad).to_string();
            assert!(error.contains(DISPATCH_LOOP_SECONDS), "{error}");
        }
    }
}
