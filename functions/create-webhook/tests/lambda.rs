//! `POST /v1/webhooks` as API Gateway delivers it: the handler on real HTTP
//! API (payload 2.0) events over the in-memory and the SQLite store, and the
//! real binary through its Lambda entry point against DynamoDB (moto).

use create_webhook::CreateWebhook;
use ferry_domain::UrlPolicy;
use ferry_domain::webhook::MAX_WEBHOOKS_PER_MERCHANT;
use ferry_http::Context;
use ferry_store::{Store, WebhookStore};
use ferry_testing::{
    BinaryOnMoto, bounded, fixture, gateway_body, header, on_each_store, request, response_json, seed_merchant,
    seed_webhook,
};
use http::StatusCode;
use lambda_http::Body;
use serde_json::{Value, json};

/// `requestContext.requestId` of the `create-webhook` fixture.
const REQUEST_ID: &str = "Q3kZwBh1oAMEbZa=";
const PRODUCTION: UrlPolicy = UrlPolicy::PRODUCTION;

/// The endpoint the fixture's body asks for, as the creation response shows it.
fn assert_is_the_requested_webhook(webhook: &Value) {
    let id = webhook["id"].as_str().unwrap_or_default();
    assert!(id.parse::<ferry_domain::WebhookId>().is_ok(), "id {id:?}");
    assert_eq!(webhook["url"], "https://shop.example/hooks/ferry", "{webhook}");
    assert_eq!(webhook["events"], json!(["session.succeeded", "session.bounced"]), "{webhook}");
    assert_eq!(webhook["description"], "Order updates", "{webhook}");
    let secret = webhook["secret"].as_str().unwrap_or_default();
    assert!(secret.parse::<ferry_domain::WebhookSecret>().is_ok(), "secret {secret:?}");
    assert!(webhook["createdAt"].as_u64().is_some_and(|t| t > 1_700_000_000), "{webhook}");
}

fn with_body(mut event: lambda_http::Request, body: Value) -> lambda_http::Request {
    *event.body_mut() = Body::Text(body.to_string());
    event
}

async fn post<S: Store>(store: &S, policy: UrlPolicy, key: &str, body: Option<Value>) -> lambda_http::Response<Body> {
    let function = CreateWebhook::new(Context::new(store.clone()), policy);
    let mut event = request("create-webhook", &[("API_KEY", key)]);
    if let Some(body) = body {
        event = with_body(event, body);
    }
    ferry_http::respond(event, |request| function.handle(request)).await
}

/// 201 with the endpoint and its secret; the store has it for the merchant.
async fn creates_the_endpoint<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let response = post(&store, PRODUCTION, &merchant.api_key, None).await;

    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.body());
    assert_eq!(header(&response, "request-id"), Some(REQUEST_ID));
    let body = response_json(&response);
    assert_is_the_requested_webhook(&body["webhook"]);
    let id = body["webhook"]["id"].as_str().and_then(|id| id.parse().ok()).expect("id");
    let stored = store.get_webhook(&merchant.id, &id).await.expect("get").expect("stored");
    assert_eq!(body["webhook"]["secret"], stored.secret.reveal());
    assert_eq!(stored.url.as_str(), "https://shop.example/hooks/ferry");
}

on_each_store!(creates_the_endpoint);

/// Without `events` the endpoint gets every event; duplicates collapse.
async fn defaults_to_every_event_and_collapses_duplicates<S: Store>(store: S) {
    let key = seed_merchant(&store).await.api_key;
    let response = post(&store, PRODUCTION, &key, Some(json!({"url": "https://a.example"}))).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.body());
    let body = response_json(&response);
    assert_eq!(body["webhook"]["events"], json!(["*"]));
    assert_eq!(body["webhook"]["url"], "https://a.example/");
    assert!(body["webhook"].get("description").is_none(), "{body}");

    let twice = json!({"url": "https://a.example", "events": ["session.expired", "session.expired"]});
    let response = post(&store, PRODUCTION, &key, Some(twice)).await;
    assert_eq!(response_json(&response)["webhook"]["events"], json!(["session.expired"]));
}

on_each_store!(defaults_to_every_event_and_collapses_duplicates);

