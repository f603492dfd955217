//! One account per address in any letter case, Unicode included (`fastusers::email::fold_case`),
//! on SQLite and on PostgreSQL, whose `lower()` folds ASCII only (SQLite always, PostgreSQL in
//! the C locale the tests run it in): registration, login, forgot-password,
//! request-verify-token, email changes, and writes racing on case variants.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use fastusers::store::{SqlUser, StoreError, UserStore};
use fastusers_tests::{Db, Options, TestApp, User, UserChanges, db_tests, fresh_database};
use serde_json::{Value, json};

const STORED: &str = "ü@exämple.com";
const SHOUTED: &str = "Ü@EXÄMPLE.COM";

async fn post(app: &TestApp, path: &str, body: Value) -> fastusers_tests::Response {
    app.request(Method::POST, path).json(&body).send().await
}

/// A user of the test model with this email, as the store would receive it.
fn user(email: &str) -> User {
    User {
        id: uuid::Uuid::new_v4(),
        email: email.to_owned(),
        hashed_password: "hash".to_owned(),
        is_active: true,
        is_superuser: false,
        is_verified: false,
        first_name: None,
        plan: None,
        notes: None,
        login_count: 0,
        age: None,
        height: None,
        team_id: None,
        newsletter: false,
    }
}

fn new_email(email: &str) -> UserChanges {
    UserChanges {
        email: Some(email.to_owned()),
        ..Default::default()
    }
}

/// A directory removed when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An application on a database that several connections share: a SQLite file (WAL, eight
/// connections) rather than the single connection of `sqlite::memory:`, or PostgreSQL.
async fn shared_app(db: Db) -> (TestApp, Option<TempDir>) {
    let (url, dir) = match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!(
                "fastusers-email-case-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite:{}", dir.join("users.db").display());
            (url, Some(TempDir(dir)))
        }
        Db::Postgres => (fresh_database(db).await, None),
    };
    let store = fastusers::store::connect::<User>(&url).await.unwrap();
    (TestApp::on_store(store, url, Options::default(), None), dir)
}

/// The second spelling of a registered address is refused; both log in to the one account,
/// which keeps the spelling it was registered with. Letters that only look alike are not
/// case variants.
async fn case_variants_are_one_account(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register(STORED, "guinevere").await;
    assert_eq!(user["email"], STORED);
    for email in [SHOUTED, "Ü@exämple.com", "ü@EXÄMPLE.com"] {
        post(
            &app,
            "/auth/register",
            json!({"email": email, "password": "guinevere"}),
        )
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}),
        );
    }
    let greek = app.register("ΟΔΥΣΣΕΥΣ@ithaca.gr", "penelope!").await;
    post(
        &app,
        "/auth/register",
        json!({"email": "οδυσσευς@ithaca.gr", "password": "penelope!"}),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}),
    );

    for email in [STORED, SHOUTED, "Ü@exämple.com"] {
        let token = app.token(email, "guinevere").await;
        let me = app
            .request(Method::GET, "/users/me")
            .bearer(&token)
            .send()
            .await
            .json();
        assert_eq!((&me["id"], &me["email"]), (&user["id"], &json!(STORED)));
    }
    // The characters that LIKE patterns escape are letters like any other here.
    let marked = app.register("ü!%_@exämple.com", "guinevere").await;
    let token = app.token("Ü!%_@EXÄMPLE.COM", "guinevere").await;
    let me = app
        .request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(me.json()["id"], marked["id"]);
    let token = app.token("οδυσσευς@ithaca.gr", "penelope!").await;
    let me = app
        .request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(me.json()["id"], greek["id"], "final ς is Σ too");

    // Not case variants: another letter, a decomposed ü, the Kelvin sign for k, characters
    // that a LIKE pattern would take for wildcards or an escape.
    for other in ["u@exämple.com", "u\u{308}@exämple.com", "_@exämple.com"] {
        app.register(other, "guinevere").await;
    }
    app.register("\u{212A}ay@camelot.bt", "guinevere").await;
    app.register("kay@camelot.bt", "guinevere").await;
    for (username, password) in [("%@exämple.com", "guinevere"), ("Ü!", "guinevere")] {
        app.login_form("jwt", &[("username", username), ("password", password)])
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
            );
    }
}

