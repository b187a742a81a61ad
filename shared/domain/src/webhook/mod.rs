//! Webhook endpoints: where a merchant wants to hear about its sessions, which
//! events it wants, and the secret that signs each delivery.
//!
//! - [`WebhookId`]: `wh_` followed by 32 lowercase hex characters (128
//!   random bits), so an endpoint id is never mistaken for a session id.
//! - [`EventSelection`]: `["*"]` (every event, including ones added later) or
//!   a non-empty set of session events. Duplicates are tolerated and
//!   collapsed; `"*"` must stand alone.
//! - [`WebhookSecret`]: `whsec_` followed by 64 lowercase hex characters
//!   (256 random bits). `Debug` never prints it; the API shows it once, when
//!   the endpoint is created. The whole text, prefix included, is the HMAC key.
//! - [`WebhookUrl`]: `https` only (plain `http` to loopback when the
//!   deployment allows it for development), at most 2048 characters, no
//!   credentials, no fragment, and a host that is not an IP literal in a
//!   private, loopback, link-local (the cloud metadata address), unique-local,
//!   multicast, unspecified or otherwise reserved range (IPv6 forms that
//!   carry an IPv4 address are judged by it: [`forbidden_address`]), on port
//!   443 unless the policy allows other ports. A host *name* is checked
//!   again when it is resolved, at delivery, and the port again too.
//! - [`sign`] and [`verify`]: the `Ferry-Signature` header,
//!   `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

mod address;
mod delivery;
mod events;
mod id;
mod secret;
mod signature;
mod url;

use serde::{Deserialize, Serialize};

pub use address::{AddressClass, forbidden_address};
pub use delivery::{
    AttemptOutcome, ClaimError, DeliveryAttempt, DeliveryState, NotParked, RetryPolicy, WebhookDelivery,
};
pub use events::{EventSelection, EventSelectionError};
pub use id::{WebhookId, WebhookIdError};
pub use secret::{WebhookSecret, WebhookSecretError};
pub use signature::{VerifyError, sign, verify};
pub use url::{UrlPolicy, WebhookUrl, WebhookUrlError};

use crate::{MerchantId, Timestamp};

/// How many endpoints one merchant may have.
pub const MAX_WEBHOOKS_PER_MERCHANT: usize = 16;
/// The longest accepted endpoint URL, in characters.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// The longest accepted description, in characters.
pub const MAX_WEBHOOK_DESCRIPTION_CHARS: usize = 500;
/// How old (or how far in the future) a signature's timestamp may be.
pub const SIGNATURE_TOLERANCE_SECONDS: u64 = 300;
/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "Ferry-Signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {MAX_WEBHOOK_DESCRIPTION_CHARS} characters")]
pub struct DescriptionTooLong;

/// Checks an endpoint's description: at most 500 characters; empty means none.
pub fn parse_description(text: Option<String>) -> Result<Option<String>, DescriptionTooLong> {
    match text {
        Some(text) if text.chars().count() > MAX_WEBHOOK_DESCRIPTION_CHARS => Err(DescriptionTooLong),
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

// ---------------------------------------------------------------- endpoint

/// A merchant's webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub merchant_id: MerchantId,
    pub url: WebhookUrl,
    pub events: EventSelection,
    pub description: Option<String>,
    pub secret: WebhookSecret,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: UrlPolicy = UrlPolicy::PRODUCTION;

    #[test]
    fn ids_and_secrets_round_trip_and_are_prefixed() {
        let id = WebhookId::from_bytes([0xab; 16]);
        assert_eq!(id.to_string(), format!("wh_{}", "ab".repeat(16)));
        assert_eq!(id.to_string().parse::<WebhookId>(), Ok(id));
        for bad in ["", "wh_", &"ab".repeat(16), &format!("wh_{}", "AB".repeat(16)), &format!("wh_{}", "a".repeat(31))]
        {
            assert!(bad.parse::<WebhookId>().is_err(), "{bad}");
        }
        let secret = WebhookSecret::from_bytes([7; 32]);
        assert_eq!(secret.reveal(), format!("whsec_{}", "07".repeat(32)));
        assert_eq!(secret.reveal().parse::<WebhookSecret>(), Ok(secret.clone()));
        assert!(format!("whsec_{}", "07".repeat(31)).parse::<WebhookSecret>().is_err());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn endpoint_debug_output_never_shows_the_secret() {
        let secret = WebhookSecret::from_bytes([9; 32]);
        let endpoint = WebhookEndpoint {
            id: WebhookId::from_bytes([1; 16]),
            merchant_id: MerchantId::from_random_bytes([2; 16]),
            url: WebhookUrl::parse("https://example.com/hook", PROD).expect("url"),
            events: EventSelection::All,
            description: None,
            secret: secret.clone(),
            created_at: Timestamp::from_unix_seconds(1),
        };
        assert!(!format!("{endpoint:?}").contains(&secret.reveal()[6..]));
        let json = serde_json::to_string(&endpoint).expect("serialize");
        assert_eq!(serde_json::from_str::<WebhookEndpoint>(&json).expect("deserialize"), endpoint);
    }

    #[test]
    fn descriptions_are_bounded() {
        assert_eq!(parse_description(None), Ok(None));
        assert_eq!(parse_description(Some(String::new())), Ok(None));
        assert_eq!(parse_description(Some("é".repeat(500))), Ok(Some("é".repeat(500))));
        assert_eq!(parse_description(Some("a".repeat(501))), Err(DescriptionTooLong));
    }
}
