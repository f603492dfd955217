//! A flood of logins is shed, not queued without end: a request that cannot start hashing
//! within the helper's `max_wait` answers `503` with `Retry-After` at once.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use fastusers::password::{Argon2Params, PasswordHelper};
use fastusers_tests::{Db, Options, TestApp};
use serde_json::json;

/// Real argon2 cost (as the reference's), so that a burst outruns the hashing slots, and a
/// short wait for a slot.
fn slow_passwords(max_wait: Duration) -> PasswordHelper {
    PasswordHelper::new(Argon2Params::default())
        .expect("valid parameters")
        .max_wait(max_wait)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_shed_with_retry_after() {
    let max_wait = Duration::from_millis(150);
    let app = TestApp::with(
        Db::Sqlite,
        Options {
            passwords: Some(slow_passwords(max_wait)),
            ..Options::default()
        },
    )
    .await;
    app.register("king.arthur@camelot.bt", "guinevere").await;
    let logins = (0..24).map(|i| {
        let app = &app;
        async move {
            let started = Instant::now();
            let password = format!("wrong password {i}");
            let response = app
                .login_form(
                    "jwt",
                    &[
                        ("username", "king.arthur@camelot.bt"),
                        ("password", &password),
                    ],
                )
                .await;
            (response, started.elapsed())
        }
    });
    let answers = futures_util::future::join_all(logins).await;
    let mut shed = 0;
    for (response, took) in &answers {
        match response.status {
            StatusCode::BAD_REQUEST => response.assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
            ),
            StatusCode::SERVICE_UNAVAILABLE => {
                shed += 1;
                assert_eq!(
                    response.json(),
                    json!({"detail": "The server is busy. Try again in a moment."})
                );
                assert_eq!(response.header("retry-after"), Some("1"));
                // Refused after the wait, not after a hash: well under a second.
                assert!(*took < Duration::from_secs(2), "a shed login took {took:?}");
            }
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert!(
        shed > 0,
        "24 logins at once on 150 ms of hashing each were all admitted"
    );
    assert!(shed < answers.len(), "every login was shed");
    // Once the flood is over, logins are admitted again.
    let again = app
        .login_form(
            "jwt",
            &[
                ("username", "king.arthur@camelot.bt"),
                ("password", "guinevere"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
}
