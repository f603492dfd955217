//! Where users are kept: the [`UserStore`] trait and its SQL implementations.
//!
//! `#[derive(User)]` writes the SQL for each database (complete statements, no query built at
//! run time); [`SqlStore`] runs it on a sqlx pool. [`connect`] picks the database from a URL.

/// Declares `$name`, implemented for every type that is `$bound<DB>` for each database this
/// build supports (the `sqlite` and `postgres` features).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! every_database {
    ($(#[$doc:meta])* $vis:vis trait $name:ident: $bound:ident) => {
        $(#[$doc])*
        #[cfg(all(feature = "sqlite", feature = "postgres"))]
        $vis trait $name: $bound<sqlx::Sqlite> + $bound<sqlx::Postgres> {}
        #[cfg(all(feature = "sqlite", feature = "postgres"))]
        impl<T: $bound<sqlx::Sqlite> + $bound<sqlx::Postgres>> $name for T {}

        $(#[$doc])*
        #[cfg(all(feature = "sqlite", not(feature = "postgres")))]
        $vis trait $name: $bound<sqlx::Sqlite> {}
        #[cfg(all(feature = "sqlite", not(feature = "postgres")))]
        impl<T: $bound<sqlx::Sqlite>> $name for T {}

        $(#[$doc])*
        #[cfg(all(feature = "postgres", not(feature = "sqlite")))]
        $vis trait $name: $bound<sqlx::Postgres> {}
        #[cfg(all(feature = "postgres", not(feature = "sqlite")))]
        impl<T: $bound<sqlx::Postgres>> $name for T {}
    };
}

mod cache;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod column;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod schema;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[doc(hidden)]
pub mod sql_id;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use schema::{Column, Dialect, Difference, SchemaMismatch};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{SqlStore, SqlUser};

pub use cache::{CacheChannel, CachedUserStore, DEFAULT_TTL};

use std::time::Duration;

use async_trait::async_trait;

use crate::error::{ApiError, BoxError, Report};
use crate::revocation::{Revocable, Timestamp};
use crate::user::User;

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, restarting, pool exhausted). Answered as a 503;
    /// the pool reconnects by itself when the database is back.
    #[error("the database is unavailable")]
    Unavailable(#[source] BoxError),
    /// A unique constraint refused the write (the email is taken).
    #[error("a unique constraint was violated")]
    Conflict(#[source] BoxError),
    /// Any other database error.
    #[error("database error")]
    Database(#[source] BoxError),
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let unavailable = match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                return Self::Conflict(error.into());
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            // PostgreSQL shutting down or refusing connections (class 57P, 53, 08).
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("57P") || c.starts_with("53") || c.starts_with("08")
            }),
            _ => false,
        };
        if unavailable {
            Self::Unavailable(error.into())
        } else {
            Self::Database(error.into())
        }
    }
}

// The answer to a store failure: 503 while the database is unreachable, else 500 (logged).
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(cause = %Report(&*cause), "user store unavailable");
                Self::unavailable("The user database is unavailable. Try again later.")
            }
            other => {
                tracing::error!(error = %Report(&other), "user store error");
                Self::internal()
            }
        }
    }
}

