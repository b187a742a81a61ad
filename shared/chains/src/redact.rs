//! Keeping RPC URLs out of errors and logs: node URLs often carry a
//! provider API key, and HTTP clients quote the URL in their errors.

use std::fmt;

/// `text` with every `scheme://…` URL replaced by `<url>`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(after.len());
        out.push_str(&rest[..scheme_start]);
        out.push_str("<url>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

pub use ferry_runtime::error_chain;

/// [`error_chain`] with URLs redacted.
pub fn redacted_chain(error: &(dyn std::error::Error + 'static)) -> String {
    redact_urls(&error_chain(error))
}

/// An error from a node or HTTP client, kept only as its redacted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        Self(redacted_chain(error))
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Redacted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_replaced_wherever_they_stand() {
        let text = "error sending request for url (https://eth.example/v2/SECRET?key=1): connection refused";
        assert_eq!(redact_urls(text), "error sending request for url (<url>): connection refused");
        assert_eq!(redact_urls("http://127.0.0.1:8545/ and ws://x/y"), "<url> and <url>");
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
