//! Abuse resistance: failed-login throttling (in memory and in Redis across instances), the
//! login hooks, the password length bound, CSRF protection of cookie backends, and login
//! timing that does not tell which emails exist.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::password::Argon2Params;
use fastusers::prelude::*;
use fastusers::throttle::{LoginThrottle, RedisThrottleStore};
use fastusers_tests::{Db, Options, Response, TestApp, db_tests, redis_url};
use serde_json::json;

async fn throttled_app(db: Db, throttle: LoginThrottle) -> TestApp {
    TestApp::with(
        db,
        Options {
            throttle: Some(throttle),
            ..Options::default()
        },
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    app.login_form("jwt", &[("username", email), ("password", password)])
        .await
}

async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> Response {
    app.request(Method::POST, "/auth/jwt/login")
        .header("x-forwarded-for", address)
        .form(&[("username", email), ("password", password)])
        .send()
        .await
}

fn assert_throttled(response: &Response) -> u64 {
    assert_eq!(
        (response.status, response.json()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "LOGIN_TOO_MANY_ATTEMPTS"})
        )
    );
    let retry: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    retry
}

/// Three failures lock the account (whatever the letter case) for the window, even for the
/// right password; unknown emails are throttled alike; the hooks see every failure.
async fn failed_logins_are_throttled_per_account(db: Db) {
    let app = throttled_app(
        db,
        LoginThrottle::new()
            .per_account(3, Duration::from_secs(60))
            .no_address_limit(),
    )
    .await;
    app.register("percival@camelot.bt", "holy-grail").await;
    for _ in 0..3 {
        login(&app, "Percival@camelot.bt", "wrong-password")
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
            );
    }
    assert_throttled(&login(&app, "percival@camelot.bt", "holy-grail").await);
    // Another account is not affected; an unknown one is throttled the same way.
    app.register("bors@camelot.bt", "holy-grail").await;
    assert_eq!(
        login(&app, "bors@camelot.bt", "holy-grail").await.status,
        StatusCode::OK
    );
    for _ in 0..3 {
        login(&app, "nobody@camelot.bt", "x").await;
    }
    assert_throttled(&login(&app, "nobody@camelot.bt", "x").await);
    let failed = app.hooks.failed_logins.lock().unwrap().clone();
    assert_eq!(failed.len(), 8, "{failed:?}");
    assert_eq!(failed[3], ("percival@camelot.bt".to_owned(), true));
    assert_eq!(failed[0], ("Percival@camelot.bt".to_owned(), false));
}

