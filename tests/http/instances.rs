//! The user cache, on by default, kept true across instances: two applications on one
//! PostgreSQL database (each with its own pool and cache), evicting through `LISTEN`/`NOTIFY`
//! or Redis pub/sub; and a cache whose channel is lost serves nothing until it is back and
//! cleared.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use fastusers::store::CacheChannel;
use fastusers_tests::redis::OwnRedis;
use fastusers_tests::{Db, Options, TestApp, User, free_port, redis_url, shared_database};
use serde_json::{Value, json};

/// How long a change may take to reach the other instance in these tests: far less than the
/// cache's TTL (a minute), so that a change that is not broadcast fails the test.
const REACH: Duration = Duration::from_secs(5);

/// An instance of the application on the database at `url`: its own pool, its own cache.
async fn instance(url: &str, cache_channel: Option<CacheChannel>) -> TestApp {
    let store = fastusers::store::connect::<User>(url)
        .await
        .expect("open the store");
    let options = Options {
        cache_channel,
        ..Options::default()
    };
    TestApp::on_store(store, url.to_owned(), options, None)
}

/// Waits until `check` holds, failing the test with `what` after `bound`.
async fn eventually<F, Fut>(bound: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < bound, "not within {bound:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn serving(app: &TestApp) -> bool {
    app.state
        .manager()
        .user_cache()
        .expect("the manager has a user cache")
        .is_serving()
}

/// `GET /users/me`: its status, and the user when 200.
async fn me(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let response = app
        .request(Method::GET, "/users/me")
        .bearer(token)
        .send()
        .await;
    let body = if response.status == StatusCode::OK {
        response.json()
    } else {
        Value::Null
    };
    (response.status, body)
}

/// Reads the user on `app` until its cache serves, so that the next read caches them.
async fn cached_on(app: &TestApp, token: &str) {
    eventually(REACH, "the cache serves (its channel is up)", || async {
        me(app, token).await.0 == StatusCode::OK && serving(app)
    })
    .await;
    assert_eq!(me(app, token).await.0, StatusCode::OK);
}

