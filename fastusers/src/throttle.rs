//! [`LoginThrottle`]: failed-login throttling per account and per client address.
//!
//! Each failed login counts against the submitted email and against the client's address, in
//! a fixed window. Once a count reaches its limit, logins for that email (or from that address)
//! are answered `429 Too Many Requests` with `Retry-After` until the window ends, without
//! checking the password, so a brute force stops making progress. A successful login clears
//! the email's count. Unknown emails count like known ones, so the throttle tells nothing about
//! which accounts exist.
//!
//! Counters live in memory by default (one process), or in Redis ([`LoginThrottle::redis`],
//! feature `redis`) so that the limit holds across every instance behind a load balancer. When
//! the counter store fails, logins are not blocked (the failure is logged): throttling must
//! not turn a Redis outage into a login outage.
//!
//! ```
//! use std::time::Duration;
//! use fastusers::throttle::LoginThrottle;
//!
//! let throttle = LoginThrottle::new()
//!     .per_account(5, Duration::from_secs(15 * 60))
//!     .per_address(50, Duration::from_secs(15 * 60));
//! # let _ = throttle;
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// A limit: at most `max_failures` failed logins in `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failed logins allowed in a window.
    pub max_failures: u32,
    /// The window, from the first failure.
    pub window: Duration,
}

/// Where failure counters are kept.
#[async_trait::async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// The failures counted under `key` in its current window, and how long the window has
    /// left.
    async fn failures(&self, key: &str) -> Result<(u32, Duration), String>;
    /// Counts one failure under `key`, opening a window of `window` if none is open.
    async fn record_failure(&self, key: &str, window: Duration) -> Result<(), String>;
    /// Forgets the failures under `key`.
    async fn reset(&self, key: &str) -> Result<(), String>;
}

/// Counters in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryThrottleStore {
    counters: Mutex<HashMap<String, (u32, Instant)>>,
}

/// How many counters the memory store keeps before it drops expired ones.
const MEMORY_SWEEP_AT: usize = 10_000;

#[async_trait::async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn failures(&self, key: &str) -> Result<(u32, Duration), String> {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        Ok(match counters.get(key) {
            Some((count, until)) if *until > now => (*count, *until - now),
            _ => (0, Duration::ZERO),
        })
    }

    async fn record_failure(&self, key: &str, window: Duration) -> Result<(), String> {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if counters.len() >= MEMORY_SWEEP_AT {
            counters.retain(|_, (_, until)| *until > now);
        }
        let entry = counters.entry(key.to_owned()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 = entry.0.saturating_add(1);
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), String> {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }
}

/// Counters in Redis, shared by every instance: `INCR` with the window as expiry.
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
}

#[cfg(feature = "redis")]
#[async_trait::async_trait]
impl ThrottleStore for RedisThrottleStore {
    async fn failures(&self, key: &str) -> Result<(u32, Duration), String> {
        let key = format!("{}{key}", self.prefix);
        let (count, ttl): (Option<u32>, i64) = redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok((count.unwrap_or(0), Duration::from_millis(ttl.max(0) as u64)))
    }

    async fn record_failure(&self, key: &str, window: Duration) -> Result<(), String> {
        let key = format!("{}{key}", self.prefix);
        // One round trip, atomic: open the window if none is open, then count.
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("PX")
            .arg(window.as_millis() as u64)
            .arg("NX")
            .ignore()
            .incr(&key, 1)
            .ignore()
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(|e| e.to_string())
    }

    async fn reset(&self, key: &str) -> Result<(), String> {
        let key = format!("{}{key}", self.prefix);
        redis::cmd("DEL")
            .arg(&key)
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(|e| e.to_string())
    }
}

/// Failed-login throttling; give it to [`FastUsers::login_throttle`](crate::FastUsers::login_throttle).
#[derive(Clone)]
pub struct LoginThrottle {
    per_account: Option<Limit>,
    per_address: Option<Limit>,
    trust_forwarded_for: bool,
    store: Arc<dyn ThrottleStore>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("per_account", &self.per_account)
            .field("per_address", &self.per_address)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .finish_non_exhaustive()
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a login is refused: the seconds until it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub(crate) retry_after: u64,
}

