//! What the operations are made of: paths and operation ids as FastAPI makes them, JSON
//! responses and bodies, the errors with an example per [`ErrorCode`], parameters, and [`Op`],
//! one operation being described.

use std::collections::BTreeMap;

use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{RefOr, ResponsesBuilder};

use super::schema::{self, REQUIRED, reference as schema_ref};
use crate::error::ErrorCode;

/// Joins a prefix and a route path as axum's `nest` does.
pub(super) fn join(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match path {
        "/" | "" if prefix.is_empty() => "/".to_owned(),
        "/" | "" => prefix.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

/// FastAPI's operation id: the route's name and path, non-word characters replaced by `_`,
/// then the method (`auth_jwt_login_auth_jwt_login_post`).
fn operation_id(name: &str, path: &str, method: &str) -> String {
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
pub(super) fn schema_content(schema: RefOr<Schema>) -> Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// A response with this JSON body; a builder, for the responses that also send headers.
pub(super) fn json(description: &str, content: Content) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
}

/// A response header of this schema.
pub(super) fn header(schema: RefOr<Schema>, description: Option<&str>) -> Header {
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(description)
        .build()
}

/// An `ErrorModel` body with an example per code.
pub(super) fn error_content(codes: &[ErrorCode]) -> Content {
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
pub(super) fn plain_error(description: &str, example: &str) -> Response {
    json(description, plain_content(example)).build()
}

/// A 404's `{"detail": "Not Found"}`.
pub(super) fn not_found(description: &str) -> Response {
    plain_error(description, "Not Found")
}

/// An error with an example per code.
pub(super) fn coded_error(description: &str, codes: &[ErrorCode]) -> Response {
    json(description, error_content(codes)).build()
}

/// A JSON answer of this schema.
pub(super) fn json_response(description: &str, schema: RefOr<Schema>) -> Response {
    json(description, schema_content(schema)).build()
}

/// The 401 of an authenticated route: no token, a bad one, or an inactive user.
pub(super) fn unauthorized() -> Response {
    json(
        "Missing token or inactive user.",
        plain_content("Unauthorized"),
    )
    .header("www-authenticate", header(schema::string(), None))
    .build()
}

/// The 403 of an authenticated route, for these reasons: FastAPI's plain `Forbidden`, and
/// `CSRF_CHECK_FAILED` when `csrf`.
pub(super) fn forbidden(reasons: &[&str], csrf: bool) -> Response {
    let mut content = error_content(if csrf {
        &[ErrorCode::CsrfCheckFailed]
    } else {
        &[]
    });
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
pub(super) fn unavailable() -> Response {
    plain_error(
        "The user database (or the token store) is unavailable.",
        "The user database is unavailable. Try again later.",
    )
}

/// A required JSON body of this schema.
pub(super) fn json_body(schema: RefOr<Schema>) -> RequestBody {
    RequestBodyBuilder::new()
        .content("application/json", schema_content(schema))
        .required(Some(REQUIRED))
        .build()
}

/// A string in the path.
pub(super) fn path_param(name: &str, description: &str) -> Parameter {
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
pub(super) fn query_param(name: &str, schema: RefOr<Schema>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .schema(Some(schema))
        .build()
}

/// The method as operation ids end with it.
fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    }
}

/// One operation being described: where it is, its responses by status, then the rest.
pub(super) struct Op {
    path: String,
    method: HttpMethod,
    id: String,
    builder: OperationBuilder,
    responses: BTreeMap<u16, Response>,
    /// Needs an authenticated user (401; 403 when verification is required).
    pub(super) secured: bool,
    /// Needs a superuser (403).
    pub(super) superuser: bool,
}

impl Op {
    /// `name` is the route's name in fastapi-users (`users:patch_user`), for the operation id.
    pub(super) fn new(
        tag: &str,
        name: &str,
        path: &str,
        method: HttpMethod,
        summary: &str,
    ) -> Self {
        let id = operation_id(name, path, method_name(&method));
        Self {
            builder: OperationBuilder::new()
                .tag(tag)
                .summary(Some(summary))
                .operation_id(Some(id.clone())),
            path: path.to_owned(),
            method,
            id,
            responses: BTreeMap::new(),
            secured: false,
            superuser: false,
        }
    }

    /// The operation id, which FastAPI also names embedded bodies after.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn response(mut self, status: u16, response: Response) -> Self {
        self.responses.insert(status, response);
        self
    }

    pub(super) fn with(mut self, f: impl FnOnce(OperationBuilder) -> OperationBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    pub(super) fn parameter(self, parameter: Parameter) -> Self {
        self.with(|b| b.parameter(parameter))
    }

    /// The request body, and what any body can be answered: 413 over the size limit, 422 when
    /// it does not parse.
    pub(super) fn body(self, body: RequestBody) -> Self {
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

    /// For an authenticated user.
    pub(super) fn requires_user(mut self) -> Self {
        self.secured = true;
        self
    }

    /// For a superuser.
    pub(super) fn requires_superuser(mut self) -> Self {
        self.superuser = true;
        self.requires_user()
    }

    /// Whether the method is one the CSRF check of cookie requests applies to (not GET, HEAD,
    /// OPTIONS or TRACE).
    pub(super) fn unsafe_method(&self) -> bool {
        !matches!(
            self.method,
            HttpMethod::Get | HttpMethod::Head | HttpMethod::Options | HttpMethod::Trace
        )
    }

    /// The path and a path item with this operation.
    pub(super) fn finish(self) -> (String, PathItem) {
        let mut responses = ResponsesBuilder::new();
        for (status, response) in self.responses {
            responses = responses.response(status.to_string(), response);
        }
        let operation: Operation = self.builder.responses(responses.build()).build();
        (self.path, PathItem::new(self.method, operation))
    }
}
