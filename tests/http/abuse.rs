//! Abuse resistance: failed-login throttling (in memory and in Redis across instances), the
//! login hooks, the password length bound, CSRF protection of cookie backends, and login
//! timing that does not tell which emails exist.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::password::Argon2Params;
use fastusers::prelude::*;
use fastusers::throttle::{
    Limit, LoginThrottle, RedisThrottleStore, Take, ThrottleStore, ThrottleStoreError,
};
use fastusers_tests::{Db, Options, Response, TestApp, db_tests, redis_url};
use futures_util::future::join_all;
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
    let retry = assert_throttled_for(response);
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    retry
}

/// Asserts a `429` and returns its `Retry-After`.
fn assert_throttled_for(response: &Response) -> u64 {
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
    assert!(retry >= 1, "Retry-After {retry}");
    retry
}

/// Without any throttle configured, `FastUsers::new`'s is on: five failures per account in 15
/// minutes, then `429` even for the right password. `without_login_throttle` turns it off.
async fn the_login_throttle_is_on_by_default(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            default_throttle: true,
            ..Options::default()
        },
    )
    .await;
    app.register("lamorak@camelot.bt", "holy-grail").await;
    for _ in 0..5 {
        login(&app, "lamorak@camelot.bt", "wrong-password")
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
            );
    }
    let retry = assert_throttled_for(&login(&app, "lamorak@camelot.bt", "holy-grail").await);
    assert!((890..=900).contains(&retry), "a 15-minute window: {retry}");

    // Turned off (what TestApp does unless told otherwise): ten failures, then in.
    let off = TestApp::new(db).await;
    off.register("lamorak@camelot.bt", "holy-grail").await;
    for _ in 0..10 {
        assert_eq!(
            login(&off, "lamorak@camelot.bt", "wrong-password")
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        login(&off, "lamorak@camelot.bt", "holy-grail").await.status,
        StatusCode::OK
    );
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

/// Every casing of an email counts against one account, Unicode included (final and medial
/// sigma are one letter to the stores).
async fn every_casing_of_an_email_shares_one_count(db: Db) {
    let app = throttled_app(
        db,
        LoginThrottle::new()
            .per_account(2, Duration::from_secs(60))
            .no_address_limit(),
    )
    .await;
    for email in ["ΟΔΥΣΣΕΥΣ@ithaca.gr", "οδυσσευσ@ithaca.gr"] {
        let response = login(&app, email, "wrong-password").await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }
    assert_throttled(&login(&app, "Οδυσσευς@ithaca.gr", "wrong-password").await);
}

/// A success clears the account's count and gives back its place in the address's; the
/// per-address limit counts across accounts; behind a proxy, the address is the last
/// `X-Forwarded-For` entry.
async fn success_resets_and_addresses_are_limited(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            throttle: Some(
                LoginThrottle::new()
                    .per_account(3, Duration::from_secs(60))
                    .per_address(4, Duration::from_secs(60)),
            ),
            behind_proxy: true,
            ..Options::default()
        },
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
    // Successes give their place in the address's count back: a shared address that logs in
    // often is not throttled for it.
    for _ in 0..6 {
        assert_eq!(
            login_from(&app, "10.0.0.5", "tristan@cornwall.uk", "isolde-forever")
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(
        login_from(&app, "10.0.0.5", "someone@else.uk", "x")
            .await
            .status,
        StatusCode::BAD_REQUEST
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
    let apps = redis_apps(2, || {
        LoginThrottle::new()
            .per_account(3, Duration::from_secs(60))
            .no_address_limit()
    })
    .await;
    let [one, two] = &apps[..] else {
        unreachable!()
    };
    one.register("gareth@camelot.bt", "beaumains").await;
    two.register("gareth@camelot.bt", "beaumains").await;
    for _ in 0..3 {
        login(one, "gareth@camelot.bt", "wrong").await;
    }
    let retry = assert_throttled(&login(two, "gareth@camelot.bt", "beaumains").await);
    assert!(retry <= 60);
}

/// The peer address of the bursts.
const PEER: &str = "10.9.8.7:4321";

/// Wrong-password logins sent all at once, one per `(app, email)`, from [`PEER`]; the number
/// answered 400 (the password was checked) and 429 (refused before it).
async fn burst(logins: Vec<(&TestApp, String)>) -> (usize, usize) {
    let statuses = join_all(logins.into_iter().map(|(app, email)| async move {
        app.request(Method::POST, "/auth/jwt/login")
            .peer(PEER.parse().unwrap())
            .form(&[("username", &email), ("password", "wrong-password")])
            .send()
            .await
            .status
    }))
    .await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    (checked, refused)
}

/// How many failed logins the apps' hooks saw with `throttled` false: passwords checked.
fn checked_by_hooks(apps: &[TestApp]) -> usize {
    apps.iter()
        .map(|app| {
            let failed = app.hooks.failed_logins.lock().unwrap();
            failed.iter().filter(|(_, throttled)| !throttled).count()
        })
        .sum()
}

/// Twenty wrong passwords for one account at the same moment, spread over `apps` (which share
/// their counters): five are checked, fifteen refused; then the right password is refused too.
async fn account_burst(apps: &[TestApp]) {
    for app in apps {
        app.register("dagonet@camelot.bt", "court-jester").await;
    }
    let logins = (0..20)
        .map(|i| (&apps[i % apps.len()], "dagonet@camelot.bt".to_owned()))
        .collect();
    assert_eq!(burst(logins).await, (5, 15));
    assert_eq!(checked_by_hooks(apps), 5);
    assert_throttled(&login(&apps[0], "dagonet@camelot.bt", "court-jester").await);
}

/// Twenty wrong passwords from one address at the same moment, each for another account:
/// five are checked, fifteen refused.
async fn address_burst(apps: &[TestApp]) {
    let logins = (0..20)
        .map(|i| (&apps[i % apps.len()], format!("squire{i}@camelot.bt")))
        .collect();
    assert_eq!(burst(logins).await, (5, 15));
    assert_eq!(checked_by_hooks(apps), 5);
}

fn per_account_5() -> LoginThrottle {
    LoginThrottle::new()
        .per_account(5, Duration::from_secs(60))
        .no_address_limit()
}

fn per_address_5() -> LoginThrottle {
    LoginThrottle::new()
        .no_account_limit()
        .per_address(5, Duration::from_secs(60))
}

/// `count` instances whose throttles share counters in Redis, under a key prefix of their own.
async fn redis_apps(count: usize, throttle: fn() -> LoginThrottle) -> Vec<TestApp> {
    let prefix = format!("test-throttle:{}:", uuid::Uuid::new_v4().simple());
    let mut apps = Vec::new();
    for _ in 0..count {
        let store = RedisThrottleStore::connect(&redis_url())
            .await
            .expect("connect to the test Redis server")
            .key_prefix(prefix.clone());
        apps.push(throttled_app(Db::Sqlite, throttle().redis(store)).await);
    }
    apps
}

/// A burst is counted before any password is checked (in memory).
async fn a_burst_checks_at_most_the_limit(db: Db) {
    account_burst(&[throttled_app(db, per_account_5()).await]).await;
    address_burst(&[throttled_app(db, per_address_5()).await]).await;
}

/// The same in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_checks_at_most_the_limit_in_redis() {
    account_burst(&redis_apps(1, per_account_5).await).await;
    address_burst(&redis_apps(1, per_address_5).await).await;
}

/// The same across two instances sharing one Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_across_two_instances_checks_at_most_the_limit() {
    account_burst(&redis_apps(2, per_account_5).await).await;
    address_burst(&redis_apps(2, per_address_5).await).await;
}

fn two_and_two() -> LoginThrottle {
    LoginThrottle::new()
        .per_account(2, Duration::from_secs(60))
        .per_address(2, Duration::from_secs(60))
}

/// With [`two_and_two`]: a login refused by one count takes no place in the others (an
/// address over its limit does not fill the counts of the accounts it keeps trying), and a
/// success gives its address place back.
async fn refused_logins_take_no_place(app: &TestApp) {
    let from = async |peer: &str, email: &str, password: &str| {
        app.request(Method::POST, "/auth/jwt/login")
            .peer(peer.parse().unwrap())
            .form(&[("username", email), ("password", password)])
            .send()
            .await
            .status
    };
    let (x, y, z) = ("10.1.1.1:1000", "10.2.2.2:2000", "10.3.3.3:3000");
    let wrong = "wrong-password";
    assert_eq!(
        from(x, "a@camelot.bt", wrong).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        from(x, "b@camelot.bt", wrong).await,
        StatusCode::BAD_REQUEST
    );
    for _ in 0..3 {
        let status = from(x, "c@camelot.bt", wrong).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        from(y, "c@camelot.bt", wrong).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        from(y, "c@camelot.bt", wrong).await,
        StatusCode::BAD_REQUEST
    );
    let status = from(y, "c@camelot.bt", wrong).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    app.register("d@camelot.bt", "dragon-slayer").await;
    for _ in 0..4 {
        let status = from(z, "d@camelot.bt", "dragon-slayer").await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// [`refused_logins_take_no_place`] in memory.
async fn a_refused_login_takes_no_place(db: Db) {
    refused_logins_take_no_place(&throttled_app(db, two_and_two()).await).await;
}

/// [`refused_logins_take_no_place`] in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_takes_no_place_in_redis() {
    refused_logins_take_no_place(&redis_apps(1, two_and_two).await[0]).await;
}

/// A throttle store that always fails, as a store that cannot be reached.
struct DownStore;

#[fastusers::async_trait]
impl ThrottleStore for DownStore {
    async fn take(&self, _: &str, _: Limit) -> Result<Take, ThrottleStoreError> {
        Err(down())
    }
    async fn give_back(&self, _: &str) -> Result<(), ThrottleStoreError> {
        Err(down())
    }
    async fn reset(&self, _: &str) -> Result<(), ThrottleStoreError> {
        Err(down())
    }
}

fn down() -> ThrottleStoreError {
    ThrottleStoreError::Other(Box::new(std::io::Error::from(
        std::io::ErrorKind::ConnectionRefused,
    )))
}

/// A throttle store that fails lets every login through: passwords are checked as without
/// a throttle.
async fn a_failing_store_does_not_block_logins(db: Db) {
    let app = throttled_app(
        db,
        LoginThrottle::new()
            .per_account(1, Duration::from_secs(60))
            .store(DownStore),
    )
    .await;
    app.register("lucan@camelot.bt", "the-butler").await;
    for _ in 0..3 {
        let response = login(&app, "lucan@camelot.bt", "wrong-password").await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
    }
    app.token("lucan@camelot.bt", "the-butler").await;
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
    the_login_throttle_is_on_by_default,
    failed_logins_are_throttled_per_account,
    every_casing_of_an_email_shares_one_count,
    a_burst_checks_at_most_the_limit,
    a_refused_login_takes_no_place,
    a_failing_store_does_not_block_logins,
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
