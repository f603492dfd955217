//! Hostile input: tokens of every shape, emails built to break things, and bodies with wrong
//! types, deep nesting, duplicate keys or invalid UTF-8. Each gets a clear 4xx, never a 5xx.

use axum::http::{Method, StatusCode};
use fastusers::JwtKeys;
use fastusers::keys::now;
use fastusers_tests::{Db, Options, SECRET, TestApp, db_tests};
use serde_json::{Value, json};

/// Garbage of every length from 0 to 600, in three alphabets, and a token without `exp`:
/// 401, never a 500.
async fn garbage_tokens_of_every_length(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("dagonet@camelot.bt", "jester-knight").await;
    let sub = user["id"].as_str().unwrap();
    let alphabets = [
        "abcdefghijklmnopqrstuvwxyz0123456789-_",
        "eyJhbGciOiJIUzI1NiJ9.",
        "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~ é€",
    ];
    let mut seed = 12345u64;
    for len in 0..=600usize {
        let alphabet: Vec<char> = alphabets[len % 3].chars().collect();
        let token: String = (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                alphabet[(seed >> 33) as usize % alphabet.len()]
            })
            .collect();
        let Ok(value) = axum::http::HeaderValue::from_str(&format!("Bearer {token}")) else {
            continue; // not sendable as a header at all
        };
        let response = app
            .request(Method::GET, "/users/me")
            .header("authorization", value.to_str().unwrap_or("Bearer x"))
            .send()
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "length {len}: {token:.40}"
        );
    }
    // Validly signed, but without `exp`: it would never expire.
    let forever = JwtKeys::hs256(SECRET)
        .unwrap()
        .encode(&json!({"sub": sub, "aud": ["fastapi-users:auth"]}))
        .unwrap();
    assert_eq!(app.me_status(&forever).await, StatusCode::UNAUTHORIZED);
}

/// An RS256 backend: a token signed by another key under an unknown `kid`, and the same
/// claims signed with HS256 using the backend's public key as the secret: both 401.
async fn unknown_kid_and_key_confusion(db: Db) {
    let keys_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/keys");
    let read = |name: &str| std::fs::read(format!("{keys_dir}/{name}")).expect("test key");
    let keys = JwtKeys::rs256_pem(&read("rs256-private.pem"), &read("rs256-public.pem")).unwrap();
    let app = TestApp::with(
        db,
        Options {
            keys: Some(keys.into()),
            ..Options::default()
        },
    )
    .await;
    let user = app.register("dinadan@camelot.bt", "cynic-knight").await;
    let claims = json!({"sub": user["id"], "aud": ["fastapi-users:auth"], "exp": now() + 600});
    // A key the backend does not know, announced by a `kid` it has never seen.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("attacker-key".into());
    let foreign = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(&read("es256-private.pem")).unwrap(),
    )
    .unwrap();
    let confused = JwtKeys::hs256(read("rs256-public.pem"))
        .unwrap()
        .encode(&claims)
        .unwrap();
    for token in [foreign, confused] {
        assert_eq!(app.me_status(&token).await, StatusCode::UNAUTHORIZED);
    }
}

