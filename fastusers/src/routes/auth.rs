//! `POST /login` and `POST /logout` for one backend, and `POST /refresh` for a backend with
//! refresh tokens.

use axum::extract::{FromRef, OriginalUri, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::Response;

use super::{Routes, describe, user_error};
use crate::backend::{Backend, Backends};
use crate::body::{LoginForm, RefreshForm};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ALL_BACKENDS, AuthRejection, Requirements, authenticate};
use crate::manager::{UserError, UserManager};
use crate::metrics::{self, LoginOutcome};
use crate::password::PasswordError;
use crate::refresh::{NoRefresh, Refresh, RefreshError, RefreshTokens};
use crate::state::FastUsers;
use crate::strategy::Strategy;
use crate::throttle::{LoginThrottle, TrustedDevice};
use crate::transport::{RefreshAnswer, Transport};
use crate::user::User;

/// Picks one backend out of the application's set; `auth_backends!` passes a field accessor.
pub type BackendRef<A, T, St, R = NoRefresh> = fn(&A) -> &Backend<T, St, R>;

/// The refresh tokens of a backend with them.
type WithRefresh<A> = RefreshTokens<<A as Backends>::User>;

/// The auth router of the backend at `index`: `POST /login` (form body) and `POST /logout`.
pub fn router<A, T, St, S>(backend: BackendRef<A, T, St>, index: usize) -> Routes<A, S>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    login_logout(backend, index, false)
}

/// The auth router of the backend at `index`, declared with `refresh`: `POST /login`, which
/// also issues a refresh token, `POST /logout` and `POST /refresh`.
pub fn refresh_router<A, T, St, S>(
    backend: BackendRef<A, T, St, WithRefresh<A>>,
    index: usize,
) -> Routes<A, S>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    login_logout(backend, index, true)
        .add(
            Method::POST,
            "/refresh",
            move |State(state): State<FastUsers<A>>, parts: Parts, form: RefreshForm| {
                refresh(state, parts, form, backend, index)
            },
            describe!(|cx| refresh_doc(cx, index)),
        )
        .add(
            Method::POST,
            "/refresh/revoke",
            move |State(state): State<FastUsers<A>>, parts: Parts, form: RefreshForm| {
                revoke(state, parts, form, backend, index)
            },
            describe!(|cx| revoke_doc(cx, index)),
        )
}

fn login_logout<A, T, St, R, S>(
    backend: BackendRef<A, T, St, R>,
    index: usize,
    refresh: bool,
) -> Routes<A, S>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    R: Refresh<A::User>,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    #[cfg(not(feature = "openapi"))]
    let _ = refresh;
    Routes::new()
        .add(
            Method::POST,
            "/login",
            move |State(state): State<FastUsers<A>>, parts: Parts, form: LoginForm| {
                login(state, parts, form, backend, index)
            },
            describe!(|cx| login_doc(cx, index, refresh)),
        )
        .add(
            Method::POST,
            "/logout",
            move |State(state): State<FastUsers<A>>, parts: Parts| {
                logout(state, parts, backend, index)
            },
            describe!(|cx| {
                let backend = cx.backend(index);
                let (status, response) = backend.logout.clone();
                cx.op(&format!("auth:{}.logout", backend.name), "Log out")
                    .tag("auth")
                    .requires_user()
                    .response(status, response)
            }),
        )
}

