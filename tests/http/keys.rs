//! Keys: one key per purpose derived from the application's secret (a token of one kind is
//! never accepted as another), the fastapi-users mode with one raw secret, and key rotation
//! under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::JwtKeys;
use fastusers::keys::now;
use fastusers::keys::{KeySet, Purpose, Secret};
use fastusers_tests::{Db, Options, TestApp, db_tests};
use serde_json::{Value, json};

const ROOT: &str = "the one secret of this application, 32+ bytes";

async fn post(app: &TestApp, path: &str, body: Value) -> fastusers_tests::Response {
    app.request(Method::POST, path).json(&body).send().await
}

/// With keys derived from one secret, a token signed with the key of another purpose is
/// refused even when its claims are right for the route: verification, reset and access.
async fn derived_keys_keep_tokens_to_their_purpose(db: Db) {
    let secret = Secret::new(ROOT).unwrap();
    let app = TestApp::with(
        db,
        Options {
            secret: Some(secret.clone()),
            ..Options::default()
        },
    )
    .await;
    let user = app
        .register("tristan@cornwall.uk", "isolde-of-ireland")
        .await;
    let id = user["id"].as_str().unwrap();
    let exp = now() + 600;
    let verify_claims = json!({"sub": id, "email": "tristan@cornwall.uk", "aud": "fastapi-users:verify", "exp": exp});
    for purpose in [Purpose::ACCESS, Purpose::RESET, Purpose::OAUTH_STATE] {
        let token = secret.keys(purpose).encode(&verify_claims).unwrap();
        post(&app, "/auth/verify", json!({"token": token}))
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "VERIFY_USER_BAD_TOKEN"}),
            );
    }
    let raw = JwtKeys::hs256(ROOT)
        .unwrap()
        .encode(&verify_claims)
        .unwrap();
    post(&app, "/auth/verify", json!({"token": raw}))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            json!({"detail": "VERIFY_USER_BAD_TOKEN"}),
        );
    // The access key signs access tokens only.
    let access_claims = json!({"sub": id, "aud": ["fastapi-users:auth"], "exp": exp});
    for purpose in [Purpose::VERIFY, Purpose::RESET, Purpose::new("device")] {
        let token = secret.keys(purpose).encode(&access_claims).unwrap();
        assert_eq!(app.me_status(&token).await, StatusCode::UNAUTHORIZED);
    }
    let token = secret.keys(Purpose::ACCESS).encode(&access_claims).unwrap();
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    // The reset route takes the reset key's tokens only.
    post(
        &app,
        "/auth/forgot-password",
        json!({"email": "tristan@cornwall.uk"}),
    )
    .await;
    let reset = app
        .sent_token("reset", "tristan@cornwall.uk")
        .await
        .unwrap();
    let claims = fastusers_tests::decode_claims(&reset);
    let forged = secret.keys(Purpose::VERIFY).encode(&claims).unwrap();
    post(
        &app,
        "/auth/reset-password",
        json!({"token": forged, "password": "king mark's court"}),
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "RESET_PASSWORD_BAD_TOKEN"}),
    );
    let verified = post(
        &app,
        "/auth/verify",
        json!({"token": secret.keys(Purpose::VERIFY).encode(&verify_claims).unwrap()}),
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let reset = post(
        &app,
        "/auth/reset-password",
        json!({"token": reset, "password": "king mark's court"}),
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
}

/// `same_key_for_every_purpose`: the secret signs every kind of token as it is, as
/// fastapi-users' `SECRET` does, so the tokens of one are the tokens of the other.
async fn one_raw_secret_reads_fastapi_users_tokens(db: Db) {
    let secret = Secret::new(ROOT).unwrap().same_key_for_every_purpose();
    let app = TestApp::with(
        db,
        Options {
            secret: Some(secret),
            ..Options::default()
        },
    )
    .await;
    let user = app
        .register("tristan@cornwall.uk", "isolde-of-ireland")
        .await;
    let id = user["id"].as_str().unwrap();
    let fastapi_users = JwtKeys::hs256(ROOT).unwrap();
    let access = fastapi_users
        .encode(&json!({"sub": id, "aud": ["fastapi-users:auth"], "exp": now() + 600}))
        .unwrap();
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    let verify = fastapi_users
        .encode(&json!({"sub": id, "email": "tristan@cornwall.uk", "aud": "fastapi-users:verify", "exp": now() + 600}))
        .unwrap();
    let verified = post(&app, "/auth/verify", json!({"token": verify})).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    let ours = app.token("tristan@cornwall.uk", "isolde-of-ireland").await;
    let header = jsonwebtoken::decode_header(&ours).unwrap();
    assert_eq!(header.kid, None, "no kid: the header is fastapi-users'");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["fastapi-users:auth"]);
    jsonwebtoken::decode::<Value>(
        &ours,
        &jsonwebtoken::DecodingKey::from_secret(ROOT.as_bytes()),
        &validation,
    )
    .expect("fastapi-users reads our token");
}

fn kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).unwrap().kid
}

