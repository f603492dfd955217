//! `GET`/`PATCH /me`, and the superuser's `GET`/`PATCH`/`DELETE /{id}`.

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};

use super::{RouteSession, RouteUser, Routes, describe, user_error};
use crate::backend::{Authenticated, Backends};
use crate::body::{FromJson, JsonBody, ValidationError, ValidationErrors};
use crate::error::{ApiError, ErrorCode};
use crate::revocation;
#[cfg(doc)]
use crate::sensitive::SensitiveChanges;
use crate::state::FastUsers;
use crate::user::{User, UserId};

type Read<A> = <<A as Backends>::User as User>::Read;
type Update<A> = <<A as Backends>::User as User>::Update;

/// The answers of a refused update.
#[cfg(feature = "openapi")]
fn update_errors() -> utoipa::openapi::Response {
    crate::openapi::prelude::coded_error(
        "The email is taken, or the password was refused.",
        &[
            ErrorCode::UpdateUserEmailAlreadyExists,
            ErrorCode::UpdateUserInvalidPassword,
        ],
    )
}

/// The answers of `PATCH /me`: the update's, and those of [`SensitiveChanges`] when it is on
/// (only then, so that the default document is the reference's).
#[cfg(feature = "openapi")]
fn sensitive_errors(
    op: crate::openapi::Op,
    rule: crate::sensitive::SensitiveChanges,
) -> crate::openapi::Op {
    let mut codes = vec![
        ErrorCode::UpdateUserEmailAlreadyExists,
        ErrorCode::UpdateUserInvalidPassword,
    ];
    if !rule.is_on() {
        return op.response(400, update_errors());
    }
    if rule.accepts_current_password() {
        codes.extend([ErrorCode::CurrentPasswordInvalid]);
        if rule.max_age().is_none() {
            codes.push(ErrorCode::CurrentPasswordRequired);
        }
    }
    let op = op.response(
        400,
        crate::openapi::prelude::coded_error(
            "The email is taken, the password was refused, or the current password \
             (`current_password`, beside the update's fields) is missing or wrong.",
            &codes,
        ),
    );
    if rule.max_age().is_some() {
        op.forbidden(
            "A new email or password needs a recent login (or the current password in \
             `current_password`, when accepted).",
            ErrorCode::FreshLoginRequired,
        )
    } else {
        op
    }
}

/// The `id` of `/{id}`.
#[cfg(feature = "openapi")]
fn id_param() -> utoipa::openapi::path::Parameter {
    crate::openapi::prelude::path_param("id", "The user's id; one that does not parse is a 404.")
}

/// The users router.
pub(super) fn router<A, S>() -> Routes<A, S>
where
    A: Backends,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    Routes::new()
        .add(
            Method::GET,
            "/me",
            me::<A>,
            describe!(|cx| cx
                .op("users:current_user", "The current user")
                .tag("users")
                .requires_user()
                .json_response(200, "The user.", cx.user_read())),
        )
        .add(
            Method::PATCH,
            "/me",
            patch_me::<A>,
            describe!(|cx| {
                let rule = cx.sensitive_changes();
                let op = cx
                    .op("users:patch_current_user", "Update the current user")
                    .tag("users")
                    .requires_user()
                    .json_body(cx.user_update())
                    .json_response(200, "The user.", cx.user_read());
                sensitive_errors(op, rule)
            }),
        )
        .add(
            Method::DELETE,
            "/me",
            delete_me::<A>,
            // The reference's `DELETE /{id}` with the id `me`, documented there.
            None,
        )
        .add(
            Method::GET,
            "/{id}",
            get_user::<A>,
            describe!(|cx| cx
                .op("users:user", "A user (superuser)")
                .tag("users")
                .requires_superuser()
                .parameter(id_param())
                .json_response(200, "The user.", cx.user_read())
                .response(404, not_found("The user does not exist."))),
        )
        .add(
            Method::PATCH,
            "/{id}",
            patch_user::<A>,
            describe!(|cx| cx
                .op("users:patch_user", "Update a user (superuser)")
                .tag("users")
                .requires_superuser()
                .parameter(id_param())
                .json_body(cx.user_update())
                .json_response(200, "The user.", cx.user_read())
                .response(400, update_errors())
                .response(404, not_found("The user does not exist."))),
        )
        .add(
            Method::DELETE,
            "/{id}",
            delete_user::<A>,
            describe!(|cx| cx
                .op("users:delete_user", "Delete a user (superuser)")
                .tag("users")
                .requires_superuser()
                .parameter(id_param())
                .response(204, Response::new("Deleted."))
                .response(404, not_found("The user does not exist."))),
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
    RouteSession(session): RouteSession<A>,
    parts: Parts,
    JsonBody(body): JsonBody<MeUpdate<Update<A>>>,
) -> Result<Json<Read<A>>, ApiError> {
    let user = &session.user;
    let sensitive = crate::user::UserUpdate::password(&body.update).is_some()
        || body
            .email
            .as_deref()
            .is_some_and(|email| email != user.email());
    if sensitive {
        check_sensitive(&state, &session, body.current_password, &parts).await?;
    }
    let update = body.update;
    let user = state
        .manager()
        .update(update, user, true, Some(&parts))
        .await
        .map_err(update_error)?;
    Ok(Json(user.to_read()))
}

