//! The OpenAPI 3.1 document, generated from the wire types. Served by the
//! `openapi` function at `GET /openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode, ErrorEnvelope, ErrorType};
use crate::wire::*;

/// Create a session: where the money must land, what the payer sees.
#[utoipa::path(
    post, path = "/v1/sessions", tag = "sessions",
    security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "At most 255 characters, scoped to the merchant, remembered for 24 hours: the same key with the same body replays the first response (with `Idempotent-Replayed: true`); with another body it is a 409 `idempotency_key_reused`.")),
    request_body = CreateSessionRequest,
    responses(
        (status = 201, description = "Created", body = SessionResponse),
        (status = 400, description = "`invalid_parameter`, `invalid_json`, `unsupported_chain`, `unsupported_token`", body = ErrorEnvelope),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
        (status = 409, description = "`idempotency_key_reused`", body = ErrorEnvelope),
        (status = 413, description = "`payload_too_large`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn create_session() {}

/// Retrieve a session: the full view with the owning merchant's API key,
/// the public view with the client secret or no credentials.
#[utoipa::path(
    get, path = "/v1/sessions/{sessionId}", tag = "sessions",
    security((), ("apiKey" = [])),
    params(
        ("sessionId" = String, Path, description = "32 lowercase hex characters"),
        ("clientSecret" = Option<String>, Query, description = "The session's client secret (optional)"),
    ),
    responses(
        (status = 200, description = "`SessionResponse` with an API key, `PublicSessionResponse` otherwise", body = SessionResponse),
        (status = 401, description = "`invalid_api_key`, `invalid_client_secret`", body = ErrorEnvelope),
        (status = 404, description = "`session_not_found` (also for another merchant's session)", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn get_session() {}

/// Choose how to pay. `evm` gives the session's deposit address, the same
/// on every supported EVM chain; asking again returns the same address.
#[utoipa::path(
    post, path = "/v1/sessions/{sessionId}/paymentMethods", tag = "sessions",
    params(("sessionId" = String, Path, description = "32 lowercase hex characters")),
    request_body = CreatePaymentMethodRequest,
    responses(
        (status = 200, description = "The payment method is set", body = PublicSessionResponse),
        (status = 400, description = "`invalid_parameter`, `invalid_json`, `unsupported_payment_method`", body = ErrorEnvelope),
        (status = 401, description = "`missing_client_secret`, `invalid_client_secret`", body = ErrorEnvelope),
        (status = 404, description = "`session_not_found`", body = ErrorEnvelope),
        (status = 409, description = "`session_expired`, `invalid_session_state`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn create_payment_method() {}

/// Ask Ferry to look at the session now, optionally pointing it at the
/// payer's transaction.
#[utoipa::path(
    put, path = "/v1/sessions/{sessionId}/check", tag = "sessions",
    params(("sessionId" = String, Path, description = "32 lowercase hex characters")),
    request_body = CheckSessionRequest,
    responses(
        (status = 200, description = "The session as it is now", body = PublicSessionResponse),
        (status = 400, description = "`invalid_parameter`, `invalid_json`", body = ErrorEnvelope),
        (status = 401, description = "`missing_client_secret`, `invalid_client_secret`", body = ErrorEnvelope),
        (status = 404, description = "`session_not_found`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn check_session() {}

/// The stablecoins the payer can pay the session with: every token of
/// every supported chain, the amount each would take, and — given the
/// payer's EVM wallet — its balance of each.
#[utoipa::path(
    get, path = "/v1/sessions/{sessionId}/tokenOptions", tag = "sessions",
    params(
        ("sessionId" = String, Path, description = "32 lowercase hex characters"),
        ("clientSecret" = String, Query, description = "The session's client secret"),
        ("evmAddress" = Option<String>, Query, description = "The payer's EVM wallet, `^0x[0-9a-fA-F]{40}$` (a mixed-case address must be EIP-55 checksummed). When given, each option carries the wallet's `balanceUnits` on the chains Ferry has a node for; a chain that cannot be read in time is listed without balances. Empty means absent.", pattern = "^0x[0-9a-fA-F]{40}$"),
        ("solanaAddress" = Option<String>, Query, description = "The payer's Solana wallet. Accepted for compatibility and ignored: Solana is not supported yet, so no Solana options are listed."),
    ),
    responses(
        (status = 200, description = "The options, in any session status", body = TokenOptionsResponse),
        (status = 400, description = "`invalid_parameter` (`param`: `evmAddress`)", body = ErrorEnvelope),
        (status = 401, description = "`missing_client_secret`, `invalid_client_secret`", body = ErrorEnvelope),
        (status = 404, description = "`session_not_found`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn token_options() {}

/// Register a webhook endpoint. The response carries the endpoint's
/// signing secret; it is never shown again. A merchant has at most 16
/// endpoints.
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks",
    security(("apiKey" = [])),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Created; `secret` is shown only here", body = CreatedWebhookResponse),
        (status = 400, description = "`invalid_parameter` (`param`: `url`, `events`, `events[i]` or `description`; a URL that is not https, has credentials or a fragment, or names a private, loopback, link-local, unique-local, multicast or reserved IP address is refused here), `invalid_json`", body = ErrorEnvelope),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
        (status = 409, description = "`too_many_webhooks`", body = ErrorEnvelope),
        (status = 413, description = "`payload_too_large`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn create_webhook() {}

/// List the merchant's webhook endpoints, oldest first, without secrets.
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    security(("apiKey" = [])),
    responses(
        (status = 200, description = "Every endpoint of the merchant", body = WebhookListResponse),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn list_webhooks() {}

/// Retrieve one webhook endpoint, without its secret.
#[utoipa::path(
    get, path = "/v1/webhooks/{webhookId}", tag = "webhooks",
    security(("apiKey" = [])),
    params(("webhookId" = String, Path, description = "`wh_` and 32 lowercase hex characters")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookResponse),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
        (status = 404, description = "`webhook_not_found` (also for another merchant's endpoint)", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn get_webhook() {}

/// Delete a webhook endpoint: nothing more is sent to it, and it no longer
/// counts towards the limit.
#[utoipa::path(
    delete, path = "/v1/webhooks/{webhookId}", tag = "webhooks",
    security(("apiKey" = [])),
    params(("webhookId" = String, Path, description = "`wh_` and 32 lowercase hex characters")),
    responses(
        (status = 200, description = "Deleted", body = DeletedWebhookResponse),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
        (status = 404, description = "`webhook_not_found` (also for another merchant's endpoint, or one already deleted)", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn delete_webhook() {}

/// Send a test event to a webhook endpoint, now.
///
/// One real delivery, signed like every other (`Ferry-Signature`), with
/// `"isTestEvent": true`. Its `data.session` is a sample session of the
/// merchant in the status the event type implies, with a fresh random
/// `sessionId` and placeholder destination and display values; it does not
/// exist and cannot be read.
/// The event is sent even if the endpoint does not subscribe to its type.
/// It is not stored, not retried and not listed under `/v1/events`; the
/// response waits for the endpoint's answer (at most 10 s) and reports it.
/// The deployment's rules for webhook URLs apply: an endpoint whose host
/// resolves to a private, loopback, link-local or metadata address is not
/// sent anything, and the delivery reports why.
#[utoipa::path(
    post, path = "/v1/webhooks/{webhookId}/test", tag = "webhooks",
    security(("apiKey" = [])),
    params(("webhookId" = String, Path, description = "`wh_` and 32 lowercase hex characters")),
    request_body = TestWebhookRequest,
    responses(
        (status = 200, description = "The test event as sent, and what its delivery got (`delivery.succeeded` is `false` when the endpoint did not answer with a 2xx in time; that is not an error of this request)", body = TestWebhookResponse),
        (status = 400, description = "`invalid_parameter` (`param`: `eventType`), `invalid_json`", body = ErrorEnvelope),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
        (status = 404, description = "`webhook_not_found` (also for another merchant's endpoint)", body = ErrorEnvelope),
        (status = 413, description = "`payload_too_large`", body = ErrorEnvelope),
    )
)]
#[allow(dead_code)]
fn test_webhook() {}

/// Retrieve an event and the log of its deliveries.
///
/// **An extension: beyond the API Ferry follows** (marked
/// `x-ferry-extension`); clients of that API do not expect it. Shows the
/// event as its deliveries carry it, each endpoint it was fanned out to, the
/// delivery's status and every attempt (when, the endpoint's status code or
/// why there was none, latency). Test events are not stored and cannot be
/// read here.
#[utoipa::path(
    get, path = "/v1/events/{eventId}", tag = "events",
    security(("apiKey" = [])),
    params(("eventId" = String, Path, description = "The event's `id`, a UUID, as its deliveries carry it")),
    responses(
        (status = 200, description = "The event and its deliveries", body = EventResponse),
        (status = 401, description = "`missing_api_key`, `invalid_api_key`", body = ErrorEnvelope),
        (status = 404, description = "`event_not_found` (also for another merchant's event, or an id that is not a UUID)", body = ErrorEnvelope),
    ),
    extensions(("x-ferry-extension" = json!(true))),
)]
#[allow(dead_code)]
fn get_event() {}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
#[allow(dead_code)]
fn openapi() {}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("UUID")
                    .description(Some("The merchant's API key: `Authorization: Bearer <key>`."))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ferry", description = "Self-hostable payment sessions."),
    paths(
        create_session, get_session, create_payment_method, check_session, token_options, openapi,
        create_webhook, list_webhooks, get_webhook, delete_webhook, test_webhook, get_event,
    ),
    components(schemas(ErrorEnvelope, ErrorBody, ErrorType, ErrorCode, SessionPublicInfo, SessionView)),
    modifiers(&Security),
    tags(
        (name = "sessions", description = "Payment sessions"),
        (name = "webhooks", description = "Webhook endpoints: where Ferry POSTs session events, signed with `Ferry-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>` (reject timestamps more than 5 minutes old). A delivery succeeds on any 2xx within 10 s; failures are retried with exponential backoff (about 10 attempts over about a day), then parked for an operator's replay. Delivery is at least once; an event's `id` is the same on every attempt."),
        (name = "events", description = "Session events and their delivery logs. An extension beyond the API Ferry follows."),
        (name = "meta", description = "About the API"),
    ),
)]
struct ApiDoc;

/// How a deployment refuses for rate. API Gateway's HTTP APIs answer their
/// own throttling before Ferry runs, with a body they do not let anyone
/// change: clients must recognise a 429 by its status, not its body.
const RATE_LIMITS: &str = "\nRate limits: a deployment throttles requests at the HTTP API stage (and the \
     unknown-route fallback far lower). Over the limit, API Gateway answers `429` with its own body \
     `{\"message\":\"Too Many Requests\"}`, not the envelope above; retry after a backoff. Wherever Ferry itself \
     refuses for rate, it answers `429` with code `rate_limited` in the envelope.\n";

/// The document, with the table of error codes in its description.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    let mut description = String::from(
        "Self-hostable payment sessions. Every non-2xx response is \
         `{\"error\": {\"type\", \"code\", \"message\", \"param\"?}}` and carries a `request-id` header. \
         Browsers on any origin may call the client-secret routes (CORS, no credentials); a browser may send \
         an API key only from an origin the operator lists, otherwise it is a 403 `origin_not_allowed`.\n\n\
         | code | type | HTTP status |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        let kind = serde_json::to_value(code.error_type()).ok().and_then(|v| v.as_str().map(str::to_string));
        description.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            code.as_str(),
            kind.unwrap_or_default(),
            code.status().as_u16()
        ));
    }
    description.push_str(RATE_LIMITS);
    document.info.description = Some(description);
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Endpoint;

    #[test]
    fn the_document_lists_exactly_the_routed_endpoints() {
        let document = document();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ] {
                if operation.is_some() {
                    documented.push((method.to_string(), path.clone()));
                }
            }
        }
        let mut routed: Vec<(String, String)> =
            Endpoint::ALL.iter().map(|e| (e.method().to_string(), e.path().to_string())).collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
    }

    #[test]
    fn the_event_log_is_marked_as_beyond_the_api_ferry_follows() {
        let json = serde_json::to_value(document()).expect("serialize");
        let get_event = &json["paths"]["/v1/events/{eventId}"]["get"];
        assert_eq!(get_event["x-ferry-extension"], true, "{get_event}");
        let description = get_event["description"].as_str().unwrap_or_default();
        assert!(description.contains("beyond the API Ferry follows"), "{description}");
        let test_webhook = &json["paths"]["/v1/webhooks/{webhookId}/test"]["post"];
        assert!(test_webhook.get("x-ferry-extension").is_none(), "the test endpoint is part of the API");
        assert!(test_webhook["description"].as_str().is_some_and(|d| d.contains("does not subscribe")));
    }

    #[test]
    fn refunds_are_an_optional_addition_to_the_merchant_view_only() {
        let json = serde_json::to_value(document()).expect("serialize");
        let schemas = &json["components"]["schemas"];
        let view = &schemas["SessionView"];
        let own = &view["allOf"][1];
        let refunds = &own["properties"]["refunds"];
        let description = refunds["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("Beyond the API Ferry follows"), "{view:#}");
        assert_eq!(own["required"], serde_json::json!(["clientSecret"]), "refunds may be absent");
        assert!(schemas["SessionPublicInfo"]["properties"].get("refunds").is_none());
        let reasons = &schemas["RefundReasonView"]["enum"];
        assert_eq!(*reasons, serde_json::json!(["expired", "already_paid", "underpaid", "overpaid", "call_reverted"]));
    }

    #[test]
    fn the_fields_the_published_client_sends_are_documented() {
        let json = serde_json::to_value(document()).expect("serialize");
        let schemas = &json["components"]["schemas"];
        let locale = &schemas["CreatePaymentMethodRequest"]["properties"]["locale"];
        assert_eq!(locale["maxLength"], 35, "{locale:#}");
        assert!(locale["pattern"].is_string(), "{locale:#}");
        assert_eq!(schemas["ThemeModeView"]["enum"], serde_json::json!(["system", "light", "dark"]));
        for display in ["DisplayRequest", "DisplayView"] {
            let theme_mode = &schemas[display]["properties"]["themeMode"];
            assert!(theme_mode.to_string().contains("ThemeModeView"), "{display}: {theme_mode:#}");
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_names_every_error_code() {
        let json = serde_json::to_value(document()).expect("serialize");
        assert!(json["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", json["openapi"]);
        let description = json["info"]["description"].as_str().expect("description");
        for code in ErrorCode::ALL {
            assert!(description.contains(&format!("`{}`", code.as_str())), "{code:?} undocumented");
        }
        assert!(description.contains("`429` with its own body"), "{description}");
        let codes = &json["components"]["schemas"]["ErrorCode"]["enum"];
        assert_eq!(codes.as_array().map(Vec::len), Some(ErrorCode::ALL.len()));
    }
}
