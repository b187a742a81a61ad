use create_payment_method::CreatePaymentMethod;
use ferry_config::Config;
use ferry_http::Context;
use ferry_store::dynamodb::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let function = CreatePaymentMethod::new(Context::new(store), config.receivers);
    ferry_http::run_lambda(|request| function.handle(request)).await
}
