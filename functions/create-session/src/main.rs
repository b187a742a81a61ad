use std::sync::Arc;

use create_session::CreateSession;
use ferry_config::Config;
use ferry_http::Context;
use ferry_store::dynamodb::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(config.table_name).await;
    let function = CreateSession::new(Context::new(store), Arc::new(config.registry));
    ferry_http::run_lambda(|request| function.handle(request)).await
}