/// `POST /login` of the backend at `index`: the form body as the reference documents it (the
/// multipart form, also accepted, is left out, as there), the transport's answer, and the
/// refusals: bad credentials, too many failures, and the CSRF check of a cookie transport.
#[cfg(feature = "openapi")]
fn login_doc<A>(
    cx: &mut crate::openapi::Context<'_, A>,
    index: usize,
    refresh: bool,
) -> crate::openapi::Op {
    use crate::openapi::prelude::*;
    let backend = cx.backend(index);
    let (status, response) = if refresh {
        backend.refresh.clone()
    } else if cx.device_tokens() {
        backend.login_with_device_token.clone()
    } else {
        backend.login.clone()
    };
    let csrf = backend.takes_cookie();
    let name = backend.name;
    if refresh {
        let device_tokens = cx.device_tokens();
        cx.schema("RefreshResponse", schema::refresh_response(device_tokens));
    }
    let op = cx.op(&format!("auth:{name}.login"), "Log in").tag("auth");
    if cx.device_tokens() {
        cx.schema(
            "BearerResponseWithDeviceToken",
            schema::bearer_response(true),
        );
    }
    let form = cx.schema(
        &format!("Body_{}", op.id()),
        schema::login_form(cx.device_tokens()),
    );
    let body = RequestBodyBuilder::new()
        .content("application/x-www-form-urlencoded", schema_content(form))
        .required(Some(REQUIRED))
        .build();
    let codes = cx.login_codes(vec![ErrorCode::LoginBadCredentials]);
    let op = op
        .body(body)
        .response(status, response)
        .response(
            400,
            coded_error(
                "Bad credentials, an unverified user, or a malformed form body.",
                &codes,
            ),
        )
        .response(
            429,
            json(
                "Too many failed logins: retry after `Retry-After` seconds.",
                error_content(&[ErrorCode::LoginTooManyAttempts]),
            )
            .header("retry-after", header(schema::integer(), None))
            .build(),
        );
    csrf_refusal(op, csrf, "A login")
}

/// `op` with the 403 of a cookie backend's CSRF check, when `csrf`: `what` from an untrusted
/// origin.
#[cfg(feature = "openapi")]
fn csrf_refusal(op: crate::openapi::Op, csrf: bool, what: &str) -> crate::openapi::Op {
    use crate::openapi::prelude::*;
    if !csrf {
        return op;
    }
    op.response(
        403,
        coded_error(
            &format!("{what} from an untrusted origin (the cookie transport's CSRF check)."),
            &[ErrorCode::CsrfCheckFailed],
        ),
    )
}

/// The form body of a refresh route: optional on a cookie backend, whose refresh cookie
/// stands in for it.
#[cfg(feature = "openapi")]
fn refresh_form_body(
    form: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    csrf: bool,
) -> utoipa::openapi::request_body::RequestBody {
    use crate::openapi::prelude::*;
    RequestBodyBuilder::new()
        .content("application/x-www-form-urlencoded", schema_content(form))
        .required(Some(if csrf {
            utoipa::openapi::Required::False
        } else {
            REQUIRED
        }))
        .build()
}

/// `POST /refresh` of the backend at `index`: RFC 6749 section 6's form (or the refresh
/// cookie), the transport's answer, and the refusals.
#[cfg(feature = "openapi")]
fn refresh_doc<A>(cx: &mut crate::openapi::Context<'_, A>, index: usize) -> crate::openapi::Op {
    use crate::openapi::prelude::*;
    let backend = cx.backend(index);
    let (status, response) = backend.refresh.clone();
    let csrf = backend.takes_cookie();
    let name = backend.name;
    cx.schema("RefreshResponse", schema::refresh_response(false));
    let op = cx
        .op(&format!("auth:{name}.refresh"), "Exchange a refresh token")
        .tag("auth");
    let form = cx.schema(&format!("Body_{}", op.id()), schema::refresh_form(csrf));
    let op = op.body(refresh_form_body(form, csrf)).response(status, response).response(
        400,
        coded_error(
            "The refresh token is invalid, expired or revoked, or was already used (then every token of its login is revoked).",
            &[ErrorCode::RefreshTokenInvalid, ErrorCode::RefreshTokenReused],
        ),
    );
    csrf_refusal(op, csrf, "A refresh")
}

