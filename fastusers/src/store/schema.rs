//! The tables fastusers owns: their SQL as text ([`schema`](super::schema)), and the check, at
//! start-up, that the database's tables are what the user model expects
//! ([`SqlStore::check_schema`](super::SqlStore::check_schema)). fastusers creates missing
//! tables (unless told not to) and never alters one: a difference is an error that names it
//! and the SQL that would fix it.

use std::fmt;

/// A database fastusers writes SQL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite (the `sqlite` feature).
    #[cfg(feature = "sqlite")]
    Sqlite,
    /// PostgreSQL (the `postgres` feature).
    #[cfg(feature = "postgres")]
    Postgres,
}

/// A column of the user table as the model expects it; `#[derive(User)]` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column's name.
    pub name: &'static str,
    /// The struct's field.
    pub field: &'static str,
    /// Its type, without constraints (`VARCHAR(320)`, `BIGINT`).
    pub sql_type: &'static str,
    /// Whether it may hold `NULL` (the field is an `Option`).
    pub nullable: bool,
    /// What follows the name in `CREATE TABLE` (type and constraints).
    pub definition: &'static str,
}

/// A column as the check expects it (of the user table, or of a table of fastusers' own).
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub(crate) name: &'static str,
    /// The struct's field, for the user table.
    pub(crate) field: Option<&'static str>,
    pub(crate) sql_type: String,
    /// Other types that read and write the same (fastapi-users' columns).
    pub(crate) also: &'static [&'static str],
    pub(crate) nullable: bool,
    pub(crate) definition: String,
}

impl Expected {
    fn of(column: &Column) -> Self {
        Self {
            name: column.name,
            field: Some(column.field),
            sql_type: column.sql_type.to_owned(),
            also: &[],
            nullable: column.nullable,
            definition: column.definition.to_owned(),
        }
    }

    fn fixed(name: &'static str, sql_type: &str, nullable: bool) -> Self {
        Self {
            name,
            field: None,
            sql_type: sql_type.to_owned(),
            also: &[],
            nullable,
            definition: if nullable {
                sql_type.to_owned()
            } else {
                format!("{sql_type} NOT NULL")
            },
        }
    }
}

/// A table fastusers owns: its name, its columns and the statements that create it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) columns: Vec<Expected>,
    pub(crate) create: &'static [&'static str],
}

/// The tables of a model in one dialect: the user table, `accesstoken`,
/// `fastusers_revocation`, `fastusers_refresh_token` and, with `#[fastusers(oauth)]`,
/// `oauth_account`.
pub(crate) fn tables(
    dialect: Dialect,
    user_table: &'static str,
    columns: &'static [Column],
    statements: [&'static [&'static str]; 5],
) -> Vec<Table> {
    let [
        schema,
        token_schema,
        revocation_schema,
        oauth_schema,
        refresh_schema,
    ] = statements;
    let id_type = columns
        .iter()
        .find(|c| c.field == "id")
        .map_or("", |c| c.sql_type);
    let time = dialect.timestamp();
    let mut tables = vec![
        Table {
            name: user_table.to_owned(),
            columns: columns.iter().map(Expected::of).collect(),
            create: schema,
        },
        Table {
            name: "accesstoken".to_owned(),
            columns: vec![
                Expected::fixed("token", "VARCHAR(43)", false),
                Expected::fixed("created_at", time, false),
                Expected::fixed("user_id", id_type, false),
            ],
            create: token_schema,
        },
        Table {
            name: "fastusers_revocation".to_owned(),
            columns: vec![
                Expected::fixed("user_id", id_type, false),
                Expected::fixed("revoked_at", time, false),
            ],
            create: revocation_schema,
        },
        Table {
            name: "fastusers_refresh_token".to_owned(),
            columns: vec![
                Expected::fixed("token", "VARCHAR(43)", false),
                Expected::fixed("family", "VARCHAR(43)", false),
                Expected::fixed("parent", "VARCHAR(43)", true),
                Expected::fixed("user_id", id_type, false),
                Expected::fixed("backend", "VARCHAR(100)", false),
                Expected::fixed("auth_time", time, false),
                Expected::fixed("created_at", time, false),
                Expected::fixed("rotated_at", time, true),
                Expected::fixed("successor", "VARCHAR(64)", true),
            ],
            create: refresh_schema,
        },
    ];
    if !oauth_schema.is_empty() {
        let uuid = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => "CHAR(36)",
            #[cfg(feature = "postgres")]
            Dialect::Postgres => "UUID",
        };
        let expires_at = Expected {
            // fastapi-users' column is an INTEGER; the store reads it with a cast.
            also: &["INTEGER"],
            ..Expected::fixed("expires_at", dialect.bigint(), true)
        };
        tables.push(Table {
            name: "oauth_account".to_owned(),
            columns: vec![
                Expected::fixed("id", uuid, false),
                Expected::fixed("oauth_name", "VARCHAR(100)", false),
                Expected::fixed("access_token", "TEXT", false),
                expires_at,
                Expected::fixed("refresh_token", "TEXT", true),
                Expected::fixed("account_id", "VARCHAR(320)", false),
                Expected::fixed("account_email", "VARCHAR(320)", false),
                Expected::fixed("user_id", id_type, false),
            ],
            create: oauth_schema,
        });
    }
    tables
}

