//! The tables against the model: the start-up check of every table fastusers owns (the drift
//! error and its fixes), the schema as text with table creation turned off, pool settings,
//! renamed columns and `i32` ids, on SQLite and PostgreSQL.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::prelude::*;
use fastusers::store::{ConnectError, Dialect, StoreOptions};
use fastusers::strategy::DatabaseStrategy;
use fastusers_tests::{Db, db_tests, fast_passwords, fresh_database, shared_database};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The first version of an application's model.
#[derive(User, Clone, Debug)]
#[fastusers(table = "member")]
pub(crate) struct MemberV1 {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Email.
    pub email: String,
    /// Hash.
    pub hashed_password: String,
    /// Active.
    pub is_active: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Verified.
    pub is_verified: bool,
    /// A number kept as text in version 1.
    pub level: Option<String>,
    /// Optional in version 1.
    pub plan: Option<String>,
    /// Dropped from the struct in version 2, NOT NULL without a default.
    pub legacy: i64,
}

/// The next version: a field added, a field's type changed, an optional field made required,
/// a field removed.
#[derive(User, Clone, Debug)]
#[fastusers(table = "member")]
pub(crate) struct MemberV2 {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Email.
    pub email: String,
    /// Hash.
    pub hashed_password: String,
    /// Active.
    pub is_active: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Verified.
    pub is_verified: bool,
    /// Now a number.
    pub level: Option<i64>,
    /// Now required.
    pub plan: String,
    /// New.
    pub nickname: String,
}

/// Runs SQL text of several statements.
async fn run_sql(url: &str, sql: String) {
    if url.starts_with("sqlite:") {
        unreachable!("SQLite tests keep their connection: use run_sqlite");
    }
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .expect("run the SQL");
    pool.close().await;
}

fn mismatch(error: ConnectError) -> fastusers::store::SchemaMismatch {
    match error {
        ConnectError::Schema(mismatch) => mismatch,
        other => panic!("not a schema mismatch: {other:?}"),
    }
}