/// forgot-password and request-verify-token find the account by any spelling of its address.
async fn account_routes_find_any_case(db: Db) {
    let app = TestApp::new(db).await;
    app.register(STORED, "guinevere").await;
    post(&app, "/auth/forgot-password", json!({"email": SHOUTED}))
        .await
        .assert(StatusCode::ACCEPTED, Value::Null);
    let reset = app
        .sent_token("reset", STORED)
        .await
        .expect("a reset token was sent for the other spelling");
    post(
        &app,
        "/auth/reset-password",
        json!({"token": reset, "password": "lancelot!"}),
    )
    .await
    .assert(StatusCode::OK, Value::Null);
    app.token(SHOUTED, "lancelot!").await;

    post(
        &app,
        "/auth/request-verify-token",
        json!({"email": "Ü@exämple.com"}),
    )
    .await
    .assert(StatusCode::ACCEPTED, Value::Null);
    app.sent_token("verify", STORED)
        .await
        .expect("a verification token was sent for the other spelling");
}

/// Another user's address in another case is taken, for the user and for a superuser; one's
/// own address in another case is not.
async fn email_changes_refuse_another_users_address(db: Db) {
    let app = TestApp::new(db).await;
    let owner = app.register(STORED, "guinevere").await;
    let other = app.register("bors@exämple.com", "guinevere").await;
    let token = app.token("bors@exämple.com", "guinevere").await;
    let admin = app.superuser("admin@camelot.bt").await;
    let other_path = format!("/users/{}", other["id"].as_str().unwrap());
    for (path, bearer) in [("/users/me", &token), (other_path.as_str(), &admin)] {
        app.request(Method::PATCH, path)
            .bearer(bearer)
            .json(&json!({"email": SHOUTED}))
            .send()
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"}),
            );
    }

    let own = app.token(STORED, "guinevere").await;
    let changed = app
        .request(Method::PATCH, "/users/me")
        .bearer(&own)
        .json(&json!({"email": "Ü@exämple.com"}))
        .send()
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(
        (&changed.json()["id"], &changed.json()["email"]),
        (&owner["id"], &json!("Ü@exämple.com"))
    );
}

/// The store refuses a case variant by itself (what guards a registration or an email change
/// that passed the manager's check at the same moment as another), and lets a user keep their
/// own address in another case.
async fn the_store_refuses_case_variants(db: Db) {
    let (app, _dir) = shared_app(db).await;
    let store = app.state.manager().store().clone();
    let first = store.create(&user(STORED)).await.unwrap();
    assert!(matches!(
        store.create(&user(SHOUTED)).await,
        Err(StoreError::Conflict(_))
    ));
    let second = store.create(&user("bors@exämple.com")).await.unwrap();
    assert!(matches!(
        store.update(&second.id, &new_email("Ü@exämple.com")).await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = store
        .update(&first.id, &new_email("Ü@exämple.com"))
        .await
        .unwrap()
        .expect("the user exists");
    assert_eq!(renamed.email, "Ü@exämple.com");
    let found = store.get_by_email(STORED).await.unwrap().expect("found");
    assert_eq!(found.id, first.id);
}

/// Two accounts whose addresses differ only by case, made before this rule (or by another
/// program writing to the database): each is found by its own spelling, and a third spelling
/// finds one of them and cannot register.
async fn earlier_duplicates_stay_reachable(db: Db) {
    let (app, _dir) = shared_app(db).await;
    let (lower, upper) = (user(STORED), user("Ü@exämple.com"));
    for user in [&lower, &upper] {
        match db {
            Db::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&app.url).await.unwrap();
                let insert = <User as SqlUser<sqlx::Sqlite>>::INSERT;
                user.bind_insert(sqlx::query(insert))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            Db::Postgres => {
                let pool = sqlx::PgPool::connect(&app.url).await.unwrap();
                let insert = <User as SqlUser<sqlx::Postgres>>::INSERT;
                user.bind_insert(sqlx::query(insert))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }
    }
    let store = app.state.manager().store();
    for user in [&lower, &upper] {
        let found = store
            .get_by_email(&user.email)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(found.id, user.id, "{} finds its own account", user.email);
    }
    let found = store
        .get_by_email("ü@EXÄMPLE.COM")
        .await
        .unwrap()
        .expect("found");
    assert!([lower.id, upper.id].contains(&found.id));
    post(
        &app,
        "/auth/register",
        json!({"email": SHOUTED, "password": "guinevere"}),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}),
    );
}

