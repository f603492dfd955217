//! Password hashing: argon2id, with bcrypt hashes verified for migrated databases.
//!
//! Hashing is deliberately slow, so the async API runs it on fastusers' own hashing threads
//! (one per core, at a lower priority) and never on an async worker thread: a storm of logins
//! cannot stall the rest of the server.

mod policy;
mod pool;
#[cfg(feature = "pwned-passwords")]
mod pwned;

pub use self::policy::{PasswordPolicy, is_common_password};
#[cfg(feature = "pwned-passwords")]
pub use self::pwned::{PwnedError, PwnedPasswords};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The argon2 parameters are invalid, or argon2 refused its input.
    #[error("argon2 failed")]
    Argon2(#[from] argon2::Error),
    /// A PHC hash string could not be made.
    #[error("could not encode the password hash")]
    Encoding(#[from] argon2::password_hash::Error),
    /// No hashing slot became free within the helper's [`max_wait`](PasswordHelper::max_wait):
    /// the server is hashing at capacity. Answered `503` with `Retry-After`; no hash was spent.
    #[error("every password hashing slot stayed busy for {waited:?}")]
    Busy {
        /// How long the caller waited.
        waited: std::time::Duration,
    },
    /// The hashing threads could not be started.
    #[error("cannot start the password hashing threads")]
    Threads(#[source] Arc<rayon::ThreadPoolBuildError>),
    /// The hashing slots were shut down.
    #[error("the password hashing slots are closed")]
    Closed(#[from] tokio::sync::AcquireError),
    /// A permit was granted but no slot was free: a bug in fastusers.
    #[error("no free hashing slot for a granted permit")]
    NoFreeSlot,
    /// The hashing job panicked.
    #[error("the password hashing thread panicked")]
    Panicked,
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
    max_wait: Duration,
}

#[derive(Debug)]
struct Inner {
    params: Argon2Params,
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when the email is unknown so that a
    /// login takes as long whether or not the user exists. Made on first use, on a hashing
    /// thread, rather than at start-up, and never waited for: a job that finds it missing
    /// makes one itself (as long as a verification) and offers it, so no hashing job ever
    /// waits for another (see `pool`).
    dummy_hash: std::sync::OnceLock<String>,
    /// The fastest hash seen so far, in microseconds (0: none yet): what these parameters
    /// cost on this machine, against which a stuck or starved hash is noticed.
    fastest_micros: AtomicU64,
}

/// The default of [`PasswordHelper::max_wait`].
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(5);

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
            Some(Params::DEFAULT_OUTPUT_LEN),
        )?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let inner = Inner {
            params,
            argon2,
            dummy_hash: std::sync::OnceLock::new(),
            fastest_micros: AtomicU64::new(0),
        };
        Ok(Self {
            inner: Arc::new(inner),
            max_wait: DEFAULT_MAX_WAIT,
        })
    }

    /// How long a hash may wait for a free hashing slot before it is refused with
    /// [`PasswordError::Busy`] (a login, registration or password change then answers `503`
    /// with `Retry-After`, having cost no hash). Under a flood of logins, the ones admitted
    /// finish in bounded time instead of every one waiting in an endless queue. Default:
    /// [`DEFAULT_MAX_WAIT`] (5 s).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// Hashes a password on a hashing thread.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.run("hash", move |inner, scratch| inner.hash(&password, scratch))
            .await?
    }

    /// Checks `password` against `hash` on a hashing thread. Returns whether it matches and,
    /// when it does but the hash is outdated (other argon2 parameters, or bcrypt), a new hash
    /// to store.
    pub async fn verify_and_update(
        &self,
        password: String,
        hash: String,
    ) -> Result<(bool, Option<String>), PasswordError> {
        self.run("verify", move |inner, scratch| {
            inner.verify_and_update(&password, &hash, scratch)
        })
        .await?
    }

    /// Spends the time of one verification without a user, so that an unknown email answers
    /// no faster than a wrong password.
    pub async fn burn(&self, password: String) -> Result<(), PasswordError> {
        self.run("verify", move |inner, scratch| {
            inner.burn(&password, scratch)
        })
        .await
    }

    /// Runs `job` on a hashing slot, timing it (for the metrics, as `operation`) and, for a
    /// `hash` (one full argon2id hash with these parameters), against the fastest hash seen so
    /// far.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        job: impl FnOnce(&Inner, &mut pool::Scratch) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let inner = self.inner.clone();
        let fastest = Duration::from_micros(inner.fastest_micros.load(Ordering::Relaxed));
        // Far longer than these parameters allow: 20 times the fastest hash seen (a loaded
        // machine is slower, not 20 times), at least a second; before any, half a minute (an
        // unoptimised build takes seconds).
        let expected = if fastest.is_zero() {
            Duration::from_secs(30)
        } else {
            (fastest * 20).max(Duration::from_secs(1))
        };
        pool::run(self.max_wait, expected, move |scratch| {
            let started = Instant::now();
            let done = job(&inner, scratch);
            let took = started.elapsed();
            crate::metrics::hashed(operation, took);
            if operation == "hash" {
                inner.saw(took);
            }
            done
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
        self.inner.hash(password, &mut pool::Scratch::default())
    }
}