/// `POST /refresh/revoke` of the backend at `index`: RFC 7009's form (or the refresh cookie).
#[cfg(feature = "openapi")]
fn revoke_doc<A>(cx: &mut crate::openapi::Context<'_, A>, index: usize) -> crate::openapi::Op {
    use crate::openapi::prelude::*;
    let backend = cx.backend(index);
    let csrf = backend.takes_cookie();
    let name = backend.name;
    let op = cx
        .op(
            &format!("auth:{name}.revoke"),
            "Log out: revoke a refresh token",
        )
        .tag("auth");
    let form = cx.schema(&format!("Body_{}", op.id()), schema::revoke_form(csrf));
    let done = if csrf {
        "Revoked (every token of its login), and the cookies cleared. Also for a token that is unknown or already revoked."
    } else {
        "Revoked (every token of its login). Also for a token that is unknown or already revoked (RFC 7009)."
    };
    let op = op
        .body(refresh_form_body(form, csrf))
        .response(204, Response::new(done));
    csrf_refusal(op, csrf, "A revocation")
}

async fn login<A, T, St, R>(
    state: FastUsers<A>,
    mut parts: Parts,
    form: LoginForm,
    backend: BackendRef<A, T, St, R>,
    index: usize,
) -> Result<Response, ApiError>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    R: Refresh<A::User>,
{
    let manager = state.manager();
    let chosen = backend(state.backends());
    state.proxy().apply(&mut parts);
    // A cookie login from another site would log the victim into the attacker's account.
    chosen
        .transport
        .check_origin(&parts)
        .map_err(|e| ApiError::from(AuthRejection::UntrustedOrigin(e.origin)))?;
    let throttle = state.login_throttle();
    let attempt = match throttle {
        Some(throttle) => {
            let device = trusted_device(manager, throttle, &form, &parts).await;
            let address = state.proxy().client_address(&parts);
            match throttle
                .begin(&form.username, address, device.as_ref())
                .await
            {
                Ok(attempt) => Some(attempt),
                Err(throttled) => {
                    metrics::login(LoginOutcome::Throttled);
                    manager
                        .hooks()
                        .on_after_failed_login(&form.username, true, Some(&parts))
                        .await;
                    return Err(ApiError::too_many_attempts(throttled.retry_after));
                }
            }
        }
        None => None,
    };
    let found = match manager.authenticate(&form.username, &form.password).await {
        Ok(found) => found,
        Err(error) => {
            // Nothing was checked: the login gives its places back.
            if let Some(attempt) = attempt {
                attempt.abandon().await;
            }
            metrics::login(match error {
                UserError::Password(PasswordError::Busy { .. }) => LoginOutcome::Shed,
                _ => LoginOutcome::Error,
            });
            return Err(user_error(
                error,
                ErrorCode::LoginBadCredentials,
                ErrorCode::LoginBadCredentials,
            ));
        }
    };
    // Unknown email, wrong password and inactive user must look the same; the attempt keeps
    // its places.
    let Some(user) = found.filter(User::is_active) else {
        drop(attempt);
        metrics::login(LoginOutcome::BadCredentials);
        manager
            .hooks()
            .on_after_failed_login(&form.username, false, Some(&parts))
            .await;
        return Err(ApiError::code(ErrorCode::LoginBadCredentials));
    };
    crate::extract::record_user(&user);
    // The password is right: whatever follows, this was no guess to count.
    if let Some(attempt) = attempt {
        attempt.succeeded().await;
    }
    if state.verification_required() && !user.is_verified() {
        metrics::login(LoginOutcome::NotVerified);
        return Err(ApiError::code(ErrorCode::LoginUserNotVerified));
    }
    let device_token = throttle.and_then(LoginThrottle::devices).map(|devices| {
        let token = devices.issue(&user.id().to_string(), user.email());
        let cookie = devices.set_cookie_value(&token);
        (token, cookie)
    });
    let name = A::NAMES.get(index).copied().unwrap_or("unknown");
    let issued = issue_login_with(&state, &parts, backend, name, &user, device_token).await;
    metrics::login(match issued {
        Ok(_) => LoginOutcome::Success,
        Err(_) => LoginOutcome::Error,
    });
    issued
}