/// Storage of users. The user manager is its only caller in fastusers; implement it to keep
/// users somewhere other than SQL.
#[async_trait]
pub trait UserStore<U: User>: Send + Sync + 'static {
    /// The user with this id.
    async fn get(&self, id: &U::Id) -> Result<Option<U>, StoreError>;
    /// The user with this email in any letter case: the same address under
    /// [`fold_case`](crate::email::fold_case).
    async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError>;
    /// Inserts a new user and returns it as stored (with its database-generated id, if any).
    /// An email already taken in any letter case is a [`StoreError::Conflict`], also when
    /// another write of the address runs at the same moment.
    async fn create(&self, user: &U) -> Result<U, StoreError>;
    /// Applies the changes that are set and returns the updated user; `None` when no such user.
    /// A new email that another user has in any letter case is a [`StoreError::Conflict`].
    async fn update(&self, id: &U::Id, changes: &U::Changes) -> Result<Option<U>, StoreError>;
    /// Deletes the user; whether there was one.
    async fn delete(&self, id: &U::Id) -> Result<bool, StoreError>;

    /// The user with this id and the moment up to which their sessions are revoked, read
    /// together (the strategies call this on every authenticated request: one round trip).
    ///
    /// A store that keeps no revocation times returns [`Revocable::new`]; see
    /// [`update_and_revoke`](Self::update_and_revoke) for what that gives up.
    async fn get_revocable(&self, id: &U::Id) -> Result<Option<Revocable<U>>, StoreError>;

    /// Applies the changes that are set (possibly none) and records that the user's sessions
    /// issued at or before `revoked_at` are revoked, in one transaction: either both are saved
    /// or neither. Returns the updated user; `None` when no such user.
    ///
    /// A store that keeps no revocation times only applies the changes (and
    /// [`get_revocable`](Self::get_revocable) returns no time): a user's sessions then end only
    /// as far as the strategies can delete their tokens, which fails while a token store is
    /// down, and JWTs live on. See [`crate::revocation`].
    async fn update_and_revoke(
        &self,
        id: &U::Id,
        changes: &U::Changes,
        revoked_at: Timestamp,
    ) -> Result<Option<U>, StoreError>;

    /// Whether the store answers: a readiness check (the quickstart's `GET /ready`). The
    /// default looks up an email address that no user can have, so it costs one indexed read.
    async fn ping(&self) -> Result<(), StoreError> {
        self.get_by_email("ping@readiness.invalid").await.map(drop)
    }

    /// The store's access tokens, for [`DatabaseStrategy`](crate::strategy::DatabaseStrategy);
    /// `None` when it keeps none.
    fn access_tokens(&self) -> Option<std::sync::Arc<dyn AccessTokenStore<U>>> {
        None
    }

    /// The store's refresh tokens, for [`RefreshTokens`](crate::refresh::RefreshTokens); `None`
    /// when it keeps none.
    fn refresh_tokens(&self) -> Option<std::sync::Arc<dyn RefreshTokenStore<U>>> {
        None
    }

    /// The store's OAuth accounts (the `oauth_account` table of a model with
    /// `#[fastusers(oauth)]`); `None` when it keeps none.
    fn oauth_accounts(&self) -> Option<std::sync::Arc<dyn OAuthAccountStore<U>>> {
        None
    }

    /// The channel on which the user caches of every process that shares this store hear of
    /// each other's changes (see [`CachedUserStore`]): PostgreSQL's `LISTEN`/`NOTIFY` for
    /// [`SqlStore`] on PostgreSQL, the process itself for SQLite. `None` (the default) when the
    /// store offers none: [`UserManager::new`](crate::UserManager::new) then caches nothing,
    /// since it could not keep a cache true.
    fn cache_channel(&self) -> Option<CacheChannel> {
        None
    }
}

/// An account at an OAuth provider, linked to a user (a row of the `oauth_account` table).
///
/// It holds the provider's tokens, so it is not `Serialize`: the OAuth routes show clients
/// only the fields without tokens, unless the application opts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAccount {
    /// Primary key.
    pub id: uuid::Uuid,
    /// The provider's name, as the routes use it (`google`, `github`).
    pub oauth_name: String,
    /// The provider's access token.
    pub access_token: String,
    /// When the access token expires, in seconds since the epoch.
    pub expires_at: Option<i64>,
    /// The provider's refresh token, if it gave one.
    pub refresh_token: Option<String>,
    /// The user's id at the provider (`sub` for OpenID Connect).
    pub account_id: String,
    /// The email address the provider gave.
    pub account_email: String,
}

