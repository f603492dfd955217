//! `POST /login` and `POST /logout` for one backend.

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::post;

use super::user_error;
use crate::backend::{Backend, Backends};
use crate::body::LoginForm;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ALL_BACKENDS, AuthRejection, Requirements, authenticate};
use crate::state::FastUsers;
use crate::strategy::Strategy;
use crate::transport::Transport;
use crate::user::User;

/// Picks one backend out of the application's set; `auth_backends!` passes a field accessor.
pub type BackendRef<A, T, St> = fn(&A) -> &Backend<T, St>;

/// The auth router of the backend at `index`: `POST /login` (form body) and `POST /logout`.
pub fn router<A, T, St, S>(backend: BackendRef<A, T, St>, index: usize) -> Router<S>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Router::new()
        .route(
            "/login",
            post(
                move |State(state): State<FastUsers<A>>, parts: Parts, form: LoginForm| {
                    login(state, parts, form, backend)
                },
            ),
        )
        .route(
            "/logout",
            post(move |State(state): State<FastUsers<A>>, parts: Parts| {
                logout(state, parts, backend, index)
            }),
        )
}

async fn login<A, T, St>(
    state: FastUsers<A>,
    parts: Parts,
    form: LoginForm,
    backend: BackendRef<A, T, St>,
) -> Result<Response, ApiError>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
{
    let manager = state.manager();
    let chosen = backend(state.backends());
    // A cookie login from another site would log the victim into the attacker's account.
    chosen
        .transport
        .check_origin(&parts)
        .map_err(|e| ApiError::from(AuthRejection::UntrustedOrigin(e.origin)))?;
    let throttle = state.throttle();
    if let Some(throttle) = throttle
        && let Err(throttled) = throttle.check(&form.username, &parts).await
    {
        manager
            .hooks()
            .on_after_failed_login(&form.username, true, Some(&parts))
            .await;
        return Err(ApiError::too_many_attempts(throttled.retry_after));
    }
    let found = manager
        .authenticate(&form.username, &form.password)
        .await
        .map_err(|e| {
            user_error(
                e,
                ErrorCode::LoginBadCredentials,
                ErrorCode::LoginBadCredentials,
            )
        })?;
    // Unknown email, wrong password and inactive user must look the same.
    let Some(user) = found.filter(User::is_active) else {
        if let Some(throttle) = throttle {
            throttle.failed(&form.username, &parts).await;
        }
        manager
            .hooks()
            .on_after_failed_login(&form.username, false, Some(&parts))
            .await;
        return Err(ApiError::code(ErrorCode::LoginBadCredentials));
    };
    if state.verification_required() && !user.is_verified() {
        return Err(ApiError::code(ErrorCode::LoginUserNotVerified));
    }
    if let Some(throttle) = throttle {
        throttle.succeeded(&form.username).await;
    }
    issue_login(&state, &parts, backend, &user).await
}

/// Logs `user` in with the backend: the `on_before_login` hook (which may refuse), a new
/// token, the transport's login response, then the `on_after_login` hook, which may change it.
pub(crate) async fn issue_login<A, T, St>(
    state: &FastUsers<A>,
    parts: &Parts,
    backend: BackendRef<A, T, St>,
    user: &A::User,
) -> Result<Response, ApiError>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
{
    state
        .manager()
        .hooks()
        .on_before_login(user, Some(parts))
        .await?;
    let backend = backend(state.backends());
    let token = backend
        .strategy
        .write_token(user)
        .await
        .map_err(|e| ApiError::from(AuthRejection::from(e)))?;
    let mut response = backend.transport.login_response(token);
    state
        .manager()
        .hooks()
        .on_after_login(user, Some(parts), &mut response)
        .await;
    Ok(response)
}

async fn logout<A, T, St>(
    state: FastUsers<A>,
    parts: Parts,
    backend: BackendRef<A, T, St>,
    index: usize,
) -> Result<Response, AuthRejection>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
{
    let requirements = Requirements {
        active: true,
        verified: state.verification_required(),
        superuser: false,
    };
    let backend_ref = backend(state.backends());
    match authenticate(&parts, &state, requirements, 1 << index).await {
        Ok(found) => {
            backend_ref
                .strategy
                .destroy_token(&found.token, &found.user)
                .await?;
        }
        // The reference accepts a token of any backend here; only this backend's own token
        // is destroyed.
        Err(AuthRejection::Unauthorized) => {
            authenticate(&parts, &state, requirements, ALL_BACKENDS).await?;
        }
        Err(other) => return Err(other),
    }
    Ok(backend_ref.transport.logout_response())
}
