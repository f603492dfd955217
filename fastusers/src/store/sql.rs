//! The SQL user store on a sqlx pool, for SQLite and PostgreSQL.

use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::{Database, Pool};

use super::schema::{self, Column, Dialect, Found, SchemaMismatch};
use super::{
    AccessTokenStore, CacheChannel, ConnectError, OAuthAccount, OAuthAccountStore, RefreshRow,
    RefreshTokenStore, StoreError, StoreOptions, UserStore,
};
use crate::email::fold_case;
use crate::revocation::{self, Revocable, Timestamp};
use crate::user::{User, UserChanges as _};

/// The SQL of a user model for one database, written by `#[derive(User)]`.
///
/// Every statement is a complete literal: the derive knows the columns, so nothing is built at
/// run time. The update statement writes each column as `CASE WHEN <set?> THEN <value> ELSE
/// <column> END`, so that one prepared statement updates exactly the fields that were set.
// A new item here also goes into the derive's stand-in for a model with errors
// (`stub` in fastusers-macros/src/user/generate.rs); the UI tests fail until it does.
pub trait SqlUser<DB: Database>: User {
    /// The user table's name.
    const TABLE: &'static str;
    /// The user table's columns, in the order of the struct's fields.
    const COLUMNS: &'static [Column];
    /// Statements that create the table and its indexes if they do not exist.
    const SCHEMA: &'static [&'static str];
    /// Selects one user by id (`$1`), with the user's revocation time as
    /// `fastusers_revoked_at` (NULL when there is none).
    const SELECT_BY_ID: &'static str;
    /// Selects one user by an ASCII email, case-insensitively (`lower(email) = lower($1)`, on
    /// the unique index).
    const SELECT_BY_EMAIL: &'static str;
    /// Selects the users that a non-ASCII email may be a case variant of, for the store to
    /// compare with [`fold_case`](crate::email::fold_case): `length(email) = $1 AND
    /// lower(email) LIKE lower($2) ESCAPE '!'`, where `$2` has the address's ASCII characters
    /// and `_` for each other one.
    const SELECT_EMAIL_CANDIDATES: &'static str;
    /// Inserts a user and returns the stored row.
    const INSERT: &'static str;
    /// Updates the columns whose flag is set and returns the row.
    const UPDATE: &'static str;
    /// Deletes a user by id.
    const DELETE: &'static str;
    /// Statements that create the `accesstoken` table (its `user_id` references this table).
    const TOKEN_SCHEMA: &'static [&'static str];
    /// Selects the user of a token (`$1`) created at or after `$2`, with the token's creation
    /// time as `fastusers_token_created_at` and the user's revocation time as
    /// `fastusers_revoked_at`.
    const SELECT_BY_TOKEN: &'static str;
    /// Statements that create the `fastusers_revocation` table (its `user_id` references this
    /// table): each user's revocation time, see [`crate::revocation`].
    const REVOCATION_SCHEMA: &'static [&'static str];
    /// Statements that create the `fastusers_refresh_token` table (its `user_id` references
    /// this table): the refresh tokens' stored forms, see [`crate::refresh`].
    const REFRESH_SCHEMA: &'static [&'static str];
    /// Statements that create the `oauth_account` table; empty unless the model has
    /// `#[fastusers(oauth)]`.
    const OAUTH_SCHEMA: &'static [&'static str];
    /// Selects the user of an OAuth account: provider name `$1`, account id `$2`.
    const SELECT_BY_OAUTH: &'static str;

    /// Reads a user from a row of the table.
    fn from_row(row: &DB::Row) -> Result<Self, sqlx::Error>;
    /// Binds an id.
    fn bind_id<'q>(
        id: &Self::Id,
        query: Query<'q, DB, DB::Arguments>,
    ) -> Query<'q, DB, DB::Arguments>;
    /// Reads an id from `column`.
    fn get_id(row: &DB::Row, column: &str) -> Result<Self::Id, sqlx::Error>;
    /// Binds the values of [`Self::INSERT`].
    fn bind_insert<'q>(&self, query: Query<'q, DB, DB::Arguments>) -> Query<'q, DB, DB::Arguments>;
    /// Binds the flags and values of [`Self::UPDATE`] after the id.
    fn bind_update<'q>(
        changes: &Self::Changes,
        query: Query<'q, DB, DB::Arguments>,
    ) -> Query<'q, DB, DB::Arguments>;
}

/// A [`UserStore`] on a sqlx pool.
pub struct SqlStore<U, DB: Database> {
    pool: Pool<DB>,
    /// Made on first use, shared by the clones.
    channel: std::sync::Arc<std::sync::OnceLock<CacheChannel>>,
    user: PhantomData<fn() -> U>,
}

impl<U, DB: Database> std::fmt::Debug for SqlStore<U, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("database", &DB::NAME)
            .finish_non_exhaustive()
    }
}

impl<U, DB: Database> Clone for SqlStore<U, DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            channel: self.channel.clone(),
            user: PhantomData,
        }
    }
}

impl<U, DB: Database> SqlStore<U, DB> {
    /// A store on a pool the application already has, with the settings it chose. Call
    /// `migrate` (or `prepare`) to create the missing tables and check the others.
    pub fn from_pool(pool: Pool<DB>) -> Self {
        Self {
            pool,
            channel: Default::default(),
            user: PhantomData,
        }
    }

