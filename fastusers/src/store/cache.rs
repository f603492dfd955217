//! [`CachedUserStore`]: the users read by id, kept in memory and kept true by every instance of
//! the application, so that a request authenticated by a JWT or a Redis token needs no database
//! round trip.
//!
//! Every change to a user evicts them from the cache of every instance, through a
//! [`CacheChannel`]: PostgreSQL's `LISTEN`/`NOTIFY` (triggers on the user table and the
//! revocation table announce every change, whoever makes it), Redis pub/sub, or, for a store
//! that one process alone uses, the process itself. A cache whose channel is down, or may have
//! missed a message, serves nothing until the channel is back and the cache has been cleared.

mod local;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{AccessTokenStore, OAuthAccountStore, StoreError, UserStore};
use crate::revocation::{Revocable, Timestamp};
use crate::user::User;

#[cfg(feature = "postgres")]
pub(crate) use postgres::TRIGGERS as POSTGRES_TRIGGERS;

/// How many users a cache keeps at most, by default.
const DEFAULT_CAPACITY: usize = 10_000;

/// How long a cached user is kept at most, by default: a last resort only, since every change
/// evicts the user at once (see [`CachedUserStore`]).
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// After this long without a message, a channel's connection is asked for a round trip...
const SILENCE: Duration = Duration::from_secs(1);
/// ...which must come back within this long, or the connection counts as lost: a channel that
/// fails silently (a network partition, no reset) stops the cache within three seconds.
const ANSWER: Duration = Duration::from_secs(2);
/// The longest a (re)connection of a channel may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A [`UserStore`] that keeps the users it reads by id in memory, and passes everything else
/// to the store it wraps. Every [`UserManager`](crate::UserManager) has one by default when its
/// store names a [`CacheChannel`] (the SQL stores do); see
/// [`UserManager::user_cache_ttl`](crate::UserManager::user_cache_ttl).
///
/// With the JWT strategy, every authenticated request reads its user by id; this cache serves
/// those reads without the database. A user is cached with their revocation time (see
/// [`crate::revocation`]). Reads by email (login, registration, password reset) are never
/// cached.
///
/// **What it guarantees.** A change to a user (an update, a deactivation, a new password or a
/// reset, a verification, a superuser change, a deletion, a revocation of their sessions)
/// evicts them from this cache before the change returns, and from the cache of every other
/// instance as soon as the channel delivers the news (a millisecond or so):
///
/// - on PostgreSQL, triggers (created by [`SqlStore::migrate`](super::SqlStore::migrate)) send
///   a `NOTIFY` in the transaction of every change to the user table or the revocation table,
///   made through fastusers or not (an `UPDATE` in `psql` counts), and every cache `LISTEN`s;
/// - with [`CacheChannel::redis`], each change made through a cache is published to the others
///   (changes made behind fastusers' back are then seen only after `ttl`);
/// - on SQLite, the caches of one process on one file share the news directly, and a write by
///   another process (the example's `promote` command) is noticed within a millisecond
///   (SQLite's `data_version`).
///
/// When the channel is down, or may have missed a message (its connection was lost, or stopped
/// answering: checked after a second of silence), the cache serves nothing, and reads go to
/// the store, until the channel is back and the cache has been cleared. So it fails safe: a
/// deactivated user is never served from memory because a message was lost. `ttl` is a last
/// resort, for what no channel can see (a process writing to the database without the
/// triggers, or a Redis announcement lost with the process that made the change).
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
/// let cached = CachedUserStore::new(store, Duration::from_secs(30)).capacity(1_000);
/// assert!(cached.is_serving());
/// let manager = UserManager::new(std::sync::Arc::new(cached));
/// # let _ = manager;
/// # }
/// ```
pub struct CachedUserStore<U: User> {
    inner: Arc<dyn UserStore<U>>,
    shared: Arc<Shared<U>>,
    channel: CacheChannel,
    /// Joins the channel (registers with the process' bus, or starts the listener) on first
    /// use, inside the application's runtime.
    joined: Once,
}

impl<U: User> std::fmt::Debug for CachedUserStore<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUserStore")
            .field("ttl", &self.shared.ttl)
            .field("cached", &self.shared.users.len())
            .field("channel", &self.channel)
            .field("serving", &self.is_serving())
            .finish_non_exhaustive()
    }
}

impl<U: User> CachedUserStore<U> {
    /// Wraps `inner`, keeping each user read by id for `ttl` at most, and 10,000 users at most,
    /// evicted through the channel `inner` names ([`UserStore::cache_channel`]). A store that
    /// names none gets [`CacheChannel::this_process`]: then a change made by another process is
    /// seen only after `ttl`, unless [`channel`](Self::channel) gives one.
    pub fn new(inner: Arc<dyn UserStore<U>>, ttl: Duration) -> Self {
        let channel = inner
            .cache_channel()
            .unwrap_or_else(CacheChannel::this_process);
        Self {
            inner,
            shared: Shared::new(DEFAULT_CAPACITY, ttl, &channel),
            channel,
            joined: Once::new(),
        }
    }

