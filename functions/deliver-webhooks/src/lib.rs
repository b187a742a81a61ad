//! `deliver-webhooks`: tells merchants what happened to their sessions.
//!
//! One function, two triggers (`template.yaml`):
//!
//! - **the webhook queue** (SQS event source, partial batch responses),
//!   which carries two kinds of message ([`WebhookMessage`]):
//!   - an event a writer (`route-deposits`, `expire-sessions`) announced
//!     right after committing it: fanned out to the merchant's endpoints,
//!     one delivery each, queued;
//!   - a delivery to attempt: claimed, signed, sent, logged, and when it
//!     failed queued again with the backoff's delay (or left to the sweep
//!     when that is longer than a queue can delay);
//! - **a schedule** (every minute), the sweep: events still pending in the
//!   outbox (their announcement was lost, or their writer died before it)
//!   are fanned out, and overdue deliveries are queued again. One pass,
//!   repeated while a batch comes back full, so the function runs for
//!   moments a minute rather than the whole minute.
//!
//! Which one invoked it is told by the event's shape: an SQS event has
//! `Records`. The work itself is [`ferry_notify::DeliverWebhooks`].

use std::time::{Duration, Instant, SystemTime};

use ferry_notify::{BATCH, DeliverWebhooks, NotifyError, WebhookMessage};
use ferry_queue::Queue;
use ferry_queue::lambda::{SqsEvent, process_typed_batch, source_chain};
use ferry_store::{DeliveryStore, WebhookStore};
use serde::Serialize;

/// Kept free before the invocation's deadline, to answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("the invocation event is neither an SQS batch nor a schedule: {0}")]
    BadEvent(#[source] serde_json::Error),
    /// The sweep failed: the function's error metric shows it, and the next
    /// minute's sweep tries again.
    #[error("the sweep failed")]
    Sweep(#[source] NotifyError),
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        let (kind, error_message) = match &error {
            InvocationError::BadEvent(_) => ("BadEvent", error.to_string()),
            // The sweep's error keeps its sources until here.
            InvocationError::Sweep(_) => ("Sweep", source_chain(&error)),
        };
        Self { error_type: format!("DeliverWebhooks.{kind}"), error_message }
    }
}

/// What a scheduled sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    /// Pending events fanned out, and the deliveries they made.
    pub events: u64,
    pub deliveries: u64,
    /// Overdue deliveries queued again.
    pub swept: u64,
    /// The invocation's deadline came with batches possibly left: the next
    /// sweep continues.
    pub cut_short: bool,
}

pub struct DeliverFunction<S, Q> {
    worker: DeliverWebhooks<S, Q>,
    pub safety_margin: Duration,
}

impl<S: DeliveryStore + WebhookStore, Q: Queue> DeliverFunction<S, Q> {
    pub fn new(worker: DeliverWebhooks<S, Q>) -> Self {
        Self { worker, safety_margin: SAFETY_MARGIN }
    }

    pub fn worker(&self) -> &DeliverWebhooks<S, Q> {
        &self.worker
    }

    /// One invocation: a batch of messages, or the scheduled sweep, which
    /// ends before `deadline` (the Lambda context's).
    pub async fn handle(
        &self,
        event: serde_json::Value,
        deadline: SystemTime,
    ) -> Result<serde_json::Value, InvocationError> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event).map_err(InvocationError::BadEvent)?;
            let response = self.handle_batch(batch).await;
            return serde_json::to_value(response).map_err(InvocationError::BadEvent);
        }
        let left = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        let stop_at = Instant::now() + left.saturating_sub(self.safety_margin);
        let summary = self.sweep_until(stop_at).await.map_err(|error| {
            tracing::error!(error = %source_chain(&error), "the sweep failed; the next one retries");
            InvocationError::Sweep(error)
        })?;
        tracing::info!(?summary, "sweep done");
        serde_json::to_value(summary).map_err(InvocationError::BadEvent)
    }

    /// Handles each message of the batch; the store's or the queue's
    /// failures are reported, so SQS redelivers those messages (an
    /// endpoint's failure is not one: it is logged and retried by backoff).
    pub async fn handle_batch(&self, batch: SqsEvent) -> ferry_queue::lambda::SqsBatchResponse {
        let messages = batch.records.len();
        let response = process_typed_batch(batch, |message: WebhookMessage| async move {
            self.worker.handle(&message, ferry_http::now()).await.map(|_outcome| ())
        })
        .await;
        tracing::info!(messages, failed = response.batch_item_failures.len(), "webhook batch handled");
        response
    }

    /// Queues the overdue deliveries (once: they stay overdue until a
    /// consumer claims them, so listing them again now would only queue
    /// duplicates), then fans pending events out batch after batch while
    /// batches come back full, until `stop_at`.
    pub async fn sweep_until(&self, stop_at: Instant) -> Result<SweepSummary, NotifyError> {
        let swept = self.worker.sweep(ferry_http::now()).await?;
        let mut summary = SweepSummary { swept: swept as u64, ..SweepSummary::default() };
        loop {
            let dispatched = self.worker.dispatch(ferry_http::now()).await?;
            summary.events += dispatched.events as u64;
            summary.deliveries += dispatched.deliveries as u64;
            if dispatched.events < BATCH {
                return Ok(summary);
            }
            if Instant::now() >= stop_at {
                summary.cut_short = true;
                return Ok(summary);
            }
        }
    }
}
