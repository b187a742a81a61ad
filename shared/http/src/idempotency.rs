//! The `Idempotency-Key` protocol of `POST /v1/sessions`: the key from its
//! header, the request's canonical hash, and replaying the first response
//! for a retry (or refusing the key for another body).
//!
//! A creating endpoint stores an [`IdempotencyRecord`] with its first
//! response in the same conditional write as what it creates; a retry with
//! the same key and body is answered from the record, marked with
//! [`IDEMPOTENT_REPLAYED`].

use ferry_domain::{IdempotencyKey, MerchantId, RequestHash, Timestamp};
use ferry_store::IdempotencyRecord;
use http::StatusCode;
use lambda_http::Request;

use crate::{ApiError, ErrorCode, HandlerResult};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_SECONDS: u64 = 24 * 3600;

/// The request's `Idempotency-Key`, if it has one.
pub fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = request.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid = |why: &dyn std::fmt::Display| ApiError::invalid("Idempotency-Key", why.to_string());
    let key = value.to_str().map_err(|_| invalid(&"must be printable ASCII"))?;
    IdempotencyKey::parse(key).map(Some).map_err(|e| invalid(&e))
}

/// The hash of a JSON body in canonical form (keys sorted, no whitespace),
/// so that the same request with its fields reordered is still the same.
pub fn request_hash(body: &[u8]) -> Result<RequestHash, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(ApiError::internal)?;
    let mut text = String::new();
    canonical(&value, &mut text);
    Ok(RequestHash::of_canonical(text.as_bytes()))
}

fn canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What to remember of a first response (`body`, already JSON) for
/// [`IDEMPOTENCY_TTL_SECONDS`].
pub fn record(
    merchant_id: MerchantId,
    key: IdempotencyKey,
    request_hash: RequestHash,
    status: StatusCode,
    body: String,
    now: Timestamp,
) -> IdempotencyRecord {
    IdempotencyRecord {
        merchant_id,
        key,
        request_hash,
        response_status: status.as_u16(),
        response_body: body,
        created_at: now,
        expires_at: now.plus_seconds(IDEMPOTENCY_TTL_SECONDS),
    }
}

/// The first response for this key again, if the body is the same.
pub fn replay(record: &IdempotencyRecord, request_hash: &RequestHash) -> HandlerResult {
    if record.request_hash != *request_hash {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was already used with a different request body.",
        )
        .with_param("Idempotency-Key"));
    }
    let status = StatusCode::from_u16(record.response_status).map_err(ApiError::internal)?;
    raw_json(status, record.response_body.clone(), true)
}

/// A JSON response whose body is already serialized; `replayed` marks it
/// as a replay.
pub fn raw_json(status: StatusCode, body: String, replayed: bool) -> HandlerResult {
    let mut response = http::Response::builder().status(status).header(http::header::CONTENT_TYPE, "application/json");
    if replayed {
        response = response.header(IDEMPOTENT_REPLAYED, "true");
    }
    response.body(crate::Body::Text(body)).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_key(key: &[u8]) -> Request {
        let value = http::HeaderValue::from_bytes(key).expect("header value");
        let mut request = Request::default();
        request.headers_mut().insert(IDEMPOTENCY_KEY, value);
        request
    }

    fn stored(hash: &RequestHash) -> IdempotencyRecord {
        let key = IdempotencyKey::parse("order-1").expect("key");
        let merchant = MerchantId::from_random_bytes([1; 16]);
        let now = Timestamp::from_unix_seconds(1_000);
        record(merchant, key, hash.clone(), StatusCode::CREATED, r#"{"session":{}}"#.into(), now)
    }

    #[test]
    fn a_missing_key_is_none_and_a_bad_one_names_the_header() {
        assert_eq!(idempotency_key(&Request::default()).expect("no key"), None);
        let key = idempotency_key(&request_with_key(b"order-1")).expect("key");
        assert_eq!(key.as_ref().map(IdempotencyKey::as_str), Some("order-1"));
        for bad in [&b""[..], &[b'k'; 256][..], "ключ".as_bytes()] {
            let error = idempotency_key(&request_with_key(bad)).expect_err("refused");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            assert_eq!(error.envelope().error.param.as_deref(), Some("Idempotency-Key"));
        }
    }

    #[test]
    fn the_hash_ignores_key_order_and_whitespace_but_not_values() {
        let a = request_hash(br#"{"b": [1, {"d": 2, "c": 3}], "a": "x"}"#).expect("hash");
        let b = request_hash(br#"{"a":"x","b":[1,{"c":3,"d":2}]}"#).expect("hash");
        let c = request_hash(br#"{"a":"y","b":[1,{"c":3,"d":2}]}"#).expect("hash");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, RequestHash::of_canonical(br#"{"a":"x","b":[1,{"c":3,"d":2}]}"#));
    }

    #[test]
    fn a_record_is_remembered_for_a_day() {
        let record = stored(&RequestHash::of_canonical(b"{}"));
        assert_eq!(record.expires_at, record.created_at.plus_seconds(IDEMPOTENCY_TTL_SECONDS));
        assert_eq!(record.response_status, 201);
    }

    #[test]
    fn the_same_body_replays_the_first_response_and_another_body_is_refused() {
        let hash = request_hash(br#"{"a":1}"#).expect("hash");
        let response = replay(&stored(&hash), &hash).expect("replayed");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[IDEMPOTENT_REPLAYED], "true");
        assert_eq!(response.body(), &crate::Body::Text(r#"{"session":{}}"#.into()));

        let other = request_hash(br#"{"a":2}"#).expect("hash");
        let refused = replay(&stored(&hash), &other).expect_err("refused");
        assert_eq!(refused.envelope().error.code, ErrorCode::IdempotencyKeyReused);
        assert_eq!(refused.envelope().error.param.as_deref(), Some("Idempotency-Key"));
    }
}
