use ferry_config::WebhookConfig;
use ferry_http::Context;
use ferry_notify::WebhookSender;
use ferry_store::dynamodb::DynamoStore;
use test_webhook::TestWebhook;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = WebhookConfig::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let sender = WebhookSender::new(config.url_policy)?;
    let function = TestWebhook::new(Context::new(store), sender);
    ferry_http::run_lambda(|request| function.handle(request)).await
}
