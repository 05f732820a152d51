//! In-process cache of the rows behind authentication (users, sessions, API keys), so that
//! the hot path verifies a token without a database round trip.
//!
//! Freshness, the rules the account guarantees rest on:
//! - this process's own writes evict the user's entries as soon as they are committed (the
//!   store calls [`AuthCache::forget_user`]), so they apply at the next request;
//! - writes by other processes (a second server, the CLI) append to `auth_changes`, which
//!   [`poll_changes`] reads every [`POLL_EVERY`] and evicts accordingly: within a second;
//! - while the change feed cannot be read, the cache is off and every request reads the
//!   database (which then answers 503 if it is the one that is down);
//! - a read that raced with an eviction of the same user is not cached ([`AuthCache::epoch`]);
//!   evictions of other users do not stop it;
//! - every entry also expires after [`TTL`], a backstop.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use nanoclaw_core::User;
use nanoclaw_core::account::{ApiKey, Session};
use nanoclaw_store::Store;

/// How often other processes' changes are read.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// The cache is used only while the last successful read of the change feed started less
/// than this long ago, so another process's change is never served stale for over a second,
/// even when this process cannot reach the database.
const TRUSTED_FOR: Duration = Duration::from_millis(900);
/// Longest life of a cached entry.
const TTL: Duration = Duration::from_secs(60);
/// Entries per map before the map is emptied (bounds memory under junk tokens).
const MAX_ENTRIES: usize = 100_000;
/// Users whose last eviction is remembered; past that the record is cleared and every read
/// that started before is refused (as after an eviction of everyone).
const MAX_EVICTED: usize = 10_000;
/// Change ids below the newest one that are re-read, so a change committed out of id order
/// is still seen.
const REREAD_WINDOW: i64 = 1_000;
/// Old rows of the change feed are deleted this often, and after this age.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const KEEP_CHANGES: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The maps' hasher: foldhash, seeded per process. Keys are ids we issued and SHA-256 digests,
/// and only rows that exist are stored, so std's SipHash bought nothing here but time.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Values are shared, not cloned, with the requests that read them.
struct Entry<T> {
    value: Arc<T>,
    at: Instant,
}

#[derive(Default)]
struct Maps {
    users: Map<i64, Entry<User>>,
    sessions: Map<String, Entry<Session>>,
    /// By SHA-256 of the key.
    keys: Map<String, Entry<ApiKey>>,
    /// The epoch each user was last evicted at: a read of that user begun before is stale.
    evicted: Map<i64, u64>,
    /// Reads begun before this epoch are stale for every user.
    floor: u64,
}

impl Maps {
    /// True when a read of `user_id` begun at `epoch` may be stored.
    fn current(&self, user_id: i64, epoch: u64) -> bool {
        epoch >= self.floor && self.evicted.get(&user_id).is_none_or(|&at| at <= epoch)
    }
}

/// The cache. Starts off; [`poll_changes`] turns it on once it can read the change feed.
pub struct AuthCache {
    maps: RwLock<Maps>,
    enabled: AtomicBool,
    epoch: AtomicU64,
    /// Reference point of `polled_ms`.
    origin: Instant,
    /// When the last successful poll started, in ms since `origin`.
    polled_ms: AtomicU64,
}

