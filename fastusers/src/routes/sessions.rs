//! `GET /me/sessions` and `DELETE /me/sessions/{id}`: a user's server-side sessions.

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;

use super::RouteUser;
use crate::backend::Backends;
use crate::error::ApiError;
use crate::extract::AuthRejection;
use crate::state::FastUsers;

/// One session as the client sees it.
#[derive(Debug, Serialize)]
struct SessionView {
    id: String,
    backend: &'static str,
    created_at: String,
}

/// The sessions router.
pub fn router<A, S>() -> Router<S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Router::new()
        .route("/me/sessions", get(list::<A>))
        .route("/me/sessions/{id}", delete(revoke::<A>))
}

async fn list<A: Backends>(
    State(state): State<FastUsers<A>>,
    RouteUser(user): RouteUser<A, false>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let sessions = state
        .backends()
        .sessions(&user)
        .await
        .map_err(AuthRejection::from)?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|(backend, s)| SessionView {
                id: s.id,
                backend: A::NAMES.get(backend).copied().unwrap_or("unknown"),
                created_at: chrono::DateTime::from_timestamp(s.created_at as i64, 0)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
            .collect(),
    ))
}

async fn revoke<A: Backends>(
    State(state): State<FastUsers<A>>,
    RouteUser(user): RouteUser<A, false>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .backends()
        .revoke_session(&user, &id)
        .await
        .map_err(AuthRejection::from)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