impl LoginThrottle {
    /// In memory: 5 failures per account and 100 per address, each in 15 minutes.
    pub fn new() -> Self {
        let window = Duration::from_secs(15 * 60);
        Self {
            per_account: Some(Limit {
                max_failures: 5,
                window,
            }),
            per_address: Some(Limit {
                max_failures: 100,
                window,
            }),
            trust_forwarded_for: false,
            store: Arc::new(MemoryThrottleStore::default()),
        }
    }

    /// Counters in this store (see [`RedisThrottleStore`] to share them across instances).
    pub fn store(mut self, store: impl ThrottleStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Counters in this Redis store, shared by every instance.
    #[cfg(feature = "redis")]
    pub fn redis(self, store: RedisThrottleStore) -> Self {
        self.store(store)
    }

    /// At most `max_failures` failed logins for one email in `window`.
    pub fn per_account(mut self, max_failures: u32, window: Duration) -> Self {
        self.per_account = Some(Limit {
            max_failures,
            window,
        });
        self
    }

    /// At most `max_failures` failed logins from one client address in `window`.
    pub fn per_address(mut self, max_failures: u32, window: Duration) -> Self {
        self.per_address = Some(Limit {
            max_failures,
            window,
        });
        self
    }

    /// No limit per account.
    pub fn no_account_limit(mut self) -> Self {
        self.per_account = None;
        self
    }

    /// No limit per address.
    pub fn no_address_limit(mut self) -> Self {
        self.per_address = None;
        self
    }

    /// Takes the client's address from the last `X-Forwarded-For` entry: the one the proxy in
    /// front of the application added, whether it replaces the header (nginx
    /// `$remote_addr`) or appends to what the client sent (`$proxy_add_x_forwarded_for`); the
    /// entries before it are the client's to choose. For an application behind exactly one
    /// proxy. Default: false, the peer address of the connection, which needs
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without either, only the
    /// per-account limit applies.
    pub fn trust_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }

    fn address(&self, parts: &Parts) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(ip) = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }

    /// The counters this login counts against, with their limits.
    fn keys(&self, email: &str, parts: &Parts) -> Vec<(String, Limit)> {
        let mut keys = Vec::with_capacity(2);
        if let Some(limit) = self.per_account {
            keys.push((format!("account:{}", email.trim().to_lowercase()), limit));
        }
        if let (Some(limit), Some(ip)) = (self.per_address, self.address(parts)) {
            keys.push((format!("address:{ip}"), limit));
        }
        keys
    }

    /// Whether a login for `email` may be tried now.
    pub(crate) async fn check(&self, email: &str, parts: &Parts) -> Result<(), Throttled> {
        let mut retry_after = 0;
        for (key, limit) in self.keys(email, parts) {
            match self.store.failures(&key).await {
                Ok((count, left)) if count >= limit.max_failures => {
                    retry_after = retry_after.max(left.as_secs_f64().ceil() as u64).max(1);
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(target: "fastusers::throttle", %error, "the throttle store failed; not throttling");
                }
            }
        }
        if retry_after > 0 {
            Err(Throttled { retry_after })
        } else {
            Ok(())
        }
    }

    /// Counts a failed login.
    pub(crate) async fn failed(&self, email: &str, parts: &Parts) {
        for (key, limit) in self.keys(email, parts) {
            if let Err(error) = self.store.record_failure(&key, limit.window).await {
                tracing::error!(target: "fastusers::throttle", %error, "the throttle store failed");
            }
        }
    }

    /// Clears the account's count after a successful login.
    pub(crate) async fn succeeded(&self, email: &str) {
        if self.per_account.is_some() {
            let key = format!("account:{}", email.trim().to_lowercase());
            if let Err(error) = self.store.reset(&key).await {
                tracing::error!(target: "fastusers::throttle", %error, "the throttle store failed");
            }
        }
    }
}
