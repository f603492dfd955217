//! Revocation times: a saved password change, reset, deactivation or deletion ends every session
//! of the user, on every backend and on every instance, even while Redis is down; the answer
//! says what was saved.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::Strategy;
use fastusers::keys::now;
use fastusers::prelude::*;
use fastusers::strategy::RedisStrategy;
use fastusers_tests::redis::OwnRedis;
use fastusers_tests::{
    BACKENDS, Carrier, Db, Options, SECRET, TestApp, User, UserChanges, db_tests, decode_claims,
    free_port, login, redis_url, send, shared_database,
};
use serde_json::json;

const EMAIL: &str = "mordred@camelot.bt";
const PASSWORD: &str = "guinevere";
const NEW_PASSWORD: &str = "a-new-password";

/// Two instances of the application on one database and one Redis, as behind a load balancer.
async fn two_instances(db: Db, redis_url: &str) -> [TestApp; 2] {
    let url = shared_database(db).await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let mut apps = Vec::new();
    for _ in 0..2 {
        let store = fastusers::store::connect::<User>(&url).await.unwrap();
        let redis = RedisStrategy::connect(redis_url, Some(3600))
            .await
            .unwrap()
            .key_prefix(&prefix);
        apps.push(TestApp::on_store(
            store,
            url.clone(),
            Options::default(),
            Some(redis),
        ));
    }
    apps.try_into().ok().unwrap()
}

/// A user's session on one backend.
struct Session {
    backend: &'static str,
    carrier: Carrier,
    token: String,
}

impl Session {
    async fn status(&self, app: &TestApp) -> StatusCode {
        send(app, Method::GET, "/users/me", self.carrier, &self.token)
            .await
            .status
    }

    fn is_redis(&self) -> bool {
        self.backend.starts_with("redis")
    }
}

/// A session on every backend, made on one instance or the other.
async fn sessions_everywhere(apps: &[TestApp], password: &str) -> Vec<Session> {
    let mut sessions = Vec::new();
    for (i, (backend, carrier, _)) in BACKENDS.into_iter().enumerate() {
        let token = login(&apps[i % apps.len()], backend, carrier, EMAIL, password).await;
        sessions.push(Session {
            backend,
            carrier,
            token,
        });
    }
    sessions
}

/// Asserts the status of every session on both instances.
async fn assert_sessions(apps: &[TestApp], sessions: &[Session], expected: StatusCode, why: &str) {
    for (n, app) in apps.iter().enumerate() {
        for session in sessions {
            assert_eq!(
                session.status(app).await,
                expected,
                "{why}: the {} session on instance {n}",
                session.backend
            );
        }
    }
}

