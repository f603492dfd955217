//! Refresh tokens (issue 16): the Bearer wire (RFC 6749 sections 5.1 and 6), the refresh
//! cookie, rotation, reuse detection and its grace period (the two-tabs race), idle and
//! absolute expiry on the test's clock, the end of a family on every revocation, the sessions
//! routes and logging out everywhere, and two instances sharing one database.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers_tests::{
    Db, Options, Response, TestApp, User, db_tests, decode_claims, shared_database,
};
use serde_json::{Value, json};

const EMAIL: &str = "percival@camelot.bt";
const PASSWORD: &str = "holy grail";

/// Logs in with the Bearer backend with refresh tokens: the answer's JSON.
async fn login(app: &TestApp) -> Value {
    let response = app
        .login_form("refresh", &[("username", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

/// `POST /auth/refresh/refresh` with RFC 6749 section 6's form.
async fn refresh(app: &TestApp, token: &str) -> Response {
    app.request(Method::POST, "/auth/refresh/refresh")
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
}

/// The refresh token of a successful refresh.
async fn refreshed(app: &TestApp, token: &str) -> Value {
    let response = refresh(app, token).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no `{field}` in {value}"))
        .to_owned()
}

async fn app(db: Db) -> TestApp {
    let app = TestApp::new(db).await;
    app.register(EMAIL, PASSWORD).await;
    app
}

async fn the_bearer_login_and_refresh_speak_rfc_6749(db: Db) {
    let app = app(db).await;
    let response = app
        .login_form("refresh", &[("username", EMAIL), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300);
    let first = text(&body, "refresh_token");
    assert_eq!(first.len(), 43, "32 random bytes");
    let access = text(&body, "access_token");
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    let auth_time = decode_claims(&access)["auth_time"].clone();
    assert!(auth_time.is_number(), "{}", decode_claims(&access));

    // A backend without `refresh` answers as the reference does.
    let plain = app
        .login_form("jwt", &[("username", EMAIL), ("password", PASSWORD)])
        .await
        .json();
    assert_eq!(
        plain.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["access_token", "token_type"]
    );
    assert!(decode_claims(&text(&plain, "access_token"))["auth_time"].is_null());

    // Rotation: each exchange gives a new refresh token and an access token of the same login.
    app.clock.advance(Duration::from_secs(60));
    let second = refreshed(&app, &first).await;
    let second_token = text(&second, "refresh_token");
    assert_ne!(second_token, first);
    assert_eq!(second["token_type"], "bearer");
    assert_eq!(second["expires_in"], 300);
    let access = text(&second, "access_token");
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    assert_eq!(decode_claims(&access)["auth_time"], auth_time);
    let third = refreshed(&app, &second_token).await;
    assert_ne!(text(&third, "refresh_token"), second_token);
    assert_eq!(
        decode_claims(&text(&third, "access_token"))["auth_time"],
        auth_time
    );

    // Only the stored forms are kept, never the tokens.
    let store = app.state.manager().store().refresh_tokens().unwrap();
    for token in [&first, &second_token] {
        assert!(store.find(token).await.unwrap().is_none());
        assert!(
            store
                .find(&fastusers::keys::stored_form(token))
                .await
                .unwrap()
                .is_some()
        );
    }
}

async fn bad_refresh_requests_get_clear_answers(db: Db) {
    let app = app(db).await;
    let missing = app
        .request(Method::POST, "/auth/refresh/refresh")
        .form(&[("refresh_token", "x")])
        .send()
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.json()["detail"][0]["loc"],
        json!(["body", "grant_type"])
    );
    let wrong = app
        .request(Method::POST, "/auth/refresh/refresh")
        .form(&[("grant_type", "password"), ("refresh_token", "x")])
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.json()["detail"][0]["type"], "string_pattern_mismatch");
    let empty = app
        .request(Method::POST, "/auth/refresh/refresh")
        .send()
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    for junk in ["nonsense", "a.b.c", &"x".repeat(5000)] {
        refresh(&app, junk).await.assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REFRESH_TOKEN_INVALID"}),
        );
    }
    // An access token is no refresh token.
    let access = text(&login(&app).await, "access_token");
    refresh(&app, &access).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_INVALID"}),
    );
    // A refresh token of one backend is refused by another.
    let cookie = cookie_login(&app).await;
    refresh(&app, &cookie.refresh).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_INVALID"}),
    );
}

