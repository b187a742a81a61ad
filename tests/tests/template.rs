//! `template.yaml` routes exactly the endpoints of the route table, each to
//! the function crate that serves it.

use std::collections::BTreeSet;

use ferry_http::routes::Endpoint;

/// (binary, method, path) for every endpoint of the route table.
fn expected_routes() -> BTreeSet<(String, String, String)> {
    Endpoint::ALL.iter().map(|e| (e.function().to_string(), e.method().to_string(), e.path().to_string())).collect()
}

fn template_routes() -> BTreeSet<(String, String, String)> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml");
    let mut routes = BTreeSet::new();
    let (mut binary, mut path) = (None::<String>, None::<String>);
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("Binary: ") {
            binary = Some(name.to_string());
        } else if let Some(value) = line.strip_prefix("Path: ") {
            path = Some(value.to_string());
        } else if let Some(method) = line.strip_prefix("Method: ") {
            let (Some(binary), Some(path)) = (binary.clone(), path.take()) else { panic!("Method before Binary/Path") };
            routes.insert((binary, method.to_string(), path));
        }
    }
    routes
}

#[test]
fn the_sam_template_routes_every_endpoint_to_its_function() {
    let mut expected = expected_routes();
    // The fallback: API Gateway's $default route answers 404/405 through the openapi function.
    expected.insert(("openapi".into(), "ANY".into(), "$default".into()));
    assert_eq!(template_routes(), expected);
}

/// The parked-delivery alarm counts the log line `deliver-webhooks` writes
/// when it parks a delivery: the template's metric filter names it exactly.
#[test]
fn the_parked_delivery_metric_filter_matches_the_workers_log_message() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml");
    let pattern = format!("FilterPattern: '{{ $.message = \"{}\" }}'", ferry_notify::PARKED_LOG_MESSAGE);
    assert!(template.contains(&pattern), "template.yaml has no `{pattern}`");
}

/// API Gateway answers preflights from the template's `CorsConfiguration`;
/// `ferry serve` from `ferry_http::cors`. The template's block is exactly
/// what the constants say, so the two answer alike (and the functions get
/// the origin list they enforce).
#[test]
fn the_api_cors_configuration_is_the_one_ferry_serve_answers_with() {
    use ferry_http::cors::{self, CorsPolicy};
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml");
    let list =
        |indent: &str, items: &[&str]| items.iter().map(|item| format!("{indent}- {item}\n")).collect::<String>();
    let nested = |items: &[&str]| {
        let (first, rest) = items.split_first().expect("headers");
        format!("          - - {first}\n{}", list("            ", rest))
    };
    let origins = CorsPolicy::parse("https://shop.example").expect("origin");
    let block = format!(
        "      CorsConfiguration:\n        AllowOrigins:\n{}        AllowMethods:\n{}        AllowHeaders: !If\n          \
         - HasCorsOrigins\n{}{}        ExposeHeaders:\n{}        MaxAge: {}\n        AllowCredentials: false\n",
        list("          ", &[&format!("\"{}\"", cors::ALLOW_ORIGIN)]),
        list("          ", &cors::ALLOW_METHODS),
        nested(&origins.allow_headers()),
        nested(&CorsPolicy::servers_only().allow_headers()),
        list("          ", &cors::EXPOSE_HEADERS),
        cors::MAX_AGE_SECONDS,
    );
    assert!(template.contains(&block), "template.yaml has no\n{block}");
    assert!(template.contains("  HasCorsOrigins: !Not [!Equals [!Ref CorsAllowedOrigins, \"\"]]\n"));
    let variable = format!("        {}: !Ref CorsAllowedOrigins\n", cors::ALLOWED_ORIGINS_VAR);
    assert!(template.contains(&variable), "the functions get the list: {variable}");
}

/// The template's text.
fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml")
}

