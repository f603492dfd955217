//! Token parsing: `JwtKeys::decode`, `JwtKeys::decode_or_why` and `JwtStrategy::user_id` (what
//! `JwtStrategy::read_token` does before it asks the store for the user) must never panic,
//! whatever the token, and must accept only what a signed, unexpired, well-addressed HS256 token
//! allows.
//!
//! The first input byte picks a mode:
//! - 0: the rest, as lossy UTF-8, is a token given to the HS256, RS256 and ES256 keys;
//! - 1: the rest is a header and claims that this target signs with the HS256 secret (so the
//!   fuzzer reaches the header and claims checks past the signature); the second byte is the
//!   header's length, 0 for the standard `{"alg":"HS256","typ":"JWT"}`;
//! - 2: the rest is a header, claims and a signature, base64url-encoded and joined, given to the
//!   RS256 and ES256 keys (arbitrary signatures reach RSA and ECDSA verification).

#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fastusers::strategy::{AUTH_AUDIENCE, JwtStrategy};
use fastusers::keys::{DecodeFailure, JwtKeys, now};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &[u8] = b"SECRET";
const AUD: &[&str] = &[AUTH_AUDIENCE];

static HS256: LazyLock<JwtKeys> = LazyLock::new(|| JwtKeys::hs256(SECRET));
static RS256: LazyLock<JwtKeys> = LazyLock::new(|| {
    JwtKeys::rs256_pem(
        include_bytes!("../../tests/keys/rs256-private.pem"),
        include_bytes!("../../tests/keys/rs256-public.pem"),
    )
    .expect("the test RS256 keys load")
});
static ES256: LazyLock<JwtKeys> = LazyLock::new(|| {
    JwtKeys::es256_pem(
        include_bytes!("../../tests/keys/es256-private.pem"),
        include_bytes!("../../tests/keys/es256-public.pem"),
    )
    .expect("the test ES256 keys load")
});
static STRATEGIES: LazyLock<[JwtStrategy; 3]> = LazyLock::new(|| {
    [
        JwtStrategy::new(HS256.clone(), Some(3600)),
        JwtStrategy::new(RS256.clone(), Some(3600)),
        JwtStrategy::new(ES256.clone(), Some(3600)),
    ]
});

/// Decodes with every entry point of one key and checks they agree; the claims when accepted.
fn decode_all(keys: &JwtKeys, strategy: &JwtStrategy, token: &str) -> Option<Value> {
    let value: Option<Value> = keys.decode(token, AUD);
    let why = keys.decode_or_why::<Value>(token, AUD);
    assert_eq!(
        value.is_some(),
        why.is_ok(),
        "decode and decode_or_why disagree on {token:?}"
    );
    let _ = keys.decode::<Value>(token, &[]);
    let _ = keys.decode::<Value>(token, &["fastapi-users:verify", AUTH_AUDIENCE]);
    let uuid = strategy.user_id::<uuid::Uuid>(token);
    let int = strategy.user_id::<i64>(token);
    match &value {
        None => {
            assert!(uuid.is_none() && int.is_none(), "a refused token named a user: {token:?}");
            assert!(matches!(why, Err(DecodeFailure::Expired | DecodeFailure::Invalid)));
        }
        Some(claims) => {
            check_accepted(claims, token);
            let sub = claims.get("sub").and_then(Value::as_str);
            if let Some(id) = uuid {
                assert_eq!(Some(id), sub.and_then(|s| uuid::Uuid::parse_str(s.trim()).ok()));
            }
            if let Some(id) = int {
                assert_eq!(Some(id), sub.and_then(|s| s.trim().parse().ok()));
            }
        }
    }
    value
}

/// What an accepted token must satisfy: the audience and, when present, an unexpired `exp`.
fn check_accepted(claims: &Value, token: &str) {
    let aud_ok = match claims.get("aud") {
        Some(Value::String(s)) => s == AUTH_AUDIENCE,
        Some(Value::Array(items)) => items.iter().any(|a| a == AUTH_AUDIENCE),
        _ => false,
    };
    assert!(aud_ok, "accepted a token without our audience: {token:?} {claims}");
    if let Some(exp) = claims.get("exp") {
        let exp = exp
            .as_f64()
            .unwrap_or_else(|| panic!("accepted a non-numeric exp: {token:?} {claims}"));
        // One second of slack: the check and this line may straddle a second.
        assert!(exp + 1.0 >= now() as f64, "accepted an expired token: {token:?} {claims}");
    }
}

fn sign_hs256(header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let [hs, rs, es] = &*STRATEGIES;
    match mode % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            decode_all(&HS256, hs, &token);
            decode_all(&RS256, rs, &token);
            decode_all(&ES256, es, &token);
        }
        1 => {
            let Some((&header_len, rest)) = rest.split_first() else { return };
            let (header, claims): (&[u8], &[u8]) = if header_len == 0 {
                (br#"{"alg":"HS256","typ":"JWT"}"#, rest)
            } else {
                rest.split_at((header_len as usize).min(rest.len()))
            };
            let token = sign_hs256(header, claims);
            if decode_all(&HS256, hs, &token).is_some() {
                // The algorithm is pinned: only an HS256 header may pass.
                let header: Value = serde_json::from_slice(header)
                    .unwrap_or_else(|e| panic!("accepted a header that is not JSON ({e}): {token:?}"));
                assert_eq!(header["alg"], "HS256", "accepted another algorithm: {token:?}");
            }
            // Someone else's key must refuse it.
            assert!(RS256.decode::<Value>(&token, AUD).is_none());
            assert!(ES256.decode::<Value>(&token, AUD).is_none());
        }
        _ => {
            // Three parts: lengths from the next two bytes.
            let Some((&[a, b], rest)) = rest.split_first_chunk::<2>() else { return };
            let a = (a as usize).min(rest.len());
            let (header, rest) = rest.split_at(a);
            let b = (b as usize).min(rest.len());
            let (claims, signature) = rest.split_at(b);
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims),
                URL_SAFE_NO_PAD.encode(signature)
            );
            decode_all(&RS256, rs, &token);
            decode_all(&ES256, es, &token);
            decode_all(&HS256, hs, &token);
        }
    }
});
