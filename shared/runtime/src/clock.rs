//! The time and fresh ids, as values handed to whoever needs them: the
//! system's clock and CSPRNG in production, fixed or sequenced in tests, so
//! that a handler test can say what time it is.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_domain::Timestamp;

/// Where the current time comes from. Cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system's clock, in whole seconds (what the store records).
    pub fn system() -> Self {
        Self(Arc::new(|| {
            let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0);
            Timestamp::from_unix_seconds(seconds)
        }))
    }

    /// Always `at`.
    pub fn fixed(at: Timestamp) -> Self {
        Self(Arc::new(move || at))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock(now: {})", self.now())
    }
}

/// Where fresh 16-byte values (ids, secrets) come from. Cheap to clone.
#[derive(Clone)]
pub struct Ids(Arc<dyn Fn() -> [u8; 16] + Send + Sync>);

impl Ids {
    /// The operating system's CSPRNG: what ids and secrets need.
    pub fn random() -> Self {
        Self(Arc::new(rand::random))
    }

    /// Distinct, predictable values for tests: `seed`'s bytes, then a
    /// counter (never a secret: tests only).
    pub fn sequence(seed: u64) -> Self {
        let next = Arc::new(AtomicU64::new(0));
        Self(Arc::new(move || {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&seed.to_be_bytes());
            bytes[8..].copy_from_slice(&next.fetch_add(1, Ordering::SeqCst).to_be_bytes());
            bytes
        }))
    }

    pub fn next(&self) -> [u8; 16] {
        (self.0)()
    }
}

impl Default for Ids {
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ids")
    }
}

/// What a handler or worker takes from its surroundings: the time and
/// fresh ids. The system's by default; tests fix them.
#[derive(Clone, Debug, Default)]
pub struct Ambient {
    pub clock: Clock,
    pub ids: Ids,
}

impl Ambient {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// 16 fresh bytes, for an id or a secret.
    pub fn fresh(&self) -> [u8; 16] {
        self.ids.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stays_and_the_system_one_reads_the_time() {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        assert_eq!(Clock::fixed(at).now(), at);
        assert!(Clock::system().now().unix_seconds() > 1_700_000_000);
    }

    #[test]
    fn sequenced_ids_are_distinct_and_repeatable_and_random_ones_differ() {
        let (a, b) = (Ids::sequence(7), Ids::sequence(7));
        let first: Vec<[u8; 16]> = (0..3).map(|_| a.next()).collect();
        assert_eq!(first, (0..3).map(|_| b.next()).collect::<Vec<_>>());
        assert_ne!(first[0], first[1]);
        let random = Ids::random();
        assert_ne!(random.next(), random.next());
    }
}
