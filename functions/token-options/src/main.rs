use std::sync::Arc;

use ferry_store::dynamodb::DynamoStore;
use token_options::config::Config;
use token_options::{TokenOptions, connect_reader};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    // The RPC URLs from Secrets Manager in deployments (FERRY_RPC_URLS_SECRET_ARN).
    let env = ferry_config::secrets::Environment::load().await?;
    let config = env.read(|lookup| Config::from_lookup(lookup))?;
    let readers = config
        .rpc_urls
        .iter()
        .map(|(chain_id, url)| connect_reader(chain_id, url.expose()))
        .collect::<Result<Vec<_>, _>>()?;
    let chains: Vec<String> = readers.iter().map(|reader| reader.chain_id().to_string()).collect();
    tracing::info!(chains = chains.join(","), "reading balances on these chains");
    let store = DynamoStore::from_env(config.table_name).await;
    let function = TokenOptions::new(store, Arc::new(config.registry)).with_balance_readers(readers);
    ferry_http::run_lambda(|request| function.handle(request)).await
}
