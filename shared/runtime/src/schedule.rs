//! The loop of a scheduled worker: one cycle every interval until the
//! invocation's deadline.

use std::time::{Duration, Instant};

use crate::Deadline;

/// Runs `cycle` at once and then once every `interval` (at once after a
/// cycle that took longer), as long as the next start falls before
/// `deadline`; returns how many cycles ran. Each cycle is told the time
/// left, to bound itself: the loop never cuts one short.
pub async fn run_until(deadline: Deadline, interval: Duration, mut cycle: impl AsyncFnMut(Duration)) -> u64 {
    let mut cycles = 0;
    loop {
        let started = Instant::now();
        let left = deadline.remaining();
        if left.is_zero() {
            return cycles;
        }
        cycle(left).await;
        cycles += 1;
        let next = started + interval;
        if next >= deadline.instant() {
            return cycles;
        }
        tokio::time::sleep_until(next.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cycles_start_every_interval_until_the_next_would_start_too_late() {
        let deadline = Deadline::after(Duration::from_millis(250));
        let mut lefts = Vec::new();
        let cycles = run_until(deadline, Duration::from_millis(100), async |left| lefts.push(left)).await;
        assert_eq!(cycles, 3, "at 0, 100 and 200 ms");
        assert_eq!(lefts.len(), 3);
        assert!(lefts.windows(2).all(|pair| pair[0] > pair[1]), "{lefts:?}");
        assert_eq!(run_until(Deadline::after(Duration::ZERO), Duration::from_secs(1), async |_| {}).await, 0);
    }

    #[tokio::test]
    async fn a_slow_cycle_is_followed_at_once() {
        let deadline = Deadline::after(Duration::from_millis(300));
        let started = Instant::now();
        let mut starts = Vec::new();
        run_until(deadline, Duration::from_millis(50), async |_| {
            starts.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(120)).await;
        })
        .await;
        assert!(starts.len() >= 2, "{starts:?}");
        let gap = starts[1] - starts[0];
        assert!(gap < Duration::from_millis(200), "no extra interval after a slow cycle: {gap:?}");
    }
}