    /// The pool, to share it with the rest of the application.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

/// How long a PostgreSQL connection may sit idle before it is pinged on its next use.
#[cfg(feature = "postgres")]
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

#[cfg(feature = "sqlite")]
impl<U> SqlStore<U, sqlx::Sqlite> {
    /// Opens a SQLite database (created if missing, WAL journal). `sqlite::memory:` gets a
    /// single shared connection, since every connection would see its own empty database.
    pub async fn connect_sqlite(url: &str) -> Result<Self, StoreError> {
        Self::connect_sqlite_with(url, &StoreOptions::default()).await
    }

    /// [`connect_sqlite`](Self::connect_sqlite) with the pool's settings (8 connections and
    /// no idle timeout unless they say otherwise; one connection for a database in memory).
    pub async fn connect_sqlite_with(
        url: &str,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        use std::str::FromStr;
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let connect = if memory {
            connect
        } else {
            connect.journal_mode(SqliteJournalMode::Wal)
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory {
                1
            } else {
                options.get_max_connections().unwrap_or(8)
            })
            .acquire_timeout(options.get_acquire_timeout())
            // A file in this process does not go away; sqlx's ping before every query would
            // only cost a round trip to the connection's thread.
            .test_before_acquire(false)
            .idle_timeout(options.get_idle_timeout().flatten())
            .max_lifetime(None)
            .connect_with(connect)
            .await?;
        Ok(Self::from_pool(pool))
    }
}

#[cfg(feature = "postgres")]
impl<U> SqlStore<U, sqlx::Postgres> {
    /// Connects to PostgreSQL. Connections are made as needed, so the store comes back by
    /// itself after the server restarts.
    ///
    /// A connection that sat idle for a second or longer is pinged before use, and
    /// a dead one replaced; a busy connection is not, since sqlx already checks each one when
    /// it goes back to the pool. sqlx's default pings before every query, which doubles the
    /// round trips of a `GET /users/me`.
    pub async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        Self::connect_postgres_with(url, &StoreOptions::default()).await
    }

    /// [`connect_postgres`](Self::connect_postgres) with the pool's settings (16 connections
    /// and sqlx's 10-minute idle timeout unless they say otherwise).
    pub async fn connect_postgres_with(
        url: &str,
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        let mut pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(options.get_max_connections().unwrap_or(16))
            .acquire_timeout(options.get_acquire_timeout());
        if let Some(idle) = options.get_idle_timeout() {
            pool = pool.idle_timeout(idle);
        }
        let pool = pool
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        Ok(Self::from_pool(pool))
    }
}

/// The access-token statements of one database; the table is fastapi-users' `accesstoken`.
struct TokenSql {
    insert: &'static str,
    rekey: &'static str,
    delete: &'static str,
    delete_expired: &'static str,
    delete_for_user: &'static str,
    list: &'static str,
    purge: &'static str,
}

#[cfg(feature = "sqlite")]
const SQLITE_TOKENS: TokenSql = TokenSql {
    insert: r#"INSERT INTO "accesstoken" ("token", "created_at", "user_id") VALUES (?1, ?2, ?3)"#,
    rekey: r#"UPDATE "accesstoken" SET "token" = ?2 WHERE "token" = ?1"#,
    delete: r#"DELETE FROM "accesstoken" WHERE "token" = ?1"#,
    delete_expired: r#"DELETE FROM "accesstoken" WHERE "token" = ?1 AND "created_at" < ?2"#,
    delete_for_user: r#"DELETE FROM "accesstoken" WHERE "user_id" = ?1"#,
    list: r#"SELECT "token", "created_at" FROM "accesstoken" WHERE "user_id" = ?1 AND "created_at" >= ?2 ORDER BY "created_at""#,
    purge: r#"DELETE FROM "accesstoken" WHERE "created_at" < ?1"#,
};

#[cfg(feature = "postgres")]
const POSTGRES_TOKENS: TokenSql = TokenSql {
    insert: r#"INSERT INTO "accesstoken" ("token", "created_at", "user_id") VALUES ($1, $2, $3)"#,
    rekey: r#"UPDATE "accesstoken" SET "token" = $2 WHERE "token" = $1"#,
    delete: r#"DELETE FROM "accesstoken" WHERE "token" = $1"#,
    delete_expired: r#"DELETE FROM "accesstoken" WHERE "token" = $1 AND "created_at" < $2"#,
    delete_for_user: r#"DELETE FROM "accesstoken" WHERE "user_id" = $1"#,
    list: r#"SELECT "token", "created_at" FROM "accesstoken" WHERE "user_id" = $1 AND "created_at" >= $2 ORDER BY "created_at""#,
    purge: r#"DELETE FROM "accesstoken" WHERE "created_at" < $1"#,
};

/// The refresh-token statements of one database; the table is `fastusers_refresh_token`.
struct RefreshSql {
    insert: &'static str,
    find: &'static str,
    rotate: &'static str,
    delete_family: &'static str,
    delete_for_user: &'static str,
    list_for_user: &'static str,
    purge_absolute: &'static str,
    purge_idle: &'static str,
}

