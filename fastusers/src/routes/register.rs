//! `POST /register`.

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};

use super::{Routes, describe, user_error};
use crate::backend::Backends;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorCode};
use crate::state::FastUsers;
use crate::user::User;

type Read<A> = <<A as Backends>::User as User>::Read;
type Create<A> = <<A as Backends>::User as User>::Create;

/// The register router: `POST /register`, answering `201` with the new user.
pub(super) fn router<A, S>() -> Routes<A, S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Routes::new().add(
        Method::POST,
        "/register",
        register::<A>,
        describe!(|cx| cx
            .op("register:register", "Register")
            .tag("auth")
            .json_body(cx.user_create())
            .json_response(201, "The new user.", cx.user_read())
            .response(
                400,
                coded_error(
                    "The password was refused, or the email is taken.",
                    &[
                        ErrorCode::RegisterUserAlreadyExists,
                        ErrorCode::RegisterInvalidPassword,
                    ],
                ),
            )),
    )
}

async fn register<A: Backends>(
    State(state): State<FastUsers<A>>,
    parts: Parts,
    JsonBody(create): JsonBody<Create<A>>,
) -> Result<(StatusCode, Json<Read<A>>), ApiError> {
    let user = state
        .manager()
        .create(create, true, Some(&parts))
        .await
        .map_err(|e| {
            user_error(
                e,
                ErrorCode::RegisterInvalidPassword,
                ErrorCode::RegisterUserAlreadyExists,
            )
        })?;
    crate::metrics::registration();
    let read = user.to_read();
    if state.manager().sends_verification_on_register() && !user.is_verified() {
        // In the background, like the verification route: the 201 never waits for the mailer.
        let manager = state.manager().clone();
        tokio::spawn(async move {
            let _ = manager.request_verify(&user, Some(&parts)).await;
        });
    }
    Ok((StatusCode::CREATED, Json(read)))
}
