//! What the webhook queue carries: events to fan out, and deliveries to
//! attempt.

use ferry_domain::{EventId, WebhookDelivery, WebhookId};
use serde::{Deserialize, Serialize};

/// One message of the webhook queue.
///
/// Untagged, so a delivery's body is the same `{"eventId","webhookId"}` it
/// has always been (messages queued before an upgrade still decode), and an
/// announcement is `{"fanOut":"evt_…"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WebhookMessage {
    /// Attempt one delivery.
    Deliver(DeliveryMessage),
    /// An event was just committed: fan it out to its endpoints.
    FanOut(FanOutMessage),
}

/// One delivery to attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    pub event_id: EventId,
    pub webhook_id: WebhookId,
}

impl From<&WebhookDelivery> for DeliveryMessage {
    fn from(delivery: &WebhookDelivery) -> Self {
        Self { event_id: delivery.event_id, webhook_id: delivery.webhook_id }
    }
}

/// An event committed with its session's change, announced by the writer
/// right after the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOutMessage {
    pub fan_out: EventId,
}

impl From<DeliveryMessage> for WebhookMessage {
    fn from(message: DeliveryMessage) -> Self {
        Self::Deliver(message)
    }
}

impl From<&WebhookDelivery> for WebhookMessage {
    fn from(delivery: &WebhookDelivery) -> Self {
        Self::Deliver(delivery.into())
    }
}

impl WebhookMessage {
    /// The announcement of the committed event `event_id`.
    pub fn fan_out(event_id: EventId) -> Self {
        Self::FanOut(FanOutMessage { fan_out: event_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_keep_their_body_and_announcements_are_told_apart() {
        let (event_id, webhook_id) = (EventId::from_random_bytes([1; 16]), WebhookId::from_bytes([2; 16]));
        let deliver = WebhookMessage::Deliver(DeliveryMessage { event_id, webhook_id });
        let body = serde_json::to_value(deliver).expect("encode");
        assert_eq!(body, serde_json::json!({ "eventId": event_id.to_string(), "webhookId": webhook_id.to_string() }));
        assert_eq!(serde_json::from_value::<WebhookMessage>(body).expect("decode"), deliver);

        let announce = WebhookMessage::fan_out(event_id);
        let body = serde_json::to_value(announce).expect("encode");
        assert_eq!(body, serde_json::json!({ "fanOut": event_id.to_string() }));
        assert_eq!(serde_json::from_value::<WebhookMessage>(body).expect("decode"), announce);

        for bad in [serde_json::json!({}), serde_json::json!({ "eventId": event_id.to_string() })] {
            assert!(serde_json::from_value::<WebhookMessage>(bad).is_err());
        }
    }
}
