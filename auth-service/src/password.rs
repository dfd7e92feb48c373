//! argon2id password hashing, off the async executor and bounded in concurrency.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Hashes run on a pool of
//! `max_concurrent` threads of their own, so the async threads stay free for every other
//! call. Not tokio's blocking pool: it grows to hundreds of threads, and glibc keeps up to
//! 8 per core of memory arenas that each held on to a 19 MiB hash buffer (the
//! auth-service reached 528 MiB resident in a login flood; see BENCHMARKS.md). A fixed
//! pool touches at most `max_concurrent` arenas. At most `max_queue` calls wait for a slot, none longer than `queue_timeout`;
//! past either a call fails at once with `RESOURCE_EXHAUSTED` rather than queueing
//! without end.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use std::cell::RefCell;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use tokio::sync::Semaphore;
use zeroize::Zeroize;

use crate::{domain::Password, error::AuthError};

/// argon2id parameters: OWASP's minimum (m = 19 MiB, t = 2, p = 1) by default.
#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    /// Memory per hash in KiB (`ARGON2_MEMORY_KIB`): the main cost an attacker pays.
    pub memory_kib: u32,
    /// Passes over the memory (`ARGON2_ITERATIONS`).
    pub iterations: u32,
    /// Lanes; the service uses 1, one hash per worker thread.
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
    workers: Arc<rayon::ThreadPool>,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
    queue_timeout: Duration,
    /// Verified against when the user does not exist, so that an unknown username costs
    /// the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Hasher {
    /// `max_concurrent` hashing threads (at least 1), `max_queue` calls waiting at most
    /// `queue_timeout` for one. Fails when argon2 refuses `params`, which stops start-up.
    pub fn new(
        params: HashParams,
        max_concurrent: usize,
        max_queue: usize,
        queue_timeout: Duration,
    ) -> Result<Self, AuthError> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| AuthError::internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_phc(&argon2, b"dummy password for unknown users")
            .map_err(|e| AuthError::internal(format!("argon2: {e}")))?;
        let max_concurrent = max_concurrent.max(1);
        let workers = rayon::ThreadPoolBuilder::new()
            .num_threads(max_concurrent)
            .thread_name(|i| format!("argon2-{i}"))
            // The default handler aborts the process; a panic only fails its call (the
            // result channel closes).
            .panic_handler(|_| tracing::error!("password hash panicked"))
            .build()
            .map_err(|e| AuthError::internal(format!("hash threads: {e}")))?;
        Ok(Self {
            argon2,
            workers: Arc::new(workers),
            permits: Arc::new(Semaphore::new(max_concurrent)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_queue,
            queue_timeout,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Runs `f` on a hash thread once a hashing slot is free.
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
                    .map_err(|_| AuthError::internal("hasher closed"))?
            }
        };
        let argon2 = self.argon2.clone();
        let (done, result) = tokio::sync::oneshot::channel();
        // The permit bounds the work given to the pool, so nothing queues inside it.
        self.workers.spawn(move || {
            let out = f(&argon2);
            drop(permit);
            // The caller may have gone away; the hash is simply dropped then.
            let _ = done.send(out);
        });
        result.await.map_err(|_| AuthError::internal("hash task failed"))
    }

    /// A PHC string for a new password.
    pub async fn hash(&self, password: Password) -> Result<String, AuthError> {
        self.run(move |argon2| hash_phc(argon2, password.expose().as_bytes()))
            .await?
            .map_err(|e| AuthError::internal(format!("argon2: {e}")))
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown user) it checks
    /// against the dummy hash and answers `false`, taking the same time.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<bool, AuthError> {
        Ok(self.verify_upgrading(password, stored, false).await?.matched)
    }

    /// Like [`verify`](Self::verify); when the password matches a hash made with weaker
    /// parameters than configured (algorithm, version, m, t or p) and `upgrade` is set,
    /// also hashes it anew with the configured ones, on the same hash thread and slot.
    pub async fn verify_upgrading(
        &self,
        password: Password,
        stored: Option<String>,
        upgrade: bool,
    ) -> Result<Verified, AuthError> {
        let known = stored.is_some();
        let phc: String = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let (matched, rehashed) = self
            .run(move |argon2| {
                let password = password.expose().as_bytes();
                let matched = verify_phc(password, &phc);
                let rehashed = (known && matched && upgrade && is_weaker(&phc, argon2.params()))
                    .then(|| hash_phc(argon2, password).ok())
                    .flatten();
                (matched, rehashed)
            })
            .await?;
        Ok(Verified {
            matched: known && matched,
            rehashed,
        })
    }
}