/// Each resource of the template's `Resources:` section: its logical id and
/// its lines (indented by two spaces, as the template writes them).
fn resources() -> std::collections::BTreeMap<String, String> {
    let template = template();
    let section = template.split_once("\nResources:\n").expect("Resources").1;
    let section = section.split("\nOutputs:").next().unwrap_or(section);
    let mut resources = std::collections::BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in section.lines() {
        let is_key = line.starts_with("  ") && !line.starts_with("   ") && !line.trim_start().starts_with('#');
        if let Some(name) = line.strip_suffix(':').filter(|_| is_key) {
            if let Some((name, body)) = current.take() {
                resources.insert(name, body);
            }
            current = Some((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((name, body)) = current {
        resources.insert(name, body);
    }
    resources
}

fn resources_of_type(kind: &str) -> Vec<(String, String)> {
    let type_line = format!("    Type: {kind}\n");
    resources().into_iter().filter(|(_, body)| body.starts_with(&type_line)).collect()
}

/// Every function logs to its own group, created by the stack with the
/// `LogRetentionDays` retention.
#[test]
fn every_function_has_a_log_group_with_the_retention_parameter() {
    let resources = resources();
    let functions = resources_of_type("AWS::Serverless::Function");
    assert_eq!(functions.len(), 16, "{:?}", functions.iter().map(|(n, _)| n).collect::<Vec<_>>());
    assert!(template().contains("  LogRetentionDays:\n    Type: Number\n"), "no LogRetentionDays parameter");
    let mut groups = BTreeSet::new();
    for (name, body) in functions {
        let group = body
            .split_once("      LoggingConfig:\n        LogGroup: !Ref ")
            .and_then(|(_, rest)| rest.lines().next())
            .unwrap_or_else(|| panic!("{name} has no LoggingConfig.LogGroup"))
            .to_string();
        let group_body = resources.get(&group).unwrap_or_else(|| panic!("{name}: no resource {group}"));
        assert!(group_body.starts_with("    Type: AWS::Logs::LogGroup\n"), "{group} is not a log group");
        assert!(group_body.contains("      RetentionInDays: !Ref LogRetentionDays\n"), "{group}: {group_body}");
        assert!(groups.insert(group.clone()), "{group} is shared");
    }
}

/// A flood on the public routes can never starve the workers: each has
/// reserved concurrency; the stage throttles every route from parameters,
/// and the `$default` route (unknown paths, the openapi function) far lower.
#[test]
fn the_workers_have_reserved_concurrency_and_the_api_is_throttled() {
    let resources = resources();
    for worker in ["PollChainsFunction", "RouteDepositsFunction", "ExpireSessionsFunction", "DeliverWebhooksFunction"] {
        let body = &resources[worker];
        assert!(body.contains("      ReservedConcurrentExecutions: "), "{worker} has no reserved concurrency");
    }
    assert!(resources["OpenApiFunction"].contains("      ReservedConcurrentExecutions: "));
    let api = &resources["Api"];
    assert!(api.contains(
        "      DefaultRouteSettings:\n        ThrottlingBurstLimit: !Ref ApiThrottlingBurstLimit\n        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit\n"
    ), "{api}");
    assert!(api.contains(
        "        $default:\n          ThrottlingBurstLimit: !Ref DefaultRouteThrottlingBurstLimit\n          ThrottlingRateLimit: !Ref DefaultRouteThrottlingRateLimit\n"
    ), "{api}");
}

/// The alarm `name`'s body.
fn alarm(name: &str) -> String {
    let resources = resources();
    let body = resources.get(name).unwrap_or_else(|| panic!("template.yaml has no {name}"));
    assert!(body.starts_with("    Type: AWS::CloudWatch::Alarm\n"), "{name} is not an alarm");
    body.clone()
}

/// The alarms on metrics the workers print (EMF) name them as the code
/// does, in the namespace the code prints them in; their descriptions name
/// the per-chain metrics that say which chain.
#[test]
fn the_metric_alarms_name_the_metrics_the_workers_emit() {
    use poll_chains::lambda::metrics as poll;
    use route_deposits::funds::metrics as funds;
    let namespace = format!("      Namespace: {}\n", ferry_http::metrics::NAMESPACE);
    for (name, metric, per_chain) in [
        (
            "ChainCursorStalledAlarm",
            poll::MAX_SECONDS_SINCE_CURSOR_ADVANCED,
            vec![poll::SECONDS_SINCE_CURSOR_ADVANCED, poll::BLOCKS_BEHIND_HEAD],
        ),
        ("RelayerGasBalanceAlarm", funds::MIN_RELAYER_GAS_BALANCE, vec![funds::RELAYER_GAS_BALANCE]),
        ("RelayerInventoryAlarm", funds::MIN_RELAYER_INVENTORY, vec![funds::RELAYER_INVENTORY]),
    ] {
        let body = alarm(name);
        assert!(body.contains(&namespace), "{name}: {body}");
        assert!(body.contains(&format!("      MetricName: {metric}\n")), "{name} does not watch {metric}: {body}");
        for metric in per_chain {
            let described = format!("Ferry/{metric}");
            assert!(body.contains(&described), "{name} does not name {described}");
        }
    }
    assert_eq!(poll::CHAIN_ID, funds::CHAIN_ID);
    assert!(alarm("ChainCursorStalledAlarm").contains("      Threshold: !Ref CursorStallAlarmSeconds\n"));
    assert!(alarm("RelayerGasBalanceAlarm").contains("      Threshold: !Ref RelayerGasBalanceAlarmThreshold\n"));
    assert!(alarm("RelayerInventoryAlarm").contains("      Threshold: !Ref RelayerInventoryAlarmThreshold\n"));
}

/// Lambda's own error metric for every worker, the deposit queue's age and
/// the HTTP API's 5xx rate.
#[test]
fn the_workers_errors_the_deposit_queue_age_and_the_api_5xx_rate_are_alarmed() {
    for (name, function) in [
        ("PollChainsErrorAlarm", "PollChainsFunction"),
        ("RouteDepositsErrorAlarm", "RouteDepositsFunction"),
        ("ExpireSessionsErrorAlarm", "ExpireSessionsFunction"),
        ("DeliverWebhooksErrorAlarm", "DeliverWebhooksFunction"),
    ] {
        let body = alarm(name);
        assert!(body.contains("      Namespace: AWS/Lambda\n      MetricName: Errors\n"), "{name}: {body}");
        assert!(body.contains(&format!("        - Name: FunctionName\n          Value: !Ref {function}\n")), "{name}");
    }
    let age = alarm("DepositQueueAgeAlarm");
    assert!(age.contains("      Namespace: AWS/SQS\n      MetricName: ApproximateAgeOfOldestMessage\n"), "{age}");
    assert!(age.contains("          Value: !GetAtt DepositQueue.QueueName\n"), "{age}");
    let api = alarm("Api5xxRateAlarm");
    assert!(api.contains("      Namespace: AWS/ApiGateway\n      MetricName: 5xx\n"), "{api}");
    assert!(api.contains("        - Name: ApiId\n          Value: !Ref Api\n"), "{api}");
    assert!(api.contains("      Statistic: Average\n"), "the rate is the average: {api}");
}

/// Every alarm notifies the operator's topic, when one is set.
#[test]
fn every_alarm_notifies_the_alarm_topic() {
    let alarms = resources_of_type("AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 12, "{}", alarms.len());
    for (name, body) in alarms {
        for actions in ["AlarmActions", "OKActions"] {
            let wired = format!("      {actions}: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n");
            assert!(body.contains(&wired), "{name} has no {actions} to AlarmTopicArn");
        }
    }
}

/// The RPC URLs carry provider keys: no function gets them as a plain
/// variable; exactly the functions that talk to chains get the secret's ARN
/// and may read that one secret.
#[test]
fn only_the_chain_functions_may_read_the_rpc_urls_secret() {
    let readers = ["CheckSessionFunction", "TokenOptionsFunction", "PollChainsFunction", "RouteDepositsFunction"];
    let secret_arn = "!If [UseExistingRpcSecret, !Ref RpcUrlsSecretArn, !Ref RpcUrlsSecret]";
    let variable = format!(
        "          {}: !If [HasRpcSecret, {secret_arn}, !Ref AWS::NoValue]\n",
        ferry_config::secrets::RPC_URLS_SECRET_ARN
    );
    let grant = format!(
        "              - Effect: Allow\n                Action:\n                  - secretsmanager:GetSecretValue\n                Resource: {secret_arn}\n"
    );
    for (name, body) in resources_of_type("AWS::Serverless::Function") {
        let reads = readers.contains(&name.as_str());
        assert_eq!(body.contains(&variable), reads, "{name}: the secret's ARN");
        assert_eq!(body.contains(&grant), reads, "{name}: GetSecretValue on the secret");
        assert_eq!(body.matches("secretsmanager:").count(), usize::from(reads), "{name}: other secret permissions");
        assert!(!body.contains(&format!("{}:", ferry_config::RPC_URLS)), "{name} gets the RPC URLs in plain text");
    }
    let secret = &resources()["RpcUrlsSecret"];
    assert!(secret.starts_with("    Type: AWS::SecretsManager::Secret\n    Condition: CreateRpcSecret\n"), "{secret}");
    assert!(secret.contains("      SecretString: !Ref RpcUrls\n"), "{secret}");
}

/// The writers of events announce them on the webhook queue (so webhooks
/// go out event-driven) with the permission to send there; the
/// webhook function's schedule is the sweep, and no other function is told
/// the webhook queue.
#[test]
fn the_writers_of_events_announce_them_on_the_webhook_queue() {
    let resources = resources();
    let variable = format!("          {}: !Ref WebhookQueue\n", ferry_config::WEBHOOK_QUEUE_URL);
    let writers = ["RouteDepositsFunction", "ExpireSessionsFunction"];
    for (name, body) in resources.iter().filter(|(_, body)| body.contains("Type: AWS::Serverless::Function")) {
        let told = body.contains(&variable);
        let expected = writers.contains(&name.as_str()) || name == "DeliverWebhooksFunction";
        assert_eq!(told, expected, "{name}: {}", ferry_config::WEBHOOK_QUEUE_URL);
        if told {
            assert!(body.contains("!GetAtt WebhookQueue.Arn"), "{name} may not send to the webhook queue");
        }
    }
}

/// The always-on watcher and the webhook worker run at Lambda's smallest
/// size: their binary tests bound their peak memory at half of it (64 MiB).
#[test]
fn the_watcher_and_the_webhook_worker_run_at_the_smallest_memory_size() {
    let resources = resources();
    for worker in ["PollChainsFunction", "DeliverWebhooksFunction"] {
        assert!(resources[worker].contains("      MemorySize: 128\n"), "{worker} is not at 128 MB");
    }
}
