//! JSON Web Tokens and opaque random tokens.
//!
//! JWTs follow RFC 8725: the algorithm is pinned by the key (a token naming another algorithm,
//! or `none`, is refused), the audience is always checked, and there is no clock leeway.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The shortest HS256 secret accepted without [`Secret::accept_weak`]: 32 bytes, the output
/// size of SHA-256 (RFC 7518, section 3.2).
///
/// [`Secret::accept_weak`]: crate::keys::Secret::accept_weak
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a key could not be made, or a key set not changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The HS256 secret is shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the HS256 secret is {len} bytes long, but it must be at least {MIN_SECRET_BYTES} bytes of \
         random data: anybody who finds a short secret by brute force can sign tokens for every \
         user (RFC 7518, section 3.2). Make one with `openssl rand -hex 32`; to keep this one \
         (a deployment that already uses it), accept it explicitly with `Secret::accept_weak`"
    )]
    WeakSecret {
        /// The secret's length in bytes.
        len: usize,
    },
    /// A PEM key could not be read.
    #[error("invalid JWT key")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    /// A key added to a [`KeySet`](crate::keys::KeySet) has no key id, or one the set has.
    #[error("a key added to a key set needs a key id of its own (`JwtKeys::kid`); {0}")]
    KeyId(&'static str),
    /// Retiring this key would leave no key to sign with.
    #[error("key {0:?} signs new tokens: rotate to another key before retiring it")]
    SigningKey(String),
}

/// `secret` if it is at least [`MIN_SECRET_BYTES`] long, else [`KeyError::WeakSecret`].
pub(crate) fn check_strength(secret: &[u8]) -> Result<&[u8], KeyError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError::WeakSecret { len: secret.len() });
    }
    Ok(secret)
}

/// A signing key and the key that checks it, for one pinned algorithm, with an optional key
/// id (`kid`) for [key sets](crate::keys::KeySet).
///
/// ```
/// use fastusers::keys::JwtKeys;
/// let keys = JwtKeys::hs256("a secret of at least 32 bytes, random").unwrap();
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
    kid: Option<String>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// HMAC-SHA256 with a shared secret (the reference's default), used as it is. A secret
    /// shorter than [`MIN_SECRET_BYTES`] is refused with [`KeyError::WeakSecret`]; see
    /// [`Secret`](crate::keys::Secret) to accept one anyway, or to derive one key per purpose.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = check_strength(secret.as_ref())?;
        Ok(Self::hs256_unchecked(secret))
    }

    /// HS256 with any secret: the caller has checked it, or accepted it.
    pub(crate) fn hs256_unchecked(secret: &[u8]) -> Self {
        Self {
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            kid: None,
        }
    }

    /// RSA-SHA256 with a PEM private key (to sign) and its PEM public key (to verify).
    pub fn rs256_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            algorithm: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(private_pem).map_err(KeyError::Invalid)?,
            decoding: DecodingKey::from_rsa_pem(public_pem).map_err(KeyError::Invalid)?,
            kid: None,
        })
    }

    /// ECDSA P-256 SHA-256 with a PEM (PKCS#8) private key and its PEM public key.
    pub fn es256_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            algorithm: Algorithm::ES256,
            encoding: EncodingKey::from_ec_pem(private_pem).map_err(KeyError::Invalid)?,
            decoding: DecodingKey::from_ec_pem(public_pem).map_err(KeyError::Invalid)?,
            kid: None,
        })
    }

    /// Names this key: its tokens carry `"kid": kid` in their header, and a
    /// [`KeySet`](crate::keys::KeySet) finds the key of a token by it. Default: none, and no
    /// `kid` in the header (as fastapi-users' tokens).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if the key has one.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The pinned algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs `claims` with the header `{"alg": ..., "typ": "JWT"}`, plus `"kid"` when the key
    /// has an id.
    pub fn encode<C: Serialize>(&self, claims: &C) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.algorithm);
        header.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&header, claims, &self.encoding)
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

/// How a token's stored form begins. No token has it: [`random_token`] and fastapi-users'
/// `token_urlsafe()` use URL-safe base64 only, so no stored form is ever accepted as a token.
const STORED_PREFIX: char = '$';

/// How many bytes of a token's SHA-256 its stored form keeps: 31 bytes (248 bits) fill the 42
/// characters left beside the prefix in fastapi-users' `accesstoken.token`, a `VARCHAR(43)`.
const STORED_DIGEST_BYTES: usize = 31;

