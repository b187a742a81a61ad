//! `GET /v1/sessions/{sessionId}/tokenOptions` over real HTTP through the
//! local server (the query string parsed as API Gateway parses it), on the
//! embedded store with the production registry and no nodes: every token
//! is listed, priced, without balances.

use ferry_e2e::*;
use serde_json::Value;

const BSC_USDC: &str = "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d";

#[tokio::test]
async fn token_options_are_listed_and_their_parameters_checked() {
    let app = spawn_app().await;
    let (id, secret) = app.new_session().await;
    let url = app.url(&format!("/v1/sessions/{id}/tokenOptions"));
    let get = |query: Vec<(&'static str, String)>| app.send(app.client.get(&url).query(&query));

    let answer = get(vec![
        ("clientSecret", secret.clone()),
        ("evmAddress", DESTINATION.to_lowercase()),
        ("solanaAddress", "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV".into()),
    ])
    .await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.body["sessionId"], id.as_str());
    let options = answer.body["options"].as_array().expect("options");
    assert_eq!(options.len(), 25, "every stablecoin of the 14 production chains");
    let find = |chain: u64, token: &str| -> &Value {
        options
            .iter()
            .find(|o| o["chainId"] == chain && o["tokenAddress"] == token)
            .unwrap_or_else(|| panic!("no {token} on {chain}"))
    };
    // The session asks for 10.5 Base USDC (6 decimals).
    assert_eq!(find(BASE, BASE_USDC)["requiredUnits"], "10.50");
    assert_eq!(find(BASE, BASE_USDC)["tokenSymbol"], "USDC");
    assert_eq!(find(56, BSC_USDC)["requiredUnits"], "10.50");
    assert!(options.iter().all(|o| o.get("balanceUnits").is_none()), "no nodes, no balances");

    get(vec![("evmAddress", DESTINATION.into())]).await.assert_error(
        401,
        "authentication_error",
        "missing_client_secret",
    );
    get(vec![("clientSecret", "0".repeat(32))]).await.assert_error(
        401,
        "authentication_error",
        "invalid_client_secret",
    );
    get(vec![("clientSecret", secret.clone()), ("evmAddress", "0xdead".into())])
        .await
        .assert_error(400, "validation_error", "invalid_parameter")
        .assert_param("evmAddress");
    let unknown = app.url("/v1/sessions/0123456789abcdef0123456789abcdef/tokenOptions");
    app.send(app.client.get(unknown).query(&[("clientSecret", &secret)])).await.assert_error(
        404,
        "invalid_request_error",
        "session_not_found",
    );
    app.send(app.client.post(&url)).await.assert_error(405, "invalid_request_error", "method_not_allowed");
}
