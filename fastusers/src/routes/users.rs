//! `GET`/`PATCH /me`, and the superuser's `GET`/`PATCH`/`DELETE /{id}`.

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};

use super::{RouteUser, user_error};
use crate::backend::Backends;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorCode};
use crate::state::FastUsers;
use crate::user::{User, UserId};

type Read<A> = <<A as Backends>::User as User>::Read;
type Update<A> = <<A as Backends>::User as User>::Update;

/// The users router.
pub fn router<A, S>() -> Router<S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Router::new()
        .route(
            "/me",
            get(me::<A>).patch(patch_me::<A>).delete(delete_me::<A>),
        )
        .route(
            "/{id}",
            get(get_user::<A>)
                .patch(patch_user::<A>)
                .delete(delete_user::<A>),
        )
}

fn update_error(error: crate::UserError) -> ApiError {
    user_error(
        error,
        ErrorCode::UpdateUserInvalidPassword,
        ErrorCode::UpdateUserEmailAlreadyExists,
    )
}

async fn me<A: Backends>(RouteUser(user): RouteUser<A, false>) -> Json<Read<A>> {
    Json(user.to_read())
}

async fn patch_me<A: Backends>(
    State(state): State<FastUsers<A>>,
    RouteUser(user): RouteUser<A, false>,
    parts: Parts,
    JsonBody(update): JsonBody<Update<A>>,
) -> Result<Json<Read<A>>, ApiError> {
    let user = state
        .manager()
        .update(update, &user, true, Some(&parts))
        .await
        .map_err(update_error)?;
    Ok(Json(user.to_read()))
}

/// The user named by the path; an id that does not parse is a 404, as in the reference.
async fn target<A: Backends>(state: &FastUsers<A>, id: &str) -> Result<A::User, ApiError> {
    let id = <A::User as User>::Id::parse(id).ok_or_else(ApiError::not_found)?;
    state
        .manager()
        .get(&id)
        .await
        .map_err(update_error)?
        .ok_or_else(ApiError::not_found)
}

async fn get_user<A: Backends>(
    State(state): State<FastUsers<A>>,
    _: RouteUser<A, true>,
    Path(id): Path<String>,
) -> Result<Json<Read<A>>, ApiError> {
    Ok(Json(target(&state, &id).await?.to_read()))
}

async fn patch_user<A: Backends>(
    State(state): State<FastUsers<A>>,
    _: RouteUser<A, true>,
    Path(id): Path<String>,
    parts: Parts,
    JsonBody(update): JsonBody<Update<A>>,
) -> Result<Json<Read<A>>, ApiError> {
    let user = target(&state, &id).await?;
    let user = state
        .manager()
        .update(update, &user, false, Some(&parts))
        .await
        .map_err(update_error)?;
    Ok(Json(user.to_read()))
}

/// `DELETE /me` is the reference's `DELETE /{id}` with the id `me`: the superuser check,
/// then a 404 (no user has that id). There is no self-deletion.
async fn delete_me<A: Backends>(_: RouteUser<A, true>) -> ApiError {
    ApiError::not_found()
}

async fn delete_user<A: Backends>(
    State(state): State<FastUsers<A>>,
    _: RouteUser<A, true>,
    Path(id): Path<String>,
    parts: Parts,
) -> Result<StatusCode, ApiError> {
    let user = target(&state, &id).await?;
    state
        .manager()
        .delete(&user, Some(&parts))
        .await
        .map_err(update_error)?;
    Ok(StatusCode::NO_CONTENT)
}
