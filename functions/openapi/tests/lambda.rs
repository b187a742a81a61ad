//! `GET /openapi.json` and the `$default` fallback route as API Gateway
//! delivers them: the handler on real HTTP API (payload 2.0) events, and the
//! real binary through its Lambda entry point.

use ferry_testing::{bounded, fixture, gateway_body, header, invoke_lambda, request, response_json};
use http::StatusCode;
use serde_json::Value;

/// `requestContext.requestId` of the `openapi` and `unknown-route` fixtures.
const OPENAPI_REQUEST_ID: &str = "Q3kZnjDeoAMEbeg=";
const UNKNOWN_ROUTE_REQUEST_ID: &str = "Q3kZpk3ToAMEbfw=";

fn assert_is_the_openapi_document(document: &Value) {
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi {version:?}");
    for path in ["/v1/sessions", "/v1/sessions/{sessionId}", "/v1/sessions/{sessionId}/paymentMethods"] {
        assert!(document["paths"].get(path).is_some(), "the document has no {path}");
    }
}

#[tokio::test]
async fn serves_the_openapi_document() {
    bounded(async {
        let response = ferry_http::respond(request("openapi", &[]), openapi::handle).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        assert_eq!(header(&response, "request-id"), Some(OPENAPI_REQUEST_ID));
        assert_is_the_openapi_document(&response_json(&response));
    })
    .await;
}

/// The `$default` route sends everything unrouted here: a known path with
/// the wrong method is 405 with `Allow` and the error envelope.
#[tokio::test]
async fn answers_405_with_allow_for_a_known_path_and_the_wrong_method() {
    bounded(async {
        let response = ferry_http::respond(request("unknown-route", &[]), openapi::handle).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&response, "allow"), Some("POST"));
        assert_eq!(header(&response, "request-id"), Some(UNKNOWN_ROUTE_REQUEST_ID));
        let body = response_json(&response);
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("DELETE")), "{body}");
    })
    .await;
}

/// An unknown path is 404 `route_not_found` in the envelope.
#[tokio::test]
async fn answers_404_for_an_unknown_path() {
    bounded(async {
        let response = ferry_http::respond(request("not-found", &[]), openapi::handle).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&response, "allow"), None);
        let body = response_json(&response);
        assert_eq!(body["error"]["code"], "route_not_found", "{body}");
    })
    .await;
}

/// The real `openapi` binary, started as Lambda starts it, answers the
/// fixture event from the fake Runtime API. It needs no table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_api_gateway_event_through_its_lambda_entry_point() {
    let response =
        invoke_lambda(env!("CARGO_BIN_EXE_openapi"), Vec::<(&str, &str)>::new(), fixture("openapi", &[])).await;

    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["request-id"], OPENAPI_REQUEST_ID, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json", "{response}");
    assert_is_the_openapi_document(&gateway_body(&response));
}

/// As the deployed `$default` route: the binary answers an unrouted
/// request with 405, `Allow` and the envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_an_unrouted_event_through_its_lambda_entry_point() {
    let response =
        invoke_lambda(env!("CARGO_BIN_EXE_openapi"), Vec::<(&str, &str)>::new(), fixture("unknown-route", &[])).await;

    assert_eq!(response["statusCode"], 405, "{response}");
    assert_eq!(response["headers"]["allow"], "POST", "{response}");
    assert_eq!(response["headers"]["request-id"], UNKNOWN_ROUTE_REQUEST_ID, "{response}");
    assert_eq!(gateway_body(&response)["error"]["code"], "method_not_allowed");
}
