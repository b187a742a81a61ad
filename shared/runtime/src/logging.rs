//! Logging, set up once per process with one redaction policy.

use tracing_subscriber::EnvFilter;

/// Log targets that can print a request's URL — and with it an RPC
/// provider's API key — capped at `warn` whatever `RUST_LOG` says: alloy's
/// HTTP transport names its URL in its debug spans, its retry layer traces
/// each failure it retries with its full text, and reqwest's and hyper's
/// connection logs name the host.
pub const URL_QUOTING_TARGETS: [&str; 6] =
    ["alloy_transport_http", "alloy_transport", "alloy_rpc_client", "reqwest", "hyper_util", "hyper"];

/// Sets up logging once per process (later calls do nothing): JSON when
/// Lambda's log format is JSON (as `template.yaml` configures it), compact
/// text otherwise; `RUST_LOG` filters, `default_filter` when it is unset;
/// [`URL_QUOTING_TARGETS`] never below `warn`.
pub fn init(default_filter: &str) {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter(default_filter)).with_target(false);
    let _already_set =
        if json { builder.json().flatten_event(true).without_time().try_init() } else { builder.compact().try_init() };
}

/// `RUST_LOG` (or `default_filter`) with the URL-quoting targets capped.
pub fn filter(default_filter: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    for target in URL_QUOTING_TARGETS {
        if let Ok(directive) = format!("{target}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_quoting_targets_are_capped_at_warn_even_when_debug_is_asked_for() {
        let text = filter("debug").to_string();
        for target in URL_QUOTING_TARGETS {
            assert!(text.contains(&format!("{target}=warn")), "{text}");
        }
    }
}
