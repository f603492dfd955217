//! [`ThrottleStore`]: where the throttle's counts are kept, in memory or in Redis.
//!
//! A count is a number of places taken under a key in a fixed window. A login takes its place
//! before its password is checked, in one atomic step that also compares with the limit, so
//! that logins sent at the same moment cannot all read the same count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Limit;

/// The answer of [`ThrottleStore::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A place was taken.
    Taken,
    /// The count is at its limit: nothing was taken. The window ends in `retry_after`.
    Full {
        /// The time left in the window.
        retry_after: Duration,
    },
}

/// A throttle store failed. The throttle logs it and lets the login through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrottleStoreError {
    /// The Redis server failed or could not be reached.
    #[cfg(feature = "redis")]
    #[error("the throttle's Redis server failed")]
    Redis(#[from] redis::RedisError),
    /// The Redis server answered something the throttle's script never returns.
    #[cfg(feature = "redis")]
    #[error("the throttle's Redis script answered {0:?}")]
    UnexpectedAnswer(Vec<i64>),
    /// Another store failed (for implementations outside fastusers).
    #[error("the throttle store failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the throttle's counts are kept. Each method acts on one key, atomically.
#[async_trait::async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Takes a place under `key` when fewer than `limit.max_failures` are taken in its current
    /// window, opening a window of `limit.window` when none is open; otherwise takes nothing
    /// and says how long the window has left. Must be atomic: of any number of concurrent
    /// calls, at most `max_failures` take a place in one window.
    async fn take(&self, key: &str, limit: Limit) -> Result<Take, ThrottleStoreError>;
    /// Gives back one place taken under `key` in its current window (a login that turned out
    /// not to be a failure); nothing when the window has ended.
    async fn give_back(&self, key: &str) -> Result<(), ThrottleStoreError>;
    /// Forgets every place under `key`.
    async fn reset(&self, key: &str) -> Result<(), ThrottleStoreError>;
}

/// Counts in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryThrottleStore {
    counters: Mutex<HashMap<String, (u32, Instant)>>,
}

/// How many counters the memory store keeps before it drops expired ones.
const MEMORY_SWEEP_AT: usize = 10_000;

impl MemoryThrottleStore {
    fn counters(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn take(&self, key: &str, limit: Limit) -> Result<Take, ThrottleStoreError> {
        let mut counters = self.counters();
        let now = Instant::now();
        if counters.len() >= MEMORY_SWEEP_AT {
            counters.retain(|_, (_, until)| *until > now);
        }
        let entry = counters.entry(key.to_owned()).or_insert((0, now));
        if entry.1 <= now {
            *entry = (0, now + limit.window);
        }
        if entry.0 >= limit.max_failures {
            return Ok(Take::Full {
                retry_after: entry.1 - now,
            });
        }
        entry.0 += 1;
        Ok(Take::Taken)
    }

    async fn give_back(&self, key: &str) -> Result<(), ThrottleStoreError> {
        if let Some((count, until)) = self.counters().get_mut(key)
            && *until > Instant::now()
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), ThrottleStoreError> {
        self.counters().remove(key);
        Ok(())
    }
}

/// Counts in Redis, shared by every instance: one Lua script per operation, so each is one
/// atomic round trip.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct RedisThrottleStore {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

#[cfg(feature = "redis")]
impl std::fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisThrottleStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `take`: KEYS[1] the counter, ARGV[1] the limit, ARGV[2] the window in milliseconds.
/// Answers `{1, 0}` when a place was taken, `{0, milliseconds left}` when full. A counter
/// without an expiry (never written by this script) is treated as no window.
#[cfg(feature = "redis")]
const TAKE: &str = r"
local ttl = redis.call('PTTL', KEYS[1])
local count = 0
if ttl > 0 then
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
if count >= tonumber(ARGV[1]) then
  if ttl > 0 then
    return {0, ttl}
  end
  return {0, tonumber(ARGV[2])}
end
if ttl > 0 then
  redis.call('INCR', KEYS[1])
else
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
end
return {1, 0}
";

/// `give_back`: decrements KEYS[1] when its window is open and it is above zero.
#[cfg(feature = "redis")]
const GIVE_BACK: &str = r"
if redis.call('PTTL', KEYS[1]) > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
";

#[cfg(feature = "redis")]
impl RedisThrottleStore {
    /// Connects to the Redis server at `url`; keys start with `fastusers_throttle:`. The
    /// connection comes back by itself after an outage.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            connection: crate::strategy::redis::connect_manager(url).await?,
            prefix: "fastusers_throttle:".to_owned(),
        })
    }

    /// Another key prefix.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[cfg(feature = "redis")]
#[async_trait::async_trait]
impl ThrottleStore for RedisThrottleStore {
    async fn take(&self, key: &str, limit: Limit) -> Result<Take, ThrottleStoreError> {
        // At least a millisecond: `PX 0` is an error.
        let window = u64::try_from(limit.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let answer: Vec<i64> = redis::cmd("EVAL")
            .arg(TAKE)
            .arg(1)
            .arg(self.key(key))
            .arg(limit.max_failures)
            .arg(window)
            .query_async(&mut self.connection.clone())
            .await?;
        match answer[..] {
            [1, _] => Ok(Take::Taken),
            [0, left] if left > 0 => Ok(Take::Full {
                retry_after: Duration::from_millis(left.unsigned_abs()),
            }),
            _ => Err(ThrottleStoreError::UnexpectedAnswer(answer)),
        }
    }

    async fn give_back(&self, key: &str) -> Result<(), ThrottleStoreError> {
        redis::cmd("EVAL")
            .arg(GIVE_BACK)
            .arg(1)
            .arg(self.key(key))
            .query_async::<()>(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), ThrottleStoreError> {
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut self.connection.clone())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_takes_up_to_the_limit_and_gives_back() {
        let store = MemoryThrottleStore::default();
        let limit = Limit {
            max_failures: 2,
            window: Duration::from_secs(60),
        };
        assert_eq!(store.take("k", limit).await.unwrap(), Take::Taken);
        assert_eq!(store.take("k", limit).await.unwrap(), Take::Taken);
        let Take::Full { retry_after } = store.take("k", limit).await.unwrap() else {
            panic!("the third take is refused");
        };
        assert!(retry_after <= limit.window && retry_after > Duration::from_secs(50));
        store.give_back("k").await.unwrap();
        assert_eq!(store.take("k", limit).await.unwrap(), Take::Taken);
        store.reset("k").await.unwrap();
        assert_eq!(store.take("k", limit).await.unwrap(), Take::Taken);
        // A zero limit takes nothing.
        let none = Limit {
            max_failures: 0,
            ..limit
        };
        assert!(matches!(
            store.take("z", none).await.unwrap(),
            Take::Full { .. }
        ));
    }

    #[tokio::test]
    async fn memory_windows_end() {
        let store = MemoryThrottleStore::default();
        let limit = Limit {
            max_failures: 1,
            window: Duration::from_millis(30),
        };
        assert_eq!(store.take("k", limit).await.unwrap(), Take::Taken);
        assert!(matches!(
            store.take("k", limit).await.unwrap(),
            Take::Full { .. }
        ));
        tokio::time::sleep(Duration::from_millis(40)).await;
        // A give-back after the window ends does not open a new one below zero.
        store.give_back("k").await.unwrap();
        assert_eq!(store.take("k", limit).await.unwrap(), Take::Taken);
    }
}
