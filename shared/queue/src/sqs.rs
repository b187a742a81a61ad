//! The SQS adapter: one standard queue per [`SqsQueue`], named by its URL.
//!
//! Durations go to SQS in whole seconds, rounded up. The receive count is
//! SQS's `ApproximateReceiveCount` attribute; like every SQS count it is
//! approximate, but exact enough to decide when to give up on a message.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;

use crate::{Queue, QueueError, QueueResult, Receipt, Received, check_delay, check_receive, whole_seconds};

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

#[derive(Debug, thiserror::Error)]
enum ProtocolError {
    #[error("SQS returned a message without {0}")]
    Missing(&'static str),
    #[error("SQS returned an ApproximateReceiveCount that is not a number: {0:?}")]
    ReceiveCount(String),
}

/// Seconds as the SQS API takes them. Every caller checked the duration
/// against a limit far below `i32::MAX` seconds first.
fn seconds(duration: Duration) -> i32 {
    i32::try_from(whole_seconds(duration)).unwrap_or(i32::MAX)
}

/// A client for a local SQS-compatible endpoint, with dummy credentials.
async fn local_client(endpoint: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("local", "local", None, None, "ferry-local"))
        .load()
        .await;
    Client::new(&config)
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, url: queue_url.into() }
    }

    /// A client from the standard AWS configuration chain (environment,
    /// profile, instance role). `AWS_ENDPOINT_URL` points it at a local
    /// SQS-compatible service.
    pub async fn from_env(queue_url: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), queue_url)
    }

    /// The queue named `queue_name` on a local SQS-compatible endpoint,
    /// with dummy credentials, created if it does not exist yet. For local
    /// development and tests; deployments get their queues from
    /// CloudFormation.
    pub async fn local(endpoint: &str, queue_name: &str) -> QueueResult<Self> {
        use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
        let client = local_client(endpoint).await;
        let existing = client.get_queue_url().queue_name(queue_name).send().await;
        let url = match existing {
            Ok(output) => output.queue_url,
            Err(e) if matches!(e.as_service_error(), Some(GetQueueUrlError::QueueDoesNotExist(_))) => {
                client.create_queue().queue_name(queue_name).send().await.map_err(QueueError::backend)?.queue_url
            }
            Err(e) => return Err(QueueError::backend(e)),
        };
        let url = url.ok_or_else(|| QueueError::backend(ProtocolError::Missing("QueueUrl")))?;
        Ok(Self::new(client, url))
    }

    /// [`Self::local`], creating the queue with a redrive policy as the
    /// template's: after `max_receive_count` receives a message moves to the
    /// queue at `dead_letter_url`. For tests of what SQS itself counts.
    pub async fn local_with_redrive(
        endpoint: &str,
        queue_name: &str,
        dead_letter_url: &str,
        max_receive_count: u32,
    ) -> QueueResult<Self> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let client = local_client(endpoint).await;
        let arn = client
            .get_queue_attributes()
            .queue_url(dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(QueueError::backend)?
            .attributes
            .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| QueueError::backend(ProtocolError::Missing("QueueArn")))?;
        let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{max_receive_count}}}"#);
        let url = client
            .create_queue()
            .queue_name(queue_name)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .map_err(QueueError::backend)?
            .queue_url
            .ok_or_else(|| QueueError::backend(ProtocolError::Missing("QueueUrl")))?;
        Ok(Self::new(client, url))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SDK client, to reach another queue with the same configuration.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn received(message: aws_sdk_sqs::types::Message) -> QueueResult<Received> {
    let missing = |what| QueueError::backend(ProtocolError::Missing(what));
    let receive_count = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .ok_or_else(|| missing("ApproximateReceiveCount"))?;
    let receive_count =
        receive_count.parse().map_err(|_| QueueError::backend(ProtocolError::ReceiveCount(receive_count.clone())))?;
    Ok(Received {
        receipt: Receipt::new(message.receipt_handle.ok_or_else(|| missing("ReceiptHandle"))?),
        body: message.body.ok_or_else(|| missing("Body"))?,
        receive_count,
    })
}

impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Option<Duration>) -> QueueResult<()> {
        check_delay(delay)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .set_delay_seconds(delay.map(seconds))
            .send()
            .await
            .map_err(QueueError::backend)?;
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> QueueResult<Vec<Received>> {
        check_receive(max, wait, visibility)?;
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            // At most `MAX_BATCH`, checked above.
            .max_number_of_messages(i32::try_from(max).unwrap_or(1))
            .wait_time_seconds(seconds(wait))
            .visibility_timeout(seconds(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(QueueError::backend)?;
        output.messages.unwrap_or_default().into_iter().map(received).collect()
    }

    async fn ack(&self, receipt: &Receipt) -> QueueResult<()> {
        use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
        let result = self.client.delete_message().queue_url(&self.url).receipt_handle(receipt.as_str()).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(DeleteMessageError::ReceiptHandleIsInvalid(_))) => {
                Err(QueueError::InvalidReceipt)
            }
            Err(e) => Err(QueueError::backend(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_whole_seconds_rounded_up() {
        assert_eq!(seconds(Duration::ZERO), 0);
        assert_eq!(seconds(Duration::from_millis(1_500)), 2);
        assert_eq!(seconds(crate::MAX_DELAY), 900);
    }

    #[test]
    fn messages_without_what_consumers_need_are_errors() {
        use aws_sdk_sqs::types::Message;
        let complete = Message::builder()
            .body("{}")
            .receipt_handle("handle")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3");
        let ok = received(complete.clone().build()).expect("complete message");
        assert_eq!(ok.receive_count, 3);
        assert_eq!(ok.receipt.as_str(), "handle");
        assert_eq!(ok.body, "{}");

        let no_count = Message::builder().body("{}").receipt_handle("handle").build();
        assert!(matches!(received(no_count), Err(QueueError::Backend(_))));
        let bad_count =
            complete.clone().attributes(MessageSystemAttributeName::ApproximateReceiveCount, "many").build();
        assert!(matches!(received(bad_count), Err(QueueError::Backend(_))));
        let no_receipt =
            Message::builder().body("{}").attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1").build();
        assert!(matches!(received(no_receipt), Err(QueueError::Backend(_))));
    }
}
