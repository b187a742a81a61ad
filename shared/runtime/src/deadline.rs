//! An invocation's deadline, less the margin kept to answer.

use std::time::{Duration, Instant, SystemTime};

/// When work must stop: the invocation's deadline (Lambda's context gives
/// it as wall-clock time) less a safety margin, on the monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// `deadline` (wall clock) less `margin`; already passed if `deadline`
    /// is.
    pub fn before(deadline: SystemTime, margin: Duration) -> Self {
        let left = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        Self(Instant::now() + left.saturating_sub(margin))
    }

    /// At `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    /// What is left (zero once passed).
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn passed(self) -> bool {
        Instant::now() >= self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_comes_off_and_a_past_deadline_has_nothing_left() {
        let deadline = Deadline::before(SystemTime::now() + Duration::from_secs(60), Duration::from_secs(5));
        let left = deadline.remaining();
        assert!(left <= Duration::from_secs(55) && left > Duration::from_secs(50), "{left:?}");
        assert!(!deadline.passed());
        let past = Deadline::before(SystemTime::now() - Duration::from_secs(1), Duration::from_secs(5));
        assert!(past.passed());
        assert_eq!(past.remaining(), Duration::ZERO);
    }
}
