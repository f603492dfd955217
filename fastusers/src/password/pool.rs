//! The threads that hash passwords, at a lower scheduling priority than the rest of the
//! process.
//!
//! There is one hashing *slot* per core, and at most one hash per slot at a time. Each slot
//! owns a small rayon pool of its own on which its hash runs, argon2's parallel lanes
//! included. Two properties follow from that layout and from nothing else:
//!
//! - **No nesting.** A rayon thread that waits for a lane (inside `join`) steals whatever job
//!   its pool has queued. A slot's pool only ever holds the lanes of its one hash, so a waiting
//!   thread can only help with its own hash; it never starts a second hash inside the first
//!   (which would double the first one's latency, and deadlock if the first holds a lock or a
//!   once-cell that the second takes: the bug of the shared pool this replaces).
//! - **No waiting on each other.** A hash never waits for anything another hash holds: the
//!   slots are handed out before a job starts, by an async semaphore, never from inside a job.
//!
//! The threads' nice value is raised to the lowest priority (Linux), so that during a storm of
//! logins the async workers still get the CPU whenever they have work: hashing takes the time
//! the rest of the server leaves, and `GET /users/me` keeps its latency. The cost: a server
//! whose CPU is saturated by other requests logs users in more slowly.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::PasswordError;

/// How much lower than the thread that starts them hashing threads run (the nice increment;
/// nice values stop at 19, the lowest priority). Nice 10 still let a login storm triple
/// `GET /users/me`'s p99 on two cores (3.5 times idle in `scripts/bench`); at 19, 2.7 times.
pub(super) const NICENESS: i32 = 19;

/// Threads per slot at most: argon2's default (and fastapi-users') 4 lanes.
const MAX_LANE_THREADS: usize = 4;

/// One hashing slot per core: more hashes at once would not go faster, and each holds its own
/// argon2 memory.
pub(super) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The slots of the process: every [`PasswordHelper`](super::PasswordHelper) hashes on them,
/// since the CPU is shared too.
struct Slots {
    /// One permit per free slot, handed out first come, first served.
    permits: Arc<Semaphore>,
    /// The pools of the free slots; a holder of a permit always finds one here.
    free: Mutex<Vec<Arc<rayon::ThreadPool>>>,
}

fn slots() -> Result<&'static Slots, PasswordError> {
    static SLOTS: OnceLock<Result<Slots, String>> = OnceLock::new();
    SLOTS
        .get_or_init(|| {
            let count = threads();
            let lanes = count.clamp(1, MAX_LANE_THREADS);
            let pools = (0..count)
                .map(|slot| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(lanes)
                        .thread_name(move |i| format!("fastusers-hash-{slot}.{i}"))
                        .start_handler(|_| lower_priority())
                        // A panic must not abort the process (rayon's default for spawned
                        // jobs): the caller sees its result channel closed instead.
                        .panic_handler(|_| {})
                        .build()
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Slots {
                permits: Arc::new(Semaphore::new(count)),
                free: Mutex::new(pools),
            })
        })
        .as_ref()
        .map_err(|e| PasswordError::Task(format!("cannot start the hashing threads: {e}")))
}

/// A slot taken by one job: its pool goes back to the free list, then its permit is
/// released, when the job ends (normally or by a panic).
struct Taken {
    pool: Option<Arc<rayon::ThreadPool>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let (Some(pool), Ok(slots)) = (self.pool.take(), slots()) {
            slots
                .free
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(pool);
        }
        // `_permit` is dropped after this body: the pool is back before the next taker looks.
    }
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

/// Runs `f` on a hashing slot once one is free, and waits for it without blocking the async
/// worker. The slot is held until `f` is done, not until the caller stops waiting: a request
/// dropped mid-hash (the client went away) must not let another hash start next to the one
/// still running.
///
/// `expected` is how long `f` should take at most; when it runs much longer, a warning is
/// logged (once), so that a hash stuck for any reason is seen rather than silently holding
/// its slot.
pub(super) async fn run<T: Send + 'static>(
    expected: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let slots = slots()?;
    // The semaphore is never closed, so acquiring cannot fail.
    let permit = slots
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?;
    let pool = slots
        .free
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .ok_or_else(|| PasswordError::Task("no free hashing slot for a permit".to_owned()))?;
    let taken = Taken {
        pool: Some(pool.clone()),
        _permit: permit,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = Instant::now();
    pool.spawn(move || {
        let done = f();
        drop(taken);
        let _ = tx.send(done);
    });
    let mut rx = std::pin::pin!(rx);
    let answer = tokio::select! {
        answer = &mut rx => answer,
        () = tokio::time::sleep(expected) => {
            tracing::warn!(
                target: "fastusers::password",
                expected_ms = expected.as_millis() as u64,
                "a password hash is taking far longer than its parameters allow; still waiting"
            );
            rx.await
        }
    };
    let answer =
        answer.map_err(|_| PasswordError::Task("the hashing thread panicked".to_owned()))?;
    let took = started.elapsed();
    if took > expected {
        tracing::warn!(
            target: "fastusers::password",
            took_ms = took.as_millis() as u64,
            expected_ms = expected.as_millis() as u64,
            "a password hash took far longer than its parameters allow"
        );
    }
    Ok(answer)
}

/// The nice value of the calling thread (tests).
#[cfg(all(test, target_os = "linux"))]
pub(super) fn current_priority() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}