async fn reuse_after_the_grace_period_revokes_the_family(db: Db) {
    let app = app(db).await;
    let first = text(&login(&app).await, "refresh_token");
    let second = text(&refreshed(&app, &first).await, "refresh_token");
    let other_login = text(&login(&app).await, "refresh_token");
    app.clock.advance(Duration::from_secs(11));
    refresh(&app, &first).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_REUSED"}),
    );
    assert_eq!(
        *app.hooks.refresh_reuses.lock().unwrap(),
        [EMAIL.to_owned()],
        "the hook was told"
    );
    // Every member of the family is dead: the legitimate holder must log in again.
    for token in [&second, &first] {
        refresh(&app, token).await.assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REFRESH_TOKEN_INVALID"}),
        );
    }
    // Another login's family lives on.
    refreshed(&app, &other_login).await;
}

async fn two_tabs_refreshing_at_once_get_the_same_successor(db: Db) {
    let app = app(db).await;
    let first = text(&login(&app).await, "refresh_token");
    // Both requests at the same moment: one rotates, the other gets the successor.
    let (a, b) = futures_util::future::join(refresh(&app, &first), refresh(&app, &first)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(b.status, StatusCode::OK, "{}", b.text());
    let successor = text(&a.json(), "refresh_token");
    assert_eq!(text(&b.json(), "refresh_token"), successor);
    // A third tab, late but within the grace period, too.
    app.clock.advance(Duration::from_secs(9));
    assert_eq!(
        text(&refreshed(&app, &first).await, "refresh_token"),
        successor
    );
    assert!(app.hooks.refresh_reuses.lock().unwrap().is_empty());
    // The successor goes on.
    let next = text(&refreshed(&app, &successor).await, "refresh_token");
    // Outside the grace period the same race is a reuse.
    app.clock.advance(Duration::from_secs(11));
    refresh(&app, &successor).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_REUSED"}),
    );
    refresh(&app, &next).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_INVALID"}),
    );
}

async fn families_expire_when_idle_and_at_their_absolute_end(db: Db) {
    let app = app(db).await;
    let day = Duration::from_secs(24 * 3600);
    // Idle: unused for 14 days.
    let idle = text(&login(&app).await, "refresh_token");
    let used = text(&login(&app).await, "refresh_token");
    app.clock.advance(13 * day);
    let used = text(&refreshed(&app, &used).await, "refresh_token");
    app.clock.advance(day);
    refresh(&app, &idle).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_INVALID"}),
    );
    // Absolute: 30 days after the login, however it is used.
    app.clock.advance(10 * day);
    let used = text(&refreshed(&app, &used).await, "refresh_token");
    app.clock.advance(5 * day);
    let answer = refreshed(&app, &used).await;
    let used = text(&answer, "refresh_token");
    app.clock.advance(day);
    refresh(&app, &used).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_INVALID"}),
    );
    // The sweep's purge deletes expired families.
    let fresh = text(&login(&app).await, "refresh_token");
    let refresh_tokens = &app.state.backends().refresh.refresh;
    app.clock.advance(15 * day);
    assert!(refresh_tokens.purge_expired("refresh").await.unwrap() >= 1);
    let store = app.state.manager().store().refresh_tokens().unwrap();
    assert!(
        store
            .find(&fastusers::keys::stored_form(&fresh))
            .await
            .unwrap()
            .is_none()
    );
}

