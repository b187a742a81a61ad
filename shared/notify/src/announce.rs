//! Announcing committed events, so webhooks go out at once.
//!
//! The writers of events (`route-deposits`, `expire-sessions`) commit each
//! one with its session's change (the outbox), then announce it on the
//! webhook queue; `deliver-webhooks`, triggered by that queue, fans it out
//! within moments. The announcement is a hint, never the record: a writer
//! that dies between the commit and the announcement, or a queue that
//! refuses it, leaves the event pending in the outbox, where the schedule's
//! sweep (every minute) finds it. An event announced and swept at once is
//! fanned out once: the fan-out is a conditional write.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ferry_domain::SessionEvent;
use ferry_queue::{Queue, TypedQueue};

use crate::message::WebhookMessage;

/// Where committed events are announced, if anywhere.
#[derive(Clone, Default)]
pub struct Announcer(Option<Arc<dyn Announce>>);

impl Announcer {
    /// Announces nothing: events wait for the sweep.
    pub fn none() -> Self {
        Self(None)
    }

    /// Announces on `queue`, the webhook queue `deliver-webhooks` consumes.
    pub fn to_queue<Q: Queue>(queue: Q) -> Self {
        Self(Some(Arc::new(TypedQueue::<Q, WebhookMessage>::new(queue))))
    }

    /// Tells the webhook worker that `event` was committed. Never fails: a
    /// failure is logged, and the sweep fans the event out instead.
    pub async fn committed(&self, event: &SessionEvent) {
        let Some(target) = &self.0 else { return };
        if let Err(error) = target.announce(WebhookMessage::fan_out(event.id)).await {
            tracing::warn!(event_id = %event.id, %error, "announcing the event failed; the sweep fans it out");
        }
    }
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Announcer(queue)" } else { "Announcer(none)" })
    }
}

type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), ferry_queue::QueueError>> + Send + 'a>>;

/// A queue erased to what announcing needs, so the writers carry no queue
/// type parameter.
trait Announce: Send + Sync {
    fn announce(&self, message: WebhookMessage) -> Sending<'_>;
}

impl<Q: Queue> Announce for TypedQueue<Q, WebhookMessage> {
    fn announce(&self, message: WebhookMessage) -> Sending<'_> {
        Box::pin(async move { self.send(&message).await })
    }
}
