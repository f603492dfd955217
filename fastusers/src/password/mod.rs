//! Password hashing: argon2id, with bcrypt hashes verified for migrated databases.
//!
//! Hashing is deliberately slow, so the async API runs it on fastusers' own hashing threads
//! (one per core, at a lower priority) and never on an async worker thread: a storm of logins
//! cannot stall the rest of the server.

mod pool;

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The argon2 parameters are invalid.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The hashing thread could not be started, or panicked.
    #[error("password hashing task failed: {0}")]
    Task(String),
}

/// Argon2id cost parameters.
///
/// The default is fastapi-users' (argon2-cffi's): 64 MiB of memory, 3 passes, 4 lanes. The lanes
/// are computed in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 65536,
            iterations: 3,
            parallelism: 4,
        }
    }
}

/// Hashes and verifies passwords. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use fastusers::password::{Argon2Params, PasswordHelper};
///
/// // Small parameters keep the example fast; use the defaults in production.
/// let helper = PasswordHelper::new(Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 }).unwrap();
/// let hash = helper.hash("guinevere".to_owned()).await.unwrap();
/// assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
/// let (ok, new_hash) = helper.verify_and_update("guinevere".to_owned(), hash).await.unwrap();
/// assert!(ok && new_hash.is_none());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PasswordHelper {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Argon2Params,
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when the email is unknown so that a
    /// login takes as long whether or not the user exists. Made on first use, on a hashing
    /// thread, rather than at start-up.
    dummy_hash: std::sync::OnceLock<String>,
}

impl Default for PasswordHelper {
    fn default() -> Self {
        Self::new(Argon2Params::default()).expect("the default argon2 parameters are valid")
    }
}

impl PasswordHelper {
    /// A helper hashing with these parameters.
    pub fn new(params: Argon2Params) -> Result<Self, PasswordError> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let inner = Inner {
            params,
            argon2,
            dummy_hash: std::sync::OnceLock::new(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// Hashes a password on a hashing thread.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let inner = self.inner.clone();
        pool::run(move || inner.hash(&password)).await?
    }

    /// Checks `password` against `hash` on a hashing thread. Returns whether it matches and,
    /// when it does but the hash is outdated (other argon2 parameters, or bcrypt), a new hash
    /// to store.
    pub async fn verify_and_update(
        &self,
        password: String,
        hash: String,
    ) -> Result<(bool, Option<String>), PasswordError> {
        let inner = self.inner.clone();
        pool::run(move || inner.verify_and_update(&password, &hash)).await?
    }

    /// Spends the time of one verification without a user, so that an unknown email answers
    /// no faster than a wrong password.
    pub async fn burn(&self, password: String) -> Result<(), PasswordError> {
        let inner = self.inner.clone();
        pool::run(move || {
            let dummy = inner.dummy_hash.get_or_init(|| {
                // Cannot fail: `new` checked the parameters.
                inner
                    .hash(&crate::token::random_token())
                    .unwrap_or_default()
            });
            let _ = inner.verify_and_update(&password, dummy);
        })
        .await
    }

    /// A stored "hash" that no password matches, for users who sign up through an OAuth
    /// provider and have no password yet (a password reset gives them one).
    pub fn unusable() -> String {
        format!("{UNUSABLE_PREFIX}{}", crate::token::random_token())
    }

    /// Whether some password matches this stored hash (false for [`unusable`](Self::unusable)
    /// ones).
    pub fn is_usable(hash: &str) -> bool {
        !hash.starts_with(UNUSABLE_PREFIX)
    }

    /// Synchronous hash, for commands and tests outside a runtime.
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        self.inner.hash(password)
    }
}

/// How [`PasswordHelper::unusable`] hashes begin: no argon2 or bcrypt hash does.
const UNUSABLE_PREFIX: &str = "!unusable$";

