use ferry_config::Config;
use ferry_http::Context;
use ferry_store::dynamodb::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let cx = Context::new(store);
    ferry_http::run_lambda(|request| get_session::handle(&cx, request)).await
}