/// How a user's sessions end, in [`every_revocation_ends_the_families`].
#[derive(Debug, Clone, Copy)]
enum End {
    PasswordChange,
    Reset,
    Deactivation,
    Deletion,
    Everywhere,
    Session,
    /// Only the user's revocation time, as a change saved while the refresh-token store could
    /// not delete the families would leave it.
    RevocationTime,
}

async fn every_revocation_ends_the_families(db: Db) {
    for end in [
        End::PasswordChange,
        End::Reset,
        End::Deactivation,
        End::Deletion,
        End::Everywhere,
        End::Session,
        End::RevocationTime,
    ] {
        let app = app(db).await;
        let admin = app.superuser("arthur@camelot.bt").await;
        let login = login(&app).await;
        let token = text(&login, "refresh_token");
        let access = text(&login, "access_token");
        let id = text(
            &app.request(Method::GET, "/users/me")
                .bearer(&access)
                .send()
                .await
                .json(),
            "id",
        );
        let path = format!("/users/{id}");
        match end {
            End::PasswordChange => {
                let changed = app
                    .patch_me(&access, json!({"password": "new holy grail"}))
                    .await;
                assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
            }
            End::Reset => {
                let forgot = app
                    .request(Method::POST, "/auth/forgot-password")
                    .json(&json!({"email": EMAIL}))
                    .send()
                    .await;
                assert_eq!(forgot.status, StatusCode::ACCEPTED);
                let reset = app.sent_token("reset", EMAIL).await.expect("a reset token");
                let done = app
                    .request(Method::POST, "/auth/reset-password")
                    .json(&json!({"token": reset, "password": "new holy grail"}))
                    .send()
                    .await;
                assert_eq!(done.status, StatusCode::OK, "{}", done.text());
            }
            End::Deactivation => {
                let done = app
                    .request(Method::PATCH, &path)
                    .bearer(&admin)
                    .json(&json!({"is_active": false}))
                    .send()
                    .await;
                assert_eq!(done.status, StatusCode::OK, "{}", done.text());
            }
            End::Deletion => {
                let done = app
                    .request(Method::DELETE, &path)
                    .bearer(&admin)
                    .send()
                    .await;
                assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text());
            }
            End::Everywhere => {
                let done = app
                    .request(Method::DELETE, "/users/me/sessions")
                    .bearer(&access)
                    .send()
                    .await;
                assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text());
                assert_eq!(app.me_status(&access).await, StatusCode::UNAUTHORIZED);
            }
            End::RevocationTime => {
                let id = uuid::Uuid::parse_str(&id).unwrap();
                app.state
                    .manager()
                    .store()
                    .update_and_revoke(&id, &Default::default(), fastusers::revocation::now())
                    .await
                    .unwrap()
                    .expect("the user");
                let store = app.state.manager().store().refresh_tokens().unwrap();
                let stored = fastusers::keys::stored_form(&token);
                assert!(store.find(&stored).await.unwrap().is_some(), "still stored");
            }
            End::Session => {
                let sessions = app
                    .request(Method::GET, "/users/me/sessions")
                    .bearer(&access)
                    .send()
                    .await
                    .json();
                let families: Vec<&Value> = sessions
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["backend"] == "refresh")
                    .collect();
                assert_eq!(families.len(), 1, "{sessions}");
                let revoke = format!("/users/me/sessions/{}", text(families[0], "id"));
                let done = app
                    .request(Method::DELETE, &revoke)
                    .bearer(&access)
                    .send()
                    .await;
                assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text());
            }
        }
        refresh(&app, &token).await.assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REFRESH_TOKEN_INVALID"}),
        );
        if matches!(end, End::PasswordChange | End::Reset | End::Everywhere) {
            // A new login starts a new family.
            let password = if matches!(end, End::Everywhere) {
                PASSWORD
            } else {
                "new holy grail"
            };
            let again = app
                .login_form("refresh", &[("username", EMAIL), ("password", password)])
                .await;
            assert_eq!(again.status, StatusCode::OK, "{end:?}: {}", again.text());
            refreshed(&app, &text(&again.json(), "refresh_token")).await;
        }
    }
}

