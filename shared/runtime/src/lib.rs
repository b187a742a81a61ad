//! What every Ferry process needs around its work, whatever serves it
//! (Lambda, `ferry serve`, a test): logging with one redaction policy, the
//! clock and fresh ids as values that tests can fix, an invocation's
//! deadline, the loop of a scheduled worker, metrics as CloudWatch Embedded
//! Metric Format lines, and errors as one line.
//!
//! No AWS or HTTP-framework dependency: the `lambda` feature adds only the
//! mapping of a worker's error to the failure Lambda reports.

pub mod clock;
pub mod deadline;
pub mod errors;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod schedule;

pub use clock::{Ambient, Clock, Ids};
pub use deadline::Deadline;
pub use errors::{BoxError, error_chain};
pub use schedule::run_until;
