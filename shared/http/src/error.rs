//! The one place where failures become HTTP responses: every non-2xx body
//! is `{"error": {"type", "code", "message", "param"?}}`.

use ferry_domain::{IllegalTransition, SessionError};
use ferry_store::{BoxError, CreateSessionError, RetryError, StoreError};
use http::StatusCode;
use serde::Serialize;

/// The error categories of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    AuthenticationError,
    ValidationError,
    InvalidRequestError,
    ApiError,
}

/// Every error code Ferry answers with, its type and HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A body field, query or path parameter or header is invalid; `param` names it.
    InvalidParameter,
    /// The body is not valid JSON.
    InvalidJson,
    /// The body is larger than 64 KiB.
    PayloadTooLarge,
    /// No `Authorization: Bearer <API key>` header.
    MissingApiKey,
    /// The API key is malformed, unknown or revoked.
    InvalidApiKey,
    /// No client secret was sent.
    MissingClientSecret,
    /// The client secret is malformed or not this session's.
    InvalidClientSecret,
    /// An API key sent by a browser from an origin the operator did not list
    /// (`CorsAllowedOrigins`); API keys belong on servers.
    OriginNotAllowed,
    /// No such session (or it belongs to another merchant).
    SessionNotFound,
    /// The session expired before the request.
    SessionExpired,
    /// The session's status does not allow the request.
    InvalidSessionState,
    /// The chain is not one Ferry supports.
    UnsupportedChain,
    /// The token is not one Ferry supports on that chain.
    UnsupportedToken,
    /// The payment method is not available on this deployment.
    UnsupportedPaymentMethod,
    /// The `Idempotency-Key` was used with a different request body.
    IdempotencyKeyReused,
    /// No such webhook endpoint (or it belongs to another merchant).
    WebhookNotFound,
    /// The merchant already has the maximum number of webhook endpoints (16); delete one first.
    TooManyWebhooks,
    /// No such event (or it belongs to another merchant).
    EventNotFound,
    /// Too many requests (answered by the API gateway's throttling).
    RateLimited,
    /// No endpoint at this path.
    RouteNotFound,
    /// The endpoint exists but not for this HTTP method.
    MethodNotAllowed,
    /// Something failed inside Ferry; the `request-id` header identifies it in the logs.
    InternalError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 22] = [
        Self::InvalidParameter,
        Self::InvalidJson,
        Self::PayloadTooLarge,
        Self::MissingApiKey,
        Self::InvalidApiKey,
        Self::MissingClientSecret,
        Self::InvalidClientSecret,
        Self::OriginNotAllowed,
        Self::SessionNotFound,
        Self::SessionExpired,
        Self::InvalidSessionState,
        Self::UnsupportedChain,
        Self::UnsupportedToken,
        Self::UnsupportedPaymentMethod,
        Self::IdempotencyKeyReused,
        Self::WebhookNotFound,
        Self::TooManyWebhooks,
        Self::EventNotFound,
        Self::RateLimited,
        Self::RouteNotFound,
        Self::MethodNotAllowed,
        Self::InternalError,
    ];

    pub const fn error_type(self) -> ErrorType {
        use ErrorCode as C;
        match self {
            C::InvalidParameter | C::InvalidJson | C::PayloadTooLarge => ErrorType::ValidationError,
            C::MissingApiKey
            | C::InvalidApiKey
            | C::MissingClientSecret
            | C::InvalidClientSecret
            | C::OriginNotAllowed => ErrorType::AuthenticationError,
            C::SessionNotFound
            | C::SessionExpired
            | C::InvalidSessionState
            | C::UnsupportedChain
            | C::UnsupportedToken
            | C::UnsupportedPaymentMethod
            | C::IdempotencyKeyReused
            | C::WebhookNotFound
            | C::TooManyWebhooks
            | C::EventNotFound
            | C::RateLimited
            | C::RouteNotFound
            | C::MethodNotAllowed => ErrorType::InvalidRequestError,
            C::InternalError => ErrorType::ApiError,
        }
    }

    pub const fn status(self) -> StatusCode {
        use ErrorCode as C;
        match self {
            C::InvalidParameter | C::InvalidJson => StatusCode::BAD_REQUEST,
            C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            C::MissingApiKey | C::InvalidApiKey | C::MissingClientSecret | C::InvalidClientSecret => {
                StatusCode::UNAUTHORIZED
            }
            C::OriginNotAllowed => StatusCode::FORBIDDEN,
            C::SessionNotFound | C::WebhookNotFound | C::EventNotFound | C::RouteNotFound => StatusCode::NOT_FOUND,
            C::SessionExpired | C::InvalidSessionState | C::IdempotencyKeyReused | C::TooManyWebhooks => {
                StatusCode::CONFLICT
            }
            C::UnsupportedChain | C::UnsupportedToken | C::UnsupportedPaymentMethod => StatusCode::BAD_REQUEST,
            C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            C::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode as C;
        match self {
            C::InvalidParameter => "invalid_parameter",
            C::InvalidJson => "invalid_json",
            C::PayloadTooLarge => "payload_too_large",
            C::MissingApiKey => "missing_api_key",
            C::InvalidApiKey => "invalid_api_key",
            C::MissingClientSecret => "missing_client_secret",
            C::InvalidClientSecret => "invalid_client_secret",
            C::OriginNotAllowed => "origin_not_allowed",
            C::SessionNotFound => "session_not_found",
            C::SessionExpired => "session_expired",
            C::InvalidSessionState => "invalid_session_state",
            C::UnsupportedChain => "unsupported_chain",
            C::UnsupportedToken => "unsupported_token",
            C::UnsupportedPaymentMethod => "unsupported_payment_method",
            C::IdempotencyKeyReused => "idempotency_key_reused",
            C::WebhookNotFound => "webhook_not_found",
            C::TooManyWebhooks => "too_many_webhooks",
            C::EventNotFound => "event_not_found",
            C::RateLimited => "rate_limited",
            C::RouteNotFound => "route_not_found",
            C::MethodNotAllowed => "method_not_allowed",
            C::InternalError => "internal_error",
        }
    }
}