/// Storage of OAuth accounts (the `oauth_account` table). A provider account
/// (`oauth_name`, `account_id`) belongs to at most one user.
#[async_trait]
pub trait OAuthAccountStore<U: User>: Send + Sync + 'static {
    /// The user that this provider account is linked to.
    async fn get_by_oauth_account(
        &self,
        oauth_name: &str,
        account_id: &str,
    ) -> Result<Option<U>, StoreError>;
    /// Links a provider account to a user. Already linked (to anyone) is a
    /// [`StoreError::Conflict`].
    async fn add_oauth_account(
        &self,
        user_id: &U::Id,
        account: &OAuthAccount,
    ) -> Result<(), StoreError>;
    /// Stores new tokens and email for an account (found by its `id`).
    async fn update_oauth_account(&self, account: &OAuthAccount) -> Result<(), StoreError>;
    /// A user's accounts, by provider name.
    async fn oauth_accounts_of(&self, user_id: &U::Id) -> Result<Vec<OAuthAccount>, StoreError>;
    /// Unlinks the user's account at this provider; whether there was one.
    async fn remove_oauth_account(
        &self,
        user_id: &U::Id,
        oauth_name: &str,
    ) -> Result<bool, StoreError>;
}

/// Storage of opaque access tokens (the `accesstoken` table).
///
/// Each row is keyed by what [`DatabaseStrategy`](crate::strategy::DatabaseStrategy) gives it:
/// a token's [stored form](crate::token::stored_form), a hash, never the token itself; only a
/// row that fastapi-users wrote holds its token in clear, until the strategy
/// [rekeys](Self::rekey) it at its first use.
#[async_trait]
pub trait AccessTokenStore<U: User>: Send + Sync + 'static {
    /// Stores a new token's key for the user, created now.
    async fn create(&self, key: &str, user_id: &U::Id) -> Result<(), StoreError>;
    /// The user of the token under `key`, if it is younger than `lifetime_seconds` (`None`:
    /// any age) and made after the user's revocation time, if any (see
    /// [`crate::revocation`]). An expired or revoked token is deleted on the way.
    async fn user_by_token(
        &self,
        key: &str,
        lifetime_seconds: Option<u64>,
    ) -> Result<Option<U>, StoreError>;
    /// Moves the token under `old` to `new`, keeping its user and creation time (a token that
    /// fastapi-users stored in clear, rewritten as its stored form); whether there was one.
    async fn rekey(&self, old: &str, new: &str) -> Result<bool, StoreError>;
    /// Deletes the token under `key`.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes every token of a user.
    async fn delete_for_user(&self, user_id: &U::Id) -> Result<(), StoreError>;
    /// The keys of a user's live tokens and their creation times (seconds since the epoch).
    async fn list_for_user(
        &self,
        user_id: &U::Id,
        lifetime_seconds: Option<u64>,
    ) -> Result<Vec<(String, u64)>, StoreError>;
    /// Deletes the tokens older than `lifetime_seconds`; how many.
    async fn purge_expired(&self, lifetime_seconds: u64) -> Result<u64, StoreError>;
}

/// One refresh token as stored: never the token, its [stored form](crate::token::stored_form).
/// See [`crate::refresh`].
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRow<I> {
    /// The token's stored form (a hash).
    pub token: String,
    /// The family: every token descended from one login shares it.
    pub family: String,
    /// The stored form of the token this one replaced; `None` for the login's.
    pub parent: Option<String>,
    /// The user.
    pub user_id: I,
    /// The name of the backend that issued it.
    pub backend: String,
    /// When the login that started the family happened.
    pub auth_time: Timestamp,
    /// When this token was issued.
    pub created_at: Timestamp,
    /// When this token was exchanged for its successor; `None` while it is the family's live one.
    pub rotated_at: Option<Timestamp>,
    /// Once rotated, the successor sealed with this token (only its holder can open it).
    pub successor: Option<String>,
}

