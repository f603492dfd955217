//! The routers fastusers mounts: auth (login/logout per backend), register and users.
//!
//! Each is generic over the application's backends and mounts into any `Router<S>` whose state
//! gives a [`FastUsers`](crate::FastUsers) through `FromRef`.

pub mod auth;
pub mod register;
pub mod sessions;
pub mod users;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::backend::Backends;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ALL_BACKENDS, AuthRejection, Requirements, authenticate};
use crate::manager::UserError;
use crate::state::FastUsers;

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
        UserError::Tokens(e) => crate::extract::AuthRejection::from(e).into(),
        UserError::Password(e) => {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        }
    }
}

/// The user of a users route: active, verified when the application requires it, and a
/// superuser when `SUPER` is set.
pub(crate) struct RouteUser<A: Backends, const SUPER: bool>(A::User);

impl<A: Backends, S: Send + Sync, const SUPER: bool> FromRequestParts<S> for RouteUser<A, SUPER>
where
    FastUsers<A>: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = FastUsers::<A>::from_ref(state);
        let requirements = Requirements {
            active: true,
            verified: state.verification_required(),
            superuser: SUPER,
        };
        Ok(Self(
            authenticate(parts, &state, requirements, ALL_BACKENDS)
                .await?
                .user,
        ))
    }
}
