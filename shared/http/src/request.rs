//! Reading requests: body size limit, JSON with the offending field named
//! as a JSON path, path and query parameters.

use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::{ApiError, ErrorCode};

/// Bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Refuses bodies over [`MAX_BODY_BYTES`].
pub fn check_body_size(body: &Body) -> Result<(), ApiError> {
    let size = body_bytes(body).len();
    if size > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The request body is {size} bytes; the limit is {MAX_BODY_BYTES}."),
        ));
    }
    Ok(())
}

/// Parses the body as a JSON object into `T`. Syntax errors are
/// `invalid_json`; a field of the wrong type, a missing one or an unknown one
/// is `invalid_parameter` with `param` set to its JSON path.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request.body());
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let message = if bytes.iter().all(u8::is_ascii_whitespace) {
            "The request body is empty; expected a JSON object.".to_string()
        } else {
            format!("The request body is not valid JSON: {e}.")
        };
        ApiError::new(ErrorCode::InvalidJson, message)
    })?;
    if !value.is_object() {
        return Err(ApiError::new(ErrorCode::InvalidJson, "The request body must be a JSON object."));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let (param, message) = refine(&path, &message);
        ApiError::invalid(param, message)
    })
}

/// serde reports a missing field (and sometimes an unknown one) at its
/// parent; name the field itself instead, and phrase the common failures
/// for people.
fn refine(path: &str, message: &str) -> (String, String) {
    let join = |field: &str| {
        if path == "." { field.to_string() } else { format!("{path}.{field}") }
    };
    let quoted = |rest: &str| rest.split('`').next().map(str::to_string);
    if let Some(field) = message.strip_prefix("missing field `").and_then(quoted) {
        return (join(&field), "is required".to_string());
    }
    if let Some(field) = message.strip_prefix("unknown field `").and_then(quoted) {
        // Usually the path already ends with the field; not inside an
        // internally tagged enum, whose fields serde buffers first.
        let param = if path.rsplit('.').next() == Some(field.as_str()) { path.to_string() } else { join(&field) };
        return (param, "is not a known field".to_string());
    }
    if let Some(variant) = message.strip_prefix("unknown variant `").and_then(quoted) {
        let expected = message.split_once(", expected ").map(|(_, e)| e).unwrap_or("a known value");
        return (path.to_string(), format!("has unknown value `{variant}`; expected {expected}"));
    }
    let param = if path == "." { "body".to_string() } else { path.to_string() };
    (param, format!("is invalid: {message}"))
}

pub fn path_param(request: &Request, name: &str) -> Option<String> {
    request.path_parameters_ref().and_then(|params| params.first(name)).map(str::to_string)
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request.query_string_parameters_ref().and_then(|params| params.first(name)).map(str::to_string)
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        destination: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        chain_id: u64,
        address: String,
    }

    fn parse(body: &str) -> ApiError {
        let request = http::Request::builder().body(Body::Text(body.to_string())).expect("request");
        json_body::<Outer>(&request).expect_err("should fail")
    }

    #[test]
    fn wrong_types_name_the_field_as_a_json_path() {
        let error = parse(r#"{"destination": {"chainId": "8453", "address": "0x"}}"#);
        assert_eq!(error.param.as_deref(), Some("destination.chainId"));
        assert_eq!(error.code, ErrorCode::InvalidParameter);
    }

    #[test]
    fn missing_fields_are_named() {
        let error = parse(r#"{"destination": {"chainId": 1}}"#);
        assert_eq!(error.param.as_deref(), Some("destination.address"));
        assert_eq!(error.message, "destination.address is required");
        assert_eq!(parse("{}").param.as_deref(), Some("destination"));
    }

    #[test]
    fn unknown_fields_are_named() {
        let error = parse(r#"{"destination": {"chainId": 1, "address": "0x", "colour": "red"}}"#);
        assert_eq!(error.param.as_deref(), Some("destination.colour"));
        assert_eq!(parse(r#"{"extra": 1}"#).param.as_deref(), Some("extra"));
    }

    #[test]
    fn malformed_json_is_its_own_code() {
        for body in ["", "{", "[1]", "null", "\"text\""] {
            assert_eq!(parse(body).code, ErrorCode::InvalidJson, "{body:?}");
        }
    }
}
