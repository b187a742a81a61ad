//! Serving a handler: the request id, the body limit, panics and errors
//! turned into the JSON envelope, logs — the same for the Lambda runtime,
//! the local runner and the tests.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::Instrument;

use crate::ApiError;
use crate::cors::CorsPolicy;
use crate::request::check_body_size;

pub const REQUEST_ID: &str = "request-id";

/// What a handler returns.
pub type HandlerResult = Result<Response<Body>, ApiError>;

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> HandlerResult {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .map_err(ApiError::internal)
}

/// The id that ties a response to its logs: API Gateway's request id when
/// there is one, otherwise a fresh UUID.
fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn error_response(error: &ApiError) -> Response<Body> {
    let body = serde_json::to_string(&error.envelope()).unwrap_or_else(|_| {
        r#"{"error":{"type":"api_error","code":"internal_error","message":"Internal error."}}"#.into()
    });
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = error.status();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(allow) = error.allow.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
        response.headers_mut().insert(http::header::ALLOW, allow);
    }
    response
}

fn log_failure(error: &ApiError) {
    if error.status().is_server_error() {
        // The full source chain goes to the logs, never to the caller.
        let chain = error.source().map(|cause| format!(": {}", ferry_runtime::error_chain(cause))).unwrap_or_default();
        tracing::error!(code = error.code.as_str(), "request failed{chain}");
    } else {
        tracing::info!(
            code = error.code.as_str(),
            status = error.status().as_u16(),
            param = error.param.as_deref(),
            "request refused"
        );
    }
}

/// [`respond_with`] under the default CORS policy: no browser may send an
/// API key.
pub async fn respond<F, Fut>(request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    respond_with(&CorsPolicy::servers_only(), request, handler).await
}

/// Runs `handler` on `request` and always answers: a browser's preflight
/// gets the CORS answer (see [`crate::cors`]), an API key from an unlisted
/// browser origin 403, oversized bodies 413, errors and panics the JSON
/// envelope; every other response a `request-id`, and the CORS headers when
/// the request came from a browser on another origin.
pub async fn respond_with<F, Fut>(cors: &CorsPolicy, request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    if CorsPolicy::is_preflight(&request) {
        return cors.preflight();
    }
    let request_headers = request.headers().clone();
    let request_id = request_id(&request);
    let span = tracing::info_span!("request", %request_id, method = %request.method(), path = request.uri().path());
    let outcome = async {
        cors.check_api_key_origin(&request)?;
        check_body_size(request.body())?;
        match AssertUnwindSafe(handler(request)).catch_unwind().await {
            Ok(result) => result,
            Err(_panic) => Err(ApiError::internal("handler panicked")),
        }
    }
    .instrument(span.clone())
    .await;
    let _entered = span.enter();
    let mut response = match outcome {
        Ok(response) => {
            tracing::info!(status = response.status().as_u16(), "request served");
            response
        }
        Err(error) => {
            log_failure(&error);
            error_response(&error)
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    CorsPolicy::add_response_headers(&request_headers, &mut response);
    response
}

/// The Lambda entry point every HTTP function's `main` calls: serves
/// `handler` through [`respond_with`] under the Lambda runtime, with the
/// CORS policy of `FERRY_CORS_ALLOWED_ORIGINS` (a malformed list stops the
/// cold start, naming the entry).
pub async fn run_lambda<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = HandlerResult> + Send,
{
    // As text, so the exit message names the variable and the entry.
    let cors = &CorsPolicy::from_env().map_err(|error| error.to_string())?;
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(respond_with(cors, request, handler).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn request(body: Body) -> Request {
        http::Request::builder().uri("/v1/sessions").body(body).expect("request")
    }

    #[tokio::test]
    async fn every_response_carries_a_request_id() {
        let response = respond(request(Body::Empty), |_| async { json(StatusCode::OK, &"ok") }).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(REQUEST_ID).is_some());
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused_before_the_handler_runs() {
        let body = Body::Text("x".repeat(crate::request::MAX_BODY_BYTES + 1));
        let response = respond(request(body), |_| async { panic!("handler must not run") }).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("json");
        assert_eq!(body["error"]["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn panics_become_an_opaque_500_envelope() {
        let response = respond(request(Body::Empty), |_| async { panic!("secret detail") }).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = std::str::from_utf8(response.body().as_ref()).expect("utf8").to_string();
        assert!(!text.contains("secret detail"));
        let body: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(response.headers().get(REQUEST_ID).is_some());
    }

    #[tokio::test]
    async fn method_not_allowed_names_the_allowed_methods() {
        let response = respond(request(Body::Empty), |_| async {
            Err(crate::routes::unrouted(&http::Method::PATCH, "/v1/sessions"))
        })
        .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers().get(http::header::ALLOW).map(|v| v.as_bytes()), Some(&b"POST"[..]));
        let _ = ErrorCode::MethodNotAllowed;
    }
}
