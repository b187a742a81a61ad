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
    use poll_chains::summary::metrics as poll;
    use route_deposits::funds::metrics as funds;
    let namespace = format!("      Namespace: {}\n", ferry_runtime::metrics::NAMESPACE);
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

// ------------------------------------------------------------- sam local

/// The repository's `events/`: what `sam local invoke -e` and
/// `sam local … --env-vars` take, and what the functions' tests run on.
const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");

/// A function's trigger, as the template's `Events:` declare it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Trigger {
    /// `HttpApi`: method and path (`ANY`, `$default` for the fallback).
    Http(String, String),
    Schedule,
    /// `SQS`: the logical id of the queue.
    Sqs(String),
}

/// The lines of the block that follows `header` in `body` (the lines
/// indented deeper than `header`), or nothing.
fn block<'a>(body: &'a str, header: &str) -> Vec<&'a str> {
    let Some((_, rest)) = body.split_once(header) else { return Vec::new() };
    let last = header.rsplit('\n').next().unwrap_or(header);
    let indent = last.len() - last.trim_start().len();
    rest.lines()
        .skip(1)
        .take_while(|line| line.trim().is_empty() || line.len() - line.trim_start().len() > indent)
        .collect()
}

/// The names of the variables a `Variables:` block at `indent` declares.
fn variable_names(lines: &[&str], indent: usize) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| line.len() - line.trim_start().len() == indent && !line.trim_start().starts_with('#'))
        .filter_map(|line| line.trim().split_once(':').map(|(name, _)| name.to_string()))
        .collect()
}

/// Every function of the template: its declared environment (the
/// `Globals`' and its own) and its triggers.
fn functions() -> std::collections::BTreeMap<String, (BTreeSet<String>, BTreeSet<Trigger>)> {
    let template = template();
    let globals = template.split_once("\nGlobals:\n").expect("Globals").1.split("\nResources:").next().unwrap_or("");
    let global_variables = variable_names(&block(globals, "\n    Environment:\n      Variables:"), 8);
    assert!(global_variables.contains("FERRY_TABLE_NAME"), "{global_variables:?}");
    let mut functions = std::collections::BTreeMap::new();
    for (name, body) in resources_of_type("AWS::Serverless::Function") {
        let mut variables = global_variables.clone();
        variables.extend(variable_names(&block(&body, "\n      Environment:\n        Variables:"), 10));
        let mut triggers = BTreeSet::new();
        let events = block(&body, "\n      Events:");
        let mut kind = "";
        let mut path = None::<String>;
        for line in events.iter().map(|line| line.trim()) {
            if let Some(value) = line.strip_prefix("Type: ") {
                kind = value;
            } else if let Some(value) = line.strip_prefix("Path: ") {
                path = Some(value.to_string());
            } else if let Some(value) = line.strip_prefix("Method: ") {
                assert_eq!(kind, "HttpApi", "{name}");
                triggers.insert(Trigger::Http(value.to_string(), path.take().expect("Path before Method")));
            } else if line.starts_with("Schedule: ") {
                assert_eq!(kind, "Schedule", "{name}");
                triggers.insert(Trigger::Schedule);
            } else if let Some(value) = line.strip_prefix("Queue: !GetAtt ") {
                assert_eq!(kind, "SQS", "{name}");
                let queue = value.strip_suffix(".Arn").expect("a queue's Arn");
                triggers.insert(Trigger::Sqs(queue.to_string()));
            }
        }
        assert!(!triggers.is_empty(), "{name} has no trigger the test reads: {events:?}");
        functions.insert(name, (variables, triggers));
    }
    assert_eq!(functions.len(), 16, "{:?}", functions.keys());
    functions
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Whether `raw` (a request path) matches the route `template`
/// (`/v1/sessions/{sessionId}`): each `{name}` one non-empty segment.
fn path_matches(template: &str, raw: &str) -> bool {
    let (template, raw): (Vec<_>, Vec<_>) = (template.split('/').collect(), raw.split('/').collect());
    template.len() == raw.len()
        && template.iter().zip(&raw).all(|(t, r)| if t.starts_with('{') { !r.is_empty() } else { t == r })
}

/// The triggers an event file stands for: an API Gateway event its route
/// (its `rawPath` must fit it), the scheduled event the schedule, an SQS
/// event the queue of its records (`arn:…:<stack>-<QueueLogicalId>-<suffix>`).
fn event_triggers(relative: &str, event: &serde_json::Value) -> BTreeSet<Trigger> {
    let folder = relative.split('/').next().unwrap_or("");
    match folder {
        "apigw" => {
            assert_eq!(event["version"], "2.0", "{relative}");
            let route = event["routeKey"].as_str().unwrap_or_else(|| panic!("{relative} has no routeKey"));
            assert_eq!(event["requestContext"]["routeKey"], route, "{relative}");
            let method = event["requestContext"]["http"]["method"].as_str().expect("method");
            let raw_path = event["rawPath"].as_str().expect("rawPath");
            assert_eq!(event["requestContext"]["http"]["path"], raw_path, "{relative}");
            if route == "$default" {
                return BTreeSet::from([Trigger::Http("ANY".into(), "$default".into())]);
            }
            let (route_method, path) = route.split_once(' ').unwrap_or_else(|| panic!("{relative}: {route}"));
            assert_eq!(route_method, method, "{relative}");
            assert!(path_matches(path, raw_path), "{relative}: {raw_path} is not {path}");
            for name in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
                let value = event["pathParameters"][name].as_str();
                assert!(value.is_some_and(|v| raw_path.split('/').any(|s| s == v)), "{relative}: {name}");
            }
            BTreeSet::from([Trigger::Http(method.to_string(), path.to_string())])
        }
        "eventbridge" => {
            assert_eq!((&event["source"], &event["detail-type"]), (&"aws.events".into(), &"Scheduled Event".into()));
            BTreeSet::from([Trigger::Schedule])
        }
        "sqs" => {
            let records = event["Records"].as_array().unwrap_or_else(|| panic!("{relative} has no Records"));
            assert!(!records.is_empty(), "{relative}");
            records
                .iter()
                .map(|record| {
                    assert_eq!(record["eventSource"], "aws:sqs", "{relative}");
                    let arn = record["eventSourceARN"].as_str().expect("eventSourceARN");
                    let name = arn.rsplit(':').next().unwrap_or("");
                    let queue = name.split('-').nth(1).unwrap_or_else(|| panic!("{relative}: queue {name}"));
                    Trigger::Sqs(queue.to_string())
                })
                .collect()
        }
        _ => {
            panic!("events/{relative}: not an API Gateway, EventBridge or SQS event (folders apigw, eventbridge, sqs)")
        }
    }
}

