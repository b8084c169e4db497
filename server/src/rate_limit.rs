//! Per-client-IP rate limits by route class. Each instance keeps its own
//! limiter (tower_governor's GCRA); with Redis up, one atomic Lua script per
//! check applies the same algorithm to a budget every instance shares. The
//! local limiter sees every request too, so it is warm when Redis goes away.
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use fred::types::scripts::Script;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::PeerIpKeyExtractor;

use crate::client_ip::TrustedProxies;
use crate::redis::Redis;
use crate::route_table::Class;

/// `limit` requests per `period`, e.g. `5/5m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    period: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a rate limit: write requests/period, e.g. 5/5m, 100/1m or 10/60s (period > 0, requests > 0)")]
pub struct InvalidQuota(String);

impl FromStr for Quota {
    type Err = InvalidQuota;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidQuota(text.to_owned());
        let (limit, period) = text.trim().split_once('/').ok_or_else(invalid)?;
        let limit: u32 = limit.trim().parse().map_err(|_| invalid())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
        let (amount, unit) = period.split_at(split);
        let amount: u64 = amount.parse().map_err(|_| invalid())?;
        let seconds = match unit {
            "s" => amount,
            "m" => amount * 60,
            "h" => amount * 3600,
            _ => return Err(invalid()),
        };
        if limit == 0 || seconds == 0 {
            return Err(invalid());
        }
        Ok(Quota { limit, period: Duration::from_secs(seconds) })
    }
}

impl Quota {
    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// GCRA's emission interval: one request's worth of budget comes back this often.
    fn interval(&self) -> Duration {
        self.period / self.limit
    }
}

/// The outcome of one check, with what the `RateLimit-*` headers report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the next request is allowed (zero when allowed).
    pub retry_after: Duration,
    /// Until the whole budget is back.
    pub reset: Duration,
}

impl Verdict {
    /// Sets `RateLimit-Limit/Remaining/Reset`, plus `Retry-After` on a refusal
    /// (whole seconds, rounded up).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(whole_seconds(self.reset)));
        if !self.allowed {
            headers.insert("retry-after", HeaderValue::from(self.retry_after_seconds()));
        }
    }

    /// At least 1: "retry in 0 s" would invite an immediate, refused retry.
    pub fn retry_after_seconds(&self) -> u64 {
        whole_seconds(self.retry_after).max(1)
    }
}

/// Seconds, rounded up: a client that waits this long is never early.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_millis().div_ceil(1000) as u64
}

/// Past this many clients in a limiter, the ones back at a full budget are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// One class's quota and this instance's limiter for it.
struct Budget {
    class: Class,
    quota: Quota,
    local: GovernorConfig<PeerIpKeyExtractor, StateInformationMiddleware>,
}

impl Budget {
    fn new(class: Class, quota: Quota) -> Self {
        let local = GovernorConfigBuilder::default()
            .period(quota.interval())
            .burst_size(quota.limit)
            .use_headers()
            .finish()
            .expect("a parsed Quota has a positive limit and period");
        Self { class, quota, local }
    }

    fn check_local(&self, ip: IpAddr) -> Verdict {
        let limit = self.quota.limit;
        let interval = self.quota.interval();
        let limiter = self.local.limiter();
        // Clients whose budget is whole again need no entry: dropping them
        // keeps the table as small as the clients of the last period.
        if limiter.len() > SWEEP_ABOVE {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        match limiter.check_key(&ip) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Verdict {
                    allowed: true,
                    limit,
                    remaining,
                    retry_after: Duration::ZERO,
                    reset: interval * (limit - remaining),
                }
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(DefaultClock::default().now());
                Verdict {
                    allowed: false,
                    limit,
                    remaining: 0,
                    retry_after,
                    reset: retry_after + interval * (limit - 1),
                }
            }
        }
    }
}

/// GCRA on Redis: the key holds the theoretical arrival time (ms, Redis's own
/// clock, so instances' clocks need not agree). Returns
/// `{allowed, remaining, retry_after_ms, reset_ms}`.
const GCRA_SCRIPT: &str = r#"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
"#;

pub struct RateLimits {
    budgets: [Budget; 4],
    /// Whether the admin API has a budget of its own, or draws on the public one.
    api_budget: bool,
    proxies: TrustedProxies,
    redis: Option<Arc<Redis>>,
    script: Script,
}

pub struct Quotas {
    pub register: Quota,
    pub public: Quota,
    pub auth: Quota,
    /// `None`: the admin API shares the public budget.
    pub api: Option<Quota>,
}

