//! Sensitive changes through `PATCH /users/me` (issue 16): a recent login (the token's
//! `auth_time`) or the current password, off by default.

use std::time::Duration;

use axum::http::StatusCode;
use fastusers::SensitiveChanges;
use fastusers::throttle::LoginThrottle;
use fastusers_tests::{Db, Options, TestApp, db_tests};
use serde_json::{Value, json};

const EMAIL: &str = "gawain@camelot.bt";
const PASSWORD: &str = "green knight";
const HOUR: Duration = Duration::from_secs(3600);

async fn app(db: Db, rule: SensitiveChanges) -> TestApp {
    app_with(db, Some(rule), None).await
}

async fn app_with(
    db: Db,
    rule: Option<SensitiveChanges>,
    throttle: Option<LoginThrottle>,
) -> TestApp {
    let app = TestApp::with(
        db,
        Options {
            sensitive_changes: rule,
            throttle,
            ..Options::default()
        },
    )
    .await;
    app.register(EMAIL, PASSWORD).await;
    app
}

/// An access token of the refresh backend: a JWT with `auth_time`.
async fn fresh_token(app: &TestApp) -> String {
    let response = app
        .login_form("refresh", &[("username", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["access_token"].as_str().unwrap().to_owned()
}

fn detail(code: &str) -> Value {
    json!({ "detail": code })
}

async fn the_default_is_off(db: Db) {
    // `FastUsers` as built, without `sensitive_changes`.
    let app = app_with(db, None, None).await;
    let token = app.token(EMAIL, PASSWORD).await;
    // A plain JWT without `auth_time`, no current password: the change goes through, and an
    // extra `current_password` is ignored whatever it holds, never echoed.
    let response = app
        .patch_me(
            &token,
            json!({ "email": "g2@camelot.bt", "current_password": 42 }),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.json().get("current_password").is_none());
    let response = app
        .patch_me(
            &token,
            json!({ "password": "a new password", "current_password": "wrong one" }),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.json().get("current_password").is_none());
}

async fn a_recent_login_is_required(db: Db) {
    let app = app(db, SensitiveChanges::recent_login(HOUR)).await;
    let plain = app.token(EMAIL, PASSWORD).await;
    // No `auth_time`: not recent, whatever the password says.
    app.patch_me(
        &plain,
        json!({ "password": "a new password", "current_password": PASSWORD }),
    )
    .await
    .assert(StatusCode::FORBIDDEN, detail("FRESH_LOGIN_REQUIRED"));
    app.patch_me(&plain, json!({ "email": "g2@camelot.bt" }))
        .await
        .assert(StatusCode::FORBIDDEN, detail("FRESH_LOGIN_REQUIRED"));
    // Not a sensitive change: the same email, or nothing.
    let response = app.patch_me(&plain, json!({ "email": EMAIL })).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    // A login of the refresh backend within the hour.
    let fresh = fresh_token(&app).await;
    let response = app
        .patch_me(&fresh, json!({ "email": "g2@camelot.bt" }))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

async fn a_stale_login_is_refused(db: Db) {
    let app = app(db, SensitiveChanges::recent_login(Duration::ZERO)).await;
    let token = fresh_token(&app).await;
    app.patch_me(&token, json!({ "email": "g2@camelot.bt" }))
        .await
        .assert(StatusCode::FORBIDDEN, detail("FRESH_LOGIN_REQUIRED"));
}

async fn the_current_password_is_required(db: Db) {
    let app = app(db, SensitiveChanges::current_password()).await;
    let token = fresh_token(&app).await;
    app.patch_me(&token, json!({ "password": "a new password" }))
        .await
        .assert(StatusCode::BAD_REQUEST, detail("CURRENT_PASSWORD_REQUIRED"));
    app.patch_me(
        &token,
        json!({ "password": "a new password", "current_password": "wrong one" }),
    )
    .await
    .assert(StatusCode::BAD_REQUEST, detail("CURRENT_PASSWORD_INVALID"));
    let response = app
        .patch_me(
            &token,
            json!({ "email": "g2@camelot.bt", "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.json().get("current_password").is_none());
}

async fn either_a_recent_login_or_the_current_password(db: Db) {
    let app = app(db, SensitiveChanges::either(HOUR)).await;
    let plain = app.token(EMAIL, PASSWORD).await;
    let fresh = fresh_token(&app).await;
    app.patch_me(&plain, json!({ "email": "g2@camelot.bt" }))
        .await
        .assert(StatusCode::FORBIDDEN, detail("FRESH_LOGIN_REQUIRED"));
    app.patch_me(
        &plain,
        json!({ "email": "g2@camelot.bt", "current_password": "wrong one" }),
    )
    .await
    .assert(StatusCode::BAD_REQUEST, detail("CURRENT_PASSWORD_INVALID"));
    let response = app
        .patch_me(
            &plain,
            json!({ "email": "g2@camelot.bt", "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let response = app
        .patch_me(&fresh, json!({ "email": "g3@camelot.bt" }))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

async fn wrong_current_passwords_are_throttled(db: Db) {
    let throttle = LoginThrottle::new().per_account(2, Duration::from_secs(60));
    let app = app_with(
        db,
        Some(SensitiveChanges::current_password()),
        Some(throttle),
    )
    .await;
    let token = fresh_token(&app).await;
    let body = json!({ "password": "a new password", "current_password": "wrong one" });
    for _ in 0..2 {
        app.patch_me(&token, body.clone())
            .await
            .assert(StatusCode::BAD_REQUEST, detail("CURRENT_PASSWORD_INVALID"));
    }
    // The account is locked: even the right password waits, and so does a login.
    let response = app
        .patch_me(
            &token,
            json!({ "password": "a new password", "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.text()
    );
    let response = app
        .login_form("refresh", &[("username", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
}

db_tests!(
    the_default_is_off,
    a_recent_login_is_required,
    a_stale_login_is_refused,
    the_current_password_is_required,
    either_a_recent_login_or_the_current_password,
    wrong_current_passwords_are_throttled,
);

/// `PATCH /users/me` as the application's document describes it.
async fn patch_me_doc(rule: Option<SensitiveChanges>) -> Value {
    let app = app_with(Db::Sqlite, rule, None).await;
    let doc = serde_json::to_value(app.routes.openapi(&app.state)).expect("the document");
    doc["paths"]["/users/me"]["patch"].clone()
}

/// The new codes are documented when the rule is on, and only then: the default document
/// stays the reference's.
#[tokio::test]
async fn the_document_describes_the_rule_in_force() {
    let off = patch_me_doc(None).await.to_string();
    for code in [
        "FRESH_LOGIN_REQUIRED",
        "CURRENT_PASSWORD_REQUIRED",
        "CURRENT_PASSWORD_INVALID",
    ] {
        assert!(!off.contains(code), "{code} documented while off: {off}");
    }
    let either = patch_me_doc(Some(SensitiveChanges::either(HOUR))).await;
    assert!(
        either["responses"]["403"]
            .to_string()
            .contains("FRESH_LOGIN_REQUIRED")
    );
    assert!(
        either["responses"]["400"]
            .to_string()
            .contains("CURRENT_PASSWORD_INVALID")
    );
    assert!(
        either["responses"]["400"]
            .to_string()
            .contains("UPDATE_USER_EMAIL_ALREADY_EXISTS")
    );
    let password = patch_me_doc(Some(SensitiveChanges::current_password())).await;
    assert!(
        password["responses"]["400"]
            .to_string()
            .contains("CURRENT_PASSWORD_REQUIRED")
    );
    assert!(
        password["responses"]
            .get("403")
            .is_none_or(|r| !r.to_string().contains("FRESH"))
    );
}
