//! The route table: every endpoint, its method and path template, and the
//! Lambda function that serves it. The local runner dispatches with it, the
//! fallback function answers 404/405 with it, and tests check that the
//! OpenAPI document and `template.yaml` agree with it.

use std::collections::HashMap;

use http::Method;

use crate::{ApiError, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    CreateSession,
    GetSession,
    CreatePaymentMethod,
    CheckSession,
    TokenOptions,
    OpenApi,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    DeleteWebhook,
    TestWebhook,
    GetEvent,
}

impl Endpoint {
    pub const ALL: [Endpoint; 12] = [
        Self::CreateSession,
        Self::GetSession,
        Self::CreatePaymentMethod,
        Self::CheckSession,
        Self::TokenOptions,
        Self::OpenApi,
        Self::CreateWebhook,
        Self::ListWebhooks,
        Self::GetWebhook,
        Self::DeleteWebhook,
        Self::TestWebhook,
        Self::GetEvent,
    ];

    pub fn method(self) -> Method {
        match self {
            Self::CreateSession | Self::CreatePaymentMethod | Self::CreateWebhook | Self::TestWebhook => Method::POST,
            Self::GetSession
            | Self::TokenOptions
            | Self::OpenApi
            | Self::ListWebhooks
            | Self::GetWebhook
            | Self::GetEvent => Method::GET,
            Self::CheckSession => Method::PUT,
            Self::DeleteWebhook => Method::DELETE,
        }
    }

    /// The path template, in API Gateway's `{param}` syntax.
    pub const fn path(self) -> &'static str {
        match self {
            Self::CreateSession => "/v1/sessions",
            Self::GetSession => "/v1/sessions/{sessionId}",
            Self::CreatePaymentMethod => "/v1/sessions/{sessionId}/paymentMethods",
            Self::CheckSession => "/v1/sessions/{sessionId}/check",
            Self::TokenOptions => "/v1/sessions/{sessionId}/tokenOptions",
            Self::OpenApi => "/openapi.json",
            Self::CreateWebhook | Self::ListWebhooks => "/v1/webhooks",
            Self::GetWebhook | Self::DeleteWebhook => "/v1/webhooks/{webhookId}",
            Self::TestWebhook => "/v1/webhooks/{webhookId}/test",
            Self::GetEvent => "/v1/events/{eventId}",
        }
    }

    /// The Lambda function (crate and binary) that serves the endpoint.
    pub const fn function(self) -> &'static str {
        match self {
            Self::CreateSession => "create-session",
            Self::GetSession => "get-session",
            Self::CreatePaymentMethod => "create-payment-method",
            Self::CheckSession => "check-session",
            Self::TokenOptions => "token-options",
            Self::OpenApi => "openapi",
            Self::CreateWebhook => "create-webhook",
            Self::ListWebhooks => "list-webhooks",
            Self::GetWebhook => "get-webhook",
            Self::DeleteWebhook => "delete-webhook",
            Self::TestWebhook => "test-webhook",
            Self::GetEvent => "get-event",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    Found { endpoint: Endpoint, params: HashMap<String, String> },
    MethodNotAllowed { allowed: Vec<Method> },
    NotFound,
}

fn match_template(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut template_segments = template.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return Some(params),
            (Some(t), Some(p)) => match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !p.is_empty() => {
                    params.insert(name.to_string(), p.to_string());
                }
                Some(_) => return None,
                None if t == p => {}
                None => return None,
            },
            _ => return None,
        }
    }
}

/// Finds the endpoint for a request.
pub fn route(method: &Method, path: &str) -> RouteMatch {
    let mut allowed = Vec::new();
    for endpoint in Endpoint::ALL {
        if let Some(params) = match_template(endpoint.path(), path) {
            if endpoint.method() == method {
                return RouteMatch::Found { endpoint, params };
            }
            allowed.push(endpoint.method());
        }
    }
    if allowed.is_empty() { RouteMatch::NotFound } else { RouteMatch::MethodNotAllowed { allowed } }
}

