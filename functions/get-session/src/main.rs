use ferry_config::Config;
use ferry_store::dynamodb::DynamoStore;
use get_session::GetSession;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let function = GetSession::new(store);
    ferry_http::run_lambda(|request| function.handle(request)).await
}
