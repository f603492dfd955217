//! JWT strategies with key pairs (RS256, ES256), and the attacks RFC 8725 warns about.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use fastusers::JwtKeys;
use fastusers::keys::now;
use fastusers_tests::{Db, Options, SECRET, TestApp, db_tests};
use serde_json::{Value, json};

const RS_PRIVATE: &[u8] = include_bytes!("../keys/rs256-private.pem");
const RS_PUBLIC: &[u8] = include_bytes!("../keys/rs256-public.pem");
const ES_PRIVATE: &[u8] = include_bytes!("../keys/es256-private.pem");
const ES_PUBLIC: &[u8] = include_bytes!("../keys/es256-public.pem");

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn key_pair_logins(db: Db, keys: JwtKeys, alg: &str) {
    let app = TestApp::with(
        db,
        Options {
            keys: Some(keys.into()),
            ..Options::default()
        },
    )
    .await;
    let user = app.register("gareth@camelot.bt", "guinevere").await;
    let token = app.token("gareth@camelot.bt", "guinevere").await;
    assert_eq!(header_of(&token)["alg"], alg);
    app.request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::OK, user.clone());

    let claims = json!({"sub": user["id"], "aud": ["fastapi-users:auth"], "exp": now() + 60});
    // Algorithm confusion: an HS256 token whose HMAC key is the server's public key.
    let confused = JwtKeys::hs256(if alg == "RS256" { RS_PUBLIC } else { ES_PUBLIC })
        .unwrap()
        .encode(&claims)
        .unwrap();
    assert_eq!(header_of(&confused)["alg"], "HS256");
    let response = app
        .request(Method::GET, "/users/me")
        .bearer(&confused)
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "an HS256 token signed with the public key is refused"
    );
    // A token of the shared-secret configuration is refused too.
    let hs = JwtKeys::hs256(SECRET).unwrap().encode(&claims).unwrap();
    assert_eq!(app.me_status(&hs).await, StatusCode::UNAUTHORIZED);
}

async fn rs256_tokens(db: Db) {
    key_pair_logins(
        db,
        JwtKeys::rs256_pem(RS_PRIVATE, RS_PUBLIC).unwrap(),
        "RS256",
    )
    .await;
}

async fn es256_tokens(db: Db) {
    key_pair_logins(
        db,
        JwtKeys::es256_pem(ES_PRIVATE, ES_PUBLIC).unwrap(),
        "ES256",
    )
    .await;
}

db_tests!(rs256_tokens, es256_tokens);

#[test]
fn malformed_keys_are_errors_not_panics() {
    assert!(JwtKeys::rs256_pem(b"not a key", RS_PUBLIC).is_err());
    assert!(
        JwtKeys::es256_pem(
            ES_PRIVATE,
            b"-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n"
        )
        .is_err()
    );
}
