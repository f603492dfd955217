//! The default password policy (OWASP ASVS 2.1.1, 2.1.2, 2.1.7, 2.1.9) at every route that
//! sets a password, the hook that extends it, and the optional breach check against a local
//! stand-in of Have I Been Pwned's range API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use fastusers::password::{PasswordPolicy, PwnedPasswords};
use fastusers::prelude::*;
use fastusers_tests::{Db, Options, TestApp, db_tests, fast_passwords};
use serde_json::{Value, json};

fn refused(code: &str, reason: &str) -> Value {
    json!({"detail": {"code": code, "reason": reason}})
}

async fn default_policy_app(db: Db) -> TestApp {
    TestApp::with(
        db,
        Options {
            password_policy: Some(PasswordPolicy::default()),
            ..Options::default()
        },
    )
    .await
}

/// Registration: under 12 characters (a run of spaces counting once), over 128, and the
/// common passwords (in any case) are refused with the route's code and a reason; any
/// characters are fine (no composition rule); the application's hook still adds its rules.
async fn registration_follows_the_default_policy(db: Db) {
    let app = default_policy_app(db).await;
    let register = |password: String| {
        app.register_json(json!({"email": "percival@camelot.bt", "password": password}))
    };
    let code = "REGISTER_INVALID_PASSWORD";
    for (password, reason) in [
        (
            "guinevere".to_owned(),
            "Password should be at least 12 characters",
        ),
        (
            "holy     grail".to_owned(),
            "Password should be at least 12 characters",
        ),
        ("x".repeat(129), "Password should be at most 128 characters"),
        ("Qwerty123456".to_owned(), "Password is too common"),
        ("1QAZ2WSX3EDC".to_owned(), "Password is too common"),
        (
            "percival@camelot.bt!".to_owned(),
            "Password should not contain e-mail",
        ),
    ] {
        register(password.clone())
            .await
            .assert(StatusCode::BAD_REQUEST, refused(code, reason));
    }
    for password in ["grail castle", "ГРААЛЬ-ЗАМОК", &"é".repeat(128)] {
        let response = app
            .register_json(
                json!({"email": format!("p{}@camelot.bt", password.len()), "password": password}),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "{password}: {}",
            response.text()
        );
    }
}

/// The password change and the reset go through the same policy.
async fn update_and_reset_follow_the_default_policy(db: Db) {
    let app = default_policy_app(db).await;
    app.register("percival@camelot.bt", "the grail castle")
        .await;
    let token = app.token("percival@camelot.bt", "the grail castle").await;
    let patch = |password: &'static str| {
        app.request(Method::PATCH, "/users/me")
            .bearer(&token)
            .json(&json!({"password": password}))
            .send()
    };
    patch("short").await.assert(
        StatusCode::BAD_REQUEST,
        refused(
            "UPDATE_USER_INVALID_PASSWORD",
            "Password should be at least 12 characters",
        ),
    );
    patch("SonyEricsson").await.assert(
        StatusCode::BAD_REQUEST,
        refused("UPDATE_USER_INVALID_PASSWORD", "Password is too common"),
    );
    assert_eq!(patch("the fisher king").await.status, StatusCode::OK);
    app.request(Method::POST, "/auth/forgot-password")
        .json(&json!({"email": "percival@camelot.bt"}))
        .send()
        .await;
    let reset = app
        .sent_token("reset", "percival@camelot.bt")
        .await
        .expect("a reset token");
    let post = |password: &'static str| {
        app.request(Method::POST, "/auth/reset-password")
            .json(&json!({"token": reset, "password": password}))
            .send()
    };
    post("123456654321").await.assert(
        StatusCode::BAD_REQUEST,
        refused("RESET_PASSWORD_INVALID_PASSWORD", "Password is too common"),
    );
    assert_eq!(post("a wounded king's land").await.status, StatusCode::OK);
}

/// `UserManager::new` has the policy without being asked: an application built on the
/// defaults refuses weak passwords.
#[tokio::test]
async fn the_manager_has_the_policy_by_default() {
    let store = fastusers::store::connect::<fastusers_tests::User>("sqlite::memory:")
        .await
        .unwrap();
    let manager = UserManager::new(store).with_password_helper(fast_passwords());
    let create = |password: &str| fastusers_tests::UserCreate {
        email: "percival@camelot.bt".into(),
        password: password.into(),
        ..Default::default()
    };
    for weak in ["guinevere", "letmein", "finalfantasy"] {
        match manager.create(create(weak), true, None).await {
            Err(fastusers::UserError::InvalidPassword(e)) => {
                assert!(e.reason.as_str().unwrap().starts_with("Password"), "{e}")
            }
            other => panic!("{weak} was not refused: {other:?}"),
        }
    }
    assert!(
        manager
            .create(create("grail castle in the waste land"), true, None)
            .await
            .is_ok()
    );
}

/// What the stand-in server answers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// The range of the prefix, with this password's suffix (count 42) and padding.
    Serve,
    /// 500.
    Fail,
    /// Nothing for 10 seconds.
    Hang,
}

