//! Authentication backends: a transport paired with a strategy, and the set of them that
//! `auth_backends!` declares.

use std::future::Future;
use std::pin::Pin;

use axum::http::request::Parts;

use crate::manager::UserManager;
use crate::refresh::{NoRefresh, RefreshTokens};
use crate::revocation::Timestamp;
use crate::strategy::{Session, Strategy, StrategyError};
use crate::transport::Transport;
use crate::user::User;

/// One way to authenticate: a transport carrying tokens of a strategy, and, for a backend
/// declared with `refresh`, its [refresh tokens](crate::refresh) (`R`).
///
/// ```
/// use fastusers::prelude::*;
/// let backend = Backend::new(BearerTransport::new("auth/jwt/login"), JwtStrategy::new(Secret::random().keys(Purpose::ACCESS), Some(3600)));
/// ```
#[derive(Debug, Clone)]
pub struct Backend<T, S, R = NoRefresh> {
    /// How the token travels.
    pub transport: T,
    /// How the token is made and read.
    pub strategy: S,
    /// The refresh tokens: [`NoRefresh`], or a [`RefreshTokens`] for a backend declared with
    /// `refresh`.
    pub refresh: R,
}

impl<T, S> Backend<T, S> {
    /// Pairs a transport with a strategy.
    pub fn new(transport: T, strategy: S) -> Self {
        Self {
            transport,
            strategy,
            refresh: NoRefresh,
        }
    }

    /// Gives the backend refresh tokens (a backend declared with `refresh` in
    /// `auth_backends!`): its login also issues a refresh token, and its router has
    /// `POST /refresh`. See [`crate::refresh`].
    pub fn with_refresh<U: User>(
        self,
        refresh: RefreshTokens<U>,
    ) -> Backend<T, S, RefreshTokens<U>> {
        Backend {
            transport: self.transport,
            strategy: self.strategy,
            refresh,
        }
    }
}

/// A user found from a request, with the token that named them and the index of the backend
/// that recognised it.
#[derive(Debug, Clone)]
pub struct Authenticated<U> {
    /// The user.
    pub user: U,
    /// The token, as the client sent it.
    pub token: String,
    /// The backend's position in the `auth_backends!` declaration.
    pub backend: usize,
}

impl<T: Transport, S, R> Backend<T, S, R> {
    /// The user of this request according to this backend alone.
    pub async fn authenticate<U: User>(
        &self,
        parts: &Parts,
        manager: &UserManager<U>,
        index: usize,
    ) -> Result<Option<Authenticated<U>>, StrategyError>
    where
        S: Strategy<U>,
    {
        let Some(token) = self.transport.token(parts) else {
            return Ok(None);
        };
        self.transport.check_origin(parts)?;
        Ok(self
            .strategy
            .read_token(token, manager)
            .await?
            .map(|user| Authenticated {
                user,
                token: token.to_owned(),
                backend: index,
            }))
    }
}

/// A strategy whose futures are boxed, so that the runtime can go through the backends of an
/// `auth_backends!` declaration in a loop ([`Backends::strategies`]). Every [`Strategy`] is
/// one.
pub trait DynStrategy<U: User>: Send + Sync {
    /// [`Strategy::revoke_all`].
    fn revoke_all<'a>(&'a self, user: &'a U) -> BoxFuture<'a, Result<(), StrategyError>>;
    /// [`Strategy::sessions`].
    fn sessions<'a>(
        &'a self,
        user: &'a U,
    ) -> BoxFuture<'a, Result<Option<Vec<Session>>, StrategyError>>;
    /// [`Strategy::revoke_session`].
    fn revoke_session<'a>(
        &'a self,
        user: &'a U,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StrategyError>>;
    /// [`Strategy::auth_time`].
    fn auth_time(&self, token: &str) -> Option<Timestamp>;
}

/// A boxed future of a [`DynStrategy`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl<U: User, S: Strategy<U>> DynStrategy<U> for S {
    fn revoke_all<'a>(&'a self, user: &'a U) -> BoxFuture<'a, Result<(), StrategyError>> {
        Box::pin(Strategy::revoke_all(self, user))
    }

    fn sessions<'a>(
        &'a self,
        user: &'a U,
    ) -> BoxFuture<'a, Result<Option<Vec<Session>>, StrategyError>> {
        Box::pin(Strategy::sessions(self, user))
    }

    fn revoke_session<'a>(
        &'a self,
        user: &'a U,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StrategyError>> {
        Box::pin(Strategy::revoke_session(self, user, id))
    }

    fn auth_time(&self, token: &str) -> Option<Timestamp> {
        Strategy::auth_time(self, token)
    }
}

