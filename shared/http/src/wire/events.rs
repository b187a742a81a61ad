//! Events: what a webhook delivery carries, and the log of an event's deliveries.

use ferry_domain::{AttemptOutcome, DeliveryAttempt, DeliveryState, EventKind, Session, SessionEvent, WebhookDelivery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use super::{RefundView, SessionPublicInfo};

/// The session in an event: the merchant's full view of it, without its
/// client secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSessionView {
    #[serde(flatten)]
    pub public: SessionPublicInfo,
    pub metadata: Option<BTreeMap<String, String>>,
    /// As in the merchant's view: beyond the API Ferry follows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<RefundView>,
}

impl From<&Session> for EventSessionView {
    fn from(session: &Session) -> Self {
        Self {
            public: session.into(),
            metadata: session.metadata.as_ref().map(|m| m.entries().clone()),
            refunds: session.refunds.iter().map(RefundView::from).collect(),
        }
    }
}

/// `{"session": EventSessionView}`
#[derive(Debug, Serialize, ToSchema)]
pub struct EventData {
    pub session: EventSessionView,
}

/// A webhook delivery's body:
/// `{"id", "type", "createdAt", "data": {"session"}, "isTestEvent"?: true}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    /// A UUID, the same on every delivery attempt of the event.
    pub id: String,
    /// `session.processing`, `session.succeeded`, `session.bounced` or `session.expired`.
    #[serde(rename = "type")]
    #[schema(example = "session.succeeded")]
    pub kind: &'static str,
    /// Unix seconds.
    pub created_at: u64,
    pub data: EventData,
    /// Present (and `true`) only on test deliveries.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_test_event: bool,
}

impl From<&SessionEvent> for EventPayload {
    fn from(event: &SessionEvent) -> Self {
        Self {
            id: event.id.to_string(),
            kind: event.kind.as_str(),
            created_at: event.created_at.unix_seconds(),
            data: EventData { session: (&event.session).into() },
            is_test_event: false,
        }
    }
}

/// An event type, as requests name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "session.processing")]
    SessionProcessing,
    #[serde(rename = "session.succeeded")]
    SessionSucceeded,
    #[serde(rename = "session.bounced")]
    SessionBounced,
    #[serde(rename = "session.expired")]
    SessionExpired,
}

impl From<EventType> for EventKind {
    fn from(kind: EventType) -> Self {
        match kind {
            EventType::SessionProcessing => Self::Processing,
            EventType::SessionSucceeded => Self::Succeeded,
            EventType::SessionBounced => Self::Bounced,
            EventType::SessionExpired => Self::Expired,
        }
    }
}

/// One attempt to deliver an event: exactly one of `statusCode` (the
/// endpoint answered) and `error` (it did not) is present.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttemptView {
    /// When the request was sent, in unix seconds.
    pub at: u64,
    /// The HTTP status the endpoint answered with; any 2xx is a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 200)]
    pub status_code: Option<u16>,
    /// Why there was no answer: a timeout (10 s), a refused connection, a
    /// host that resolves only to addresses webhooks may not reach, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "no answer within 10 s")]
    pub error: Option<String>,
    /// From sending the request to its answer (or failure), in milliseconds.
    pub latency_ms: u64,
}

impl From<&DeliveryAttempt> for DeliveryAttemptView {
    fn from(attempt: &DeliveryAttempt) -> Self {
        let (status_code, error) = match &attempt.outcome {
            AttemptOutcome::Responded { status } => (Some(*status), None),
            AttemptOutcome::Failed { error } => (None, Some(error.clone())),
        };
        Self { at: attempt.at.unix_seconds(), status_code, error, latency_ms: attempt.latency_ms }
    }
}

/// Where a delivery is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatusView {
    /// Waiting for its next attempt, at `nextAttemptAt`.
    Pending,
    /// An attempt is under way.
    Sending,
    /// The endpoint answered with a 2xx. Final.
    Succeeded,
    /// Every attempt of the last round failed (about 10 over about a day):
    /// it waits for an operator's replay.
    Parked,
}

/// One event's delivery to one endpoint, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryView {
    /// The endpoint (`wh_` and 32 lowercase hex characters); it may have
    /// been deleted since.
    pub webhook_id: String,
    pub status: DeliveryStatusView,
    /// When the next attempt is due, in unix seconds; only while `pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_attempt_at: Option<u64>,
    /// Every finished attempt, oldest first, replays included.
    pub attempts: Vec<DeliveryAttemptView>,
}

impl From<&WebhookDelivery> for WebhookDeliveryView {
    fn from(delivery: &WebhookDelivery) -> Self {
        let (status, next_attempt_at) = match delivery.state {
            DeliveryState::Pending { next_attempt_at } => {
                (DeliveryStatusView::Pending, Some(next_attempt_at.unix_seconds()))
            }
            DeliveryState::Sending { .. } => (DeliveryStatusView::Sending, None),
            DeliveryState::Succeeded => (DeliveryStatusView::Succeeded, None),
            DeliveryState::Parked => (DeliveryStatusView::Parked, None),
        };
        Self {
            webhook_id: delivery.webhook_id.to_string(),
            status,
            next_attempt_at,
            attempts: delivery.attempts.iter().map(Into::into).collect(),
        }
    }
}

