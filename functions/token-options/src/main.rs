use std::sync::Arc;

use ferry_store::dynamodb::DynamoStore;
use token_options::config::Config;
use token_options::{TokenOptions, connect_reader};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
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

/// [`ferry_http::service::init_tracing`], except that the HTTP client
/// crates never log below `warn`: alloy's HTTP transport names its URL in
/// its debug spans, and the RPC URLs may carry API keys.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for quiet in [
        "alloy_transport_http=warn",
        "alloy_transport=warn",
        "alloy_rpc_client=warn",
        "reqwest=warn",
        "hyper_util=warn",
        "hyper=warn",
    ] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _already_set =
        if json { builder.json().flatten_event(true).without_time().try_init() } else { builder.compact().try_init() };
}
