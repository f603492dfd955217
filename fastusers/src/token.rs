//! JSON Web Tokens and opaque random tokens.
//!
//! JWTs follow RFC 8725: the algorithm is pinned by the key (a token naming another algorithm,
//! or `none`, is refused), the audience is always checked, and there is no clock leeway.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid JWT key: {0}")]
pub struct KeyError(String);

/// A signing key and the key that checks it, for one pinned algorithm.
///
/// ```
/// use fastusers::token::JwtKeys;
/// let keys = JwtKeys::hs256("SECRET");
/// let token = keys.encode(&serde_json::json!({"sub": "42", "aud": ["fastapi-users:auth"]})).unwrap();
/// let claims: serde_json::Value = keys.decode(&token, &["fastapi-users:auth"]).unwrap();
/// assert_eq!(claims["sub"], "42");
/// assert!(keys.decode::<serde_json::Value>(&token, &["fastapi-users:verify"]).is_none());
/// ```
#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// HMAC-SHA256 with a shared secret (the reference's default).
    pub fn hs256(secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        Self {
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// RSA-SHA256 with a PEM private key (to sign) and its PEM public key (to verify).
    pub fn rs256_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            algorithm: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(private_pem)
                .map_err(|e| KeyError(e.to_string()))?,
            decoding: DecodingKey::from_rsa_pem(public_pem).map_err(|e| KeyError(e.to_string()))?,
        })
    }

    /// ECDSA P-256 SHA-256 with a PEM (PKCS#8) private key and its PEM public key.
    pub fn es256_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            algorithm: Algorithm::ES256,
            encoding: EncodingKey::from_ec_pem(private_pem).map_err(|e| KeyError(e.to_string()))?,
            decoding: DecodingKey::from_ec_pem(public_pem).map_err(|e| KeyError(e.to_string()))?,
        })
    }

    /// The pinned algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs `claims` with the header `{"alg": ..., "typ": "JWT"}`.
    pub fn encode<C: Serialize>(&self, claims: &C) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.encoding)
    }

    /// Verifies and decodes a token: signature with the pinned algorithm only, `aud` must hold
    /// one of `audience`, `exp` (when present) must be in the future, no leeway. `None` for any
    /// failure.
    pub fn decode<C: DeserializeOwned>(&self, token: &str, audience: &[&str]) -> Option<C> {
        self.decode_or_why(token, audience).ok()
    }

    /// [`decode`](Self::decode), telling an expired token from any other failure.
    pub fn decode_or_why<C: DeserializeOwned>(
        &self,
        token: &str,
        audience: &[&str],
    ) -> Result<C, DecodeFailure> {
        let mut validation = Validation::new(self.algorithm);
        validation.set_audience(audience);
        validation.set_required_spec_claims(&["aud"]);
        validation.leeway = 0;
        validation.validate_exp = true;
        jsonwebtoken::decode::<C>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => DecodeFailure::Expired,
                _ => DecodeFailure::Invalid,
            })
    }
}

/// Why [`JwtKeys::decode_or_why`] refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeFailure {
    /// Valid but past its `exp`.
    Expired,
    /// Anything else: malformed, forged, another algorithm, a wrong or missing audience.
    Invalid,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// 32 bytes from the operating system's CSPRNG, URL-safe base64 without padding: 43 characters,
/// like Python's `secrets.token_urlsafe()`.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether a token can be an opaque token of a Redis or database strategy: at most 43
/// URL-safe base64 characters (what [`random_token`] and fastapi-users' `token_urlsafe()`
/// make, and what the `accesstoken` table holds). A JWT cannot: those strategies skip it
/// without a lookup, so a refused JWT is a 401 even while their store is down.
pub fn is_opaque(token: &str) -> bool {
    (1..=43).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const AUD: &[&str] = &["fastapi-users:auth"];

    #[test]
    fn random_tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
        assert!(is_opaque(&a));
        assert!(!is_opaque(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
        ));
        assert!(!is_opaque(""));
        assert!(!is_opaque(&format!("{a}x")));
    }

    #[test]
    fn expired_tokens_are_refused_without_leeway() {
        let keys = JwtKeys::hs256("s");
        let token = keys
            .encode(&json!({"sub": "1", "aud": AUD, "exp": now() - 1}))
            .unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_none());
        let token = keys
            .encode(&json!({"sub": "1", "aud": AUD, "exp": now() + 60}))
            .unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_some());
    }

    #[test]
    fn tokens_without_exp_never_expire_but_need_an_audience() {
        let keys = JwtKeys::hs256("s");
        let token = keys.encode(&json!({"sub": "1", "aud": AUD})).unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_some());
        let token = keys.encode(&json!({"sub": "1"})).unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_none());
    }

    #[test]
    fn alg_none_and_other_secrets_are_refused() {
        let keys = JwtKeys::hs256("s");
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&json!({"sub": "1", "aud": AUD}))
        );
        assert!(keys.decode::<Value>(&unsigned, AUD).is_none());
        let forged = JwtKeys::hs256("other")
            .encode(&json!({"sub": "1", "aud": AUD}))
            .unwrap();
        assert!(keys.decode::<Value>(&forged, AUD).is_none());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &json!({"sub": "1", "aud": AUD}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert!(
            keys.decode::<Value>(&hs512, AUD).is_none(),
            "the algorithm is pinned"
        );
    }

    #[test]
    fn non_numeric_exp_is_refused() {
        let keys = JwtKeys::hs256("s");
        let token = keys
            .encode(&json!({"sub": "1", "aud": AUD, "exp": "tomorrow"}))
            .unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_none());
    }
}
