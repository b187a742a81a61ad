//! A session's life through the API over real HTTP: create → read both
//! views → set the EVM payment method → check, and idempotent creation.

use ferry_domain::SessionId;
use ferry_e2e::*;
use ferry_store::Store;
use serde_json::json;

async fn walk_a_session_through_the_api<S: Store>(app: TestApp<S>) {
    // Create.
    let created = app.create_session(&session_body()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert!(created.header("request-id").is_some());
    let session = &created.body["session"];
    let id = session["sessionId"].as_str().expect("sessionId").to_string();
    let secret = session["clientSecret"].as_str().expect("clientSecret").to_string();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    assert!(secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(session["status"], "requires_payment_method");
    assert_eq!(
        session["destination"],
        json!({
            "type": "evm",
            "address": DESTINATION,
            "chainId": BASE,
            "chainName": "Base",
            "tokenAddress": BASE_USDC,
            "tokenSymbol": "USDC",
            "amountUnits": "10.50",
            "calldata": "0xa9059cbb",
        })
    );
    assert_eq!(
        session["display"],
        json!({"title": "Order #42", "verb": "Pay", "themeCssUrl": "https://shop.example/theme.css", "themeMode": "dark"})
    );
    assert_eq!(session["paymentMethod"], serde_json::Value::Null);
    assert_eq!(session["metadata"], json!({"orderId": "42"}));
    let created_at = session["createdAt"].as_u64().expect("createdAt");
    assert_eq!(session["expiresAt"].as_u64(), Some(created_at + 3600));

    // The merchant's view has everything; the public views hide the secret and metadata.
    let full = app.get_session(&id, Some(&app.api_key), None).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body, created.body);
    for public in [app.get_session(&id, None, None).await, app.get_session(&id, None, Some(&secret)).await] {
        assert_eq!(public.status, 200, "{:#}", public.body);
        let view = public.body["session"].as_object().expect("session object");
        assert!(!view.contains_key("clientSecret") && !view.contains_key("metadata"), "{view:?}");
        assert_eq!(view["sessionId"], id.as_str());
        assert_eq!(view["destination"], session["destination"]);
        assert_eq!(view["display"], session["display"]);
    }

    // The payer chooses EVM (with the UI language the followed API's
    // clients send): the CREATE2 deposit address, waiting for payment.
    let body = json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "locale": "en"});
    let with_method = app.set_payment_method(&id, &body).await;
    assert_eq!(with_method.status, 200, "{:#}", with_method.body);
    let expected = receivers().receiver(&id.parse::<SessionId>().expect("id")).to_string();
    let method = &with_method.body["session"]["paymentMethod"];
    assert_eq!(method["type"], "evm");
    assert_eq!(method["receiverAddress"], expected.as_str());
    assert_eq!(with_method.body["session"]["status"], "waiting_payment");
    assert!(with_method.body["session"].get("clientSecret").is_none());

    // Asking again gives the same address, unchanged.
    let again = app.set_payment_method(&id, &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, with_method.body);

    // Check, with and without a transaction hint.
    let hint = format!("0x{}", "ab".repeat(32));
    let checked = app.check(&id, &json!({"clientSecret": secret, "txHash": hint})).await;
    assert_eq!(checked.status, 200, "{:#}", checked.body);
    assert_eq!(checked.body["session"]["status"], "waiting_payment");
    let stored = app.store.get_session(&id.parse().expect("id")).await.expect("get").expect("exists");
    assert_eq!(stored.tx_hash_hint.map(|h| h.to_string()), Some(hint));
    let plain = app.check(&id, &json!({"clientSecret": secret})).await;
    assert_eq!(plain.body, checked.body);

    let full = app.get_session(&id, Some(&app.api_key), None).await;
    assert_eq!(full.body["session"]["paymentMethod"], *method);
    assert_eq!(full.body["session"]["clientSecret"], secret.as_str());
}

#[tokio::test]
async fn a_session_walks_through_the_api_on_the_embedded_store() {
    walk_a_session_through_the_api(spawn_app().await).await;
}

#[tokio::test]
async fn a_session_walks_through_the_api_on_dynamodb() {
    walk_a_session_through_the_api(spawn_app_on_dynamodb().await).await;
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replays_the_first_response() {
    let app = spawn_app().await;
    let post = |body: &serde_json::Value, key: &str| {
        app.client.post(app.url("/v1/sessions")).bearer_auth(&app.api_key).header("Idempotency-Key", key).json(body)
    };
    let first = app.send(post(&session_body(), "order-42")).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);

    // The same body with its fields in another order and other spacing is the same request.
    let body = session_body();
    let reordered = format!(
        r#"{{ "refundAddress": {}, "metadata": {}, "display": {},
            "destination": {} }}"#,
        body["refundAddress"], body["metadata"], body["display"], body["destination"]
    );
    let replay = app
        .send(
            app.client
                .post(app.url("/v1/sessions"))
                .bearer_auth(&app.api_key)
                .header("Idempotency-Key", "order-42")
                .header("content-type", "application/json")
                .body(reordered),
        )
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, first.body);

    let mut other = session_body();
    other["destination"]["amountUnits"] = json!("11.00");
    app.send(post(&other, "order-42")).await.assert_error(409, "invalid_request_error", "idempotency_key_reused");

    // Keys are per merchant: another merchant's identical key is independent.
    let theirs = app
        .send(
            app.client
                .post(app.url("/v1/sessions"))
                .bearer_auth(&app.other_api_key)
                .header("Idempotency-Key", "order-42")
                .json(&session_body()),
        )
        .await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["session"]["sessionId"], first.body["session"]["sessionId"]);

    // A request refused by validation is not remembered.
    let mut invalid = session_body();
    invalid["display"]["title"] = json!("");
    app.send(post(&invalid, "order-43")).await.assert_error(400, "validation_error", "invalid_parameter");
    assert_eq!(app.send(post(&session_body(), "order-43")).await.status, 201);
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_session() {
    let app = spawn_app().await;
    let requests = (0..8).map(|_| {
        app.send(
            app.client
                .post(app.url("/v1/sessions"))
                .bearer_auth(&app.api_key)
                .header("Idempotency-Key", "race")
                .json(&session_body()),
        )
    });
    let answers = futures::future::join_all(requests).await;
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer.status, 201, "{:#}", answer.body);
            answer.body["session"]["sessionId"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one session for one key: {ids:?}");
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = spawn_app().await;
    let answer = app.send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    for path in [
        "/v1/sessions",
        "/v1/sessions/{sessionId}",
        "/v1/sessions/{sessionId}/paymentMethods",
        "/v1/sessions/{sessionId}/check",
        "/v1/sessions/{sessionId}/tokenOptions",
    ] {
        assert!(answer.body["paths"].get(path).is_some(), "{path} missing");
    }
}
