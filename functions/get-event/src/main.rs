use ferry_config::WebhookConfig;
use ferry_store::dynamodb::DynamoStore;
use get_event::GetEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = WebhookConfig::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let function = GetEvent::new(store);
    ferry_http::run_lambda(|request| function.handle(request)).await
}
