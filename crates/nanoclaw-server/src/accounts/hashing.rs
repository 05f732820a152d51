//! Password hashing off the async runtime, at most `permits` at a time (each argon2id run
//! holds 19 MiB, a legacy scrypt check 32 MiB: the bound keeps a login storm's memory flat).
//! At most `queue` jobs wait for a permit; beyond that a request is answered 503 with
//! `Retry-After` at once instead of waiting without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nanoclaw_core::auth::password::{self, Verification};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::AppError;

/// Jobs waiting per permit before new ones are refused.
pub const QUEUE_PER_PERMIT: usize = 16;
/// What a refused job's caller is told to wait (seconds).
const RETRY_AFTER_SECS: u64 = 1;

/// Runs hashing jobs on the blocking pool behind a semaphore.
#[derive(Debug)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Jobs waiting for a permit or running.
    queued: Arc<AtomicUsize>,
    /// Most jobs waiting or running at once.
    capacity: usize,
    /// A hash of a random password, verified against when a login names no real hash, so that
    /// unknown usernames cost the same time as wrong passwords.
    dummy: OnceCell<String>,
}

impl Hasher {
    /// A hasher running at most `permits` jobs at once, with at most `queue` more waiting.
    pub fn new(permits: usize, queue: usize) -> Self {
        let permits = permits.max(1);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            queued: Arc::new(AtomicUsize::new(0)),
            capacity: permits + queue,
            dummy: OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _slot = QueueSlot::take(&self.queued, self.capacity).ok_or(AppError::Busy {
            retry_after_secs: RETRY_AFTER_SECS,
        })?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("hashing pool closed"))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| AppError::internal(format!("hashing task failed: {e}")))
    }

    /// A new argon2id hash.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_owned();
        self.run(move || password::hash(&password))
            .await?
            .map_err(AppError::internal)
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is none.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, AppError> {
        let (stored, real) = match stored {
            Some(s) => (s.to_owned(), true),
            None => (self.dummy_hash().await?.to_owned(), false),
        };
        let password = password.to_owned();
        let outcome = self
            .run(move || password::verify(&password, &stored))
            .await?;
        Ok(if real { outcome } else { Verification::Invalid })
    }

    async fn dummy_hash(&self) -> Result<&str, AppError> {
        self.dummy
            .get_or_try_init(|| async {
                let random = format!("{:032x}", rand::random::<u128>());
                self.hash(&random).await
            })
            .await
            .map(String::as_str)
    }
}

/// A place in the hashing queue, given back when dropped (also when the request is dropped
/// while it waits).
struct QueueSlot(Arc<AtomicUsize>);

impl QueueSlot {
    fn take(queued: &Arc<AtomicUsize>, capacity: usize) -> Option<Self> {
        queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()?;
        Some(Self(Arc::clone(queued)))
    }
}

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_frees_up() {
        let hasher = Arc::new(Hasher::new(1, 1));
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        // One job holds the permit until released, one waits for it.
        let running = {
            let h = hasher.clone();
            tokio::spawn(async move { h.run(move || blocked.recv().is_ok()).await })
        };
        let waiting = {
            let h = hasher.clone();
            tokio::spawn(async move { h.run(|| true).await })
        };
        while hasher.queued.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.run(|| true).await;
        assert!(matches!(
            refused,
            Err(AppError::Busy {
                retry_after_secs: 1
            })
        ));
        release.send(()).unwrap();
        assert!(running.await.unwrap().unwrap());
        assert!(waiting.await.unwrap().unwrap());
        assert_eq!(hasher.queued.load(Ordering::Acquire), 0);
        assert!(hasher.run(|| true).await.unwrap());
    }
}
