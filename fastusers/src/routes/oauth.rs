//! The OAuth routers: `GET /authorize` and `GET /callback` to log in or sign up through a
//! provider, and the associate router that links (and unlinks) a provider account.

use std::sync::Arc;

use axum::extract::{FromRef, OriginalUri, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::auth::{BackendRef, issue_login};
use super::{Routes, describe};
use crate::backend::Backends;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{ALL_BACKENDS, Requirements, authenticate};
use crate::oauth::accounts::{OAuthError, account_json};
use crate::oauth::client::{Identity, OAuthClientError, ProviderTokens};
use crate::oauth::state::{StateClaims, constant_time_eq};
use crate::oauth::{OAuthClient, OAuthOptions};
use crate::proxy::ProxyHeaders;
use crate::state::FastUsers;
use crate::strategy::Strategy;
use crate::token::{DecodeFailure, random_token};
use crate::transport::Transport;
use crate::user::{OAuthUser, User};

/// One provider and its options, shared by a router's handlers.
struct Provider {
    client: OAuthClient,
    options: OAuthOptions,
}

type Shared = Extension<Arc<Provider>>;

/// The OAuth router of one provider and one backend (mount it at `/auth/{provider}`):
/// `GET /authorize` answers `{"authorization_url": ...}` and sets the CSRF cookie;
/// `GET /callback` logs the user in with the backend, signing them up if needed.
///
/// # Panics
///
/// When `client` cannot learn who logged in (see [`FastUsers::oauth_router`]).
pub(super) fn router<A, T, St, S>(
    client: OAuthClient,
    backend: BackendRef<A, T, St>,
    options: OAuthOptions,
) -> Routes<A, S>
where
    A: Backends,
    A::User: OAuthUser,
    T: Transport,
    St: Strategy<A::User>,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    ready(&client);
    #[cfg(feature = "openapi")]
    let (provider, name) = (client.name().to_owned(), client.name().to_owned());
    Routes::new()
        .add(
            Method::GET,
            "/authorize",
            |State(state): State<FastUsers<A>>,
             Extension(p): Shared,
             uri: OriginalUri,
             mut parts: Parts| async move {
                state.proxy().apply(&mut parts);
                authorize(&p, &uri, &parts, None)
            },
            describe!(|cx| {
                let backend = cx.backend_of(backend).name;
                let name = format!("oauth:{provider}.{backend}.authorize");
                doc::authorize(cx, &name)
            }),
        )
        .add(
            Method::GET,
            "/callback",
            move |State(state): State<FastUsers<A>>,
                  Extension(p): Shared,
                  uri: OriginalUri,
                  mut parts: Parts| async move {
                state.proxy().apply(&mut parts);
                login_callback(state, &p, &uri, parts, backend).await
            },
            describe!(|cx| doc::login_callback(cx, &name, backend)),
        )
        .map_router(|router| router.layer(Extension(Arc::new(Provider { client, options }))))
}

