use expire_sessions::lambda::ExpireSessionsLambda;
use ferry_config::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_runtime::logging::init("info");
    let config = Config::from_env()?;
    let announce_queue = ferry_config::announce_queue_url(|name| std::env::var(name).ok());
    let function = &ExpireSessionsLambda::from_config(config, announce_queue).await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the store's sharded reads nested in the invocation's future
        // are deeper than the compiler's layout limit.
        Box::pin(function.handle(&event.payload, event.context.deadline())).await
    }))
    .await
}
