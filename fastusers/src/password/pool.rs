//! The threads that hash passwords: one per core, at a lower scheduling priority than the rest
//! of the process.
//!
//! argon2's lanes run in parallel on whichever rayon pool they are started from, so running
//! each hash inside this pool keeps every thread that computes argon2 here. Their nice value
//! is raised to the lowest priority (Linux), so that during a storm of logins the async
//! workers still get the CPU whenever they have work: hashing takes the time the rest of the
//! server leaves, and `GET /users/me` keeps its latency. The cost: a server whose CPU is
//! saturated by other requests logs users in more slowly.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use super::PasswordError;

/// How much lower than the thread that starts them hashing threads run (the nice increment;
/// nice values stop at 19, the lowest priority). Nice 10 still let a login storm triple
/// `GET /users/me`'s p99 on two cores (3.5 times idle in `scripts/bench`); at 19, 2.7 times.
pub(super) const NICENESS: i32 = 19;

/// The shared pool: every [`PasswordHelper`](super::PasswordHelper) of the process hashes on
/// it, since the CPU is shared too.
fn pool() -> Result<&'static rayon::ThreadPool, PasswordError> {
    static POOL: OnceLock<Result<rayon::ThreadPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .thread_name(|i| format!("fastusers-hash-{i}"))
            .start_handler(|_| lower_priority())
            // A panic must not abort the process (rayon's default for spawned jobs): the
            // caller sees its result channel closed instead.
            .panic_handler(|_| {})
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| PasswordError::Task(format!("cannot start the hashing threads: {e}")))
}

/// One hashing thread per core.
pub(super) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // `PRIO_PROCESS` with a thread id reads and sets that thread's nice value alone on Linux.
    // A new thread starts with its creator's.
    let tid = rustix::thread::gettid();
    let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    let lower = (now + NICENESS).min(19);
    if let Err(error) = rustix::process::setpriority_process(Some(tid), lower) {
        tracing::warn!(%error, "could not lower the priority of a password hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {
    let _ = NICENESS;
}

/// Hashes in flight at most, for the whole process: one per hashing thread. More would not go
/// faster and each would hold its own argon2 memory (a thread waiting for its lanes would
/// steal a queued hash and start it); the rest wait their turn, first come first served, as
/// cheap futures.
fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(threads())))
}

/// Runs `f` on a hashing thread once a slot is free, and waits for it without blocking the
/// async worker. The slot is held until `f` is done, not until the caller stops waiting: a
/// request dropped mid-hash (the client went away) must not let another hash start next to
/// the one still running.
pub(super) async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    // The semaphore is never closed, so acquiring cannot fail.
    let slot = slots()
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool()?.spawn_fifo(move || {
        let done = f();
        drop(slot);
        let _ = tx.send(done);
    });
    rx.await
        .map_err(|_| PasswordError::Task("the hashing thread panicked".to_owned()))
}

/// The nice value of the calling thread (tests).
#[cfg(all(test, target_os = "linux"))]
pub(super) fn current_priority() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}
