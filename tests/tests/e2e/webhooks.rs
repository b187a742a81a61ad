//! Webhook endpoint management over real HTTP: create → list → get →
//! delete, merchant scoping, every kind of refused URL (SSRF literals
//! included), bad events and the per-merchant limit, on the embedded store
//! and on DynamoDB.

use ferry_e2e::*;
use ferry_store::Store;
use serde_json::{Value, json};

trait Webhooks {
    async fn create_webhook(&self, key: &str, body: &Value) -> Answer;
    async fn list_webhooks(&self, key: &str) -> Answer;
    async fn get_webhook(&self, key: &str, id: &str) -> Answer;
    async fn delete_webhook(&self, key: &str, id: &str) -> Answer;
}

impl<S: Store> Webhooks for TestApp<S> {
    async fn create_webhook(&self, key: &str, body: &Value) -> Answer {
        self.send(self.client.post(self.url("/v1/webhooks")).bearer_auth(key).json(body)).await
    }

    async fn list_webhooks(&self, key: &str) -> Answer {
        self.send(self.client.get(self.url("/v1/webhooks")).bearer_auth(key)).await
    }

    async fn get_webhook(&self, key: &str, id: &str) -> Answer {
        self.send(self.client.get(self.url(&format!("/v1/webhooks/{id}"))).bearer_auth(key)).await
    }

    async fn delete_webhook(&self, key: &str, id: &str) -> Answer {
        self.send(self.client.delete(self.url(&format!("/v1/webhooks/{id}"))).bearer_auth(key)).await
    }
}

async fn manage_webhooks_through_the_api<S: Store>(app: TestApp<S>) {
    // Create: 201, the secret shown once.
    let body = json!({
        "url": "https://Shop.Example/hooks/ferry",
        "events": ["session.succeeded", "session.bounced"],
        "description": "Order updates",
    });
    let created = app.create_webhook(&app.api_key, &body).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert!(created.header("request-id").is_some());
    let webhook = created.body["webhook"].clone();
    let id = webhook["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("wh_") && id.len() == 35, "{id}");
    let secret = webhook["secret"].as_str().expect("secret");
    assert!(secret.starts_with("whsec_") && secret.len() == 70, "{secret}");
    assert_eq!(webhook["url"], "https://shop.example/hooks/ferry");
    assert_eq!(webhook["events"], json!(["session.succeeded", "session.bounced"]));
    assert_eq!(webhook["description"], "Order updates");

    // The defaults: every event, no description.
    let second = app.create_webhook(&app.api_key, &json!({"url": "https://other.example/in"})).await;
    assert_eq!(second.status, 201, "{:#}", second.body);
    assert_eq!(second.body["webhook"]["events"], json!(["*"]));
    let second_id = second.body["webhook"]["id"].as_str().expect("id").to_string();

    // Read it back, without the secret.
    let mut shown = webhook.clone();
    shown.as_object_mut().expect("object").remove("secret");
    let got = app.get_webhook(&app.api_key, &id).await;
    assert_eq!(got.status, 200, "{:#}", got.body);
    assert_eq!(got.body, json!({"webhook": shown}));
    let listed = app.list_webhooks(&app.api_key).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let listed = listed.body["webhooks"].as_array().expect("webhooks").clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&shown), "{listed:?}");
    assert!(listed.iter().all(|w| w.get("secret").is_none()), "{listed:?}");

    // Another merchant sees none of it and cannot delete it.
    app.get_webhook(&app.other_api_key, &id).await.assert_error(404, "invalid_request_error", "webhook_not_found");
    app.delete_webhook(&app.other_api_key, &id).await.assert_error(404, "invalid_request_error", "webhook_not_found");
    assert_eq!(app.list_webhooks(&app.other_api_key).await.body, json!({"webhooks": []}));

    // Delete.
    let deleted = app.delete_webhook(&app.api_key, &id).await;
    assert_eq!(deleted.status, 200, "{:#}", deleted.body);
    assert_eq!(deleted.body, json!({"id": id, "deleted": true}));
    app.get_webhook(&app.api_key, &id).await.assert_error(404, "invalid_request_error", "webhook_not_found");
    app.delete_webhook(&app.api_key, &id).await.assert_error(404, "invalid_request_error", "webhook_not_found");
    let remaining = app.list_webhooks(&app.api_key).await.body;
    assert_eq!(remaining["webhooks"].as_array().map(Vec::len), Some(1), "{remaining}");
    assert_eq!(remaining["webhooks"][0]["id"], second_id.as_str());

    // Unknown and malformed ids are simply not found.
    for id in ["wh_00000000000000000000000000000000", "nope", "0123456789abcdef0123456789abcdef"] {
        app.get_webhook(&app.api_key, id).await.assert_error(404, "invalid_request_error", "webhook_not_found");
    }
}

#[tokio::test]
async fn webhooks_are_managed_through_the_api_on_the_embedded_store() {
    manage_webhooks_through_the_api(spawn_app().await).await;
}

#[tokio::test]
async fn webhooks_are_managed_through_the_api_on_dynamodb() {
    manage_webhooks_through_the_api(spawn_app_on_dynamodb().await).await;
}

