//! Error handling: one boxed error type, a `context` helper, and the error
//! that carries a failed child's exit code up to `main`.

use std::error::Error;
use std::fmt;

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// An error with a human-readable description of what was being done.
#[derive(Debug)]
struct ContextError {
    message: String,
    source: Box<dyn Error>,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for ContextError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Adds a description of the failed operation to any error.
pub trait Context<T> {
    fn context(self, message: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, message: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Box<dyn Error>>> Context<T> for std::result::Result<T, E> {
    fn context(self, message: impl Into<String>) -> Result<T> {
        self.with_context(|| message)
    }

    fn with_context<S: Into<String>>(self, message: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| with_source(message(), source))
    }
}

/// Wraps `source` in an error that says what was being done.
pub fn with_source(message: impl Into<String>, source: impl Into<Box<dyn Error>>) -> Box<dyn Error> {
    Box::new(ContextError { message: message.into(), source: source.into() })
}

/// A child process ran but did not succeed; `main` exits with `code`.
#[derive(Debug)]
pub struct CommandFailed {
    pub command: String,
    pub code: i32,
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed with exit code {}", self.command, self.code)
    }
}

impl Error for CommandFailed {}

/// A bad command line; `main` exits with code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Usage {}

/// Prints the error and its causes to stderr; returns the process exit code.
pub fn report(error: &(dyn Error + 'static)) -> i32 {
    eprintln!("error: {error}");
    let mut code = exit_code(error);
    let mut cause = error.source();
    while let Some(inner) = cause {
        eprintln!("  caused by: {inner}");
        code = code.or_else(|| exit_code(inner));
        cause = inner.source();
    }
    code.unwrap_or(1)
}

fn exit_code(error: &(dyn Error + 'static)) -> Option<i32> {
    if let Some(failed) = error.downcast_ref::<CommandFailed>() {
        // A failure must never turn into exit code 0.
        return Some(if failed.code == 0 { 1 } else { failed.code });
    }
    error.downcast_ref::<Usage>().map(|_| 2)
}