#[cfg(feature = "sqlite")]
const SQLITE_REFRESH: RefreshSql = RefreshSql {
    insert: r#"INSERT INTO "fastusers_refresh_token" ("token", "family", "parent", "backend", "auth_time", "created_at", "rotated_at", "successor", "user_id") VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7)"#,
    find: r#"SELECT "token", "family", "parent", "user_id", "backend", "auth_time", "created_at", "rotated_at", "successor" FROM "fastusers_refresh_token" WHERE "token" = ?1"#,
    rotate: r#"UPDATE "fastusers_refresh_token" SET "rotated_at" = ?2, "successor" = ?3 WHERE "token" = ?1 AND "rotated_at" IS NULL"#,
    delete_family: r#"DELETE FROM "fastusers_refresh_token" WHERE "family" = ?1"#,
    delete_for_user: r#"DELETE FROM "fastusers_refresh_token" WHERE "user_id" = ?1"#,
    list_for_user: r#"SELECT "token", "family", "parent", "user_id", "backend", "auth_time", "created_at", "rotated_at", "successor" FROM "fastusers_refresh_token" WHERE "user_id" = ?1 AND "rotated_at" IS NULL ORDER BY "auth_time""#,
    purge_absolute: r#"DELETE FROM "fastusers_refresh_token" WHERE "backend" = ?1 AND "auth_time" < ?2"#,
    purge_idle: r#"DELETE FROM "fastusers_refresh_token" WHERE "family" IN (SELECT "family" FROM "fastusers_refresh_token" WHERE "backend" = ?1 AND "rotated_at" IS NULL AND "created_at" < ?2)"#,
};

#[cfg(feature = "postgres")]
const POSTGRES_REFRESH: RefreshSql = RefreshSql {
    insert: r#"INSERT INTO "fastusers_refresh_token" ("token", "family", "parent", "backend", "auth_time", "created_at", "rotated_at", "successor", "user_id") VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7)"#,
    find: r#"SELECT "token", "family", "parent", "user_id", "backend", "auth_time", "created_at", "rotated_at", "successor" FROM "fastusers_refresh_token" WHERE "token" = $1"#,
    rotate: r#"UPDATE "fastusers_refresh_token" SET "rotated_at" = $2, "successor" = $3 WHERE "token" = $1 AND "rotated_at" IS NULL"#,
    delete_family: r#"DELETE FROM "fastusers_refresh_token" WHERE "family" = $1"#,
    delete_for_user: r#"DELETE FROM "fastusers_refresh_token" WHERE "user_id" = $1"#,
    list_for_user: r#"SELECT "token", "family", "parent", "user_id", "backend", "auth_time", "created_at", "rotated_at", "successor" FROM "fastusers_refresh_token" WHERE "user_id" = $1 AND "rotated_at" IS NULL ORDER BY "auth_time""#,
    purge_absolute: r#"DELETE FROM "fastusers_refresh_token" WHERE "backend" = $1 AND "auth_time" < $2"#,
    purge_idle: r#"DELETE FROM "fastusers_refresh_token" WHERE "family" IN (SELECT "family" FROM "fastusers_refresh_token" WHERE "backend" = $1 AND "rotated_at" IS NULL AND "created_at" < $2)"#,
};

/// Records a user's revocation time (`$1` the user, `$2` the time), replacing the one before.
#[cfg(feature = "sqlite")]
const SQLITE_REVOKE: &str = r#"INSERT INTO "fastusers_revocation" ("user_id", "revoked_at") VALUES (?1, ?2) ON CONFLICT ("user_id") DO UPDATE SET "revoked_at" = excluded."revoked_at""#;
#[cfg(feature = "postgres")]
const POSTGRES_REVOKE: &str = r#"INSERT INTO "fastusers_revocation" ("user_id", "revoked_at") VALUES ($1, $2) ON CONFLICT ("user_id") DO UPDATE SET "revoked_at" = excluded."revoked_at""#;

/// The OAuth-account statements of one database; the table is fastapi-users' `oauth_account`.
struct OAuthSql {
    insert: &'static str,
    update: &'static str,
    list: &'static str,
    delete: &'static str,
}

#[cfg(feature = "sqlite")]
const SQLITE_OAUTH: OAuthSql = OAuthSql {
    insert: r#"INSERT INTO "oauth_account" ("id", "oauth_name", "access_token", "expires_at", "refresh_token", "account_id", "account_email", "user_id") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"#,
    update: r#"UPDATE "oauth_account" SET "access_token" = ?2, "expires_at" = ?3, "refresh_token" = ?4, "account_email" = ?5 WHERE "id" = ?1"#,
    list: r#"SELECT "id", "oauth_name", "access_token", "expires_at", "refresh_token", "account_id", "account_email" FROM "oauth_account" WHERE "user_id" = ?1 ORDER BY "oauth_name""#,
    delete: r#"DELETE FROM "oauth_account" WHERE "user_id" = ?1 AND "oauth_name" = ?2"#,
};