fn id_of(user: &Value) -> String {
    user["id"].as_str().expect("an id").to_owned()
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) {
    let response = app
        .request(Method::PATCH, path)
        .bearer(token)
        .json(&body)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

/// Each kind of change made through instance A (a field, superuser, verification, a new
/// password with the revocation it saves, a deactivation, a deletion) is seen on instance B,
/// which had the user cached: B never keeps serving the old user for its TTL.
async fn changes_on_a_are_seen_on_b(channel: impl Fn() -> Option<CacheChannel>) {
    let url = shared_database(Db::Postgres).await;
    let a = instance(&url, channel()).await;
    let b = instance(&url, channel()).await;
    let admin = a.superuser("arthur@camelot.bt").await;
    let user = a.register("gawain@camelot.bt", "guinevere").await;
    let id = id_of(&user);
    let token = a.token("gawain@camelot.bt", "guinevere").await;

    let fields = [
        (
            json!({"first_name": "Gawain"}),
            "first_name",
            json!("Gawain"),
        ),
        (json!({"is_superuser": true}), "is_superuser", json!(true)),
        (json!({"is_verified": true}), "is_verified", json!(true)),
    ];
    for (change, field, value) in fields {
        cached_on(&b, &token).await;
        patch(&a, &admin, &format!("/users/{id}"), change).await;
        eventually(REACH, &format!("B sees {field} = {value}"), || async {
            me(&b, &token).await.1[field] == value
        })
        .await;
    }

    cached_on(&b, &token).await;
    patch(&a, &token, "/users/me", json!({"password": "new-password"})).await;
    eventually(
        REACH,
        "B refuses the token issued before the new password",
        || async { me(&b, &token).await.0 == StatusCode::UNAUTHORIZED },
    )
    .await;

    let token = a.token("gawain@camelot.bt", "new-password").await;
    cached_on(&b, &token).await;
    patch(
        &a,
        &admin,
        &format!("/users/{id}"),
        json!({"is_active": false}),
    )
    .await;
    eventually(REACH, "B refuses the deactivated user", || async {
        me(&b, &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;

    patch(
        &a,
        &admin,
        &format!("/users/{id}"),
        json!({"is_active": true}),
    )
    .await;
    let token = a.token("gawain@camelot.bt", "new-password").await;
    cached_on(&b, &token).await;
    let delete = a
        .request(Method::DELETE, &format!("/users/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT, "{}", delete.text());
    eventually(REACH, "B refuses the deleted user", || async {
        me(&b, &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}

/// The default configuration (`UserManager::new` on PostgreSQL): `LISTEN`/`NOTIFY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_change_on_one_instance_is_seen_on_the_other() {
    changes_on_a_are_seen_on_b(|| None).await;
}

/// Redis pub/sub (`CacheChannel::redis`), on the same PostgreSQL database (whose
/// notifications nobody listens to then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_change_on_one_instance_is_seen_on_the_other() {
    let url = redis_url();
    changes_on_a_are_seen_on_b(|| Some(CacheChannel::redis(&url).expect("a Redis URL"))).await;
}

/// The cache is on by default: a change written with the triggers disabled (which no channel
/// can see) is not seen, the cached user is served; any other change in SQL (as in `psql`)
/// is seen at once, by every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cache_is_on_by_default_and_sees_changes_made_in_sql() {
    let url = shared_database(Db::Postgres).await;
    let app = instance(&url, None).await;
    let user = app.register("bors@camelot.bt", "guinevere").await;
    let id = uuid::Uuid::parse_str(&id_of(&user)).unwrap();
    let token = app.token("bors@camelot.bt", "guinevere").await;
    cached_on(&app, &token).await;

    let sql = sqlx::PgPool::connect(&url).await.unwrap();
    let mut unseen = sql.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *unseen)
        .await
        .unwrap();
    sqlx::query(r#"UPDATE "user" SET first_name = 'unseen' WHERE id = $1"#)
        .bind(id)
        .execute(&mut *unseen)
        .await
        .unwrap();
    assert_eq!(
        me(&app, &token).await.1["first_name"],
        Value::Null,
        "the user is served from the cache, which the triggerless change did not reach"
    );

    sqlx::query(r#"UPDATE "user" SET is_active = false WHERE id = $1"#)
        .bind(id)
        .execute(&sql)
        .await
        .unwrap();
    eventually(REACH, "a deactivation in SQL is seen", || async {
        me(&app, &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}

/// Readers of one user on instance B, all the time, recording when each read started and
/// what it saw.
struct Load {
    stop: Arc<AtomicBool>,
    readers: Vec<tokio::task::JoinHandle<Vec<(Instant, StatusCode)>>>,
}

impl Load {
    fn start(app: &Arc<TestApp>, token: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let readers = (0..4)
            .map(|_| {
                let (app, token, stop) = (app.clone(), token.to_owned(), stop.clone());
                tokio::spawn(async move {
                    let mut reads = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let started = Instant::now();
                        reads.push((started, me(&app, &token).await.0));
                        // A read from the cache never waits: let the rest of the test run.
                        tokio::task::yield_now().await;
                    }
                    reads
                })
            })
            .collect();
        Self { stop, readers }
    }

    /// Stops the readers; every read.
    async fn finish(self) -> Vec<(Instant, StatusCode)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut reads = Vec::new();
        for reader in self.readers {
            reads.extend(reader.await.expect("a reader"));
        }
        reads
    }
}

/// Under load on B, B's channel is lost; while it is down, the user is deactivated (a change
/// B's channel cannot tell it about); `restore` brings the channel back. No read on B that
/// started after the deactivation is answered 200 (not during the outage, not after the
/// channel is back), and B's cache serves again afterwards, evicting as before.
async fn channel_lost_under_load<Kill, Killed, Restore, Restored>(
    a: TestApp,
    b: TestApp,
    kill: Kill,
    restore: Restore,
) where
    Kill: FnOnce() -> Killed,
    Killed: Future<Output = ()>,
    Restore: FnOnce() -> Restored,
    Restored: Future<Output = ()>,
{
    let b = Arc::new(b);
    let admin = a.superuser("arthur@camelot.bt").await;
    let user = a.register("lancelot@camelot.bt", "guinevere").await;
    let id = id_of(&user);
    let token = a.token("lancelot@camelot.bt", "guinevere").await;
    cached_on(&b, &token).await;

    let load = Load::start(&b, &token);
    tokio::time::sleep(Duration::from_millis(100)).await;
    kill().await;
    eventually(
        REACH,
        "B's cache stops serving when its channel is lost",
        || async { !serving(&b) },
    )
    .await;
    patch(
        &a,
        &admin,
        &format!("/users/{id}"),
        json!({"is_active": false}),
    )
    .await;
    let deactivated = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!serving(&b), "the channel is still down");
    restore().await;
    eventually(
        Duration::from_secs(15),
        "B's cache serves again",
        || async { serving(&b) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reads = load.finish().await;

    let before = reads.iter().filter(|(at, _)| *at < deactivated).count();
    let after: Vec<_> = reads.iter().filter(|(at, _)| *at >= deactivated).collect();
    assert!(
        before > 0 && after.len() > 10,
        "the readers read all along ({before} reads before, {} after)",
        after.len()
    );
    // Other answers than 200 and 401 are the database's, not the cache's: while PostgreSQL
    // refuses new connections, a pool that opens one gets an error.
    let refused = after
        .iter()
        .filter(|(_, status)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        refused > 10,
        "the reads after the deactivation reached the store: {refused}"
    );
    let stale = after
        .iter()
        .filter(|(_, status)| *status == StatusCode::OK)
        .count();
    assert_eq!(
        stale,
        0,
        "{stale} of {} reads after the deactivation served the deactivated user",
        after.len()
    );

    // Recovered: B caches again, and hears of A's changes again.
    let other = a.register("bedivere@camelot.bt", "guinevere").await;
    let other_token = a.token("bedivere@camelot.bt", "guinevere").await;
    cached_on(&b, &other_token).await;
    patch(
        &a,
        &admin,
        &format!("/users/{}", id_of(&other)),
        json!({"first_name": "Bedivere"}),
    )
    .await;
    eventually(REACH, "B sees A's change after the recovery", || async {
        me(&b, &other_token).await.1["first_name"] == "Bedivere"
    })
    .await;
}

/// An instance whose pool has eight connections open (idle connections are kept ten minutes): while no new connection to the
/// database is allowed, its reads (four at a time) still have connections.
async fn warm_instance(url: &str, cache_channel: Option<CacheChannel>) -> TestApp {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(url)
        .await
        .expect("connect to the test database");
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(pool.acquire().await.expect("a connection"));
    }
    drop(open);
    let store = fastusers::store::SqlStore::<User, sqlx::Postgres>::from_pool(pool);
    store.migrate().await.expect("migrate");
    let options = Options {
        cache_channel,
        ..Options::default()
    };
    TestApp::on_store(Arc::new(store), url.to_owned(), options, None)
}

/// PostgreSQL: A's and B's listening connections are terminated, and no new connection to
/// the database is allowed (so the listeners cannot come back) until after the deactivation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_listener_killed_under_load_no_stale_read_then_recovery() {
    let url = shared_database(Db::Postgres).await;
    let a = warm_instance(&url, None).await;
    let b = warm_instance(&url, None).await;
    let database = url.rsplit_once('/').unwrap().1.to_owned();
    let server = std::env::var("FASTUSERS_TEST_POSTGRES_URL").unwrap();
    let admin = sqlx::PgPool::connect(&server).await.unwrap();
    let allow = |allowed: bool| {
        let (admin, database) = (admin.clone(), database.clone());
        async move {
            let statement = format!("ALTER DATABASE {database} ALLOW_CONNECTIONS {allowed}");
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&admin)
                .await
                .unwrap();
        }
    };
    let kill = || async {
        allow(false).await;
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'fastusers user cache'",
        )
        .bind(&database)
        .fetch_all(&admin)
        .await
        .unwrap();
        assert_eq!(killed, [true, true], "A's and B's listeners");
    };
    channel_lost_under_load(a, b, kill, || allow(true)).await;
}

/// Redis: the server that carries the channel is killed, and started again on its port after
/// the deactivation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_killed_under_load_no_stale_read_then_recovery() {
    let redis = OwnRedis::start(free_port());
    let (redis_url, port) = (redis.url(), redis.port);
    let url = shared_database(Db::Postgres).await;
    let channel = || Some(CacheChannel::redis(&redis_url).unwrap());
    let a = instance(&url, channel()).await;
    let b = instance(&url, channel()).await;
    // The server running now; dropped (killed) at the end of the test.
    let server = std::sync::Mutex::new(Some(redis));
    let kill = || async {
        let redis = server.lock().unwrap().take().expect("the server runs");
        redis.stop();
    };
    let restore = || async {
        *server.lock().unwrap() = Some(OwnRedis::start(port));
    };
    channel_lost_under_load(a, b, kill, restore).await;
}
