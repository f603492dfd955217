//! What the operations are made of: operation ids as FastAPI makes them, JSON responses and
//! bodies, the errors with an example per [`ErrorCode`], parameters, and [`Op`], one operation
//! being described.

use std::collections::BTreeMap;

use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{RefOr, ResponsesBuilder};

use super::schema::{self, REQUIRED, reference as schema_ref};
use crate::error::ErrorCode;

/// FastAPI's operation id: the route's name and path, non-word characters replaced by `_`,
/// then the method (`auth_jwt_login_auth_jwt_login_post`).
pub(super) fn operation_id(name: &str, path: &str, method: &HttpMethod) -> String {
    let sanitized: String = format!("{name}{path}")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let method = match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    };
    format!("{sanitized}_{method}")
}

/// What an error code means, for its example's summary.
fn summary(code: ErrorCode) -> &'static str {
    // Exhaustive on purpose: a new code does not build until it is documented.
    match code {
        ErrorCode::RegisterInvalidPassword => "The password was refused.",
        ErrorCode::RegisterUserAlreadyExists => "A user with this email already exists.",
        ErrorCode::OauthNotAvailableEmail => "The provider gave no email address.",
        ErrorCode::OauthUserAlreadyExists => "The provider's email belongs to another user.",
        ErrorCode::OauthInvalidState => "The state or the CSRF cookie is missing or wrong.",
        ErrorCode::LoginBadCredentials => "Bad credentials or the user is inactive.",
        ErrorCode::LoginUserNotVerified => "The user is not verified.",
        ErrorCode::ResetPasswordBadToken => "Bad or expired token.",
        ErrorCode::ResetPasswordInvalidPassword => "The password was refused.",
        ErrorCode::VerifyUserBadToken => {
            "Bad token, not existing user or not the e-mail currently set for the user."
        }
        ErrorCode::VerifyUserAlreadyVerified => "The user is already verified.",
        ErrorCode::UpdateUserEmailAlreadyExists => "A user with this email already exists.",
        ErrorCode::UpdateUserInvalidPassword => "The password was refused.",
        ErrorCode::AccessTokenAlreadyExpired => "The state token has expired.",
        ErrorCode::AccessTokenDecodeError => "The state token cannot be decoded.",
        ErrorCode::OauthAccountAlreadyLinked => "This provider account is linked to another user.",
        ErrorCode::OauthLastLoginMethod => "The user would have no way left to log in.",
        ErrorCode::OauthInvalidIdToken => "The provider's ID token failed its checks.",
        ErrorCode::OauthProviderUnavailable => "The provider could not be reached.",
        ErrorCode::LoginTooManyAttempts => "Too many failed logins; retry later.",
        ErrorCode::CsrfCheckFailed => "A cookie-authenticated request from an untrusted origin.",
        ErrorCode::RefreshTokenInvalid => "The refresh token is invalid, expired or revoked.",
        ErrorCode::RefreshTokenReused => {
            "The refresh token was already used: every token of its login is revoked."
        }
        ErrorCode::FreshLoginRequired => {
            "A new email or password needs a recent login (or `current_password`, when accepted)."
        }
        ErrorCode::CurrentPasswordRequired => "A new email or password needs `current_password`.",
        ErrorCode::CurrentPasswordInvalid => "The `current_password` is wrong.",
    }
}

/// The `detail` a code is sent with: the code, or `{code, reason}` for a refused password.
fn detail(code: ErrorCode) -> serde_json::Value {
    match code {
        ErrorCode::RegisterInvalidPassword
        | ErrorCode::ResetPasswordInvalidPassword
        | ErrorCode::UpdateUserInvalidPassword => serde_json::json!({
            "code": code.as_str(),
            "reason": "Password should be at least 8 characters",
        }),
        _ => serde_json::Value::from(code.as_str()),
    }
}

/// A body of this schema.
pub(crate) fn schema_content(schema: RefOr<Schema>) -> Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// A response with this JSON body; a builder, for the responses that also send headers.
pub(crate) fn json(description: &str, content: Content) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
}

