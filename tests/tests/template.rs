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
