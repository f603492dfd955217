//! The OAuth state token, the double-submit CSRF cookie, and the PKCE verifier and OpenID
//! Connect nonce derived from it.
//!
//! The state is an HS256 JWT `{"csrftoken", "aud": "fastapi-users:oauth-state", "exp"}` (plus
//! `sub`, the user, when linking an account), as fastapi-users makes it. The same random
//! `csrftoken` goes into an HttpOnly cookie; the callback needs both to match. The PKCE
//! verifier and the nonce are HMACs of the CSRF token under the state key (each under a
//! label of its own): the server can recompute them at the callback, and nobody without the
//! cookie and the key can.

use hmac::{Hmac, Mac};
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use openidconnect::Nonce;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::keys::{Purpose, Secret};
use crate::token::{self, DecodeFailure, JwtKeys};

/// The audience of OAuth state tokens.
pub const STATE_AUDIENCE: &str = "fastapi-users:oauth-state";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StateClaims {
    pub(crate) csrftoken: String,
    pub(crate) aud: String,
    pub(crate) exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<String>,
}

/// The signing key of state tokens and PKCE verifiers: the [`Purpose::OAUTH_STATE`] key of
/// the application's secret.
#[derive(Clone)]
pub(crate) struct StateSecret {
    keys: JwtKeys,
    raw: Vec<u8>,
}

impl std::fmt::Debug for StateSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSecret(..)")
    }
}

impl StateSecret {
    pub(crate) fn new(secret: &Secret) -> Self {
        Self {
            keys: secret.keys(Purpose::OAUTH_STATE),
            raw: secret.key_bytes(Purpose::OAUTH_STATE),
        }
    }

    /// A new state token for this CSRF token (and user, when linking).
    pub(crate) fn issue(&self, csrftoken: &str, sub: Option<String>, lifetime: u64) -> String {
        let claims = StateClaims {
            csrftoken: csrftoken.to_owned(),
            aud: STATE_AUDIENCE.to_owned(),
            exp: token::now() + lifetime,
            sub,
        };
        // HS256 over serialisable claims cannot fail.
        self.keys.encode(&claims).unwrap_or_default()
    }

    /// The claims of a state token made by [`issue`](Self::issue).
    pub(crate) fn read(&self, state: &str) -> Result<StateClaims, DecodeFailure> {
        self.keys.decode_or_why(state, &[STATE_AUDIENCE])
    }

    /// base64url(HMAC-SHA256(secret, label ‖ csrftoken)), 43 characters.
    fn derive(&self, label: &[u8], csrftoken: &str) -> String {
        use base64::Engine as _;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.raw).expect("HMAC takes any key");
        mac.update(label);
        mac.update(csrftoken.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The PKCE verifier of a flow.
    pub(crate) fn pkce_verifier(&self, csrftoken: &str) -> PkceCodeVerifier {
        PkceCodeVerifier::new(self.derive(b"fastusers-pkce:", csrftoken))
    }

    /// The OpenID Connect nonce of a flow: sent in the authorization URL, and required in the
    /// ID token.
    pub(crate) fn nonce(&self, csrftoken: &str) -> Nonce {
        Nonce::new(self.derive(b"fastusers-nonce:", csrftoken))
    }

    /// The S256 challenge of [`pkce_verifier`](Self::pkce_verifier).
    pub(crate) fn pkce_challenge(&self, csrftoken: &str) -> PkceCodeChallenge {
        PkceCodeChallenge::from_code_verifier_sha256(&self.pkce_verifier(csrftoken))
    }
}

/// Compares two strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state secret of these tests, used as it is (as fastapi-users' `state_secret`).
    const STATE: &str = "state-secret, thirty-two bytes long";

    fn raw(secret: &str) -> Secret {
        Secret::accept_weak(secret).same_key_for_every_purpose()
    }

    #[test]
    fn state_round_trip_and_failures() {
        let secret = StateSecret::new(&raw(STATE));
        let state = secret.issue("csrf", Some("42".into()), 60);
        let claims = secret.read(&state).unwrap();
        assert_eq!(
            (claims.csrftoken.as_str(), claims.sub.as_deref()),
            ("csrf", Some("42"))
        );
        assert_eq!(
            StateSecret::new(&raw("other")).read(&state).unwrap_err(),
            DecodeFailure::Invalid
        );
        let expired = JwtKeys::hs256(STATE)
            .unwrap()
            .encode(&serde_json::json!({"csrftoken": "c", "aud": STATE_AUDIENCE, "exp": 1}))
            .unwrap();
        assert_eq!(secret.read(&expired).unwrap_err(), DecodeFailure::Expired);
        let wrong_audience = JwtKeys::hs256(STATE).unwrap()
            .encode(&serde_json::json!({"csrftoken": "c", "aud": "fastapi-users:auth", "exp": token::now() + 60}))
            .unwrap();
        assert_eq!(
            secret.read(&wrong_audience).unwrap_err(),
            DecodeFailure::Invalid
        );
    }

    #[test]
    fn pkce_verifier_is_keyed_and_valid() {
        let a = StateSecret::new(&raw("one")).pkce_verifier("csrf");
        let b = StateSecret::new(&raw("two")).pkce_verifier("csrf");
        assert_ne!(a.secret(), b.secret());
        assert_eq!(a.secret().len(), 43);
        assert_eq!(
            a.secret(),
            StateSecret::new(&raw("one")).pkce_verifier("csrf").secret()
        );
        let nonce = StateSecret::new(&raw("one")).nonce("csrf");
        assert_eq!(nonce.secret().len(), 43);
        assert_ne!(
            nonce.secret(),
            a.secret(),
            "the nonce is not the PKCE verifier"
        );
        assert_ne!(
            nonce.secret(),
            StateSecret::new(&raw("one")).nonce("other").secret()
        );
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn a_derived_state_key_is_not_the_secret() {
        let secret = Secret::new(STATE).unwrap();
        let state = StateSecret::new(&secret).issue("csrf", None, 60);
        assert!(StateSecret::new(&secret).read(&state).is_ok());
        assert!(StateSecret::new(&raw(STATE)).read(&state).is_err());
        assert_ne!(
            StateSecret::new(&secret).pkce_verifier("csrf").secret(),
            StateSecret::new(&raw(STATE)).pkce_verifier("csrf").secret()
        );
    }
}
