//! Email verification and password reset: every status and `detail`, token reuse, expiry,
//! tampering, wrong audiences, and the 202 that tells nothing.

use axum::http::{Method, StatusCode};
use fastusers::JwtKeys;
use fastusers::keys::now;
use fastusers_tests::{Db, RESET_SECRET, TestApp, VERIFY_SECRET, db_tests};
use serde_json::{Value, json};

async fn post(app: &TestApp, path: &str, body: Value) -> fastusers_tests::Response {
    app.request(Method::POST, path).json(&body).send().await
}

async fn verification_flow(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("gareth@camelot.bt", "guinevere").await;
    post(
        &app,
        "/auth/request-verify-token",
        json!({"email": "GARETH@camelot.bt"}),
    )
    .await
    .assert(StatusCode::ACCEPTED, Value::Null);
    let token = app
        .sent_token("verify", "gareth@camelot.bt")
        .await
        .expect("a verification token was sent");
    let verified = post(&app, "/auth/verify", json!({"token": token})).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let body = verified.json();
    assert_eq!(
        (body["id"].clone(), body["is_verified"].clone()),
        (user["id"].clone(), json!(true))
    );
    post(&app, "/auth/verify", json!({"token": token}))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "VERIFY_USER_ALREADY_VERIFIED"}),
        );
    let before = app.sent_count();
    post(
        &app,
        "/auth/request-verify-token",
        json!({"email": "gareth@camelot.bt"}),
    )
    .await
    .assert(StatusCode::ACCEPTED, Value::Null);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        app.sent_count(),
        before,
        "an already-verified user gets no token, and the caller cannot tell"
    );
}

async fn unknown_and_inactive_emails_get_the_same_202(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("mark@cornwall.uk", "guinevere").await;
    let admin = app.superuser("admin@camelot.bt").await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    app.request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    let before = app.sent_count();
    for route in ["/auth/request-verify-token", "/auth/forgot-password"] {
        for email in ["nobody@camelot.bt", "mark@cornwall.uk"] {
            let response = post(&app, route, json!({"email": email})).await;
            response.assert(StatusCode::ACCEPTED, Value::Null);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        app.sent_count(),
        before,
        "no token for unknown or inactive users"
    );
}

async fn account_bodies_are_validated(db: Db) {
    let app = TestApp::new(db).await;
    let missing = |field: &str| json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": null});
    for route in ["/auth/request-verify-token", "/auth/forgot-password"] {
        post(&app, route, json!({})).await.assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [missing("email")]}),
        );
        post(&app, route, json!("a@b.co")).await.assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [missing("email")]}),
        );
        let bad = post(&app, route, json!({"email": "notanemail"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["detail"][0]["type"], "value_error");
    }
    post(&app, "/auth/verify", json!({})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [missing("token")]}),
    );
    post(&app, "/auth/reset-password", json!({})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [missing("token"), missing("password")]}),
    );
    let empty = app
        .request(Method::POST, "/auth/verify")
        .body("")
        .send()
        .await;
    empty.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [missing("token")]}),
    );
}

async fn bad_verification_tokens(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("kay@camelot.bt", "guinevere").await;
    let id = user["id"].as_str().unwrap();
    let keys = JwtKeys::hs256(VERIFY_SECRET).unwrap();
    let valid = |claims: Value| keys.encode(&claims).unwrap();
    let aud = "fastapi-users:verify";
    let good = valid(json!({"sub": id, "email": "kay@camelot.bt", "aud": aud, "exp": now() + 60}));
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let bad = [
        "garbage".to_owned(),
        tampered,
        valid(json!({"sub": id, "email": "kay@camelot.bt", "aud": aud, "exp": now() - 1})),
        valid(
            json!({"sub": id, "email": "kay@camelot.bt", "aud": "fastapi-users:reset", "exp": now() + 60}),
        ),
        valid(json!({"email": "kay@camelot.bt", "aud": aud, "exp": now() + 60})),
        valid(json!({"sub": id, "aud": aud, "exp": now() + 60})),
        valid(
            json!({"sub": uuid::Uuid::new_v4().to_string(), "email": "kay@camelot.bt", "aud": aud, "exp": now() + 60}),
        ),
        valid(
            json!({"sub": "not-a-uuid", "email": "kay@camelot.bt", "aud": aud, "exp": now() + 60}),
        ),
        valid(json!({"sub": id, "email": "nobody@camelot.bt", "aud": aud, "exp": now() + 60})),
        JwtKeys::hs256(RESET_SECRET)
            .unwrap()
            .encode(&json!({"sub": id, "email": "kay@camelot.bt", "aud": aud, "exp": now() + 60}))
            .unwrap(),
    ];
    for token in bad {
        post(&app, "/auth/verify", json!({"token": token}))
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "VERIFY_USER_BAD_TOKEN"}),
            );
    }
    // A real token dies when the email changes.
    post(
        &app,
        "/auth/request-verify-token",
        json!({"email": "kay@camelot.bt"}),
    )
    .await;
    let token = app.sent_token("verify", "kay@camelot.bt").await.unwrap();
    let jwt = app.token("kay@camelot.bt", "guinevere").await;
    app.request(Method::PATCH, "/users/me")
        .bearer(&jwt)
        .json(&json!({"email": "sir.kay@camelot.bt"}))
        .send()
        .await;
    post(&app, "/auth/verify", json!({"token": token}))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "VERIFY_USER_BAD_TOKEN"}),
        );
    // The control: the good token of the right email verifies.
    post(
        &app,
        "/auth/request-verify-token",
        json!({"email": "sir.kay@camelot.bt"}),
    )
    .await;
    let token = app
        .sent_token("verify", "sir.kay@camelot.bt")
        .await
        .unwrap();
    assert_eq!(
        post(&app, "/auth/verify", json!({"token": token}))
            .await
            .status,
        StatusCode::OK
    );
}

