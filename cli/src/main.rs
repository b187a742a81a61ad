use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use alloy_primitives::Address;
use clap::{Args, Parser, Subcommand};
use ferry_chains::evm::ReceiverDerivation;
use ferry_cli::api::Api;
use ferry_cli::stores::StoreArgs;
use ferry_cli::{dev, operator, server, with_store};
use ferry_config::RegistryChoice;
use ferry_domain::{ApiKeyLabel, MerchantId};
use ferry_http::cors::CorsPolicy;
use ferry_store::{ChainStore, DeliveryStore, ExpiryStore, MerchantStore, Store};
use tokio::net::TcpListener;

/// Where the local stack expects the receiver factory: the first contract
/// that anvil's account 0 deploys.
const DEV_RECEIVER_FACTORY: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

#[derive(Parser)]
#[command(name = "ferry", version, about = "Ferry: self-hostable payment sessions")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on 127.0.0.1 with every function mounted in one process.
    Serve(ServeArgs),
    /// Serve the API, create a merchant and an API key, run a self-check and
    /// print a walkthrough; keeps serving until Ctrl-C.
    Dev(ServeArgs),
    /// Manage merchants.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Inspect and replay parked webhook deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Replay dead-lettered deposits.
    #[command(subcommand)]
    Deposits(DepositsCommand),
}

#[derive(Subcommand)]
enum DepositsCommand {
    /// Move deposits from the dead-letter queue back to the deposit queue
    /// with a fresh round of routing attempts: the local stack's queues in
    /// the data directory, or a deployment's SQS queues (credentials and
    /// region from the standard AWS chain; `AWS_ENDPOINT_URL` for a local
    /// SQS-compatible service).
    Replay {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// The deposit queue's URL (`DepositQueueUrl` of the stack).
        #[arg(long, requires = "dead_letter_queue_url")]
        queue_url: Option<String>,
        /// The dead-letter queue's URL (`DepositDeadLetterQueueUrl` of the stack).
        #[arg(long, requires = "queue_url")]
        dead_letter_queue_url: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    chains: ChainArgs,
    /// A chain to watch and deliver on, as CHAIN_ID=RPC_URL (repeatable).
    /// The contracts and test USDC are deployed there if missing.
    #[arg(long = "rpc", value_name = "CHAIN_ID=URL")]
    rpc: Vec<ferry_cli::workers::RpcEndpoint>,
    /// Refuse webhook endpoints on loopback (`http://127.0.0.1:…`), as a
    /// deployment does. By default the local server accepts them, for
    /// development receivers.
    #[arg(long)]
    https_webhooks_only: bool,
    /// Browser origins (scheme://host[:port], comma-separated) that may send
    /// API keys. Any origin may call the client-secret routes; by default no
    /// browser may send an API key. The same as the template's
    /// `CorsAllowedOrigins`.
    #[arg(long, env = "FERRY_CORS_ALLOWED_ORIGINS", default_value = "", value_name = "ORIGINS",
          value_parser = CorsPolicy::parse, hide_default_value = true)]
    cors_allowed_origins: CorsPolicy,
}

