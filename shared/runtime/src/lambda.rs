//! The failure a worker's invocation reports to Lambda.

/// A worker's invocation error, named for Lambda's `errorType`.
pub trait InvocationFailure: std::error::Error + 'static {
    /// The function, as `errorType`'s prefix (`PollChains`).
    const FUNCTION: &'static str;
    /// This failure's kind (`NothingScanned`).
    fn kind(&self) -> &'static str;
}

/// `errorType` `Function.Kind`, `errorMessage` the error with its causes.
pub fn diagnostic<E: InvocationFailure>(error: &E) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: format!("{}.{}", E::FUNCTION, error.kind()),
        error_message: crate::error_chain(error),
    }
}
