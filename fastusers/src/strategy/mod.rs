//! Strategies: how a token is made from a user and a user found from a token.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::error::BoxError;
use crate::keys::KeySet;
use crate::manager::{UserError, UserManager};
use crate::revocation::{self, Timestamp};
use crate::store::StoreError;

use crate::user::{User, UserId};

/// Why a strategy could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// The user store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token could not be made.
    #[error("could not issue a token")]
    Issue(#[source] BoxError),
    /// The token service (Redis, the token table) cannot be reached: answered as a 503.
    #[error("the token service is unavailable")]
    Unavailable(#[source] BoxError),
    /// The transport refused the request's origin (CSRF): answered as a 403.
    #[error(transparent)]
    UntrustedOrigin(#[from] crate::transport::UntrustedOrigin),
}

/// One of a user's server-side sessions, as listed to them: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    /// An identifier derived from the token (a hash prefix): enough to revoke it, useless to
    /// authenticate with.
    pub id: String,
    /// When the session was created, in seconds since the Unix epoch.
    pub created_at: u64,
}

impl Session {
    /// The session id of a token: the first 16 bytes of its SHA-256, in hex. Given the token's
    /// [stored form](crate::token::stored_form), the id of the token it stands for: the same.
    pub fn id_of(token: &str) -> String {
        crate::token::digest_prefix(token)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl From<UserError> for StrategyError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Store(e) => Self::Store(e),
            other => Self::Issue(other.into()),
        }
    }
}

/// Makes, reads and destroys tokens.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a token strategy for `{U}`",
    label = "a backend is `name: Transport, Strategy;`: the strategy (`JwtStrategy`, `DatabaseStrategy<{U}>`, `RedisStrategy`) comes second",
    note = "a transport says how the token travels; a strategy how it is made and read"
)]
pub trait Strategy<U: User>: Send + Sync + 'static {
    /// The user this token belongs to; `None` when the token is invalid, expired or revoked, or
    /// the user is gone.
    fn read_token(
        &self,
        token: &str,
        manager: &UserManager<U>,
    ) -> impl Future<Output = Result<Option<U>, StrategyError>> + Send;

    /// A new token for the user.
    fn write_token(&self, user: &U) -> impl Future<Output = Result<String, StrategyError>> + Send;

    /// A new token for the user, whose login happened at `auth_time` (a refresh keeps the
    /// login's time): a JWT carries it as its `auth_time` claim. The default ignores it.
    fn write_token_at(
        &self,
        user: &U,
        auth_time: Timestamp,
    ) -> impl Future<Output = Result<String, StrategyError>> + Send {
        let _ = auth_time;
        self.write_token(user)
    }

    /// How long a new token lives, in seconds, when the strategy knows (a login's
    /// `expires_in`).
    fn lifetime_seconds(&self) -> Option<u64> {
        None
    }

    /// The time of the login a valid token descends from (a JWT's `auth_time` claim), when
    /// the token carries it. The default knows none.
    fn auth_time(&self, token: &str) -> Option<Timestamp> {
        let _ = token;
        None
    }

    /// Revokes the token, where the strategy can (see [`JwtStrategy`]: it cannot).
    fn destroy_token(
        &self,
        token: &str,
        user: &U,
    ) -> impl Future<Output = Result<(), StrategyError>> + Send;

    /// Revokes every token of the user, where the strategy keeps them (not JWT).
    fn revoke_all(&self, user: &U) -> impl Future<Output = Result<(), StrategyError>> + Send {
        let _ = user;
        async { Ok(()) }
    }

    /// The user's active sessions, or `None` when the strategy keeps no server-side state.
    fn sessions(
        &self,
        user: &U,
    ) -> impl Future<Output = Result<Option<Vec<Session>>, StrategyError>> + Send {
        let _ = user;
        async { Ok(None) }
    }

    /// Revokes the user's session with this id; whether there was one.
    fn revoke_session(
        &self,
        user: &U,
        id: &str,
    ) -> impl Future<Output = Result<bool, StrategyError>> + Send {
        let _ = (user, id);
        async { Ok(false) }
    }
}

