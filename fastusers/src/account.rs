//! Email verification and password reset: their tokens and the manager's operations.
//!
//! Both tokens are HS256 JWTs with their own key, audience and lifetime (3600 s by default),
//! as fastapi-users makes them. The verification token names the user and their email, so it
//! dies when the email changes; the reset token carries a fingerprint of the stored password
//! hash, so it is single-use and dies when the password changes.

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::hooks::{PasswordOwner, RequestInfo};
use crate::keys::{KeySet, Purpose, Secret};
use crate::manager::{UserError, UserManager};
use crate::token;
use crate::user::{User, UserChanges, UserId};

/// The audience of verification tokens.
pub const VERIFY_AUDIENCE: &str = "fastapi-users:verify";
/// The audience of reset-password tokens.
pub const RESET_AUDIENCE: &str = "fastapi-users:reset";

/// Keys and lifetimes of the verification and reset tokens.
///
/// ```
/// use fastusers::account::AccountTokens;
/// use fastusers::keys::Secret;
/// use fastusers::token::JwtKeys;
///
/// // A key per purpose, derived from the application's secret.
/// let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
/// let tokens = AccountTokens::from_secret(&secret).verify_lifetime(24 * 3600);
/// // Or keys of your own (here fastapi-users' `verification_token_secret` and
/// // `reset_password_token_secret`).
/// let tokens = AccountTokens::new(
///     JwtKeys::hs256("the verification secret, 32 bytes+").unwrap(),
///     JwtKeys::hs256("the reset-password secret, 32 bytes").unwrap(),
/// );
/// # let _ = tokens;
/// ```
#[derive(Debug, Clone)]
pub struct AccountTokens {
    verify: KeySet,
    verify_lifetime: u64,
    reset: KeySet,
    reset_lifetime: u64,
}

impl Default for AccountTokens {
    /// Random keys (tokens die with the process) and 3600 s lifetimes.
    fn default() -> Self {
        Self::from_secret(&Secret::random())
    }
}