impl RateLimits {
    pub fn new(quotas: Quotas, proxies: TrustedProxies, redis: Option<Arc<Redis>>) -> Self {
        Self {
            budgets: [
                Budget::new(Class::Register, quotas.register),
                Budget::new(Class::Public, quotas.public),
                Budget::new(Class::Auth, quotas.auth),
                Budget::new(Class::Api, quotas.api.unwrap_or(quotas.public)),
            ],
            api_budget: quotas.api.is_some(),
            proxies,
            redis,
            script: Script::from_lua(GCRA_SCRIPT),
        }
    }

    /// The client a request comes from (behind trusted proxies, the one they forwarded).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.proxies.client_ip(peer, headers)
    }

    /// Where the budgets live right now, for `/healthz`.
    pub fn mode(&self) -> &'static str {
        match &self.redis {
            Some(redis) if redis.is_up() => "redis",
            _ => "in-process",
        }
    }

    pub async fn check(&self, class: Class, ip: IpAddr) -> Verdict {
        let ip = crate::client_ip::budget_key(ip);
        let class = match class {
            Class::Api if !self.api_budget => Class::Public,
            class => class,
        };
        let budget = &self.budgets[class as usize];
        let local = budget.check_local(ip);
        let Some(redis) = self.redis.as_ref().filter(|redis| redis.is_up()) else {
            return local;
        };
        match self.check_shared(redis, budget, ip).await {
            Ok(shared) => shared,
            Err(error) => {
                redis.mark_down(&error);
                local
            }
        }
    }

    async fn check_shared(&self, redis: &Redis, budget: &Budget, ip: IpAddr) -> Result<Verdict, fred::error::Error> {
        let key = redis.key(&format!("rl:{}:{ip}", budget.class.name()));
        let interval_ms = budget.quota.interval().as_millis() as i64;
        let args = vec![interval_ms, i64::from(budget.quota.limit)];
        let (allowed, remaining, retry_ms, reset_ms): (i64, i64, i64, i64) =
            self.script.evalsha_with_reload(redis.client(), key, args).await?;
        let millis = |ms: i64| Duration::from_millis(ms.max(0) as u64);
        Ok(Verdict {
            allowed: allowed == 1,
            limit: budget.quota.limit,
            remaining: remaining.clamp(0, i64::from(budget.quota.limit)) as u32,
            retry_after: millis(retry_ms),
            reset: millis(reset_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_and_bad_ones_say_what_to_write() {
        assert_eq!("5/5m".parse::<Quota>().expect("valid"), Quota { limit: 5, period: Duration::from_secs(300) });
        assert_eq!("100/60s".parse::<Quota>().expect("valid").interval(), Duration::from_millis(600));
        assert_eq!("10/1h".parse::<Quota>().expect("valid").period, Duration::from_secs(3600));
        for bad in ["", "5", "5/", "0/1m", "5/0m", "x/1m", "5/1d", "5/m"] {
            let error = bad.parse::<Quota>().expect_err(bad);
            assert!(error.to_string().contains("e.g. 5/5m"), "{error}");
        }
    }

    #[tokio::test]
    async fn the_local_budget_refuses_the_sixth_and_says_when_to_return() {
        let quotas = Quotas {
            register: "5/5m".parse().expect("valid"),
            public: "100/1m".parse().expect("valid"),
            auth: "10/1m".parse().expect("valid"),
            api: None,
        };
        let limits = RateLimits::new(quotas, TrustedProxies::default(), None);
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        for expected_remaining in (0..5).rev() {
            let verdict = limits.check(Class::Register, ip).await;
            assert!(verdict.allowed);
            assert_eq!(verdict.remaining, expected_remaining);
        }
        let refused = limits.check(Class::Register, ip).await;
        assert!(!refused.allowed);
        assert!(refused.retry_after > Duration::from_secs(55) && refused.retry_after <= Duration::from_secs(60));
        let mut headers = HeaderMap::new();
        refused.write_headers(&mut headers);
        assert_eq!(headers["retry-after"], "60");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert!(limits.check(Class::Public, ip).await.allowed, "other budgets are untouched");
        let public = limits.check(Class::Public, ip).await.remaining;
        assert_eq!(limits.check(Class::Api, ip).await.remaining, public - 1, "the API shares the public budget");
        assert!(limits.check(Class::Register, "203.0.113.10".parse().expect("ip")).await.allowed);
        assert_eq!(limits.mode(), "in-process");
    }
}