/// The JSON 404 or 405 for a request no endpoint serves.
pub fn unrouted(method: &Method, path: &str) -> ApiError {
    match route(method, path) {
        RouteMatch::MethodNotAllowed { allowed } => {
            let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let mut error =
                ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed here; use {allow}."));
            error.allow = Some(allow);
            error
        }
        RouteMatch::NotFound | RouteMatch::Found { .. } => {
            ApiError::new(ErrorCode::RouteNotFound, format!("No endpoint at {method} {path}."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fill_in_path_parameters() {
        let RouteMatch::Found { endpoint, params } = route(&Method::POST, "/v1/sessions/abc/paymentMethods") else {
            panic!("no match");
        };
        assert_eq!(endpoint, Endpoint::CreatePaymentMethod);
        assert_eq!(params.get("sessionId").map(String::as_str), Some("abc"));
    }

    #[test]
    fn token_options_is_its_own_endpoint_under_the_session() {
        let RouteMatch::Found { endpoint, params } = route(&Method::GET, "/v1/sessions/abc/tokenOptions") else {
            panic!("no match");
        };
        assert_eq!(endpoint, Endpoint::TokenOptions);
        assert_eq!(params.get("sessionId").map(String::as_str), Some("abc"));
        assert_eq!(
            route(&Method::POST, "/v1/sessions/abc/tokenOptions"),
            RouteMatch::MethodNotAllowed { allowed: vec![Method::GET] }
        );
    }

    #[test]
    fn a_known_path_with_the_wrong_method_is_405_and_says_what_is_allowed() {
        assert_eq!(
            route(&Method::DELETE, "/v1/sessions/abc"),
            RouteMatch::MethodNotAllowed { allowed: vec![Method::GET] }
        );
        let error = unrouted(&Method::DELETE, "/v1/sessions/abc");
        assert_eq!((error.code, error.allow.as_deref()), (ErrorCode::MethodNotAllowed, Some("GET")));
    }

    #[test]
    fn webhooks_share_two_paths_by_method() {
        let found = |method: Method, path: &str| match route(&method, path) {
            RouteMatch::Found { endpoint, params } => (endpoint, params.get("webhookId").cloned()),
            other => panic!("{method} {path}: {other:?}"),
        };
        assert_eq!(found(Method::POST, "/v1/webhooks"), (Endpoint::CreateWebhook, None));
        assert_eq!(found(Method::GET, "/v1/webhooks"), (Endpoint::ListWebhooks, None));
        assert_eq!(found(Method::GET, "/v1/webhooks/wh_1"), (Endpoint::GetWebhook, Some("wh_1".into())));
        assert_eq!(found(Method::DELETE, "/v1/webhooks/wh_1"), (Endpoint::DeleteWebhook, Some("wh_1".into())));
        assert_eq!(
            route(&Method::PUT, "/v1/webhooks/wh_1"),
            RouteMatch::MethodNotAllowed { allowed: vec![Method::GET, Method::DELETE] }
        );
        assert_eq!(found(Method::POST, "/v1/webhooks/wh_1/test"), (Endpoint::TestWebhook, Some("wh_1".into())));
        assert_eq!(
            route(&Method::GET, "/v1/webhooks/wh_1/test"),
            RouteMatch::MethodNotAllowed { allowed: vec![Method::POST] }
        );
        assert_eq!(route(&Method::POST, "/v1/webhooks/wh_1/test/again"), RouteMatch::NotFound);
    }

    #[test]
    fn events_are_read_by_id() {
        let RouteMatch::Found { endpoint, params } = route(&Method::GET, "/v1/events/abc") else {
            panic!("no match");
        };
        assert_eq!(endpoint, Endpoint::GetEvent);
        assert_eq!(params.get("eventId").map(String::as_str), Some("abc"));
        assert_eq!(route(&Method::GET, "/v1/events"), RouteMatch::NotFound);
        assert_eq!(
            route(&Method::DELETE, "/v1/events/abc"),
            RouteMatch::MethodNotAllowed { allowed: vec![Method::GET] }
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in ["/", "/v1", "/v1/sessions/", "/v1/sessions//check", "/v2/sessions", "/v1/sessions/a/b/c"] {
            assert_eq!(route(&Method::GET, path), RouteMatch::NotFound, "{path}");
        }
        assert_eq!(unrouted(&Method::GET, "/nope").code, ErrorCode::RouteNotFound);
    }
}
