//! Login attempt limits per client IP and per username (GCRA via `governor`).
//! The state is per process: with N processes a client gets up to N times the limit.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// Longest username key kept (bounds memory for junk input).
const MAX_KEY_CHARS: usize = 64;

/// The limiters; `None` when `login_rate_limit` is 0.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    inner: Option<Arc<Limiters>>,
}

#[derive(Debug)]
struct Limiters {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_username: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl LoginLimiter {
    /// `per_minute` attempts per key per minute, bursting up to that number; 0 turns it off.
    pub fn new(per_minute: u32) -> Self {
        let inner = NonZeroU32::new(per_minute).map(|n| {
            let quota = Quota::per_minute(n);
            Arc::new(Limiters {
                by_ip: RateLimiter::keyed(quota),
                by_username: RateLimiter::keyed(quota),
                clock: DefaultClock::default(),
            })
        });
        Self { inner }
    }

    /// Counts an attempt from `ip`; 429 when over the limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), AppError> {
        let Some(l) = &self.inner else { return Ok(()) };
        l.by_ip
            .check_key(&ip)
            .map_err(|not_until| too_many(not_until.wait_time_from(l.clock.now())))
    }

    /// Counts an attempt on `username` (case-insensitive); 429 when over the limit.
    pub fn check_username(&self, username: &str) -> Result<(), AppError> {
        let Some(l) = &self.inner else { return Ok(()) };
        let key: String = username
            .chars()
            .take(MAX_KEY_CHARS)
            .flat_map(char::to_lowercase)
            .collect();
        l.by_username
            .check_key(&key)
            .map_err(|not_until| too_many(not_until.wait_time_from(l.clock.now())))
    }

    /// Forgets keys whose limits have fully recovered (call periodically).
    pub fn prune(&self) {
        if let Some(l) = &self.inner {
            l.by_ip.retain_recent();
            l.by_ip.shrink_to_fit();
            l.by_username.retain_recent();
            l.by_username.shrink_to_fit();
        }
    }
}

fn too_many(wait: Duration) -> AppError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    tracing::info!(retry_after_secs = secs, "login rate limit reached");
    metrics::counter!(crate::metrics::RATE_LIMITED).increment(1);
    AppError::TooManyRequests {
        retry_after_secs: secs.max(1),
    }
}
