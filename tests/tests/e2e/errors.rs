//! Every error case of the contract, over real HTTP: the right type, code,
//! status and `param`, always in the JSON envelope with a `request-id`.

use ferry_e2e::*;
use serde_json::{Value, json};

/// `session_body()` with one field changed (`null` removes it).
fn body_with(path: &[&str], value: Value) -> Value {
    let mut body = session_body();
    let (last, parents) = path.split_last().expect("path");
    let mut target = &mut body;
    for key in parents {
        target = &mut target[*key];
    }
    let object = target.as_object_mut().expect("object");
    if value.is_null() {
        object.remove(*last);
    } else {
        object.insert((*last).to_string(), value);
    }
    body
}

#[tokio::test]
async fn api_keys_are_required_and_checked() {
    let app = spawn_app().await;
    let body = session_body();
    let no_key = app.send(app.client.post(app.url("/v1/sessions")).json(&body)).await;
    no_key.assert_error(401, "authentication_error", "missing_api_key");
    for header in ["Bearer not-a-uuid", "Basic dXNlcjpwYXNz", "Bearer", "00000000-0000-4000-8000-000000000000"] {
        let answer =
            app.send(app.client.post(app.url("/v1/sessions")).header("authorization", header).json(&body)).await;
        answer.assert_error(401, "authentication_error", "invalid_api_key");
    }
    let unknown = app.create_session_with("6f1c1f2e-2a8c-4c55-9d2e-3c1f3e0a9b7d", &body).await;
    unknown.assert_error(401, "authentication_error", "invalid_api_key");
    // A bad key on a public read is refused too, rather than silently ignored.
    let (id, _) = app.new_session().await;
    app.get_session(&id, Some("not-a-uuid"), None).await.assert_error(401, "authentication_error", "invalid_api_key");
}

#[tokio::test]
async fn each_invalid_field_is_named_as_a_json_path() {
    let app = spawn_app().await;
    let cases: Vec<(Value, &str)> = vec![
        (body_with(&["destination", "type"], json!("tron")), "destination.type"),
        (body_with(&["destination", "type"], Value::Null), "destination.type"),
        (body_with(&["destination", "address"], json!("0x1234")), "destination.address"),
        (
            body_with(&["destination", "address"], json!("0x70997970c51812dc3A010C7d01b50e0d17dc79C8")),
            "destination.address",
        ),
        (body_with(&["destination", "address"], Value::Null), "destination.address"),
        (body_with(&["destination", "chainId"], json!("8453")), "destination.chainId"),
        (body_with(&["destination", "chainId"], json!(-1)), "destination.chainId"),
        (body_with(&["destination", "tokenAddress"], json!("USDC")), "destination.tokenAddress"),
        (body_with(&["destination", "amountUnits"], json!("ten")), "destination.amountUnits"),
        (body_with(&["destination", "amountUnits"], json!("0")), "destination.amountUnits"),
        (body_with(&["destination", "amountUnits"], json!("-5")), "destination.amountUnits"),
        (body_with(&["destination", "amountUnits"], json!("1.0000001")), "destination.amountUnits"),
        (body_with(&["destination", "amountUnits"], json!(10)), "destination.amountUnits"),
        (body_with(&["destination", "calldata"], json!("0xabc")), "destination.calldata"),
        (body_with(&["destination", "colour"], json!("red")), "destination.colour"),
        (body_with(&["display"], Value::Null), "display"),
        (body_with(&["display", "title"], json!("")), "display.title"),
        (body_with(&["display", "verb"], Value::Null), "display.verb"),
        (body_with(&["display", "themeCssUrl"], json!("javascript:alert(1)")), "display.themeCssUrl"),
        (body_with(&["display", "paymentOptions"], json!(["evm", ""])), "display.paymentOptions[1]"),
        (body_with(&["display", "themeMode"], json!("sepia")), "display.themeMode"),
        (body_with(&["display", "themeMode"], json!("Dark")), "display.themeMode"),
        (body_with(&["display", "themeMode"], json!(1)), "display.themeMode"),
        (body_with(&["metadata"], json!({"orderId": 42})), "metadata.orderId"),
        (body_with(&["metadata"], json!({"note": "x".repeat(501)})), "metadata.note"),
        (body_with(&["metadata"], Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect())), "metadata"),
        (body_with(&["refundAddress"], json!("nope")), "refundAddress"),
        (body_with(&["expiresAt"], json!(1)), "expiresAt"),
    ];
    for (body, param) in cases {
        let answer = app.create_session(&body).await;
        answer.assert_error(400, "validation_error", "invalid_parameter").assert_param(param);
        let message = answer.body["error"]["message"].as_str().expect("message");
        assert!(message.starts_with(param), "{param}: {message}");
    }
}

