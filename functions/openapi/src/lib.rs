//! `GET /openapi.json`, and the API's fallback (`$default` route): a JSON
//! 404 or 405 for every request no endpoint serves.

use ferry_http::routes::{Endpoint, unrouted};
use ferry_http::{HandlerResult, Request, json};
use http::StatusCode;

/// Serves the OpenAPI document; everything else routed here is answered
/// with the error envelope.
pub async fn handle(request: Request) -> HandlerResult {
    let path = request.uri().path();
    if request.method() == Endpoint::OpenApi.method() && path == Endpoint::OpenApi.path() {
        return json(StatusCode::OK, &ferry_http::openapi::document());
    }
    Err(unrouted(request.method(), path))
}
