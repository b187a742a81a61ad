//! What one paid session costs, measured: every DynamoDB and SQS request
//! the real adapters make (through a recording proxy in front of moto) and
//! every JSON-RPC call of the watcher and the router (through one in front
//! of each anvil), for a same-chain and a cross-chain payment, each with one
//! webhook endpoint. The components run as deployed, driven the way Lambda
//! drives them: the API over HTTP, one `poll-chains` scan, the deposit
//! queue's message handed to `route-deposits`' consumer, the webhook
//! queue's messages handed to `deliver-webhooks` in batches.
//!
//! Run with `--no-capture` to see the table (the README's per-session cost
//! is computed from it). The assertions hold the counts that do not depend
//! on timing exactly (messages, invocations) and bound the others, so a
//! change that makes a session dearer fails here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use deliver_webhooks::lambda::DeliverWebhooksLambda;
use ferry_chains::evm::local;
use ferry_domain::{RetryPolicy, RouteDeposit, UrlPolicy};
use ferry_e2e::chains::{CHAIN_A, CHAIN_B};
use ferry_e2e::evm::{SessionRequest, WorkerMode, spawn_app_on_chains};
use ferry_e2e::recording::{Exchange, RecordingProxy};
use ferry_notify::{Announcer, DeliverWebhooks, WebhookSender};
use ferry_queue::sqs::SqsQueue;
use ferry_queue::{Queue, TypedQueue};
use ferry_store::dynamodb::DynamoStore;
use ferry_testing::{WebhookReceiver, sqs_event, unique_table_name};
use poll_chains::PollChains;
use route_deposits::consumer::{DepositConsumer, Outcome};
use serde_json::{Value, json};

/// DynamoDB request units of one exchange, estimated from its JSON sizes
/// (larger than DynamoDB's own item sizes, so an upper bound): reads in
/// 4 KB units, halved when eventually consistent; writes in 1 KB units,
/// doubled inside transactions.
fn request_units(exchange: &Exchange) -> (f64, f64) {
    let operation = exchange.target.as_deref().and_then(|t| t.strip_prefix("DynamoDB_20120810.")).unwrap_or("");
    let request: Value = serde_json::from_slice(&exchange.request).unwrap_or(Value::Null);
    let kb = |value: &Value, unit: f64| (value.to_string().len() as f64 / unit).ceil().max(1.0);
    let read_factor = if request["ConsistentRead"] == true { 1.0 } else { 0.5 };
    let response_len = exchange.response.len() as f64;
    match operation {
        "GetItem" | "Query" | "Scan" => ((response_len / 4096.0).ceil().max(1.0) * read_factor, 0.0),
        "BatchGetItem" => {
            let keys: usize = request["RequestItems"]
                .as_object()
                .map(|t| t.values().map(|v| v["Keys"].as_array().map_or(0, Vec::len)).sum())
                .unwrap_or(0);
            (keys as f64 * read_factor, 0.0)
        }
        "TransactGetItems" => (request["TransactItems"].as_array().map_or(0, Vec::len) as f64 * 2.0, 0.0),
        "PutItem" => (0.0, kb(&request["Item"], 1024.0)),
        "UpdateItem" | "DeleteItem" => (0.0, kb(&request, 1024.0)),
        "TransactWriteItems" => {
            let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
            (0.0, items.iter().map(|item| 2.0 * kb(item, 1024.0)).sum())
        }
        "BatchWriteItem" => {
            let items: Vec<Value> = request["RequestItems"]
                .as_object()
                .map(|t| t.values().flat_map(|v| v.as_array().cloned().unwrap_or_default()).collect())
                .unwrap_or_default();
            (0.0, items.iter().map(|item| kb(item, 1024.0)).sum())
        }
        _ => (0.0, 0.0),
    }
}

/// What one step of a session asked of the services.
#[derive(Clone, Debug, Default)]
struct Cost {
    dynamodb: BTreeMap<String, u64>,
    read_units: f64,
    write_units: f64,
    sqs: BTreeMap<String, u64>,
    rpc: BTreeMap<String, u64>,
    invocations: u64,
}

impl Cost {
    fn dynamodb_requests(&self) -> u64 {
        self.dynamodb.values().sum()
    }
    fn rpc_calls(&self) -> u64 {
        self.rpc.values().sum()
    }
    fn add(&mut self, other: &Cost) {
        for (map, more) in
            [(&mut self.dynamodb, &other.dynamodb), (&mut self.sqs, &other.sqs), (&mut self.rpc, &other.rpc)]
        {
            for (key, count) in more {
                *map.entry(key.clone()).or_default() += count;
            }
        }
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.invocations += other.invocations;
    }
    /// `self` less an idle baseline (never below zero per operation).
    fn less(&self, idle: &Cost) -> Cost {
        let minus = |map: &BTreeMap<String, u64>, idle: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(key, count)| (key.clone(), count.saturating_sub(idle.get(key).copied().unwrap_or(0))))
                .filter(|(_, count)| *count > 0)
                .collect()
        };
        Cost {
            dynamodb: minus(&self.dynamodb, &idle.dynamodb),
            read_units: (self.read_units - idle.read_units).max(0.0),
            write_units: (self.write_units - idle.write_units).max(0.0),
            sqs: minus(&self.sqs, &idle.sqs),
            rpc: minus(&self.rpc, &idle.rpc),
            invocations: self.invocations.saturating_sub(idle.invocations),
        }
    }
}

