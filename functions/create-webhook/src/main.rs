use create_webhook::CreateWebhook;
use ferry_config::WebhookConfig;
use ferry_http::Context;
use ferry_store::dynamodb::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = WebhookConfig::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let function = CreateWebhook::new(Context::new(store), config.url_policy);
    ferry_http::run_lambda(|request| function.handle(request)).await
}
