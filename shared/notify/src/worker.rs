//! The webhook worker: fans events out to endpoints, sends deliveries,
//! schedules retries and replays parked deliveries.

use std::time::Duration;

use ferry_domain::{ClaimError, DeliveryState, EventId, RetryPolicy, SessionEvent, Timestamp, WebhookDelivery};
use ferry_http::wire::EventPayload;
use ferry_queue::{MAX_DELAY, Queue, QueueError, TypedQueue};
use ferry_store::{DEFAULT_ATTEMPTS, DeliveryStore, RetryError, StoreError, WebhookStore, retry_on_conflict};

use crate::message::{DeliveryMessage, WebhookMessage};
use crate::sender::{DELIVERY_TIMEOUT, WebhookSender};

/// How long a claim holds: longer than an attempt can take.
pub const LEASE_SECONDS: u64 = DELIVERY_TIMEOUT.as_secs() * 6;
/// How late a delivery must be before the sweep queues it: short waits have
/// a delayed message on the way, which should get there first.
pub const SWEEP_GRACE_SECONDS: u64 = 30;
/// How often a worker sweeps. Each sweep queues every overdue delivery once
/// more, so sweeping more often than deliveries can be claimed would only
/// pile up duplicate messages (harmless, but a flood while the store is
/// down).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(SWEEP_GRACE_SECONDS);
/// How many events or deliveries one dispatch or sweep handles.
pub const BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot encode the event {0} as JSON")]
    Encode(EventId, #[source] serde_json::Error),
}

/// The log message of a parked delivery, which deployments count.
pub const PARKED_LOG_MESSAGE: &str = "webhook delivery parked";

/// What became of one queued delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// The endpoint answered 2xx.
    Succeeded,
    /// It failed; the next attempt is due then (and queued if that is near).
    Retrying { at: Timestamp },
    /// It failed for the last time this round, or its endpoint is gone.
    Parked,
    /// Not due yet (an early or duplicate message): queued again if near.
    NotDue { at: Timestamp },
    /// Nothing to do: it is finished, unknown, or another worker claimed it.
    Skipped,
    /// An announced event was fanned out into this many deliveries.
    FannedOut { deliveries: usize },
}

/// What one dispatch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub events: usize,
    pub deliveries: usize,
}

pub struct DeliverWebhooks<S, Q> {
    store: S,
    queue: TypedQueue<Q, WebhookMessage>,
    sender: WebhookSender,
    policy: RetryPolicy,
}

impl<S: DeliveryStore + WebhookStore, Q: Queue> DeliverWebhooks<S, Q> {
    pub fn new(store: S, queue: Q, sender: WebhookSender, policy: RetryPolicy) -> Self {
        Self { store, queue: TypedQueue::new(queue), sender, policy }
    }

    /// One message of the webhook queue: an announced event to fan out, or
    /// a delivery to attempt.
    pub async fn handle(&self, message: &WebhookMessage, now: Timestamp) -> Result<Delivered, NotifyError> {
        match message {
            WebhookMessage::Deliver(delivery) => self.deliver(delivery, now).await,
            WebhookMessage::FanOut(announced) => {
                let Some(event) = self.store.get_event(&announced.fan_out).await? else {
                    tracing::warn!(event_id = %announced.fan_out, "an announced event does not exist");
                    return Ok(Delivered::Skipped);
                };
                Ok(match self.fan_out(&event, now).await? {
                    Some(deliveries) => Delivered::FannedOut { deliveries },
                    None => Delivered::Skipped,
                })
            }
        }
    }

    /// Fans every pending event out (the sweep of events whose announcement
    /// was lost, or that nobody announced) and queues the deliveries.
    pub async fn dispatch(&self, now: Timestamp) -> Result<DispatchReport, NotifyError> {
        let mut report = DispatchReport::default();
        for event in self.store.pending_events(BATCH).await? {
            if let Some(deliveries) = self.fan_out(&event, now).await? {
                report.events += 1;
                report.deliveries += deliveries;
            }
        }
        Ok(report)
    }

