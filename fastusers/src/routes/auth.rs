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
    let user = found
        .filter(User::is_active)
        .ok_or_else(|| ApiError::code(ErrorCode::LoginBadCredentials))?;
    if state.verification_required() && !user.is_verified() {
        return Err(ApiError::code(ErrorCode::LoginUserNotVerified));
    }
    issue_login(&state, &parts, backend, &user).await
}

/// Logs `user` in with the backend: a new token, the transport's login response, then the
/// `on_after_login` hook, which may change it.
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