/// A cookie login's tokens.
struct CookieLogin {
    access: String,
    refresh: String,
    set_cookies: Vec<String>,
}

fn cookies(response: &Response) -> Vec<String> {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_named(set_cookies: &[String], name: &str) -> String {
    set_cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no cookie {name} in {set_cookies:?}"))
        .to_owned()
}

async fn cookie_login(app: &TestApp) -> CookieLogin {
    let response = app
        .login_form(
            "refreshcookie",
            &[("username", EMAIL), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text()
    );
    let set_cookies = cookies(&response);
    CookieLogin {
        access: cookie_named(&set_cookies, "fastusers_refreshable"),
        refresh: cookie_named(&set_cookies, "fastusers_refreshable_refresh"),
        set_cookies,
    }
}

async fn cookie_refresh(app: &TestApp, refresh: &str, origin: Option<&str>) -> Response {
    let request = app
        .request(Method::POST, "/auth/refreshcookie/refresh")
        .header(
            "cookie",
            &format!("fastusers_refreshable_refresh={refresh}"),
        );
    match origin {
        Some(origin) => request.header("origin", origin).header("host", "app.test"),
        None => request,
    }
    .send()
    .await
}

async fn the_refresh_cookie_is_strict_and_scoped_to_the_refresh_route(db: Db) {
    let app = app(db).await;
    let login = cookie_login(&app).await;
    let refresh_cookie = login
        .set_cookies
        .iter()
        .find(|c| c.starts_with("fastusers_refreshable_refresh="))
        .unwrap();
    let attributes: Vec<&str> = refresh_cookie.split("; ").skip(1).collect();
    for expected in [
        "HttpOnly",
        "Secure",
        "SameSite=strict",
        "Path=/auth/refreshcookie/refresh",
        "Max-Age=2592000",
    ] {
        assert!(
            attributes.contains(&expected),
            "{expected} in {refresh_cookie}"
        );
    }
    let me = app
        .request(Method::GET, "/users/me")
        .header("cookie", &format!("fastusers_refreshable={}", login.access))
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // CSRF: a refresh from another site is refused, and the token stays usable.
    cookie_refresh(&app, &login.refresh, Some("https://evil.test"))
        .await
        .assert(
            StatusCode::FORBIDDEN,
            json!({"detail": "CSRF_CHECK_FAILED"}),
        );
    let same_site = cookie_refresh(&app, &login.refresh, Some("https://app.test")).await;
    assert_eq!(
        same_site.status,
        StatusCode::NO_CONTENT,
        "{}",
        same_site.text()
    );
    let set = cookies(&same_site);
    let access = cookie_named(&set, "fastusers_refreshable");
    let next = cookie_named(&set, "fastusers_refreshable_refresh");
    assert_ne!(next, login.refresh);
    assert_ne!(access, login.access);
    assert!(
        set.iter().any(
            |c| c.contains("Path=/auth/refreshcookie/refresh") && c.contains("SameSite=strict")
        )
    );
    // A client that sends no origin headers (not a browser) refreshes too.
    let plain = cookie_refresh(&app, &next, None).await;
    assert_eq!(plain.status, StatusCode::NO_CONTENT, "{}", plain.text());
    // Without the cookie the route wants the form.
    let bare = app
        .request(Method::POST, "/auth/refreshcookie/refresh")
        .send()
        .await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn revoking_a_refresh_token_ends_its_family(db: Db) {
    let app = app(db).await;
    // Bearer: RFC 7009's form.
    let first = text(&login(&app).await, "refresh_token");
    let second = text(&refreshed(&app, &first).await, "refresh_token");
    let other = text(&login(&app).await, "refresh_token");
    let missing = app
        .request(Method::POST, "/auth/refresh/refresh/revoke")
        .send()
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json()["detail"][0]["loc"], json!(["body", "token"]));
    for _ in 0..2 {
        // An unknown or already revoked token is no error (RFC 7009 section 2.2).
        let done = app
            .request(Method::POST, "/auth/refresh/refresh/revoke")
            .form(&[("token", &first), ("token_type_hint", "refresh_token")])
            .send()
            .await;
        assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text());
    }
    for token in [&first, &second] {
        refresh(&app, token).await.assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REFRESH_TOKEN_INVALID"}),
        );
    }
    refreshed(&app, &other).await;
    // Another backend's revocation route does not revoke this backend's tokens.
    let cookie = cookie_login(&app).await;
    let done = app
        .request(Method::POST, "/auth/refresh/refresh/revoke")
        .form(&[("token", &cookie.refresh)])
        .send()
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
    // Cookie: the refresh cookie, behind the CSRF check; both cookies cleared.
    let evil = app
        .request(Method::POST, "/auth/refreshcookie/refresh/revoke")
        .header(
            "cookie",
            &format!("fastusers_refreshable_refresh={}", cookie.refresh),
        )
        .header("origin", "https://evil.test")
        .header("host", "app.test")
        .send()
        .await;
    evil.assert(
        StatusCode::FORBIDDEN,
        json!({"detail": "CSRF_CHECK_FAILED"}),
    );
    let out = app
        .request(Method::POST, "/auth/refreshcookie/refresh/revoke")
        .header(
            "cookie",
            &format!("fastusers_refreshable_refresh={}", cookie.refresh),
        )
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text());
    let cleared = cookies(&out);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("fastusers_refreshable=\"\"") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("fastusers_refreshable_refresh=\"\"")
                && c.contains("Max-Age=0")
                && c.contains("Path=/auth/refreshcookie/refresh")),
        "{cleared:?}"
    );
    let after = cookie_refresh(&app, &cookie.refresh, None).await;
    after.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "REFRESH_TOKEN_INVALID"}),
    );
}