    /// Fans `event` out to the merchant's endpoints that subscribe to it and
    /// queues the deliveries; returns how many, or `None` when the event was
    /// fanned out before (by another worker, or an earlier message). A
    /// delivery whose message is lost is found by [`Self::sweep`].
    async fn fan_out(&self, event: &SessionEvent, now: Timestamp) -> Result<Option<usize>, NotifyError> {
        let endpoints = self.store.list_webhooks(&event.merchant_id).await?;
        let deliveries: Vec<WebhookDelivery> = endpoints
            .iter()
            .filter(|endpoint| endpoint.events.includes(event.kind))
            .map(|endpoint| WebhookDelivery::new(event.id, endpoint.id, event.merchant_id, now))
            .collect();
        match self.store.fan_out(&event.id, &deliveries).await {
            Ok(()) => {}
            Err(StoreError::Conflict(why)) => {
                tracing::debug!(event_id = %event.id, %why, "event already fanned out");
                return Ok(None);
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(event_id = %event.id, kind = event.kind.as_str(), endpoints = deliveries.len(), "event fanned out");
        for delivery in &deliveries {
            self.queue.send(&delivery.into()).await?;
        }
        Ok(Some(deliveries.len()))
    }

    /// Queues the deliveries whose time came more than
    /// [`SWEEP_GRACE_SECONDS`] ago: waits longer than a queue can delay,
    /// lost messages and claims whose worker died. Returns how many.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, NotifyError> {
        let overdue_since = Timestamp::from_unix_seconds(now.unix_seconds().saturating_sub(SWEEP_GRACE_SECONDS));
        let due = self.store.due_deliveries(overdue_since, BATCH).await?;
        for delivery in &due {
            self.queue.send(&delivery.into()).await?;
        }
        Ok(due.len())
    }

    /// One queued delivery: claim it, send it, log the attempt, and queue
    /// the next one when it is near. Errors are the store's or the queue's
    /// (the message should be retried); an endpoint's failure is an outcome.
    pub async fn deliver(&self, message: &DeliveryMessage, now: Timestamp) -> Result<Delivered, NotifyError> {
        let Some(delivery) = self.store.get_delivery(&message.event_id, &message.webhook_id).await? else {
            tracing::warn!(event_id = %message.event_id, webhook_id = %message.webhook_id, "no such delivery");
            return Ok(Delivered::Skipped);
        };
        let claimed = match delivery.claim(now, LEASE_SECONDS) {
            Ok(claimed) => claimed,
            Err(ClaimError::Finished) => return Ok(Delivered::Skipped),
            Err(ClaimError::NotDue(at)) => {
                self.requeue(message, at, now).await?;
                return Ok(Delivered::NotDue { at });
            }
        };
        match self.store.update_delivery(&claimed).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(Delivered::Skipped),
            Err(other) => return Err(other.into()),
        }
        let (event, endpoint) = (
            self.store.get_event(&message.event_id).await?,
            self.store.get_webhook(&claimed.merchant_id, &message.webhook_id).await?,
        );
        let recorded = match (event, endpoint) {
            (Some(event), Some(endpoint)) => {
                let body = event_body(&event, false)?;
                let attempt = self.sender.send(&endpoint.url, &endpoint.secret, &body, now).await;
                claimed.record(attempt, &self.policy, rand::random())
            }
            (None, _) => claimed.abandon(now, "the event no longer exists"),
            (_, None) => claimed.abandon(now, "the endpoint was deleted"),
        };
        let outcome = match recorded.state {
            DeliveryState::Succeeded => Delivered::Succeeded,
            DeliveryState::Parked => Delivered::Parked,
            DeliveryState::Pending { next_attempt_at } => Delivered::Retrying { at: next_attempt_at },
            DeliveryState::Sending { .. } => Delivered::Skipped,
        };
        if let Some(last) = recorded.attempts.last() {
            tracing::info!(
                event_id = %recorded.event_id,
                webhook_id = %recorded.webhook_id,
                attempt = recorded.attempts.len(),
                outcome = ?last.outcome,
                latency_ms = last.latency_ms,
                state = ?recorded.state,
                "webhook delivery attempted"
            );
        }
        match self.store.update_delivery(&recorded).await {
            Ok(()) => {}
            // Our claim lapsed and another worker took over: its record wins.
            Err(StoreError::Conflict(_)) => return Ok(Delivered::Skipped),
            Err(other) => return Err(other.into()),
        }
        match outcome {
            Delivered::Retrying { at } => self.requeue(message, at, now).await?,
            // The deployment counts these lines (a metric filter and its alarm).
            Delivered::Parked => tracing::warn!(
                event_id = %recorded.event_id,
                webhook_id = %recorded.webhook_id,
                merchant_id = %recorded.merchant_id,
                attempts = recorded.attempts.len(),
                "{PARKED_LOG_MESSAGE}"
            ),
            Delivered::Succeeded | Delivered::NotDue { .. } | Delivered::Skipped | Delivered::FannedOut { .. } => {}
        }
        Ok(outcome)
    }

