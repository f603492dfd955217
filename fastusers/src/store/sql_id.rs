//! How an id is written to and read from each database. SQLite keeps UUIDs as text
//! (`CHAR(36)`, as fastapi-users' SQLAlchemy models do), PostgreSQL as `UUID`.

use sqlx::query::Query;
use sqlx::{Database, Row};

/// Binds and reads a user id in database `DB`.
pub trait SqlId<DB: Database>: Sized {
    /// Binds the id as the next parameter.
    fn bind<'q>(&self, query: Query<'q, DB, DB::Arguments>) -> Query<'q, DB, DB::Arguments>;
    /// Reads the id from `column`.
    fn get(row: &DB::Row, column: &str) -> Result<Self, sqlx::Error>;
}

#[cfg(feature = "sqlite")]
impl SqlId<sqlx::Sqlite> for uuid::Uuid {
    fn bind<'q>(
        &self,
        query: Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        query.bind(self.hyphenated())
    }

    fn get(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
        Ok(row.try_get::<uuid::fmt::Hyphenated, _>(column)?.into_uuid())
    }
}

macro_rules! native_id {
    ($feature:literal, $db:ty, $id:ty) => {
        #[cfg(feature = $feature)]
        impl SqlId<$db> for $id {
            fn bind<'q>(
                &self,
                query: Query<'q, $db, <$db as Database>::Arguments>,
            ) -> Query<'q, $db, <$db as Database>::Arguments> {
                query.bind(*self)
            }

            fn get(row: &<$db as Database>::Row, column: &str) -> Result<Self, sqlx::Error> {
                row.try_get::<$id, _>(column)
            }
        }
    };
}

native_id!("sqlite", sqlx::Sqlite, i64);
native_id!("postgres", sqlx::Postgres, i64);
native_id!("sqlite", sqlx::Sqlite, i32);
native_id!("postgres", sqlx::Postgres, i32);
native_id!("postgres", sqlx::Postgres, uuid::Uuid);