    /// A cache on `inner` with the default TTL, when `inner` names a channel; what
    /// [`UserManager::new`](crate::UserManager::new) uses.
    pub(crate) fn by_default(inner: &Arc<dyn UserStore<U>>) -> Option<Self> {
        inner.cache_channel()?;
        Some(Self::new(inner.clone(), DEFAULT_TTL))
    }

    /// Keeps this many users at most (the least useful go first).
    pub fn capacity(mut self, users: usize) -> Self {
        self.shared = Shared::new(users.max(1), self.shared.ttl, &self.channel);
        self
    }

    /// Hears of the other instances' changes on this channel, and tells them of this one's.
    pub fn channel(mut self, channel: CacheChannel) -> Self {
        self.shared = Shared::new(
            self.shared.users.capacity() as usize,
            self.shared.ttl,
            &channel,
        );
        self.channel = channel;
        self
    }

    /// How long a user read by id is kept at most.
    pub fn ttl(&self) -> Duration {
        self.shared.ttl
    }

    /// The store this one wraps.
    pub fn inner(&self) -> &Arc<dyn UserStore<U>> {
        &self.inner
    }

    /// Whether the cache serves reads now: its channel is up (a cache whose channel needs no
    /// connection always is). While it is not, every read goes to the store.
    pub fn is_serving(&self) -> bool {
        self.shared.serving.load(Ordering::SeqCst)
    }

    /// Drops the user with this id from the cache, and tells the other instances to, for a
    /// change made behind this store's back.
    pub fn forget(&self, id: &U::Id) {
        self.join();
        let key = id.to_string();
        self.shared.evict(&key);
        self.channel.announce(key, self.shared.ttl);
    }

    fn join(&self) {
        self.joined.call_once(|| {
            let shared: Arc<dyn CacheHandle> = self.shared.clone();
            self.channel.join(Arc::downgrade(&shared));
        });
    }

    /// Runs a write, dropping the user from the cache before and after it (a read racing with
    /// the write cannot leave the old user cached), then tells the other instances.
    async fn write<T>(
        &self,
        id: &U::Id,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.join();
        let key = id.to_string();
        self.shared.evict(&key);
        let done = write.await;
        // Also after a failure: the write may have been saved before the error.
        self.shared.evict(&key);
        self.channel.announce(key, self.shared.ttl);
        done
    }
}

#[async_trait]
impl<U: User> UserStore<U> for CachedUserStore<U> {
    async fn get(&self, id: &U::Id) -> Result<Option<U>, StoreError> {
        Ok(self.get_revocable(id).await?.map(|found| found.user))
    }

    async fn get_revocable(&self, id: &U::Id) -> Result<Option<Revocable<U>>, StoreError> {
        self.join();
        let key = id.to_string();
        let trusted = self.channel.confirm().await;
        if trusted && let Some(user) = self.shared.lookup(&key) {
            return Ok(Some(user));
        }
        let evictions = self.shared.evictions.load(Ordering::SeqCst);
        let serving = self.shared.serving.load(Ordering::SeqCst);
        let read_at = Instant::now();
        let user = self.inner.get_revocable(id).await?;
        if trusted
            && serving
            && let Some(user) = &user
        {
            self.shared.fill(key, read_at, user.clone(), evictions);
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

    fn refresh_tokens(&self) -> Option<Arc<dyn super::RefreshTokenStore<U>>> {
        self.inner.refresh_tokens()
    }

    // `cache_channel` stays `None`: a cached store is not cached again.
}

/// The cached users and the state of their channel, shared with the channel's listener.
struct Shared<U: User> {
    users: quick_cache::sync::Cache<String, (Instant, Revocable<U>)>,
    ttl: Duration,
    /// Bumped by every eviction. A read that started before one must not put what it read
    /// into the cache: it may be the user as they were before the change.
    evictions: AtomicU64,
    /// Whether the channel is up (and the cache was cleared since it came up).
    serving: AtomicBool,
}

impl<U: User> Shared<U> {
    fn new(capacity: usize, ttl: Duration, channel: &CacheChannel) -> Arc<Self> {
        Arc::new(Self {
            users: quick_cache::sync::Cache::new(capacity),
            ttl,
            evictions: AtomicU64::new(0),
            // A channel with a connection serves once it is connected.
            serving: AtomicBool::new(matches!(channel.kind, Kind::Local(_))),
        })
    }

    /// The cached user, unless the cache is not serving or the copy is older than the TTL.
    fn lookup(&self, key: &str) -> Option<Revocable<U>> {
        if !self.serving.load(Ordering::SeqCst) {
            return None;
        }
        let (read_at, user) = self.users.get(key)?;
        if read_at.elapsed() >= self.ttl {
            self.users.remove_if(key, |(at, _)| *at == read_at);
            return None;
        }
        Some(user)
    }

    /// Caches what a read that started when the eviction count was `evictions` found; takes it
    /// out again if an eviction (or the channel's loss) came in between, since the eviction may
    /// have run before the insert.
    fn fill(&self, key: String, read_at: Instant, user: Revocable<U>, evictions: u64) {
        self.users.insert(key.clone(), (read_at, user));
        if self.evictions.load(Ordering::SeqCst) != evictions
            || !self.serving.load(Ordering::SeqCst)
        {
            self.users.remove(&key);
        }
    }
}

/// What a channel does to the caches that listen to it, whatever their user model.
trait CacheHandle: Send + Sync {
    /// A user changed.
    fn evict(&self, id: &str);
    /// Some users may have changed: drop them all.
    fn clear(&self);
    /// The channel is down or may have missed messages: serve nothing.
    fn stop(&self);
    /// The channel is up again: clear, then serve.
    fn restart(&self);
}

impl<U: User> CacheHandle for Shared<U> {
    fn evict(&self, id: &str) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.users.remove(id);
    }

    fn clear(&self) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.users.clear();
    }

