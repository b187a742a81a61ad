//! Cross-origin requests from browsers.
//!
//! The client-secret calls (`GET /v1/sessions/{id}`, `POST …/paymentMethods`,
//! `PUT …/check`, `GET …/tokenOptions`) are made from the payer's browser by
//! the followed API's JS client, on the merchant's checkout page: any origin
//! may make them, without credentials. API keys stay on servers: a browser
//! may send `Authorization` only from the origins the operator lists
//! (`FERRY_CORS_ALLOWED_ORIGINS`, template parameter `CorsAllowedOrigins`).
//!
//! In a deployment API Gateway answers preflights and adds the CORS headers
//! to every response from `template.yaml`'s `CorsConfiguration`, which is per
//! API, not per route: any origin (`*`), the methods [`ALLOW_METHODS`], the
//! headers [`BROWSER_HEADERS`] plus `authorization` only when origins are
//! listed, [`EXPOSE_HEADERS`] and [`MAX_AGE_SECONDS`]. `ferry serve` answers
//! with exactly the same headers, from these constants (a template test ties
//! the two). Since the gateway cannot tell routes apart, the list is
//! enforced here, in every function: a request that carries an API key and
//! a browser's `Origin` not on the list is refused with 403
//! `origin_not_allowed` before its handler runs. Servers send no `Origin`.
//! A response to an API-key route being readable from any origin gives
//! nothing away: without `Authorization` (and there are no cookies) such a
//! request is a 401.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::{ApiError, ErrorCode};

/// The environment variable of the Lambda functions and `ferry serve`.
pub const ALLOWED_ORIGINS_VAR: &str = "FERRY_CORS_ALLOWED_ORIGINS";
/// `Access-Control-Allow-Origin` of every answer: any origin.
pub const ALLOW_ORIGIN: &str = "*";
/// What the routes use: the client-secret calls need GET, POST and PUT;
/// DELETE is for listed origins managing webhooks.
pub const ALLOW_METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
/// The request headers any origin may send: the JSON body's type and the
/// version header the followed API's JS client adds to every request.
pub const BROWSER_HEADERS: [&str; 2] = ["content-type", "x-sdk-version"];
/// Added to [`BROWSER_HEADERS`] only when origins are listed.
pub const API_KEY_HEADER: &str = "authorization";
/// Response headers scripts may read: the id that ties a response to the
/// logs (the JS client reports it in its errors).
pub const EXPOSE_HEADERS: [&str; 1] = ["request-id"];
/// How long browsers may cache a preflight answer.
pub const MAX_AGE_SECONDS: u32 = 600;

/// The origins (`scheme://host[:port]`) from which browsers may send API keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    api_key_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsError {
    #[error(
        "{ALLOWED_ORIGINS_VAR}: entry {position} (`{entry}`) is not an origin: expected scheme://host[:port] \
         (http or https, no path, no trailing slash, no `*`), separated by commas"
    )]
    NotAnOrigin { position: usize, entry: String },
}

impl CorsPolicy {
    /// No browser may send an API key (the default).
    pub fn servers_only() -> Self {
        Self::default()
    }

    /// A comma-separated list of origins; empty entries are skipped, so an
    /// empty list is [`servers_only`](Self::servers_only).
    pub fn parse(list: &str) -> Result<Self, CorsError> {
        let mut api_key_origins = Vec::new();
        for (index, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            if !is_origin(entry) {
                return Err(CorsError::NotAnOrigin { position: index + 1, entry: entry.to_string() });
            }
            api_key_origins.push(entry.to_ascii_lowercase());
        }
        Ok(Self { api_key_origins })
    }

    /// [`ALLOWED_ORIGINS_VAR`], unset meaning none.
    pub fn from_env() -> Result<Self, CorsError> {
        Self::parse(&std::env::var(ALLOWED_ORIGINS_VAR).unwrap_or_default())
    }

    pub fn api_key_origins(&self) -> &[String] {
        &self.api_key_origins
    }

    /// `Access-Control-Allow-Headers`: `authorization` only when some
    /// origin may send API keys.
    pub fn allow_headers(&self) -> Vec<&'static str> {
        let mut headers = BROWSER_HEADERS.to_vec();
        if !self.api_key_origins.is_empty() {
            headers.push(API_KEY_HEADER);
        }
        headers
    }

    /// A browser's preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`, on any path (as API Gateway).
    pub fn is_preflight(request: &Request) -> bool {
        request.method() == Method::OPTIONS
            && request.headers().contains_key(http::header::ORIGIN)
            && request.headers().contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to every preflight: 204 with the CORS headers.
    pub fn preflight(&self) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        insert(headers, http::header::ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW_ORIGIN);
        insert(headers, http::header::ACCESS_CONTROL_ALLOW_METHODS, &ALLOW_METHODS.join(","));
        insert(headers, http::header::ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers().join(","));
        insert(headers, http::header::ACCESS_CONTROL_MAX_AGE, &MAX_AGE_SECONDS.to_string());
        response
    }

    /// Refuses an API key sent by a browser from an origin not on the list.
    pub fn check_api_key_origin(&self, request: &Request) -> Result<(), ApiError> {
        let headers = request.headers();
        if !headers.contains_key(http::header::AUTHORIZATION) {
            return Ok(());
        }
        let Some(origin) = headers.get(http::header::ORIGIN) else { return Ok(()) };
        let origin = origin.to_str().unwrap_or_default();
        if self.api_key_origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin)) {
            return Ok(());
        }
        let shown: String = origin.chars().filter(|c| !c.is_control()).take(200).collect();
        Err(ApiError::new(
            ErrorCode::OriginNotAllowed,
            format!(
                "API keys are not accepted from browsers on origin `{shown}`: call the API from your server, or \
                 have the operator list the origin in {ALLOWED_ORIGINS_VAR}."
            ),
        ))
    }

    /// Adds the CORS headers to the response of a cross-origin request (one
    /// with an `Origin`), as API Gateway does.
    pub fn add_response_headers(request_headers: &HeaderMap, response: &mut Response<Body>) {
        if !request_headers.contains_key(http::header::ORIGIN) {
            return;
        }
        let headers = response.headers_mut();
        insert(headers, http::header::ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW_ORIGIN);
        insert(headers, http::header::ACCESS_CONTROL_EXPOSE_HEADERS, &EXPOSE_HEADERS.join(","));
    }
}