    /// Queues `message` again for `at` if a queue can delay it that long;
    /// later ones are left to the sweep.
    async fn requeue(&self, message: &DeliveryMessage, at: Timestamp, now: Timestamp) -> Result<(), NotifyError> {
        let wait = Duration::from_secs(at.unix_seconds().saturating_sub(now.unix_seconds()));
        if wait <= MAX_DELAY {
            self.queue.send_delayed(&(*message).into(), wait).await?;
        }
        Ok(())
    }

    /// Replays parked deliveries (see [`replay_parked`]) and queues them
    /// at once.
    pub async fn replay(&self, scope: ReplayScope, now: Timestamp) -> Result<Vec<WebhookDelivery>, NotifyError> {
        let replayed = replay_parked(&self.store, scope, now).await?;
        for delivery in &replayed {
            self.queue.send(&delivery.into()).await?;
        }
        Ok(replayed)
    }
}

/// Which parked deliveries to replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayScope {
    Event(EventId),
    Parked { limit: usize },
}

/// The JSON body of a delivery of `event` (SPEC: Webhooks).
pub fn event_body(event: &SessionEvent, is_test_event: bool) -> Result<Vec<u8>, NotifyError> {
    let payload = EventPayload { is_test_event, ..EventPayload::from(event) };
    serde_json::to_vec(&payload).map_err(|e| NotifyError::Encode(event.id, e))
}

/// Makes parked deliveries (one event's, or the oldest `limit` of all) due
/// `now` with a fresh round of attempts, and returns them. Nothing is
/// queued: a worker's sweep finds them (or [`DeliverWebhooks::replay`]
/// queues them itself). A delivery that changed since it was listed is read
/// again and replayed if it is still parked; one replayed concurrently by
/// someone else is skipped.
pub async fn replay_parked<S: DeliveryStore>(
    store: &S,
    scope: ReplayScope,
    now: Timestamp,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let parked: Vec<WebhookDelivery> = match scope {
        ReplayScope::Event(event_id) => {
            store.list_deliveries(&event_id).await?.into_iter().filter(|d| d.state == DeliveryState::Parked).collect()
        }
        ReplayScope::Parked { limit } => store.parked_deliveries(limit).await?,
    };
    let mut replayed = Vec::new();
    for listed in &parked {
        let (event_id, webhook_id) = (listed.event_id, listed.webhook_id);
        let outcome = retry_on_conflict(DEFAULT_ATTEMPTS, |attempt| async move {
            let current = match attempt {
                1 => Some(listed.clone()),
                _ => store.get_delivery(&event_id, &webhook_id).await?,
            };
            let Some(next) = current.and_then(|delivery| delivery.replay(now).ok()) else {
                return Ok(None);
            };
            store.update_delivery(&next).await?;
            Ok::<_, RetryError>(Some(next))
        })
        .await;
        match outcome {
            Ok(next) => replayed.extend(next),
            Err(RetryError::Store(error)) => return Err(error),
            Err(exhausted) => {
                tracing::warn!(%event_id, %webhook_id, error = %exhausted, "parked delivery kept changing; not replayed")
            }
        }
    }
    Ok(replayed)
}
