//! argon2id password hashing, off the async executor and bounded in concurrency.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Hashes run on the blocking
//! pool, at most `max_concurrent` at once, so the async threads stay free for every other
//! call. At most `max_queue` calls wait for a slot, none longer than `queue_timeout`;
//! past either a call fails at once with `RESOURCE_EXHAUSTED` rather than queueing
//! without end.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};
use tokio::sync::Semaphore;

use crate::{domain::Password, error::AuthError};

/// argon2id parameters: OWASP's minimum (m = 19 MiB, t = 2, p = 1) by default.
#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Hasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
    queue_timeout: Duration,
    /// Verified against when the user does not exist, so that an unknown username costs
    /// the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Hasher {
    pub fn new(
        params: HashParams,
        max_concurrent: usize,
        max_queue: usize,
        queue_timeout: Duration,
    ) -> Result<Self, AuthError> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = argon2
            .hash_password(b"dummy password for unknown users")
            .map_err(|e| AuthError::Internal(format!("argon2: {e}")))?
            .to_string();
        Ok(Self {
            argon2,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_queue,
            queue_timeout,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Runs `f` on the blocking pool once a hashing slot is free.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Count ourselves in the queue (the guard leaves it, also if the caller
                // goes away); leave at once if it is full.
                let queued = Queued::join(&self.waiting);
                if queued.position >= self.max_queue {
                    return Err(AuthError::Overloaded);
                }
                let waited =
                    tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned()).await;
                drop(queued);
                waited
                    .map_err(|_| AuthError::Overloaded)?
                    .map_err(|_| AuthError::Internal("hasher closed".into()))?
            }
        };
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || {
            let out = f(&argon2);
            drop(permit);
            out
        })
        .await
        .map_err(|e| AuthError::Internal(format!("hash task: {e}")))
    }

    /// A PHC string for a new password.
    pub async fn hash(&self, password: Password) -> Result<String, AuthError> {
        self.run(move |argon2| {
            argon2
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| AuthError::Internal(format!("argon2: {e}")))
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user) it checks
    /// against the dummy hash and answers `false`, taking the same time.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<bool, AuthError> {
        let known = stored.is_some();
        let phc: String = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matched = self
            .run(move |argon2| match PasswordHash::new(&phc) {
                // The parameters stored in the PHC string are used, so hashes made
                // with older parameters keep verifying.
                Ok(parsed) => argon2
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            })
            .await?;
        Ok(known && matched)
    }
}

/// A place in the hash queue, given back on drop.
struct Queued<'a> {
    waiting: &'a AtomicUsize,
    position: usize,
}

impl<'a> Queued<'a> {
    fn join(waiting: &'a AtomicUsize) -> Self {
        let position = waiting.fetch_add(1, Ordering::AcqRel);
        Self { waiting, position }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse_given("password", s.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = Hasher::new(HashParams::default(), 2, 8, Duration::from_secs(5)).unwrap();
        let phc = hasher.hash(pw("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify(pw("correct horse"), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify(pw("wrong horse"), Some(phc.clone())).await.unwrap());
        assert!(!hasher.verify(pw("correct horse"), None).await.unwrap());
        assert!(
            !hasher
                .verify(pw("x"), Some("not a phc string".into()))
                .await
                .unwrap()
        );
        // Salted: the same password twice gives two hashes.
        assert_ne!(hasher.hash(pw("correct horse")).await.unwrap(), phc);
    }

    #[tokio::test]
    async fn full_queue_fails_fast() {
        let hasher = Hasher::new(HashParams::default(), 1, 8, Duration::from_millis(1)).unwrap();
        let _held = hasher.permits.clone().acquire_owned().await.unwrap();
        assert!(matches!(
            hasher.hash(pw("whatever1")).await,
            Err(AuthError::Overloaded)
        ));
        assert_eq!(
            hasher.waiting.load(Ordering::Acquire),
            0,
            "the queue place is given back"
        );
        // A full queue refuses without waiting.
        let hasher = Hasher::new(HashParams::default(), 1, 0, Duration::from_secs(600)).unwrap();
        let _held = hasher.permits.clone().acquire_owned().await.unwrap();
        assert!(matches!(
            hasher.hash(pw("whatever1")).await,
            Err(AuthError::Overloaded)
        ));
    }
}
