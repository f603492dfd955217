//! How the derive's SQL code binds and reads each field of the user struct: through one trait,
//! so that a field whose type sqlx cannot store is one error, at the field's type, whichever
//! statements and databases use it.

use sqlx::query::Query;
use sqlx::{Database, Decode, Encode, Row, Type};

/// What sqlx needs of a field's type in one database.
pub trait ColumnIn<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

impl<DB: Database, T> ColumnIn<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

every_database! {
    /// [`ColumnIn`] every database this build supports.
    pub trait Dialects: ColumnIn
}

/// Declares [`SqlColumn`] with, for each database, a method to bind a value, one to bind a
/// change (whether it is set, then the value), and one to read a value.
macro_rules! sql_column {
    ($($feature:literal $db:ty: $bind:ident, $bind_change:ident, $get:ident;)*) => {
        /// A type a field of the user struct may have: sqlx binds and reads it in every
        /// enabled database. Implemented for every such type.
        #[diagnostic::on_unimplemented(
            message = "a field of type `{Self}` cannot be a column of the user table",
            label = "sqlx cannot bind or read a `{Self}` in every enabled database",
            note = "implement sqlx's `Type`, `Encode` and `Decode` for it (`#[derive(sqlx::Type)]` on an enum or a newtype), or give the field a type sqlx knows"
        )]
        pub trait SqlColumn: Sized {$(
            /// Binds the value as the next parameter.
            #[cfg(feature = $feature)]
            fn $bind<'q>(&self, query: Query<'q, $db, <$db as Database>::Arguments>) -> Query<'q, $db, <$db as Database>::Arguments>;
            /// Binds whether the value changes, then the value (`NULL` when it does not).
            #[cfg(feature = $feature)]
            fn $bind_change<'q>(change: Option<&Self>, query: Query<'q, $db, <$db as Database>::Arguments>) -> Query<'q, $db, <$db as Database>::Arguments>;
            /// Reads the value of `column`.
            #[cfg(feature = $feature)]
            fn $get(row: &<$db as Database>::Row, column: &str) -> Result<Self, sqlx::Error>;
        )*}

        // Not looked through in errors: a missing sqlx trait is one error, `SqlColumn`'s.
        #[diagnostic::do_not_recommend]
        impl<T: Dialects> SqlColumn for T {$(
            #[cfg(feature = $feature)]
            fn $bind<'q>(&self, query: Query<'q, $db, <$db as Database>::Arguments>) -> Query<'q, $db, <$db as Database>::Arguments> {
                query.bind(self)
            }

            #[cfg(feature = $feature)]
            fn $bind_change<'q>(change: Option<&Self>, query: Query<'q, $db, <$db as Database>::Arguments>) -> Query<'q, $db, <$db as Database>::Arguments> {
                query.bind(change.is_some()).bind(change)
            }

            #[cfg(feature = $feature)]
            fn $get(row: &<$db as Database>::Row, column: &str) -> Result<Self, sqlx::Error> {
                row.try_get(column)
            }
        )*}
    };
}

sql_column! {
    "sqlite" sqlx::Sqlite: bind_sqlite, bind_change_sqlite, get_sqlite;
    "postgres" sqlx::Postgres: bind_postgres, bind_change_postgres, get_postgres;
}