/// What checking a password found.
#[derive(Debug)]
pub struct Verified {
    /// The password is right. Always false for an unknown user, checked against the
    /// dummy hash so that it takes the same time.
    pub matched: bool,
    /// A new PHC string with the configured parameters, when the stored one was weaker.
    pub rehashed: Option<String>,
}

/// Whether the PHC string was made with weaker settings than `configured` argon2id v19:
/// another algorithm or version, or less memory, fewer iterations or lanes. An
/// unparsable string is not "weaker": it never verifies, so there is nothing to upgrade.
fn is_weaker(phc: &str, configured: &Params) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon2id = parsed.algorithm.as_str() == Algorithm::Argon2id.ident().as_str();
    let v19 = parsed
        .version
        .is_some_and(|v| Version::try_from(v).is_ok_and(|v| v == Version::V0x13));
    !argon2id
        || !v19
        || params.m_cost() < configured.m_cost()
        || params.t_cost() < configured.t_cost()
        || params.p_cost() < configured.p_cost()
}

thread_local! {
    /// This hash thread's argon2 working memory (m KiB), kept for the thread's life.
    /// Allocated per hash instead, glibc's arenas fragmented around the 19 MiB blocks:
    /// 207 MiB resident after 60 logins on 2 threads (faults.rs login flood test).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 of `password` and `salt` into `out`, in this thread's memory.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    MEMORY.with_borrow_mut(|blocks| {
        let need = argon2.params().block_count();
        if blocks.len() < need {
            blocks.resize(need, Block::new());
        }
        let blocks = &mut blocks[..need];
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut *blocks);
        // argon2 writes every block before it reads it, so this is not for the next hash:
        // the memory is derived from the password, and must not outlive the call (in a
        // core dump, a swapped page, a later bug that reads it).
        blocks.iter_mut().for_each(Zeroize::zeroize);
        result
    })
}

