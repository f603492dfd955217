//! The tokens that email verification and password reset send by email.
//!
//! Both tokens are HS256 JWTs with their own key, audience and lifetime (3600 s by default),
//! as fastapi-users makes them. The verification token names the user and their email, so it
//! dies when the email changes; the reset token carries a fingerprint of the stored password
//! hash, so it is single-use and dies when the password changes.

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::keys::{KeySet, Purpose, Secret};
use crate::token;
use crate::user::User;

/// The audience of verification tokens.
pub(crate) const VERIFY_AUDIENCE: &str = "fastapi-users:verify";
/// The audience of reset-password tokens.
pub(crate) const RESET_AUDIENCE: &str = "fastapi-users:reset";

/// Keys and lifetimes of the verification and reset tokens.
///
/// ```
/// use fastusers::EmailTokens;
/// use fastusers::keys::Secret;
/// use fastusers::keys::JwtKeys;
///
/// // A key per purpose, derived from the application's secret.
/// let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
/// let tokens = EmailTokens::from_secret(&secret).verify_lifetime(24 * 3600);
/// // Or keys of your own (here fastapi-users' `verification_token_secret` and
/// // `reset_password_token_secret`).
/// let tokens = EmailTokens::new(
///     JwtKeys::hs256("the verification secret, 32 bytes+").unwrap(),
///     JwtKeys::hs256("the reset-password secret, 32 bytes").unwrap(),
/// );
/// # let _ = tokens;
/// ```
#[derive(Debug, Clone)]
pub struct EmailTokens {
    verify: KeySet,
    verify_lifetime: u64,
    reset: KeySet,
    reset_lifetime: u64,
}

impl Default for EmailTokens {
    /// Random keys (tokens die with the process) and 3600 s lifetimes.
    fn default() -> Self {
        Self::from_secret(&Secret::random())
    }
}

impl EmailTokens {
    /// Tokens signed with these keys (each a [`JwtKeys`](crate::token::JwtKeys) or a
    /// [`KeySet`]), valid 3600 s.
    pub fn new(verify: impl Into<KeySet>, reset: impl Into<KeySet>) -> Self {
        Self {
            verify: verify.into(),
            verify_lifetime: 3600,
            reset: reset.into(),
            reset_lifetime: 3600,
        }
    }

    /// Tokens signed with the secret's [`Purpose::VERIFY`] and [`Purpose::RESET`] keys.
    pub fn from_secret(secret: &Secret) -> Self {
        Self::new(secret.keys(Purpose::VERIFY), secret.keys(Purpose::RESET))
    }

    /// The verification tokens' lifetime in seconds.
    pub fn verify_lifetime(mut self, seconds: u64) -> Self {
        self.verify_lifetime = seconds;
        self
    }

    /// The reset tokens' lifetime in seconds.
    pub fn reset_lifetime(mut self, seconds: u64) -> Self {
        self.reset_lifetime = seconds;
        self
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct VerifyClaims {
    pub(super) sub: Option<String>,
    pub(super) email: Option<String>,
    pub(super) aud: String,
    pub(super) exp: u64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ResetClaims {
    pub(super) sub: Option<String>,
    pub(super) password_fgpt: Option<String>,
    pub(super) aud: String,
    pub(super) exp: u64,
}

/// A fingerprint of a stored password hash: it changes whenever the password does (the hash is
/// salted), and the token that carries it is signed, so it cannot be forged.
pub(super) fn fingerprint(hashed_password: &str) -> String {
    sha2::Sha256::digest(hashed_password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl EmailTokens {
    /// A verification token for the user, as fastapi-users makes it.
    pub(super) fn verify_token<U: User>(&self, user: &U) -> Option<String> {
        let claims = VerifyClaims {
            sub: Some(user.id().to_string()),
            email: Some(user.email().to_owned()),
            aud: VERIFY_AUDIENCE.to_owned(),
            exp: token::now() + self.verify_lifetime,
        };
        self.verify.encode(&claims).ok()
    }

    /// The claims of a valid verification token.
    pub(super) fn read_verify_token(&self, token: &str) -> Option<VerifyClaims> {
        self.verify.decode(token, &[VERIFY_AUDIENCE])
    }

    /// A reset-password token for the user, bound to their current password hash.
    pub(super) fn reset_token<U: User>(&self, user: &U) -> Option<String> {
        let claims = ResetClaims {
            sub: Some(user.id().to_string()),
            password_fgpt: Some(fingerprint(user.hashed_password())),
            aud: RESET_AUDIENCE.to_owned(),
            exp: token::now() + self.reset_lifetime,
        };
        self.reset.encode(&claims).ok()
    }

    /// The claims of a valid reset-password token.
    pub(super) fn read_reset_token(&self, token: &str) -> Option<ResetClaims> {
        self.reset.decode(token, &[RESET_AUDIENCE])
    }
}
