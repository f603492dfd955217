//! The current-user extractors: optional, backend masks, status rules; and a store outage.

use axum::http::{Method, StatusCode};
use fastusers_tests::{Db, TestApp, db_tests};
use serde_json::json;

async fn extractors_follow_the_reference_rules(db: Db) {
    let app = TestApp::new(db).await;
    assert_eq!(
        app.request(Method::GET, "/optional").send().await.text(),
        "anonymous"
    );
    let user = app.register("lamorak@camelot.bt", "guinevere").await;
    let token = app.token("lamorak@camelot.bt", "guinevere").await;
    assert_eq!(
        app.request(Method::GET, "/optional")
            .bearer(&token)
            .send()
            .await
            .text(),
        "lamorak@camelot.bt"
    );
    assert_eq!(
        app.request(Method::GET, "/optional")
            .bearer("garbage")
            .send()
            .await
            .text(),
        "anonymous"
    );

    // Backend mask: the cookie-only route ignores a bearer token.
    assert_eq!(
        app.request(Method::GET, "/cookie-only")
            .bearer(&token)
            .send()
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let cookie = format!("fastapiusersauth={token}");
    assert_eq!(
        app.request(Method::GET, "/cookie-only")
            .header("cookie", &cookie)
            .send()
            .await
            .text(),
        "lamorak@camelot.bt"
    );

    app.request(Method::GET, "/verified-only")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::FORBIDDEN, json!({"detail": "Forbidden"}));

    // Inactive: 401 where an active user is needed, still a user for CurrentUser. (Made
    // inactive behind the manager's back: a deactivation through it also revokes the user's
    // sessions.)
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let changes = fastusers_tests::UserChanges {
        is_active: Some(false),
        ..Default::default()
    };
    app.change_in_store(&id, changes).await;
    assert_eq!(
        app.request(Method::GET, "/any-status")
            .bearer(&token)
            .send()
            .await
            .text(),
        "lamorak@camelot.bt active=false"
    );
    assert_eq!(
        app.request(Method::GET, "/verified-only")
            .bearer(&token)
            .send()
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.request(Method::GET, "/optional")
            .bearer(&token)
            .send()
            .await
            .text(),
        "anonymous"
    );
}

async fn a_closed_store_answers_503(db: Db) {
    use fastusers::store::SqlStore;
    use fastusers_tests::{Options, User, fresh_database};
    let url = fresh_database(db).await;
    let (app, close): (
        TestApp,
        std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
    ) = match db {
        Db::Sqlite => {
            let store = SqlStore::<User, sqlx::Sqlite>::connect_sqlite(&url)
                .await
                .unwrap();
            store.migrate().await.unwrap();
            let pool = store.pool().clone();
            (
                TestApp::on_store(std::sync::Arc::new(store), url, Options::default(), None),
                Box::pin(async move { pool.close().await }),
            )
        }
        Db::Postgres => {
            let store = SqlStore::<User, sqlx::Postgres>::connect_postgres(&url)
                .await
                .unwrap();
            store.migrate().await.unwrap();
            let pool = store.pool().clone();
            (
                TestApp::on_store(std::sync::Arc::new(store), url, Options::default(), None),
                Box::pin(async move { pool.close().await }),
            )
        }
    };
    app.register("galehaut@camelot.bt", "guinevere").await;
    let token = app.token("galehaut@camelot.bt", "guinevere").await;
    close.await;
    let response = app
        .request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text()
    );
    assert!(
        response.json()["detail"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
    let response = app
        .register_json(json!({"email": "x@camelot.bt", "password": "guinevere"}))
        .await;
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text()
    );
    let response = app
        .login_form(
            "jwt",
            &[
                ("username", "galehaut@camelot.bt"),
                ("password", "guinevere"),
            ],
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text()
    );
}

db_tests!(
    extractors_follow_the_reference_rules,
    a_closed_store_answers_503
);