/// A new PHC string, as `PasswordHasher::hash_password` makes it, in this thread's memory.
fn hash_phc(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, String> {
    let salt = argon2::password_hash::try_generate_salt().map_err(|e| format!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(argon2, password, &salt, &mut out).map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string, with the algorithm, version and parameters
/// stored in it (so hashes made with older parameters keep verifying), compared in
/// constant time (`Output`'s `PartialEq`): what `PasswordVerifier` does, in this
/// thread's memory.
fn verify_phc(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    compute(&argon2, password, salt, out).is_ok()
        && Output::new(out).is_ok_and(|computed| computed == *expected)
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

    #[test]
    fn agrees_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let ours = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19 * 1024, 2, 1, None).unwrap(),
        );
        let phc = hash_phc(&ours, b"pw one").unwrap();
        assert!(
            ours.verify_password(b"pw one", &PasswordHash::new(&phc).unwrap())
                .is_ok()
        );
        assert!(
            ours.verify_password(b"pw two", &PasswordHash::new(&phc).unwrap())
                .is_err()
        );
        // Hashes the crate made, with other parameters (smaller and larger memory than
        // the thread's buffer holds, another variant), verify here.
        for (alg, m, t) in [
            (Algorithm::Argon2id, 8 * 1024, 1),
            (Algorithm::Argon2id, 24 * 1024, 2),
            (Algorithm::Argon2i, 4 * 1024, 3),
        ] {
            let theirs = Argon2::new(alg, Version::V0x13, Params::new(m, t, 1, None).unwrap());
            let phc = theirs.hash_password(b"pw three").unwrap().to_string();
            assert!(verify_phc(b"pw three", &phc), "{phc}");
            assert!(!verify_phc(b"pw thre", &phc), "{phc}");
        }
        // The memory stays with the thread, at the largest size used, wiped after use.
        assert_eq!(MEMORY.with_borrow(|b| b.len()), 24 * 1024);
        assert!(
            MEMORY.with_borrow(|b| b.iter().all(|block| block.as_ref().iter().all(|w| *w == 0))),
            "argon2 memory left unwiped"
        );
        for broken in ["", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", "$md5$abc"] {
            assert!(!verify_phc(b"pw", broken));
        }
    }

    #[test]
    fn weaker_hashes_are_recognised() {
        let configured = Params::new(19 * 1024, 3, 1, None).unwrap();
        let phc = |alg: Algorithm, v: Version, m, t, p| {
            hash_phc(&Argon2::new(alg, v, Params::new(m, t, p, None).unwrap()), b"pw").unwrap()
        };
        let id = Algorithm::Argon2id;
        let v19 = Version::V0x13;
        assert!(!is_weaker(&phc(id, v19, 19 * 1024, 3, 1), &configured));
        assert!(!is_weaker(&phc(id, v19, 20 * 1024, 4, 2), &configured));
        assert!(is_weaker(&phc(id, v19, 19 * 1024, 2, 1), &configured));
        assert!(is_weaker(&phc(id, v19, 8 * 1024, 3, 1), &configured));
        assert!(!is_weaker("not a phc string", &configured));
        // hash_phc always writes argon2id v19 into the string; another algorithm or
        // version is recognised from the string.
        let argon2i = phc(id, v19, 19 * 1024, 3, 1).replacen("$argon2id$", "$argon2i$", 1);
        assert!(is_weaker(&argon2i, &configured));
        let v16 = phc(id, v19, 19 * 1024, 3, 1).replacen("$v=19$", "$v=16$", 1);
        assert!(is_weaker(&v16, &configured));
    }

    #[tokio::test]
    async fn weaker_hashes_are_upgraded_when_the_password_matches() {
        let old = Hasher::new(HashParams::default(), 1, 8, Duration::from_secs(5)).unwrap();
        let stronger = HashParams {
            iterations: 3,
            ..HashParams::default()
        };
        let new = Hasher::new(stronger, 1, 8, Duration::from_secs(5)).unwrap();
        let phc = old.hash(pw("correct horse")).await.unwrap();
        let v = new
            .verify_upgrading(pw("correct horse"), Some(phc.clone()), true)
            .await
            .unwrap();
        assert!(v.matched);
        let upgraded = v.rehashed.expect("rehashed");
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=19456,t=3,p=1$"),
            "{upgraded}"
        );
        assert!(
            new.verify(pw("correct horse"), Some(upgraded.clone()))
                .await
                .unwrap()
        );
        // Not for a wrong password, an unknown user, or a hash as strong as configured.
        let v = new
            .verify_upgrading(pw("wrong horse"), Some(phc.clone()), true)
            .await
            .unwrap();
        assert!(!v.matched && v.rehashed.is_none());
        let v = new
            .verify_upgrading(pw("correct horse"), None, true)
            .await
            .unwrap();
        assert!(!v.matched && v.rehashed.is_none());
        let v = new
            .verify_upgrading(pw("correct horse"), Some(upgraded), true)
            .await
            .unwrap();
        assert!(v.matched && v.rehashed.is_none());
        // And only when asked.
        let v = new
            .verify_upgrading(pw("correct horse"), Some(phc), false)
            .await
            .unwrap();
        assert!(v.matched && v.rehashed.is_none());
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
