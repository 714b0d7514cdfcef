//! The per-account request budget behind [`super::rate_limit::RateLimited`].
//!
//! Two token buckets per API account: 20 requests/s (capacity 20) and 15,000/hour, the
//! limits the vendor documents. Time is `tokio::time::Instant`, so tests run it paused.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::error::{Error, Result};

/// The documented per-account limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub per_hour: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 20.0,
            per_hour: 15_000.0,
        }
    }
}

/// How `RateLimited` reacts to `429`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Retries after a `429` before giving the error to the caller.
    pub max_retries: u32,
    /// The longest single wait; a longer `Retry-After` is returned as an error at once.
    pub max_wait: Duration,
    /// The shortest wait, doubled on each retry, used when `Retry-After` is smaller.
    pub min_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            max_retries: 3,
            max_wait: Duration::from_secs(30),
            min_wait: Duration::from_millis(250),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
}

impl Bucket {
    fn full(capacity: f64, per_second: f64) -> Self {
        Self {
            capacity,
            tokens: capacity,
            per_second,
        }
    }

    fn refill(&mut self, elapsed: Duration) {
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.capacity);
    }

    /// Time until one token is available.
    fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
        }
    }
}

#[derive(Debug)]
struct State {
    second: Bucket,
    hour: Bucket,
    last: Instant,
    paused_until: Option<Instant>,
}

/// The shared budget of one API account.
#[derive(Clone)]
pub struct RateLimiter {
    state: Arc<Mutex<State>>,
    max_wait: Duration,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(limit: RateLimit, backoff: Backoff) -> Self {
        let state = State {
            second: Bucket::full(limit.per_second, limit.per_second),
            hour: Bucket::full(limit.per_hour, limit.per_hour / 3600.0),
            last: Instant::now(),
            paused_until: None,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            max_wait: backoff.max_wait,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a request slot. Fails at once with `RateLimited` when the account is paused
    /// for longer than the wrapper would wait.
    pub async fn acquire(&self) -> Result<()> {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                let elapsed = now.saturating_duration_since(s.last);
                s.last = now;
                s.second.refill(elapsed);
                s.hour.refill(elapsed);
                let paused = s
                    .paused_until
                    .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
                let wait = paused.max(s.second.wait()).max(s.hour.wait());
                if wait.is_zero() {
                    s.second.tokens -= 1.0;
                    s.hour.tokens -= 1.0;
                    return Ok(());
                }
                wait
            };
            if wait > self.max_wait {
                return Err(Error::RateLimited { retry_after: wait });
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds every caller of this account for `duration` (after a `429`).
    pub fn pause(&self, duration: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + duration;
        s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
    }
}

/// One limiter per (endpoint, client id), shared by every client in the process.
#[derive(Clone, Default)]
pub struct RateLimits {
    limit: RateLimit,
    backoff: Backoff,
    accounts: Arc<Mutex<HashMap<(String, String), RateLimiter>>>,
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(limit: RateLimit, backoff: Backoff) -> Self {
        Self {
            limit,
            backoff,
            accounts: Arc::default(),
        }
    }

    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    pub fn for_account(&self, endpoint: &str, client_id: &str) -> RateLimiter {
        let key = (
            endpoint.trim_end_matches('/').to_owned(),
            client_id.to_owned(),
        );
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts
            .entry(key)
            .or_insert_with(|| RateLimiter::new(self.limit, self.backoff))
            .clone()
    }
}
