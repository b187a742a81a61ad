use ferry_config::WorkerConfig;
use ferry_queue::lambda::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use route_deposits::lambda::RouteDepositsLambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_runtime::logging::init("info");
    // The RPC URLs from Secrets Manager in deployments (FERRY_RPC_URLS_SECRET_ARN).
    let env = ferry_config::secrets::Environment::load().await?;
    let config = env.read(|lookup| WorkerConfig::from_lookup(lookup))?;
    let function = &RouteDepositsLambda::from_config(config).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(function.handle(event.payload, event.context.deadline()).await)
    }))
    .await
}
