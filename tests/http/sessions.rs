//! Server-side sessions: every transport with every strategy, logout that revokes, revocation
//! on password change, deactivation and deletion, session listing, expiry, and Redis outages.

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers_tests::redis::OwnRedis;
use fastusers_tests::{
    BACKENDS, Carrier, Db, Options, TestApp, db_tests, free_port, login, redis_url, send,
};
use serde_json::json;

async fn app_with_redis(db: Db) -> TestApp {
    TestApp::with(
        db,
        Options {
            redis_url: Some(redis_url()),
            ..Options::default()
        },
    )
    .await
}

async fn every_transport_with_every_strategy(db: Db) {
    let app = app_with_redis(db).await;
    app.register("gaheris@camelot.bt", "guinevere").await;
    for (backend, carrier, revocable) in BACKENDS {
        let token = login(&app, backend, carrier, "gaheris@camelot.bt", "guinevere").await;
        if revocable {
            assert_eq!(
                token.len(),
                43,
                "{backend}: an opaque token of 32 random bytes"
            );
        }
        let me = send(&app, Method::GET, "/users/me", carrier, &token).await;
        assert_eq!(me.status, StatusCode::OK, "{backend}: {}", me.text());
        assert_eq!(me.json()["email"], "gaheris@camelot.bt");
        let out = send(
            &app,
            Method::POST,
            &format!("/auth/{backend}/logout"),
            carrier,
            &token,
        )
        .await;
        assert_eq!(
            out.status,
            StatusCode::NO_CONTENT,
            "{backend} logout: {}",
            out.text()
        );
        let after = send(&app, Method::GET, "/users/me", carrier, &token)
            .await
            .status;
        let expected = if revocable {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(after, expected, "{backend}: after logout");
    }
}

async fn password_change_revokes_every_server_side_token(db: Db) {
    let app = app_with_redis(db).await;
    app.register("agravain@camelot.bt", "guinevere").await;
    let redis = login(
        &app,
        "redis",
        Carrier::Bearer,
        "agravain@camelot.bt",
        "guinevere",
    )
    .await;
    let database = login(
        &app,
        "database",
        Carrier::Bearer,
        "agravain@camelot.bt",
        "guinevere",
    )
    .await;
    let jwt = app.token("agravain@camelot.bt", "guinevere").await;
    let changed = app
        .request(Method::PATCH, "/users/me")
        .bearer(&jwt)
        .json(&json!({"password": "new-password"}))
        .send()
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    for token in [&redis, &database] {
        assert_eq!(app.me_status(token).await, StatusCode::UNAUTHORIZED);
    }
    // Other changes leave sessions alone.
    let fresh = login(
        &app,
        "database",
        Carrier::Bearer,
        "agravain@camelot.bt",
        "new-password",
    )
    .await;
    let renamed = app
        .request(Method::PATCH, "/users/me")
        .bearer(&fresh)
        .json(&json!({"first_name": "A"}))
        .send()
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(app.me_status(&fresh).await, StatusCode::OK);
}

async fn deactivation_and_deletion_revoke(db: Db) {
    let app = app_with_redis(db).await;
    let user = app.register("lucan@camelot.bt", "guinevere").await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    let admin = app.superuser("admin@camelot.bt").await;
    let redis = login(
        &app,
        "redis",
        Carrier::Bearer,
        "lucan@camelot.bt",
        "guinevere",
    )
    .await;
    let database = login(
        &app,
        "database",
        Carrier::Bearer,
        "lucan@camelot.bt",
        "guinevere",
    )
    .await;
    app.request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    app.request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_active": true}))
        .send()
        .await;
    for token in [&redis, &database] {
        let status = app.me_status(token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "reactivation does not bring a revoked token back"
        );
    }
    let redis = login(
        &app,
        "redis",
        Carrier::Bearer,
        "lucan@camelot.bt",
        "guinevere",
    )
    .await;
    assert_eq!(
        app.request(Method::DELETE, &path)
            .bearer(&admin)
            .send()
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    app.register("lucan@camelot.bt", "guinevere").await;
    let status = app.me_status(&redis).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deleted user's Redis token is gone"
    );
}

async fn sessions_are_listed_without_tokens_and_revocable(db: Db) {
    let app = app_with_redis(db).await;
    app.register("bedwyr@camelot.bt", "guinevere").await;
    let first = login(
        &app,
        "database",
        Carrier::Bearer,
        "bedwyr@camelot.bt",
        "guinevere",
    )
    .await;
    let second = login(
        &app,
        "session",
        Carrier::Cookie("fastusers_session"),
        "bedwyr@camelot.bt",
        "guinevere",
    )
    .await;
    let third = login(
        &app,
        "redis",
        Carrier::Bearer,
        "bedwyr@camelot.bt",
        "guinevere",
    )
    .await;
    let listing = app
        .request(Method::GET, "/users/me/sessions")
        .bearer(&first)
        .send()
        .await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.text());
    let text = listing.text();
    for token in [&first, &second, &third] {
        assert!(
            !text.contains(token.as_str()),
            "the listing never reveals a token"
        );
    }
    let sessions = listing.json();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{text}");
    let mut backends: Vec<&str> = sessions
        .iter()
        .map(|s| s["backend"].as_str().unwrap())
        .collect();
    backends.sort();
    // The database and session backends share one token table: a session is named after the
    // first declared backend of its store.
    assert_eq!(backends, ["database", "database", "redis"]);
    assert!(
        sessions
            .iter()
            .all(|s| s["created_at"].as_str().unwrap().ends_with('Z'))
    );

    let redis_id = sessions.iter().find(|s| s["backend"] == "redis").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .request(Method::DELETE, &format!("/users/me/sessions/{redis_id}"))
        .bearer(&first)
        .send()
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&first).await, StatusCode::OK);
    let again = app
        .request(Method::DELETE, &format!("/users/me/sessions/{redis_id}"))
        .bearer(&first)
        .send()
        .await;
    again.assert(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}));

    // Another user cannot revoke these sessions.
    app.register("other@camelot.bt", "guinevere").await;
    let other = login(
        &app,
        "database",
        Carrier::Bearer,
        "other@camelot.bt",
        "guinevere",
    )
    .await;
    let first_id = fastusers::strategy::Session::id_of(&first);
    let response = app
        .request(Method::DELETE, &format!("/users/me/sessions/{first_id}"))
        .bearer(&other)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(app.me_status(&first).await, StatusCode::OK);
}