/// A success clears the account's count; the per-address limit counts across accounts.
async fn success_resets_and_addresses_are_limited(db: Db) {
    let app = throttled_app(
        db,
        LoginThrottle::new()
            .per_account(3, Duration::from_secs(60))
            .per_address(4, Duration::from_secs(60))
            .trust_forwarded_for(true),
    )
    .await;
    app.register("tristan@cornwall.uk", "isolde-forever").await;
    for _ in 0..2 {
        login_from(&app, "10.0.0.1", "tristan@cornwall.uk", "wrong").await;
    }
    assert_eq!(
        login_from(&app, "10.0.0.2", "tristan@cornwall.uk", "isolde-forever")
            .await
            .status,
        StatusCode::OK
    );
    for _ in 0..2 {
        login_from(&app, "10.0.0.1", "tristan@cornwall.uk", "wrong").await;
    }
    // Two failures since the success: not locked.
    assert_eq!(
        login_from(&app, "10.0.0.3", "tristan@cornwall.uk", "isolde-forever")
            .await
            .status,
        StatusCode::OK
    );
    // 10.0.0.1 has failed four times, on any account: it is throttled, others are not.
    assert_throttled(&login_from(&app, "10.0.0.1", "someone@else.uk", "x").await);
    assert_eq!(
        login_from(&app, "10.0.0.9", "someone@else.uk", "x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // A client cannot escape by sending its own X-Forwarded-For: a proxy appends the address
    // it saw, and that last entry is the one counted.
    assert_throttled(&login_from(&app, "10.0.0.42, 10.0.0.1", "someone@else.uk", "x").await);
    assert_eq!(
        login_from(&app, "10.0.0.1, 10.0.0.9", "someone@else.uk", "x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

/// With Redis, the counters are shared: failures on one instance lock the account on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counters_hold_across_instances() {
    let prefix = format!("test-throttle:{}:", uuid::Uuid::new_v4().simple());
    let throttle = || async {
        LoginThrottle::new()
            .per_account(3, Duration::from_secs(60))
            .no_address_limit()
            .redis(
                RedisThrottleStore::connect(&redis_url())
                    .await
                    .expect("connect to the test Redis server")
                    .key_prefix(prefix.clone()),
            )
    };
    let one = throttled_app(Db::Sqlite, throttle().await).await;
    let two = throttled_app(Db::Sqlite, throttle().await).await;
    one.register("gareth@camelot.bt", "beaumains").await;
    two.register("gareth@camelot.bt", "beaumains").await;
    for _ in 0..3 {
        login(&one, "gareth@camelot.bt", "wrong").await;
    }
    let retry = assert_throttled(&login(&two, "gareth@camelot.bt", "beaumains").await);
    assert!(retry <= 60);
}

/// `on_before_login` can refuse a user whose password is right.
async fn on_before_login_can_refuse(db: Db) {
    let app = TestApp::new(db).await;
    app.register("mordred@camelot.bt", "usurper-1").await;
    app.hooks
        .banned
        .lock()
        .unwrap()
        .push("mordred@camelot.bt".to_owned());
    login(&app, "mordred@camelot.bt", "usurper-1")
        .await
        .assert(StatusCode::FORBIDDEN, json!({"detail": "USER_BANNED"}));
}

/// Passwords over 4096 bytes are refused before hashing, wherever a password is set; a login
/// with one is bad credentials.
async fn overlong_passwords_are_refused(db: Db) {
    let app = TestApp::new(db).await;
    let long = "x".repeat(4097);
    let reason = "Password should be at most 4096 bytes";
    app.register_json(json!({"email": "kay@camelot.bt", "password": long}))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": reason}}),
        );
    app.register("kay@camelot.bt", &"y".repeat(4096)).await;
    let token = app.token("kay@camelot.bt", &"y".repeat(4096)).await;
    app.request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"password": long}))
        .send()
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": {"code": "UPDATE_USER_INVALID_PASSWORD", "reason": reason}}),
        );
    login(&app, "kay@camelot.bt", &"y".repeat(1024 * 1024))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
        );
}