async fn reset_password_flow(db: Db) {
    let app = TestApp::new(db).await;
    app.register("elaine@astolat.uk", "guinevere").await;
    let session = app
        .login_form(
            "database",
            &[("username", "elaine@astolat.uk"), ("password", "guinevere")],
        )
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &app,
        "/auth/forgot-password",
        json!({"email": "elaine@astolat.uk"}),
    )
    .await
    .assert(StatusCode::ACCEPTED, Value::Null);
    let token = app
        .sent_token("reset", "elaine@astolat.uk")
        .await
        .expect("a reset token was sent");
    post(&app, "/auth/reset-password", json!({"token": token, "password": "short"})).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": {"code": "RESET_PASSWORD_INVALID_PASSWORD", "reason": "Password should be at least 8 characters"}}),
    );
    post(
        &app,
        "/auth/reset-password",
        json!({"token": token, "password": "lily-maid-of-astolat"}),
    )
    .await
    .assert(StatusCode::OK, Value::Null);
    app.token("elaine@astolat.uk", "lily-maid-of-astolat").await;
    assert_eq!(
        app.login_form(
            "jwt",
            &[("username", "elaine@astolat.uk"), ("password", "guinevere")]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.me_status(&session).await,
        StatusCode::UNAUTHORIZED,
        "a reset ends the user's server-side sessions"
    );
    post(
        &app,
        "/auth/reset-password",
        json!({"token": token, "password": "another-password"}),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}),
    );
}

async fn bad_reset_tokens(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("enid@camelot.bt", "guinevere").await;
    let id = user["id"].as_str().unwrap();
    post(
        &app,
        "/auth/forgot-password",
        json!({"email": "enid@camelot.bt"}),
    )
    .await;
    let issued = app.sent_token("reset", "enid@camelot.bt").await.unwrap();
    let keys = JwtKeys::hs256(RESET_SECRET).unwrap();
    let aud = "fastapi-users:reset";
    let fgpt = fastusers_tests::decode_claims(&issued)["password_fgpt"].clone();
    let bad = [
        "garbage".to_owned(),
        keys.encode(&json!({"sub": id, "password_fgpt": fgpt, "aud": aud, "exp": now() - 1})).unwrap(),
        keys.encode(&json!({"sub": id, "password_fgpt": fgpt, "aud": "fastapi-users:verify", "exp": now() + 60})).unwrap(),
        keys.encode(&json!({"sub": id, "aud": aud, "exp": now() + 60})).unwrap(),
        keys.encode(&json!({"sub": id, "password_fgpt": "0000", "aud": aud, "exp": now() + 60})).unwrap(),
        keys.encode(&json!({"sub": "not-a-uuid", "password_fgpt": fgpt, "aud": aud, "exp": now() + 60})).unwrap(),
        JwtKeys::hs256(VERIFY_SECRET).unwrap().encode(&json!({"sub": id, "password_fgpt": fgpt, "aud": aud, "exp": now() + 60})).unwrap(),
    ];
    for token in bad {
        post(
            &app,
            "/auth/reset-password",
            json!({"token": token, "password": "new-password"}),
        )
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}),
        );
    }
    // The issued token dies when the password changes another way...
    let jwt = app.token("enid@camelot.bt", "guinevere").await;
    app.request(Method::PATCH, "/users/me")
        .bearer(&jwt)
        .json(&json!({"password": "changed-password"}))
        .send()
        .await;
    post(
        &app,
        "/auth/reset-password",
        json!({"token": issued, "password": "new-password"}),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}),
    );
    // ...and a fresh one is refused once the user is deactivated.
    post(
        &app,
        "/auth/forgot-password",
        json!({"email": "enid@camelot.bt"}),
    )
    .await;
    let fresh = loop {
        let t = app.sent_token("reset", "enid@camelot.bt").await.unwrap();
        if t != issued {
            break t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let admin = app.superuser("admin@camelot.bt").await;
    app.request(Method::PATCH, &format!("/users/{id}"))
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    post(
        &app,
        "/auth/reset-password",
        json!({"token": fresh, "password": "new-password"}),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}),
    );
}

db_tests!(
    verification_flow,
    unknown_and_inactive_emails_get_the_same_202,
    account_bodies_are_validated,
    bad_verification_tokens,
    reset_password_flow,
    bad_reset_tokens,
);
