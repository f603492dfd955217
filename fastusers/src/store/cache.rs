//! [`CachedUserStore`]: users read by id kept for a few seconds, so that a request
//! authenticated by a JWT needs no database round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{AccessTokenStore, OAuthAccountStore, StoreError, UserStore};
use crate::revocation::{Revocable, Timestamp};
use crate::user::User;

/// How many users a cache keeps at most, by default.
const DEFAULT_CAPACITY: usize = 10_000;

/// A [`UserStore`] that keeps the users it reads by id for `ttl`, in memory, and otherwise
/// passes everything to the store it wraps.
///
/// With the JWT strategy, every authenticated request reads its user by id; this cache serves
/// those reads without the database. A user is cached with their revocation time (see
/// [`crate::revocation`]), which is dropped and re-read with them. Reads by email (login,
/// registration, password reset) are never cached.
///
/// **What it trades.** A change made through this store (through the
/// [`UserManager`](crate::UserManager) of this process: an update, a deactivation, a new
/// password, a deletion) drops the user from the cache at once. A change made elsewhere,
/// by another instance of the application or in the database directly, is seen only when the
/// cached copy expires: up to `ttl` later, a deactivated user may still be served, and the
/// sessions that another instance revoked still accepted here. Keep `ttl`
/// short (seconds) and leave the cache off where that is not acceptable.
/// [`UserManager::cache_users`](crate::UserManager::cache_users) wraps a manager's store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use fastusers::prelude::*;
/// use fastusers::store::CachedUserStore;
///
/// #[derive(User, Clone, Debug)]
/// pub struct Member {
///     pub id: uuid::Uuid,
///     pub email: String,
///     pub hashed_password: String,
///     pub is_active: bool,
///     pub is_superuser: bool,
///     pub is_verified: bool,
/// }
///
/// let store = fastusers::store::connect::<Member>("sqlite::memory:").await.unwrap();
/// let cached = CachedUserStore::new(store, Duration::from_secs(5)).capacity(1_000);
/// let manager = UserManager::new(std::sync::Arc::new(cached));
/// # let _ = manager;
/// # }
/// ```
pub struct CachedUserStore<U: User> {
    inner: Arc<dyn UserStore<U>>,
    ttl: Duration,
    users: quick_cache::sync::Cache<String, (Instant, Revocable<U>)>,
    /// Bumped by every write. A read that started before a write must not put what it read
    /// into the cache: it may be the user as it was before the write.
    writes: AtomicU64,
}

impl<U: User> std::fmt::Debug for CachedUserStore<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUserStore")
            .field("ttl", &self.ttl)
            .field("cached", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl<U: User> CachedUserStore<U> {
    /// Wraps `inner`, keeping each user read by id for `ttl`, and 10,000 users at most.
    pub fn new(inner: Arc<dyn UserStore<U>>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            users: quick_cache::sync::Cache::new(DEFAULT_CAPACITY),
            writes: AtomicU64::new(0),
        }
    }

    /// Keeps this many users at most (the least useful go first).
    pub fn capacity(mut self, users: usize) -> Self {
        self.users = quick_cache::sync::Cache::new(users.max(1));
        self
    }

    /// How long a user read by id is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The store this one wraps.
    pub fn inner(&self) -> &Arc<dyn UserStore<U>> {
        &self.inner
    }

    /// Drops the user with this id from the cache, for a change made behind this store's back.
    pub fn forget(&self, id: &U::Id) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.users.remove(&id.to_string());
    }

    /// Runs a write, dropping the user from the cache before and after it: a read racing with
    /// the write cannot leave the old user cached.
    async fn write<T>(
        &self,
        id: &U::Id,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.forget(id);
        let done = write.await;
        self.forget(id);
        done
    }
}

#[async_trait]
impl<U: User> UserStore<U> for CachedUserStore<U> {
    async fn get(&self, id: &U::Id) -> Result<Option<U>, StoreError> {
        Ok(self.get_revocable(id).await?.map(|found| found.user))
    }

    async fn get_revocable(&self, id: &U::Id) -> Result<Option<Revocable<U>>, StoreError> {
        let key = id.to_string();
        if let Some((read_at, user)) = self.users.get(&key) {
            if read_at.elapsed() < self.ttl {
                return Ok(Some(user));
            }
            self.users.remove(&key);
        }
        let writes = self.writes.load(Ordering::SeqCst);
        let read_at = Instant::now();
        let user = self.inner.get_revocable(id).await?;
        if let Some(user) = &user
            && self.writes.load(Ordering::SeqCst) == writes
        {
            self.users.insert(key, (read_at, user.clone()));
        }
        Ok(user)
    }

    async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError> {
        self.inner.get_by_email(email).await
    }

    async fn create(&self, user: &U) -> Result<U, StoreError> {
        self.inner.create(user).await
    }

    async fn update(&self, id: &U::Id, changes: &U::Changes) -> Result<Option<U>, StoreError> {
        self.write(id, self.inner.update(id, changes)).await
    }

    async fn delete(&self, id: &U::Id) -> Result<bool, StoreError> {
        self.write(id, self.inner.delete(id)).await
    }

    async fn update_and_revoke(
        &self,
        id: &U::Id,
        changes: &U::Changes,
        revoked_at: Timestamp,
    ) -> Result<Option<U>, StoreError> {
        self.write(id, self.inner.update_and_revoke(id, changes, revoked_at))
            .await
    }

    fn access_tokens(&self) -> Option<Arc<dyn AccessTokenStore<U>>> {
        self.inner.access_tokens()
    }

    fn oauth_accounts(&self) -> Option<Arc<dyn OAuthAccountStore<U>>> {
        self.inner.oauth_accounts()
    }
}