/// Storage of refresh tokens (see [`crate::refresh`]): rows keyed by the tokens' stored forms.
/// The SQL stores keep them in the `fastusers_refresh_token` table.
#[async_trait]
pub trait RefreshTokenStore<U: User>: Send + Sync + 'static {
    /// Stores a new token.
    async fn insert(&self, row: &RefreshRow<U::Id>) -> Result<(), StoreError>;
    /// The token stored under `token` (a stored form).
    async fn find(&self, token: &str) -> Result<Option<RefreshRow<U::Id>>, StoreError>;
    /// Marks `token` rotated at `at`, with its successor `sealed`, and stores `next`, in one
    /// transaction, if `token` was not rotated yet; whether it was this call that rotated it.
    /// Of two calls at the same moment, exactly one rotates.
    async fn rotate(
        &self,
        token: &str,
        at: Timestamp,
        sealed: &str,
        next: &RefreshRow<U::Id>,
    ) -> Result<bool, StoreError>;
    /// Deletes every token of a family; how many.
    async fn delete_family(&self, family: &str) -> Result<u64, StoreError>;
    /// Deletes every token of a user.
    async fn delete_for_user(&self, user_id: &U::Id) -> Result<(), StoreError>;
    /// The user's tokens not yet rotated (one per family), oldest login first.
    async fn live_for_user(&self, user_id: &U::Id) -> Result<Vec<RefreshRow<U::Id>>, StoreError>;
    /// Deletes the backend's families whose login was before `logged_in_before` or whose
    /// live token was issued before `idle_since`; how many tokens.
    async fn purge(
        &self,
        backend: &str,
        logged_in_before: Timestamp,
        idle_since: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL names a database this build does not support.
    #[error(
        "unsupported database URL `{0}`: expected `sqlite:...` (feature `sqlite`) or `postgres://...` (feature `postgres`)"
    )]
    Unsupported(String),
    /// Connecting or creating the tables failed.
    #[error("could not open the user database")]
    Store(#[from] StoreError),
    /// The tables differ from what the user model expects; the error names each difference
    /// and the SQL that would fix it.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[error(transparent)]
    Schema(#[from] SchemaMismatch),
}

/// How [`connect_with`] opens the store: the pool's settings and whether missing tables are
/// created. The defaults are [`connect`]'s.
///
/// ```
/// use std::time::Duration;
///
/// let options = fastusers::store::StoreOptions::new()
///     .max_connections(32)
///     .acquire_timeout(Duration::from_secs(1))
///     .idle_timeout(Some(Duration::from_secs(600)))
///     .create_tables(false);
/// assert_eq!(options.get_max_connections(), Some(32));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    max_connections: Option<u32>,
    acquire_timeout: Duration,
    idle_timeout: Option<Option<Duration>>,
    create_tables: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            idle_timeout: None,
            create_tables: true,
        }
    }
}

/// How long a request waits for a connection of the pool before the store answers
/// [`StoreError::Unavailable`] (a `503`), unless [`StoreOptions::acquire_timeout`] says otherwise.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl StoreOptions {
    /// The defaults: 16 connections on PostgreSQL, 8 on a SQLite file (1 in memory), a
    /// 3-second acquire timeout, sqlx's idle timeout (10 minutes) on PostgreSQL and none on
    /// SQLite, and missing tables created.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most connections the pool opens (an in-memory SQLite database keeps one, since each
    /// connection would see a database of its own).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// How long a query waits for a free connection before failing as unavailable (`503`).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long a connection may stay unused before the pool closes it; `None`: never.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Whether missing tables are created (the default), or only checked: with `false`, a
    /// missing table is a [`SchemaMismatch`] that shows its `CREATE TABLE`, for databases whose
    /// schema only migrations change (see [`schema_sql`]).
    pub fn create_tables(mut self, create: bool) -> Self {
        self.create_tables = create;
        self
    }

    /// The maximum set with [`max_connections`](Self::max_connections), if any.
    pub fn get_max_connections(&self) -> Option<u32> {
        self.max_connections
    }

    /// The acquire timeout.
    pub fn get_acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// The idle timeout set with [`idle_timeout`](Self::idle_timeout), if any.
    pub fn get_idle_timeout(&self) -> Option<Option<Duration>> {
        self.idle_timeout
    }

    /// Whether missing tables are created.
    pub fn get_create_tables(&self) -> bool {
        self.create_tables
    }
}