impl Inner {
    fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.argon2
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    fn verify_and_update(
        &self,
        password: &str,
        hash: &str,
    ) -> Result<(bool, Option<String>), PasswordError> {
        if !PasswordHelper::is_usable(hash) {
            // As long as a wrong password, so that it tells nothing.
            if let Some(dummy) = self.dummy_hash.get() {
                let _ = self.verify_and_update(password, dummy);
            } else {
                let _ = self.hash(password);
            }
            return Ok((false, None));
        }
        if is_bcrypt(hash) {
            let ok = bcrypt::verify(password, hash).unwrap_or(false);
            return Ok((ok, if ok { Some(self.hash(password)?) } else { None }));
        }
        let Ok(parsed) = PasswordHash::new(hash) else {
            tracing::warn!("stored password hash is in an unknown format");
            return Ok((false, None));
        };
        if self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Ok((false, None));
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() == self.params.memory_kib
                    && p.t_cost() == self.params.iterations
                    && p.p_cost() == self.params.parallelism
            });
        Ok((
            true,
            if current {
                None
            } else {
                Some(self.hash(password)?)
            },
        ))
    }
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| hash.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PasswordHelper {
        PasswordHelper::new(Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 2,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let helper = small();
        let hash = helper.hash("lancelot".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=2$"));
        assert_eq!(
            helper
                .verify_and_update("lancelot".into(), hash.clone())
                .await
                .unwrap(),
            (true, None)
        );
        assert_eq!(
            helper
                .verify_and_update("galahad".into(), hash)
                .await
                .unwrap(),
            (false, None)
        );
    }

    #[tokio::test]
    async fn outdated_parameters_are_rehashed() {
        let old = PasswordHelper::new(Argon2Params {
            memory_kib: 512,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let hash = old.hash("lancelot".into()).await.unwrap();
        let (ok, new_hash) = small()
            .verify_and_update("lancelot".into(), hash)
            .await
            .unwrap();
        assert!(ok);
        assert!(
            new_hash
                .unwrap()
                .starts_with("$argon2id$v=19$m=1024,t=1,p=2$")
        );
    }

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_upgrade() {
        let helper = PasswordHelper::default();
        // bcrypt (verify-only legacy in the reference), cost 4 to keep the test fast.
        let bcrypt_hash = bcrypt::hash_with_result("guinevere", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        let (ok, new_hash) = helper
            .verify_and_update("guinevere".into(), bcrypt_hash.clone())
            .await
            .unwrap();
        assert!(ok);
        assert!(
            new_hash
                .unwrap()
                .starts_with("$argon2id$v=19$m=65536,t=3,p=4$")
        );
        assert_eq!(
            helper
                .verify_and_update("wrong".into(), bcrypt_hash)
                .await
                .unwrap(),
            (false, None)
        );
    }

    #[tokio::test]
    async fn fastapi_users_argon2_hashes_verify_without_rehash() {
        // Made by fastapi-users 15.0.5's pwdlib (argon2-cffi defaults) for "guinevere".
        let hash = "$argon2id$v=19$m=65536,t=3,p=4$KR6AyksI1Z9oZKnh0zYl/w$cNyHjwh7Acvuo9yzwPtjMzNAm0zvtBMUj4FFmYer1fM";
        let helper = PasswordHelper::default();
        assert_eq!(
            helper
                .verify_and_update("guinevere".into(), hash.into())
                .await
                .unwrap(),
            (true, None)
        );
        assert_eq!(
            helper
                .verify_and_update("lancelot".into(), hash.into())
                .await
                .unwrap(),
            (false, None)
        );
    }

    /// On a runtime with one worker thread, other tasks keep running while a hash is computed:
    /// the hash is on a hashing thread. Were it computed inline, the ticker could not run.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_never_blocks_the_async_worker() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let helper = PasswordHelper::default();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        tokio::task::yield_now().await;
        for _ in 0..2 {
            let before = ticks.load(Ordering::SeqCst);
            let hash = helper.hash("guinevere".into()).await.unwrap();
            let (ok, _) = helper
                .verify_and_update("guinevere".into(), hash)
                .await
                .unwrap();
            assert!(ok);
            helper.burn("guinevere".into()).await.unwrap();
            let during = ticks.load(Ordering::SeqCst) - before;
            assert!(
                during >= 3,
                "the worker was blocked: {during} ticks during three argon2id computations"
            );
        }
        ticker.abort();
    }

    /// The hashing threads, and the threads argon2's parallel lanes run on, are niced below
    /// the async workers, so that a storm of logins leaves the CPU to the other requests.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_at_a_lower_priority() {
        let here = pool::current_priority();
        let (there, lanes) = pool::run(|| {
            let lanes: Vec<i32> = (0..pool::threads() * 4)
                .map(|_| {
                    rayon::join(pool::current_priority, || {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    })
                    .0
                })
                .collect();
            (pool::current_priority(), lanes)
        })
        .await
        .unwrap();
        assert_eq!(
            there,
            (here + pool::NICENESS).min(19),
            "hashing thread's nice value"
        );
        assert!(lanes.iter().all(|&n| n == there), "lanes ran at {lanes:?}");
    }

    /// Callers that stop waiting (a client that went away mid-login) do not free their slot
    /// before their hash is done: never more hashes run at once, in the whole process, than
    /// there are slots, so memory stays bounded by one argon2 buffer per core.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abandoned_hashes_keep_their_slot() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        for _ in 0..4 {
            let mut callers = Vec::new();
            for _ in 0..pool::threads() * 3 {
                let (running, most) = (running.clone(), most.clone());
                let work = pool::run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Parallel lanes, as argon2's: a thread waiting for its other half
                    // steals whatever job the pool has queued.
                    let lane = || std::thread::sleep(Duration::from_millis(15));
                    rayon::join(lane, lane);
                    rayon::join(lane, lane);
                    running.fetch_sub(1, Ordering::SeqCst);
                });
                // Each caller gives up long before its work is done.
                callers.push(tokio::time::timeout(Duration::from_millis(5), work));
            }
            for caller in callers {
                let _ = caller.await;
            }
        }
        while running.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most >= 1, "no hash ran");
        assert!(
            most <= pool::threads(),
            "{most} hashes ran at once with {} slots",
            pool::threads()
        );
    }

    #[tokio::test]
    async fn unknown_format_is_a_mismatch() {
        assert_eq!(
            small()
                .verify_and_update("x".into(), "plain".into())
                .await
                .unwrap(),
            (false, None)
        );
    }
}