/// A strategy that may be absent (say, Redis when no `REDIS_URL` is configured): `None` knows
/// no token and issues none.
impl<U: User, S: Strategy<U>> Strategy<U> for Option<S> {
    async fn read_token(
        &self,
        token: &str,
        manager: &UserManager<U>,
    ) -> Result<Option<U>, StrategyError> {
        match self {
            Some(s) => s.read_token(token, manager).await,
            None => Ok(None),
        }
    }

    async fn write_token(&self, user: &U) -> Result<String, StrategyError> {
        match self {
            Some(s) => s.write_token(user).await,
            None => Err(StrategyError::Unavailable(
                "this backend is not configured".into(),
            )),
        }
    }

    async fn write_token_at(
        &self,
        user: &U,
        auth_time: Timestamp,
    ) -> Result<String, StrategyError> {
        match self {
            Some(s) => s.write_token_at(user, auth_time).await,
            None => self.write_token(user).await,
        }
    }

    fn lifetime_seconds(&self) -> Option<u64> {
        self.as_ref().and_then(Strategy::<U>::lifetime_seconds)
    }

    fn auth_time(&self, token: &str) -> Option<Timestamp> {
        self.as_ref()
            .and_then(|s| Strategy::<U>::auth_time(s, token))
    }

    async fn destroy_token(&self, token: &str, user: &U) -> Result<(), StrategyError> {
        match self {
            Some(s) => s.destroy_token(token, user).await,
            None => Ok(()),
        }
    }

    async fn revoke_all(&self, user: &U) -> Result<(), StrategyError> {
        match self {
            Some(s) => s.revoke_all(user).await,
            None => Ok(()),
        }
    }

    async fn sessions(&self, user: &U) -> Result<Option<Vec<Session>>, StrategyError> {
        match self {
            Some(s) => s.sessions(user).await,
            None => Ok(None),
        }
    }

    async fn revoke_session(&self, user: &U, id: &str) -> Result<bool, StrategyError> {
        match self {
            Some(s) => s.revoke_session(user, id).await,
            None => Ok(false),
        }
    }
}

/// The audience of access tokens.
pub const AUTH_AUDIENCE: &str = "fastapi-users:auth";

/// Stateless JSON Web Tokens: `{"sub": "<user id>", "aud": ["fastapi-users:auth"], "exp": ...,
/// "iat": ...}`.
///
/// A single JWT cannot be revoked: logout answers 204 but the token stays valid until it
/// expires. Use short lifetimes, or a server-side strategy where logout must end the session.
/// All of a user's JWTs end together, though, when their sessions are revoked (a password
/// change, a reset, a deactivation: see [`crate::revocation`]): a token issued at or before the
/// user's revocation time is refused. The issue time is the `iat` claim, in seconds with a
/// microsecond fraction (RFC 7519 allows fractions); for a token without `iat` (one issued by
/// fastapi-users) it is `exp` minus the lifetime, and a token without either is refused once
/// the user has a revocation time.
///
/// The keys are a [`KeySet`], so that they can rotate: new tokens are signed with the newest
/// key, older ones checked until their key is retired.
///
/// ```
/// use fastusers::keys::{Purpose, Secret};
/// use fastusers::strategy::JwtStrategy;
/// let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
/// let strategy = JwtStrategy::new(secret.keys(Purpose::ACCESS), Some(3600));
/// ```
#[derive(Debug, Clone)]
pub struct JwtStrategy {
    keys: KeySet,
    lifetime_seconds: Option<u64>,
    audience: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    /// Seconds with a microsecond fraction: a token issued just after a revocation, in the same
    /// second, is younger than it.
    iat: f64,
    /// The time of the login that started this token's refresh family (OpenID Connect's
    /// `auth_time`), in seconds; kept across refreshes.
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<f64>,
}

#[derive(Deserialize)]
struct ReadClaims {
    sub: Option<String>,
    /// Checked by the decoder when present (a number in the future).
    exp: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    auth_time: Option<serde_json::Value>,
}

