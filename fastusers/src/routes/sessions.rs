//! `GET /me/sessions`, `DELETE /me/sessions/{id}` and `DELETE /me/sessions`: a user's
//! server-side sessions and refresh-token families, and logging out everywhere.

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::{Method, StatusCode};
use serde::Serialize;

use super::{RouteUser, Routes, describe};
use crate::backend::Backends;
use crate::error::{ApiError, ErrorCode};
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
pub(super) fn router<A, S>() -> Routes<A, S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Routes::new()
        .add(
            Method::GET,
            "/me/sessions",
            list::<A>,
            describe!(|cx| {
                let session = cx.schema("Session", schema::session());
                cx.op("users:sessions", "The current user's sessions")
                    .tag("users")
                    .requires_user()
                    .json_response(
                        200,
                        "The server-side sessions (database and Redis tokens).",
                        ArrayBuilder::new().items(session).into(),
                    )
            }),
        )
        .add(
            Method::DELETE,
            "/me/sessions",
            revoke_all::<A>,
            describe!(|cx| cx
                .op("users:revoke_all_sessions", "Log out everywhere")
                .tag("users")
                .requires_user()
                .response(
                    204,
                    Response::new(
                        "Every session of the user ended, on every backend: JWTs, database and Redis tokens, refresh-token families (this request's token too).",
                    )
                )),
        )
        .add(
            Method::DELETE,
            "/me/sessions/{id}",
            revoke::<A>,
            describe!(|cx| cx
                .op("users:revoke_session", "Revoke a session")
                .tag("users")
                .requires_user()
                .parameter(path_param("id", "The session's id."))
                .response(204, Response::new("Revoked."))
                .response(404, not_found("No such session of the current user."))),
        )
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

/// Saves the user's revocation time (which ends every token issued until now, JWTs and
/// refresh families included: see [`crate::revocation`]), then deletes the stored tokens.
async fn revoke_all<A: Backends>(
    State(state): State<FastUsers<A>>,
    RouteUser(user): RouteUser<A, false>,
) -> Result<StatusCode, ApiError> {
    state.manager().revoke_tokens(&user).await.map_err(|e| {
        super::user_error(
            e,
            ErrorCode::LoginBadCredentials,
            ErrorCode::LoginBadCredentials,
        )
    })?;
    Ok(StatusCode::NO_CONTENT)
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
        crate::metrics::revoked("session");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
