//! The documented per-account rate limit, in real time: a token bucket of `per_second`
//! requests refilled at `per_second`/s, and a fixed one-hour window of `per_hour` requests.

use std::time::{Duration, Instant};

/// The outcome of one request against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Allowed; `remaining` goes into `X-RateLimit-Remaining`.
    Allow { remaining: u32 },
    /// Over the limit; retry after this many whole seconds.
    Deny { retry_after_s: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    per_second: u32,
    per_hour: u32,
    tokens: f64,
    last: Instant,
    hour_start: Instant,
    hour_count: u32,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32, per_hour: u32) -> Self {
        let now = Instant::now();
        Self {
            per_second,
            per_hour,
            tokens: f64::from(per_second),
            last: now,
            hour_start: now,
            hour_count: 0,
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.per_second
    }

    pub(crate) fn check(&mut self, now: Instant) -> Decision {
        let rate = f64::from(self.per_second);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.last = now;
        if now.saturating_duration_since(self.hour_start) >= Duration::from_secs(3600) {
            self.hour_start = now;
            self.hour_count = 0;
        }
        if self.hour_count >= self.per_hour {
            let left = Duration::from_secs(3600).saturating_sub(now - self.hour_start);
            return Decision::Deny {
                retry_after_s: left.as_secs().max(1),
            };
        }
        if self.tokens < 1.0 {
            let wait = (1.0 - self.tokens) / rate;
            return Decision::Deny {
                retry_after_s: (wait.ceil() as u64).max(1),
            };
        }
        self.tokens -= 1.0;
        self.hour_count += 1;
        Decision::Allow {
            remaining: self.tokens.floor() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denies_the_request_over_the_bucket_and_refills() {
        let mut r = RateLimiter::new(20, 15_000);
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(r.check(t0), Decision::Allow { remaining: 19 - i });
        }
        assert_eq!(r.check(t0), Decision::Deny { retry_after_s: 1 });
        assert!(matches!(
            r.check(t0 + Duration::from_millis(100)),
            Decision::Allow { .. }
        ));
    }

    #[test]
    fn enforces_the_hourly_window() {
        let mut r = RateLimiter::new(1000, 5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(matches!(r.check(t0), Decision::Allow { .. }));
        }
        assert!(matches!(r.check(t0), Decision::Deny { .. }));
        assert!(matches!(
            r.check(t0 + Duration::from_secs(3601)),
            Decision::Allow { .. }
        ));
    }
}
