//! Device tokens (OWASP's device cookies): an attacker who fills an account's failure count
//! does not lock out the owner's clients that logged in before; a forged, expired, another
//! user's or a re-registered user's token counts as none; a device has its own limit.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::throttle::{DeviceTokens, LoginThrottle};
use fastusers_tests::{Db, Options, Response, TestApp, db_tests};
use serde_json::json;

/// The secret the device tokens of these tests are signed with.
const DEVICE_SECRET: &str = "DEVICES";
const OWNER: &str = "percival@camelot.bt";
const PASSWORD: &str = "holy-grail";
const ATTACKER: &str = "10.6.6.6:666";
const HOME: &str = "10.0.0.7:5000";
const CAFE: &str = "10.0.0.8:5000";

fn devices() -> DeviceTokens {
    DeviceTokens::new(&fastusers::keys::Secret::accept_weak(DEVICE_SECRET))
        .per_device(2, Duration::from_secs(60))
}

/// 3 failures per account; devices on.
async fn app(db: Db) -> TestApp {
    TestApp::with(
        db,
        Options {
            throttle: Some(
                LoginThrottle::new()
                    .per_account(3, Duration::from_secs(60))
                    .device_tokens(devices()),
            ),
            ..Options::default()
        },
    )
    .await
}

/// A login on `backend` from `peer`, with these extra form fields and this `Cookie`.
async fn login(
    app: &TestApp,
    backend: &str,
    peer: &str,
    email: &str,
    password: &str,
    device_field: Option<&str>,
    cookie: Option<&str>,
) -> Response {
    let mut fields = vec![("username", email), ("password", password)];
    if let Some(token) = device_field {
        fields.push(("device_token", token));
    }
    let mut request = app
        .request(Method::POST, &format!("/auth/{backend}/login"))
        .peer(peer.parse().unwrap());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.form(&fields).send().await
}

/// A Bearer login's device token, checking the answer's shape.
fn bearer_device_token(response: &Response) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "token_type", "device_token"]);
    assert_eq!(body["token_type"], "bearer");
    let token = body["device_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("fud1."), "{token}");
    token
}

/// A cookie login's device cookie (`name=value`), checking its attributes and that the
/// auth cookie comes first.
fn device_cookie(response: &Response) -> String {
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text()
    );
    let cookies: Vec<&str> = response
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with("fastapiusersauth="), "{cookies:?}");
    let device = cookies[1];
    assert!(device.starts_with("fastusers_device=fud1."), "{device}");
    for attribute in [
        "HttpOnly",
        "Max-Age=2592000",
        "Path=/",
        "SameSite=strict",
        "Secure",
    ] {
        assert!(device.contains(attribute), "{attribute}: {device}");
    }
    device.split(';').next().unwrap().to_owned()
}

fn assert_throttled(response: &Response) {
    assert_eq!(
        (response.status, response.json()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"})
        )
    );
}

/// An attacker fills the owner's account count; the owner's Bearer and cookie clients, which
/// logged in before, still log in with their device tokens; a client without one is refused.
async fn the_owner_logs_in_through_an_attack(db: Db) {
    let app = app(db).await;
    app.register(OWNER, PASSWORD).await;
    let phone = bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, None, None).await);
    let browser = device_cookie(&login(&app, "cookie", HOME, OWNER, PASSWORD, None, None).await);

    for _ in 0..3 {
        let response = login(&app, "jwt", ATTACKER, OWNER, "guess", None, None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }
    assert_throttled(&login(&app, "jwt", ATTACKER, OWNER, PASSWORD, None, None).await);
    // The owner's phone (Bearer, the form field) and browser (the device cookie).
    let response = login(&app, "jwt", HOME, OWNER, PASSWORD, Some(&phone), None).await;
    let token = response.json()["access_token"].as_str().unwrap().to_owned();
    assert_ne!(bearer_device_token(&response), phone, "a new device token");
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    device_cookie(&login(&app, "cookie", HOME, OWNER, PASSWORD, None, Some(&browser)).await);
    // Either way on either backend: the cookie on the Bearer backend, the field on the cookie one.
    bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, None, Some(&browser)).await);
    let field = browser.split_once('=').unwrap().1;
    device_cookie(&login(&app, "cookie", HOME, OWNER, PASSWORD, Some(field), None).await);
    // A client without a device token, even from the owner's address, is refused.
    assert_throttled(&login(&app, "jwt", HOME, OWNER, PASSWORD, None, None).await);
    assert_throttled(&login(&app, "cookie", CAFE, OWNER, PASSWORD, None, None).await);
    // The owner's successes did not clear the count the attacker filled.
    assert_throttled(&login(&app, "jwt", ATTACKER, OWNER, PASSWORD, None, None).await);
}