/// A `PATCH /me` body: the update, with the two fields a sensitive change is judged by, read
/// from the same JSON. `current_password` is taken out here and never reaches the update (so
/// never stored or echoed); a value that is not a string counts as absent, so that with the
/// rule off the field is ignored whatever it holds, as any unknown field.
struct MeUpdate<U> {
    update: U,
    email: Option<String>,
    current_password: Option<String>,
}

impl<U: FromJson> FromJson for MeUpdate<U> {
    fn from_json(value: &serde_json::Value) -> Result<Self, ValidationErrors> {
        let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        Ok(Self {
            update: U::from_json(value)?,
            email: text("email"),
            current_password: text("current_password"),
        })
    }
}

/// Whether a sensitive change may go ahead under the application's [`SensitiveChanges`]:
/// a login recent enough (the token's `auth_time`), or else the right current password.
async fn check_sensitive<A: Backends>(
    state: &FastUsers<A>,
    session: &Authenticated<A::User>,
    current_password: Option<String>,
    parts: &Parts,
) -> Result<(), ApiError> {
    let rule = state.sensitive_changes_rule();
    if !rule.is_on() {
        return Ok(());
    }
    if let Some(max_age) = rule.max_age() {
        let auth_time = state
            .backends()
            .strategies()
            .get(session.backend)
            .and_then(|strategy| strategy.auth_time(&session.token));
        let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        if auth_time.is_some_and(|at| revocation::now() - at <= max_age) {
            return Ok(());
        }
    }
    if !rule.accepts_current_password() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::FreshLoginRequired.as_str(),
        ));
    }
    let Some(password) = current_password else {
        return Err(match rule.max_age() {
            Some(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::FreshLoginRequired.as_str(),
            ),
            None => ApiError::code(ErrorCode::CurrentPasswordRequired),
        });
    };
    let user = &session.user;
    // A wrong current password is a guess at the account's password: the login throttle
    // counts it as a failed login of the account (and of the address).
    let attempt = match state.login_throttle() {
        Some(throttle) => {
            let address = state.proxy().client_address(parts);
            match throttle.begin(user.email(), address, None).await {
                Ok(attempt) => Some(attempt),
                Err(throttled) => return Err(ApiError::too_many_attempts(throttled.retry_after)),
            }
        }
        None => None,
    };
    let verified = state
        .manager()
        .passwords()
        .verify_and_update(password, user.hashed_password().to_owned())
        .await;
    match verified {
        Ok((true, _)) => {
            if let Some(attempt) = attempt {
                attempt.succeeded().await;
            }
            Ok(())
        }
        Ok((false, _)) => Err(ApiError::code(ErrorCode::CurrentPasswordInvalid)),
        Err(error) => {
            if let Some(attempt) = attempt {
                attempt.abandon().await;
            }
            Err(update_error(error.into()))
        }
    }
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

/// A superuser's update body: the update type, but a flag sent as `null` is a 422
/// `bool_type`. `PATCH /me` ignores such a flag, as the reference does (it drops the flags);
/// here the reference would write the `null` into its NOT NULL column and fail with a 500.
struct SuperuserUpdate<U>(U);

impl<U: FromJson> FromJson for SuperuserUpdate<U> {
    fn from_json(value: &serde_json::Value) -> Result<Self, ValidationErrors> {
        const FLAGS: [&str; 3] = ["is_active", "is_superuser", "is_verified"];
        let mut errors: Vec<ValidationError> = FLAGS
            .into_iter()
            .filter(|flag| value.get(flag).is_some_and(serde_json::Value::is_null))
            .map(|flag| ValidationError {
                kind: "bool_type",
                loc: vec!["body".into(), flag.into()],
                msg: "Input should be a valid boolean".to_owned(),
                input: serde_json::Value::Null,
                ctx: None,
            })
            .collect();
        let parsed = U::from_json(value);
        if errors.is_empty() {
            return parsed.map(Self);
        }
        if let Err(found) = parsed {
            errors.extend_from_slice(found.errors());
        }
        // In the body's field order, as Pydantic lists errors: password and email, the flags,
        // then the custom fields (a stable sort keeps the order within each).
        let rank = |error: &ValidationError| match error.loc.get(1).and_then(|l| l.as_str()) {
            Some("password" | "email") => 0,
            Some(name) => FLAGS.iter().position(|f| *f == name).map_or(4, |i| i + 1),
            None => 0,
        };
        errors.sort_by_key(rank);
        let mut all = ValidationErrors::new();
        errors.into_iter().for_each(|error| all.push(error));
        Err(all)
    }
}

async fn patch_user<A: Backends>(
    State(state): State<FastUsers<A>>,
    _: RouteUser<A, true>,
    Path(id): Path<String>,
    parts: Parts,
    JsonBody(SuperuserUpdate(update)): JsonBody<SuperuserUpdate<Update<A>>>,
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
