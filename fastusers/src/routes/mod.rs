//! The routers fastusers mounts: auth (login/logout per backend), register, verify, reset,
//! users, sessions and OAuth.
//!
//! Each is a [`Routes`], generic over the application's backends, that mounts into any
//! `Router<S>` whose state gives a [`FastUsers`] through `FromRef`. Each route is declared once,
//! in the module that owns it, with its handler and its OpenAPI description.

pub(crate) mod auth;
#[cfg(feature = "oauth")]
mod oauth;
mod register;
mod reset;
mod router;
mod sessions;
mod users;
mod verify;

pub use auth::BackendRef;
use router::describe;
pub use router::{MountedRoute, Routes};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::backend::Backends;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ALL_BACKENDS, AuthRejection, Requirements, authenticate};
use crate::manager::UserError;
use crate::state::FastUsers;

// The routers, as constructors on the state they need: each lives with its routes.
impl<A: Backends> FastUsers<A> {
    /// `POST /register` (mount it at `/auth`).
    pub fn register_router<S>() -> Routes<A, S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        register::router::<A, S>()
    }

    /// `POST /request-verify-token` and `POST /verify` (mount it at `/auth`).
    pub fn verify_router<S>() -> Routes<A, S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        verify::router::<A, S>()
    }

    /// `POST /forgot-password` and `POST /reset-password` (mount it at `/auth`).
    pub fn reset_password_router<S>() -> Routes<A, S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        reset::router::<A, S>()
    }

    /// `GET /me/sessions` (the current user's server-side sessions, never their tokens: each
    /// has an `id`, the `backend` that keeps it (the first declared backend of its store) and
    /// `created_at`) and `DELETE /me/sessions/{id}`. Merge it into the users router:
    /// `users_router().merge(sessions_router())`.
    pub fn sessions_router<S>() -> Routes<A, S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        sessions::router::<A, S>()
    }

    /// Login or sign-up through an OAuth provider with one backend (mount it at
    /// `/auth/{provider}`): `GET /authorize` and `GET /callback`. `backend` picks the backend
    /// whose login response the callback gives: `|auth| &auth.cookie`. See [`crate::oauth`].
    ///
    /// # Panics
    ///
    /// When `client` cannot learn who logged in (a generic [`OAuthClient::new`] without
    /// [`userinfo`](crate::oauth::OAuthClient::userinfo)): a configuration error, found at
    /// start-up rather than at the first login.
    ///
    /// [`OAuthClient::new`]: crate::oauth::OAuthClient::new
    #[cfg(feature = "oauth")]
    pub fn oauth_router<T, St, S>(
        client: crate::oauth::OAuthClient,
        backend: BackendRef<A, T, St>,
        options: crate::oauth::OAuthOptions,
    ) -> Routes<A, S>
    where
        A::User: crate::user::OAuthUser,
        T: crate::transport::Transport,
        St: crate::strategy::Strategy<A::User>,
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        oauth::router::<A, T, St, S>(client, backend, options)
    }

    /// Linking a provider account to the current user (mount it at
    /// `/auth/associate/{provider}`): `GET /authorize`, `GET /callback`, and `DELETE /` to
    /// unlink. See [`crate::oauth`].
    ///
    /// # Panics
    ///
    /// As [`oauth_router`](Self::oauth_router), when `client` cannot learn who logged in.
    #[cfg(feature = "oauth")]
    pub fn oauth_associate_router<S>(
        client: crate::oauth::OAuthClient,
        options: crate::oauth::OAuthOptions,
    ) -> Routes<A, S>
    where
        A::User: crate::user::OAuthUser,
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        oauth::associate_router::<A, S>(client, options)
    }

    /// `GET`/`PATCH /me` and the superuser's `GET`/`PATCH`/`DELETE /{id}` (mount it at `/users`).
    pub fn users_router<S>() -> Routes<A, S>
    where
        S: Clone + Send + Sync + 'static,
        Self: FromRef<S>,
    {
        users::router::<A, S>()
    }
}

