//! The deployed `deliver-webhooks`: one handler for both triggers, the
//! webhook queue's batches and the schedule's sweep.

use std::time::{Duration, Instant, SystemTime};

use ferry_config::DeliveryConfig;
use ferry_domain::RetryPolicy;
use ferry_notify::{BATCH, DeliverWebhooks, NotifyError, WebhookMessage, WebhookSender};
use ferry_queue::Queue;
use ferry_queue::lambda::{SqsEvent, process_typed_batch};
use ferry_queue::sqs::SqsQueue;
use ferry_runtime::BoxError;
use ferry_runtime::lambda::{InvocationFailure, diagnostic};
use ferry_runtime::{Ambient, Deadline, error_chain};
use ferry_store::dynamodb::DynamoStore;
use ferry_store::{DeliveryStore, WebhookStore};
use serde::Serialize;

/// Kept free before the invocation's deadline, to answer.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("the invocation event is neither an SQS batch nor a schedule")]
    BadEvent(#[source] serde_json::Error),
    /// The sweep failed: the function's error metric shows it, and the next
    /// minute's sweep tries again.
    #[error("the sweep failed")]
    Sweep(#[source] NotifyError),
}

impl InvocationFailure for InvocationError {
    const FUNCTION: &'static str = "DeliverWebhooks";
    fn kind(&self) -> &'static str {
        match self {
            InvocationError::BadEvent(_) => "BadEvent",
            InvocationError::Sweep(_) => "Sweep",
        }
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        diagnostic(&error)
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

pub struct DeliverWebhooksLambda<S, Q> {
    worker: DeliverWebhooks<S, Q>,
    pub safety_margin: Duration,
    ambient: Ambient,
}

impl<S: DeliveryStore + WebhookStore, Q: Queue> DeliverWebhooksLambda<S, Q> {
    pub fn new(worker: DeliverWebhooks<S, Q>) -> Self {
        Self { worker, safety_margin: SAFETY_MARGIN, ambient: Ambient::default() }
    }

    /// Takes the time and fresh ids from `ambient` (the system's by default).
    pub fn with_ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
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
        let stop_at = Deadline::before(deadline, self.safety_margin).instant();
        let summary = self.sweep_until(stop_at).await.map_err(|error| {
            tracing::error!(error = %error_chain(&error), "the sweep failed; the next one retries");
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
            self.worker.handle(&message, self.ambient.now()).await.map(|_outcome| ())
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
        let swept = self.worker.sweep(self.ambient.now()).await?;
        let mut summary = SweepSummary { swept: swept as u64, ..SweepSummary::default() };
        loop {
            let dispatched = self.worker.dispatch(self.ambient.now()).await?;
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

impl DeliverWebhooksLambda<DynamoStore, SqsQueue> {
    /// The cold start: the table, the webhook queue, and the sender with
    /// the deployment's URL rules.
    pub async fn from_config(config: DeliveryConfig) -> Result<Self, BoxError> {
        let store = DynamoStore::from_env(config.webhooks.table_name).await;
        let queue = SqsQueue::from_env(config.queue_url).await;
        let sender = WebhookSender::new(config.webhooks.url_policy)?;
        Ok(Self::new(DeliverWebhooks::new(store, queue, sender, RetryPolicy::STANDARD)))
    }
}