/// The proxies every component reaches its services through.
struct Meters {
    dynamodb: RecordingProxy,
    sqs: RecordingProxy,
    chains: Vec<RecordingProxy>,
}

impl Meters {
    /// What was asked since the last reading, as `invocations` Lambda
    /// invocations.
    fn read(&self, invocations: u64) -> Cost {
        let mut cost = Cost { invocations, ..Cost::default() };
        for exchange in self.dynamodb.take() {
            let (read, write) = request_units(&exchange);
            cost.read_units += read;
            cost.write_units += write;
            let operation = exchange.target.unwrap_or_default().replace("DynamoDB_20120810.", "");
            *cost.dynamodb.entry(operation).or_default() += 1;
        }
        for exchange in self.sqs.take() {
            let action = exchange.target.unwrap_or_default().replace("AmazonSQS.", "");
            *cost.sqs.entry(action).or_default() += 1;
        }
        for proxy in &self.chains {
            for exchange in proxy.take() {
                let body: Value = serde_json::from_slice(&exchange.request).unwrap_or(Value::Null);
                let calls = match body {
                    Value::Array(batch) => batch,
                    single => vec![single],
                };
                for call in calls {
                    let method = call["method"].as_str().unwrap_or("?").to_string();
                    *cost.rpc.entry(method).or_default() += 1;
                }
            }
        }
        cost
    }
}