/// The cookie is refused on unsafe requests from untrusted origins; same-origin, trusted and
/// header-less (non-browser) requests pass; Bearer tokens are not concerned.
async fn cookie_backends_refuse_cross_site_requests(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            trusted_origins: vec!["https://app.camelot.bt".to_owned()],
            ..Options::default()
        },
    )
    .await;
    app.register("lancelot@camelot.bt", "joyous-gard").await;
    let csrf = json!({"detail": "CSRF_CHECK_FAILED"});
    let cookie_login = |origin: Option<&'static str>| {
        let mut request = app
            .request(Method::POST, "/auth/cookie/login")
            .header("host", "api.camelot.bt");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request
            .form(&[
                ("username", "lancelot@camelot.bt"),
                ("password", "joyous-gard"),
            ])
            .send()
    };
    cookie_login(Some("https://evil.example"))
        .await
        .assert(StatusCode::FORBIDDEN, csrf.clone());
    let response = cookie_login(Some("https://api.camelot.bt")).await;
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text()
    );
    let cookie = response
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let patch = |origin: Option<&'static str>, referer: Option<&'static str>| {
        let mut request = app
            .request(Method::PATCH, "/users/me")
            .header("host", "api.camelot.bt")
            .header("cookie", &cookie);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(referer) = referer {
            request = request.header("referer", referer);
        }
        request.json(&json!({"first_name": "Lancelot"})).send()
    };
    patch(Some("https://evil.example"), None)
        .await
        .assert(StatusCode::FORBIDDEN, csrf.clone());
    patch(Some("null"), None)
        .await
        .assert(StatusCode::FORBIDDEN, csrf.clone());
    patch(None, Some("https://evil.example/page?x=1"))
        .await
        .assert(StatusCode::FORBIDDEN, csrf.clone());
    for (origin, referer) in [
        (Some("https://api.camelot.bt"), None),
        (Some("https://app.camelot.bt"), None),
        (None, Some("https://app.camelot.bt/profile")),
        (None, None),
    ] {
        let response = patch(origin, referer).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{origin:?} {referer:?}: {}",
            response.text()
        );
    }
    // HTTP/2 names the host in `:authority` (the URI) and may send no `Host` header.
    let h2 = |origin: &'static str| {
        app.request(Method::PATCH, "https://api.camelot.bt/users/me")
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&json!({"first_name": "Lancelot"}))
            .send()
    };
    assert_eq!(h2("https://api.camelot.bt").await.status, StatusCode::OK);
    h2("https://evil.example")
        .await
        .assert(StatusCode::FORBIDDEN, csrf.clone());
    // A safe method passes from anywhere (reading needs CORS, not CSRF, protection).
    let read = app
        .request(Method::GET, "/users/me")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(read.status, StatusCode::OK);
    // Bearer tokens are not ambient credentials: no origin check.
    let token = app.token("lancelot@camelot.bt", "joyous-gard").await;
    let response = app
        .request(Method::PATCH, "/users/me")
        .header("origin", "https://evil.example")
        .bearer(&token)
        .json(&json!({"first_name": "Du Lac"}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
}

db_tests!(
    failed_logins_are_throttled_per_account,
    success_resets_and_addresses_are_limited,
    on_before_login_can_refuse,
    overlong_passwords_are_refused,
    cookie_backends_refuse_cross_site_requests,
);

/// The median time of a login for an unknown email and for a known email with a wrong
/// password differ by less than 10 %: the unknown email pays for a dummy verification.
/// Each round times one login of each kind back to back (in alternating order), so that both
/// see the same load; the bound is on the median of the rounds' ratios, never on a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_timing_does_not_tell_which_emails_exist() {
    let passwords = PasswordHelper::new(Argon2Params {
        memory_kib: 4 * 1024,
        iterations: 2,
        parallelism: 1,
    })
    .unwrap();
    let app = TestApp::with(
        Db::Sqlite,
        Options {
            passwords: Some(passwords),
            ..Options::default()
        },
    )
    .await;
    app.register("galahad@camelot.bt", "siege-perilous").await;
    let time = |email: &'static str| {
        let app = &app;
        async move {
            let start = std::time::Instant::now();
            let response = login(app, email, "wrong-password").await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST);
            start.elapsed().as_secs_f64()
        }
    };
    // Warm-up: the first unknown email makes the dummy hash.
    for _ in 0..5 {
        time("nobody@camelot.bt").await;
        time("galahad@camelot.bt").await;
    }
    let mut ratios = Vec::new();
    for i in 0..150 {
        let (known, unknown) = if i % 2 == 0 {
            let k = time("galahad@camelot.bt").await;
            (k, time("nobody@camelot.bt").await)
        } else {
            let u = time("nobody@camelot.bt").await;
            (time("galahad@camelot.bt").await, u)
        };
        ratios.push(known / unknown);
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    eprintln!(
        "login time, known email with a wrong password / unknown email: median of 150 rounds {ratio:.3}"
    );
    assert!(
        (1.0 / 1.1..1.1).contains(&ratio),
        "a wrong password takes {ratio:.3} times an unknown email"
    );
}
