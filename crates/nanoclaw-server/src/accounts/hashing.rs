//! Password hashing off the async runtime, at most `permits` at a time (each argon2id run
//! holds 19 MiB, a legacy scrypt check 32 MiB: the bound keeps a login storm's memory flat).

use std::sync::Arc;

use nanoclaw_core::auth::password::{self, Verification};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::AppError;

/// Runs hashing jobs on the blocking pool behind a semaphore.
#[derive(Debug)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when a login names no real hash, so that
    /// unknown usernames cost the same time as wrong passwords.
    dummy: OnceCell<String>,
}

impl Hasher {
    /// A hasher running at most `permits` jobs at once.
    pub fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            dummy: OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
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