/// `GET /v1/events/{eventId}`: `{"event": EventPayload, "deliveries": [WebhookDeliveryView]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// The event as its deliveries carry it.
    pub event: EventPayload,
    /// One per endpoint the event was fanned out to, by endpoint id. Empty
    /// until the event is fanned out (normally seconds after it happened),
    /// and when no endpoint subscribed to it.
    pub deliveries: Vec<WebhookDeliveryView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{SessionView, TestDeliveryView};
    use ferry_domain::{MerchantId, Timestamp};

    #[test]
    fn an_event_payload_is_the_merchant_view_without_the_client_secret() {
        let open = ferry_store::conformance::sample_session(MerchantId::from_random_bytes([5; 16]));
        let (session, _event) = open.expire(open.expires_at).expect("open and due");
        let event =
            SessionEvent::new([6; 16], EventKind::Expired, &session, Timestamp::from_unix_seconds(1_800_000_100));
        let json = serde_json::to_value(EventPayload::from(&event)).expect("json");

        let object = json.as_object().expect("object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["createdAt", "data", "id", "type"], "no isTestEvent on a real event");
        assert_eq!(json["id"], event.id.to_string());
        assert_eq!(json["id"].as_str().map(str::len), Some(36));
        assert_eq!(json["type"], "session.expired");
        assert_eq!(json["createdAt"], 1_800_000_100);

        let data = json["data"].as_object().expect("data");
        assert_eq!(data.keys().collect::<Vec<_>>(), ["session"]);
        let mut merchant_view = serde_json::to_value(SessionView::from(&session)).expect("json");
        let secret = merchant_view.as_object_mut().expect("object").remove("clientSecret");
        assert!(secret.is_some(), "the merchant view has one");
        assert_eq!(json["data"]["session"], merchant_view, "everything else the merchant sees");
        assert_eq!(json["data"]["session"]["sessionId"], session.id.to_string());
        assert_eq!(json["data"]["session"]["status"], "expired");
        assert!(!json.to_string().contains(&session.client_secret.reveal()), "the secret appears nowhere");

        let test = EventPayload { is_test_event: true, ..EventPayload::from(&event) };
        assert_eq!(serde_json::to_value(test).expect("json")["isTestEvent"], true);
    }

    #[test]
    fn an_attempt_shows_either_the_status_code_or_why_there_was_none() {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let answered = DeliveryAttempt { at, outcome: AttemptOutcome::Responded { status: 503 }, latency_ms: 41 };
        assert_eq!(
            serde_json::to_value(TestDeliveryView::from(&answered)).expect("json"),
            serde_json::json!({"succeeded": false, "at": 1_800_000_000, "statusCode": 503, "latencyMs": 41})
        );
        let failed = DeliveryAttempt {
            at,
            outcome: AttemptOutcome::Failed { error: "no answer within 10 s".into() },
            latency_ms: 10_000,
        };
        assert_eq!(
            serde_json::to_value(DeliveryAttemptView::from(&failed)).expect("json"),
            serde_json::json!({"at": 1_800_000_000, "error": "no answer within 10 s", "latencyMs": 10_000})
        );
        let ok = DeliveryAttempt { outcome: AttemptOutcome::Responded { status: 204 }, ..answered };
        assert_eq!(serde_json::to_value(TestDeliveryView::from(&ok)).expect("json")["succeeded"], true);
    }

    #[test]
    fn a_delivery_shows_its_status_and_only_a_pending_one_its_next_attempt() {
        let t0 = Timestamp::from_unix_seconds(1_800_000_000);
        let delivery = WebhookDelivery::new(
            ferry_domain::EventId::from_random_bytes([1; 16]),
            ferry_domain::WebhookId::from_bytes([2; 16]),
            MerchantId::from_random_bytes([3; 16]),
            t0,
        );
        let json = serde_json::to_value(WebhookDeliveryView::from(&delivery)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "webhookId": "wh_02020202020202020202020202020202",
                "status": "pending",
                "nextAttemptAt": 1_800_000_000,
                "attempts": [],
            })
        );
        let claimed = delivery.claim(t0, 60).expect("due");
        let json = serde_json::to_value(WebhookDeliveryView::from(&claimed)).expect("json");
        assert_eq!(json["status"], "sending");
        assert!(json.get("nextAttemptAt").is_none(), "{json}");
        let attempt = DeliveryAttempt { at: t0, outcome: AttemptOutcome::Responded { status: 200 }, latency_ms: 9 };
        let done = claimed.record(attempt, &ferry_domain::RetryPolicy::STANDARD, 0);
        let json = serde_json::to_value(WebhookDeliveryView::from(&done)).expect("json");
        assert_eq!(json["status"], "succeeded");
        assert_eq!(json["attempts"], serde_json::json!([{"at": 1_800_000_000, "statusCode": 200, "latencyMs": 9}]));
    }
}