/// The device of this login, when it presents a device token valid for the account its
/// `username` names. Only a well-formed, unexpired token costs a user lookup; a lookup that
/// fails counts as no device (logged).
async fn trusted_device<U: User>(
    manager: &UserManager<U>,
    throttle: &LoginThrottle,
    form: &LoginForm,
    parts: &Parts,
) -> Option<TrustedDevice> {
    let devices = throttle.devices()?;
    let presented = devices.presented(form.device_token.as_deref(), parts);
    if presented.is_empty() {
        return None;
    }
    let user = match manager.get_by_email(&form.username).await {
        Ok(user) => user?,
        Err(error) => {
            tracing::error!(target: "fastusers::throttle", error = %crate::error::Report(&error), "could not check a device token; counting the login as without one");
            return None;
        }
    };
    let id = user.id().to_string();
    presented
        .into_iter()
        .find_map(|token| devices.verify(token, &id, user.email()))
}

/// Logs `user` in with the backend: the `on_before_login` hook (which may refuse), a new
/// token, the transport's login response, then the `on_after_login` hook, which may change it.
#[cfg(feature = "oauth")]
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
    // Without refresh tokens, the backend's name is not needed.
    issue_login_with(state, parts, backend, "", user, None).await
}

/// [`issue_login`], giving the client `device_token` (the token and its `Set-Cookie` value)
/// when there is one.
async fn issue_login_with<A, T, St, R>(
    state: &FastUsers<A>,
    parts: &Parts,
    backend: BackendRef<A, T, St, R>,
    name: &'static str,
    user: &A::User,
    device_token: Option<(String, String)>,
) -> Result<Response, ApiError>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    R: Refresh<A::User>,
{
    state
        .manager()
        .hooks()
        .on_before_login(user, Some(parts))
        .await?;
    let backend = backend(state.backends());
    let mut response = match backend.refresh.tokens() {
        Some(refresh) => {
            let issued = refresh.issue(name, user).await?;
            let access_token = backend
                .strategy
                .write_token_at(user, issued.auth_time)
                .await
                .map_err(|e| ApiError::from(AuthRejection::from(e)))?;
            let path = refresh_path(parts, "/login");
            backend.transport.refresh_response(RefreshAnswer {
                access_token,
                expires_in: backend.strategy.lifetime_seconds(),
                refresh_token: &issued.token,
                refresh_max_age: issued.max_age,
                refresh_path: &path,
                device: device_token
                    .as_ref()
                    .map(|(token, cookie)| (token.as_str(), cookie.as_str())),
            })
        }
        None => {
            let token = backend
                .strategy
                .write_token(user)
                .await
                .map_err(|e| ApiError::from(AuthRejection::from(e)))?;
            match device_token {
                Some((device, cookie)) => backend
                    .transport
                    .login_response_with_device_token(token, &device, &cookie),
                None => backend.transport.login_response(token),
            }
        }
    };
    state
        .manager()
        .hooks()
        .on_after_login(user, Some(parts), &mut response)
        .await;
    Ok(response)
}

/// The full path of the refresh route beside the route of this request, which ends with
/// `route` (`/login`): where the refresh cookie is sent.
fn refresh_path(parts: &Parts, route: &str) -> String {
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |uri| uri.0.path());
    let prefix = path.strip_suffix(route).unwrap_or(path);
    format!("{}/refresh", prefix.trim_end_matches('/'))
}

/// The refresh token a request presents: the transport's own (the refresh cookie), behind its
/// CSRF check, or else the form's field that `from_form` reads.
fn presented<'a, T: Transport>(
    transport: &T,
    parts: &Parts,
    from_form: impl FnOnce() -> Result<&'a str, crate::body::ValidationErrors>,
) -> Result<String, ApiError> {
    match transport.refresh_token(parts) {
        Some(token) => {
            // A refresh cookie sent by another site's page would log the victim in there.
            transport
                .check_origin(parts)
                .map_err(|e| ApiError::from(AuthRejection::UntrustedOrigin(e.origin)))?;
            Ok(token.to_owned())
        }
        None => Ok(from_form()?.to_owned()),
    }
}

