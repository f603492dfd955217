//! Extractors for the current user.
//!
//! Each takes the application's backends as its first parameter and, optionally, which of them
//! to accept as a bit mask of the constants `auth_backends!` generates (all by default):
//!
//! ```
//! # use fastusers::prelude::*;
//! # #[derive(User, Clone, Debug)]
//! # pub struct User { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
//! #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
//! fastusers::auth_backends! {
//!     pub struct Auth for User {
//!         jwt: BearerTransport, JwtStrategy;
//!         cookie: CookieTransport, JwtStrategy;
//!     }
//! }
//!
//! async fn any_backend(user: ActiveUser<Auth>) -> String {
//!     format!("Hello {}!", user.email)
//! }
//!
//! async fn cookie_only(user: ActiveUser<Auth, { Auth::COOKIE }>) -> String {
//!     format!("Hello {}!", user.email)
//! }
//! ```
//!
//! The rules are fastapi-users': no user, or an inactive one where an active one is required,
//! is a 401; a user who is not verified or not a superuser where that is required is a 403.

pub use crate::body::{
    BodyRejection, FromJson, JsonBody, LoginForm, RefreshForm, ValidationError, ValidationErrors,
};
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::backend::{Authenticated, Backends};
use crate::error::{ApiError, BoxError, Report};
use crate::state::FastUsers;
use crate::strategy::StrategyError;
use crate::user::User;

/// Every backend.
pub const ALL_BACKENDS: u64 = u64::MAX;

/// Why the current user could not be extracted.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No valid token, unknown user, or an inactive user where an active one is required: 401.
    Unauthorized,
    /// Authenticated, but not verified or not a superuser as required: 403.
    Forbidden,
    /// The store or the token service is down: 503 (logged with the cause).
    Unavailable(BoxError),
    /// An unsafe request authenticated by a cookie came from an untrusted origin: 403
    /// `CSRF_CHECK_FAILED`.
    UntrustedOrigin(String),
    /// Anything else: 500 (logged with the cause).
    Internal(BoxError),
}

impl From<AuthRejection> for ApiError {
    fn from(rejection: AuthRejection) -> Self {
        match rejection {
            AuthRejection::Unauthorized => ApiError::unauthorized(),
            AuthRejection::Forbidden => ApiError::forbidden(),
            AuthRejection::UntrustedOrigin(origin) => {
                tracing::warn!(%origin, "refused a cross-site request carrying the auth cookie");
                ApiError::csrf()
            }
            AuthRejection::Unavailable(cause) => {
                tracing::warn!(cause = %Report(&*cause), "authentication unavailable");
                ApiError::unavailable("The authentication service is unavailable. Try again later.")
            }
            AuthRejection::Internal(cause) => {
                tracing::error!(cause = %Report(&*cause), "authentication failed");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl From<StrategyError> for AuthRejection {
    fn from(error: StrategyError) -> Self {
        match error {
            StrategyError::UntrustedOrigin(e) => Self::UntrustedOrigin(e.origin),
            StrategyError::Store(crate::StoreError::Unavailable(_))
            | StrategyError::Unavailable(_) => Self::Unavailable(error.into()),
            other => Self::Internal(other.into()),
        }
    }
}

/// What a route requires of its user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    /// The user must be active (else 401).
    pub active: bool,
    /// The user must be verified (else 403).
    pub verified: bool,
    /// The user must be a superuser (else 403).
    pub superuser: bool,
}

/// Finds the user of a request and checks `requirements`: the logic behind every extractor.
/// Records [`FastUsers::proxy`] in the request first, for the transports' CSRF check (see
/// [`ProxyHeaders::of`](crate::proxy::ProxyHeaders::of)).
///
/// The user's id is recorded as the field [`USER_ID_FIELD`] (`user_id`) of the current
/// tracing span, when the span declares it (`user_id = tracing::field::Empty`, as the
/// request span of the application's trace layer can), so that every log line of the request
/// names its user.
pub async fn authenticate<A: Backends>(
    parts: &mut Parts,
    state: &FastUsers<A>,
    requirements: Requirements,
    enabled: u64,
) -> Result<Authenticated<A::User>, AuthRejection> {
    state.proxy().apply(parts);
    let parts = &*parts;
    let found = state
        .backends()
        .authenticate(parts, state.manager(), enabled)
        .await?;
    let found = found.ok_or(AuthRejection::Unauthorized)?;
    let user = &found.user;
    record_user(user);
    if requirements.active && !user.is_active() {
        return Err(AuthRejection::Unauthorized);
    }
    if (requirements.verified && !user.is_verified())
        || (requirements.superuser && !user.is_superuser())
    {
        return Err(AuthRejection::Forbidden);
    }
    Ok(found)
}

/// The field of the request's tracing span that fastusers records the user's id in, once it
/// knows the user (an authenticated request, a successful login).
pub const USER_ID_FIELD: &str = "user_id";

/// Records `user`'s id in the current span's [`USER_ID_FIELD`], if it has one.
pub(crate) fn record_user<U: User>(user: &U) {
    tracing::Span::current().record(USER_ID_FIELD, tracing::field::display(user.id()));
}

macro_rules! user_extractor {
    ($(#[$doc:meta])* $name:ident, $active:literal, $verified:literal, $superuser:literal) => {
        $(#[$doc])*
        pub struct $name<A: Backends, const B: u64 = ALL_BACKENDS>(pub A::User);

        impl<A: Backends, const B: u64> $name<A, B> {
            /// The user.
            pub fn into_inner(self) -> A::User {
                self.0
            }
        }

        impl<A: Backends, const B: u64> Deref for $name<A, B> {
            type Target = A::User;
            fn deref(&self) -> &A::User {
                &self.0
            }
        }

        impl<A: Backends, const B: u64> std::fmt::Debug for $name<A, B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl<A: Backends, S: Send + Sync, const B: u64> FromRequestParts<S> for $name<A, B>
        where
            FastUsers<A>: FromRef<S>,
        {
            type Rejection = AuthRejection;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                let state = FastUsers::<A>::from_ref(state);
                let requirements = Requirements { active: $active, verified: $verified, superuser: $superuser };
                Ok(Self(authenticate(parts, &state, requirements, B).await?.user))
            }
        }
    };
}

user_extractor!(
    /// The authenticated user, active or not (401 without one).
    CurrentUser, false, false, false
);
user_extractor!(
    /// The authenticated, active user (401 otherwise).
    ActiveUser, true, false, false
);
user_extractor!(
    /// The authenticated, active and verified user (401 / 403 otherwise).
    VerifiedUser, true, true, false
);
user_extractor!(
    /// The authenticated, active superuser (401 / 403 otherwise).
    Superuser, true, false, true
);

/// The authenticated, active user if there is one; `None` instead of a 401 or 403.
pub struct OptionalUser<A: Backends, const B: u64 = ALL_BACKENDS>(pub Option<A::User>);

impl<A: Backends, const B: u64> std::fmt::Debug for OptionalUser<A, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OptionalUser").field(&self.0).finish()
    }
}

impl<A: Backends, S: Send + Sync, const B: u64> FromRequestParts<S> for OptionalUser<A, B>
where
    FastUsers<A>: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = FastUsers::<A>::from_ref(state);
        let requirements = Requirements {
            active: true,
            ..Requirements::default()
        };
        match authenticate(parts, &state, requirements, B).await {
            Ok(found) => Ok(Self(Some(found.user))),
            Err(AuthRejection::Unauthorized | AuthRejection::Forbidden) => Ok(Self(None)),
            Err(other) => Err(other),
        }
    }
}