impl JwtStrategy {
    /// Tokens signed with `keys` (a [`JwtKeys`](crate::token::JwtKeys) or a [`KeySet`]),
    /// valid for `lifetime_seconds` (`None`: no `exp`, never expire).
    pub fn new(keys: impl Into<KeySet>, lifetime_seconds: Option<u64>) -> Self {
        Self {
            keys: keys.into(),
            lifetime_seconds,
            audience: vec![AUTH_AUDIENCE.to_owned()],
        }
    }

    /// Uses this audience instead of `["fastapi-users:auth"]`.
    pub fn audience(mut self, audience: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.audience = audience.into_iter().map(Into::into).collect();
        self
    }

    /// The keys, shared with every clone of the strategy: rotate them here.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Decodes a token into the user id it names, if valid.
    pub fn user_id<I: UserId>(&self, token: &str) -> Option<I> {
        self.read(token).map(|(id, _)| id)
    }

    /// The user id a valid token names, and when the token was issued, if that can be known.
    fn read<I: UserId>(&self, token: &str) -> Option<(I, Option<Timestamp>)> {
        let audience: Vec<&str> = self.audience.iter().map(String::as_str).collect();
        let claims: ReadClaims = self.keys.decode(token, &audience)?;
        // Tokens of a strategy with a lifetime must say when they expire (RFC 8725 3.10):
        // one without `exp` would never die.
        if self.lifetime_seconds.is_some() && claims.exp.is_none() {
            return None;
        }
        let issued_at = match (&claims.iat, &claims.exp, self.lifetime_seconds) {
            // RFC 7519: a NumericDate. Anything else is a malformed token.
            (Some(iat), _, _) => Some(revocation::from_seconds(iat.as_f64()?)?),
            // fastapi-users writes no `iat`: its tokens were issued one lifetime before `exp`.
            (None, Some(exp), Some(lifetime)) => {
                revocation::from_seconds(exp.as_f64()? - lifetime as f64)
            }
            (None, _, _) => None,
        };
        Some((I::parse(&claims.sub?)?, issued_at))
    }
}

impl<U: User> Strategy<U> for JwtStrategy {
    async fn read_token(
        &self,
        token: &str,
        manager: &UserManager<U>,
    ) -> Result<Option<U>, StrategyError> {
        let Some((id, issued_at)) = self.read::<U::Id>(token) else {
            return Ok(None);
        };
        Ok(manager
            .get_revocable(&id)
            .await?
            .and_then(|found| found.admit(issued_at)))
    }

    async fn write_token(&self, user: &U) -> Result<String, StrategyError> {
        self.write(user, None)
    }

    async fn write_token_at(
        &self,
        user: &U,
        auth_time: Timestamp,
    ) -> Result<String, StrategyError> {
        self.write(user, Some(auth_time))
    }

    fn lifetime_seconds(&self) -> Option<u64> {
        self.lifetime_seconds
    }

    fn auth_time(&self, token: &str) -> Option<Timestamp> {
        let audience: Vec<&str> = self.audience.iter().map(String::as_str).collect();
        let claims: ReadClaims = self.keys.decode(token, &audience)?;
        revocation::from_seconds(claims.auth_time?.as_f64()?)
    }

    async fn destroy_token(&self, _token: &str, _user: &U) -> Result<(), StrategyError> {
        Ok(())
    }
}

impl JwtStrategy {
    fn write<U: User>(
        &self,
        user: &U,
        auth_time: Option<Timestamp>,
    ) -> Result<String, StrategyError> {
        let issued_at = revocation::now();
        let claims = Claims {
            auth_time: auth_time.map(revocation::to_seconds),
            sub: user.id().to_string(),
            aud: self.audience.clone(),
            exp: self
                .lifetime_seconds
                .map(|l| (issued_at.timestamp().max(0) as u64).saturating_add(l)),
            iat: revocation::to_seconds(issued_at),
        };
        self.keys
            .encode(&claims)
            .map_err(|e| StrategyError::Issue(e.into()))
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod database;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use self::database::DatabaseStrategy;

#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisStrategy;
