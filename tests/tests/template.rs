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
