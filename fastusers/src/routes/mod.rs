//! The routers fastusers mounts: auth (login/logout per backend), register and users.
//!
//! Each is generic over the application's backends and mounts into any `Router<S>` whose state
//! gives a [`FastUsers`] through `FromRef`.

pub mod auth;
#[cfg(feature = "oauth")]
pub mod oauth;
pub mod register;
pub mod reset;
pub mod sessions;
pub mod users;
pub mod verify;

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
    if let Some(user) = manager.get_by_email(&email).await.map_err(|e| match e {
        UserError::Store(e) => ApiError::from(e),
        _ => ApiError::internal(),
    })? {
        tokio::spawn(action(manager, user, parts));
    }
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(serde_json::Value::Null),
    ))
}