#[tokio::test]
async fn bad_urls_are_refused_naming_the_url() {
    let app = spawn_app().await;
    let long = format!("https://shop.example/{}", "a".repeat(2048));
    for url in [
        "http://shop.example/hook",
        "ftp://shop.example/hook",
        "shop.example/hook",
        "https://",
        "https://user:pass@shop.example/hook",
        "https://shop.example/hook#fragment",
        "https://shop .example/hook",
        long.as_str(),
        // SSRF: IP literals in private and special ranges, however written.
        "https://169.254.169.254/latest/meta-data/",
        "https://2852039166/",
        "https://0xa9fea9fe/",
        "https://127.0.0.1/",
        "https://localhost:8443/",
        "http://127.0.0.1:9000/",
        "https://10.0.0.8/",
        "https://172.20.1.1/",
        "https://192.168.0.10/",
        "https://100.100.100.200/",
        "https://0.0.0.0/",
        "https://224.0.0.251/",
        "https://[::1]/",
        "https://[::]/",
        "https://[fe80::1]/",
        "https://[fd00:ec2::254]/",
        "https://[ff02::1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[::ffff:7f00:1]/",
    ] {
        let answer = app.create_webhook(&app.api_key, &json!({"url": url})).await;
        answer.assert_error(400, "validation_error", "invalid_parameter").assert_param("url");
    }
    assert_eq!(app.list_webhooks(&app.api_key).await.body, json!({"webhooks": []}));
}

#[tokio::test]
async fn bad_events_and_fields_are_refused_naming_them() {
    let app = spawn_app().await;
    for (body, param) in [
        (json!({"url": "https://a.example", "events": []}), "events"),
        (json!({"url": "https://a.example", "events": ["*", "session.succeeded"]}), "events"),
        (json!({"url": "https://a.example", "events": ["session.paid"]}), "events[0]"),
        (json!({"url": "https://a.example", "events": ["session.expired", "SESSION.BOUNCED"]}), "events[1]"),
        (json!({"url": "https://a.example", "events": [1]}), "events[0]"),
        (json!({"url": "https://a.example", "events": "*"}), "events"),
        (json!({"url": "https://a.example", "description": "d".repeat(501)}), "description"),
        (json!({"url": "https://a.example", "enabled": true}), "enabled"),
        (json!({"events": ["*"]}), "url"),
    ] {
        let answer = app.create_webhook(&app.api_key, &body).await;
        answer.assert_error(400, "validation_error", "invalid_parameter").assert_param(param);
    }
    app.send(app.client.post(app.url("/v1/webhooks")).bearer_auth(&app.api_key).body("{")).await.assert_error(
        400,
        "validation_error",
        "invalid_json",
    );
    app.send(app.client.post(app.url("/v1/webhooks")).json(&json!({"url": "https://a.example"}))).await.assert_error(
        401,
        "authentication_error",
        "missing_api_key",
    );
    app.send(app.client.get(app.url("/v1/webhooks"))).await.assert_error(
        401,
        "authentication_error",
        "missing_api_key",
    );
    app.send(app.client.put(app.url("/v1/webhooks/wh_1")).bearer_auth(&app.api_key)).await.assert_error(
        405,
        "invalid_request_error",
        "method_not_allowed",
    );
}

async fn a_merchant_has_at_most_16_endpoints<S: Store>(app: TestApp<S>) {
    let mut ids = Vec::new();
    for index in 0..16 {
        let answer = app.create_webhook(&app.api_key, &json!({"url": format!("https://a.example/{index}")})).await;
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        ids.push(answer.body["webhook"]["id"].as_str().expect("id").to_string());
    }
    let over = app.create_webhook(&app.api_key, &json!({"url": "https://a.example/17"})).await;
    over.assert_error(409, "invalid_request_error", "too_many_webhooks");
    // Another merchant has its own limit.
    let other = app.create_webhook(&app.other_api_key, &json!({"url": "https://b.example"})).await;
    assert_eq!(other.status, 201, "{:#}", other.body);
    // Deleting one frees its place.
    assert_eq!(app.delete_webhook(&app.api_key, &ids[3]).await.status, 200);
    let again = app.create_webhook(&app.api_key, &json!({"url": "https://a.example/17"})).await;
    assert_eq!(again.status, 201, "{:#}", again.body);
    app.create_webhook(&app.api_key, &json!({"url": "https://a.example/18"})).await.assert_error(
        409,
        "invalid_request_error",
        "too_many_webhooks",
    );
    assert_eq!(app.list_webhooks(&app.api_key).await.body["webhooks"].as_array().map(Vec::len), Some(16));
}

#[tokio::test]
async fn a_merchant_has_at_most_16_endpoints_on_the_embedded_store() {
    a_merchant_has_at_most_16_endpoints(spawn_app().await).await;
}

#[tokio::test]
async fn a_merchant_has_at_most_16_endpoints_on_dynamodb() {
    a_merchant_has_at_most_16_endpoints(spawn_app_on_dynamodb().await).await;
}

/// Concurrent creates race for the last places: never more than 16.
#[tokio::test]
async fn concurrent_creates_never_exceed_the_limit_on_dynamodb() {
    let app = spawn_app_on_dynamodb().await;
    for index in 0..12 {
        let answer = app.create_webhook(&app.api_key, &json!({"url": format!("https://a.example/{index}")})).await;
        assert_eq!(answer.status, 201, "{:#}", answer.body);
    }
    let racing = (0..10).map(|index| {
        let body = json!({"url": format!("https://race.example/{index}")});
        let app = &app;
        async move { app.create_webhook(&app.api_key, &body).await }
    });
    let answers = futures::future::join_all(racing).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.assert_error(409, "invalid_request_error", "too_many_webhooks");
    }
    assert_eq!(created, 4, "{answers:#?}");
    assert_eq!(app.list_webhooks(&app.api_key).await.body["webhooks"].as_array().map(Vec::len), Some(16));
}
