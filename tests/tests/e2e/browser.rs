//! A payer's browser calls Ferry: headless Chromium (Debian's, driven by the
//! pinned playwright-core, `tests/js/browser.mjs`) on a page served from
//! another loopback origin calls the client-secret routes of the local
//! server with `fetch` — preflighted, as the followed API's client's headers
//! make them — and runs the published JS client there; a page that sends an
//! API key is refused by the browser itself, unless the server lists the
//! page's origin (`--cors-allowed-origins`).

use std::time::Duration;

use ferry_e2e::js::{chromium, run_script};
use ferry_e2e::{session_body, spawn_app, spawn_app_with_cors};
use ferry_http::cors::CorsPolicy;

/// Chromium starts in a few seconds; the script bounds itself at 90 s.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_calls_the_client_secret_routes_and_sends_api_keys_only_where_listed() {
    let app = spawn_app().await;
    let (id, secret) = app.new_session().await;
    let chromium = chromium().display().to_string();
    // The page's port is picked here so a second server can list its origin.
    let page_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("address").port()
    };
    let page_origin = format!("http://127.0.0.1:{page_port}");
    let listed = spawn_app_with_cors(CorsPolicy::parse(&page_origin).expect("origin")).await;
    let body = session_body().to_string();
    let args = [
        chromium.as_str(),
        &app.base_url,
        &id,
        &secret,
        &app.api_key,
        &page_port.to_string(),
        &listed.base_url,
        &listed.api_key,
        &body,
    ];
    let out = run_script("browser.mjs", &args, SCRIPT_TIMEOUT).await;

    let origin = out["origin"].as_str().expect("origin");
    assert_eq!(origin, page_origin);
    assert_ne!(origin, app.base_url);
    assert!(out["userAgent"].as_str().is_some_and(|ua| ua.contains("Chrome/")), "{out:#}");

    let fetched = &out["fetched"];
    for call in ["retrieve", "paymentMethods", "check", "tokenOptions"] {
        assert_eq!(fetched[call]["status"], 200, "{call}: {out:#}");
        assert!(fetched[call]["requestId"].as_str().is_some_and(|r| !r.is_empty()), "{call}: request-id is exposed");
    }
    assert_eq!(fetched["retrieve"]["body"]["session"]["sessionId"], id.as_str());
    assert_eq!(fetched["paymentMethods"]["body"]["session"]["status"], "waiting_payment");
    assert_eq!(fetched["check"]["body"]["session"]["status"], "waiting_payment");
    assert_eq!(fetched["tokenOptions"]["body"]["sessionId"], id.as_str());

    let sdk = &out["sdk"];
    assert_eq!(sdk["retrieve"]["session"]["status"], "waiting_payment", "{out:#}");
    assert_eq!(sdk["check"]["session"]["paymentMethod"], fetched["paymentMethods"]["body"]["session"]["paymentMethod"]);
    assert!(sdk["tokenOptions"]["options"].as_array().is_some_and(|o| !o.is_empty()), "{out:#}");
    let error = &out["sdkError"];
    assert_eq!(
        (&error["thrown"], &error["name"], &error["status"]),
        (&true.into(), &"DaimoRequestError".into(), &401.into())
    );
    assert_eq!(error["code"], "invalid_client_secret");
    assert!(error["requestId"].as_str().is_some_and(|r| !r.is_empty()), "the client reads request-id: {error:#}");

    for (call, outcome) in out["apiKeyCalls"].as_object().expect("apiKeyCalls") {
        assert_eq!(outcome["refused"], true, "{call}: the browser sent the API key: {outcome:#}");
        assert_eq!(outcome["name"], "TypeError", "{call}: {outcome:#}");
    }
    assert_eq!(out["apiKeyCalls"].as_object().map(|calls| calls.len()), Some(3));

    // The server that lists the page's origin takes its API key.
    assert_eq!(out["listed"]["status"], 201, "{out:#}");
    assert_eq!(out["listed"]["body"]["session"]["status"], "requires_payment_method", "{out:#}");
}