impl Default for AuthCache {
    fn default() -> Self {
        Self {
            maps: RwLock::default(),
            enabled: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            origin: Instant::now(),
            polled_ms: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("enabled", &self.enabled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn fresh<T>(e: Option<&Entry<T>>, now: Instant) -> Option<Arc<T>> {
    e.filter(|e| now.saturating_duration_since(e.at) < TTL)
        .map(|e| Arc::clone(&e.value))
}

impl AuthCache {
    /// Read before a database lookup whose result is to be cached; pass it to `put_*`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn ms_now(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    fn ms_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    fn usable(&self, now: Instant) -> bool {
        self.enabled.load(Ordering::Acquire)
            && self
                .ms_at(now)
                .saturating_sub(self.polled_ms.load(Ordering::Acquire))
                < u64::try_from(TRUSTED_FOR.as_millis()).unwrap_or(u64::MAX)
    }

    /// The maps and the time of the read (one clock read serves both checks).
    fn read(&self) -> Option<(std::sync::RwLockReadGuard<'_, Maps>, Instant)> {
        let now = Instant::now();
        if !self.usable(now) {
            return None;
        }
        Some((self.maps.read().ok()?, now))
    }

    /// Stores via `f` unless `user_id` was evicted since `epoch` was read.
    fn write(&self, epoch: u64, user_id: i64, f: impl FnOnce(&mut Maps)) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut maps) = self.maps.write()
            && maps.current(user_id, epoch)
        {
            f(&mut maps);
        }
    }

    /// A cached user.
    pub fn user(&self, id: i64) -> Option<Arc<User>> {
        let (maps, now) = self.read()?;
        fresh(maps.users.get(&id), now)
    }

    /// A cached session.
    pub fn session(&self, id: &str) -> Option<Arc<Session>> {
        let (maps, now) = self.read()?;
        fresh(maps.sessions.get(id), now)
    }

    /// A cached API key, by the hash of its secret.
    pub fn key(&self, hash: &str) -> Option<Arc<ApiKey>> {
        let (maps, now) = self.read()?;
        fresh(maps.keys.get(hash), now)
    }

    /// Caches a user read at `epoch`.
    pub fn put_user(&self, epoch: u64, user: &Arc<User>) {
        self.write(epoch, user.id, |m| {
            if m.users.len() >= MAX_ENTRIES {
                m.users.clear();
            }
            m.users.insert(
                user.id,
                Entry {
                    value: Arc::clone(user),
                    at: Instant::now(),
                },
            );
        });
    }

    /// Caches a session read at `epoch`.
    pub fn put_session(&self, epoch: u64, session: &Arc<Session>) {
        self.write(epoch, session.user_id, |m| {
            if m.sessions.len() >= MAX_ENTRIES {
                m.sessions.clear();
            }
            m.sessions.insert(
                session.id.clone(),
                Entry {
                    value: Arc::clone(session),
                    at: Instant::now(),
                },
            );
        });
    }

    /// Caches an API key read at `epoch`.
    pub fn put_key(&self, epoch: u64, hash: &str, key: &Arc<ApiKey>) {
        self.write(epoch, key.user_id, |m| {
            if m.keys.len() >= MAX_ENTRIES {
                m.keys.clear();
            }
            m.keys.insert(
                hash.to_owned(),
                Entry {
                    value: Arc::clone(key),
                    at: Instant::now(),
                },
            );
        });
    }

    /// Updates activity timestamps in place after they were written (no eviction needed).
    pub fn touched(
        &self,
        user: Option<(i64, chrono::NaiveDateTime)>,
        session: Option<(&str, chrono::NaiveDateTime)>,
    ) {
        if let Ok(mut m) = self.maps.write() {
            if let Some((id, t)) = user
                && let Some(e) = m.users.get_mut(&id)
            {
                Arc::make_mut(&mut e.value).last_login_at = Some(t);
            }
            if let Some((id, t)) = session
                && let Some(e) = m.sessions.get_mut(id)
            {
                Arc::make_mut(&mut e.value).last_seen_at = t;
            }
        }
    }

    /// Drops everything cached about a user, and keeps reads of that user begun before now
    /// from being cached. (Called after the change committed: a read begun after this
    /// call's increment sees the change.)
    pub fn forget_user(&self, user_id: i64) {
        let at = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        if let Ok(mut m) = self.maps.write() {
            m.users.remove(&user_id);
            m.sessions.retain(|_, e| e.value.user_id != user_id);
            m.keys.retain(|_, e| e.value.user_id != user_id);
            if m.evicted.len() >= MAX_EVICTED {
                m.evicted.clear();
                m.floor = at;
            }
            m.evicted.insert(user_id, at);
        }
    }

    /// Empties the cache and stops using it until `enable`.
    fn disable(&self) {
        if self.enabled.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                "cannot read auth_changes; authentication cache off until the database answers"
            );
        }
        let at = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        if let Ok(mut m) = self.maps.write() {
            *m = Maps {
                floor: at,
                ..Maps::default()
            };
        }
    }

    /// A successful poll that started at `started_ms` (see `ms_now`).
    fn enable(&self, started_ms: u64) {
        self.polled_ms.fetch_max(started_ms, Ordering::AcqRel);
        if !self.enabled.swap(true, Ordering::AcqRel) {
            tracing::debug!("authentication cache on");
        }
    }
}

/// Follows the change feed until the task is aborted: evicts changed users, keeps the cache
/// off while the feed cannot be read, prunes old feed rows now and then.
pub async fn poll_changes(store: Store, cache: Arc<AuthCache>) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor: Option<i64> = None;
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    let mut last_prune = Instant::now();
    loop {
        tick.tick().await;
        let started = cache.ms_now();
        let Some(after) = cursor else {
            match store.last_auth_change().await {
                Ok(last) => {
                    cursor = Some(last);
                    cache.enable(started);
                }
                Err(_) => cache.disable(),
            }
            continue;
        };
        match store.auth_changes_after(after - REREAD_WINDOW).await {
            Ok(rows) => {
                // Every change not handled yet evicts, including one that committed after a
                // newer id was already read (ids are assigned before commit).
                let mut newest = after;
                for (id, user_id) in rows {
                    if seen.insert(id) {
                        cache.forget_user(user_id);
                    }
                    newest = newest.max(id);
                }
                cursor = Some(newest);
                seen = seen.split_off(&(newest - REREAD_WINDOW));
                cache.enable(started);
            }
            Err(_) => {
                cache.disable();
                // Start again from the newest id once the database answers: whatever changed
                // meanwhile was dropped with the cache.
                cursor = None;
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            let _ = store
                .prune_auth_changes(nanoclaw_core::time::now_utc() - KEEP_CHANGES)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> Arc<User> {
        Arc::new(User {
            id,
            username: format!("u{id}"),
            password_hash: None,
            email: None,
            avatar: None,
            role: "user".into(),
            is_active: true,
            created_at: None,
            last_login_at: None,
            token_version: 0,
            auth_source: Default::default(),
        })
    }

    fn on() -> AuthCache {
        let cache = AuthCache::default();
        cache.enable(cache.ms_now());
        cache
    }

    #[test]
    fn an_eviction_stops_only_its_own_users_racing_reads() {
        let cache = on();
        let before = cache.epoch();
        cache.forget_user(1);
        // A read of user 1 begun before the eviction may have seen the old row.
        cache.put_user(before, &user(1));
        assert!(cache.user(1).is_none());
        // A read of user 2 begun at the same moment is unaffected.
        cache.put_user(before, &user(2));
        assert!(cache.user(2).is_some());
        // A read of user 1 begun after the eviction is cached.
        cache.put_user(cache.epoch(), &user(1));
        assert!(cache.user(1).is_some());
    }

    #[test]
    fn disabling_refuses_every_read_begun_before() {
        let cache = on();
        let before = cache.epoch();
        cache.disable();
        cache.enable(cache.ms_now());
        cache.put_user(before, &user(3));
        assert!(cache.user(3).is_none());
        cache.put_user(cache.epoch(), &user(3));
        assert!(cache.user(3).is_some());
    }
}