/// 50 concurrent registrations of one email in varied case: exactly one 201, the rest
/// `REGISTER_USER_ALREADY_EXISTS`, no 5xx, one row.
async fn fifty_concurrent_registrations(db: Db) {
    let app = std::sync::Arc::new(TestApp::new(db).await);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            let email: String = "Ywain@Camelot.bt"
                .chars()
                .enumerate()
                .map(|(j, c)| {
                    if (i >> (j % 6)) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            tokio::spawn(async move {
                app.register_json(json!({"email": email, "password": "lion-knight"}))
                    .await
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::CREATED => created.push(response.json()["id"].clone()),
            StatusCode::BAD_REQUEST => assert_eq!(
                response.json(),
                json!({"detail": "REGISTER_USER_ALREADY_EXISTS"})
            ),
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!(created.len(), 1);
    // One row: once it is deleted, no spelling of the email finds a user.
    let admin = app.superuser("admin@camelot.bt").await;
    let path = format!("/users/{}", created[0].as_str().unwrap());
    let deleted = app
        .request(Method::DELETE, &path)
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let store = app.state.manager().store().clone();
    for variant in ["ywain@camelot.bt", "YWAIN@CAMELOT.BT", "Ywain@Camelot.bt"] {
        assert!(
            store.get_by_email(variant).await.unwrap().is_none(),
            "{variant}"
        );
    }
}

/// Emails with SQL metacharacters are stored and found as plain text; unicode, over-long and
/// malformed ones are a 422 or a 201, never a 5xx.
async fn hostile_emails(db: Db) {
    let app = TestApp::new(db).await;
    let sql = "o'brien\";drop--@camelot.bt";
    let response = app
        .register_json(json!({"email": sql, "password": "irish-knight"}))
        .await;
    assert!(
        response.status == StatusCode::CREATED
            || response.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.text()
    );
    let percent = "a%'_x@camelot.bt";
    let created = app
        .register_json(json!({"email": percent, "password": "wildcard-knight"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    // `%` and `_` are not wildcards: a similar email is another user.
    let other = app
        .register_json(json!({"email": "abc'zx@camelot.bt", "password": "wildcard-knight"}))
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text());
    let cases: Vec<Value> = vec![
        json!(format!("{}@camelot.bt", "a".repeat(65))),
        json!(format!("a@{}.bt", "b".repeat(300))),
        json!("ünïcödé@camelot.bt"),
        json!("user@exämple.bt"),
        json!("🛡️@camelot.bt"),
        json!("a@b@camelot.bt"),
        json!("\u{0000}@camelot.bt"),
        json!("@camelot.bt"),
        json!("a@"),
        json!(" "),
        json!(12),
        json!(["a@camelot.bt"]),
        json!({"email": "a@camelot.bt"}),
        Value::Null,
    ];
    for email in cases {
        let response = app
            .register_json(json!({"email": email, "password": "some-password"}))
            .await;
        assert!(
            response.status == StatusCode::CREATED
                || response.status == StatusCode::UNPROCESSABLE_ENTITY
                || response.status == StatusCode::BAD_REQUEST,
            "{email}: {} {}",
            response.status,
            response.text()
        );
        let login = app
            .login_form(
                "jwt",
                &[
                    ("username", email.as_str().unwrap_or("x")),
                    ("password", "x"),
                ],
            )
            .await;
        assert!(login.status.is_client_error(), "{email}: {}", login.status);
    }
}

/// Wrong types, deep nesting, duplicate keys, invalid UTF-8 and odd encodings: 4xx each.
async fn hostile_bodies(db: Db) {
    let app = TestApp::new(db).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", r#"{"email":"#.repeat(5_000), "}".repeat(5_000));
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"email": 1, "password": 2}"#.to_vec(),
        br#"{"email": true, "password": null}"#.to_vec(),
        br#"{"email": {"$ne": null}, "password": {"$gt": ""}}"#.to_vec(),
        br#"[1, 2, 3]"#.to_vec(),
        br#""a string""#.to_vec(),
        br#"1e999999"#.to_vec(),
        deep.into_bytes(),
        deep_object.into_bytes(),
        br#"{"email": "a@camelot.bt", "email": 5, "password": "duplicate-keys"}"#.to_vec(),
        vec![0xff, 0xfe, b'{', b'}'],
        b"{\"email\": \"\xc3\x28@camelot.bt\", \"password\": \"bad-utf8\"}".to_vec(),
        "\u{feff}{\"email\": \"bom@camelot.bt\", \"password\": \"byte-order\"}"
            .as_bytes()
            .to_vec(),
        b"{\"email\": \"a@camelot.bt\", \"password\": \"x\"".to_vec(),
    ];
    for body in bodies {
        for path in ["/auth/register", "/auth/forgot-password", "/auth/verify"] {
            let response = app
                .request(Method::POST, path)
                .raw("application/json", body.clone())
                .send()
                .await;
            assert!(
                response.status.is_client_error() || response.status.is_success(),
                "{path} {:.80}: {} {}",
                String::from_utf8_lossy(&body),
                response.status,
                response.text()
            );
            assert!(
                response.json()["detail"].is_string()
                    || response.json()["detail"].is_array()
                    || response.status.is_success(),
                "{path}: {}",
                response.text()
            );
        }
    }
    // Duplicate keys: the last one wins, as in Python's json module.
    let response = app
        .request(Method::POST, "/auth/register")
        .raw(
            "application/json",
            r#"{"email": 5, "email": "dup@camelot.bt", "password": "duplicate-keys"}"#,
        )
        .send()
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert_eq!(response.json()["email"], json!("dup@camelot.bt"));
    // A NUL character in a custom text field: a 422, not a database error.
    let token = app.token("dup@camelot.bt", "duplicate-keys").await;
    let response = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"first_name": "nul\u{0}byte"}))
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.text()
    );
    assert_eq!(
        response.json()["detail"][0]["loc"],
        json!(["body", "first_name"])
    );
}

db_tests!(
    garbage_tokens_of_every_length,
    unknown_kid_and_key_confusion,
    fifty_concurrent_registrations,
    hostile_emails,
    hostile_bodies,
);