db_tests!(
    revoking_a_refresh_token_ends_its_family,
    the_bearer_login_and_refresh_speak_rfc_6749,
    bad_refresh_requests_get_clear_answers,
    reuse_after_the_grace_period_revokes_the_family,
    two_tabs_refreshing_at_once_get_the_same_successor,
    families_expire_when_idle_and_at_their_absolute_end,
    every_revocation_ends_the_families,
    the_refresh_cookie_is_strict_and_scoped_to_the_refresh_route,
);

/// Two instances on one PostgreSQL database, each with its own pool: the two tabs' race
/// between them, and a reuse seen by the other instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_families() {
    let url = shared_database(Db::Postgres).await;
    let instance = |url: String| async move {
        let store = fastusers::store::connect::<User>(&url)
            .await
            .expect("open the store");
        TestApp::on_store(store, url, Options::default(), None)
    };
    let a = Arc::new(instance(url.clone()).await);
    let b = Arc::new(instance(url).await);
    a.register(EMAIL, PASSWORD).await;
    for _ in 0..5 {
        let first = text(&login(&a).await, "refresh_token");
        let (x, y) = futures_util::future::join(refresh(&a, &first), refresh(&b, &first)).await;
        assert_eq!(x.status, StatusCode::OK, "{}", x.text());
        assert_eq!(y.status, StatusCode::OK, "{}", y.text());
        let successor = text(&x.json(), "refresh_token");
        assert_eq!(text(&y.json(), "refresh_token"), successor);
        let next = text(&refreshed(&b, &successor).await, "refresh_token");
        // The instances' clocks agree, as NTP keeps them.
        a.clock.advance(Duration::from_secs(11));
        b.clock.advance(Duration::from_secs(11));
        refresh(&b, &first).await.assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REFRESH_TOKEN_REUSED"}),
        );
        refresh(&a, &next).await.assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "REFRESH_TOKEN_INVALID"}),
        );
    }
}
