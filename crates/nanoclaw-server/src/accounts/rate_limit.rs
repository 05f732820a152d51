//! Login attempt limits per client network and per username (GCRA via `governor`).
//! The state is per process: with N processes a client gets up to N times the limit.
//!
//! IPv6 clients are limited per /64: one subscriber usually holds a whole /64 and can pick a
//! fresh address for every request. A limited key is reported (log line, audit row) once per
//! window, so that a flood of refused attempts does not become a flood of writes.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Longest username key kept (bounds memory for junk input).
const MAX_KEY_CHARS: usize = 64;
/// A limited key is reported at most once in this window.
const REPORT_WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered as reported; past that the memory is cleared (a key may then be reported
/// once more).
const MAX_REPORTED: usize = 100_000;

/// An attempt over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the next attempt is allowed (at least 1).
    pub retry_after_secs: u64,
    /// True the first time this key is limited in the reporting window: log and audit it.
    pub first_in_window: bool,
}

/// The limiters; `None` when `login_rate_limit` is 0.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    inner: Option<Arc<Limiters>>,
}

#[derive(Debug)]
struct Limiters {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_username: DefaultKeyedRateLimiter<String>,
    reported_ips: Reported<IpAddr>,
    reported_names: Reported<String>,
    clock: DefaultClock,
}

/// When each limited key was last reported.
#[derive(Debug)]
struct Reported<K>(Mutex<HashMap<K, Instant>>);

impl<K: Hash + Eq> Reported<K> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// True (and remembered) unless `key` was reported within the window.
    fn first(&self, key: K, now: Instant) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return true;
        };
        if seen
            .get(&key)
            .is_some_and(|at| now.saturating_duration_since(*at) < REPORT_WINDOW)
        {
            return false;
        }
        if seen.len() >= MAX_REPORTED {
            seen.clear();
        }
        seen.insert(key, now);
        true
    }

    fn prune(&self, now: Instant) {
        if let Ok(mut seen) = self.0.lock() {
            seen.retain(|_, at| now.saturating_duration_since(*at) < REPORT_WINDOW);
            seen.shrink_to_fit();
        }
    }
}

/// The key an address is limited under: IPv4 as it is, IPv6 by its /64.
pub fn network_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

impl LoginLimiter {
    /// `per_minute` attempts per key per minute, bursting up to that number; 0 turns it off.
    pub fn new(per_minute: u32) -> Self {
        let inner = NonZeroU32::new(per_minute).map(|n| {
            let quota = Quota::per_minute(n);
            Arc::new(Limiters {
                by_ip: RateLimiter::keyed(quota),
                by_username: RateLimiter::keyed(quota),
                reported_ips: Reported::new(),
                reported_names: Reported::new(),
                clock: DefaultClock::default(),
            })
        });
        Self { inner }
    }

    /// Counts an attempt from `ip` (its /64 for IPv6).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        let Some(l) = &self.inner else { return Ok(()) };
        let key = network_key(ip);
        l.by_ip.check_key(&key).map_err(|not_until| {
            limited(
                not_until.wait_time_from(l.clock.now()),
                l.reported_ips.first(key, Instant::now()),
            )
        })
    }

    /// Counts an attempt on `username` (case-insensitive).
    pub fn check_username(&self, username: &str) -> Result<(), Limited> {
        let Some(l) = &self.inner else { return Ok(()) };
        let key: String = username
            .chars()
            .take(MAX_KEY_CHARS)
            .flat_map(char::to_lowercase)
            .collect();
        l.by_username.check_key(&key).map_err(|not_until| {
            limited(
                not_until.wait_time_from(l.clock.now()),
                l.reported_names.first(key.clone(), Instant::now()),
            )
        })
    }

    /// Forgets keys whose limits have fully recovered (call periodically).
    pub fn prune(&self) {
        if let Some(l) = &self.inner {
            l.by_ip.retain_recent();
            l.by_ip.shrink_to_fit();
            l.by_username.retain_recent();
            l.by_username.shrink_to_fit();
            let now = Instant::now();
            l.reported_ips.prune(now);
            l.reported_names.prune(now);
        }
    }
}

fn limited(wait: Duration, first_in_window: bool) -> Limited {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    metrics::counter!(crate::metrics::RATE_LIMITED).increment(1);
    Limited {
        retry_after_secs: secs.max(1),
        first_in_window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_limited_per_64_and_ipv4_per_address() {
        let limiter = LoginLimiter::new(2);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check_ip(a).is_ok());
        assert!(limiter.check_ip(b).is_ok());
        // A third address of the same /64 shares the budget.
        let refused = limiter.check_ip("2001:db8:1:2::ffff".parse().unwrap());
        assert!(refused.is_err_and(|l| l.first_in_window));
        assert!(limiter.check_ip(other).is_ok());
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limiter.check_ip(v4).is_ok());
        assert!(limiter.check_ip("192.0.2.2".parse().unwrap()).is_ok());
        // An IPv4-mapped IPv6 address counts as the IPv4 address.
        assert_eq!(
            network_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_limited_key_is_reported_once_per_window() {
        let limiter = LoginLimiter::new(1);
        assert!(limiter.check_username("Alice").is_ok());
        let first = limiter.check_username("alice").unwrap_err();
        assert!(first.first_in_window);
        assert!(first.retry_after_secs >= 1);
        for _ in 0..5 {
            assert!(!limiter.check_username("ALICE").unwrap_err().first_in_window);
        }
        // Another key is reported on its own.
        assert!(limiter.check_username("bob").is_ok());
        assert!(limiter.check_username("bob").unwrap_err().first_in_window);
    }
}