/// Some backends could not delete a user's tokens (the others did): each failure, with the
/// backend's name.
#[derive(Debug, thiserror::Error)]
#[error("could not delete the user's tokens in {}", describe(.failures))]
pub struct RevokeError {
    /// The backends that failed, by name, and why.
    pub failures: Vec<(&'static str, StrategyError)>,
}

fn describe(failures: &[(&'static str, StrategyError)]) -> String {
    failures
        .iter()
        .map(|(name, error)| format!("backend `{name}` ({error})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The set of backends of an application, declared with `auth_backends!`, which implements
/// this trait. Backends are tried in declared order; the first that recognises the request wins.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a set of authentication backends",
    label = "declare it with `fastusers::auth_backends!`"
)]
pub trait Backends: Send + Sync + Sized + 'static {
    /// The user model.
    type User: User;

    /// The backends' names, in declared order.
    const NAMES: &'static [&'static str];

    /// The user of this request, trying the backends whose bit is set in `enabled`
    /// (bit `i` for the `i`-th backend).
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
        manager: &'a UserManager<Self::User>,
        enabled: u64,
    ) -> impl Future<Output = Result<Option<Authenticated<Self::User>>, StrategyError>> + Send + 'a;

    /// The strategy of each backend, in declared order.
    fn strategies(&self) -> Vec<&dyn DynStrategy<Self::User>>;

    /// The refresh tokens of each backend declared with `refresh`, with the backend's index.
    fn refresh_tokens(&self) -> Vec<(usize, &RefreshTokens<Self::User>)> {
        Vec::new()
    }

    /// Deletes every token of the user in every backend that keeps tokens. Every backend is
    /// tried, at the same time, whatever the others answer; the error names those that failed.
    ///
    /// This deletes tokens only: to end a user's sessions for good, JWTs included, even while a
    /// token store is down, use [`UserManager::revoke_tokens`], which saves the user's
    /// revocation time first.
    fn revoke_all<'a>(
        &'a self,
        user: &'a Self::User,
    ) -> impl Future<Output = Result<(), RevokeError>> + Send + 'a {
        async move {
            let strategies = self.strategies();
            let outcomes = futures_util::future::join_all(
                strategies.iter().map(|strategy| strategy.revoke_all(user)),
            )
            .await;
            let mut failures: Vec<(&'static str, StrategyError)> = Self::NAMES
                .iter()
                .zip(outcomes)
                .filter_map(|(name, outcome)| outcome.err().map(|error| (*name, error)))
                .collect();
            for (index, refresh) in self.refresh_tokens() {
                if let Err(error) = refresh.revoke_all(user).await {
                    let name = Self::NAMES.get(index).copied().unwrap_or("unknown");
                    failures.push((name, StrategyError::Store(error)));
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(RevokeError { failures })
            }
        }
    }

    /// The user's server-side sessions in every backend that keeps them, with the backend's
    /// index. Backends sharing one store list the same sessions once, under the first of them.
    fn sessions<'a>(
        &'a self,
        user: &'a Self::User,
    ) -> impl Future<Output = Result<Vec<(usize, Session)>, StrategyError>> + Send + 'a {
        async move {
            let mut all: Vec<(usize, Session)> = Vec::new();
            for (index, strategy) in self.strategies().into_iter().enumerate() {
                let Some(list) = strategy.sessions(user).await? else {
                    continue;
                };
                for session in list {
                    if !all.iter().any(|(_, known)| known.id == session.id) {
                        all.push((index, session));
                    }
                }
            }
            // Each refresh family is a session too: the login it began with.
            for (index, refresh) in self.refresh_tokens() {
                for family in refresh.families(user).await? {
                    let session = Session {
                        id: Session::id_of(&family.family),
                        created_at: family.auth_time.timestamp().max(0) as u64,
                    };
                    if !all.iter().any(|(_, known)| known.id == session.id) {
                        all.push((index, session));
                    }
                }
            }
            Ok(all)
        }
    }

    /// Revokes the user's session with this id, in whichever backend has it.
    fn revoke_session<'a>(
        &'a self,
        user: &'a Self::User,
        id: &'a str,
    ) -> impl Future<Output = Result<bool, StrategyError>> + Send + 'a {
        async move {
            for strategy in self.strategies() {
                if strategy.revoke_session(user, id).await? {
                    return Ok(true);
                }
            }
            for (_, refresh) in self.refresh_tokens() {
                for family in refresh.families(user).await? {
                    if Session::id_of(&family.family) == id {
                        return Ok(refresh.revoke_family(user, &family.family).await?);
                    }
                }
            }
            Ok(false)
        }
    }
}
