//! The published JS client of the API Ferry follows (npm `@daimo/sdk`,
//! pinned in `tests/js/package-lock.json`) works against `ferry serve`
//! by changing only its base URL: every session call it has, over real HTTP,
//! for a session paid on real chains, and its typed error for a wrong
//! client secret. The client runs in Node (`tests/js/sdk.mjs`).

use std::time::Duration;

use ferry_chains::evm::local;
use ferry_e2e::chains::{CHAIN_A, CHAIN_B, payer};
use ferry_e2e::evm::{SessionRequest, spawn_app_with_chains};
use ferry_e2e::js::run_script;
use serde_json::{Value, json};

/// Node starts, imports the client and makes a handful of local requests.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_js_client_drives_a_session_from_creation_to_success() {
    let app = spawn_app_with_chains().await;
    // The merchant creates the session on its server, with a theme mode as newer clients send.
    let mut body = SessionRequest::to(local::DESTINATION, CHAIN_A).amount("10.00").body();
    body["display"]["themeMode"] = json!("light");
    let created = app.create_session(&body).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["session"]["sessionId"].as_str().expect("sessionId").to_string();
    let secret = created.body["session"]["clientSecret"].as_str().expect("clientSecret").to_string();
    let payer = payer().to_string();

    // The payer's client: retrieve, paymentMethods.create (which sends `locale`),
    // tokenOptions.list, check, and the wrong-secret error path.
    let out = run_script("sdk.mjs", &["open", &app.base_url, &id, &secret, &payer], SCRIPT_TIMEOUT).await;

    let retrieved = &out["retrieved"]["session"];
    assert_eq!(retrieved["sessionId"], id.as_str(), "{out:#}");
    assert_eq!(retrieved["status"], "requires_payment_method");
    assert_eq!(retrieved["display"], json!({"title": "E2E order", "verb": "Pay", "themeMode": "light"}));
    assert!(retrieved.get("clientSecret").is_none(), "retrieve is the public view: {retrieved:#}");

    let with_method = &out["created"]["session"];
    assert_eq!(with_method["status"], "waiting_payment", "{out:#}");
    let receiver = with_method["paymentMethod"]["receiverAddress"].as_str().expect("receiverAddress");
    assert_eq!(with_method["paymentMethod"]["type"], "evm");

    let options = out["tokenOptions"]["options"].as_array().expect("options");
    assert_eq!(out["tokenOptions"]["sessionId"], id.as_str());
    let usdc_a = options
        .iter()
        .find(|o| o["chainId"] == CHAIN_A && o["tokenAddress"] == local::USDC.to_string())
        .unwrap_or_else(|| panic!("no USDC option on chain {CHAIN_A}: {options:#?}"));
    assert_eq!(usdc_a["requiredUnits"], "10.00");
    assert!(options.iter().any(|o| o["chainId"] == CHAIN_B), "every chain is offered: {options:#?}");

    assert_eq!(out["checked"]["session"]["status"], "waiting_payment");
    assert_eq!(out["checked"]["session"]["paymentMethod"], with_method["paymentMethod"]);

    for (call, error) in out["errors"].as_object().expect("errors") {
        assert_eq!(error["name"], "DaimoRequestError", "{call}: {error:#}");
        assert_eq!(error["status"], 401, "{call}: {error:#}");
        assert_eq!(error["type"], "authentication_error", "{call}: {error:#}");
        assert_eq!(error["code"], "invalid_client_secret", "{call}: {error:#}");
        assert_eq!(error["param"], "clientSecret", "{call}: {error:#}");
        assert!(error["requestId"].as_str().is_some_and(|r| !r.is_empty()), "{call}: the client reads request-id");
    }
    assert_eq!(out["errors"].as_object().map(|o| o.len()), Some(3));

    // The payer pays on the other chain and names the transaction.
    let payment = app.pay(CHAIN_B, receiver.parse().expect("address"), "10.00").await;
    let tx_hash = payment.tx_hash.to_string();
    // One block on top of the payment: the local chains want one confirmation.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let out = run_script("sdk.mjs", &["check-tx", &app.base_url, &id, &secret, &tx_hash], SCRIPT_TIMEOUT).await;
    let checked = &out["checked"]["session"];
    let status = checked["status"].as_str().unwrap_or_default();
    assert!(matches!(status, "processing" | "succeeded"), "the named deposit is seen at once: {checked:#}");
    assert_eq!(checked["paymentMethod"]["source"]["txHash"], Value::String(tx_hash.clone()), "{checked:#}");
    assert_eq!(checked["paymentMethod"]["source"]["chainId"], CHAIN_B);

    let done = app.wait_for_status(&id, "succeeded").await;
    assert_eq!(done["destination"]["delivery"]["receivedUnits"], "10.00");
}
