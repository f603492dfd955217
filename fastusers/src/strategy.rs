//! Strategies: how a token is made from a user and a user found from a token.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::manager::{UserError, UserManager};
use crate::store::StoreError;
use crate::token::{self, JwtKeys};
use crate::user::{User, UserId};

/// Why a strategy could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// The user store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token could not be made.
    #[error("could not issue a token: {0}")]
    Issue(String),
}

impl From<UserError> for StrategyError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Store(e) => Self::Store(e),
            other => Self::Issue(other.to_string()),
        }
    }
}

/// Makes, reads and destroys tokens.
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

    /// Revokes the token, where the strategy can (see [`JwtStrategy`]: it cannot).
    fn destroy_token(
        &self,
        token: &str,
        user: &U,
    ) -> impl Future<Output = Result<(), StrategyError>> + Send;
}

/// The audience of access tokens.
pub const AUTH_AUDIENCE: &str = "fastapi-users:auth";

/// Stateless JSON Web Tokens: `{"sub": "<user id>", "aud": ["fastapi-users:auth"], "exp": ...}`.
///
/// A JWT cannot be revoked: logout answers 204 but the token stays valid until it expires.
/// Use short lifetimes, or a server-side strategy where logout must end the session.
///
/// ```
/// use fastusers::strategy::JwtStrategy;
/// use fastusers::token::JwtKeys;
/// let strategy = JwtStrategy::new(JwtKeys::hs256("SECRET"), Some(3600));
/// ```
#[derive(Debug, Clone)]
pub struct JwtStrategy {
    keys: JwtKeys,
    lifetime_seconds: Option<u64>,
    audience: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
}

#[derive(Deserialize)]
struct ReadClaims {
    sub: Option<String>,
}

impl JwtStrategy {
    /// Tokens signed with `keys`, valid for `lifetime_seconds` (`None`: no `exp`, never expire).
    pub fn new(keys: JwtKeys, lifetime_seconds: Option<u64>) -> Self {
        Self {
            keys,
            lifetime_seconds,
            audience: vec![AUTH_AUDIENCE.to_owned()],
        }
    }

    /// Uses this audience instead of `["fastapi-users:auth"]`.
    pub fn audience(mut self, audience: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.audience = audience.into_iter().map(Into::into).collect();
        self
    }

    /// Decodes a token into the user id it names, if valid.
    pub fn user_id<I: UserId>(&self, token: &str) -> Option<I> {
        let audience: Vec<&str> = self.audience.iter().map(String::as_str).collect();
        let claims: ReadClaims = self.keys.decode(token, &audience)?;
        I::parse(&claims.sub?)
    }
}

impl<U: User> Strategy<U> for JwtStrategy {
    async fn read_token(
        &self,
        token: &str,
        manager: &UserManager<U>,
    ) -> Result<Option<U>, StrategyError> {
        match self.user_id::<U::Id>(token) {
            Some(id) => Ok(manager.get(&id).await?),
            None => Ok(None),
        }
    }

    async fn write_token(&self, user: &U) -> Result<String, StrategyError> {
        let claims = Claims {
            sub: user.id().to_string(),
            aud: self.audience.clone(),
            exp: self.lifetime_seconds.map(|l| token::now() + l),
        };
        self.keys
            .encode(&claims)
            .map_err(|e| StrategyError::Issue(e.to_string()))
    }

    async fn destroy_token(&self, _token: &str, _user: &U) -> Result<(), StrategyError> {
        Ok(())
    }
}