impl AccountTokens {
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
struct VerifyClaims {
    sub: Option<String>,
    email: Option<String>,
    aud: String,
    exp: u64,
}

#[derive(Serialize, Deserialize)]
struct ResetClaims {
    sub: Option<String>,
    password_fgpt: Option<String>,
    aud: String,
    exp: u64,
}

/// A fingerprint of a stored password hash: it changes whenever the password does (the hash is
/// salted), and the token that carries it is signed, so it cannot be forged.
fn fingerprint(hashed_password: &str) -> String {
    sha2::Sha256::digest(hashed_password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<U: User> UserManager<U> {
    /// Uses these verification and reset token keys and lifetimes.
    pub fn with_account_tokens(mut self, tokens: AccountTokens) -> Self {
        self.account_tokens = tokens;
        self
    }

    /// Sends the verification and reset emails with this mailer, written by these templates,
    /// after the `on_after_request_verify` and `on_after_forgot_password` hooks. Each send
    /// runs in a background task; a failure is logged (see [`crate::mail`]).
    pub fn with_mailer(
        mut self,
        mailer: impl crate::mail::Mailer,
        templates: impl crate::mail::Templates,
    ) -> Self {
        self.mail = Some(crate::mail::AccountMail::new(mailer, templates));
        self
    }

    /// Makes `POST /register` request a verification token for each new user (as a
    /// `POST /request-verify-token` would), so that the verification email goes out without
    /// the client asking. Default: false, as the reference.
    pub fn send_verification_on_register(mut self, send: bool) -> Self {
        self.verify_on_register = send;
        self
    }

    /// Whether `POST /register` requests a verification token for each new user.
    pub fn sends_verification_on_register(&self) -> bool {
        self.verify_on_register
    }

    /// Makes a verification token for the user and hands it to `on_after_request_verify`, then
    /// to the mailer if there is one. Inactive and already-verified users get none.
    pub async fn request_verify(
        &self,
        user: &U,
        request: RequestInfo<'_>,
    ) -> Result<String, UserError> {
        if !user.is_active() {
            return Err(UserError::Inactive);
        }
        if user.is_verified() {
            return Err(UserError::AlreadyVerified);
        }
        let t = &self.account_tokens;
        let claims = VerifyClaims {
            sub: Some(user.id().to_string()),
            email: Some(user.email().to_owned()),
            aud: VERIFY_AUDIENCE.to_owned(),
            exp: token::now() + t.verify_lifetime,
        };
        let token = t.verify.encode(&claims).map_err(|_| UserError::BadToken)?;
        self.hooks()
            .on_after_request_verify(user, &token, request)
            .await;
        if let Some(mail) = &self.mail {
            mail.verify(user.email(), &token);
        }
        Ok(token)
    }

    /// Verifies the user a verification token names, if the token is valid and the user still
    /// has the email it was made for. Calls `on_after_verify`.
    pub async fn verify(&self, token: &str, request: RequestInfo<'_>) -> Result<U, UserError> {
        let claims: VerifyClaims = self
            .account_tokens
            .verify
            .decode(token, &[VERIFY_AUDIENCE])
            .ok_or(UserError::BadToken)?;
        let (Some(sub), Some(email)) = (claims.sub, claims.email) else {
            return Err(UserError::BadToken);
        };
        let user = self
            .get_by_email(&email)
            .await?
            .ok_or(UserError::BadToken)?;
        let id = U::Id::parse(&sub).ok_or(UserError::BadToken)?;
        if &id != user.id() || user.email() != email {
            return Err(UserError::BadToken);
        }
        if user.is_verified() {
            return Err(UserError::AlreadyVerified);
        }
        let mut changes = U::Changes::default();
        changes.set_is_verified(true);
        let user = self
            .store()
            .update(user.id(), &changes)
            .await?
            .ok_or(UserError::BadToken)?;
        self.hooks().on_after_verify(&user, request).await;
        Ok(user)
    }

    /// Makes a reset-password token for the user and hands it to `on_after_forgot_password`,
    /// then to the mailer if there is one. Inactive users get none.
    pub async fn forgot_password(
        &self,
        user: &U,
        request: RequestInfo<'_>,
    ) -> Result<String, UserError> {
        if !user.is_active() {
            return Err(UserError::Inactive);
        }
        let t = &self.account_tokens;
        let claims = ResetClaims {
            sub: Some(user.id().to_string()),
            password_fgpt: Some(fingerprint(user.hashed_password())),
            aud: RESET_AUDIENCE.to_owned(),
            exp: token::now() + t.reset_lifetime,
        };
        let token = t.reset.encode(&claims).map_err(|_| UserError::BadToken)?;
        self.hooks()
            .on_after_forgot_password(user, &token, request)
            .await;
        if let Some(mail) = &self.mail {
            mail.reset(user.email(), &token);
        }
        Ok(token)
    }

    /// Sets a new password with a reset token: the token must be valid, made for the current
    /// password (so it works once) and the user active; then `validate_password`, the new
    /// hash (which revokes the user's sessions), and `on_after_reset_password`.
    pub async fn reset_password(
        &self,
        token: &str,
        password: &str,
        request: RequestInfo<'_>,
    ) -> Result<U, UserError> {
        let claims: ResetClaims = self
            .account_tokens
            .reset
            .decode(token, &[RESET_AUDIENCE])
            .ok_or(UserError::BadToken)?;
        let (Some(sub), Some(fgpt)) = (claims.sub, claims.password_fgpt) else {
            return Err(UserError::BadToken);
        };
        let id = U::Id::parse(&sub).ok_or(UserError::BadToken)?;
        let user = self.get(&id).await?.ok_or(UserError::BadToken)?;
        if fingerprint(user.hashed_password()) != fgpt || !user.is_active() {
            return Err(UserError::BadToken);
        }
        self.check_password(password, PasswordOwner::Existing(&user))
            .await?;
        let mut changes = U::Changes::default();
        changes.set_hashed_password(self.passwords().hash(password.to_owned()).await?);
        let user = self.apply(&user, changes, request).await?;
        self.hooks().on_after_reset_password(&user, request).await;
        Ok(user)
    }
}