/// Rotation under load: while many concurrent requests run, the key set rotates to a new key,
/// then retires the old one. No token of the old key is refused before its retirement; every
/// login that started after the rotation gets a token with the new `kid`; after the
/// retirement the old tokens are refused and the new ones still work.
async fn keys_rotate_under_load(db: Db) {
    let old = Secret::new(ROOT).unwrap().kid("2024");
    let keys = KeySet::new(old.keys(Purpose::ACCESS));
    let app = Arc::new(
        TestApp::with(
            db,
            Options {
                keys: Some(keys.clone()),
                ..Options::default()
            },
        )
        .await,
    );
    let knights = ["tristan", "isolde", "mark", "brangaine"];
    for knight in knights {
        app.register(&format!("{knight}@cornwall.uk"), "a love potion")
            .await;
    }
    let mut old_tokens = Vec::new();
    for knight in knights {
        let token = app
            .token(&format!("{knight}@cornwall.uk"), "a love potion")
            .await;
        assert_eq!(kid(&token).as_deref(), Some("2024"));
        old_tokens.push(token);
    }
    // A token made before the keys had ids (no `kid`) is checked with every key.
    let legacy = Secret::new(ROOT)
        .unwrap()
        .keys(Purpose::ACCESS)
        .encode(&fastusers_tests::decode_claims(&old_tokens[0]))
        .unwrap();
    old_tokens.push(legacy);
    let old_tokens = Arc::new(old_tokens);

    let rotated = Arc::new(AtomicBool::new(false));
    let retired = Arc::new(AtomicBool::new(false));
    let (reads, logins) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let new_tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for worker in 0..16usize {
        let (app, old_tokens, rotated, retired) = (
            app.clone(),
            old_tokens.clone(),
            rotated.clone(),
            retired.clone(),
        );
        let (reads, logins, new_tokens) = (reads.clone(), logins.clone(), new_tokens.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..100usize {
                if worker % 4 == 0 && round % 3 == 0 {
                    // A login: after the rotation, its token carries the new key id.
                    let after_rotation = rotated.load(Ordering::SeqCst);
                    let knight = knights[round % knights.len()];
                    let token = app
                        .token(&format!("{knight}@cornwall.uk"), "a love potion")
                        .await;
                    if after_rotation {
                        assert_eq!(
                            kid(&token).as_deref(),
                            Some("2025"),
                            "login after the rotation"
                        );
                        new_tokens.lock().unwrap().push(token);
                    }
                    logins.fetch_add(1, Ordering::SeqCst);
                } else {
                    let token = &old_tokens[(worker + round) % old_tokens.len()];
                    let status = app.me_status(token).await;
                    // The flag is raised before the key is retired: still down after the
                    // answer, the retirement had not begun when the token was checked. (Read
                    // before the request, it would blame a request that the retirement
                    // overtook.)
                    let before_retirement = !retired.load(Ordering::SeqCst);
                    if before_retirement {
                        assert_eq!(status, StatusCode::OK, "an old token before the retirement");
                    }
                    reads.fetch_add(1, Ordering::SeqCst);
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    // A worker that stops early has failed: its panic is the test's answer, not a wait.
    let failed = || tasks.iter().any(|t| t.is_finished());
    let rotation = async {
        // Rotate while the workers run, then retire while they still run.
        while reads.load(Ordering::SeqCst) < 150 && !failed() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let new = Secret::new("the new secret of this application, 32+ bytes")
            .unwrap()
            .kid("2025");
        keys.rotate(new.keys(Purpose::ACCESS)).unwrap();
        rotated.store(true, Ordering::SeqCst);
        while (reads.load(Ordering::SeqCst) < 600 || new_tokens.lock().unwrap().len() < 3)
            && !failed()
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        retired.store(true, Ordering::SeqCst);
        assert!(keys.retire("2024").unwrap());
    };
    tokio::time::timeout(Duration::from_secs(120), rotation)
        .await
        .expect("the rotation finished within 120 s");
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("the workers finished within 120 s")
            .expect("a worker failed");
    }
    assert!(logins.load(Ordering::SeqCst) > 0);
    assert_eq!(keys.kids(), [Some("2025".to_owned())]);
    for token in old_tokens.iter() {
        assert_eq!(
            app.me_status(token).await,
            StatusCode::UNAUTHORIZED,
            "retired"
        );
    }
    let new_tokens = new_tokens.lock().unwrap().clone();
    assert!(!new_tokens.is_empty());
    for token in &new_tokens {
        assert_eq!(app.me_status(token).await, StatusCode::OK);
    }
    // Rotating through the strategy's handle reaches every backend that shares the keys.
    let next = Secret::new("the third secret of this application, 32 bytes")
        .unwrap()
        .kid("2026");
    app.state
        .backends()
        .jwt
        .strategy
        .keys()
        .rotate(next.keys(Purpose::ACCESS))
        .unwrap();
    let cookie = app
        .login_form(
            "cookie",
            &[
                ("username", "mark@cornwall.uk"),
                ("password", "a love potion"),
            ],
        )
        .await;
    let value = cookie
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(
        kid(value.split_once('=').unwrap().1).as_deref(),
        Some("2026")
    );
}

db_tests!(
    derived_keys_keep_tokens_to_their_purpose,
    one_raw_secret_reads_fastapi_users_tokens,
    keys_rotate_under_load,
);