#[tokio::test]
async fn unsupported_chains_and_tokens_are_invalid_requests() {
    let app = spawn_app().await;
    let answer = app.create_session(&body_with(&["destination", "chainId"], json!(999_999))).await;
    answer.assert_error(400, "invalid_request_error", "unsupported_chain").assert_param("destination.chainId");
    let other_token = body_with(&["destination", "tokenAddress"], json!("0x4200000000000000000000000000000000000006"));
    let answer = app.create_session(&other_token).await;
    answer.assert_error(400, "invalid_request_error", "unsupported_token").assert_param("destination.tokenAddress");
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let raw = |body: String| {
        app.client
            .post(app.url("/v1/sessions"))
            .bearer_auth(&app.api_key)
            .header("content-type", "application/json")
            .body(body)
    };
    for body in ["", "{", "[]", "\"text\"", "{\"destination\": }"] {
        app.send(raw(body.to_string())).await.assert_error(400, "validation_error", "invalid_json");
    }
    let huge = format!("{{\"display\": \"{}\"}}", "x".repeat(70 * 1024));
    app.send(raw(huge)).await.assert_error(413, "validation_error", "payload_too_large");
}

#[tokio::test]
async fn sessions_that_do_not_exist_or_belong_to_another_merchant_are_not_found() {
    let app = spawn_app().await;
    let (id, secret) = app.new_session().await;
    for missing in ["0123456789abcdef0123456789abcdef", "not-an-id", "0123456789ABCDEF0123456789ABCDEF"] {
        app.get_session(missing, Some(&app.api_key), None).await.assert_error(
            404,
            "invalid_request_error",
            "session_not_found",
        );
        let body = json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}});
        app.set_payment_method(missing, &body).await.assert_error(404, "invalid_request_error", "session_not_found");
        app.check(missing, &json!({"clientSecret": secret})).await.assert_error(
            404,
            "invalid_request_error",
            "session_not_found",
        );
    }
    // Another merchant's key: 404, not 403.
    app.get_session(&id, Some(&app.other_api_key), None).await.assert_error(
        404,
        "invalid_request_error",
        "session_not_found",
    );
}

#[tokio::test]
async fn client_secrets_are_required_and_checked() {
    let app = spawn_app().await;
    let (id, _secret) = app.new_session().await;
    let (_, other_secret) = app.new_session().await;
    let evm = json!({"type": "evm"});

    let missing = app.set_payment_method(&id, &json!({"paymentMethod": evm})).await;
    missing.assert_error(401, "authentication_error", "missing_client_secret").assert_param("clientSecret");
    app.check(&id, &json!({})).await.assert_error(401, "authentication_error", "missing_client_secret");
    for wrong in [other_secret.as_str(), "short", &"A".repeat(32)] {
        let answer = app.set_payment_method(&id, &json!({"clientSecret": wrong, "paymentMethod": evm})).await;
        answer.assert_error(401, "authentication_error", "invalid_client_secret").assert_param("clientSecret");
        app.check(&id, &json!({"clientSecret": wrong})).await.assert_error(
            401,
            "authentication_error",
            "invalid_client_secret",
        );
        app.get_session(&id, None, Some(wrong)).await.assert_error(
            401,
            "authentication_error",
            "invalid_client_secret",
        );
    }
}