/// A column as the database has it.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) name: String,
    pub(crate) sql_type: String,
    pub(crate) not_null: bool,
    pub(crate) has_default: bool,
    pub(crate) primary_key: bool,
}

impl Dialect {
    fn timestamp(self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => "DATETIME",
            #[cfg(feature = "postgres")]
            Self::Postgres => "TIMESTAMPTZ",
        }
    }

    fn bigint(self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => "INTEGER",
            #[cfg(feature = "postgres")]
            Self::Postgres => "BIGINT",
        }
    }

    /// What a declared type stores as, for comparing two: SQLite's type affinity (its
    /// rules, in order), PostgreSQL's type without modifiers and by one name of its aliases.
    /// Strings of any length count as one type, and so do SQLite's INTEGER and NUMERIC
    /// affinities (both keep integers and booleans).
    pub(crate) fn kind(self, declared: &str) -> String {
        let upper = declared.to_ascii_uppercase();
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => {
                let has = |s: &str| upper.contains(s);
                if has("INT") {
                    "NUMERIC"
                } else if has("CHAR") || has("CLOB") || has("TEXT") {
                    "TEXT"
                } else if has("BLOB") || upper.trim().is_empty() {
                    "BLOB"
                } else if has("REAL") || has("FLOA") || has("DOUB") {
                    "REAL"
                } else {
                    "NUMERIC"
                }
                .to_owned()
            }
            #[cfg(feature = "postgres")]
            Self::Postgres => {
                let (base, array) = match upper.trim().strip_suffix("[]") {
                    Some(base) => (base, "[]"),
                    None => (upper.trim(), ""),
                };
                // `character varying(320)`, `timestamp(3) with time zone`, `numeric(10,2)`.
                let mut plain = String::new();
                let mut depth = 0;
                for c in base.chars() {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ if depth == 0 => plain.push(c),
                        _ => {}
                    }
                }
                let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
                let name = match plain.as_str() {
                    "CHARACTER VARYING" | "VARCHAR" | "TEXT" | "CHARACTER" | "CHAR" | "BPCHAR" => {
                        "TEXT"
                    }
                    "INTEGER" | "INT" | "INT4" | "SERIAL" => "INTEGER",
                    "BIGINT" | "INT8" | "BIGSERIAL" => "BIGINT",
                    "SMALLINT" | "INT2" => "SMALLINT",
                    "BOOLEAN" | "BOOL" => "BOOLEAN",
                    "TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ" => "TIMESTAMPTZ",
                    "TIMESTAMP WITHOUT TIME ZONE" | "TIMESTAMP" => "TIMESTAMP",
                    "TIME WITHOUT TIME ZONE" | "TIME" => "TIME",
                    "DOUBLE PRECISION" | "FLOAT8" => "FLOAT8",
                    "REAL" | "FLOAT4" => "FLOAT4",
                    "NUMERIC" | "DECIMAL" => "NUMERIC",
                    other => other,
                };
                format!("{name}{array}")
            }
        }
    }

    fn same_type(self, expected: &Expected, found: &str) -> bool {
        let found = self.kind(found);
        std::iter::once(expected.sql_type.as_str())
            .chain(expected.also.iter().copied())
            .any(|ty| self.kind(ty) == found)
    }

    fn recreate_note(self) -> Option<&'static str> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => Some(
                "SQLite cannot change a column's type or nullability: create the table anew with the statements of fastusers::store::schema and copy the rows over",
            ),
            #[cfg(feature = "postgres")]
            Self::Postgres => None,
        }
    }
}

