//! `deliver-webhooks`: tells merchants what happened to their sessions.
//!
//! One function, two triggers (`template.yaml`):
//!
//! - **the webhook queue** (SQS event source, partial batch responses): each
//!   message is one delivery to attempt — claimed, signed, sent, logged,
//!   and when it failed queued again with the backoff's delay (or left to
//!   the sweep when that is longer than a queue can delay);
//! - **a schedule** (every minute): the invocation fans pending events out
//!   to their endpoints every [`DISPATCH_INTERVAL`] until shortly before it
//!   ends, so an event reaches the queue within seconds of its commit, and
//!   sweeps overdue deliveries every [`SWEEP_INTERVAL`].
//!
//! Which one invoked it is told by the event's shape: an SQS event has
//! `Records`. The work itself is [`ferry_notify::DeliverWebhooks`].

use std::time::{Duration, Instant, SystemTime};

use ferry_notify::{DeliverWebhooks, DeliveryMessage, NotifyError, SWEEP_INTERVAL};
use ferry_queue::Queue;
use ferry_queue::lambda::{SqsEvent, process_typed_batch, source_chain};
use ferry_store::{DeliveryStore, WebhookStore};
use serde::Serialize;

/// How often a scheduled invocation looks for pending events and overdue
/// deliveries.
pub const DISPATCH_INTERVAL: Duration = Duration::from_secs(2);
/// The longest a scheduled invocation loops: the next one starts a minute
/// after it began.
pub const MAX_DISPATCH_LOOP: Duration = Duration::from_secs(55);
/// Kept free before the invocation's deadline, to answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("the invocation event is neither an SQS batch nor a schedule: {0}")]
    BadEvent(#[source] serde_json::Error),
    /// Every dispatch cycle of a scheduled invocation failed: the
    /// function's error metric shows it.
    #[error("no dispatch cycle succeeded ({failed} failed); first error: {first}")]
    NothingDispatched { failed: u64, first: String },
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        let kind = match &error {
            InvocationError::BadEvent(_) => "BadEvent",
            InvocationError::NothingDispatched { .. } => "NothingDispatched",
        };
        Self { error_type: format!("DeliverWebhooks.{kind}"), error_message: error.to_string() }
    }
}

/// What a scheduled invocation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchSummary {
    pub cycles: u64,
    pub failed_cycles: u64,
    /// Events fanned out, and the deliveries they made.
    pub events: u64,
    pub deliveries: u64,
    /// Overdue deliveries queued again.
    pub swept: u64,
}

pub struct DeliverFunction<S, Q> {
    worker: DeliverWebhooks<S, Q>,
    pub dispatch_interval: Duration,
    pub max_dispatch_loop: Duration,
    pub safety_margin: Duration,
}

impl<S: DeliveryStore + WebhookStore, Q: Queue> DeliverFunction<S, Q> {
    pub fn new(worker: DeliverWebhooks<S, Q>) -> Self {
        Self {
            worker,
            dispatch_interval: DISPATCH_INTERVAL,
            max_dispatch_loop: MAX_DISPATCH_LOOP,
            safety_margin: SAFETY_MARGIN,
        }
    }

    pub fn worker(&self) -> &DeliverWebhooks<S, Q> {
        &self.worker
    }

    /// One invocation: a batch of deliveries, or a scheduled dispatch loop
    /// that ends before `deadline` (the Lambda context's).
    pub async fn handle(
        &self,
        event: serde_json::Value,
        deadline: SystemTime,
    ) -> Result<serde_json::Value, InvocationError> {
        if event.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event).map_err(InvocationError::BadEvent)?;
            let response = self.deliver_batch(batch).await;
            return serde_json::to_value(response).map_err(InvocationError::BadEvent);
        }
        let left = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        let stop_at = Instant::now() + left.saturating_sub(self.safety_margin).min(self.max_dispatch_loop);
        let summary = self.dispatch_until(stop_at).await?;
        serde_json::to_value(summary).map_err(InvocationError::BadEvent)
    }

    /// Attempts each delivery of the batch; the store's or the queue's
    /// failures are reported, so SQS redelivers those messages (an
    /// endpoint's failure is not one: it is logged and retried by backoff).
    pub async fn deliver_batch(&self, batch: SqsEvent) -> ferry_queue::lambda::SqsBatchResponse {
        let messages = batch.records.len();
        let response = process_typed_batch(batch, |message: DeliveryMessage| async move {
            self.worker.deliver(&message, ferry_http::now()).await.map(|_outcome| ())
        })
        .await;
        tracing::info!(messages, failed = response.batch_item_failures.len(), "delivery batch handled");
        response
    }

    /// Dispatches every interval until `stop_at`, sweeping on the first
    /// cycle and then every [`SWEEP_INTERVAL`].
    pub async fn dispatch_until(&self, stop_at: Instant) -> Result<DispatchSummary, InvocationError> {
        let mut summary = DispatchSummary::default();
        let mut first_error = None;
        let mut last_sweep: Option<Instant> = None;
        loop {
            summary.cycles += 1;
            let sweep = last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_INTERVAL);
            if sweep {
                last_sweep = Some(Instant::now());
            }
            match self.cycle(sweep).await {
                Ok((dispatched, swept)) => {
                    summary.events += dispatched.events as u64;
                    summary.deliveries += dispatched.deliveries as u64;
                    summary.swept += swept as u64;
                }
                Err(error) => {
                    summary.failed_cycles += 1;
                    let text = source_chain(&error);
                    tracing::error!(error = %text, "dispatch cycle failed; the next one retries");
                    first_error.get_or_insert(text);
                }
            }
            if Instant::now() + self.dispatch_interval >= stop_at {
                break;
            }
            tokio::time::sleep(self.dispatch_interval).await;
        }
        tracing::info!(?summary, "dispatch loop done");
        match first_error {
            Some(first) if summary.failed_cycles == summary.cycles => {
                Err(InvocationError::NothingDispatched { failed: summary.failed_cycles, first })
            }
            _ => Ok(summary),
        }
    }

    async fn cycle(&self, sweep: bool) -> Result<(ferry_notify::DispatchReport, usize), NotifyError> {
        let now = ferry_http::now();
        let dispatched = self.worker.dispatch(now).await?;
        let swept = if sweep { self.worker.sweep(now).await? } else { 0 };
        Ok((dispatched, swept))
    }
}