/// Each bad field is a 400 `invalid_parameter` naming it.
async fn names_the_bad_field<S: Store>(store: S) {
    let key = seed_merchant(&store).await.api_key;
    for (body, param) in [
        (json!({"url": "http://shop.example/hook"}), "url"),
        (json!({"url": "https://169.254.169.254/latest/meta-data"}), "url"),
        (json!({"url": "https://[::ffff:10.0.0.1]/"}), "url"),
        (json!({"url": "https://127.0.0.1:8080/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"events": ["*"]}), "url"),
        (json!({"url": "https://a.example", "events": []}), "events"),
        (json!({"url": "https://a.example", "events": ["*", "session.bounced"]}), "events"),
        (json!({"url": "https://a.example", "events": ["session.succeeded", "session.paid"]}), "events[1]"),
        (json!({"url": "https://a.example", "events": "*"}), "events"),
        (json!({"url": "https://a.example", "description": "x".repeat(501)}), "description"),
        (json!({"url": "https://a.example", "secret": "mine"}), "secret"),
    ] {
        let response = post(&store, PRODUCTION, &key, Some(body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error = response_json(&response);
        assert_eq!(error["error"]["code"], "invalid_parameter", "{body}: {error}");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
}

on_each_store!(names_the_bad_field);

/// Loopback over plain http only where the deployment allows it.
async fn allows_loopback_only_in_development<S: Store>(store: S) {
    let key = seed_merchant(&store).await.api_key;
    let body = json!({"url": "http://127.0.0.1:9000/hook"});
    let development = UrlPolicy::DEVELOPMENT;
    let response = post(&store, development, &key, Some(body.clone())).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.body());
    let response = post(&store, PRODUCTION, &key, Some(body)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

on_each_store!(allows_loopback_only_in_development);

/// Ports other than 443 only where the operator allows them
/// (`FERRY_ALLOW_WEBHOOK_PORTS`); addresses that embed a forbidden IPv4
/// address (6to4, Teredo, NAT64) are refused like it.
async fn refuses_other_ports_and_embedded_private_addresses<S: Store>(store: S) {
    let key = seed_merchant(&store).await.api_key;
    let open_ports = UrlPolicy { allow_any_port: true, ..PRODUCTION };
    for url in ["https://shop.example:8443/hooks", "https://93.184.216.34:22/"] {
        let response = post(&store, PRODUCTION, &key, Some(json!({"url": url}))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        let error = response_json(&response);
        assert_eq!((&error["error"]["code"], &error["error"]["param"]), (&json!("invalid_parameter"), &json!("url")));
        assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("port 443")), "{error}");
        let response = post(&store, open_ports, &key, Some(json!({"url": url}))).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{url}: {:?}", response.body());
    }
    for url in [
        "https://[2002:a9fe:a9fe::1]/",
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
        "https://[64:ff9b::a00:1]/",
        "https://[2001:4860::5efe:a00:1]/",
    ] {
        let response = post(&store, open_ports, &key, Some(json!({"url": url}))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(response_json(&response)["error"]["param"], "url", "{url}");
    }
}

on_each_store!(refuses_other_ports_and_embedded_private_addresses);

/// A host name is resolved: one whose every address is private, loopback
/// (outside development) or link-local is refused by name; one with a
/// public address, or none yet, is accepted (deliveries check it again).
async fn refuses_names_that_resolve_only_to_forbidden_addresses<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let ip = |text: &str| text.parse::<std::net::IpAddr>().expect("ip");
    let table = std::collections::HashMap::from([
        ("internal.merchant.example".to_string(), vec![ip("10.1.2.3")]),
        ("metadata.merchant.example".to_string(), vec![ip("169.254.169.254")]),
        ("rebound.merchant.example".to_string(), vec![ip("127.0.0.1"), ip("::1")]),
        ("mixed.merchant.example".to_string(), vec![ip("10.0.0.1"), ip("93.184.216.34")]),
    ]);
    let lookup = ferry_notify::HostLookup::Static(std::sync::Arc::new(table));
    let create = |policy: UrlPolicy, host: &str| {
        let function = CreateWebhook::new(Context::new(store.clone()), policy).with_lookup(lookup.clone());
        let body = json!({"url": format!("https://{host}/hooks")});
        let event = with_body(request("create-webhook", &[("API_KEY", &merchant.api_key)]), body);
        async move { ferry_http::respond(event, |request| function.handle(request)).await }
    };
    for (host, class) in [
        ("internal.merchant.example", "private"),
        ("metadata.merchant.example", "link-local"),
        ("rebound.merchant.example", "loopback"),
    ] {
        let response = create(PRODUCTION, host).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host}");
        let error = response_json(&response);
        assert_eq!(error["error"]["param"], "url", "{error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(class) && message.contains(host), "{message}");
    }
    assert!(store.list_webhooks(&merchant.id).await.expect("list").is_empty(), "nothing refused is stored");

    let development = UrlPolicy::DEVELOPMENT;
    for (policy, host) in [
        (development, "rebound.merchant.example"),
        (PRODUCTION, "mixed.merchant.example"),
        (PRODUCTION, "new.merchant.example"),
    ] {
        let response = create(policy, host).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{host}: {:?}", response.body());
    }
}

on_each_store!(refuses_names_that_resolve_only_to_forbidden_addresses);

/// The 17th endpoint is refused with 409 `too_many_webhooks`.
async fn refuses_more_than_the_limit<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    for _ in 0..MAX_WEBHOOKS_PER_MERCHANT {
        seed_webhook(&store, merchant.id).await;
    }
    let response = post(&store, PRODUCTION, &merchant.api_key, None).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response_json(&response);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"], "too_many_webhooks", "{body}");
}

on_each_store!(refuses_more_than_the_limit);

/// Without a valid API key: 401, nothing stored.
async fn needs_an_api_key<S: Store>(store: S) {
    let merchant = seed_merchant(&store).await;
    let response = post(&store, PRODUCTION, "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response_json(&response)["error"]["code"], "invalid_api_key");
    assert!(store.list_webhooks(&merchant.id).await.expect("list").is_empty());
}

on_each_store!(needs_an_api_key);

ferry_testing::refuses_to_start_without_its_configuration!(
    env!("CARGO_BIN_EXE_create-webhook"),
    fixture("create-webhook", &[("API_KEY", "5f0c3c6e-9d3b-4c47-8a55-2d8f1a3f9b10")]),
    "FERRY_TABLE_NAME"
);

/// The real `create-webhook` binary, started as Lambda starts it, answers
/// the fixture event from the fake Runtime API and writes to DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let function = BinaryOnMoto::start(env!("CARGO_BIN_EXE_create-webhook")).await;
    let (store, merchant) = (function.store.clone(), function.merchant.clone());
    let event = fixture("create-webhook", &[("API_KEY", &merchant.api_key)]);

    let response = function.invoke(event).await;

    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!(response["headers"]["request-id"], REQUEST_ID, "{response}");
    let body = gateway_body(&response);
    assert_is_the_requested_webhook(&body["webhook"]);
    let listed = bounded(store.list_webhooks(&merchant.id)).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(body["webhook"]["secret"], listed[0].secret.reveal());
}