/// A field added, a type changed, a nullable column for a required field, a NOT NULL column
/// no field writes: each is named with its fix, and nothing is altered. On PostgreSQL the
/// fixes, run as given, make the database fit.
async fn drift_names_each_difference_and_its_fix(db: Db) {
    let url = shared_database(db).await;
    let v1 = fastusers::store::connect::<MemberV1>(&url).await.unwrap();
    drop(v1);
    let error = match fastusers::store::connect::<MemberV2>(&url).await {
        Ok(_) => panic!("version 2 opened a database of version 1"),
        Err(error) => error,
    };
    let text = error.to_string();
    let mismatch = mismatch(error);
    let problems: Vec<(Option<&str>, &str)> = mismatch
        .differences
        .iter()
        .map(|d| (d.column.as_deref(), d.problem.as_str()))
        .collect();
    let (integer, text_type) = match db {
        Db::Sqlite => ("INTEGER", "TEXT"),
        Db::Postgres => ("BIGINT", "text"),
    };
    assert_eq!(
        problems,
        [
            (
                Some("level"),
                format!(
                    "the column is {text_type}, the model expects {integer} (the field `level`)"
                )
                .as_str()
            ),
            (
                Some("plan"),
                "the column may hold NULL, the model cannot read one (the field `plan`)"
            ),
            (
                Some("nickname"),
                "the column is missing (the field `nickname`)"
            ),
            (
                Some("legacy"),
                "the column is NOT NULL without a default, and the model has no field for it: every insert would fail"
            ),
        ],
        "{text}"
    );
    assert!(
        mismatch.differences.iter().all(|d| d.table == "member"),
        "{text}"
    );
    assert!(
        text.starts_with("the database's tables differ from what the user model `MemberV2` expects (4 differences)"),
        "{text}"
    );
    let fixes: Vec<&str> = mismatch
        .differences
        .iter()
        .map(|d| d.fix.as_str())
        .collect();
    match db {
        Db::Sqlite => {
            assert_eq!(
                fixes[2],
                r#"ALTER TABLE "member" ADD COLUMN "nickname" TEXT NOT NULL DEFAULT '';"#
            );
            assert!(
                fixes[0].starts_with("SQLite cannot change a column's type"),
                "{text}"
            );
        }
        Db::Postgres => {
            assert_eq!(
                fixes,
                [
                    r#"ALTER TABLE "member" ALTER COLUMN "level" TYPE BIGINT USING "level"::BIGINT;"#,
                    r#"ALTER TABLE "member" ALTER COLUMN "plan" SET NOT NULL;"#,
                    r#"ALTER TABLE "member" ADD COLUMN "nickname" TEXT NOT NULL DEFAULT '';"#,
                    r#"ALTER TABLE "member" ALTER COLUMN "legacy" DROP NOT NULL;"#,
                ]
            );
            run_sql(&url, fixes.join("\n")).await;
            let v2 = fastusers::store::connect::<MemberV2>(&url)
                .await
                .unwrap_or_else(|e| panic!("the fixes did not make the database fit: {e}"));
            assert!(
                v2.get_by_email("nobody@camelot.bt")
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
}

/// With table creation off, an empty database is an error that lists every missing table
/// with its statements; the schema text, run as a migration would, makes it fit.
async fn schema_text_creates_what_the_check_expects(db: Db) {
    let url = shared_database(db).await;
    let options = StoreOptions::new().create_tables(false);
    let error = match fastusers::store::connect_with::<fastusers_tests::User>(&url, &options).await
    {
        Ok(_) => panic!("an empty database passed the check"),
        Err(error) => error,
    };
    let missing: Vec<String> = mismatch(error)
        .differences
        .iter()
        .map(|d| {
            assert_eq!(d.problem, "the table is missing");
            assert!(d.fix.starts_with("CREATE TABLE IF NOT EXISTS"), "{}", d.fix);
            d.table.clone()
        })
        .collect();
    assert_eq!(
        missing,
        [
            "user",
            "accesstoken",
            "fastusers_revocation",
            "fastusers_refresh_token",
            "oauth_account"
        ]
    );
    let dialect = match db {
        Db::Sqlite => Dialect::Sqlite,
        Db::Postgres => Dialect::Postgres,
    };
    let sql = fastusers::store::schema_sql::<fastusers_tests::User>(dialect);
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("run the schema");
            pool.close().await;
        }
        Db::Postgres => {
            assert!(sql.contains("CREATE TRIGGER"), "{sql}");
            run_sql(&url, sql).await;
        }
    }
    let store = fastusers::store::connect_with::<fastusers_tests::User>(&url, &options)
        .await
        .unwrap_or_else(|e| panic!("the schema text does not pass the check: {e}"));
    assert!(
        store
            .get_by_email("nobody@camelot.bt")
            .await
            .unwrap()
            .is_none()
    );
}

/// The pool's settings reach the pool: with one connection and a short acquire timeout, a
/// query waiting behind a held connection fails as unavailable within the bound.
async fn pool_settings_are_applied(db: Db) {
    let url = shared_database(db).await;
    let options = StoreOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .idle_timeout(Some(Duration::from_secs(30)));
    macro_rules! check {
        ($db:ty, $connect:ident) => {{
            let store =
                fastusers::store::SqlStore::<fastusers_tests::User, $db>::$connect(&url, &options)
                    .await
                    .unwrap();
            store.prepare(&options).await.unwrap();
            assert_eq!(store.pool().options().get_max_connections(), 1);
            assert_eq!(
                store.pool().options().get_idle_timeout(),
                Some(Duration::from_secs(30))
            );
            let held = store.pool().acquire().await.unwrap();
            let started = std::time::Instant::now();
            let error = store
                .get_by_email("nobody@camelot.bt")
                .await
                .expect_err("no connection was free");
            assert!(
                matches!(error, fastusers::store::StoreError::Unavailable(_)),
                "{error:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
            drop(held);
            assert!(
                store
                    .get_by_email("nobody@camelot.bt")
                    .await
                    .unwrap()
                    .is_none()
            );
        }};
    }
    match db {
        Db::Sqlite => check!(sqlx::Sqlite, connect_sqlite_with),
        Db::Postgres => check!(sqlx::Postgres, connect_postgres_with),
    }
}

/// A model on an existing table whose columns are named otherwise, with an `i32` id.
#[derive(User, Clone, Debug)]
#[fastusers(table = "account")]
pub(crate) struct Account {
    /// Primary key, in the column `account_no`.
    #[fastusers(column = "account_no")]
    pub id: i32,
    /// Email, in `mail`.
    #[fastusers(column = "mail")]
    pub email: String,
    /// Hash, in `pw_hash`.
    #[fastusers(column = "pw_hash")]
    pub hashed_password: String,
    /// Active, in `active`.
    #[fastusers(column = "active")]
    pub is_active: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Verified.
    pub is_verified: bool,
    /// A custom field in `display`.
    #[fastusers(create, update, column = "display")]
    pub display_name: Option<String>,
}

fastusers::auth_backends! {
    /// A JWT and a database token, for the renamed-columns model.
    pub(crate) struct AccountAuth for Account {
        jwt: BearerTransport, JwtStrategy;
        database: BearerTransport, DatabaseStrategy<Account>;
    }
}

/// Sends a request to the router; the status and the JSON body.
async fn call(
    router: &axum::Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> (StatusCode, Value) {
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some((content_type, body)) => request
            .header("content-type", content_type)
            .body(axum::body::Body::from(body)),
        None => request.body(axum::body::Body::empty()),
    }
    .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), router.clone().oneshot(request))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Renamed columns (the base fields too) and an `i32` id, through every operation: register,
/// login with a JWT and a database token, read, patch, read by id, delete.
async fn renamed_columns_and_i32_ids_work(db: Db) {
    let url = fresh_database(db).await;
    let store = fastusers::store::connect::<Account>(&url).await.unwrap();
    let sql = fastusers::store::schema_sql::<Account>(match db {
        Db::Sqlite => Dialect::Sqlite,
        Db::Postgres => Dialect::Postgres,
    });
    let id_column = match db {
        Db::Sqlite => r#""account_no" INTEGER PRIMARY KEY AUTOINCREMENT"#,
        Db::Postgres => r#""account_no" INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"#,
    };
    assert!(sql.contains(id_column), "{sql}");
    assert!(
        sql.contains(r#"("mail" VARCHAR(320)"#) || sql.contains(r#""mail" VARCHAR(320) NOT NULL"#),
        "{sql}"
    );
    assert!(
        sql.contains(r#""user_id" INTEGER NOT NULL REFERENCES "account" ("account_no")"#),
        "{sql}"
    );
    let database = DatabaseStrategy::new(store.as_ref(), Some(3600)).unwrap();
    let manager = UserManager::new(store).with_password_helper(fast_passwords());
    let jwt = JwtStrategy::new(
        JwtKeys::hs256("a secret of the schema tests, long enough").unwrap(),
        Some(3600),
    );
    let auth = AccountAuth {
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), jwt),
        database: Backend::new(BearerTransport::new("auth/database/login"), database),
    };
    let state = FastUsers::new(manager, auth).without_login_throttle();
    let router = Routes::new()
        .nest("/auth/jwt", AccountAuth::jwt_router())
        .nest("/auth/database", AccountAuth::database_router())
        .nest("/auth", FastUsers::<AccountAuth>::register_router())
        .nest("/users", FastUsers::<AccountAuth>::users_router())
        .into_router()
        .with_state(state.clone());

    let json_body = |v: Value| Some(("application/json", v.to_string()));
    let (status, first) = call(
        &router,
        Method::POST,
        "/auth/register",
        None,
        json_body(json!({"email": "percival@camelot.bt", "password": "holy grail 1", "display_name": "Percival"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["id"], json!(1));
    assert_eq!(first["display_name"], json!("Percival"));
    let (status, second) = call(
        &router,
        Method::POST,
        "/auth/register",
        None,
        json_body(json!({"email": "bors@camelot.bt", "password": "holy grail 2"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["id"], json!(2));

    for backend in ["jwt", "database"] {
        let (status, login) = call(
            &router,
            Method::POST,
            &format!("/auth/{backend}/login"),
            None,
            Some((
                "application/x-www-form-urlencoded",
                "username=PERCIVAL%40camelot.bt&password=holy+grail+1".to_owned(),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {login}");
        let token = login["access_token"].as_str().unwrap().to_owned();
        let (status, me) = call(&router, Method::GET, "/users/me", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {me}");
        assert_eq!(me["id"], json!(1));
        assert_eq!(me["email"], json!("percival@camelot.bt"));
    }

    let (_, login) = call(
        &router,
        Method::POST,
        "/auth/jwt/login",
        None,
        Some((
            "application/x-www-form-urlencoded",
            "username=percival%40camelot.bt&password=holy+grail+1".to_owned(),
        )),
    )
    .await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    let (status, patched) = call(
        &router,
        Method::PATCH,
        "/users/me",
        Some(&token),
        json_body(json!({"display_name": "Sir Percival", "email": "perceval@camelot.bt"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["display_name"], json!("Sir Percival"));
    assert_eq!(patched["email"], json!("perceval@camelot.bt"));

    // Read by id, and a superuser's delete, through the store and the routes.
    let changes = AccountChanges {
        is_superuser: Some(true),
        ..Default::default()
    };
    let admin = state
        .manager()
        .store()
        .update(&1, &changes)
        .await
        .unwrap()
        .unwrap();
    assert!(admin.is_superuser);
    let (status, other) = call(&router, Method::GET, "/users/2", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!(other["email"], json!("bors@camelot.bt"));
    let (status, _) = call(&router, Method::GET, "/users/x", Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&router, Method::DELETE, "/users/2", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(state.manager().store().get(&2).await.unwrap().is_none());
}

db_tests!(
    drift_names_each_difference_and_its_fix,
    schema_text_creates_what_the_check_expects,
    pool_settings_are_applied,
    renamed_columns_and_i32_ids_work,
);
