//! What the webhook and event functions share: the `{webhookId}` and
//! `{eventId}` path parameters, turning a create request into a domain
//! endpoint, and the store errors as API errors.

use ferry_domain::webhook::{EventSelectionError, parse_description};
use ferry_domain::{
    EventId, EventSelection, MerchantId, Timestamp, UrlPolicy, WebhookEndpoint, WebhookId, WebhookSecret, WebhookUrl,
};
use ferry_runtime::Ids;
use ferry_store::CreateWebhookError;
use lambda_http::Request;

use crate::request::path_param;
use crate::wire::CreateWebhookRequest;
use crate::{ApiError, ErrorCode};

/// The `{webhookId}` path parameter. An id that cannot exist is simply not
/// found.
pub fn webhook_id(request: &Request) -> Result<WebhookId, ApiError> {
    path_param(request, "webhookId").and_then(|id| id.parse().ok()).ok_or_else(ApiError::webhook_not_found)
}

/// The `{eventId}` path parameter. An id that cannot exist is simply not
/// found.
pub fn event_id(request: &Request) -> Result<EventId, ApiError> {
    path_param(request, "eventId").and_then(|id| id.parse().ok()).ok_or_else(ApiError::event_not_found)
}

/// The fields of a new endpoint, checked, naming the first bad one.
#[derive(Debug)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub events: EventSelection,
    pub description: Option<String>,
}

pub fn parse_new_webhook(body: CreateWebhookRequest, policy: UrlPolicy) -> Result<NewWebhook, ApiError> {
    let url = WebhookUrl::parse(&body.url, policy).map_err(|e| ApiError::invalid("url", e))?;
    let events = match body.events {
        None => EventSelection::All,
        Some(names) => EventSelection::parse(&names).map_err(|e| match &e {
            EventSelectionError::Unknown(name) => {
                let index = names.iter().position(|n| n.chars().take(64).eq(name.chars())).unwrap_or(0);
                ApiError::invalid(format!("events[{index}]"), e)
            }
            EventSelectionError::Empty | EventSelectionError::WildcardWithOthers => ApiError::invalid("events", e),
        })?,
    };
    let description = parse_description(body.description).map_err(|e| ApiError::invalid("description", e))?;
    Ok(NewWebhook { url, events, description })
}

impl NewWebhook {
    /// The endpoint with a fresh id and secret (32 bytes from `ids`: the OS
    /// CSPRNG in production).
    pub fn into_endpoint(self, merchant_id: MerchantId, now: Timestamp, ids: &Ids) -> WebhookEndpoint {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(&ids.next());
        secret[16..].copy_from_slice(&ids.next());
        WebhookEndpoint {
            id: WebhookId::from_bytes(ids.next()),
            merchant_id,
            url: self.url,
            events: self.events,
            description: self.description,
            secret: WebhookSecret::from_bytes(secret),
            created_at: now,
        }
    }
}

impl From<CreateWebhookError> for ApiError {
    fn from(error: CreateWebhookError) -> Self {
        match error {
            CreateWebhookError::LimitReached { limit } => Self::new(
                ErrorCode::TooManyWebhooks,
                format!("A merchant can have at most {limit} webhook endpoints; delete one first."),
            ),
            CreateWebhookError::Store(store) => store.into(),
        }
    }
}
