//! `POST /request-verify-token` and `POST /verify`.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::{accepted_for_any_email, user_error};
use crate::backend::Backends;
use crate::body::EmbeddedJson;
use crate::body::field::Fields;
use crate::error::{ApiError, ErrorCode};
use crate::manager::UserError;
use crate::state::FastUsers;
use crate::user::User;

type Read<A> = <<A as Backends>::User as User>::Read;

/// The verify router (mount it at `/auth`).
pub fn router<A, S>() -> Router<S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Router::new()
        .route("/request-verify-token", post(request_token::<A>))
        .route("/verify", post(verify::<A>))
}

/// Always 202: unknown, inactive and already-verified emails look the same.
async fn request_token<A: Backends>(
    State(state): State<FastUsers<A>>,
    parts: Parts,
    body: EmbeddedJson,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accepted_for_any_email(state, parts, body, |manager, user, parts| async move {
        let _ = manager.request_verify(&user, Some(&parts)).await;
    })
    .await
}

async fn verify<A: Backends>(
    State(state): State<FastUsers<A>>,
    parts: Parts,
    EmbeddedJson(obj): EmbeddedJson,
) -> Result<Json<Read<A>>, ApiError> {
    let mut fields = Fields::embedded(&obj);
    let token = fields.required::<String>("token");
    let token = fields.finish(|| token)?;
    match state.manager().verify(&token, Some(&parts)).await {
        Ok(user) => Ok(Json(user.to_read())),
        Err(UserError::BadToken) => Err(ApiError::code(ErrorCode::VerifyUserBadToken)),
        Err(UserError::AlreadyVerified) => {
            Err(ApiError::code(ErrorCode::VerifyUserAlreadyVerified))
        }
        Err(other) => Err(user_error(
            other,
            ErrorCode::VerifyUserBadToken,
            ErrorCode::VerifyUserBadToken,
        )),
    }
}
