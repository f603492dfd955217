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

/// How long a slot keeps its argon2 memory after its last hash: while hashes keep coming,
/// each reuses the memory of the one before (no 64 MiB map, fault and unmap per hash, which
/// cost about 14 % of a login's CPU); at rest the memory goes back to the system.
const KEEP_MEMORY_FOR: Duration = Duration::from_secs(5);

/// The slots of the process: every [`PasswordHelper`](super::PasswordHelper) hashes on them,
/// since the CPU is shared too.
struct Slots {
    /// One permit per free slot, handed out first come, first served.
    permits: Arc<Semaphore>,
    /// The free slots; a holder of a permit always finds one here.
    free: Mutex<Vec<Arc<Slot>>>,
    /// Every slot, for the janitor that gives idle memory back.
    all: Vec<Arc<Slot>>,
    /// The janitor's thread, woken when a hash ends.
    janitor: OnceLock<std::thread::Thread>,
}

/// One hashing slot: its threads and the memory its hashes reuse.
struct Slot {
    pool: rayon::ThreadPool,
    scratch: Mutex<Scratch>,
}

/// The working memory of a slot's hashes, kept between hashes while they keep coming.
#[derive(Default)]
pub(super) struct Scratch {
    blocks: Vec<argon2::Block>,
    last_used: Option<Instant>,
}

impl Scratch {
    /// `count` argon2 blocks (1 KiB each), reusing the memory of the previous hash. Their
    /// content is whatever the previous hash left: argon2 writes every block before it reads
    /// it.
    pub(super) fn blocks(&mut self, count: usize) -> &mut [argon2::Block] {
        if self.blocks.len() != count {
            self.blocks.clear();
            self.blocks.shrink_to(count);
            self.blocks.resize(count, argon2::Block::new());
        }
        &mut self.blocks
    }

    /// Bytes held (tests).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<argon2::Block>()
    }
}

fn slots() -> Result<&'static Slots, PasswordError> {
    static SLOTS: OnceLock<Result<Slots, Arc<rayon::ThreadPoolBuildError>>> = OnceLock::new();
    SLOTS
        .get_or_init(|| {
            let count = threads();
            let lanes = count.clamp(1, MAX_LANE_THREADS);
            let all = (0..count)
                .map(|slot| {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(lanes)
                        .thread_name(move |i| format!("fastusers-hash-{slot}.{i}"))
                        .start_handler(|_| lower_priority())
                        // A panic must not abort the process (rayon's default for spawned
                        // jobs): the caller sees its result channel closed instead.
                        .panic_handler(|_| {})
                        .build()?;
                    Ok(Arc::new(Slot {
                        pool,
                        scratch: Mutex::default(),
                    }))
                })
                .collect::<Result<Vec<_>, rayon::ThreadPoolBuildError>>()
                .map_err(Arc::new)?;
            Ok(Slots {
                permits: Arc::new(Semaphore::new(count)),
                free: Mutex::new(all.clone()),
                all,
                janitor: OnceLock::new(),
            })
        })
        .as_ref()
        .map_err(|e| PasswordError::Threads(e.clone()))
}

/// A slot taken by one job: it goes back to the free list, then its permit is released, when
/// the job ends (normally or by a panic).
struct Taken {
    slot: Option<Arc<Slot>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let (Some(slot), Ok(slots)) = (self.slot.take(), slots()) {
            lock(&slot.scratch).last_used = Some(Instant::now());
            lock(&slots.free).push(slot);
            slots.wake_janitor();
        }
        // `_permit` is dropped after this body: the slot is back before the next taker looks.
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Slots {
    /// Wakes the janitor, starting it on first use: it sleeps until hashes stop, then gives
    /// back the memory of the slots idle for [`KEEP_MEMORY_FOR`].
    fn wake_janitor(&'static self) {
        let thread = self.janitor.get_or_init(|| {
            std::thread::Builder::new()
                .name("fastusers-hash-janitor".to_owned())
                .spawn(move || self.janitor())
                .map(|handle| handle.thread().clone())
                .unwrap_or_else(|_| std::thread::current())
        });
        thread.unpark();
    }

    fn janitor(&self) {
        loop {
            std::thread::park();
            // Hashes ended: free each slot's memory once it has been idle long enough.
            loop {
                std::thread::sleep(KEEP_MEMORY_FOR / 2);
                let mut holding = false;
                for slot in &self.all {
                    // A slot hashing right now holds its scratch; it is not idle.
                    let Ok(mut scratch) = slot.scratch.try_lock() else {
                        holding = true;
                        continue;
                    };
                    let idle = scratch
                        .last_used
                        .is_none_or(|t| t.elapsed() >= KEEP_MEMORY_FOR);
                    if idle {
                        scratch.blocks = Vec::new();
                    } else if !scratch.blocks.is_empty() {
                        holding = true;
                    }
                }
                if !holding {
                    break;
                }
            }
        }
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
/// `f` gets the slot's [`Scratch`] memory. A caller that cannot start within `max_wait` (every
/// slot busy, and the callers before it too) gets [`PasswordError::Busy`] and costs no hash.
///
/// `expected` is how long `f` should take at most; when it runs much longer, a warning is
/// logged (once), so that a hash stuck for any reason is seen rather than silently holding
/// its slot.
pub(super) async fn run<T: Send + 'static>(
    max_wait: Duration,
    expected: Duration,
    f: impl FnOnce(&mut Scratch) -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let slots = slots()?;
    let permit = match tokio::time::timeout(max_wait, slots.permits.clone().acquire_owned()).await {
        Ok(permit) => permit?,
        Err(_) => {
            return Err(PasswordError::Busy { waited: max_wait });
        }
    };
    let slot = lock(&slots.free).pop().ok_or(PasswordError::NoFreeSlot)?;
    let taken = Taken {
        slot: Some(slot.clone()),
        _permit: permit,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = Instant::now();
    let job_slot = slot.clone();
    slot.pool.spawn(move || {
        // The scratch stays locked while the hash runs: the janitor sees the slot busy.
        let done = f(&mut lock(&job_slot.scratch));
        drop(job_slot);
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
    let answer = answer.map_err(|_| PasswordError::Panicked)?;
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

/// The memory each slot holds, in bytes (tests).
#[cfg(test)]
pub(super) fn memory_held() -> Vec<usize> {
    slots().map_or_else(
        |_| Vec::new(),
        |s| {
            s.all
                .iter()
                .map(|slot| lock(&slot.scratch).held())
                .collect()
        },
    )
}

/// The nice value of the calling thread (tests).
#[cfg(all(test, target_os = "linux"))]
pub(super) fn current_priority() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}