    fn stop(&self) {
        self.serving.store(false, Ordering::SeqCst);
        self.evictions.fetch_add(1, Ordering::SeqCst);
    }

    fn restart(&self) {
        self.clear();
        self.serving.store(true, Ordering::SeqCst);
    }
}

/// How the user caches of the instances of an application hear of each other's changes.
///
/// [`UserStore::cache_channel`] names the one a store offers: PostgreSQL's `LISTEN`/`NOTIFY`
/// for [`SqlStore`](super::SqlStore) on PostgreSQL, the process itself for SQLite.
/// [`CachedUserStore::channel`] sets another one, such as [`CacheChannel::redis`].
#[derive(Clone)]
pub struct CacheChannel {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// The caches of this process that share the bus tell each other directly.
    Local(Arc<local::LocalBus>),
    /// A server carries the news; each cache listens on a connection of its own.
    // Only PostgreSQL and Redis make one.
    #[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]
    Remote(Arc<dyn Remote>),
}

impl std::fmt::Debug for CacheChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Local(bus) => write!(f, "CacheChannel::{bus:?}"),
            Kind::Remote(remote) => write!(f, "CacheChannel({})", remote.describe()),
        }
    }
}

impl CacheChannel {
    /// Only this process changes the users: the caches that share this channel (clones of it)
    /// tell each other of their changes, and nothing else can change a user. A change made by
    /// another process is seen only when the cached copy is older than the TTL.
    pub fn this_process() -> Self {
        Self {
            kind: Kind::Local(Arc::new(local::LocalBus::default())),
        }
    }

    /// PostgreSQL's `LISTEN`/`NOTIFY` on the database of `pool`: each cache listens on a
    /// connection of its own (opened with the pool's options, named `fastusers user cache`),
    /// and the triggers that [`SqlStore::migrate`](super::SqlStore::migrate) creates notify
    /// every change to a user or to their revocation time, in the change's transaction. If the
    /// triggers are missing, the cache never serves (and says so in the log).
    ///
    /// The connection must be a session of its own: through PgBouncer in transaction mode,
    /// `LISTEN` does not work, and [`CacheChannel::redis`] is the choice.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: &sqlx::PgPool) -> Self {
        Self {
            kind: Kind::Remote(Arc::new(postgres::PostgresRemote::new(pool.clone()))),
        }
    }

    /// Redis pub/sub on the server at `url` (`redis://host:port/db`; not a Redis Cluster): each
    /// cache subscribes to the channel `fastusers:user_changed` on a connection of its own, and
    /// publishes there each change made through it (retrying until Redis takes it, for up to
    /// the cache's TTL). No connection is made here.
    #[cfg(feature = "redis")]
    pub fn redis(url: &str) -> Result<Self, ::redis::RedisError> {
        Ok(Self {
            kind: Kind::Remote(Arc::new(redis::RedisRemote::new(url)?)),
        })
    }

    /// The channel of the caches of this process on one SQLite database: shared by every
    /// store on the same file, and watching the file for other processes' writes.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(pool: &sqlx::SqlitePool) -> Self {
        Self {
            kind: Kind::Local(local::LocalBus::for_sqlite(&pool.connect_options())),
        }
    }

    /// Starts hearing of changes for this cache.
    fn join(&self, cache: Weak<dyn CacheHandle>) {
        match &self.kind {
            Kind::Local(bus) => bus.join(cache),
            Kind::Remote(remote) => {
                tokio::spawn(listen(remote.clone(), cache));
            }
        }
    }

    /// Tells the other caches that this user changed (already evicted from the caller's).
    fn announce(&self, id: String, ttl: Duration) {
        match &self.kind {
            Kind::Local(bus) => bus.evict(&id),
            Kind::Remote(remote) if remote.announces() => {
                tokio::spawn(announce(remote.clone(), id, ttl));
            }
            Kind::Remote(_) => {}
        }
    }

    /// Whether the cache may be trusted now (a SQLite file checks for other processes' writes
    /// first, clearing the caches if there were any).
    async fn confirm(&self) -> bool {
        match &self.kind {
            Kind::Local(bus) => bus.confirm().await,
            Kind::Remote(_) => true,
        }
    }
}