/// A value to fill a new `NOT NULL` column of a table that has rows, by the column's type.
fn default_for(dialect: Dialect, sql_type: &str) -> Option<&'static str> {
    let kind = dialect.kind(sql_type);
    Some(match kind.as_str() {
        "TEXT" => "''",
        "BOOLEAN" => "FALSE",
        "NUMERIC" | "INTEGER" | "BIGINT" | "SMALLINT" | "REAL" | "FLOAT4" | "FLOAT8" => "0",
        _ => return None,
    })
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The differences between the tables a model expects and the ones the database has; `found`
/// gives each table's columns (`None`: no such table).
pub(crate) fn compare(
    dialect: Dialect,
    tables: &[Table],
    found: &[Option<Vec<Found>>],
) -> Vec<Difference> {
    let mut differences = Vec::new();
    for (table, found) in tables.iter().zip(found) {
        let t = quote(&table.name);
        let Some(found) = found else {
            differences.push(Difference {
                table: table.name.clone(),
                column: None,
                problem: "the table is missing".to_owned(),
                fix: table
                    .create
                    .iter()
                    .map(|s| format!("{s};"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
            continue;
        };
        for expected in &table.columns {
            let field = expected
                .field
                .map(|f| format!(" (the field `{f}`)"))
                .unwrap_or_default();
            let c = quote(expected.name);
            let Some(column) = found.iter().find(|f| f.name == expected.name) else {
                let mut definition = expected.definition.clone();
                if !expected.nullable
                    && !definition.contains("DEFAULT")
                    && let Some(default) = default_for(dialect, &expected.sql_type)
                {
                    // Rows already in the table need a value (SQLite refuses the column
                    // without one, even on an empty table).
                    definition.push_str(&format!(" DEFAULT {default}"));
                }
                differences.push(Difference {
                    table: table.name.clone(),
                    column: Some(expected.name.to_owned()),
                    problem: format!("the column is missing{field}"),
                    fix: format!("ALTER TABLE {t} ADD COLUMN {c} {definition};"),
                });
                continue;
            };
            if !dialect.same_type(expected, &column.sql_type) {
                differences.push(Difference {
                    table: table.name.clone(),
                    column: Some(expected.name.to_owned()),
                    problem: format!(
                        "the column is {}, the model expects {}{field}",
                        column.sql_type, expected.sql_type
                    ),
                    fix: dialect.recreate_note().map_or_else(
                        || {
                            format!(
                                "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty};",
                                ty = expected.sql_type
                            )
                        },
                        str::to_owned,
                    ),
                });
            }
            // A primary key holds no NULL, whatever the catalog says.
            let not_null = column.not_null || column.primary_key;
            if not_null == expected.nullable {
                let (problem, change) = if expected.nullable {
                    (
                        "the column is NOT NULL, the model writes NULL to it",
                        "DROP",
                    )
                } else {
                    ("the column may hold NULL, the model cannot read one", "SET")
                };
                differences.push(Difference {
                    table: table.name.clone(),
                    column: Some(expected.name.to_owned()),
                    problem: format!("{problem}{field}"),
                    fix: dialect.recreate_note().map_or_else(
                        || format!("ALTER TABLE {t} ALTER COLUMN {c} {change} NOT NULL;"),
                        str::to_owned,
                    ),
                });
            }
        }
        for column in found {
            let known = table.columns.iter().any(|c| c.name == column.name);
            if !known && column.not_null && !column.has_default && !column.primary_key {
                let c = quote(&column.name);
                differences.push(Difference {
                    table: table.name.clone(),
                    column: Some(column.name.clone()),
                    problem: "the column is NOT NULL without a default, and the model has no field for it: every insert would fail".to_owned(),
                    fix: dialect.recreate_note().map_or_else(
                        || format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;"),
                        str::to_owned,
                    ),
                });
            }
        }
    }
    differences
}

/// One way a table differs from what the model expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The table.
    pub table: String,
    /// The column, unless the whole table is missing.
    pub column: Option<String>,
    /// What differs.
    pub problem: String,
    /// The SQL that would fix it (or, where SQLite has none, what to do).
    pub fix: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(
                f,
                "{}.{}: {}",
                quote(&self.table),
                quote(column),
                self.problem
            )?,
            None => write!(f, "{}: {}", quote(&self.table), self.problem)?,
        }
        for line in self.fix.lines() {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

/// The database's tables differ from what the user model expects. fastusers alters no table:
/// apply the fixes (in a migration), then start again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SchemaMismatch {
    /// The user model's type name.
    pub model: &'static str,
    /// Each difference, table by table.
    pub differences: Vec<Difference>,
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the database's tables differ from what the user model `{}` expects ({} difference{}); fastusers alters no table, so apply these fixes, then start again:",
            self.model,
            self.differences.len(),
            if self.differences.len() == 1 { "" } else { "s" }
        )?;
        for difference in &self.differences {
            write!(f, "\n  - {difference}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_types_compare_by_name_without_modifiers() {
        let kind = |t| Dialect::Postgres.kind(t);
        assert_eq!(kind("character varying(320)"), kind("VARCHAR(320)"));
        assert_eq!(kind("text"), kind("VARCHAR(43)"));
        assert_eq!(kind("timestamp with time zone"), kind("TIMESTAMPTZ"));
        assert_eq!(kind("timestamp(3) with time zone"), kind("TIMESTAMPTZ"));
        assert_eq!(kind("text[]"), kind("TEXT[]"));
        assert_ne!(kind("integer"), kind("BIGINT"));
        assert_ne!(kind("text[]"), kind("TEXT"));
        assert_ne!(kind("jsonb"), kind("JSON"));
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_types_compare_by_affinity() {
        let kind = |t| Dialect::Sqlite.kind(t);
        assert_eq!(kind("CHAR(36)"), kind("TEXT"));
        assert_eq!(kind("BOOLEAN"), kind("INTEGER"));
        assert_eq!(kind("DATETIME"), kind("TIMESTAMP"));
        assert_ne!(kind("TEXT"), kind("INTEGER"));
        assert_ne!(kind("BLOB"), kind("TEXT"));
        assert_ne!(kind("REAL"), kind("INTEGER"));
    }
}