/// The form in which the Redis and database strategies store an opaque token: `$` and the
/// first 31 bytes of the token's SHA-256, in URL-safe base64 without padding (43 characters,
/// the width of fastapi-users' `accesstoken.token` column). The token itself is never stored,
/// so a read of the table or of Redis gives no usable session; and a stored form has a `$`,
/// which no token has, so it is never accepted as a token either.
///
/// ```
/// use fastusers::keys::{is_opaque, random_token, stored_form};
/// let token = random_token();
/// let stored = stored_form(&token);
/// assert_eq!(stored.len(), 43);
/// assert!(stored.starts_with('$') && !is_opaque(&stored));
/// assert_eq!(stored, stored_form(&token));
/// ```
pub fn stored_form(token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let encoded =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..STORED_DIGEST_BYTES]);
    format!("{STORED_PREFIX}{encoded}")
}

/// The leading bytes of a token's SHA-256, from the token itself or from its
/// [`stored_form`] (what a token store lists): the same for both.
pub(crate) fn digest_prefix(token_or_stored: &str) -> [u8; 16] {
    use sha2::Digest as _;
    let mut prefix = [0u8; 16];
    let decoded = token_or_stored
        .strip_prefix(STORED_PREFIX)
        .and_then(|b64| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .ok()
        })
        .filter(|bytes| bytes.len() == STORED_DIGEST_BYTES);
    match decoded {
        Some(bytes) => prefix.copy_from_slice(&bytes[..16]),
        None => prefix.copy_from_slice(&sha2::Sha256::digest(token_or_stored.as_bytes())[..16]),
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const AUD: &[&str] = &["fastapi-users:auth"];
    const S: &str = "a test secret of thirty-two bytes";
    const OTHER: &str = "another secret, also 32 bytes long";

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
    fn a_stored_form_is_a_prefixed_digest_and_names_the_same_session() {
        let token = random_token();
        let stored = stored_form(&token);
        assert_eq!(stored.len(), 43, "fits fastapi-users' VARCHAR(43)");
        assert!(!stored.contains(&token) && !is_opaque(&stored));
        assert_ne!(stored, stored_form(&random_token()));
        assert_eq!(digest_prefix(&token), digest_prefix(&stored));
        // A stored form is never mistaken for a token of its own.
        assert_ne!(stored_form(&stored), stored);
    }

    #[test]
    fn expired_tokens_are_refused_without_leeway() {
        let keys = JwtKeys::hs256(S).unwrap();
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
        let keys = JwtKeys::hs256(S).unwrap();
        let token = keys.encode(&json!({"sub": "1", "aud": AUD})).unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_some());
        let token = keys.encode(&json!({"sub": "1"})).unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_none());
    }

    #[test]
    fn alg_none_and_other_secrets_are_refused() {
        let keys = JwtKeys::hs256(S).unwrap();
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&json!({"sub": "1", "aud": AUD}))
        );
        assert!(keys.decode::<Value>(&unsigned, AUD).is_none());
        let forged = JwtKeys::hs256(OTHER)
            .unwrap()
            .encode(&json!({"sub": "1", "aud": AUD}))
            .unwrap();
        assert!(keys.decode::<Value>(&forged, AUD).is_none());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &json!({"sub": "1", "aud": AUD}),
            &EncodingKey::from_secret(S.as_bytes()),
        )
        .unwrap();
        assert!(
            keys.decode::<Value>(&hs512, AUD).is_none(),
            "the algorithm is pinned"
        );
    }

    #[test]
    fn short_hs256_secrets_are_refused_with_the_reason() {
        let error = JwtKeys::hs256("SECRET").unwrap_err();
        assert!(matches!(error, KeyError::WeakSecret { len: 6 }));
        let message = error.to_string();
        assert!(
            message.contains("6 bytes long") && message.contains("at least 32 bytes"),
            "{message}"
        );
        assert!(message.contains("Secret::accept_weak"), "{message}");
        assert!(JwtKeys::hs256([7u8; 31]).is_err());
        assert!(JwtKeys::hs256([7u8; 32]).is_ok());
    }

    #[test]
    fn a_key_id_goes_into_the_header() {
        let token = JwtKeys::hs256(S)
            .unwrap()
            .kid("2025-06")
            .encode(&json!({"aud": AUD}))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some("2025-06"));
        let plain = JwtKeys::hs256(S)
            .unwrap()
            .encode(&json!({"aud": AUD}))
            .unwrap();
        assert_eq!(jsonwebtoken::decode_header(&plain).unwrap().kid, None);
    }

    #[test]
    fn non_numeric_exp_is_refused() {
        let keys = JwtKeys::hs256(S).unwrap();
        let token = keys
            .encode(&json!({"sub": "1", "aud": AUD, "exp": "tomorrow"}))
            .unwrap();
        assert!(keys.decode::<Value>(&token, AUD).is_none());
    }
}