/// A response header of this schema.
pub(crate) fn header(schema: RefOr<Schema>, description: Option<&str>) -> Header {
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(description)
        .build()
}

/// An `ErrorModel` body with an example per code.
pub(crate) fn error_content(codes: &[ErrorCode]) -> Content {
    ContentBuilder::new()
        .schema(Some(schema_ref("ErrorModel")))
        .examples_from_iter(codes.iter().map(|code| {
            (
                code.as_str(),
                ExampleBuilder::new()
                    .summary(summary(*code))
                    .value(Some(serde_json::json!({ "detail": detail(*code) })))
                    .build(),
            )
        }))
        .build()
}

/// An `ErrorModel` body whose `detail` is this text.
fn plain_content(example: &str) -> Content {
    ContentBuilder::new()
        .schema(Some(schema_ref("ErrorModel")))
        .example(Some(serde_json::json!({ "detail": example })))
        .build()
}

/// An error whose `detail` is this text rather than an [`ErrorCode`].
pub(crate) fn plain_error(description: &str, example: &str) -> Response {
    json(description, plain_content(example)).build()
}

/// A 404's `{"detail": "Not Found"}`.
pub(crate) fn not_found(description: &str) -> Response {
    plain_error(description, "Not Found")
}

/// An error with an example per code.
pub(crate) fn coded_error(description: &str, codes: &[ErrorCode]) -> Response {
    json(description, error_content(codes)).build()
}

/// A JSON answer of this schema.
pub(crate) fn json_response(description: &str, schema: RefOr<Schema>) -> Response {
    json(description, schema_content(schema)).build()
}

/// The 401 of an authenticated route: no token, a bad one, or an inactive user.
pub(crate) fn unauthorized() -> Response {
    json(
        "Missing token or inactive user.",
        plain_content("Unauthorized"),
    )
    .header("www-authenticate", header(schema::string(), None))
    .build()
}

/// The 403 of an authenticated route, for these reasons: FastAPI's plain `Forbidden`, and
/// `CSRF_CHECK_FAILED` when `csrf`.
pub(crate) fn forbidden(reasons: &[&str], codes: &[ErrorCode]) -> Response {
    let mut content = error_content(codes);
    content.examples.insert(
        "Forbidden".to_owned(),
        ExampleBuilder::new()
            .summary("Not allowed.")
            .value(Some(serde_json::json!({ "detail": "Forbidden" })))
            .build()
            .into(),
    );
    json(&reasons.join(" "), content).build()
}

/// The 503 any route answers when a store is down.
pub(crate) fn unavailable() -> Response {
    plain_error(
        "The user database (or the token store) is unavailable.",
        "The user database is unavailable. Try again later.",
    )
}

/// A required JSON body of this schema.
pub(crate) fn json_body(schema: RefOr<Schema>) -> RequestBody {
    RequestBodyBuilder::new()
        .content("application/json", schema_content(schema))
        .required(Some(REQUIRED))
        .build()
}

/// A string in the path.
pub(crate) fn path_param(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(REQUIRED)
        .description(Some(description))
        .schema(Some(schema::string()))
        .build()
}

/// An optional query parameter.
#[cfg(feature = "oauth")]
pub(crate) fn query_param(name: &str, schema: RefOr<Schema>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .schema(Some(schema))
        .build()
}