/// The key of the PostgreSQL advisory lock that the store takes on a non-ASCII email (as
/// `email_lock_key` in fastusers' `store/sql.rs` makes it).
fn email_lock_key(email: &str) -> i32 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(fastusers::email::fold_case(email).as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A registration of a case variant waits while another writer holds the address (SQLite's
/// write lock; PostgreSQL's advisory lock on the folded address) and, once that writer has
/// committed the address, is refused as taken: the check and the insert cannot interleave
/// with another write of the address. Deterministic, where the concurrent test below is
/// a matter of timing.
async fn a_write_waits_for_a_concurrent_write_of_the_address(db: Db) {
    let (app, _dir) = shared_app(db).await;
    let store = app.state.manager().store().clone();
    let first = user(STORED);
    let wait = std::time::Duration::from_millis(300);
    macro_rules! hold_then_commit {
        ($pool:ty, $db:ty, $begin:expr, $lock:expr) => {{
            let pool = <$pool>::connect(&app.url).await.unwrap();
            let mut writer = pool.begin_with($begin).await.unwrap();
            if let Some(lock) = $lock {
                sqlx::query(lock)
                    .bind(email_lock_key(STORED))
                    .execute(&mut *writer)
                    .await
                    .unwrap();
            }
            first
                .bind_insert(sqlx::query(<User as SqlUser<$db>>::INSERT))
                .execute(&mut *writer)
                .await
                .unwrap();
            let second = tokio::spawn(async move { store.create(&user(SHOUTED)).await });
            tokio::time::sleep(wait).await;
            assert!(
                !second.is_finished(),
                "the second write waits for the first to end"
            );
            writer.commit().await.unwrap();
            second
        }};
    }
    let second = match db {
        Db::Sqlite => hold_then_commit!(
            sqlx::SqlitePool,
            sqlx::Sqlite,
            "BEGIN IMMEDIATE",
            None::<&'static str>
        ),
        Db::Postgres => hold_then_commit!(
            sqlx::PgPool,
            sqlx::Postgres,
            "BEGIN",
            Some("SELECT pg_advisory_xact_lock(1718969709, $1)")
        ),
    };
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the second write ends once the first has committed")
        .unwrap();
    assert!(
        matches!(outcome, Err(StoreError::Conflict(_))),
        "{outcome:?}"
    );
}

/// Concurrent writes of case variants of one address, some registrations and some email
/// changes, on a database that several connections share: exactly one wins, the others are
/// refused as taken (not failed), and one account has the address.
async fn concurrent_case_variants_make_one_account(db: Db) {
    let (app, _dir) = shared_app(db).await;
    let store: Arc<dyn UserStore<User>> = app.state.manager().store().clone();
    let mut movers = Vec::new();
    for i in 0..4 {
        movers.push(
            store
                .create(&user(&format!("mover{i}@exämple.com")))
                .await
                .unwrap(),
        );
    }
    let variants = [
        "ü@exämple.com",
        "Ü@exämple.com",
        "ü@EXÄMPLE.COM",
        "Ü@EXÄMPLE.COM",
    ];
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        let email = variants[i % variants.len()];
        // Every third write moves an existing user to the address; the others register it.
        let mover = (i % 3 == 0).then(|| movers[i / 3].id);
        tasks.push(tokio::spawn(async move {
            match mover {
                Some(id) => store.update(&id, &new_email(email)).await.map(|_| ()),
                None => store.create(&user(email)).await.map(|_| ()),
            }
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a case variant was refused with {other:?}, not as taken"),
        }
    }
    assert_eq!(won, 1, "exactly one write of the address wins");

    let app = Arc::new(app);
    let registrations: Vec<_> = (0..8)
        .map(|i| {
            let app = app.clone();
            let email = ["σοφία@athens.gr", "ΣΟΦΊΑ@athens.gr"][i % 2];
            tokio::spawn(async move {
                post(
                    &app,
                    "/auth/register",
                    json!({"email": email, "password": "guinevere"}),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    for task in registrations {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::CREATED => created += 1,
            StatusCode::BAD_REQUEST => assert_eq!(
                response.json(),
                json!({"detail": "REGISTER_USER_ALREADY_EXISTS"})
            ),
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!(created, 1, "one registration of the address");
}

db_tests!(
    case_variants_are_one_account,
    account_routes_find_any_case,
    email_changes_refuse_another_users_address,
    the_store_refuses_case_variants,
    earlier_duplicates_stay_reachable,
    a_write_waits_for_a_concurrent_write_of_the_address,
    concurrent_case_variants_make_one_account,
);
