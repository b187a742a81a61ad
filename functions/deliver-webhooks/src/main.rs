use deliver_webhooks::lambda::DeliverWebhooksLambda;
use ferry_config::DeliveryConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_runtime::logging::init("info");
    let function = &DeliverWebhooksLambda::from_config(DeliveryConfig::from_env()?).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the future nests the AWS SDK's, the HTTP client's and the
        // worker's, too deep for the compiler to lay out inline.
        Box::pin(function.handle(event.payload, event.context.deadline())).await
    }))
    .await
}