/// The operation a route describes: its id, tag, summary, body, parameters and answers by
/// status. [`Context::op`](super::Context::op) starts one; the document adds what every route
/// answers (the 401 and 403 of an authenticated route, its security requirements, and the 503
/// of a store down).
pub struct Op {
    id: String,
    builder: OperationBuilder,
    responses: BTreeMap<u16, Response>,
    secured: bool,
    superuser: bool,
    forbidden: Vec<(&'static str, ErrorCode)>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op")
            .field("id", &self.id)
            .field("statuses", &self.responses.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Op {
    /// An operation with this id and summary.
    pub(super) fn new(id: String, summary: &str) -> Self {
        Self {
            builder: OperationBuilder::new()
                .summary(Some(summary))
                .operation_id(Some(id.clone())),
            id,
            responses: BTreeMap::new(),
            secured: false,
            superuser: false,
            forbidden: Vec::new(),
        }
    }

    /// The operation id, which FastAPI also names embedded bodies after.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Files the operation under this tag.
    pub fn tag(self, tag: &str) -> Self {
        self.with(|b| b.tag(tag))
    }

    /// The answer with this status.
    pub fn response(mut self, status: u16, response: Response) -> Self {
        self.responses.insert(status, response);
        self
    }

    /// A JSON answer of this schema with this status.
    pub fn json_response(self, status: u16, description: &str, schema: RefOr<Schema>) -> Self {
        self.response(status, json_response(description, schema))
    }

    /// Changes the operation with utoipa's builder.
    pub fn with(mut self, f: impl FnOnce(OperationBuilder) -> OperationBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    /// A parameter.
    pub fn parameter(self, parameter: Parameter) -> Self {
        self.with(|b| b.parameter(parameter))
    }

    /// The request body, and what any body can be answered: 413 over the size limit, 422 when
    /// it does not parse.
    pub fn body(self, body: RequestBody) -> Self {
        self.with(|b| b.request_body(Some(body)))
            .response(
                413,
                plain_error(
                    "The body is over the size limit (2 MiB by default).",
                    "Request body is too large",
                ),
            )
            .response(
                422,
                json_response("Validation Error", schema_ref("HTTPValidationError")),
            )
    }

    /// A required JSON body of this schema (see [`body`](Self::body)).
    pub fn json_body(self, schema: RefOr<Schema>) -> Self {
        self.body(json_body(schema))
    }

    /// For an active user (verified when the application requires it): the 401, the 403
    /// when one applies, and the security requirements of every backend.
    pub fn requires_user(mut self) -> Self {
        self.secured = true;
        self
    }

    /// One more reason for the 403 of an authenticated route, answered with this code (merged
    /// with the reasons every such route has).
    pub fn forbidden(mut self, reason: &'static str, code: ErrorCode) -> Self {
        self.forbidden.push((reason, code));
        self
    }

    /// For a superuser.
    pub fn requires_superuser(mut self) -> Self {
        self.superuser = true;
        self.requires_user()
    }

    /// The operation, with what every route can answer: the 401 and 403 of an authenticated
    /// route and its security requirements, and the 503 of a store down. `has_cookie`: whether
    /// a backend takes a cookie, so that an unsafe method can fail the CSRF check.
    pub(super) fn finish(
        mut self,
        method: &HttpMethod,
        requires_verification: bool,
        has_cookie: bool,
        security: &[SecurityRequirement],
    ) -> Operation {
        if self.secured {
            self = self.response(401, unauthorized());
            let mut reasons = Vec::new();
            if self.superuser {
                reasons.push("Not a superuser.");
            }
            if requires_verification {
                reasons.push("The user is not verified.");
            }
            let mut codes = Vec::new();
            if has_cookie && is_unsafe(method) {
                reasons.push("A cookie-authenticated request from an untrusted origin.");
                codes.push(ErrorCode::CsrfCheckFailed);
            }
            for (reason, code) in std::mem::take(&mut self.forbidden) {
                reasons.push(reason);
                codes.push(code);
            }
            if !reasons.is_empty() {
                self = self.response(403, forbidden(&reasons, &codes));
            }
            self = self.with(|b| b.securities(Some(security.to_vec())));
        }
        let Self {
            builder, responses, ..
        } = self.response(503, unavailable());
        let responses = responses
            .into_iter()
            .fold(ResponsesBuilder::new(), |all, (status, response)| {
                all.response(status.to_string(), response)
            });
        builder.responses(responses.build()).build()
    }
}

/// Whether the CSRF check of cookie requests applies to this method (not GET, HEAD, OPTIONS
/// or TRACE).
fn is_unsafe(method: &HttpMethod) -> bool {
    !matches!(
        method,
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Options | HttpMethod::Trace
    )
}
