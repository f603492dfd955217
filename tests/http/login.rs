//! `POST /auth/{backend}/login` and `/logout`, and the tokens they issue.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use fastusers::keys::{JwtKeys, now};
use fastusers_tests::{Db, SECRET, TestApp, db_tests};
use serde_json::{Value, json};

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn bearer_login_issues_the_reference_jwt(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("king.arthur@camelot.bt", "guinevere").await;
    let response = app
        .login_form(
            "jwt",
            &[
                ("username", "king.arthur@camelot.bt"),
                ("password", "guinevere"),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(decode_part(parts[0]), json!({"typ": "JWT", "alg": "HS256"}));
    let claims = decode_part(parts[1]);
    // The reference's claims, and `iat` (seconds, with a fraction), by which fastusers refuses
    // the tokens issued before a user's sessions were revoked.
    assert_eq!(
        claims.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sub", "aud", "exp", "iat"]
    );
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(
        claims["aud"],
        json!(["fastapi-users:auth"]),
        "aud is an array"
    );
    let exp = claims["exp"].as_u64().unwrap();
    assert!(
        (now() + 3590..=now() + 3600).contains(&exp),
        "lifetime 3600 s"
    );
    let iat = claims["iat"].as_f64().unwrap();
    assert!((iat - (exp - 3600) as f64).abs() < 1.0, "{claims}");
}

async fn login_accepts_multipart_and_any_email_case(db: Db) {
    let app = TestApp::new(db).await;
    app.register("king.arthur@camelot.bt", "guinevere").await;
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nKING.ARTHUR@camelot.bt\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nguinevere\r\n--{boundary}--\r\n"
    );
    let response = app
        .request(Method::POST, "/auth/jwt/login")
        .raw(&format!("multipart/form-data; boundary={boundary}"), body)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

async fn bad_credentials_are_indistinguishable(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("mordred@camelot.bt", "guinevere").await;
    let bad = json!({"detail": "LOGIN_BAD_CREDENTIALS"});
    app.login_form(
        "jwt",
        &[
            ("username", "mordred@camelot.bt"),
            ("password", "wrong-password"),
        ],
    )
    .await
    .assert(StatusCode::BAD_REQUEST, bad.clone());
    app.login_form(
        "jwt",
        &[("username", "nobody@camelot.bt"), ("password", "guinevere")],
    )
    .await
    .assert(StatusCode::BAD_REQUEST, bad.clone());
    // Deactivate: the right password of an inactive user is refused the same way.
    let admin = app.superuser("admin@camelot.bt").await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    let patched = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    app.login_form(
        "jwt",
        &[
            ("username", "mordred@camelot.bt"),
            ("password", "guinevere"),
        ],
    )
    .await
    .assert(StatusCode::BAD_REQUEST, bad.clone());
    app.login_form(
        "cookie",
        &[
            ("username", "mordred@camelot.bt"),
            ("password", "guinevere"),
        ],
    )
    .await
    .assert(StatusCode::BAD_REQUEST, bad);
}

async fn login_form_errors_are_422(db: Db) {
    let app = TestApp::new(db).await;
    let missing = |field: &str| json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": null});
    app.login_form("jwt", &[("password", "x")]).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [missing("username")]}),
    );
    app.login_form("jwt", &[("username", ""), ("password", "")])
        .await
        .assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [missing("username"), missing("password")]}),
        );
    let response = app
        .request(Method::POST, "/auth/jwt/login")
        .json(&json!({"username": "a", "password": "b"}))
        .send()
        .await;
    response.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [missing("username"), missing("password")]}),
    );
    app.login_form("jwt", &[("username", "a@b.co"), ("password", "x"), ("grant_type", "bad")]).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "string_pattern_mismatch", "loc": ["body", "grant_type"],
            "msg": "String should match pattern '^password$'", "input": "bad", "ctx": {"pattern": "^password$"}}]}),
    );
    let response = app
        .login_form(
            "jwt",
            &[
                ("username", "a@b.co"),
                ("password", "guinevere"),
                ("grant_type", "password"),
            ],
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "grant_type=password is accepted: {}",
        response.text()
    );
}

async fn cookie_login_and_logout(db: Db) {
    let app = TestApp::new(db).await;
    app.register("lancelot@camelot.bt", "guinevere").await;
    let response = app
        .login_form(
            "cookie",
            &[
                ("username", "lancelot@camelot.bt"),
                ("password", "guinevere"),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    let cookie = response.header("set-cookie").unwrap().to_owned();
    let token = cookie
        .strip_prefix("fastapiusersauth=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        cookie,
        format!("fastapiusersauth={token}; HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure")
    );

    let me = app
        .request(Method::GET, "/users/me")
        .header("cookie", &format!("other=1; fastapiusersauth={token}"))
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "lancelot@camelot.bt");

    let out = app
        .request(Method::POST, "/auth/cookie/logout")
        .header("cookie", &format!("fastapiusersauth={token}"))
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        out.header("set-cookie").unwrap(),
        "fastapiusersauth=\"\"; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"
    );

    app.request(Method::POST, "/auth/cookie/logout")
        .send()
        .await
        .assert(StatusCode::UNAUTHORIZED, json!({"detail": "Unauthorized"}));
}