/// Opens the user store named by `url` (`sqlite:users.db`, `sqlite::memory:`,
/// `postgres://user@host/db`), creates the tables that do not exist, and checks that the
/// tables are what the model expects (see [`SqlStore::check_schema`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use fastusers::prelude::*;
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
/// assert!(store.get_by_email("nobody@example.com").await.unwrap().is_none());
/// # }
/// ```
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub async fn connect<U>(url: &str) -> Result<std::sync::Arc<dyn UserStore<U>>, ConnectError>
where
    U: ConnectableUser,
{
    connect_with(url, &StoreOptions::default()).await
}

/// [`connect`] with the pool's settings and the choice of creating tables.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # use fastusers::prelude::*;
/// # #[derive(User, Clone, Debug)]
/// # pub struct Member { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
/// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
/// use fastusers::store::{ConnectError, StoreOptions};
///
/// // Tables made by migrations only: an empty database is an error naming what to create.
/// let options = StoreOptions::new().max_connections(4).create_tables(false);
/// let Err(error) = fastusers::store::connect_with::<Member>("sqlite::memory:", &options).await
/// else {
///     panic!("an empty database passed the check");
/// };
/// assert!(matches!(error, ConnectError::Schema(_)));
/// assert!(error.to_string().contains(r#""user": the table is missing"#));
/// # }
/// ```
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub async fn connect_with<U>(
    url: &str,
    options: &StoreOptions,
) -> Result<std::sync::Arc<dyn UserStore<U>>, ConnectError>
where
    U: ConnectableUser,
{
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        let store = SqlStore::<U, sqlx::Sqlite>::connect_sqlite_with(url, options).await?;
        store.prepare(options).await?;
        return Ok(std::sync::Arc::new(store));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = SqlStore::<U, sqlx::Postgres>::connect_postgres_with(url, options).await?;
        store.prepare(options).await?;
        return Ok(std::sync::Arc::new(store));
    }
    Err(ConnectError::Unsupported(url.to_owned()))
}

/// The SQL of every table fastusers needs for the model `U` in `dialect`: the user table, the
/// tables of its own (`accesstoken`, `fastusers_revocation`, `oauth_account` with
/// `#[fastusers(oauth)]`), their indexes, and on PostgreSQL the triggers of the user cache;
/// statements ending in `;`, to check in as a migration (sqlx-cli, refinery, Flyway...).
///
/// ```
/// # use fastusers::prelude::*;
/// # #[derive(User, Clone, Debug)]
/// # pub struct Member { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
/// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
/// let sql = fastusers::store::schema_sql::<Member>(fastusers::store::Dialect::Sqlite);
/// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS \"user\" (\n    \"id\" CHAR(36) NOT NULL PRIMARY KEY,"));
/// assert!(sql.contains("CREATE TABLE IF NOT EXISTS \"accesstoken\""));
/// ```
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub fn schema_sql<U: ConnectableUser>(dialect: Dialect) -> String {
    match dialect {
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => SqlStore::<U, sqlx::Sqlite>::schema(),
        #[cfg(feature = "postgres")]
        Dialect::Postgres => SqlStore::<U, sqlx::Postgres>::schema(),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
every_database! {
    /// A user model with SQL for every database this build supports; `#[derive(User)]` makes
    /// it so.
    pub trait ConnectableUser: SqlUser
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_keeps_its_cause() {
        let error = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
        let cause = std::error::Error::source(&error).expect("a cause");
        assert!(cause.downcast_ref::<sqlx::Error>().is_some(), "{cause:?}");
        assert_eq!(
            Report(&error).to_string(),
            format!("the database is unavailable: {}", sqlx::Error::PoolTimedOut)
        );
        let other = StoreError::from(sqlx::Error::RowNotFound);
        assert!(matches!(other, StoreError::Database(_)), "{other:?}");
    }
}
