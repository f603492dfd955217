//! Authentication backends: a transport paired with a strategy, and the set of them that
//! `auth_backends!` declares.

use std::future::Future;

use axum::http::request::Parts;

use crate::manager::UserManager;
use crate::strategy::{Session, Strategy, StrategyError};
use crate::transport::Transport;
use crate::user::User;

/// One way to authenticate: a transport carrying tokens of a strategy.
///
/// ```
/// use fastusers::prelude::*;
/// let backend = Backend::new(BearerTransport::new("auth/jwt/login"), JwtStrategy::new(Secret::random().keys(Purpose::ACCESS), Some(3600)));
/// ```
#[derive(Debug, Clone)]
pub struct Backend<T, S> {
    /// How the token travels.
    pub transport: T,
    /// How the token is made and read.
    pub strategy: S,
}

impl<T, S> Backend<T, S> {
    /// Pairs a transport with a strategy.
    pub fn new(transport: T, strategy: S) -> Self {
        Self {
            transport,
            strategy,
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

impl<T: Transport, S> Backend<T, S> {
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

    /// Revokes every token of the user in every backend.
    fn revoke_all<'a>(
        &'a self,
        user: &'a Self::User,
    ) -> impl Future<Output = Result<(), StrategyError>> + Send + 'a;

    /// The user's server-side sessions in every backend that keeps them, with the backend's index.
    fn sessions<'a>(
        &'a self,
        user: &'a Self::User,
    ) -> impl Future<Output = Result<Vec<(usize, Session)>, StrategyError>> + Send + 'a;

    /// Revokes the user's session with this id, in whichever backend has it.
    fn revoke_session<'a>(
        &'a self,
        user: &'a Self::User,
        id: &'a str,
    ) -> impl Future<Output = Result<bool, StrategyError>> + Send + 'a;
}
