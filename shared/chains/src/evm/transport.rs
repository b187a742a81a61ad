//! How Ferry's workers talk to a node: one HTTP client with a timeout per
//! request, and transient failures retried inside the call.
//!
//! Public RPC providers fail in passing all the time: a 503 or 429 under
//! load, a gateway timeout, a connection reset, an answer cut off mid-JSON.
//! A worker that let each of those fail its whole attempt would put a
//! deposit back in the queue for every blip of its node; so the transport
//! retries what a second try can fix ([`TransientFailures`]) a few times with
//! a short pause, and only what persists reaches the caller. What a retry
//! cannot fix — a JSON-RPC error the node meant (a revert, a bad nonce) — is
//! never retried here.
//!
//! Retrying is safe for every call Ferry makes: reads are idempotent, and
//! `eth_sendRawTransaction` sends the same signed bytes again (a node that
//! got the first answers "already known" or "nonce too low", and the
//! router then finds the movement on chain by its id).
//!
//! Interactive paths (a payer's `txHash` hint, wallet balances) connect
//! without retries ([`RpcOptions::one_try`]): they have a budget of their own.

use std::time::Duration;

use alloy::rpc::client::{ClientBuilder, RpcClient};
use alloy::transports::http::Http;
use alloy::transports::layers::{RateLimitRetryPolicy, RetryBackoffLayer, RetryPolicy};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};
use ferry_domain::ChainId;

use super::client::{ChainError, DEFAULT_HTTP_TIMEOUT, http_client};

/// The failures a second try may fix: HTTP 429 and 5xx, connections that
/// failed or timed out, answers that are not (whole) JSON, missing batch
/// answers, and the JSON-RPC errors providers use for rate limits.
#[derive(Clone, Copy, Debug, Default)]
pub struct TransientFailures;

impl RetryPolicy for TransientFailures {
    fn should_retry(&self, error: &TransportError) -> bool {
        match error {
            RpcError::Transport(kind) => match kind {
                TransportErrorKind::HttpError(http) => http.status == 429 || (500..600).contains(&http.status),
                // reqwest's own failures: refused, reset, timed out.
                TransportErrorKind::Custom(_) | TransportErrorKind::MissingBatchResponse(_) => true,
                _ => RateLimitRetryPolicy::default().should_retry(error),
            },
            // A body cut short or not JSON at all.
            RpcError::DeserError { .. } | RpcError::NullResp => true,
            _ => RateLimitRetryPolicy::default().should_retry(error),
        }
    }

    fn backoff_hint(&self, error: &TransportError) -> Option<Duration> {
        RateLimitRetryPolicy::default().backoff_hint(error)
    }
}

/// How a connection to a node behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcOptions {
    /// How long one HTTP request may take, connecting included.
    pub timeout: Duration,
    /// Retries of a transient failure inside one call (0: one try).
    pub retries: u32,
    /// The pause before each retry.
    pub backoff: Duration,
}

impl RpcOptions {
    /// The workers': 10 s per request, up to 8 retries 250 ms apart.
    pub const WORKER: Self = Self { timeout: DEFAULT_HTTP_TIMEOUT, retries: 8, backoff: Duration::from_millis(250) };

    /// One try of at most `timeout` per call: for paths with a budget.
    pub const fn one_try(timeout: Duration) -> Self {
        Self { timeout, retries: 0, backoff: Duration::ZERO }
    }
}

/// An RPC client for the node at `url` behaving as `options` say.
pub fn rpc_client(chain_id: ChainId, url: &str, options: RpcOptions) -> Result<RpcClient, ChainError> {
    let url = url.parse().map_err(|e| ChainError::InvalidUrl { chain: chain_id, source: Box::new(e) })?;
    let transport = Http::with_client(http_client(chain_id, options.timeout)?, url);
    let is_local = transport.guess_local();
    let builder = ClientBuilder::default();
    Ok(if options.retries == 0 {
        builder.transport(transport, is_local)
    } else {
        let backoff_ms = u64::try_from(options.backoff.as_millis()).unwrap_or(u64::MAX);
        // No compute-unit budget: every pause is `backoff` (or the provider's hint).
        let layer = RetryBackoffLayer::new_with_policy(options.retries, backoff_ms, u64::MAX, TransientFailures);
        builder.layer(layer).transport(transport, is_local)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> TransportError {
        TransportErrorKind::http_error(status, String::new())
    }

    #[test]
    fn server_errors_rate_limits_and_broken_answers_are_retried() {
        let policy = TransientFailures;
        for status in [429, 500, 502, 503, 504] {
            assert!(policy.should_retry(&http(status)), "HTTP {status}");
        }
        assert!(policy.should_retry(&TransportErrorKind::custom_str("error sending request: connection reset")));
        let truncated = serde_json::from_str::<serde_json::Value>("{\"jsonrpc\":\"2.0\",\"res").expect_err("cut");
        assert!(policy.should_retry(&TransportError::deser_err(truncated, "{\"jsonrpc\":\"2.0\",\"res")));
        assert!(policy.should_retry(&RpcError::NullResp));
    }

    #[test]
    fn what_the_node_meant_is_not_retried() {
        let policy = TransientFailures;
        for status in [400, 401, 403, 404] {
            assert!(!policy.should_retry(&http(status)), "HTTP {status}");
        }
        let payload = serde_json::json!({ "code": 3, "message": "execution reverted" });
        let reverted: TransportError = RpcError::ErrorResp(serde_json::from_value(payload).expect("an error payload"));
        assert!(!policy.should_retry(&reverted));
    }
}