/// A server that carries the news of changes between instances.
#[async_trait]
trait Remote: Send + Sync + 'static {
    /// What it is, for the log.
    fn describe(&self) -> &'static str;
    /// A new connection that receives every change from now on.
    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BoxError>;
    /// Whether changes must be announced through [`announce`](Self::announce) (they need not
    /// be when the server sees them itself: PostgreSQL's triggers).
    fn announces(&self) -> bool;
    /// Tells every subscriber that this user changed.
    async fn announce(&self, id: &str) -> Result<(), BoxError>;
}

/// A connection subscribed to the changes.
#[async_trait]
trait Subscription: Send {
    /// The next change; `None` when the connection is lost (messages may have been missed).
    async fn next(&mut self) -> Option<Change>;
    /// A round trip on this connection: whether it is alive.
    async fn ping(&mut self) -> bool;
}

/// What a channel says.
#[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]
enum Change {
    /// The user with this id changed.
    User(String),
    /// Any user may have changed (a `TRUNCATE`).
    Everyone,
}

/// Listens to `remote` for `cache` until the cache is dropped: serving while subscribed,
/// stopped (and cleared when it comes back) whenever the subscription is lost or stops
/// answering.
async fn listen(remote: Arc<dyn Remote>, cache: Weak<dyn CacheHandle>) {
    let mut backoff = Duration::from_millis(50);
    let mut failures = 0u32;
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        let subscribed = tokio::time::timeout(CONNECT_TIMEOUT, remote.subscribe()).await;
        let mut subscription = match subscribed {
            Ok(Ok(subscription)) => subscription,
            Ok(Err(error)) => {
                failures += 1;
                report_failure(remote.describe(), failures, &*error);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(_) => {
                failures += 1;
                report_failure(remote.describe(), failures, &"the connection timed out");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        match cache.upgrade() {
            Some(cache) => cache.restart(),
            None => return,
        }
        if failures > 0 {
            tracing::info!(
                channel = remote.describe(),
                "the user cache's channel is back; the cache serves again"
            );
        }
        backoff = Duration::from_millis(50);
        loop {
            let change = match tokio::time::timeout(SILENCE, subscription.next()).await {
                Ok(Some(change)) => change,
                Ok(None) => break,
                Err(_) => {
                    if cache.strong_count() == 0 {
                        return;
                    }
                    match tokio::time::timeout(ANSWER, subscription.ping()).await {
                        Ok(true) => continue,
                        _ => break,
                    }
                }
            };
            let Some(cache) = cache.upgrade() else {
                return;
            };
            match change {
                Change::User(id) => cache.evict(&id),
                Change::Everyone => cache.clear(),
            }
        }
        match cache.upgrade() {
            Some(cache) => cache.stop(),
            None => return,
        }
        failures = 1;
        tracing::warn!(
            channel = remote.describe(),
            "the user cache's channel was lost; users are read from the store until it is back"
        );
    }
}

fn report_failure(channel: &'static str, failures: u32, error: &dyn std::fmt::Display) {
    if failures == 1 {
        tracing::warn!(
            channel,
            %error,
            "the user cache cannot reach its channel; users are read from the store until it can"
        );
    } else {
        tracing::debug!(channel, %error, "the user cache's channel is still unreachable");
    }
}

/// Announces a change, retrying until the channel takes it or `ttl` has passed (by then the
/// cached copies have expired anyway).
async fn announce(remote: Arc<dyn Remote>, id: String, ttl: Duration) {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(50);
    loop {
        let error: BoxError = match tokio::time::timeout(ANSWER, remote.announce(&id)).await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error,
            Err(_) => "no answer".into(),
        };
        if start.elapsed() >= ttl {
            tracing::error!(
                channel = remote.describe(),
                %error,
                user = %id,
                "could not announce a change of a user to the other instances' caches"
            );
            return;
        }
        tracing::debug!(channel = remote.describe(), %error, "announcing a change again");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
