//! A login budget per account, beside the server's per-IP one: an attacker
//! with many addresses still gets only `limit` tries at one admin's password
//! per period. Keyed by the typed email, known account or not, so the answer
//! says nothing about which accounts exist. Kept in the process (each
//! instance has the full budget); entries of accounts not tried for a period
//! are dropped, so memory stays bounded whatever is typed.
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

/// Beyond this many remembered accounts, the stale ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

pub struct LoginBudget {
    limiter: DefaultKeyedRateLimiter<[u8; 32]>,
}

impl LoginBudget {
    /// `limit` attempts per `period` for each account; both must be positive.
    pub fn new(limit: u32, period: Duration) -> Option<Self> {
        let burst = NonZeroU32::new(limit)?;
        let quota = Quota::with_period(period.checked_div(limit)?)?.allow_burst(burst);
        Some(Self { limiter: RateLimiter::keyed(quota) })
    }

    /// Takes one attempt for `email` (as typed); `Err` holds the seconds
    /// until the next is allowed.
    pub fn take(&self, email: &str) -> Result<(), u64> {
        if self.limiter.len() > SWEEP_ABOVE {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let key: [u8; 32] = Sha256::digest(email.trim().to_lowercase().as_bytes()).into();
        self.limiter.check_key(&key).map_err(|not_until| {
            not_until.wait_time_from(DefaultClock::default().now()).as_millis().div_ceil(1000).max(1) as u64
        })
    }
}

impl Default for LoginBudget {
    /// Ten attempts per account, one more back every 90 s (ten per 15 minutes).
    fn default() -> Self {
        const TEN: NonZeroU32 = match NonZeroU32::new(10) {
            Some(ten) => ten,
            None => NonZeroU32::MIN,
        };
        const FORTY: NonZeroU32 = match NonZeroU32::new(40) {
            Some(forty) => forty,
            None => NonZeroU32::MIN,
        };
        Self { limiter: RateLimiter::keyed(Quota::per_hour(FORTY).allow_burst(TEN)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_has_its_own_budget_whatever_its_spelling() {
        let budget = LoginBudget::new(3, Duration::from_secs(900)).expect("a budget");
        for _ in 0..3 {
            assert_eq!(budget.take("admin@example.com"), Ok(()));
        }
        let refused = budget.take(" ADMIN@example.com ").expect_err("the fourth is refused");
        assert!((299..=300).contains(&refused), "{refused}");
        assert_eq!(budget.take("other@example.com"), Ok(()), "another account is untouched");
        assert!(LoginBudget::new(0, Duration::from_secs(1)).is_none());
    }
}
