//! Errors as one line, with their causes.

/// Any error, sendable across tasks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `error: its source: the source's source…`, for one log line or an
/// invocation's error message.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the store failed")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn every_cause_is_on_the_line() {
        let error = Wrapped(std::io::Error::other("connection refused"));
        assert_eq!(error_chain(&error), "the store failed: connection refused");
    }
}