fn insert(headers: &mut HeaderMap, name: http::header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// `http(s)://host[:port]`: what a browser sends as `Origin`.
fn is_origin(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")) else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder().method(method).uri("/v1/sessions");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).expect("request")
    }

    #[test]
    fn origin_lists_parse_with_the_bad_entry_named() {
        assert_eq!(CorsPolicy::parse("").map(|p| p.api_key_origins().len()), Ok(0));
        let policy =
            CorsPolicy::parse("https://shop.example, http://127.0.0.1:5173,,https://[::1]:8443").expect("origins");
        assert_eq!(policy.api_key_origins(), ["https://shop.example", "http://127.0.0.1:5173", "https://[::1]:8443"]);
        for bad in ["*", "shop.example", "https://shop.example/", "https://shop.example/path", "ftp://x", "https://:1"]
        {
            let error = CorsPolicy::parse(&format!("https://ok.example,{bad}")).expect_err(bad);
            assert_eq!(error, CorsError::NotAnOrigin { position: 2, entry: bad.to_string() });
            assert!(error.to_string().contains(ALLOWED_ORIGINS_VAR), "{error}");
        }
    }

    #[test]
    fn authorization_is_allowed_only_when_origins_are_listed() {
        assert_eq!(CorsPolicy::servers_only().allow_headers(), ["content-type", "x-sdk-version"]);
        let listed = CorsPolicy::parse("https://shop.example").expect("origin");
        assert_eq!(listed.allow_headers(), ["content-type", "x-sdk-version", "authorization"]);
        let preflight = listed.preflight();
        assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
        let header = |name: &str| preflight.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
        assert_eq!(header("access-control-allow-methods").as_deref(), Some("GET,POST,PUT,DELETE"));
        assert_eq!(header("access-control-allow-headers").as_deref(), Some("content-type,x-sdk-version,authorization"));
        assert_eq!(header("access-control-max-age").as_deref(), Some("600"));
        assert!(header("access-control-allow-credentials").is_none());
    }

    #[test]
    fn a_preflight_is_an_options_request_with_an_origin_and_a_method() {
        let preflight = [("origin", "https://a.example"), ("access-control-request-method", "PUT")];
        assert!(CorsPolicy::is_preflight(&request(Method::OPTIONS, &preflight)));
        assert!(!CorsPolicy::is_preflight(&request(Method::OPTIONS, &preflight[..1])));
        assert!(!CorsPolicy::is_preflight(&request(Method::PUT, &preflight)));
    }

    #[test]
    fn api_keys_from_browsers_need_a_listed_origin() {
        let key = ("authorization", "Bearer 6f1c1f2e-2a8c-4c55-9d2e-3c1f3e0a9b7d");
        let servers_only = CorsPolicy::servers_only();
        let listed = CorsPolicy::parse("https://shop.example").expect("origin");
        // Servers send no Origin; browsers without a key are not concerned.
        for policy in [&servers_only, &listed] {
            assert!(policy.check_api_key_origin(&request(Method::POST, &[key])).is_ok());
            assert!(policy.check_api_key_origin(&request(Method::POST, &[("origin", "https://evil.example")])).is_ok());
        }
        let from = |origin| request(Method::POST, &[key, ("origin", origin)]);
        let refused = servers_only.check_api_key_origin(&from("https://shop.example")).expect_err("no list");
        assert_eq!((refused.code, refused.status()), (ErrorCode::OriginNotAllowed, StatusCode::FORBIDDEN));
        assert!(listed.check_api_key_origin(&from("https://shop.example")).is_ok());
        assert!(listed.check_api_key_origin(&from("https://SHOP.example")).is_ok());
        assert!(listed.check_api_key_origin(&from("https://evil.example")).is_err());
        assert!(listed.check_api_key_origin(&from("null")).is_err());
    }

    #[test]
    fn cross_origin_responses_get_the_headers_and_others_do_not() {
        let mut response = Response::new(Body::Empty);
        CorsPolicy::add_response_headers(request(Method::GET, &[]).headers(), &mut response);
        assert!(response.headers().is_empty());
        CorsPolicy::add_response_headers(
            request(Method::GET, &[("origin", "https://a.example")]).headers(),
            &mut response,
        );
        assert_eq!(response.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]));
        assert_eq!(
            response.headers().get("access-control-expose-headers").map(|v| v.as_bytes()),
            Some(&b"request-id"[..])
        );
    }
}