/// Turns a manager error into its answer, with the route's codes for a refused password and a
/// taken email.
fn user_error(
    error: UserError,
    invalid_password: ErrorCode,
    already_exists: ErrorCode,
) -> ApiError {
    match error {
        UserError::InvalidPassword(e) => ApiError::code_reason(invalid_password, e.reason),
        UserError::AlreadyExists => ApiError::code(already_exists),
        UserError::NotFound => ApiError::not_found(),
        UserError::Store(e) => e.into(),
        // The routes of those flows map these themselves; elsewhere they are a plain 400.
        UserError::Inactive | UserError::AlreadyVerified | UserError::BadToken => {
            ApiError::status_only(axum::http::StatusCode::BAD_REQUEST)
        }
        UserError::Password(crate::password::PasswordError::Busy { waited }) => {
            tracing::warn!(
                ?waited,
                "shed a request: every password hashing slot is busy"
            );
            ApiError::busy(waited.as_secs().max(1))
        }
        UserError::Password(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "password hashing failed"
            );
            ApiError::internal()
        }
    }
}

/// The user of a users route: active, verified when the application requires it, and a
/// superuser when `SUPER` is set.
pub(crate) struct RouteUser<A: Backends, const SUPER: bool>(A::User);

/// [`RouteUser`] (not a superuser) with the token that named the user and its backend.
pub(crate) struct RouteSession<A: Backends>(crate::backend::Authenticated<A::User>);

async fn route_authenticate<A: Backends, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    superuser: bool,
) -> Result<crate::backend::Authenticated<A::User>, AuthRejection>
where
    FastUsers<A>: FromRef<S>,
{
    let state = FastUsers::<A>::from_ref(state);
    let requirements = Requirements {
        active: true,
        verified: state.verification_required(),
        superuser,
    };
    authenticate(parts, &state, requirements, ALL_BACKENDS).await
}

impl<A: Backends, S: Send + Sync, const SUPER: bool> FromRequestParts<S> for RouteUser<A, SUPER>
where
    FastUsers<A>: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            route_authenticate::<A, S>(parts, state, SUPER).await?.user,
        ))
    }
}

impl<A: Backends, S: Send + Sync> FromRequestParts<S> for RouteSession<A>
where
    FastUsers<A>: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(route_authenticate::<A, S>(parts, state, false).await?))
    }
}

/// The description of a route of [`accepted_for_any_email`]'s shape, named `name` (its name in
/// fastapi-users, for the operation id).
#[cfg(feature = "openapi")]
fn accepted_doc<A>(
    cx: &mut crate::openapi::Context<'_, A>,
    name: &str,
    summary: &str,
) -> crate::openapi::Op {
    use crate::openapi::prelude::*;
    let op = cx.op(name, summary).tag("auth");
    let body = cx.embedded_body(&op, vec![("email", schema::email())]);
    op.body(body).json_response(
        202,
        "Accepted, whether or not the email is known: `null`.",
        schema::null(),
    )
}

/// The shared shape of `request-verify-token` and `forgot-password`: validate the email, answer
/// `202 null` whatever it is, and run `action` for a known user in the background, so that
/// neither the answer nor its timing tells whether the email exists, and a slow mailer never
/// holds the request.
async fn accepted_for_any_email<A, F, Fut>(
    state: FastUsers<A>,
    parts: Parts,
    crate::body::EmbeddedJson(obj): crate::body::EmbeddedJson,
    action: F,
) -> Result<(axum::http::StatusCode, axum::Json<serde_json::Value>), ApiError>
where
    A: Backends,
    F: FnOnce(crate::UserManager<A::User>, A::User, Parts) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut fields = crate::body::field::Fields::embedded(&obj);
    let email = fields.required_email("email");
    let email = fields.finish(|| email)?;
    let manager = state.manager().clone();
    let user = manager.get_by_email(&email).await.map_err(|e| match e {
        UserError::Store(e) => ApiError::from(e),
        _ => ApiError::internal(),
    })?;
    // A task either way, so that a known address costs the answer no more than an unknown one.
    tokio::spawn(async move {
        if let Some(user) = user {
            action(manager, user, parts).await;
        }
    });
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(serde_json::Value::Null),
    ))
}