fn sqs_endpoint() -> String {
    std::env::var("FERRY_TEST_SQS_ENDPOINT")
        .expect("FERRY_TEST_SQS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto_server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_costs_what_the_readme_says() {
    let dynamodb_endpoint = std::env::var("FERRY_TEST_DYNAMODB_ENDPOINT").expect("FERRY_TEST_DYNAMODB_ENDPOINT");
    let meters = Meters {
        dynamodb: RecordingProxy::start(&dynamodb_endpoint).await,
        sqs: RecordingProxy::start(&sqs_endpoint()).await,
        chains: Vec::new(),
    };
    let store = DynamoStore::local(&meters.dynamodb.url, unique_table_name("ferry-cost")).await;
    store.ensure_table().await.expect("create the table");
    let app = spawn_app_on_chains(store.clone(), WorkerMode::Manual).await;
    let mut meters = meters;
    let mut chain_proxies = Vec::new();
    for chain in app.chains.all() {
        chain_proxies.push((chain.id, RecordingProxy::start(&chain.url).await));
    }
    let url_of = |chain: &ferry_e2e::chains::LocalChain| {
        chain_proxies.iter().find(|(id, _)| *id == chain.id).map(|(_, proxy)| proxy.url.clone()).expect("a proxy")
    };
    let deposits = SqsQueue::local(&meters.sqs.url, &unique_table_name("deposits")).await.expect("queue");
    let poller = PollChains::new(store.clone(), deposits.clone(), app.chains.watched_through(url_of));
    let dead = SqsQueue::local(&meters.sqs.url, &unique_table_name("deposits-dead")).await.expect("queue");
    let webhooks = SqsQueue::local(&meters.sqs.url, &unique_table_name("webhooks")).await.expect("queue");
    let router = route_deposits::RouteDeposits::new(
        store.clone(),
        app.chains.relayers_through(url_of),
        ferry_domain::EvmAddress::new(local::TREASURY),
    )
    .announcing(Announcer::to_queue(webhooks.clone()));
    let consumer = DepositConsumer::new(router, deposits.clone(), dead);
    let sender = WebhookSender::new(UrlPolicy::DEVELOPMENT).expect("sender");
    let deliver = DeliverWebhooksLambda::new(DeliverWebhooks::new(
        store.clone(),
        webhooks.clone(),
        sender,
        RetryPolicy::STANDARD,
    ));
    meters.chains = chain_proxies.into_iter().map(|(_, proxy)| proxy).collect();

    let receiver = WebhookReceiver::accepting().await;
    let created = app
        .send(app.client.post(app.url("/v1/webhooks")).bearer_auth(&app.api_key).json(&json!({"url": receiver.url()})))
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    // The watcher's first scan sets its cursors: set-up, not a session's.
    for report in poller.run_cycle(ferry_testing::now()).await {
        report.expect("the first scan");
    }
    let _setup = meters.read(0);

    let mut rows = Vec::new();
    for (label, source) in [("same-chain", CHAIN_A), ("cross-chain", CHAIN_B)] {
        let mut steps: Vec<(&str, Cost)> = Vec::new();
        // The API: the merchant creates the session, the payer's page sets
        // the payment method and reads the session once.
        let session = app.open_session(&SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00")).await;
        let view = app.get_session(&session.id, None, Some(&session.secret)).await;
        assert_eq!(view.status, 200, "{:#}", view.body);
        steps.push(("API: create, payment method, one read", meters.read(3)));

        let payment = app.pay(source, session.receiver, "10.00").await;
        // One confirmation on 1 s blocks, then one scan finds the deposit;
        // an idle scan over as many new blocks is its baseline.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let _chain_noise = meters.read(0);
        for report in poller.run_cycle(ferry_testing::now()).await {
            report.expect("the scan");
        }
        let finding = meters.read(1);
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        for report in poller.run_cycle(ferry_testing::now()).await {
            report.expect("the idle scan");
        }
        let idle = meters.read(1);
        steps.push(("poll-chains: the scan that finds it, less an idle scan", finding.less(&idle)));
        let _noise = meters.read(0);

        // route-deposits: the queue's message, routed to its end.
        let typed: TypedQueue<SqsQueue, RouteDeposit> = TypedQueue::new(deposits.clone());
        let mut batches = 0;
        let started = Instant::now();
        loop {
            let received = typed.receive(10, Duration::from_secs(1), Duration::from_secs(120)).await.expect("receive");
            if received.is_empty() {
                break;
            }
            batches += 1;
            for message in received {
                let body = message.message.expect("a deposit message");
                let outcome = consumer
                    .consume(&body, Duration::from_secs(100), ferry_testing::now(), |e| e.to_string())
                    .await
                    .expect("the queue works");
                assert!(matches!(outcome, Outcome::Routed), "{outcome:?}");
                assert_eq!(body.deposit_id, payment.deposit_id());
                typed.ack(&message.receipt).await.expect("ack");
            }
        }
        let routing_time = started.elapsed();
        steps.push(("route-deposits: the deposit routed", meters.read(batches)));
        assert_eq!(app.stored_session(&session.id).await.status().to_string(), "succeeded");
        let _check = meters.read(0);

        // deliver-webhooks: announcements fanned out, deliveries sent.
        let mut batches = 0;
        let deadline = SystemTime::now() + Duration::from_secs(60);
        loop {
            let received =
                webhooks.receive(10, Duration::from_secs(1), Duration::from_secs(60)).await.expect("receive");
            if received.is_empty() {
                break;
            }
            batches += 1;
            let answer = deliver.handle(sqs_event(&received), deadline).await.expect("a batch");
            assert_eq!(answer, json!({ "batchItemFailures": [] }));
            for message in &received {
                webhooks.ack(&message.receipt).await.expect("ack");
            }
        }
        steps.push(("deliver-webhooks: two events, one endpoint", meters.read(batches)));
        let mut delivered: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| r.json())
            .filter(|e| e["data"]["session"]["sessionId"] == session.id.as_str())
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect();
        delivered.sort();
        assert_eq!(delivered, ["session.processing", "session.succeeded"]);
        rows.push((label, steps, routing_time));
    }

    println!("\nPer-session cost, measured (DynamoDB on moto through a recording proxy; 1 webhook endpoint)\n");
    for (label, steps, routing_time) in &rows {
        let mut total = Cost::default();
        println!("{label} payment (routing took {:.1} s on 1 s blocks):", routing_time.as_secs_f64());
        for (step, cost) in steps {
            total.add(cost);
            println!(
                "  {step}: {} invocations; DynamoDB {} requests ({:.1} RRU, {:.1} WRU) {:?}; SQS {:?}; RPC {} calls {:?}",
                cost.invocations,
                cost.dynamodb_requests(),
                cost.read_units,
                cost.write_units,
                cost.dynamodb,
                cost.sqs,
                cost.rpc_calls(),
                cost.rpc
            );
        }
        println!(
            "  total: {} invocations; DynamoDB {} requests ({:.1} RRU, {:.1} WRU); SQS {:?}; RPC {} calls",
            total.invocations,
            total.dynamodb_requests(),
            total.read_units,
            total.write_units,
            total.sqs,
            total.rpc_calls()
        );
        // Exact: one deposit message, two announcements, two deliveries.
        let sends = total.sqs.get("SendMessage").copied().unwrap_or(0);
        assert_eq!(sends, 5, "{label}: SQS messages sent per session");
        // Bounds a dearer change would cross (measured well inside them).
        assert!(total.dynamodb_requests() <= 60, "{label}: {} DynamoDB requests", total.dynamodb_requests());
        assert!(total.write_units <= 60.0, "{label}: {} write units", total.write_units);
        assert!(total.rpc_calls() <= 80, "{label}: {} RPC calls", total.rpc_calls());
    }
}
