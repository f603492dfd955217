//! `POST /forgot-password` and `POST /reset-password`.

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

/// The reset-password router (mount it at `/auth`).
pub fn router<A, S>() -> Router<S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Router::new()
        .route("/forgot-password", post(forgot::<A>))
        .route("/reset-password", post(reset::<A>))
}

/// Always 202: unknown and inactive emails look the same as known ones.
async fn forgot<A: Backends>(
    State(state): State<FastUsers<A>>,
    parts: Parts,
    body: EmbeddedJson,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accepted_for_any_email(state, parts, body, |manager, user, parts| async move {
        let _ = manager.forgot_password(&user, Some(&parts)).await;
    })
    .await
}

async fn reset<A: Backends>(
    State(state): State<FastUsers<A>>,
    parts: Parts,
    EmbeddedJson(obj): EmbeddedJson,
) -> Result<Json<Value>, ApiError> {
    let mut fields = Fields::embedded(&obj);
    let token = fields.required::<String>("token");
    let password = fields.required::<String>("password");
    let (token, password) = fields.finish(|| Some((token?, password?)))?;
    match state
        .manager()
        .reset_password(&token, &password, Some(&parts))
        .await
    {
        Ok(_) => Ok(Json(Value::Null)),
        Err(UserError::BadToken) => Err(ApiError::code(ErrorCode::ResetPasswordBadToken)),
        Err(other) => Err(user_error(
            other,
            ErrorCode::ResetPasswordInvalidPassword,
            ErrorCode::ResetPasswordBadToken,
        )),
    }
}