#[cfg(feature = "postgres")]
const POSTGRES_OAUTH: OAuthSql = OAuthSql {
    insert: r#"INSERT INTO "oauth_account" ("id", "oauth_name", "access_token", "expires_at", "refresh_token", "account_id", "account_email", "user_id") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
    update: r#"UPDATE "oauth_account" SET "access_token" = $2, "expires_at" = $3, "refresh_token" = $4, "account_email" = $5 WHERE "id" = $1"#,
    // (The cast reads fastapi-users' INTEGER column too.)
    list: r#"SELECT "id", "oauth_name", "access_token", CAST("expires_at" AS BIGINT) AS "expires_at", "refresh_token", "account_id", "account_email" FROM "oauth_account" WHERE "user_id" = $1 ORDER BY "oauth_name""#,
    delete: r#"DELETE FROM "oauth_account" WHERE "user_id" = $1 AND "oauth_name" = $2"#,
};

/// The longest email a user can have: the column is `VARCHAR(320)` (PostgreSQL enforces it).
const MAX_EMAIL_CHARS: usize = 320;

/// The `length` and `LIKE` pattern of [`SqlUser::SELECT_EMAIL_CANDIDATES`] for an address:
/// its ASCII characters (escaped with `!`) and `_` for each other one. `None` for an address
/// longer than any stored one, which would only make a pattern that SQLite finds too long.
fn email_candidates(email: &str) -> Option<(i64, String)> {
    let length = email.chars().count();
    if length > MAX_EMAIL_CHARS {
        return None;
    }
    let mut pattern = String::with_capacity(email.len());
    for c in email.chars() {
        match c {
            '%' | '_' | '!' => {
                pattern.push('!');
                pattern.push(c);
            }
            c if c.is_ascii() => pattern.push(c),
            _ => pattern.push('_'),
        }
    }
    Some((length as i64, pattern))
}

/// Of the rows that [`SqlUser::SELECT_EMAIL_CANDIDATES`] found, the users whose email folds
/// to the same as `email`; the one spelled exactly so first (two such accounts exist only if
/// made before this rule, and each stays reachable by its own spelling).
fn same_email<U: User, R>(
    rows: &[R],
    email: &str,
    from_row: impl Fn(&R) -> Result<U, sqlx::Error>,
) -> Result<Vec<U>, StoreError> {
    let wanted = fold_case(email);
    let mut users = Vec::new();
    for row in rows {
        let user = from_row(row)?;
        if fold_case(user.email()) == wanted {
            users.push(user);
        }
    }
    users.sort_by_key(|user| user.email() != email);
    Ok(users)
}

/// Why a non-ASCII email was refused: a user has it in another case.
fn email_taken() -> StoreError {
    StoreError::Conflict("a user has this email in another letter case".into())
}

