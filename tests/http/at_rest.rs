//! Tokens at rest: the database and Redis strategies store a hash of each token, so that a
//! read of the table or of Redis gives no usable session; tokens that fastapi-users stored in
//! clear still log in, and are rewritten as the hash at their first use.

use axum::http::{Method, StatusCode};
use fastusers::keys::{random_token, stored_form};
use fastusers::strategy::{RedisStrategy, Session};
use fastusers_tests::{Carrier, Db, Options, TestApp, User, db_tests, login, redis_url};
use redis::AsyncCommands;

const EMAIL: &str = "bors@camelot.bt";
const PASSWORD: &str = "holy-grail";

fn user_id(user: &serde_json::Value) -> uuid::Uuid {
    uuid::Uuid::parse_str(user["id"].as_str().expect("an id")).expect("a UUID")
}

/// What the `accesstoken` table holds for the user: its `token` column.
async fn table_keys(app: &TestApp, id: &uuid::Uuid) -> Vec<String> {
    let tokens = app
        .state
        .manager()
        .store()
        .access_tokens()
        .expect("a token table");
    tokens
        .list_for_user(id, None)
        .await
        .expect("the table answers")
        .into_iter()
        .map(|(key, _)| key)
        .collect()
}

/// After a login, the table holds the token's hash, which logs nobody in; the session's id is
/// the same as before.
async fn database_tokens_are_stored_as_hashes(db: Db) {
    let app = TestApp::new(db).await;
    let id = user_id(&app.register(EMAIL, PASSWORD).await);
    let token = login(&app, "database", Carrier::Bearer, EMAIL, PASSWORD).await;
    let keys = table_keys(&app, &id).await;
    assert_eq!(keys, [stored_form(&token)]);
    for key in &keys {
        assert!(!key.contains(&token));
        assert_eq!(app.me_status(key).await, StatusCode::UNAUTHORIZED, "{key}");
    }
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    let listed = app
        .request(Method::GET, "/users/me/sessions")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(listed.json()[0]["id"], Session::id_of(&token).as_str());
}

/// A row that fastapi-users wrote holds its token in clear: the token logs in, and the row is
/// rewritten as the hash at once; logout deletes it.
async fn a_clear_fastapi_users_row_logs_in_and_is_rewritten(db: Db) {
    let app = TestApp::new(db).await;
    let id = user_id(&app.register(EMAIL, PASSWORD).await);
    let clear = random_token();
    let tokens = app
        .state
        .manager()
        .store()
        .access_tokens()
        .expect("a token table");
    tokens.create(&clear, &id).await.expect("a clear row");
    assert_eq!(table_keys(&app, &id).await, std::slice::from_ref(&clear));

    assert_eq!(app.me_status(&clear).await, StatusCode::OK);
    assert_eq!(
        table_keys(&app, &id).await,
        [stored_form(&clear)],
        "rewritten as its hash"
    );
    assert_eq!(
        app.me_status(&clear).await,
        StatusCode::OK,
        "found by its hash"
    );
    let out = app
        .request(Method::POST, "/auth/database/logout")
        .bearer(&clear)
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text());
    assert_eq!(table_keys(&app, &id).await, Vec::<String>::new());
    assert_eq!(app.me_status(&clear).await, StatusCode::UNAUTHORIZED);
}

db_tests!(
    database_tokens_are_stored_as_hashes,
    a_clear_fastapi_users_row_logs_in_and_is_rewritten
);

/// The test app with a Redis strategy under a prefix of its own, and a connection to read
/// Redis directly.
async fn app_with_redis() -> (TestApp, String, redis::aio::MultiplexedConnection) {
    let prefix = format!("test-at-rest:{}:", uuid::Uuid::new_v4().simple());
    let strategy = RedisStrategy::connect(&redis_url(), Some(3600))
        .await
        .expect("connect to the test Redis server")
        .key_prefix(prefix.clone());
    let url = fastusers_tests::fresh_database(Db::Sqlite).await;
    let store = fastusers::store::connect::<User>(&url)
        .await
        .expect("open the store");
    let app = TestApp::on_store(store, url, Options::default(), Some(strategy));
    let connection = redis::Client::open(redis_url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test Redis server");
    (app, prefix, connection)
}

/// Every key under the prefix, and each string key's value.
async fn redis_contents(
    connection: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Vec<(String, Option<String>)> {
    let mut keys: Vec<String> = connection.keys(format!("{prefix}*")).await.expect("KEYS");
    keys.sort();
    let mut contents = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(connection)
            .await
            .expect("TYPE");
        let value = match kind.as_str() {
            "string" => Some(connection.get(&key).await.expect("GET")),
            _ => None,
        };
        contents.push((key, value));
    }
    contents
}

/// After a login, Redis holds the token's hash as key and index entry, and nothing there logs
/// anyone in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_tokens_are_stored_as_hashes() {
    let (app, prefix, mut redis) = app_with_redis().await;
    let user = app.register(EMAIL, PASSWORD).await;
    let token = login(&app, "redis", Carrier::Bearer, EMAIL, PASSWORD).await;
    let contents = redis_contents(&mut redis, &prefix).await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        contents,
        [
            (
                format!("{prefix}{}", stored_form(&token)),
                Some(id.to_owned())
            ),
            (format!("{prefix}user:{id}"), None),
        ]
    );
    let index: Vec<String> = redis
        .zrange(format!("{prefix}user:{id}"), 0, -1)
        .await
        .expect("ZRANGE");
    assert_eq!(index, [stored_form(&token)]);
    for (key, _) in &contents {
        let candidate = key.strip_prefix(&prefix).unwrap();
        assert!(!candidate.contains(&token));
        assert_eq!(app.me_status(candidate).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
}

/// A token that fastapi-users stored in clear (`SET prefix<token> <id> EX ...`) logs in; its
/// key moves to the hash with its TTL; logout deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_fastapi_users_redis_token_logs_in_and_is_rewritten() {
    let (app, prefix, mut redis) = app_with_redis().await;
    let user = app.register(EMAIL, PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let clear = random_token();
    let _: () = redis
        .set_ex(format!("{prefix}{clear}"), id, 3600)
        .await
        .expect("SET");

    assert_eq!(app.me_status(&clear).await, StatusCode::OK);
    let contents = redis_contents(&mut redis, &prefix).await;
    let hashed = format!("{prefix}{}", stored_form(&clear));
    assert_eq!(contents, [(hashed.clone(), Some(id.to_owned()))]);
    let ttl: i64 = redis.ttl(&hashed).await.expect("TTL");
    assert!((3500..=3600).contains(&ttl), "the TTL moved with it: {ttl}");
    assert_eq!(
        app.me_status(&clear).await,
        StatusCode::OK,
        "found by its hash"
    );
    let out = app
        .request(Method::POST, "/auth/redis/logout")
        .bearer(&clear)
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text());
    assert_eq!(redis_contents(&mut redis, &prefix).await, []);
    assert_eq!(app.me_status(&clear).await, StatusCode::UNAUTHORIZED);
}