async fn expired_database_tokens_are_refused_and_purged(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("yvain@camelot.bt", "guinevere").await;
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let tokens = app.state.manager().store().access_tokens().unwrap();
    tokens.create("expired-token", &id).await.unwrap();
    tokens.create("swept-token", &id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        tokens
            .user_by_token("expired-token", Some(1))
            .await
            .unwrap()
            .is_none()
    );
    let left: Vec<String> = tokens
        .list_for_user(&id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        left,
        ["swept-token"],
        "the expired token presented was deleted on read"
    );
    assert_eq!(
        tokens.purge_expired(1).await.unwrap(),
        1,
        "the sweep deletes the rest"
    );
    assert!(tokens.list_for_user(&id, None).await.unwrap().is_empty());
    tokens.create("fresh-token", &id).await.unwrap();
    assert!(
        tokens
            .user_by_token("fresh-token", Some(3600))
            .await
            .unwrap()
            .is_some()
    );
}

db_tests!(
    every_transport_with_every_strategy,
    password_change_revokes_every_server_side_token,
    deactivation_and_deletion_revoke,
    sessions_are_listed_without_tokens_and_revocable,
    expired_database_tokens_are_refused_and_purged,
);

/// Redis goes down: requests that need it get a 503 (never a panic or a hang), other backends
/// keep working, and the strategy recovers by itself when Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_is_503_and_recovers() {
    let redis = OwnRedis::start(free_port());
    let url = redis.url();
    let app = TestApp::with(
        Db::Sqlite,
        Options {
            redis_url: Some(url),
            ..Options::default()
        },
    )
    .await;
    app.register("pelleas@camelot.bt", "guinevere").await;
    let token = login(
        &app,
        "redis",
        Carrier::Bearer,
        "pelleas@camelot.bt",
        "guinevere",
    )
    .await;
    assert_eq!(app.me_status(&token).await, StatusCode::OK);

    let port = redis.stop();
    let down = app
        .request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.text()
    );
    assert!(
        down.json()["detail"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
    let login_down = app
        .login_form(
            "redis",
            &[
                ("username", "pelleas@camelot.bt"),
                ("password", "guinevere"),
            ],
        )
        .await;
    assert_eq!(login_down.status, StatusCode::SERVICE_UNAVAILABLE);
    let jwt = app.token("pelleas@camelot.bt", "guinevere").await;
    assert_eq!(
        app.me_status(&jwt).await,
        StatusCode::OK,
        "JWT needs no Redis"
    );

    let _redis = OwnRedis::start(port);
    let mut recovered = None;
    for _ in 0..50 {
        let response = app
            .login_form(
                "redis",
                &[
                    ("username", "pelleas@camelot.bt"),
                    ("password", "guinevere"),
                ],
            )
            .await;
        if response.status == StatusCode::OK {
            recovered = Some(response.json()["access_token"].as_str().unwrap().to_owned());
            break;
        }
        assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let token = recovered.expect("the Redis strategy reconnects by itself");
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
}

/// The Redis strategy on a real three-node Redis Cluster: tokens and the per-user index live in
/// different slots, and every operation still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_sessions() {
    let dir = std::env::temp_dir().join(format!(
        "fastusers-cluster-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let nodes: Vec<OwnRedis> = (0..3)
        .map(|_| {
            let port = free_port();
            let extra = ["--cluster-enabled", "yes", "--cluster-config-file"]
                .map(String::from)
                .into_iter()
                .chain([
                    dir.join(format!("nodes-{port}.conf"))
                        .to_string_lossy()
                        .into_owned(),
                    "--dir".into(),
                ])
                .chain([dir.to_string_lossy().into_owned()])
                .collect::<Vec<_>>();
            OwnRedis::start_with(port, &extra)
        })
        .collect();
    let addresses: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli is installed");
    assert!(created.success(), "redis-cli --cluster create");
    for node in &nodes {
        let mut ok = false;
        for _ in 0..100 {
            let info = Command::new("redis-cli")
                .args(["-p", &node.port.to_string(), "cluster", "info"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(ok, "the cluster converges");
    }

    let urls: Vec<String> = addresses.iter().map(|a| format!("redis://{a}")).collect();
    let url_refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let strategy = fastusers::strategy::RedisStrategy::connect_cluster(&url_refs, Some(3600))
        .await
        .unwrap();
    let url = fastusers_tests::fresh_database(Db::Sqlite).await;
    let store = fastusers::store::connect::<fastusers_tests::User>(&url)
        .await
        .unwrap();
    let app = TestApp::on_store(store, url, Options::default(), Some(strategy));

    app.register("ywain@camelot.bt", "guinevere").await;
    let first = login(
        &app,
        "redis",
        Carrier::Bearer,
        "ywain@camelot.bt",
        "guinevere",
    )
    .await;
    let second = login(
        &app,
        "redis",
        Carrier::Bearer,
        "ywain@camelot.bt",
        "guinevere",
    )
    .await;
    assert_eq!(app.me_status(&first).await, StatusCode::OK);
    let sessions = app
        .request(Method::GET, "/users/me/sessions")
        .bearer(&first)
        .send()
        .await
        .json();
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions}");
    let out = app
        .request(Method::POST, "/auth/redis/logout")
        .bearer(&first)
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&second).await, StatusCode::OK);
    let changed = app
        .request(Method::PATCH, "/users/me")
        .bearer(&second)
        .json(&json!({"password": "new-password"}))
        .send()
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        app.me_status(&second).await,
        StatusCode::UNAUTHORIZED,
        "revoked everywhere"
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
