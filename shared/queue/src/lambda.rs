//! Glue for Lambda functions that consume a queue: the SQS event source
//! mapping receives a batch, invokes the function with it, and deletes the
//! messages the function does not report as failed. The mapping must say
//! `FunctionResponseTypes: [ReportBatchItemFailures]` (in `template.yaml`):
//! then one failing message is redelivered alone instead of the whole
//! batch, and after the queue's `maxReceiveCount` it moves to the
//! dead-letter queue.
//!
//! ```ignore
//! lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
//!     Ok::<_, Error>(process_typed_batch(event.payload, |deposit: Deposit| route(deposit)).await)
//! }))
//! ```

use std::future::Future;

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::{BoxError, decode};

#[derive(Debug, thiserror::Error)]
#[error("the SQS record has no body")]
struct MissingBody;

/// Runs `handler` on the body of every message in `event`, one after the
/// other in batch order, and reports those whose handler failed (or that
/// have no body) as batch item failures. Every message is handled, however
/// many fail before it; each runs in a `message` span carrying its id and
/// receive count, and each failure is logged with its source chain.
pub async fn process_batch<F, Fut, E>(event: SqsEvent, handler: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        // An empty identifier makes Lambda retry the whole batch: the safe
        // outcome for a record without an id, which SQS never sends.
        let message_id = record.message_id.unwrap_or_default();
        let receive_count = record.attributes.get("ApproximateReceiveCount").map(String::as_str).unwrap_or("?");
        let span = tracing::info_span!("message", message_id = %message_id, receive_count);
        let outcome = match record.body {
            Some(body) => handler(body).instrument(span.clone()).await.map_err(Into::into),
            None => Err(BoxError::from(MissingBody)),
        };
        if let Err(error) = outcome {
            span.in_scope(|| {
                tracing::error!(
                    error = %ferry_runtime::error_chain(error.as_ref()),
                    "message failed; SQS will redeliver it"
                );
            });
            response.add_failure(message_id);
        }
    }
    response
}

/// [`process_batch`] for messages of one type: a body that does not decode
/// as `M` is a failure like any other (logged, redelivered, eventually
/// dead-lettered), and `handler` only ever sees decoded messages.
pub async fn process_typed_batch<M, F, Fut, E>(event: SqsEvent, handler: F) -> SqsBatchResponse
where
    M: DeserializeOwned,
    F: Fn(M) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    process_batch(event, |body: String| {
        let handled = decode::<M>(&body).map(&handler);
        async move {
            match handled {
                Ok(future) => future.await.map_err(Into::into),
                Err(malformed) => Err(BoxError::from(malformed)),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde::Deserialize;

    use super::*;

    async fn bounded(test: impl Future<Output = ()>) {
        tokio::time::timeout(std::time::Duration::from_secs(10), test).await.expect("the test finishes within 10 s");
    }

    /// An event as Lambda delivers it, one record per `(id, body)`.
    fn event(records: &[(&str, &str)]) -> SqsEvent {
        let records: Vec<_> = records
            .iter()
            .map(|(id, body)| {
                serde_json::json!({
                    "messageId": id,
                    "receiptHandle": format!("handle-{id}"),
                    "body": body,
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1700000000000",
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:deposits",
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).expect("an SQS event")
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[derive(Debug, thiserror::Error)]
    #[error("route failed")]
    struct RouteFailed(#[source] std::io::Error);

    #[tokio::test]
    async fn only_failed_messages_are_reported_and_every_message_is_handled() {
        bounded(async {
            let handled = Mutex::new(Vec::new());
            let response = process_batch(
                event(&[("m1", "ok 1"), ("m2", "fail"), ("m3", "ok 3"), ("m4", "fail")]),
                |body: String| {
                    handled.lock().expect("lock").push(body.clone());
                    async move {
                        if body == "fail" {
                            Err(RouteFailed(std::io::Error::other("node unreachable")))
                        } else {
                            Ok(())
                        }
                    }
                },
            )
            .await;
            assert_eq!(failed_ids(&response), ["m2", "m4"]);
            assert_eq!(*handled.lock().expect("lock"), ["ok 1", "fail", "ok 3", "fail"]);
            // What Lambda reads back.
            assert_eq!(
                serde_json::to_value(&response).expect("json"),
                serde_json::json!({ "batchItemFailures": [
                    { "itemIdentifier": "m2" },
                    { "itemIdentifier": "m4" },
                ]})
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_batch_without_failures_reports_none() {
        bounded(async {
            let response = process_batch(event(&[("m1", "a"), ("m2", "b")]), |_body: String| async {
                Ok::<(), std::io::Error>(())
            })
            .await;
            assert!(response.batch_item_failures.is_empty());
            assert!(
                process_batch(SqsEvent::default(), |_body: String| async { Ok::<(), std::io::Error>(()) })
                    .await
                    .batch_item_failures
                    .is_empty()
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_record_without_body_fails_alone_and_one_without_id_fails_the_batch() {
        bounded(async {
            let mut event = event(&[("m1", "a"), ("m2", "b"), ("m3", "c")]);
            event.records[0].body = None;
            event.records[2].message_id = None;
            let response =
                process_batch(event, |body: String| async move { if body == "c" { Err("boom") } else { Ok(()) } })
                    .await;
            // An empty identifier is how Lambda is told to retry everything.
            assert_eq!(failed_ids(&response), ["m1", ""]);
        })
        .await;
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Deposit {
        session: String,
        units: u64,
    }

    #[tokio::test]
    async fn typed_batches_fail_malformed_messages_without_calling_the_handler() {
        bounded(async {
            let handled = Mutex::new(Vec::new());
            let response = process_typed_batch(
                event(&[
                    ("good", r#"{"session":"s1","units":5}"#),
                    ("garbage", "not json"),
                    ("wrong", r#"{"session":"s2","units":"five"}"#),
                    ("refused", r#"{"session":"s3","units":0}"#),
                ]),
                |deposit: Deposit| {
                    let refused = deposit.units == 0;
                    handled.lock().expect("lock").push(deposit.session);
                    async move { if refused { Err(std::io::Error::other("zero deposit")) } else { Ok(()) } }
                },
            )
            .await;
            assert_eq!(failed_ids(&response), ["garbage", "wrong", "refused"]);
            assert_eq!(*handled.lock().expect("lock"), ["s1", "s3"]);
        })
        .await;
    }
}