/// How [`PasswordHelper::unusable`] hashes begin: no argon2 or bcrypt hash does.
const UNUSABLE_PREFIX: &str = "!unusable$";

impl Inner {
    /// Records how long a full hash took.
    fn saw(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .fastest_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |seen| {
                (seen == 0 || micros < seen).then_some(micros)
            });
    }

    /// A new argon2id hash with these parameters and a random salt, in PHC format, computed
    /// in the slot's memory.
    fn hash(&self, password: &str, scratch: &mut pool::Scratch) -> Result<String, PasswordError> {
        let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
        getrandom::fill(&mut salt).expect("the operating system's random source failed");
        let params = self.argon2.params();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.argon2.hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            scratch.blocks(params.block_count()),
        )?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: params.try_into()?,
            salt: Some(Salt::new(&salt).map_err(argon2::password_hash::Error::from)?),
            hash: Some(Output::new(&out).map_err(argon2::password_hash::Error::from)?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` matches an argon2 hash, computed with the hash's own parameters in
    /// the slot's memory; `None` when the hash cannot be read.
    fn verify_argon2(
        &self,
        password: &str,
        parsed: &PasswordHash,
        scratch: &mut pool::Scratch,
    ) -> Option<bool> {
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return None;
        };
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .ok()?;
        let params = Params::try_from(parsed).ok()?;
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                scratch.blocks(params.block_count()),
            )
            .ok()?;
        // `Output`'s comparison takes constant time.
        Some(Output::new(&out).ok()? == *expected)
    }

    fn verify_and_update(
        &self,
        password: &str,
        hash: &str,
        scratch: &mut pool::Scratch,
    ) -> Result<(bool, Option<String>), PasswordError> {
        if !PasswordHelper::is_usable(hash) {
            // As long as a wrong password, so that it tells nothing.
            self.burn(password, scratch);
            return Ok((false, None));
        }
        if is_bcrypt(hash) {
            let ok = bcrypt::verify(password, hash).unwrap_or(false);
            return Ok((
                ok,
                if ok {
                    Some(self.hash(password, scratch)?)
                } else {
                    None
                },
            ));
        }
        let Some(ok) = PasswordHash::new(hash)
            .ok()
            .and_then(|parsed| Some((self.verify_argon2(password, &parsed, scratch)?, parsed)))
            .map(|(ok, parsed)| ok.then_some(parsed))
        else {
            tracing::warn!("stored password hash is in an unknown format");
            return Ok((false, None));
        };
        let Some(parsed) = ok else {
            return Ok((false, None));
        };
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
                Some(self.hash(password, scratch)?)
            },
        ))
    }

    /// The time of one verification, against the dummy hash; the first caller makes it
    /// instead (as long), never waiting for another job to (see `pool`).
    fn burn(&self, password: &str, scratch: &mut pool::Scratch) {
        match self.dummy_hash.get() {
            Some(dummy) => {
                let _ = self.verify_and_update(password, dummy, scratch);
            }
            None => {
                if let Ok(dummy) = self.hash(&crate::token::random_token(), scratch) {
                    let _ = self.dummy_hash.set(dummy);
                }
            }
        }
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
        let _turn = SLOTS_TO_MYSELF.lock().await;
        let here = pool::current_priority();
        let (there, lanes) = pool::run(LONG, LONG, |_| {
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
        let _turn = SLOTS_TO_MYSELF.lock().await;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        for _ in 0..4 {
            let mut callers = Vec::new();
            for _ in 0..pool::threads() * 3 {
                let (running, most) = (running.clone(), most.clone());
                let work = pool::run(LONG, LONG, move |_| {
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

    /// The tests that depend on having the hashing slots to themselves take turns.
    static SLOTS_TO_MYSELF: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Longer than any job of these tests may take.
    const LONG: std::time::Duration = std::time::Duration::from_secs(60);

    /// The interleaving that stopped every login (issue 13): a job holding a once-cell waits
    /// for its parallel lanes, and a second job that takes the same cell is queued meanwhile.
    /// With one shared rayon pool, the waiting thread stole the second job, which then waited
    /// for the cell its own thread held: both slots hung forever. Here the second job runs on
    /// a slot of its own, never inside the first, and waits only for the first to finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_never_runs_inside_another() {
        let _turn = SLOTS_TO_MYSELF.lock().await;
        use std::cell::Cell;
        use std::sync::OnceLock;
        use std::time::Duration;
        thread_local!(static IN_JOB: Cell<bool> = const { Cell::new(false) });
        static CELL: OnceLock<u32> = OnceLock::new();
        if pool::threads() < 2 {
            return; // one slot: the jobs run one after the other by construction
        }
        let first = pool::run(LONG, LONG, |_| {
            IN_JOB.with(|f| f.set(true));
            let value = *CELL.get_or_init(|| {
                // Lanes: this thread finishes its half first and waits for the other.
                rayon::join(
                    || std::thread::sleep(Duration::from_millis(30)),
                    || std::thread::sleep(Duration::from_millis(300)),
                );
                1
            });
            IN_JOB.with(|f| f.set(false));
            value
        });
        let second = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            pool::run(LONG, LONG, |_| {
                (IN_JOB.with(Cell::get), *CELL.get_or_init(|| 2))
            })
            .await
        };
        let both = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(first, second)
        })
        .await
        .expect("the hashing slots hung: a job ran inside another and waited on itself");
        let (first, (nested, value)) = (both.0.unwrap(), both.1.unwrap());
        assert!(!nested, "the second job ran inside the first");
        assert_eq!((first, value), (1, 1));
    }

    /// Many logins for unknown emails at once on a fresh helper, whose dummy hash is not made
    /// yet, with parallel lanes: every one answers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_use_logins_all_answer() {
        let _turn = SLOTS_TO_MYSELF.lock().await;
        use std::time::Duration;
        for _ in 0..5 {
            let helper = PasswordHelper::new(Argon2Params {
                memory_kib: 2048,
                iterations: 1,
                parallelism: 4,
            })
            .unwrap();
            let hash = helper.hash("guinevere".into()).await.unwrap();
            let calls = (0..48).map(|i| {
                let (helper, hash) = (helper.clone(), hash.clone());
                tokio::spawn(async move {
                    if i % 3 == 0 {
                        helper
                            .verify_and_update("lancelot".into(), hash)
                            .await
                            .map(|_| ())
                    } else {
                        helper.burn(format!("password {i}")).await
                    }
                })
            });
            let all = futures_join_all(calls.collect());
            let results = tokio::time::timeout(Duration::from_secs(30), all)
                .await
                .expect("logins on a fresh helper hung");
            for result in results {
                result.unwrap().unwrap();
            }
        }
    }

    async fn futures_join_all<T>(
        handles: Vec<tokio::task::JoinHandle<T>>,
    ) -> Vec<Result<T, tokio::task::JoinError>> {
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(handle.await);
        }
        out
    }

    /// A hash that runs far longer than expected is reported in the log, while it runs and
    /// when it ends.
    #[tokio::test(flavor = "current_thread")]
    async fn a_slow_hash_is_logged() {
        let _turn = SLOTS_TO_MYSELF.lock().await;
        use std::sync::Mutex;
        use std::time::Duration;
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        pool::run(LONG, Duration::from_millis(20), |_| {
            std::thread::sleep(Duration::from_millis(200))
        })
        .await
        .unwrap();
        let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.contains("is taking far longer than its parameters allow"),
            "{log}"
        );
        assert!(
            log.contains("took far longer than its parameters allow"),
            "{log}"
        );
    }

    /// A slot keeps its argon2 memory while hashes keep coming, and gives it back once idle.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_memory_is_reused_then_given_back() {
        let _turn = SLOTS_TO_MYSELF.lock().await;
        let helper = small();
        let hash = helper.hash("lancelot".into()).await.unwrap();
        for _ in 0..3 {
            helper
                .verify_and_update("lancelot".into(), hash.clone())
                .await
                .unwrap();
        }
        let held: usize = pool::memory_held().iter().sum();
        assert!(held >= 1024 * 1024, "no slot kept its memory: {held} bytes");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while pool::memory_held().iter().sum::<usize>() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "idle slots still hold {:?} bytes",
                pool::memory_held()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// With every slot busy, a hash that cannot start within its helper's `max_wait` is
    /// refused at once, and never runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_that_cannot_start_in_time_is_refused() {
        use std::time::Duration;
        let _turn = SLOTS_TO_MYSELF.lock().await;
        let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
        let busy: Vec<_> = (0..pool::threads())
            .map(|_| {
                let started_tx = started_tx.clone();
                tokio::spawn(pool::run(LONG, LONG, move |_| {
                    let _ = started_tx.send(());
                    std::thread::sleep(Duration::from_millis(700));
                }))
            })
            .collect();
        for _ in 0..pool::threads() {
            started_rx.recv().await.unwrap();
        }
        let helper = small().max_wait(Duration::from_millis(50));
        let before = std::time::Instant::now();
        let refused = helper.hash("lancelot".into()).await;
        assert!(
            matches!(refused, Err(PasswordError::Busy { .. })),
            "{refused:?}"
        );
        assert!(before.elapsed() < Duration::from_millis(600));
        assert_eq!(
            helper.inner.fastest_micros.load(Ordering::Relaxed),
            0,
            "it hashed"
        );
        for job in busy {
            job.await.unwrap().unwrap();
        }
        // Once a slot is free, it hashes again.
        helper.hash("lancelot".into()).await.unwrap();
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