/// A failed request: what the caller is told, and for internal failures
/// the source to log (never shown to the caller).
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub param: Option<String>,
    /// Allowed methods, for 405 responses.
    pub allow: Option<String>,
    source: Option<BoxError>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), param: None, allow: None, source: None }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400 `invalid_parameter` naming the field.
    pub fn invalid(param: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let param = param.into();
        Self::new(ErrorCode::InvalidParameter, format!("{param} {message}")).with_param(param)
    }

    pub fn session_not_found() -> Self {
        Self::new(ErrorCode::SessionNotFound, "No such session.")
    }

    pub fn webhook_not_found() -> Self {
        Self::new(ErrorCode::WebhookNotFound, "No such webhook endpoint.")
    }

    pub fn event_not_found() -> Self {
        Self::new(ErrorCode::EventNotFound, "No such event.")
    }

    /// An unexpected failure: logged with its whole source chain, answered
    /// with an opaque 500.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        let mut error = Self::new(ErrorCode::InternalError, "Something went wrong on our side. Please retry later.");
        error.source = Some(source.into());
        error
    }

    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The response body.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ErrorBody {
                r#type: self.code.error_type(),
                code: self.code,
                message: self.message.clone(),
                param: self.param.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// `{"error": {...}}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub r#type: ErrorType,
    pub code: ErrorCode,
    /// Human-readable; may change between versions.
    pub message: String,
    /// The offending field as a JSON path (`destination.chainId`), or the
    /// header or query parameter name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

/// A retried change: the attempt's own refusal as it was, a store failure
/// or a change that kept conflicting as an opaque 500 with its source.
impl<E: Into<ApiError>> From<RetryError<E>> for ApiError {
    fn from(error: RetryError<E>) -> Self {
        match error {
            RetryError::Refused(error) => error.into(),
            RetryError::Store(error) => error.into(),
            RetryError::Exhausted { attempts, last } => {
                Self::internal(RetryError::<std::convert::Infallible>::Exhausted { attempts, last })
            }
        }
    }
}

impl From<CreateSessionError> for ApiError {
    fn from(error: CreateSessionError) -> Self {
        Self::internal(error)
    }
}

impl From<IllegalTransition> for ApiError {
    fn from(error: IllegalTransition) -> Self {
        Self::new(ErrorCode::InvalidSessionState, format!("{}.", capitalize(&error.to_string())))
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Expired { .. } => Self::new(ErrorCode::SessionExpired, "The session has expired."),
            SessionError::IllegalTransition(illegal) => illegal.into(),
        }
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_snake_case_name_matching_its_serde_form() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code:?} twice");
            assert_eq!(serde_json::to_value(code).expect("serialize"), code.as_str());
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::internal("database password is hunter2");
        let body = serde_json::to_string(&error.envelope()).expect("serialize");
        assert!(!body.contains("hunter2"));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn envelopes_name_the_param_when_there_is_one() {
        let body = serde_json::to_value(ApiError::invalid("destination.chainId", "must be a number").envelope())
            .expect("serialize");
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "type": "validation_error",
                "code": "invalid_parameter",
                "message": "destination.chainId must be a number",
                "param": "destination.chainId"
            }})
        );
    }
}