/// Waits until the instance's Redis strategy answers again (it reconnects by itself).
async fn wait_for_redis(app: &TestApp, email: &str, password: &str) {
    for _ in 0..100 {
        let response = app
            .login_form("redis", &[("username", email), ("password", password)])
            .await;
        if response.status == StatusCode::OK {
            return;
        }
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Redis strategy did not reconnect within 10 s");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Password,
    Reset,
    Deactivation,
    Deletion,
}

/// With Redis down, the change answers success since it was saved, and every session made
/// before it is refused on both instances: at once for JWTs and database tokens, and for Redis
/// tokens once Redis is back (they were never deleted). Sessions made after it work; after a
/// reactivation, the old ones stay dead.
async fn a_change_saved_while_redis_is_down(db: Db, change: Change) {
    // Persistent, as a production Redis: the tokens it holds are there again when it is back.
    let dir =
        std::env::temp_dir().join(format!("fastusers-redis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let redis = OwnRedis::start_persistent(free_port(), &dir);
    let apps = two_instances(db, &redis.url()).await;
    let [a, b] = &apps;
    let user = a.register(EMAIL, PASSWORD).await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    let admin = a.superuser("arthur@camelot.bt").await;
    let sessions = sessions_everywhere(&apps, PASSWORD).await;
    assert_sessions(&apps, &sessions, StatusCode::OK, "before the change").await;
    let bystander = login(
        a,
        "redis",
        Carrier::Bearer,
        "arthur@camelot.bt",
        "excalibur!",
    )
    .await;

    let port = redis.shut_down();
    match change {
        Change::Password => {
            let changed = a
                .request(Method::PATCH, "/users/me")
                .bearer(&sessions[0].token)
                .json(&json!({"password": NEW_PASSWORD}))
                .send()
                .await;
            assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
            assert_eq!(changed.json()["email"], EMAIL);
        }
        Change::Reset => {
            let forgot = a
                .request(Method::POST, "/auth/forgot-password")
                .json(&json!({"email": EMAIL}))
                .send()
                .await;
            assert_eq!(forgot.status, StatusCode::ACCEPTED, "{}", forgot.text());
            let token = a.sent_token("reset", EMAIL).await.expect("a reset token");
            let reset = a
                .request(Method::POST, "/auth/reset-password")
                .json(&json!({"token": token, "password": NEW_PASSWORD}))
                .send()
                .await;
            reset.assert(StatusCode::OK, serde_json::Value::Null);
        }
        Change::Deactivation => {
            let patched = a
                .request(Method::PATCH, &path)
                .bearer(&admin)
                .json(&json!({"is_active": false}))
                .send()
                .await;
            assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
            assert_eq!(patched.json()["is_active"], false);
        }
        Change::Deletion => {
            let deleted = a.request(Method::DELETE, &path).bearer(&admin).send().await;
            assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
        }
    }

    // Every backend was tried: the database tokens are gone although the Redis backends,
    // declared before them, failed.
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let tokens = a.state.manager().store().access_tokens().unwrap();
    assert_eq!(tokens.list_for_user(&id, None).await.unwrap(), []);

    // What was answered is what was saved, as both instances see it.
    for app in &apps {
        let read = app.request(Method::GET, &path).bearer(&admin).send().await;
        match change {
            Change::Password | Change::Reset => {
                app.token(EMAIL, NEW_PASSWORD).await;
            }
            Change::Deactivation => assert_eq!(read.json()["is_active"], false),
            Change::Deletion => assert_eq!(read.status, StatusCode::NOT_FOUND),
        }
    }
    let (redis_sessions, others): (Vec<Session>, Vec<Session>) =
        sessions.into_iter().partition(Session::is_redis);
    for app in &apps {
        for session in &others {
            // Backends are tried in declared order and an unreachable store stops the search:
            // a bearer token that is not a JWT meets the Redis backend first, which cannot say
            // whether it is one of its own.
            let expected = match session.carrier {
                Carrier::Bearer if session.backend == "database" => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            };
            assert_eq!(
                session.status(app).await,
                expected,
                "Redis down: the {} session",
                session.backend
            );
        }
    }

    let redis = OwnRedis::start_persistent(port, &dir);
    wait_for_redis(a, "arthur@camelot.bt", "excalibur!").await;
    wait_for_redis(b, "arthur@camelot.bt", "excalibur!").await;
    assert_eq!(
        b.me_status(&bystander).await,
        StatusCode::OK,
        "Redis kept its tokens through the outage"
    );
    // Each Redis token is presented to one instance first (which refuses it and deletes it),
    // then to the other.
    for (session, first) in redis_sessions.iter().zip([a, b]) {
        assert_eq!(
            session.status(first).await,
            StatusCode::UNAUTHORIZED,
            "Redis is back: the {} session",
            session.backend
        );
    }
    assert_sessions(
        &apps,
        &redis_sessions,
        StatusCode::UNAUTHORIZED,
        "Redis is back",
    )
    .await;
    let old: Vec<Session> = others.into_iter().chain(redis_sessions).collect();

    match change {
        Change::Password | Change::Reset => {
            let fresh = sessions_everywhere(&apps, NEW_PASSWORD).await;
            assert_sessions(&apps, &fresh, StatusCode::OK, "made after the change").await;
        }
        Change::Deactivation => {
            let patched = b
                .request(Method::PATCH, &path)
                .bearer(&admin)
                .json(&json!({"is_active": true}))
                .send()
                .await;
            assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
            assert_sessions(&apps, &old, StatusCode::UNAUTHORIZED, "reactivated").await;
            let fresh = sessions_everywhere(&apps, PASSWORD).await;
            assert_sessions(&apps, &fresh, StatusCode::OK, "made after reactivation").await;
        }
        Change::Deletion => {
            b.register(EMAIL, PASSWORD).await;
            assert_sessions(
                &apps,
                &old,
                StatusCode::UNAUTHORIZED,
                "the email is taken again",
            )
            .await;
        }
    }
    assert_sessions(&apps, &old, StatusCode::UNAUTHORIZED, "at the end").await;
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(file) = a.url.strip_prefix("sqlite:") {
        let _ = std::fs::remove_file(file);
    }
}

async fn password_change_while_redis_is_down(db: Db) {
    a_change_saved_while_redis_is_down(db, Change::Password).await;
}

async fn password_reset_while_redis_is_down(db: Db) {
    a_change_saved_while_redis_is_down(db, Change::Reset).await;
}

async fn deactivation_while_redis_is_down(db: Db) {
    a_change_saved_while_redis_is_down(db, Change::Deactivation).await;
}

async fn deletion_while_redis_is_down(db: Db) {
    a_change_saved_while_redis_is_down(db, Change::Deletion).await;
}

/// A revocation time alone, saved with no token deleted (as when every token store was out of
/// reach), refuses every older token on every backend; the refused Redis and database tokens
/// are deleted on the way, and tokens made after it work.
async fn a_revocation_time_refuses_every_older_token(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            redis_url: Some(redis_url()),
            ..Options::default()
        },
    )
    .await;
    let user = app.register(EMAIL, PASSWORD).await;
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let old = sessions_everywhere(std::slice::from_ref(&app), PASSWORD).await;
    app.state
        .manager()
        .store()
        .update_and_revoke(&id, &UserChanges::default(), fastusers::revocation::now())
        .await
        .unwrap()
        .expect("the user exists");
    for session in &old {
        assert_eq!(
            session.status(&app).await,
            StatusCode::UNAUTHORIZED,
            "the {} session",
            session.backend
        );
    }
    let fresh = login(&app, "database", Carrier::Bearer, EMAIL, PASSWORD).await;
    let listed = app
        .request(Method::GET, "/users/me/sessions")
        .bearer(&fresh)
        .send()
        .await
        .json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "the refused tokens were deleted, the fresh one is left: {listed}"
    );
    for (backend, carrier, _) in BACKENDS {
        let token = login(&app, backend, carrier, EMAIL, PASSWORD).await;
        let me = send(&app, Method::GET, "/users/me", carrier, &token).await;
        assert_eq!(me.status, StatusCode::OK, "a new {backend} session");
    }
}

