//! The deployed `expire-sessions`: an EventBridge schedule invokes it every
//! minute; each invocation expires what is due, in batches, until nothing
//! is or shortly before its deadline. A failed invocation is not retried:
//! the next scheduled one is the retry.

use std::time::{Duration, SystemTime};

use ferry_config::Config;
use ferry_notify::Announcer;
use ferry_queue::sqs::SqsQueue;
use ferry_runtime::lambda::{InvocationFailure, diagnostic};
use ferry_runtime::{Ambient, Deadline, error_chain};
use ferry_store::dynamodb::DynamoStore;
use ferry_store::{ExpiryStore, StoreError};

use crate::{ExpireSessions, ExpiryReport};

pub use ferry_runtime::BoxError;

/// How long before the invocation's deadline no new session is started.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Listing or committing failed for another reason than a lost race.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl InvocationFailure for InvocationError {
    const FUNCTION: &'static str = "ExpireSessions";
    fn kind(&self) -> &'static str {
        match self {
            InvocationError::Store(_) => "Store",
        }
    }
}

/// What Lambda records of a failed invocation: the error with its whole
/// source chain (the store's own message is in its sources).
impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        diagnostic(&error)
    }
}

/// The scheduled function.
pub struct ExpireSessionsLambda<S> {
    worker: ExpireSessions<S>,
    pub safety_margin: Duration,
    ambient: Ambient,
}

impl<S: ExpiryStore> ExpireSessionsLambda<S> {
    pub fn new(worker: ExpireSessions<S>) -> Self {
        Self { worker, safety_margin: SAFETY_MARGIN, ambient: Ambient::default() }
    }

    /// Takes the time and fresh ids from `ambient` (the system's by default).
    pub fn with_ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
    }

    pub fn worker(&self) -> &ExpireSessions<S> {
        &self.worker
    }

    /// One scheduled invocation: `event` (the EventBridge schedule event,
    /// or anything when invoked by hand) is only logged; what is due is
    /// decided by the clock.
    pub async fn handle(
        &self,
        event: &serde_json::Value,
        deadline: SystemTime,
    ) -> Result<ExpiryReport, InvocationError> {
        let stop_at = Deadline::before(deadline, self.safety_margin);
        tracing::debug!(event_id = event["id"].as_str().unwrap_or(""), left = ?stop_at.remaining(), "expiring");
        let outcome = self.worker.run_until(self.ambient.now(), Some(stop_at.instant())).await;
        match &outcome {
            Ok(report) => tracing::info!(
                expired = report.expired,
                lost_races = report.lost_races,
                cut_short = report.cut_short,
                "expiry finished"
            ),
            Err(error) => tracing::error!(error = %error_chain(error), "expiry failed"),
        }
        Ok(outcome?)
    }
}

impl ExpireSessionsLambda<DynamoStore> {
    /// The cold start: the table, and the webhook queue its events are
    /// announced on (`announce_queue`, [`ferry_config::announce_queue_url`]).
    pub async fn from_config(config: Config, announce_queue: Option<String>) -> Self {
        let announcer = match announce_queue {
            Some(url) => Announcer::to_queue(SqsQueue::from_env(url).await),
            None => Announcer::none(),
        };
        Self::new(ExpireSessions::new(DynamoStore::from_env(config.table_name).await).announcing(announcer))
    }
}