/// `POST /refresh`: the refresh token (the transport's own, the refresh cookie, behind the
/// CSRF check; or RFC 6749 section 6's form) exchanged for a new access token and refresh
/// token.
async fn refresh<A, T, St>(
    state: FastUsers<A>,
    mut parts: Parts,
    form: RefreshForm,
    backend: BackendRef<A, T, St, WithRefresh<A>>,
    index: usize,
) -> Result<Response, ApiError>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
{
    state.proxy().apply(&mut parts);
    let chosen = backend(state.backends());
    let presented = presented(&chosen.transport, &parts, || form.refresh_token())?;
    let name = A::NAMES.get(index).copied().unwrap_or("unknown");
    let refreshed = chosen
        .refresh
        .refresh(name, &presented, state.manager(), Some(&parts))
        .await
        .map_err(|error| match error {
            RefreshError::Invalid => ApiError::code(ErrorCode::RefreshTokenInvalid),
            RefreshError::Reused => ApiError::code(ErrorCode::RefreshTokenReused),
            RefreshError::Store(error) => ApiError::from(error),
        })?;
    if state.verification_required() && !refreshed.user.is_verified() {
        return Err(ApiError::code(ErrorCode::LoginUserNotVerified));
    }
    let access_token = chosen
        .strategy
        .write_token_at(&refreshed.user, refreshed.refresh.auth_time)
        .await
        .map_err(|e| ApiError::from(AuthRejection::from(e)))?;
    let path = refresh_path(&parts, "/refresh");
    Ok(chosen.transport.refresh_response(RefreshAnswer {
        access_token,
        expires_in: chosen.strategy.lifetime_seconds(),
        refresh_token: &refreshed.refresh.token,
        refresh_max_age: refreshed.refresh.max_age,
        refresh_path: &path,
        device: None,
    }))
}

/// `POST /refresh/revoke`: the family of the refresh token (the refresh cookie, behind the
/// CSRF check, or RFC 7009's `token` field) ends, whatever the token's state (RFC 7009 section
/// 2.2: an unknown token is no error).
async fn revoke<A, T, St>(
    state: FastUsers<A>,
    mut parts: Parts,
    form: RefreshForm,
    backend: BackendRef<A, T, St, WithRefresh<A>>,
    index: usize,
) -> Result<Response, ApiError>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
{
    state.proxy().apply(&mut parts);
    let chosen = backend(state.backends());
    let presented = presented(&chosen.transport, &parts, || form.revoked_token())?;
    let name = A::NAMES.get(index).copied().unwrap_or("unknown");
    chosen.refresh.revoke(name, &presented).await?;
    let path = refresh_path(&parts, "/refresh/revoke");
    Ok(chosen.transport.refresh_revoked_response(&path))
}

async fn logout<A, T, St, R>(
    state: FastUsers<A>,
    mut parts: Parts,
    backend: BackendRef<A, T, St, R>,
    index: usize,
) -> Result<Response, AuthRejection>
where
    A: Backends,
    T: Transport,
    St: Strategy<A::User>,
    R: Refresh<A::User>,
{
    let requirements = Requirements {
        active: true,
        verified: state.verification_required(),
        superuser: false,
    };
    let backend_ref = backend(state.backends());
    match authenticate(&mut parts, &state, requirements, 1 << index).await {
        Ok(found) => {
            backend_ref
                .strategy
                .destroy_token(&found.token, &found.user)
                .await?;
            metrics::revoked("session");
        }
        // The reference accepts a token of any backend here; only this backend's own token
        // is destroyed.
        Err(AuthRejection::Unauthorized) => {
            authenticate(&mut parts, &state, requirements, ALL_BACKENDS).await?;
        }
        Err(other) => return Err(other),
    }
    Ok(backend_ref.transport.logout_response())
}