/// The associate router of one provider (mount it at `/auth/associate/{provider}`), for an
/// authenticated user: `GET /authorize`, `GET /callback` (links the provider account and
/// answers the user with its `oauth_accounts`) and `DELETE /` (unlinks it).
///
/// # Panics
///
/// When `client` cannot learn who logged in (see [`FastUsers::oauth_router`]).
pub(super) fn associate_router<A, S>(client: OAuthClient, options: OAuthOptions) -> Routes<A, S>
where
    A: Backends,
    A::User: OAuthUser,
    S: Clone + Send + Sync + 'static,
    FastUsers<A>: FromRef<S>,
{
    ready(&client);
    #[cfg(feature = "openapi")]
    let provider = client.name().to_owned();
    #[cfg(feature = "openapi")]
    let (authorize_name, callback_name, unlink_name) = (
        format!("oauth-associate:{provider}.authorize"),
        format!("oauth-associate:{provider}.callback"),
        format!("oauth-associate:{provider}.unlink"),
    );
    Routes::new()
        .add(
            Method::GET,
            "/authorize",
            |State(state): State<FastUsers<A>>,
             Extension(p): Shared,
             uri: OriginalUri,
             mut parts: Parts| async move {
                let user = guard(&state, &mut parts).await?;
                authorize(&p, &uri, &parts, Some(user.id().to_string()))
            },
            describe!(|cx| doc::authorize(cx, &authorize_name).requires_user()),
        )
        .add(
            Method::GET,
            "/callback",
            |State(state): State<FastUsers<A>>,
             Extension(p): Shared,
             uri: OriginalUri,
             parts: Parts| async move { associate_callback(state, &p, &uri, parts).await },
            describe!(|cx| doc::associate_callback(cx, &callback_name)),
        )
        .add(
            Method::DELETE,
            "/",
            |State(state): State<FastUsers<A>>, Extension(p): Shared, parts: Parts| async move {
                unlink(state, &p, parts).await
            },
            describe!(|cx| cx
                .op(&unlink_name, "Unlink")
                .tag("auth")
                .requires_user()
                .response(204, Response::new("Unlinked."))
                .response(
                    400,
                    coded_error(
                        "The user would have no way left to log in.",
                        &[ErrorCode::OauthLastLoginMethod],
                    ),
                )
                .response(404, not_found("No account at this provider is linked."))),
        )
        .map_router(|router| router.layer(Extension(Arc::new(Provider { client, options }))))
}

/// The current user of the associate routes: active, and verified when required. Records the
/// proxy setting in `parts`, for [`redirect_uri`].
async fn guard<A: Backends>(state: &FastUsers<A>, parts: &mut Parts) -> Result<A::User, ApiError> {
    let requirements = Requirements {
        active: true,
        verified: state.verification_required(),
        superuser: false,
    };
    Ok(authenticate(parts, state, requirements, ALL_BACKENDS)
        .await
        .map_err(ApiError::from)?
        .user)
}