async fn bearer_logout_is_204_and_jwt_stays_valid(db: Db) {
    let app = TestApp::new(db).await;
    app.register("bedivere@camelot.bt", "guinevere").await;
    let token = app.token("bedivere@camelot.bt", "guinevere").await;
    let out = app
        .request(Method::POST, "/auth/jwt/logout")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.body.is_empty());
    // A JWT cannot be revoked: documented, and the same as the reference.
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    // The reference accepts another backend's token on logout.
    let out = app
        .request(Method::POST, "/auth/cookie/logout")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let out = app.request(Method::POST, "/auth/jwt/logout").send().await;
    assert_eq!(out.status, StatusCode::UNAUTHORIZED);
    assert_eq!(out.header("www-authenticate"), Some("Bearer"));
}

async fn hostile_tokens_are_401(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("gawain@camelot.bt", "guinevere").await;
    let sub = user["id"].as_str().unwrap();
    let keys = JwtKeys::hs256(SECRET).unwrap();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let aud = json!(["fastapi-users:auth"]);
    let hostile = [
        keys.encode(&json!({"sub": sub, "aud": aud, "exp": now() - 10}))
            .unwrap(),
        keys.encode(&json!({"sub": sub, "aud": ["fastapi-users:verify"], "exp": now() + 60}))
            .unwrap(),
        keys.encode(&json!({"sub": sub, "exp": now() + 60}))
            .unwrap(),
        keys.encode(&json!({"aud": aud, "exp": now() + 60}))
            .unwrap(),
        keys.encode(&json!({"sub": "not-a-uuid", "aud": aud, "exp": now() + 60}))
            .unwrap(),
        keys.encode(
            &json!({"sub": uuid::Uuid::new_v4().to_string(), "aud": aud, "exp": now() + 60}),
        )
        .unwrap(),
        keys.encode(&json!({"sub": sub, "aud": aud, "exp": "soon"}))
            .unwrap(),
        JwtKeys::hs256("other secret, thirty-two bytes or more")
            .unwrap()
            .encode(&json!({"sub": sub, "aud": aud, "exp": now() + 60}))
            .unwrap(),
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&json!({"sub": sub, "aud": aud}))
        ),
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        "x".repeat(10_000),
    ];
    for token in hostile {
        let response = app
            .request(Method::GET, "/users/me")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "token {token:.60}"
        );
        assert_eq!(response.json(), json!({"detail": "Unauthorized"}));
    }
    // The same claims, validly signed, work: the refusals above are about the defects.
    let good = keys
        .encode(&json!({"sub": sub, "aud": aud, "exp": now() + 60}))
        .unwrap();
    assert_eq!(app.me_status(&good).await, StatusCode::OK);
    let basic = app
        .request(Method::GET, "/users/me")
        .header("authorization", &format!("Basic {good}"))
        .send()
        .await;
    assert_eq!(
        basic.status,
        StatusCode::UNAUTHORIZED,
        "only the Bearer scheme carries tokens"
    );
}

async fn bcrypt_hashes_log_in_and_are_upgraded(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("tristan@camelot.bt", "guinevere").await;
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    // A hash from a database migrated from fastapi-users' bcrypt era.
    let legacy = "$2b$04$2q1Pv7eH4CKz5OWnage60O6Jf44A2PoC6cyYZCZTnte9CyTS149Su"; // Python bcrypt 5, "guinevere"
    let changes = fastusers_tests::UserChanges {
        hashed_password: Some(legacy.to_owned()),
        ..Default::default()
    };
    app.state
        .manager()
        .store()
        .update(&id, &changes)
        .await
        .unwrap();
    app.token("tristan@camelot.bt", "guinevere").await;
    let stored = app.state.manager().get(&id).await.unwrap().unwrap();
    assert!(
        stored.hashed_password.starts_with("$argon2id$"),
        "rehashed on login: {}",
        stored.hashed_password
    );
    app.token("tristan@camelot.bt", "guinevere").await;
}

db_tests!(
    bearer_login_issues_the_reference_jwt,
    login_accepts_multipart_and_any_email_case,
    bad_credentials_are_indistinguishable,
    login_form_errors_are_422,
    cookie_login_and_logout,
    bearer_logout_is_204_and_jwt_stays_valid,
    hostile_tokens_are_401,
    bcrypt_hashes_log_in_and_are_upgraded,
);
