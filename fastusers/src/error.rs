//! Errors and their HTTP answers.
//!
//! Every error a client can see is an [`ApiError`]: a status and a `detail`, serialised as
//! fastapi-users does (`{"detail": ...}`). Each domain error becomes an `ApiError` in the
//! module that owns it ([`StoreError`](crate::StoreError) in `store`, [`AuthRejection`](crate::AuthRejection)
//! in `extract`, ...). The domain errors keep their causes ([`BoxError`]); [`Report`] shows an
//! error with all of them, as the logs do.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// The error codes of fastapi-users' `ErrorCode` enum, sent as the `detail` of a 400.
///
/// They serialise as their SCREAMING_SNAKE_CASE names, exactly as the reference does; each
/// name is written once, in [`as_str`](Self::as_str).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `validate_password` refused the password at registration.
    RegisterInvalidPassword,
    /// A user with this email already exists (case-insensitively).
    RegisterUserAlreadyExists,
    /// The OAuth provider gave no email address.
    OauthNotAvailableEmail,
    /// The OAuth account's email belongs to an existing user.
    OauthUserAlreadyExists,
    /// The OAuth state or CSRF cookie is missing or wrong.
    OauthInvalidState,
    /// Unknown email, wrong password or inactive user: deliberately indistinguishable.
    LoginBadCredentials,
    /// The password was right but the user must verify their email first.
    LoginUserNotVerified,
    /// The reset-password token is invalid, expired or already used.
    ResetPasswordBadToken,
    /// `validate_password` refused the new password of a reset.
    ResetPasswordInvalidPassword,
    /// The verification token is invalid or expired.
    VerifyUserBadToken,
    /// The user is already verified.
    VerifyUserAlreadyVerified,
    /// Another user already has this email.
    UpdateUserEmailAlreadyExists,
    /// `validate_password` refused the new password of an update.
    UpdateUserInvalidPassword,
    /// The OAuth state token has expired.
    AccessTokenAlreadyExpired,
    /// The OAuth state token cannot be decoded.
    AccessTokenDecodeError,
    /// fastusers: the provider account is already linked to another user.
    OauthAccountAlreadyLinked,
    /// fastusers: unlinking this provider would leave the user no way to log in.
    OauthLastLoginMethod,
    /// fastusers: the provider's ID token failed its checks.
    OauthInvalidIdToken,
    /// fastusers: the provider could not be reached or answered nonsense (a 502).
    OauthProviderUnavailable,
    /// fastusers: too many failed logins for this account or from this address (a 429 with
    /// `Retry-After`).
    LoginTooManyAttempts,
    /// fastusers: an unsafe request authenticated by a cookie came from an untrusted origin
    /// (a 403).
    CsrfCheckFailed,
    /// fastusers: the refresh token is unknown, expired or revoked (its family ended: logout,
    /// a password change, log-out-everywhere...), or its user is inactive or gone.
    RefreshTokenInvalid,
    /// fastusers: the refresh token was already exchanged for another: two parties hold it, so
    /// every token of its login is now revoked. The client must log in again.
    RefreshTokenReused,
    /// fastusers: a sensitive change (a new email or password through `PATCH /users/me`) needs
    /// a recent login, or the current password where that is accepted (a 403; see
    /// [`SensitiveChanges`](crate::SensitiveChanges)).
    FreshLoginRequired,
    /// fastusers: a sensitive change needs the current password in `current_password`.
    CurrentPasswordRequired,
    /// fastusers: the `current_password` of a sensitive change is wrong.
    CurrentPasswordInvalid,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `"LOGIN_BAD_CREDENTIALS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegisterInvalidPassword => "REGISTER_INVALID_PASSWORD",
            Self::RegisterUserAlreadyExists => "REGISTER_USER_ALREADY_EXISTS",
            Self::OauthNotAvailableEmail => "OAUTH_NOT_AVAILABLE_EMAIL",
            Self::OauthUserAlreadyExists => "OAUTH_USER_ALREADY_EXISTS",
            Self::OauthInvalidState => "OAUTH_INVALID_STATE",
            Self::LoginBadCredentials => "LOGIN_BAD_CREDENTIALS",
            Self::LoginUserNotVerified => "LOGIN_USER_NOT_VERIFIED",
            Self::ResetPasswordBadToken => "RESET_PASSWORD_BAD_TOKEN",
            Self::ResetPasswordInvalidPassword => "RESET_PASSWORD_INVALID_PASSWORD",
            Self::VerifyUserBadToken => "VERIFY_USER_BAD_TOKEN",
            Self::VerifyUserAlreadyVerified => "VERIFY_USER_ALREADY_VERIFIED",
            Self::UpdateUserEmailAlreadyExists => "UPDATE_USER_EMAIL_ALREADY_EXISTS",
            Self::UpdateUserInvalidPassword => "UPDATE_USER_INVALID_PASSWORD",
            Self::AccessTokenAlreadyExpired => "ACCESS_TOKEN_ALREADY_EXPIRED",
            Self::AccessTokenDecodeError => "ACCESS_TOKEN_DECODE_ERROR",
            Self::OauthAccountAlreadyLinked => "OAUTH_ACCOUNT_ALREADY_LINKED",
            Self::OauthLastLoginMethod => "OAUTH_LAST_LOGIN_METHOD",
            Self::OauthInvalidIdToken => "OAUTH_INVALID_ID_TOKEN",
            Self::OauthProviderUnavailable => "OAUTH_PROVIDER_UNAVAILABLE",
            Self::LoginTooManyAttempts => "LOGIN_TOO_MANY_ATTEMPTS",
            Self::CsrfCheckFailed => "CSRF_CHECK_FAILED",
            Self::RefreshTokenInvalid => "REFRESH_TOKEN_INVALID",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::FreshLoginRequired => "FRESH_LOGIN_REQUIRED",
            Self::CurrentPasswordRequired => "CURRENT_PASSWORD_REQUIRED",
            Self::CurrentPasswordInvalid => "CURRENT_PASSWORD_INVALID",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to a client: a status code and a JSON `{"detail": ...}` body.
///
/// ```
/// use fastusers::{ApiError, ErrorCode};
/// use axum::http::StatusCode;
///
/// let err = ApiError::code(ErrorCode::LoginBadCredentials);
/// assert_eq!(err.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(err.detail(), &serde_json::json!("LOGIN_BAD_CREDENTIALS"));
/// ```
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    detail: Value,
    www_authenticate: bool,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<Value>) -> Self {
        Self {
            status,
            detail: detail.into(),
            www_authenticate: false,
            retry_after: None,
        }
    }

    /// An error whose detail is the status' reason phrase, as FastAPI answers a bare
    /// `HTTPException(status)`: `{"detail": "Not Found"}`.
    pub fn status_only(status: StatusCode) -> Self {
        Self::new(status, status.canonical_reason().unwrap_or("Error"))
    }

    /// A 400 whose detail is an [`ErrorCode`].
    pub fn code(code: ErrorCode) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code.as_str())
    }

    /// A 400 with the structured `{"code": ..., "reason": ...}` detail of password errors.
    pub fn code_reason(code: ErrorCode, reason: impl Into<Value>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "code": code.as_str(), "reason": reason.into() }),
        )
    }

    /// `401 {"detail": "Unauthorized"}` with a `WWW-Authenticate: Bearer` header
    /// (RFC 9110 requires it on every 401; the reference omits it).
    pub fn unauthorized() -> Self {
        Self {
            www_authenticate: true,
            ..Self::status_only(StatusCode::UNAUTHORIZED)
        }
    }

    /// `429 {"detail": "LOGIN_TOO_MANY_ATTEMPTS"}` with `Retry-After: <seconds>`.
    pub fn too_many_attempts(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::LoginTooManyAttempts.as_str(),
            )
        }
    }

    /// `403 {"detail": "CSRF_CHECK_FAILED"}`: an unsafe cookie-authenticated request from an
    /// untrusted origin.
    pub fn csrf() -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::CsrfCheckFailed.as_str())
    }

    /// `403 {"detail": "Forbidden"}`.
    pub fn forbidden() -> Self {
        Self::status_only(StatusCode::FORBIDDEN)
    }

    /// `404 {"detail": "Not Found"}`.
    pub fn not_found() -> Self {
        Self::status_only(StatusCode::NOT_FOUND)
    }

    /// `503` with a detail naming the service that is down.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail.into())
    }

    /// `503` with `Retry-After: <seconds>`: the server is hashing passwords at capacity and
    /// shed this request before spending a hash on it.
    pub fn busy(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::unavailable("The server is busy. Try again in a moment.")
        }
    }

    /// `500 {"detail": "Internal Server Error"}`; the cause should have been logged.
    pub fn internal() -> Self {
        Self::status_only(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `detail` value of the body.
    pub fn detail(&self) -> &Value {
        &self.detail
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            detail: &'a Value,
        }
        let mut response = (
            self.status,
            axum::Json(Body {
                detail: &self.detail,
            }),
        )
            .into_response();
        if self.www_authenticate {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The cause an error keeps (its [`source`](std::error::Error::source)).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shows an error followed by each of its causes: `outer: cause: root cause`. fastusers logs
/// errors this way; use it wherever an error is shown to a person.
///
/// ```
/// use fastusers::error::Report;
/// use fastusers::StoreError;
///
/// let error = StoreError::Unavailable("connection refused".into());
/// assert_eq!(
///     Report(&error).to_string(),
///     "the database is unavailable: connection refused"
/// );
/// ```
#[derive(Clone, Copy)]
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

impl std::fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
