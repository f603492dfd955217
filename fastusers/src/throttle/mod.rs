//! [`LoginThrottle`]: login throttling per account, per client address and per device.
//!
//! A login takes its place in the counts of its email and of the client's address (see
//! [`ProxyHeaders`](crate::ProxyHeaders)) before its password is checked, in one atomic step per count: a burst of
//! logins sent at the same moment cannot all read a count of zero, so at most the limit of them
//! have their password checked. Once a count is at its limit, logins for that email (or from
//! that address) are answered `429 Too Many Requests` with `Retry-After` until the window ends,
//! without checking the password, and take no place. A wrong password keeps its places; a right
//! one clears the email's count and gives back its place in the address's count (so that the
//! successes of a shared address do not fill it). Unknown emails count like known ones, so the
//! throttle tells nothing about which accounts exist.
//!
//! With [`DeviceTokens`] (off by default), a client that logged in successfully gets a device
//! token, and its later logins for that account are counted per device instead: failures from
//! elsewhere, which fill the account's count, do not lock the owner out.
//!
//! The throttle is on by default: [`FastUsers::new`](crate::FastUsers::new) starts with
//! [`LoginThrottle::new()`]. [`FastUsers::with_login_throttle`](crate::FastUsers::with_login_throttle)
//! replaces it, [`FastUsers::without_login_throttle`](crate::FastUsers::without_login_throttle) turns it
//! off.
//!
//! Counts live in memory by default (one process), or in Redis ([`LoginThrottle::redis`],
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

mod device;
mod store;

pub use device::DeviceTokens;
pub(crate) use device::TrustedDevice;
#[cfg(feature = "redis")]
pub use store::RedisThrottleStore;
pub use store::{MemoryThrottleStore, Take, ThrottleStore, ThrottleStoreError};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A limit: at most `max_failures` failed logins in `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failed logins allowed in a window (logins whose password is being checked count too).
    pub max_failures: u32,
    /// The window, from the first counted login.
    pub window: Duration,
}

/// Login throttling; give it to [`FastUsers::with_login_throttle`](crate::FastUsers::with_login_throttle)
/// to replace the default, [`LoginThrottle::new()`].
#[derive(Clone)]
pub struct LoginThrottle {
    per_account: Option<Limit>,
    per_address: Option<Limit>,
    devices: Option<DeviceTokens>,
    store: Arc<dyn ThrottleStore>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("per_account", &self.per_account)
            .field("per_address", &self.per_address)
            .field("devices", &self.devices)
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

/// What to do with a place when the password turns out right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnSuccess {
    /// Clear the whole count (the account's, the device's).
    Reset,
    /// Give back this login's place (the address's).
    GiveBack,
}

/// The places one login holds in the counts, from before its password is checked until the
/// answer is known. Dropping it keeps the places: a failure.
#[must_use = "a login's places are kept (a failure) unless it succeeded or was abandoned"]
pub(crate) struct Attempt {
    places: Vec<(String, OnSuccess)>,
    store: Arc<dyn ThrottleStore>,
}

impl LoginThrottle {
    /// In memory: 5 failures per account and 100 per address, each in 15 minutes; no device
    /// tokens.
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
            devices: None,
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

    /// At most `max_failures` failed logins from one client address in `window`. The address
    /// is the connection's peer, which needs `into_make_service_with_connect_info::<SocketAddr>()`,
    /// or, behind a proxy, what [`FastUsers::behind_proxy`](crate::FastUsers::behind_proxy)
    /// says; without either, only the other limits apply.
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

    /// Gives a device token to every client that logs in with a password, and counts the
    /// logins that present a valid one per device (see [`DeviceTokens`]). Default: none.
    pub fn device_tokens(mut self, devices: DeviceTokens) -> Self {
        self.devices = Some(devices);
        self
    }

    /// The device tokens, if on.
    pub fn devices(&self) -> Option<&DeviceTokens> {
        self.devices.as_ref()
    }

    /// The counts a login takes a place in, with their limits and what a success does.
    fn counts(
        &self,
        email: &str,
        address: Option<IpAddr>,
        device: Option<&TrustedDevice>,
    ) -> Vec<(String, Limit, OnSuccess)> {
        if let (Some(device), Some(devices)) = (device, &self.devices) {
            return vec![(
                format!("device:{}", device.0),
                devices.limit(),
                OnSuccess::Reset,
            )];
        }
        let mut counts = Vec::with_capacity(2);
        if let Some(limit) = self.per_account {
            counts.push((account_key(email), limit, OnSuccess::Reset));
        }
        if let (Some(limit), Some(ip)) = (self.per_address, address) {
            counts.push((format!("address:{ip}"), limit, OnSuccess::GiveBack));
        }
        counts
    }

    /// Takes this login's places, before its password is checked: in the device's count when
    /// it presented a valid device token, else in the account's and the address's. Refused
    /// when one of them is full (then it holds no place). A store that fails is logged and
    /// skipped.
    pub(crate) async fn begin(
        &self,
        email: &str,
        address: Option<IpAddr>,
        device: Option<&TrustedDevice>,
    ) -> Result<Attempt, Throttled> {
        let mut attempt = Attempt {
            places: Vec::new(),
            store: self.store.clone(),
        };
        for (key, limit, on_success) in self.counts(email, address, device) {
            match self.store.take(&key, limit).await {
                Ok(Take::Taken) => attempt.places.push((key, on_success)),
                Ok(Take::Full { retry_after }) => {
                    attempt.abandon().await;
                    crate::metrics::throttle_hit(limit_name(&key));
                    let retry_after = (retry_after.as_secs_f64().ceil() as u64).max(1);
                    return Err(Throttled { retry_after });
                }
                Err(error) => store_failed(&error, "not counting this login"),
            }
        }
        Ok(attempt)
    }
}

impl Attempt {
    /// The password was right: the account's (or device's) count is cleared and the
    /// address's place given back.
    pub(crate) async fn succeeded(self) {
        for (key, on_success) in &self.places {
            let done = match on_success {
                OnSuccess::Reset => self.store.reset(key).await,
                OnSuccess::GiveBack => self.store.give_back(key).await,
            };
            if let Err(error) = done {
                store_failed(&error, "a success was not recorded");
            }
        }
    }

    /// No password was checked (the user store failed): every place is given back.
    pub(crate) async fn abandon(self) {
        for (key, _) in &self.places {
            if let Err(error) = self.store.give_back(key).await {
                store_failed(&error, "a place was not given back");
            }
        }
    }
}

/// The key of an email's count: one per account, however the email is cased (the stores'
/// comparison, [`fold_case`](crate::email::fold_case)).
/// The kind of count a key of [`LoginThrottle::counts`] is, for the metrics.
fn limit_name(key: &str) -> &'static str {
    match key.split_once(':').map(|(kind, _)| kind) {
        Some("account") => "account",
        Some("address") => "address",
        _ => "device",
    }
}

fn account_key(email: &str) -> String {
    format!("account:{}", crate::email::fold_case(email.trim()))
}

fn store_failed(error: &ThrottleStoreError, consequence: &str) {
    tracing::error!(
        target: "fastusers::throttle",
        error = error as &dyn std::error::Error,
        "the throttle store failed; {consequence}"
    );
}
