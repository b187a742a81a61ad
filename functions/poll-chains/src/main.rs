use ferry_config::WorkerConfig;
use lambda_runtime::{LambdaEvent, service_fn};
use poll_chains::lambda::PollChainsLambda;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_runtime::logging::init("info");
    // The RPC URLs from Secrets Manager in deployments (FERRY_RPC_URLS_SECRET_ARN).
    let env = ferry_config::secrets::Environment::load().await?;
    let config = env.read(|lookup| WorkerConfig::from_lookup(lookup))?;
    let function = &PollChainsLambda::from_config(config).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(&event.payload, event.context.deadline()).await
    }))
    .await
}