/// The second key of PostgreSQL's advisory lock on a non-ASCII email: 32 bits of the SHA-256
/// of the folded email, the same in every instance. Two emails that share it only wait for
/// each other.
#[cfg(feature = "postgres")]
fn email_lock_key(email: &str) -> i32 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(fold_case(email).as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The oldest creation time a token of this lifetime may have to be alive, to the second.
///
/// SQLite compares timestamps as text. sqlx writes them as `2026-11-24T03:25:36+00:00`, with
/// `.123`, `.123456` (what token creation times carry) or `.123456789` before the offset when
/// there is a fraction; since `+` sorts before `.` and `.` before the digits, the text order is
/// the time order between any two of these forms.
fn cutoff(lifetime_seconds: Option<u64>) -> Timestamp {
    let oldest = lifetime_seconds.map_or(0, |l| crate::token::now().saturating_sub(l));
    chrono::DateTime::from_timestamp(oldest as i64, 0).unwrap_or_default()
}

/// The columns of a SQLite table; none when there is no such table.
#[cfg(feature = "sqlite")]
async fn sqlite_columns(pool: &Pool<sqlx::Sqlite>, table: &str) -> Result<Vec<Found>, StoreError> {
    use sqlx::Row as _;
    let rows = sqlx::query(
        r#"SELECT "name", "type", "notnull", "dflt_value" IS NOT NULL AS "has_default", "pk" FROM pragma_table_info(?1)"#,
    )
    .bind(table)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Found {
                name: row.try_get("name")?,
                sql_type: row.try_get("type")?,
                not_null: row.try_get::<i64, _>("notnull")? != 0,
                has_default: row.try_get::<i64, _>("has_default")? != 0,
                primary_key: row.try_get::<i64, _>("pk")? != 0,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// The columns of a PostgreSQL table (of the search path); none when there is no such table.
#[cfg(feature = "postgres")]
async fn postgres_columns(
    pool: &Pool<sqlx::Postgres>,
    table: &str,
) -> Result<Vec<Found>, StoreError> {
    use sqlx::Row as _;
    let rows = sqlx::query(
        r#"SELECT a.attname::text AS "name", format_type(a.atttypid, a.atttypmod) AS "type", a.attnotnull AS "not_null",
    (a.atthasdef OR a.attidentity <> '') AS "has_default",
    COALESCE(a.attnum = ANY(i.indkey), FALSE) AS "pk"
FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"#,
    )
    .bind(format!("\"{table}\""))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Found {
                name: row.try_get("name")?,
                sql_type: row.try_get("type")?,
                not_null: row.try_get("not_null")?,
                has_default: row.try_get("has_default")?,
                primary_key: row.try_get("pk")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

macro_rules! sql_store {
    (
        $feature:literal,
        $db:ty,
        $tokens:expr,
        $oauth:expr,
        $refresh:expr,
        $revoke:expr,
        $migration_lock:expr,
        $email_begin:expr,
        $email_lock:expr,
        $cache_schema:expr,
        $cache_channel:expr,
        $dialect:expr,
        $columns_of:path
    ) => {
        #[cfg(feature = $feature)]
        impl<U: SqlUser<$db>> SqlStore<U, $db> {
            /// The users whose email is `email` under [`fold_case`], the exact spelling first.
            ///
            /// An ASCII email is one indexed query: no non-ASCII address folds to it. Any other
            /// reads the rows of its length and ASCII letters and compares them here, since
            /// `lower()` folds ASCII only in SQLite and in PostgreSQL's C locale.
            async fn users_by_email<'c, E>(executor: E, email: &str) -> Result<Vec<U>, StoreError>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                if email.is_ascii() {
                    let row = sqlx::query(U::SELECT_BY_EMAIL)
                        .bind(email)
                        .fetch_optional(executor)
                        .await?;
                    return Ok(row
                        .map(|r| U::from_row(&r))
                        .transpose()?
                        .into_iter()
                        .collect());
                }
                let Some((length, pattern)) = email_candidates(email) else {
                    return Ok(Vec::new());
                };
                let rows = sqlx::query(U::SELECT_EMAIL_CANDIDATES)
                    .bind(length)
                    .bind(pattern)
                    .fetch_all(executor)
                    .await?;
                same_email(&rows, email, U::from_row)
            }

            /// The transaction in which a non-ASCII email is checked and written, so that two
            /// writes of case variants cannot both pass the check: SQLite's `BEGIN IMMEDIATE`
            /// takes the database's write lock first; PostgreSQL takes an advisory lock on the
            /// folded email. (The unique index on `lower(email)` decides between ASCII emails.)
            async fn begin_email_write(
                &self,
                email: &str,
            ) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                let begin: Option<&'static str> = $email_begin;
                let mut transaction = match begin {
                    Some(statement) => self.pool.begin_with(statement).await?,
                    None => self.pool.begin().await?,
                };
                let lock: Option<(&'static str, fn(&str) -> i32)> = $email_lock;
                if let Some((lock, key)) = lock {
                    sqlx::query::<$db>(lock)
                        .bind(key(email))
                        .execute(&mut *transaction)
                        .await?;
                }
                Ok(transaction)
            }

            /// Applies `changes` and, with `revoked_at`, records the user's revocation time in
            /// the same transaction, so that a saved change never loses its revocation. A new
            /// non-ASCII email is checked for case variants inside that transaction.
            async fn write_changes(
                &self,
                id: &U::Id,
                changes: &U::Changes,
                revoked_at: Option<Timestamp>,
            ) -> Result<Option<U>, StoreError> {
                let query = U::bind_update(changes, U::bind_id(id, sqlx::query(U::UPDATE)));
                let email = changes.email().filter(|email| !email.is_ascii());
                if email.is_none() && revoked_at.is_none() {
                    let row = query.fetch_optional(&self.pool).await?;
                    return Ok(row.map(|r| U::from_row(&r)).transpose()?);
                }
                let mut transaction = match email {
                    Some(email) => self.begin_email_write(email).await?,
                    None => self.pool.begin().await?,
                };
                if let Some(email) = email {
                    let holders = Self::users_by_email(&mut *transaction, email).await?;
                    if holders.iter().any(|other| other.id() != id) {
                        return Err(email_taken());
                    }
                }
                let Some(row) = query.fetch_optional(&mut *transaction).await? else {
                    return Ok(None);
                };
                let user = U::from_row(&row)?;
                if let Some(revoked_at) = revoked_at {
                    U::bind_id(id, sqlx::query($revoke))
                        .bind(revoked_at)
                        .execute(&mut *transaction)
                        .await?;
                }
                transaction.commit().await?;
                Ok(Some(user))
            }
        }

        #[cfg(feature = $feature)]
        impl<U: SqlUser<$db>> SqlStore<U, $db> {
            /// Creates the tables that do not exist, then checks that every table is what the
            /// model expects ([`check_schema`](Self::check_schema)); it alters no table.
            /// [`connect`](super::connect) calls it unless
            /// [`StoreOptions::create_tables`](super::StoreOptions::create_tables) is off.
            pub async fn migrate(&self) -> Result<(), ConnectError> {
                self.create_tables().await?;
                self.check_schema().await
            }

            /// What [`connect_with`](super::connect_with) does once connected: [`migrate`](Self::migrate),
            /// or only [`check_schema`](Self::check_schema) when the options create no tables.
            /// Call it on a store made with [`from_pool`](SqlStore::from_pool) to set it up as
            /// `connect_with` would.
            pub async fn prepare(&self, options: &StoreOptions) -> Result<(), ConnectError> {
                if options.get_create_tables() {
                    self.migrate().await
                } else {
                    self.check_schema().await
                }
            }

            /// Creates the user table and the tables of fastusers' own (`accesstoken`,
            /// `fastusers_revocation`, `oauth_account` with `#[fastusers(oauth)]`) and their
            /// indexes if they do not exist, in one transaction: the statements of
            /// [`schema`](Self::schema). On PostgreSQL the transaction first takes an advisory
            /// lock, so that several instances starting at once on an empty database create the
            /// tables once instead of racing on the catalog; it also creates the triggers that
            /// notify the user caches of every change to a user (see
            /// [`CachedUserStore`](super::CachedUserStore)).
            pub async fn create_tables(&self) -> Result<(), StoreError> {
                let mut transaction = self.pool.begin().await?;
                if let Some(lock) = $migration_lock {
                    sqlx::query::<$db>(lock).execute(&mut *transaction).await?;
                }
                for statement in Self::statements() {
                    sqlx::query::<$db>(statement)
                        .execute(&mut *transaction)
                        .await?;
                }
                transaction.commit().await?;
                Ok(())
            }

            fn statements() -> impl Iterator<Item = &'static str> {
                U::SCHEMA
                    .iter()
                    .chain(U::TOKEN_SCHEMA)
                    .chain(U::OAUTH_SCHEMA)
                    .chain(U::REVOCATION_SCHEMA)
                    .chain(U::REFRESH_SCHEMA)
                    .chain($cache_schema)
                    .copied()
            }

            /// The SQL of every table fastusers needs for this model, with its indexes (and on
            /// PostgreSQL the triggers of the user cache), as [`create_tables`](Self::create_tables)
            /// runs it: statements ending in `;`, for a migration of your own.
            pub fn schema() -> String {
                Self::statements()
                    .map(|statement| format!("{statement};\n"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }

            /// Compares each table fastusers uses with what the model expects: a missing table
            /// or column, a column of another type, a nullable column for a field that is not
            /// an `Option` (or the other way round), a `NOT NULL` column without a default that
            /// no field writes. Each difference is named in the error with the SQL that would
            /// fix it; nothing is changed.
            pub async fn check_schema(&self) -> Result<(), ConnectError> {
                let tables = schema::tables(
                    $dialect,
                    U::TABLE,
                    U::COLUMNS,
                    [
                        U::SCHEMA,
                        U::TOKEN_SCHEMA,
                        U::REVOCATION_SCHEMA,
                        U::OAUTH_SCHEMA,
                        U::REFRESH_SCHEMA,
                    ],
                );
                let mut found = Vec::with_capacity(tables.len());
                for table in &tables {
                    let columns = $columns_of(&self.pool, &table.name).await?;
                    found.push((!columns.is_empty()).then_some(columns));
                }
                let differences = schema::compare($dialect, &tables, &found);
                if differences.is_empty() {
                    return Ok(());
                }
                Err(ConnectError::Schema(SchemaMismatch {
                    model: std::any::type_name::<U>()
                        .rsplit("::")
                        .next()
                        .unwrap_or_default(),
                    differences,
                }))
            }
        }

        #[cfg(feature = $feature)]
        #[async_trait]
        impl<U: SqlUser<$db>> AccessTokenStore<U> for SqlStore<U, $db> {
            async fn create(&self, token: &str, user_id: &U::Id) -> Result<(), StoreError> {
                // To the microsecond: a token made just after a revocation, in the same second,
                // is younger than it.
                let query = sqlx::query($tokens.insert)
                    .bind(token)
                    .bind(revocation::now());
                U::bind_id(user_id, query).execute(&self.pool).await?;
                Ok(())
            }

            async fn user_by_token(
                &self,
                token: &str,
                lifetime_seconds: Option<u64>,
            ) -> Result<Option<U>, StoreError> {
                use sqlx::Row as _;
                let oldest = cutoff(lifetime_seconds);
                let row = sqlx::query(U::SELECT_BY_TOKEN)
                    .bind(token)
                    .bind(oldest)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(row) => {
                        let user = Revocable {
                            user: U::from_row(&row)?,
                            revoked_at: row.try_get("fastusers_revoked_at")?,
                        };
                        // A creation time that does not read as one (written by another
                        // program) is unknown: the token is refused if the user has a
                        // revocation time.
                        let created_at = row
                            .try_get::<Timestamp, _>("fastusers_token_created_at")
                            .ok();
                        match user.admit(created_at) {
                            Some(user) => Ok(Some(user)),
                            None => {
                                // Revoked for good: the row goes now.
                                AccessTokenStore::delete(self, token).await?;
                                Ok(None)
                            }
                        }
                    }
                    None => {
                        // Unknown or expired: an expired row goes now rather than at the next sweep.
                        sqlx::query($tokens.delete_expired)
                            .bind(token)
                            .bind(oldest)
                            .execute(&self.pool)
                            .await?;
                        Ok(None)
                    }
                }
            }

            async fn rekey(&self, old: &str, new: &str) -> Result<bool, StoreError> {
                let done = sqlx::query($tokens.rekey)
                    .bind(old)
                    .bind(new)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete(&self, token: &str) -> Result<(), StoreError> {
                sqlx::query($tokens.delete)
                    .bind(token)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_for_user(&self, user_id: &U::Id) -> Result<(), StoreError> {
                U::bind_id(user_id, sqlx::query($tokens.delete_for_user))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn list_for_user(
                &self,
                user_id: &U::Id,
                lifetime_seconds: Option<u64>,
            ) -> Result<Vec<(String, u64)>, StoreError> {
                use sqlx::Row as _;
                let query =
                    U::bind_id(user_id, sqlx::query($tokens.list)).bind(cutoff(lifetime_seconds));
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        let created: Timestamp = row.try_get("created_at")?;
                        Ok((row.try_get("token")?, created.timestamp().max(0) as u64))
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn purge_expired(&self, lifetime_seconds: u64) -> Result<u64, StoreError> {
                let done = sqlx::query($tokens.purge)
                    .bind(cutoff(Some(lifetime_seconds)))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }

        #[cfg(feature = $feature)]
        #[async_trait]
        impl<U: SqlUser<$db>> UserStore<U> for SqlStore<U, $db> {
            async fn get(&self, id: &U::Id) -> Result<Option<U>, StoreError> {
                Ok(self.get_revocable(id).await?.map(|found| found.user))
            }

            async fn get_revocable(&self, id: &U::Id) -> Result<Option<Revocable<U>>, StoreError> {
                use sqlx::Row as _;
                let row = U::bind_id(id, sqlx::query(U::SELECT_BY_ID))
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some(Revocable {
                    user: U::from_row(&row)?,
                    revoked_at: row.try_get("fastusers_revoked_at")?,
                }))
            }

            async fn get_by_email(&self, email: &str) -> Result<Option<U>, StoreError> {
                let users = Self::users_by_email(&self.pool, email).await?;
                Ok(users.into_iter().next())
            }

            async fn create(&self, user: &U) -> Result<U, StoreError> {
                let email = user.email();
                if email.is_ascii() {
                    let row = user
                        .bind_insert(sqlx::query(U::INSERT))
                        .fetch_one(&self.pool)
                        .await?;
                    return Ok(U::from_row(&row)?);
                }
                let mut transaction = self.begin_email_write(email).await?;
                if !Self::users_by_email(&mut *transaction, email)
                    .await?
                    .is_empty()
                {
                    return Err(email_taken());
                }
                let row = user
                    .bind_insert(sqlx::query(U::INSERT))
                    .fetch_one(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(U::from_row(&row)?)
            }

            async fn update(
                &self,
                id: &U::Id,
                changes: &U::Changes,
            ) -> Result<Option<U>, StoreError> {
                self.write_changes(id, changes, None).await
            }

            async fn update_and_revoke(
                &self,
                id: &U::Id,
                changes: &U::Changes,
                revoked_at: Timestamp,
            ) -> Result<Option<U>, StoreError> {
                self.write_changes(id, changes, Some(revoked_at)).await
            }

            async fn delete(&self, id: &U::Id) -> Result<bool, StoreError> {
                let done = U::bind_id(id, sqlx::query(U::DELETE))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            fn access_tokens(&self) -> Option<std::sync::Arc<dyn AccessTokenStore<U>>> {
                Some(std::sync::Arc::new(self.clone()))
            }

            fn refresh_tokens(&self) -> Option<std::sync::Arc<dyn RefreshTokenStore<U>>> {
                Some(std::sync::Arc::new(self.clone()))
            }

            fn oauth_accounts(&self) -> Option<std::sync::Arc<dyn OAuthAccountStore<U>>> {
                if U::OAUTH_SCHEMA.is_empty() {
                    None
                } else {
                    Some(std::sync::Arc::new(self.clone()))
                }
            }

            fn cache_channel(&self) -> Option<CacheChannel> {
                Some(
                    self.channel
                        .get_or_init(|| $cache_channel(&self.pool))
                        .clone(),
                )
            }
        }

        #[cfg(feature = $feature)]
        impl<U: SqlUser<$db>> SqlStore<U, $db> {
            fn refresh_row(row: &<$db as Database>::Row) -> Result<RefreshRow<U::Id>, sqlx::Error> {
                use sqlx::Row as _;
                Ok(RefreshRow {
                    token: row.try_get("token")?,
                    family: row.try_get("family")?,
                    parent: row.try_get("parent")?,
                    user_id: U::get_id(row, "user_id")?,
                    backend: row.try_get("backend")?,
                    auth_time: row.try_get("auth_time")?,
                    created_at: row.try_get("created_at")?,
                    rotated_at: row.try_get("rotated_at")?,
                    successor: row.try_get("successor")?,
                })
            }

            fn insert_refresh<'q>(
                row: &'q RefreshRow<U::Id>,
            ) -> sqlx::query::Query<'q, $db, <$db as Database>::Arguments> {
                let query = sqlx::query($refresh.insert)
                    .bind(row.token.as_str())
                    .bind(row.family.as_str())
                    .bind(row.parent.as_deref())
                    .bind(row.backend.as_str())
                    .bind(row.auth_time)
                    .bind(row.created_at);
                U::bind_id(&row.user_id, query)
            }
        }

        #[cfg(feature = $feature)]
        #[async_trait]
        impl<U: SqlUser<$db>> RefreshTokenStore<U> for SqlStore<U, $db> {
            async fn insert(&self, row: &RefreshRow<U::Id>) -> Result<(), StoreError> {
                Self::insert_refresh(row).execute(&self.pool).await?;
                Ok(())
            }

            async fn find(&self, token: &str) -> Result<Option<RefreshRow<U::Id>>, StoreError> {
                let row = sqlx::query($refresh.find)
                    .bind(token)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| Self::refresh_row(&r)).transpose()?)
            }

            async fn rotate(
                &self,
                token: &str,
                at: Timestamp,
                sealed: &str,
                next: &RefreshRow<U::Id>,
            ) -> Result<bool, StoreError> {
                let mut transaction = self.pool.begin().await?;
                let done = sqlx::query($refresh.rotate)
                    .bind(token)
                    .bind(at)
                    .bind(sealed)
                    .execute(&mut *transaction)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::insert_refresh(next)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                Ok(true)
            }

            async fn delete_family(&self, family: &str) -> Result<u64, StoreError> {
                let done = sqlx::query($refresh.delete_family)
                    .bind(family)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn delete_for_user(&self, user_id: &U::Id) -> Result<(), StoreError> {
                U::bind_id(user_id, sqlx::query($refresh.delete_for_user))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn live_for_user(
                &self,
                user_id: &U::Id,
            ) -> Result<Vec<RefreshRow<U::Id>>, StoreError> {
                let rows = U::bind_id(user_id, sqlx::query($refresh.list_for_user))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(Self::refresh_row)
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn purge(
                &self,
                backend: &str,
                logged_in_before: Timestamp,
                idle_since: Timestamp,
            ) -> Result<u64, StoreError> {
                let absolute = sqlx::query($refresh.purge_absolute)
                    .bind(backend)
                    .bind(logged_in_before)
                    .execute(&self.pool)
                    .await?;
                let idle = sqlx::query($refresh.purge_idle)
                    .bind(backend)
                    .bind(idle_since)
                    .execute(&self.pool)
                    .await?;
                Ok(absolute.rows_affected() + idle.rows_affected())
            }
        }

        #[cfg(feature = $feature)]
        #[async_trait]
        impl<U: SqlUser<$db>> OAuthAccountStore<U> for SqlStore<U, $db> {
            async fn get_by_oauth_account(
                &self,
                oauth_name: &str,
                account_id: &str,
            ) -> Result<Option<U>, StoreError> {
                let row = sqlx::query(U::SELECT_BY_OAUTH)
                    .bind(oauth_name)
                    .bind(account_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| U::from_row(&r)).transpose()?)
            }

            async fn add_oauth_account(
                &self,
                user_id: &U::Id,
                account: &OAuthAccount,
            ) -> Result<(), StoreError> {
                let query = sqlx::query($oauth.insert);
                let query = <uuid::Uuid as super::sql_id::SqlId<$db>>::bind(&account.id, query)
                    .bind(&account.oauth_name)
                    .bind(&account.access_token)
                    .bind(account.expires_at)
                    .bind(&account.refresh_token)
                    .bind(&account.account_id)
                    .bind(&account.account_email);
                U::bind_id(user_id, query).execute(&self.pool).await?;
                Ok(())
            }

            async fn update_oauth_account(&self, account: &OAuthAccount) -> Result<(), StoreError> {
                let query = sqlx::query($oauth.update);
                <uuid::Uuid as super::sql_id::SqlId<$db>>::bind(&account.id, query)
                    .bind(&account.access_token)
                    .bind(account.expires_at)
                    .bind(&account.refresh_token)
                    .bind(&account.account_email)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn oauth_accounts_of(
                &self,
                user_id: &U::Id,
            ) -> Result<Vec<OAuthAccount>, StoreError> {
                use sqlx::Row as _;
                let rows = U::bind_id(user_id, sqlx::query($oauth.list))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(OAuthAccount {
                            id: <uuid::Uuid as super::sql_id::SqlId<$db>>::get(row, "id")?,
                            oauth_name: row.try_get("oauth_name")?,
                            access_token: row.try_get("access_token")?,
                            expires_at: row.try_get("expires_at")?,
                            refresh_token: row.try_get("refresh_token")?,
                            account_id: row.try_get("account_id")?,
                            account_email: row.try_get("account_email")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn remove_oauth_account(
                &self,
                user_id: &U::Id,
                oauth_name: &str,
            ) -> Result<bool, StoreError> {
                let done = U::bind_id(user_id, sqlx::query($oauth.delete))
                    .bind(oauth_name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
sql_store!(
    "sqlite",
    sqlx::Sqlite,
    SQLITE_TOKENS,
    SQLITE_OAUTH,
    SQLITE_REFRESH,
    SQLITE_REVOKE,
    None::<&str>,
    Some("BEGIN IMMEDIATE"),
    None,
    &[] as &[&str],
    CacheChannel::sqlite,
    Dialect::Sqlite,
    sqlite_columns
);
#[cfg(feature = "postgres")]
sql_store!(
    "postgres",
    sqlx::Postgres,
    POSTGRES_TOKENS,
    POSTGRES_OAUTH,
    POSTGRES_REFRESH,
    POSTGRES_REVOKE,
    // Held until the transaction ends; the key is "fastuser" in ASCII.
    Some("SELECT pg_advisory_xact_lock(7377304608633480562)"),
    None,
    // Two 32-bit keys, a space apart from the 64-bit key of the migration lock; the first is
    // "fuem" in ASCII.
    Some((
        "SELECT pg_advisory_xact_lock(1718969709, $1)",
        email_lock_key as fn(&str) -> i32
    )),
    // The triggers that notify the user caches of every change (see `CacheChannel::postgres`).
    super::cache::POSTGRES_TRIGGERS,
    CacheChannel::postgres,
    Dialect::Postgres,
    postgres_columns
);