/// A local stand-in of `https://api.pwnedpasswords.com`: `GET /range/{prefix}` answers the
/// suffixes of the breached passwords it knows (and a padding line of count 0), recording
/// each path and `Add-Padding` header it was asked.
struct StandIn {
    url: String,
    mode: Arc<Mutex<Mode>>,
    asked: Arc<Mutex<Vec<Asked>>>,
}

/// A request the stand-in got: the prefix in its path, its `Add-Padding` header.
type Asked = (String, Option<String>);

const BREACHED: &str = "the grail is in the castle";

fn sha1_hex(text: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

async fn stand_in() -> StandIn {
    let mode = Arc::new(Mutex::new(Mode::Serve));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let breached = sha1_hex(BREACHED);
    let router = {
        let (mode, asked) = (mode.clone(), asked.clone());
        axum::Router::new().route(
            "/range/{prefix}",
            axum::routing::get(
                move |axum::extract::Path(prefix): axum::extract::Path<String>,
                      headers: axum::http::HeaderMap| {
                    let (mode, asked, breached) = (mode.clone(), asked.clone(), breached.clone());
                    async move {
                        let padding = headers
                            .get("add-padding")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        asked.lock().unwrap().push((prefix.clone(), padding));
                        let current = *mode.lock().unwrap();
                        match current {
                            Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                            Mode::Hang => {
                                tokio::time::sleep(Duration::from_secs(10)).await;
                                (StatusCode::OK, String::new())
                            }
                            Mode::Serve => {
                                let mut body =
                                    "0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n".to_owned();
                                if breached.starts_with(&prefix) {
                                    body.push_str(&format!("{}:42\r\n", &breached[5..]));
                                }
                                body.push_str("00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n");
                                (StatusCode::OK, body)
                            }
                        }
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    StandIn { url, mode, asked }
}

/// A writer for a tracing subscriber that keeps what is logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The breach check refuses a password the service knows, sends only the first five
/// characters of its SHA-1 (with `Add-Padding`), and fails open, with a warning in the log,
/// when the service answers 500, hangs past the timeout, or is not there at all.
/// Single-threaded runtime: the captured log is this thread's.
#[tokio::test(flavor = "current_thread")]
async fn the_breach_check_asks_by_prefix_and_fails_open() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = stand_in().await;
    let pwned = PwnedPasswords::new()
        .url(&server.url)
        .timeout(Duration::from_millis(500));
    let policy = PasswordPolicy::default().pwned_passwords(pwned.clone());

    let refusal = policy.check(BREACHED).await.unwrap_err();
    assert_eq!(refusal.reason, "Password has appeared in a data breach");
    assert_eq!(pwned.count(BREACHED).await.unwrap(), 42);
    assert!(policy.check("a grail nobody has ever leaked").await.is_ok());
    {
        let asked = server.asked.lock().unwrap();
        let hash = sha1_hex(BREACHED);
        assert_eq!(asked[0], (hash[..5].to_owned(), Some("true".to_owned())));
        assert!(
            asked
                .iter()
                .all(|(prefix, _)| prefix.len() == 5
                    && prefix.chars().all(|c| c.is_ascii_hexdigit())),
            "only a 5-character prefix leaves: {asked:?}"
        );
    }
    assert!(
        log.0.lock().unwrap().is_empty(),
        "no warning while it answers"
    );

    *server.mode.lock().unwrap() = Mode::Fail;
    assert!(policy.check(BREACHED).await.is_ok(), "fails open on a 500");
    *server.mode.lock().unwrap() = Mode::Hang;
    let started = Instant::now();
    assert!(
        policy.check(BREACHED).await.is_ok(),
        "fails open on a timeout"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let gone = PwnedPasswords::new()
        .url(format!("http://127.0.0.1:{}", fastusers_tests::free_port()))
        .timeout(Duration::from_secs(2));
    let policy = PasswordPolicy::default().pwned_passwords(gone);
    assert!(
        policy.check(BREACHED).await.is_ok(),
        "fails open without a server"
    );
    // The common-password list still works offline.
    assert!(policy.check("qwerty123456").await.is_err());

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("Pwned Passwords check gave no answer"))
        .count();
    assert_eq!(warnings, 3, "one warning per failure:\n{log}");
    assert!(!log.contains(BREACHED), "the password is never logged");
}

/// Over HTTP: the breach check's refusal reaches the client as any policy refusal.
async fn registration_refuses_a_breached_password(db: Db) {
    let server = stand_in().await;
    let app = TestApp::with(
        db,
        Options {
            password_policy: Some(
                PasswordPolicy::default().pwned_passwords(PwnedPasswords::new().url(&server.url)),
            ),
            ..Options::default()
        },
    )
    .await;
    app.register_json(json!({"email": "percival@camelot.bt", "password": BREACHED}))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            refused(
                "REGISTER_INVALID_PASSWORD",
                "Password has appeared in a data breach",
            ),
        );
    app.register("percival@camelot.bt", "the fisher king's castle")
        .await;
}

db_tests!(
    registration_follows_the_default_policy,
    update_and_reset_follow_the_default_policy,
    registration_refuses_a_breached_password,
);