/// The query's values, by name (repeated names kept in order).
fn query(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

fn first<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The callback URL: the configured one, or this router's `/callback` on the request's scheme
/// and host as [`ProxyHeaders`] reads them (the forwarded ones only behind a proxy).
fn redirect_uri(p: &Provider, uri: &OriginalUri, parts: &Parts) -> String {
    if let Some(url) = &p.options.redirect_url {
        return url.clone();
    }
    let proxy = ProxyHeaders::of(parts);
    let scheme = proxy.scheme(parts);
    let host = proxy.host(parts).unwrap_or("localhost");
    let path = uri.0.path();
    let base = path
        .strip_suffix("/authorize")
        .or_else(|| path.strip_suffix("/callback"))
        .unwrap_or(path);
    format!("{scheme}://{host}{base}/callback")
}

fn authorize(
    p: &Provider,
    uri: &OriginalUri,
    parts: &Parts,
    sub: Option<String>,
) -> Result<Response, ApiError> {
    let scopes: Vec<String> = query(parts)
        .into_iter()
        .filter(|(k, _)| k == "scopes")
        .map(|(_, v)| v)
        .collect();
    let csrf = random_token();
    let state = p.options.secret.issue(&csrf, sub, p.options.state_lifetime);
    let url = p
        .client
        .authorization_url(
            &redirect_uri(p, uri, parts),
            state,
            p.options.secret.pkce_challenge(&csrf),
            &p.options.secret.nonce(&csrf),
            &scopes,
        )
        .map_err(client_error)?;
    let mut response = Json(json!({ "authorization_url": url })).into_response();
    set_cookie(&mut response, p.options.csrf_cookie.set_cookie_value(&csrf));
    Ok(response)
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Refuses, at start-up, a client that could not tell who logged in: every callback would
/// fail.
fn ready(client: &OAuthClient) {
    if let Err(error) = client.check_ready() {
        panic!("{error}");
    }
}

fn client_error(error: OAuthClientError) -> ApiError {
    use OAuthClientError as E;
    match error {
        E::Refused { code, .. } => ApiError::new(StatusCode::BAD_REQUEST, code),
        E::InvalidIdToken(why) => {
            tracing::warn!(target: "fastusers::oauth", error = &why as &dyn std::error::Error, "refused an ID token");
            ApiError::code(ErrorCode::OauthInvalidIdToken)
        }
        error @ (E::TokenRequest { .. }
        | E::Unreachable { .. }
        | E::Status { .. }
        | E::NotJson { .. }
        | E::MissingField { .. }
        | E::Discovery { .. }
        | E::Keys { .. }) => {
            tracing::error!(target: "fastusers::oauth", error = &error as &dyn std::error::Error, "the OAuth provider failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::OauthProviderUnavailable.as_str(),
            )
        }
        error @ (E::InvalidUrl { .. } | E::NoIdentitySource { .. }) => {
            tracing::error!(target: "fastusers::oauth", error = &error as &dyn std::error::Error, "OAuth client misconfigured");
            ApiError::internal()
        }
    }
}

fn oauth_error(error: OAuthError) -> ApiError {
    match error {
        OAuthError::NoEmail => ApiError::code(ErrorCode::OauthNotAvailableEmail),
        OAuthError::UserAlreadyExists => ApiError::code(ErrorCode::OauthUserAlreadyExists),
        OAuthError::LinkedElsewhere => ApiError::code(ErrorCode::OauthAccountAlreadyLinked),
        OAuthError::LastLoginMethod => ApiError::code(ErrorCode::OauthLastLoginMethod),
        OAuthError::NotLinked => ApiError::not_found(),
        OAuthError::User(crate::manager::UserError::Store(e)) => e.into(),
        other => {
            tracing::error!(target: "fastusers::oauth", error = %crate::error::Report(&other), "OAuth operation failed");
            ApiError::internal()
        }
    }
}

/// Whom a callback serves: the login callback takes only login states, the associate
/// callback only states issued to the logged-in user.
enum Purpose {
    Login,
    /// Linking an account to this user (their id).
    Associate(String),
}

/// A callback that passed every check that needs no provider: the code may be exchanged.
struct Checked {
    code: String,
    csrftoken: String,
}

/// Every check that the query, the state token, the CSRF cookie and the session allow, in this
/// order: the provider's `error`, a missing `code`, the state token (signature, audience,
/// expiry), the CSRF cookie, then the state's purpose (a login state at the associate callback
/// or the other way round, or an associate state issued to another user). All of them come
/// before the code is exchanged, so a callback refused here leaves the code unused, for the
/// flow it belongs to.
fn check_callback(p: &Provider, parts: &Parts, purpose: &Purpose) -> Result<Checked, ApiError> {
    let query = query(parts);
    if let Some(error) = first(&query, "error") {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, error));
    }
    let code = first(&query, "code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::status_only(StatusCode::BAD_REQUEST))?;
    let claims: StateClaims = p
        .options
        .secret
        .read(first(&query, "state").unwrap_or_default())
        .map_err(|e| {
            ApiError::code(match e {
                DecodeFailure::Expired => ErrorCode::AccessTokenAlreadyExpired,
                DecodeFailure::Invalid => ErrorCode::AccessTokenDecodeError,
            })
        })?;
    let cookie = p.options.csrf_cookie.token(parts).unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(cookie, &claims.csrftoken) {
        return Err(ApiError::code(ErrorCode::OauthInvalidState));
    }
    match (purpose, claims.sub.as_deref()) {
        (Purpose::Login, None) => {}
        // An associate flow's state, replayed at the login callback.
        (Purpose::Login, Some(_)) => return Err(ApiError::code(ErrorCode::OauthInvalidState)),
        (Purpose::Associate(user), Some(sub)) if sub == user => {}
        // A login state, or one issued to another user: fastapi-users' answer.
        (Purpose::Associate(_), _) => return Err(ApiError::status_only(StatusCode::BAD_REQUEST)),
    }
    Ok(Checked {
        code: code.to_owned(),
        csrftoken: claims.csrftoken,
    })
}

/// Exchanges a checked callback's code, then learns who the provider says the user is.
async fn exchange(
    p: &Provider,
    uri: &OriginalUri,
    parts: &Parts,
    checked: Checked,
) -> Result<(ProviderTokens, Identity), ApiError> {
    let secret = &p.options.secret;
    let tokens = p
        .client
        .exchange(
            checked.code,
            &redirect_uri(p, uri, parts),
            secret.pkce_verifier(&checked.csrftoken),
        )
        .await
        .map_err(client_error)?;
    let identity = p
        .client
        .identity(&tokens, &secret.nonce(&checked.csrftoken))
        .await
        .map_err(client_error)?;
    if identity.email.is_none() {
        return Err(ApiError::code(ErrorCode::OauthNotAvailableEmail));
    }
    Ok((tokens, identity))
}

async fn login_callback<A, T, St>(
    state: FastUsers<A>,
    p: &Provider,
    uri: &OriginalUri,
    parts: Parts,
    backend: BackendRef<A, T, St>,
) -> Result<Response, ApiError>
where
    A: Backends,
    A::User: OAuthUser,
    T: Transport,
    St: Strategy<A::User>,
{
    let checked = check_callback(p, &parts, &Purpose::Login)?;
    let (tokens, identity) = exchange(p, uri, &parts, checked).await?;
    let manager = state.manager();
    let user = manager
        .oauth_callback(
            p.client.name(),
            &tokens,
            &identity,
            &p.options,
            Some(&parts),
        )
        .await
        .map_err(oauth_error)?;
    if !user.is_active() {
        return Err(ApiError::code(ErrorCode::LoginBadCredentials));
    }
    if state.verification_required() && !user.is_verified() {
        return Err(ApiError::code(ErrorCode::LoginUserNotVerified));
    }
    let mut response = issue_login(&state, &parts, backend, &user).await?;
    if let Some(target) = &p.options.redirect_after_login
        && response.status() == StatusCode::NO_CONTENT
        && let Ok(location) = HeaderValue::from_str(target)
    {
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(header::LOCATION, location);
    }
    set_cookie(&mut response, p.options.csrf_cookie.clear_cookie_value());
    Ok(response)
}

/// The user as the associate callback shows it: the read model and its provider accounts.
async fn with_accounts<A: Backends>(
    state: &FastUsers<A>,
    p: &Provider,
    user: &A::User,
) -> Result<Value, ApiError>
where
    A::User: OAuthUser,
{
    let accounts = state
        .manager()
        .oauth_accounts(user)
        .await
        .map_err(oauth_error)?;
    let mut value = serde_json::to_value(user.to_read()).map_err(|_| ApiError::internal())?;
    value["oauth_accounts"] = accounts
        .iter()
        .map(|a| account_json(a, &p.options))
        .collect();
    Ok(value)
}

async fn associate_callback<A: Backends>(
    state: FastUsers<A>,
    p: &Provider,
    uri: &OriginalUri,
    mut parts: Parts,
) -> Result<Response, ApiError>
where
    A::User: OAuthUser,
{
    let user = guard(&state, &mut parts).await?;
    let checked = check_callback(p, &parts, &Purpose::Associate(user.id().to_string()))?;
    let (tokens, identity) = exchange(p, uri, &parts, checked).await?;
    state
        .manager()
        .oauth_associate(
            &user,
            p.client.name(),
            &tokens,
            &identity,
            &p.options,
            Some(&parts),
        )
        .await
        .map_err(oauth_error)?;
    let mut response = Json(with_accounts(&state, p, &user).await?).into_response();
    set_cookie(&mut response, p.options.csrf_cookie.clear_cookie_value());
    Ok(response)
}

async fn unlink<A: Backends>(
    state: FastUsers<A>,
    p: &Provider,
    mut parts: Parts,
) -> Result<StatusCode, ApiError>
where
    A::User: OAuthUser,
{
    let user = guard(&state, &mut parts).await?;
    state
        .manager()
        .oauth_unlink(&user, p.client.name(), Some(&parts))
        .await
        .map_err(oauth_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The descriptions of the OAuth routes.
#[cfg(feature = "openapi")]
mod doc {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::response::Response;
    use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, Schema};

    use super::BackendRef;
    use crate::backend::Backends;
    use crate::error::ErrorCode;
    use crate::openapi::prelude::*;
    use crate::openapi::{Context, Op};

    /// The 502 of a provider down.
    fn provider_down() -> Response {
        coded_error(
            "The provider could not be reached or answered nonsense.",
            &[ErrorCode::OauthProviderUnavailable],
        )
    }

    /// The schemas every OAuth route may use.
    fn schemas<A>(cx: &mut Context<'_, A>) {
        for (name, schema) in schema::oauth_fixed() {
            cx.schema(name, schema);
        }
    }

    /// `GET /authorize`, the same for logging in and for associating.
    pub(super) fn authorize<A>(cx: &mut Context<'_, A>, name: &str) -> Op {
        schemas(cx);
        let redirect = json(
            "Where to send the user; sets the CSRF cookie.",
            schema_content(schema::reference("OAuth2AuthorizeResponse")),
        )
        .header(
            "set-cookie",
            header(
                schema::string(),
                Some("The CSRF cookie (`fastapiusersoauthcsrf` by default)."),
            ),
        )
        .build();
        cx.op(name, "Authorize")
            .tag("auth")
            .parameter(query_param(
                "scopes",
                ArrayBuilder::new().items(schema::string()).into(),
            ))
            .response(200, redirect)
            .response(502, provider_down())
    }

    /// `GET /callback`: the provider's query parameters and its 502; what it answers otherwise
    /// differs between logging in and associating.
    fn callback<A>(cx: &mut Context<'_, A>, name: &str) -> Op {
        schemas(cx);
        ["code", "code_verifier", "state", "error"]
            .into_iter()
            .fold(cx.op(name, "Callback").tag("auth"), |op, param| {
                op.parameter(query_param(param, schema::string()))
            })
            .response(502, provider_down())
    }

    /// The login callback of `provider` with the backend `pick` picks.
    pub(super) fn login_callback<A: Backends, T, St>(
        cx: &mut Context<'_, A>,
        provider: &str,
        pick: BackendRef<A, T, St>,
    ) -> Op {
        let backend = cx.backend_of(pick);
        let (status, response) = backend.login.clone();
        let name = format!("oauth:{provider}.{}.callback", backend.name);
        let codes = cx.login_codes(vec![
            ErrorCode::OauthInvalidState,
            ErrorCode::AccessTokenDecodeError,
            ErrorCode::AccessTokenAlreadyExpired,
            ErrorCode::OauthNotAvailableEmail,
            ErrorCode::OauthUserAlreadyExists,
            ErrorCode::OauthInvalidIdToken,
            ErrorCode::LoginBadCredentials,
        ]);
        let mut op = callback(cx, &name).response(status, response).response(
            400,
            coded_error(
                "The provider's error, a missing code, a bad state, or a refused user.",
                &codes,
            ),
        );
        if status == 204 {
            op = op.response(
                303,
                Response::new("Logged in, redirected to the application (when configured)."),
            );
        }
        op
    }

    /// The associate callback.
    pub(super) fn associate_callback<A>(cx: &mut Context<'_, A>, name: &str) -> Op {
        let with_accounts: RefOr<Schema> = AllOfBuilder::new()
            .item(cx.user_read())
            .item(schema::object(
                "The user's provider accounts.",
                vec![(
                    "oauth_accounts",
                    ArrayBuilder::new()
                        .items(schema::reference("OAuthAccount"))
                        .into(),
                    true,
                )],
            ))
            .into();
        callback(cx, name)
            .requires_user()
            .json_response(200, "The user with the linked account.", with_accounts)
            .response(
                400,
                coded_error(
                    "The provider's error, a missing code, a bad state, another user's state, or an account linked elsewhere.",
                    &[
                        ErrorCode::OauthInvalidState,
                        ErrorCode::AccessTokenDecodeError,
                        ErrorCode::AccessTokenAlreadyExpired,
                        ErrorCode::OauthNotAvailableEmail,
                        ErrorCode::OauthAccountAlreadyLinked,
                        ErrorCode::OauthInvalidIdToken,
                    ],
                ),
            )
    }
}