/// A forged, tampered, expired, another user's and a deleted-then-re-registered user's device
/// token each count as none: refused while the account is locked, right password or not.
async fn invalid_device_tokens_count_as_none(db: Db) {
    let app = app(db).await;
    let owner = app.register(OWNER, PASSWORD).await;
    let id = owner["id"].as_str().unwrap();
    let genuine = bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, None, None).await);
    app.register("bors@camelot.bt", PASSWORD).await;
    let others = bearer_device_token(
        &login(&app, "jwt", HOME, "bors@camelot.bt", PASSWORD, None, None).await,
    );
    // Gawain's token, then Gawain deleted and the email registered again: another user.
    app.register("gawain@camelot.bt", PASSWORD).await;
    let old_gawain = bearer_device_token(
        &login(&app, "jwt", HOME, "gawain@camelot.bt", PASSWORD, None, None).await,
    );
    let admin = app.superuser("arthur@camelot.bt").await;
    let gawain_id = app
        .state
        .manager()
        .get_by_email("gawain@camelot.bt")
        .await
        .unwrap()
        .unwrap()
        .id;
    let deleted = app
        .request(Method::DELETE, &format!("/users/{gawain_id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    app.register("gawain@camelot.bt", PASSWORD).await;

    let mut fields: Vec<&str> = genuine.split('.').collect();
    let later = (fastusers::keys::now() + 3600 * 24 * 365).to_string();
    fields[1] = &later;
    let tampered = fields.join(".");
    let forged = format!(
        "fud1.{}.AAAAAAAAAAAAAAAAAAAAAA.{}",
        fastusers::keys::now() + 3600,
        "A".repeat(43)
    );
    let expired = devices().lifetime(Duration::ZERO).issue(id, OWNER);
    let cases = [
        ("forged", OWNER, forged),
        ("tampered", OWNER, tampered),
        ("expired", OWNER, expired),
        ("another user's", OWNER, others),
        ("a deleted user's", "gawain@camelot.bt", old_gawain),
    ];
    for (_, email, _) in &cases {
        for _ in 0..3 {
            login(&app, "jwt", ATTACKER, email, "guess", None, None).await;
        }
    }
    for (what, email, token) in &cases {
        let response = login(&app, "jwt", HOME, email, PASSWORD, Some(token), None).await;
        assert_eq!(
            response.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{what} (field)"
        );
        let cookie = format!("fastusers_device={token}");
        let response = login(&app, "cookie", HOME, email, PASSWORD, None, Some(&cookie)).await;
        assert_eq!(
            response.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{what} (cookie)"
        );
    }
    // The genuine one still works.
    bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, Some(&genuine), None).await);
}

/// A device has its own limit: past it, that device is refused (even with the right
/// password) until its window ends, while the owner's other devices and the account are not
/// affected; its failures do not count against the account.
async fn a_device_has_its_own_limit(db: Db) {
    let app = app(db).await;
    app.register(OWNER, PASSWORD).await;
    let lost = bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, None, None).await);
    let other = bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, None, None).await);
    for _ in 0..2 {
        let response = login(&app, "jwt", CAFE, OWNER, "guess", Some(&lost), None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }
    assert_throttled(&login(&app, "jwt", CAFE, OWNER, PASSWORD, Some(&lost), None).await);
    bearer_device_token(&login(&app, "jwt", HOME, OWNER, PASSWORD, Some(&other), None).await);
    // The account's count is untouched: three failures without a token are still checked.
    for _ in 0..3 {
        let response = login(&app, "jwt", CAFE, OWNER, "guess", None, None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }
    let failed = app.hooks.failed_logins.lock().unwrap().clone();
    assert_eq!(failed.iter().filter(|(_, throttled)| !throttled).count(), 5);
}

/// Without device tokens, the login answers are the reference's: no `device_token`, one
/// cookie.
async fn without_device_tokens_logins_answer_as_the_reference(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            throttle: Some(LoginThrottle::new()),
            ..Options::default()
        },
    )
    .await;
    app.register(OWNER, PASSWORD).await;
    let response = login(&app, "jwt", HOME, OWNER, PASSWORD, None, None).await;
    let body = response.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "token_type"]);
    let response = login(&app, "cookie", HOME, OWNER, PASSWORD, None, None).await;
    assert_eq!(response.headers.get_all("set-cookie").iter().count(), 1);
}

db_tests!(
    the_owner_logs_in_through_an_attack,
    invalid_device_tokens_count_as_none,
    a_device_has_its_own_limit,
    without_device_tokens_logins_answer_as_the_reference,
);
