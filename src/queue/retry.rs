//! When a failed email is tried again: exponential backoff with jitter, capped,
//! and a limit after which the job is dead.
use chrono::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the second attempt.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
    /// After this many attempts the job is dead.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::seconds(30), cap: Duration::hours(1), max_attempts: 8 }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn(Duration),
    Dead,
}

impl RetryPolicy {
    /// `attempts` counts tries made so far (≥ 1). `jitter` in `[0, 1)` spreads
    /// retries over the upper half of the delay so a failed batch does not
    /// come back all at once; tests pass a fixed value. A provider's
    /// `Retry-After` wins when it asks for longer, but never past the cap: it
    /// is outside input, and a year-long one would park the job for a year.
    pub fn after_failure(&self, attempts: i32, jitter: f64, retry_after: Option<Duration>) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::Dead;
        }
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
        let full = self.base.checked_mul(1 << exponent).unwrap_or(self.cap).min(self.cap);
        let millis = full.num_milliseconds() as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        let delay = Duration::milliseconds(millis as i64);
        AfterFailure::RetryIn(retry_after.map_or(delay, |asked| asked.clamp(delay, self.cap.max(delay))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy { base: Duration::seconds(10), cap: Duration::minutes(5), max_attempts: 5 };

    #[test]
    fn a_providers_retry_after_is_honoured_up_to_the_cap_only() {
        let asked = |seconds: i64| POLICY.after_failure(1, 1.0, Some(Duration::seconds(seconds)));
        assert_eq!(asked(60), AfterFailure::RetryIn(Duration::seconds(60)));
        assert_eq!(asked(1), AfterFailure::RetryIn(Duration::seconds(10)), "never sooner than the backoff");
        assert_eq!(asked(365 * 24 * 3600), AfterFailure::RetryIn(Duration::minutes(5)), "a year is clamped");
    }

    #[test]
    fn doubles_each_attempt_up_to_the_cap() {
        let delays: Vec<AfterFailure> = (1..=4).map(|attempt| POLICY.after_failure(attempt, 1.0, None)).collect();
        assert_eq!(
            delays,
            [
                AfterFailure::RetryIn(Duration::seconds(10)),
                AfterFailure::RetryIn(Duration::seconds(20)),
                AfterFailure::RetryIn(Duration::seconds(40)),
                AfterFailure::RetryIn(Duration::seconds(80)),
            ]
        );
        let long = RetryPolicy { max_attempts: 100, ..POLICY };
        assert_eq!(long.after_failure(60, 1.0, None), AfterFailure::RetryIn(Duration::minutes(5)));
    }

    #[test]
    fn jitter_spreads_over_the_upper_half() {
        assert_eq!(POLICY.after_failure(2, 0.0, None), AfterFailure::RetryIn(Duration::seconds(10)));
        assert_eq!(POLICY.after_failure(2, 0.5, None), AfterFailure::RetryIn(Duration::seconds(15)));
    }

    #[test]
    fn dead_after_max_attempts() {
        assert_eq!(POLICY.after_failure(5, 0.3, None), AfterFailure::Dead);
        assert_eq!(POLICY.after_failure(9, 0.3, None), AfterFailure::Dead);
    }

    #[test]
    fn a_longer_retry_after_wins() {
        assert_eq!(
            POLICY.after_failure(1, 1.0, Some(Duration::seconds(120))),
            AfterFailure::RetryIn(Duration::seconds(120))
        );
        assert_eq!(
            POLICY.after_failure(3, 1.0, Some(Duration::seconds(1))),
            AfterFailure::RetryIn(Duration::seconds(40))
        );
    }
}