#[derive(Args)]
struct ChainArgs {
    /// Which chain registry to serve.
    #[arg(long, env = "FERRY_CHAIN_REGISTRY", default_value = "local", value_parser = RegistryChoice::from_str)]
    chain_registry: RegistryChoice,
    /// The receiver factory's address (the same on every chain).
    #[arg(long, env = "FERRY_RECEIVER_FACTORY", default_value = DEV_RECEIVER_FACTORY)]
    receiver_factory: Address,
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant and print its id.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a merchant and print it (only its hash is stored).
    Create {
        #[arg(long)]
        merchant: MerchantId,
        /// A note to tell the merchant's keys apart in `api-key list` (1–64 characters).
        #[arg(long)]
        label: Option<ApiKeyLabel>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List a merchant's keys, oldest first: id, creation day, last day of
    /// use (UTC), label. Never the keys themselves.
    List {
        #[arg(long)]
        merchant: MerchantId,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key, given as the key itself or its id from `api-key list`;
    /// it is refused from the next request on.
    Revoke {
        #[arg(value_name = "KEY_OR_ID")]
        key: operator::KeyRef,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// List parked deliveries (every attempt failed), oldest first.
    Parked {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give parked deliveries a fresh round of attempts: one event's, or
    /// the oldest parked ones. The running webhook worker sends them on its
    /// next sweep.
    Replay {
        /// The event whose parked deliveries to replay.
        #[arg(long, conflicts_with = "parked", required_unless_present = "parked")]
        event: Option<ferry_domain::EventId>,
        /// Replay the oldest parked deliveries (up to --limit).
        #[arg(long)]
        parked: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    // Quiet by default so the walkthrough reads cleanly; RUST_LOG=info shows every request.
    ferry_runtime::logging::init("warn");
    if let Err(error) = run(Cli::parse()).await {
        eprintln!("error: {error}");
        let mut source = error.source();
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Serve(args) => serve(args, false).await,
        Command::Dev(args) => serve(args, true).await,
        Command::Merchant(MerchantCommand::Create { name, store }) => {
            let merchant = with_store!(store.open().await?, |s| operator::create_merchant(&s, &name).await?);
            println!("{}", merchant.id);
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create { merchant, label, store }) => {
            let (key, _) =
                with_store!(store.open().await?, |s| operator::create_labelled_api_key(&s, merchant, label).await?);
            println!("{}", key.reveal());
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::List { merchant, store }) => {
            let keys = with_store!(store.open().await?, |s| s.list_api_keys(&merchant).await?);
            for record in &keys {
                println!("{}", operator::describe_api_key(record));
            }
            println!("{} API keys", keys.len());
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Revoke { key, store }) => {
            let record = with_store!(store.open().await?, |s| operator::revoke_api_key(&s, &key).await?);
            println!("revoked {} of merchant {}", operator::describe_api_key(&record), record.merchant_id);
            Ok(())
        }
        Command::Webhooks(WebhooksCommand::Parked { limit, store }) => {
            let parked = with_store!(store.open().await?, |s| operator::parked(&s, limit).await?);
            for delivery in &parked {
                println!("{}", operator::describe_delivery(delivery));
            }
            println!("{} parked deliveries", parked.len());
            Ok(())
        }
        Command::Webhooks(WebhooksCommand::Replay { event, parked: _, limit, store }) => {
            let scope = match event {
                Some(event_id) => ferry_notify::ReplayScope::Event(event_id),
                None => ferry_notify::ReplayScope::Parked { limit },
            };
            let replayed = with_store!(store.open().await?, |s| operator::replay(&s, scope).await?);
            for delivery in &replayed {
                println!("replaying {}", operator::describe_delivery(delivery));
            }
            println!("{} deliveries replayed: the webhook worker sends them on its next sweep", replayed.len());
            Ok(())
        }
        Command::Deposits(DepositsCommand::Replay { limit, queue_url, dead_letter_queue_url, store }) => {
            use route_deposits::consumer::replay_dead_letters;
            let replayed = match (queue_url, dead_letter_queue_url) {
                (Some(queue_url), Some(dead_letter_queue_url)) => {
                    let queue = ferry_queue::sqs::SqsQueue::from_env(queue_url).await;
                    let dead = ferry_queue::sqs::SqsQueue::new(queue.client().clone(), dead_letter_queue_url);
                    replay_dead_letters(dead, queue, limit).await?
                }
                _ => {
                    let queues = ferry_cli::workers::LocalQueues::open(&store.database_path()?)?;
                    replay_dead_letters(queues.dead_deposits, queues.deposits, limit).await?
                }
            };
            println!("{replayed} dead-lettered deposits queued again: the router takes them next");
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs, dev: bool) -> Result<(), Error> {
    let store = args.store.open().await?;
    with_store!(store, |s| serve_with(s, args, dev).await)
}

async fn serve_with<S: Store + ChainStore + ExpiryStore + DeliveryStore>(
    store: S,
    args: ServeArgs,
    dev: bool,
) -> Result<(), Error> {
    let registry = Arc::new(args.chains.chain_registry.load()?);
    let receivers = ReceiverDerivation::new(args.chains.receiver_factory);
    let readers = args
        .rpc
        .iter()
        .map(|rpc| token_options::connect_reader(rpc.chain_id, &rpc.url))
        .collect::<Result<Vec<_>, _>>()?;
    let webhook_policy =
        ferry_domain::UrlPolicy { allow_insecure_loopback: !args.https_webhooks_only, allow_any_port: false };
    let mut api = Api::new(store.clone(), Arc::clone(&registry), receivers)
        .with_balance_readers(readers)
        .with_webhook_url_policy(webhook_policy)
        .with_cors(args.cors_allowed_origins.clone());
    // Sessions past their expiry become `expired`, chains or not; every
    // state change's event goes to the merchant's endpoints.
    // Durable queues beside the embedded store: a restart loses no message.
    let queues = ferry_cli::workers::LocalQueues::open(&args.store.database_path()?)?;
    let _expiry = ferry_cli::workers::start_expiry(store.clone(), queues.webhooks.clone());
    let _webhooks = ferry_cli::workers::start_webhooks(store.clone(), queues.webhooks.clone(), webhook_policy)?;
    let _workers = if args.rpc.is_empty() {
        None
    } else {
        let workers = ferry_cli::workers::start_local(store.clone(), &queues, &registry, &args.rpc).await?;
        api = api.with_tx_lookup(Arc::clone(&workers.tx_lookup));
        let chains: Vec<String> = args.rpc.iter().map(|rpc| rpc.chain_id.to_string()).collect();
        println!("Watching chains {} and delivering with the local relayer.", chains.join(", "));
        Some(workers)
    };
    let api = Arc::new(api);
    let listener = TcpListener::bind(args.addr).await.map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    println!("Ferry is listening on {base_url} ({})", args.store.describe());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        println!("\nShutting down.");
    };
    let server = tokio::spawn(server::serve(listener, api, shutdown));

    if dev {
        let merchant = operator::create_merchant(&store, "Local dev merchant").await?;
        let key = operator::create_api_key(&store, merchant.id).await?;
        println!("Created merchant {} with API key {}", merchant.id, key.reveal());
        println!("Self-check:");
        // A receiver on loopback shows the webhooks, unless endpoints must be https.
        let receiver =
            if args.https_webhooks_only { None } else { Some(ferry_cli::receiver::DevReceiver::start().await?) };
        let check = dev::self_check(&base_url, &key.reveal(), &registry, &args.rpc, receiver.as_ref()).await?;
        println!("Self-check passed: session {} is {}.", check.session_id, check.status);
        println!("{}", dev::walkthrough(&base_url, &key.reveal(), &registry, &check));
        println!("Serving until Ctrl-C.");
    }
    server.await??;
    Ok(())
}