#[tokio::test]
async fn payment_method_requests_are_validated() {
    let app = spawn_app().await;
    let (id, secret) = app.new_session().await;
    for method in [
        json!({"type": "tron", "amountUsd": 10}),
        json!({"type": "solana", "walletAddress": "x", "inputTokenMint": "y", "amountUsd": 10}),
        // Types the published client knows that Ferry does not offer.
        json!({"type": "exchange", "exchangeId": "coinbase"}),
        json!({"type": "stripe"}),
        json!({"type": "fiat", "amountUsd": 10}),
    ] {
        let answer = app.set_payment_method(&id, &json!({"clientSecret": secret, "paymentMethod": method})).await;
        answer
            .assert_error(400, "invalid_request_error", "unsupported_payment_method")
            .assert_param("paymentMethod.type");
    }
    let cases = [
        (json!({"clientSecret": secret}), "paymentMethod"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "bitcoin"}}), "paymentMethod.type"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm", "chainId": 1}}), "paymentMethod.chainId"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "extra": true}), "extra"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "locale": ""}), "locale"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "locale": "e"}), "locale"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "locale": "en US"}), "locale"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "locale": "a".repeat(36)}), "locale"),
        (json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}, "locale": 7}), "locale"),
    ];
    for (body, param) in cases {
        let answer = app.set_payment_method(&id, &body).await;
        answer.assert_error(400, "validation_error", "invalid_parameter").assert_param(param);
        let message = answer.body["error"]["message"].as_str().expect("message");
        assert!(message.starts_with(param), "{param}: {message}");
    }
    // Nothing was written by the refused requests.
    assert_eq!(app.get_session(&id, None, None).await.body["session"]["status"], "requires_payment_method");
    let bad_hash = app.check(&id, &json!({"clientSecret": secret, "txHash": "0x1234"})).await;
    bad_hash.assert_error(400, "validation_error", "invalid_parameter").assert_param("txHash");
}

#[tokio::test]
async fn expired_and_finished_sessions_refuse_a_payment_method() {
    let app = spawn_app().await;
    let evm = |secret: &str| json!({"clientSecret": secret, "paymentMethod": {"type": "evm"}});

    let (expired, secret) = app.new_session().await;
    app.rewrite_session(&expired, |s| s["expires_at"] = json!(1)).await;
    app.set_payment_method(&expired, &evm(&secret)).await.assert_error(409, "invalid_request_error", "session_expired");

    let (done, secret) = app.new_session().await;
    app.rewrite_session(&done, |s| s["status"] = json!("succeeded")).await;
    app.set_payment_method(&done, &evm(&secret)).await.assert_error(
        409,
        "invalid_request_error",
        "invalid_session_state",
    );
    // Reading and checking a finished session still works.
    assert_eq!(app.check(&done, &json!({"clientSecret": secret})).await.status, 200);
}

#[tokio::test]
async fn idempotency_keys_are_bounded() {
    let app = spawn_app().await;
    let answer = app
        .send(
            app.client
                .post(app.url("/v1/sessions"))
                .bearer_auth(&app.api_key)
                .header("Idempotency-Key", "k".repeat(256))
                .json(&session_body()),
        )
        .await;
    answer.assert_error(400, "validation_error", "invalid_parameter").assert_param("Idempotency-Key");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = spawn_app().await;
    app.send(app.client.get(app.url("/v1/nothing"))).await.assert_error(
        404,
        "invalid_request_error",
        "route_not_found",
    );
    app.send(app.client.get(app.url("/"))).await.assert_error(404, "invalid_request_error", "route_not_found");
    let answer = app.send(app.client.delete(app.url("/v1/sessions/0123456789abcdef0123456789abcdef"))).await;
    answer.assert_error(405, "invalid_request_error", "method_not_allowed");
    assert_eq!(answer.header("allow"), Some("GET"));
    let answer = app.send(app.client.get(app.url("/v1/sessions"))).await;
    answer.assert_error(405, "invalid_request_error", "method_not_allowed");
    assert_eq!(answer.header("allow"), Some("POST"));
}

#[tokio::test]
async fn a_failing_backend_is_an_opaque_internal_error() {
    // A DynamoDB table that does not exist: every store call fails.
    let app = spawn_app_with(dynamodb_store(false).await).await;
    let answer = app.create_session(&session_body()).await;
    answer.assert_error(500, "api_error", "internal_error");
    let text = answer.body.to_string();
    assert!(!text.contains("ResourceNotFound") && !text.contains("table"), "{text}");
}
