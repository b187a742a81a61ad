use std::sync::Arc;

use check_session::CheckSession;
use ferry_chains::evm::client::EvmClient;
use ferry_config::{Config, TxLookupConfig};
use ferry_http::Context;
use ferry_queue::sqs::SqsQueue;
use ferry_store::dynamodb::DynamoStore;
use ferry_watch::{ChainTxLookup, DepositDetector, WatchedChain};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ferry_runtime::logging::init("info");
    let config = Config::from_env()?;
    // The RPC URLs from Secrets Manager in deployments (FERRY_RPC_URLS_SECRET_ARN).
    let env = ferry_config::secrets::Environment::load().await?;
    let lookup = env.read(|lookup| TxLookupConfig::from_lookup(lookup, &config.registry))?;
    let store = DynamoStore::from_env(config.table_name).await;
    let mut function = CheckSession::new(Context::new(store.clone()));
    if let Some(lookup) = lookup {
        let mut chains = Vec::new();
        for (chain_id, url) in lookup.rpc_urls.iter() {
            let chain = config.registry.chain(chain_id).cloned().ok_or("RPC URL for a chain not in the registry")?;
            // A payer is waiting: each request to a node gives up after the hint's per-call timeout.
            let client = EvmClient::connect_with_timeout(chain_id, url.expose(), ferry_watch::HINT_CALL_TIMEOUT)?;
            chains.push(WatchedChain { chain, client });
        }
        let queue = SqsQueue::from_env(lookup.deposit_queue_url).await;
        function = function.with_tx_lookup(Arc::new(ChainTxLookup::new(DepositDetector::new(store, queue), chains)));
    }
    ferry_http::run_lambda(|request| function.handle(request)).await
}
