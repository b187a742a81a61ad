//! Webhook endpoints: creating, listing, deleting and testing them.

use ferry_domain::DeliveryAttempt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DeliveryAttemptView, EventPayload, EventType};

/// `POST /v1/webhooks`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: `https`, at most 2048 characters, no
    /// username or password, no fragment, and neither an IP address in a
    /// private, loopback, link-local, unique-local, multicast or reserved
    /// range nor a host name that resolves only to such addresses (names
    /// are resolved again at every delivery; plain `http` to a loopback
    /// host only where the deployment allows it for development).
    #[schema(example = "https://shop.example/hooks/ferry")]
    pub url: String,
    /// `["*"]` (the default: every event, including ones added later) or
    /// a non-empty list of `session.processing`, `session.succeeded`,
    /// `session.bounced`, `session.expired`. Duplicates are ignored; `"*"`
    /// must stand alone.
    #[serde(default)]
    #[schema(example = json!(["session.succeeded", "session.bounced"]))]
    pub events: Option<Vec<String>>,
    /// At most 500 characters; empty means none.
    #[serde(default)]
    pub description: Option<String>,
}

/// A webhook endpoint, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// `wh_` and 32 lowercase hex characters.
    #[schema(example = "wh_0123456789abcdef0123456789abcdef")]
    pub id: String,
    /// The URL as normalized when it was registered.
    pub url: String,
    /// `["*"]` or the subscribed event types.
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// A webhook endpoint as created: with its signing secret, shown only once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhookView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` and 64 lowercase hex characters: the HMAC-SHA256 key of
    /// every delivery's `Ferry-Signature`. Shown only in this response.
    #[schema(example = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    pub secret: String,
}

/// `{"webhook": CreatedWebhookView}`
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookResponse {
    pub webhook: CreatedWebhookView,
}

/// `{"webhook": WebhookView}`
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    pub webhook: WebhookView,
}

/// `{"webhooks": [WebhookView]}`, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListResponse {
    pub webhooks: Vec<WebhookView>,
}

/// `DELETE /v1/webhooks/{webhookId}`
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedWebhookResponse {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

impl From<&ferry_domain::WebhookEndpoint> for WebhookView {
    fn from(endpoint: &ferry_domain::WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.to_string(),
            events: endpoint.events.names().into_iter().map(str::to_string).collect(),
            description: endpoint.description.clone(),
            created_at: endpoint.created_at.unix_seconds(),
        }
    }
}

impl From<&ferry_domain::WebhookEndpoint> for CreatedWebhookView {
    fn from(endpoint: &ferry_domain::WebhookEndpoint) -> Self {
        Self { webhook: endpoint.into(), secret: endpoint.secret.reveal() }
    }
}

/// `POST /v1/webhooks/{webhookId}/test`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestWebhookRequest {
    /// The type of the test event; sent even if the endpoint does not
    /// subscribe to it.
    pub event_type: EventType,
}

/// What the test delivery got.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestDeliveryView {
    /// Whether the endpoint answered with a 2xx within 10 s.
    pub succeeded: bool,
    #[serde(flatten)]
    pub attempt: DeliveryAttemptView,
}

impl From<&DeliveryAttempt> for TestDeliveryView {
    fn from(attempt: &DeliveryAttempt) -> Self {
        Self { succeeded: attempt.outcome.is_success(), attempt: attempt.into() }
    }
}

/// `{"event": EventPayload, "delivery": TestDeliveryView}`: the test event
/// exactly as it was sent, and what its one delivery attempt got.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestWebhookResponse {
    pub event: EventPayload,
    pub delivery: TestDeliveryView,
}