/// Every file of `events/`, by its path there (`apigw/get-session.json`).
fn event_files() -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![std::path::PathBuf::from(EVENTS)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("events/") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(EVENTS).expect("under events/");
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

/// `sam local invoke Fn -e events/…` works only when the event is one of
/// `Fn`'s triggers: every event file stands for triggers the template
/// declares (a route, the schedule, an SQS queue), every route has an event,
/// and every function has at least one.
#[test]
fn every_event_is_a_trigger_of_a_template_function_and_every_function_has_one() {
    let functions = functions();
    let mut covered = BTreeSet::new();
    for relative in event_files().into_iter().filter(|file| file != "env.json") {
        assert!(relative.ends_with(".json"), "events/{relative}");
        let event = read_json(&std::path::Path::new(EVENTS).join(&relative));
        for trigger in event_triggers(&relative, &event) {
            let owners: Vec<_> = functions.iter().filter(|(_, (_, triggers))| triggers.contains(&trigger)).collect();
            assert!(!owners.is_empty(), "events/{relative}: no function of the template has the trigger {trigger:?}");
            covered.insert(trigger);
        }
    }
    for (name, (_, triggers)) in &functions {
        assert!(triggers.iter().any(|trigger| covered.contains(trigger)), "{name} has no event in events/");
        for route in triggers.iter().filter(|trigger| matches!(trigger, Trigger::Http(..))) {
            assert!(covered.contains(route), "{name}'s route {route:?} has no event in events/");
        }
    }
}

/// `sam local --env-vars events/env.json` sets only the variables the
/// template declares for a function (the others are silently dropped): every
/// entry names a function of the template and variables it declares, and
/// every function has an entry (the variables it needs locally; `{}` for
/// none).
#[test]
fn every_env_vars_entry_names_a_template_function_and_its_declared_variables() {
    let functions = functions();
    let env = read_json(&std::path::Path::new(EVENTS).join("env.json"));
    let entries = env.as_object().expect("env.json is an object of functions");
    for (name, variables) in entries {
        let (declared, _) = functions.get(name).unwrap_or_else(|| panic!("env.json: {name} is not a function"));
        let variables = variables.as_object().unwrap_or_else(|| panic!("env.json: {name} is not an object"));
        for (variable, value) in variables {
            assert!(declared.contains(variable), "env.json: the template declares no {variable} for {name}");
            assert!(value.is_string(), "env.json: {name}.{variable} is not a string");
        }
    }
    let missing: Vec<_> = functions.keys().filter(|name| !entries.contains_key(*name)).collect();
    assert!(missing.is_empty(), "env.json has no entry for {missing:?}");
    // The local endpoint reaches every AWS service the functions call.
    for (name, (declared, _)) in &functions {
        assert!(declared.contains("AWS_ENDPOINT_URL"), "{name} cannot be pointed at a local endpoint");
    }
}
