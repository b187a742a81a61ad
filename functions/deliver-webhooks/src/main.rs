use deliver_webhooks::DeliverFunction;
use ferry_config::DeliveryConfig;
use ferry_domain::RetryPolicy;
use ferry_notify::{DeliverWebhooks, WebhookSender};
use ferry_queue::sqs::SqsQueue;
use ferry_store::dynamodb::DynamoStore;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_runtime::logging::init("info");
    let config = DeliveryConfig::from_env()?;
    let store = DynamoStore::from_env(config.webhooks.table_name).await;
    let queue = SqsQueue::from_env(config.queue_url).await;
    let sender = WebhookSender::new(config.webhooks.url_policy)?;
    let function = &DeliverFunction::new(DeliverWebhooks::new(store, queue, sender, RetryPolicy::STANDARD));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the future nests the AWS SDK's, the HTTP client's and the
        // worker's, too deep for the compiler to lay out inline.
        Box::pin(function.handle(event.payload, event.context.deadline())).await
    }))
    .await
}
