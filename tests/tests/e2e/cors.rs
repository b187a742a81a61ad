//! CORS over real HTTP, header by header (the browser's view of the same
//! rules is in `browser.rs`): `ferry serve` answers every preflight as the
//! template's API Gateway configuration does, adds the CORS headers to
//! cross-origin responses, and refuses API keys from browser origins the
//! operator did not list.

use ferry_e2e::*;
use ferry_http::cors::CorsPolicy;
use reqwest::Method;
use serde_json::json;

const PAGE: &str = "http://127.0.0.1:5173";

async fn preflight<S: ferry_store::Store>(app: &TestApp<S>, path: &str, method: &str, headers: &str) -> Answer {
    let request = app
        .client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", PAGE)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers);
    app.send(request).await
}

#[tokio::test]
async fn preflights_are_answered_alike_on_every_path_without_authorization_by_default() {
    let app = spawn_app().await;
    for (path, method) in [
        ("/v1/sessions/0123456789abcdef0123456789abcdef", "GET"),
        ("/v1/sessions/0123456789abcdef0123456789abcdef/paymentMethods", "POST"),
        ("/v1/sessions/0123456789abcdef0123456789abcdef/check", "PUT"),
        ("/v1/sessions/0123456789abcdef0123456789abcdef/tokenOptions", "GET"),
        ("/v1/sessions", "POST"),
        ("/v1/nowhere", "GET"),
    ] {
        let answer = preflight(&app, path, method, "content-type,x-sdk-version").await;
        assert_eq!(answer.status, 204, "{path}");
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(answer.header("access-control-allow-methods"), Some("GET,POST,PUT,DELETE"), "{path}");
        assert_eq!(answer.header("access-control-allow-headers"), Some("content-type,x-sdk-version"), "{path}");
        assert_eq!(answer.header("access-control-max-age"), Some("600"), "{path}");
        assert!(answer.header("access-control-allow-credentials").is_none(), "{path}");
    }
    // An OPTIONS request that is not a preflight is an ordinary unrouted request.
    let plain = app.send(app.client.request(Method::OPTIONS, app.url("/v1/sessions"))).await;
    plain.assert_error(405, "invalid_request_error", "method_not_allowed");
}

#[tokio::test]
async fn cross_origin_answers_carry_the_cors_headers_and_same_origin_ones_do_not() {
    let app = spawn_app().await;
    let (id, secret) = app.new_session().await;
    let from_page = app.send(app.client.get(app.url(&format!("/v1/sessions/{id}"))).header("origin", PAGE)).await;
    assert_eq!(from_page.status, 200);
    assert_eq!(from_page.header("access-control-allow-origin"), Some("*"));
    assert_eq!(from_page.header("access-control-expose-headers"), Some("request-id"));
    let body = json!({"clientSecret": "0".repeat(32), "paymentMethod": {"type": "evm"}});
    let refused = app
        .send(app.client.post(app.url(&format!("/v1/sessions/{id}/paymentMethods"))).header("origin", PAGE).json(&body))
        .await;
    refused.assert_error(401, "authentication_error", "invalid_client_secret");
    assert_eq!(refused.header("access-control-allow-origin"), Some("*"), "errors too");
    let server = app.get_session(&id, None, Some(&secret)).await;
    assert!(server.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn api_keys_from_browser_origins_are_refused_unless_listed() {
    let app = spawn_app().await;
    let from = |origin: &'static str| {
        app.client
            .post(app.url("/v1/sessions"))
            .bearer_auth(&app.api_key)
            .header("origin", origin)
            .json(&session_body())
    };
    let refused = app.send(from(PAGE)).await;
    refused.assert_error(403, "authentication_error", "origin_not_allowed");
    assert!(refused.body["error"]["message"].as_str().is_some_and(|m| m.contains(PAGE)), "{:#}", refused.body);
    // Servers send no Origin.
    assert_eq!(app.create_session(&session_body()).await.status, 201);

    let listed = spawn_app_with_cors(CorsPolicy::parse(PAGE).expect("origin")).await;
    let answer = preflight(&listed, "/v1/sessions", "POST", "authorization,content-type").await;
    assert_eq!(answer.header("access-control-allow-headers"), Some("content-type,x-sdk-version,authorization"));
    let created = listed
        .send(
            listed
                .client
                .post(listed.url("/v1/sessions"))
                .bearer_auth(&listed.api_key)
                .header("origin", PAGE)
                .json(&session_body()),
        )
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let other = listed
        .send(
            listed
                .client
                .post(listed.url("/v1/sessions"))
                .bearer_auth(&listed.api_key)
                .header("origin", "http://127.0.0.1:6666")
                .json(&session_body()),
        )
        .await;
    other.assert_error(403, "authentication_error", "origin_not_allowed");
}