/// JWTs carry `iat` in seconds with a fraction; tokens without it (fastapi-users') are taken
/// as issued one lifetime before `exp`, and a token whose issue time cannot be known is refused
/// once the user's sessions have been revoked.
async fn jwt_issue_times(db: Db) {
    let app = TestApp::new(db).await;
    let registered = app.register(EMAIL, PASSWORD).await;
    let id = registered["id"].as_str().unwrap().to_owned();
    let jwt = app.token(EMAIL, PASSWORD).await;
    let claims = decode_claims(&jwt);
    let iat = claims["iat"].as_f64().expect("a numeric iat");
    let exp = claims["exp"].as_u64().expect("an integer exp");
    assert!((iat - (exp - 3600) as f64).abs() < 1.0, "{claims}");

    let keys = JwtKeys::hs256(SECRET).unwrap();
    let aud = ["fastapi-users:auth"];
    let sign = |claims: serde_json::Value| keys.encode(&claims).unwrap();
    // As fastapi-users issues them: no iat.
    let earlier = sign(json!({"sub": id, "aud": aud, "exp": now() + 3600}));
    let later = sign(json!({"sub": id, "aud": aud, "exp": now() + 3600 + 5}));
    let malformed = sign(json!({"sub": id, "aud": aud, "exp": now() + 3600, "iat": "now"}));
    assert_eq!(app.me_status(&earlier).await, StatusCode::OK);
    assert_eq!(app.me_status(&malformed).await, StatusCode::UNAUTHORIZED);
    // A strategy without a lifetime cannot tell when a token without iat was issued.
    let forever = JwtStrategy::new(JwtKeys::hs256(SECRET).unwrap(), None);
    let timeless = sign(json!({"sub": id, "aud": aud}));
    let manager = app.state.manager();
    let read = |token: String| {
        let forever = forever.clone();
        async move {
            Strategy::<User>::read_token(&forever, &token, manager)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(read(timeless.clone()).await, "never revoked: accepted");

    let user = manager
        .get(&uuid::Uuid::parse_str(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    manager.revoke_tokens(&user).await.unwrap();
    assert_eq!(app.me_status(&jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&earlier).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&later).await, StatusCode::OK);
    assert!(!read(timeless).await, "revoked: refused");
    // A token issued just after the revocation, most likely in the same second, is accepted.
    let fresh = app.token(EMAIL, PASSWORD).await;
    assert_eq!(app.me_status(&fresh).await, StatusCode::OK);
}

db_tests!(
    password_change_while_redis_is_down,
    password_reset_while_redis_is_down,
    deactivation_while_redis_is_down,
    deletion_while_redis_is_down,
    a_revocation_time_refuses_every_older_token,
    jwt_issue_times,
);
