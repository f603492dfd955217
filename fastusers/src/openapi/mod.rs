//! An OpenAPI 3.1 document of the routes fastusers mounts (the `openapi` feature), built with
//! [utoipa]'s types so that the application can merge it into its own.
//!
//! The application mounts the routers at prefixes of its choosing; it describes the same
//! mounts to a [`Document`], which knows what each route takes and answers: the derived user
//! schemas (`UserRead`, `UserCreate`, `UserUpdate`, custom fields included), a security
//! scheme per backend (an OAuth2 password flow with the Bearer transport's `tokenUrl`, an API
//! key in the Cookie transport's cookie), and every error with an example per [`ErrorCode`].
//!
//! ```
//! use fastusers::prelude::*;
//! use fastusers::openapi::Document;
//!
//! #[derive(User, Clone, Debug)]
//! pub struct User {
//!     pub id: uuid::Uuid,
//!     pub email: String,
//!     pub hashed_password: String,
//!     pub is_active: bool,
//!     pub is_superuser: bool,
//!     pub is_verified: bool,
//!     #[fastusers(create, update)]
//!     pub first_name: Option<String>,
//! }
//!
//! fastusers::auth_backends! {
//!     pub struct Auth for User {
//!         jwt: BearerTransport, JwtStrategy;
//!         cookie: CookieTransport, JwtStrategy;
//!     }
//! }
//!
//! let strategy = JwtStrategy::new(JwtKeys::hs256("SECRET"), Some(3600));
//! let auth = Auth {
//!     jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy.clone()),
//!     cookie: Backend::new(CookieTransport::new(), strategy),
//! };
//! // The same prefixes as the routers' `.nest(...)`.
//! let api = Document::new(&auth)
//!     .auth("/auth/jwt", Auth::JWT)
//!     .auth("/auth/cookie", Auth::COOKIE)
//!     .register("/auth")
//!     .verify("/auth")
//!     .reset_password("/auth")
//!     .users("/users")
//!     .sessions("/users")
//!     .build();
//!
//! let json = serde_json::to_value(&api).unwrap();
//! assert_eq!(json["openapi"], "3.1.0");
//! assert!(json["paths"]["/auth/jwt/login"]["post"].is_object());
//! assert_eq!(json["components"]["securitySchemes"]["jwt"]["flows"]["password"]["tokenUrl"], "auth/jwt/login");
//! assert_eq!(json["components"]["securitySchemes"]["cookie"]["name"], "fastapiusersauth");
//! assert!(json["components"]["schemas"]["UserRead"]["properties"]["first_name"].is_object());
//!
//! // Merge it into the application's own document:
//! let mut mine = utoipa::openapi::OpenApiBuilder::new().build();
//! mine.merge(api);
//! ```
//!
//! [utoipa]: https://docs.rs/utoipa

pub mod schema;

pub use utoipa;

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, Components, Schema};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, OAuth2, Password, Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Info, OpenApi, OpenApiBuilder, RefOr, ResponsesBuilder};
use utoipa::{PartialSchema, ToSchema};

use crate::backend::Backends;
use crate::error::ErrorCode;
use crate::transport::{BearerTransport, CookieTransport};
use crate::user::User;
use schema::{REQUIRED, reference as schema_ref};

/// A transport that can describe itself in an OpenAPI document: its security scheme and the
/// answers of its login and logout. Implemented for [`BearerTransport`] and
/// [`CookieTransport`]; a custom transport implements it to be documented.
#[diagnostic::on_unimplemented(
    message = "the transport `{Self}` cannot describe itself in an OpenAPI document",
    label = "implement `fastusers::openapi::OpenApiTransport` for `{Self}`"
)]
pub trait OpenApiTransport {
    /// How a client authenticates with this transport.
    fn security_scheme(&self) -> SecurityScheme;
    /// The status and response of a successful login.
    fn login_response(&self) -> (u16, Response);
    /// The status and response of a successful logout.
    fn logout_response(&self) -> (u16, Response);
}

impl OpenApiTransport for BearerTransport {
    fn security_scheme(&self) -> SecurityScheme {
        SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
            self.token_url(),
            Scopes::new(),
        ))]))
    }

    fn login_response(&self) -> (u16, Response) {
        let content = ContentBuilder::new()
            .schema(Some(schema_ref("BearerResponse")))
            .example(Some(serde_json::json!({
                "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5YzRhZGNmYi1lNmQ2LTQ4NDgtYjNlNi1hOTBmZjg1OGE4NDgiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl0sImV4cCI6MTcwMDAwMzYwMH0.signature",
                "token_type": "bearer"
            })))
            .build();
        (
            200,
            ResponseBuilder::new()
                .description("Logged in: the access token.")
                .content("application/json", content)
                .build(),
        )
    }

    fn logout_response(&self) -> (u16, Response) {
        (204, Response::new("Logged out."))
    }
}

fn cookie_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(schema::string()))
        .description(Some(description))
        .build()
}

impl OpenApiTransport for CookieTransport {
    fn security_scheme(&self) -> SecurityScheme {
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(self.cookie_name())))
    }

    fn login_response(&self) -> (u16, Response) {
        (
            204,
            ResponseBuilder::new()
                .description("Logged in: the token is in the cookie.")
                .header(
                    "set-cookie",
                    cookie_header(&format!("`{}=<token>; HttpOnly; ...`", self.cookie_name())),
                )
                .build(),
        )
    }

    fn logout_response(&self) -> (u16, Response) {
        (
            204,
            ResponseBuilder::new()
                .description("Logged out: the cookie is cleared.")
                .header(
                    "set-cookie",
                    cookie_header(&format!("`{}=\"\"; Max-Age=0; ...`", self.cookie_name())),
                )
                .build(),
        )
    }
}

/// A transport as a trait object; `auth_backends!` calls it so that a transport without
/// [`OpenApiTransport`] is an error at its type.
#[doc(hidden)]
pub fn describe_transport<T: OpenApiTransport>(transport: &T) -> &dyn OpenApiTransport {
    transport
}

/// A set of backends whose transports can describe themselves: `auth_backends!` implements it
/// with the `openapi` feature.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot describe its backends in an OpenAPI document",
    label = "declare it with `fastusers::auth_backends!` and the `openapi` feature"
)]
pub trait OpenApiBackends: Backends {
    /// The transports, in declared order (the order of [`Backends::NAMES`]).
    fn transports(&self) -> Vec<&dyn OpenApiTransport>;
}

/// A user model whose read, create and update types have schemas: `#[derive(User)]` with the
/// `openapi` feature.
#[diagnostic::on_unimplemented(
    message = "the user types of `{Self}` have no OpenAPI schemas",
    label = "enable the `openapi` feature of fastusers for `#[derive(User)]` to generate them"
)]
pub trait OpenApiUser: User {
    /// `(name, schema)` of the read, create and update types.
    fn schemas() -> [(String, RefOr<Schema>); 3];
}

impl<U: User> OpenApiUser for U
where
    U::Read: ToSchema,
    U::Create: ToSchema,
    U::Update: ToSchema,
{
    fn schemas() -> [(String, RefOr<Schema>); 3] {
        [
            (U::Read::name().into_owned(), U::Read::schema()),
            (U::Create::name().into_owned(), U::Create::schema()),
            (U::Update::name().into_owned(), U::Update::schema()),
        ]
    }
}

/// One backend, as the document shows it.
struct BackendDoc {
    name: &'static str,
    scheme: SecurityScheme,
    login: (u16, Response),
    logout: (u16, Response),
}

/// What the application mounted, where.
enum Mount {
    Auth(String, usize),
    Register(String),
    Verify(String),
    ResetPassword(String),
    Users(String),
    Sessions(String),
    #[cfg(feature = "oauth")]
    OAuth(String, String, usize),
    #[cfg(feature = "oauth")]
    OAuthAssociate(String, String),
}

/// The OpenAPI document of an application's fastusers routes. Describe each router with the
/// prefix it is mounted at, then [`build`](Self::build).
pub struct Document<A: OpenApiBackends> {
    backends: Vec<BackendDoc>,
    requires_verification: bool,
    mounts: Vec<Mount>,
    _backends: std::marker::PhantomData<fn() -> A>,
}

impl<A: OpenApiBackends> std::fmt::Debug for Document<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("backends", &A::NAMES)
            .field("requires_verification", &self.requires_verification)
            .finish_non_exhaustive()
    }
}

impl<A: OpenApiBackends> Document<A>
where
    A::User: OpenApiUser,
{
    /// A document for these backends (the same value given to [`FastUsers::new`](crate::FastUsers::new)).
    pub fn new(backends: &A) -> Self {
        let backends = A::NAMES
            .iter()
            .zip(backends.transports())
            .map(|(name, transport)| BackendDoc {
                name,
                scheme: transport.security_scheme(),
                login: transport.login_response(),
                logout: transport.logout_response(),
            })
            .collect();
        Self {
            backends,
            requires_verification: false,
            mounts: Vec::new(),
            _backends: std::marker::PhantomData,
        }
    }

    /// As [`FastUsers::requires_verification`](crate::FastUsers::requires_verification): adds
    /// `LOGIN_USER_NOT_VERIFIED` and the 403 of unverified users. Default: false.
    pub fn requires_verification(mut self, required: bool) -> Self {
        self.requires_verification = required;
        self
    }

    /// The index of the backend with this bit (`Auth::JWT`).
    ///
    /// # Panics
    /// When `backend` is not exactly one backend's bit.
    fn backend_index(backend: u64) -> usize {
        let index = backend.trailing_zeros() as usize;
        assert!(
            backend.count_ones() == 1 && index < A::NAMES.len(),
            "pass one backend's constant, such as `Auth::JWT`"
        );
        index
    }

    /// `POST {prefix}/login` and `POST {prefix}/logout` of one backend, given by its constant
    /// (`Auth::JWT`), as `.nest(prefix, Auth::jwt_router())`.
    ///
    /// # Panics
    /// When `backend` is not exactly one backend's constant.
    pub fn auth(mut self, prefix: &str, backend: u64) -> Self {
        let index = Self::backend_index(backend);
        self.mounts.push(Mount::Auth(prefix.to_owned(), index));
        self
    }

    /// `POST {prefix}/register`, as `.nest(prefix, FastUsers::<A>::register_router())`.
    pub fn register(mut self, prefix: &str) -> Self {
        self.mounts.push(Mount::Register(prefix.to_owned()));
        self
    }

    /// `POST {prefix}/request-verify-token` and `POST {prefix}/verify`.
    pub fn verify(mut self, prefix: &str) -> Self {
        self.mounts.push(Mount::Verify(prefix.to_owned()));
        self
    }

    /// `POST {prefix}/forgot-password` and `POST {prefix}/reset-password`.
    pub fn reset_password(mut self, prefix: &str) -> Self {
        self.mounts.push(Mount::ResetPassword(prefix.to_owned()));
        self
    }

    /// `GET`/`PATCH {prefix}/me` and `GET`/`PATCH`/`DELETE {prefix}/{id}`.
    pub fn users(mut self, prefix: &str) -> Self {
        self.mounts.push(Mount::Users(prefix.to_owned()));
        self
    }

    /// `GET {prefix}/me/sessions` and `DELETE {prefix}/me/sessions/{id}`.
    pub fn sessions(mut self, prefix: &str) -> Self {
        self.mounts.push(Mount::Sessions(prefix.to_owned()));
        self
    }

    /// `GET {prefix}/authorize` and `GET {prefix}/callback` of the OAuth provider named
    /// `provider` (its [`OAuthClient::name`](crate::oauth::OAuthClient::name)), logging in
    /// with `backend` (`Auth::JWT`), as `.nest(prefix, FastUsers::<A>::oauth_router(...))`.
    ///
    /// # Panics
    /// When `backend` is not exactly one backend's constant.
    #[cfg(feature = "oauth")]
    pub fn oauth(mut self, prefix: &str, provider: &str, backend: u64) -> Self {
        let index = Self::backend_index(backend);
        self.mounts
            .push(Mount::OAuth(prefix.to_owned(), provider.to_owned(), index));
        self
    }

    /// `GET {prefix}/authorize`, `GET {prefix}/callback` and `DELETE {prefix}` of the associate
    /// router of the OAuth provider named `provider`.
    #[cfg(feature = "oauth")]
    pub fn oauth_associate(mut self, prefix: &str, provider: &str) -> Self {
        self.mounts.push(Mount::OAuthAssociate(
            prefix.to_owned(),
            provider.to_owned(),
        ));
        self
    }

    /// The security requirements of an authenticated route: any one backend's token. For the
    /// application's own routes that take a fastusers extractor.
    pub fn security(&self) -> Vec<SecurityRequirement> {
        self.backends
            .iter()
            .map(|b| SecurityRequirement::new(b.name, Vec::<String>::new()))
            .collect()
    }

    /// The document.
    pub fn build(self) -> OpenApi {
        let mut builder = Builder {
            paths: Paths::new(),
            schemas: BTreeMap::new(),
            security: self.security(),
            requires_verification: self.requires_verification,
            has_cookie: self
                .backends
                .iter()
                .any(|b| matches!(b.scheme, SecurityScheme::ApiKey(_))),
        };
        for (name, schema) in schema::fixed() {
            builder.schemas.insert(name.to_owned(), schema);
        }
        for (name, schema) in A::User::schemas() {
            builder.schemas.insert(name, schema);
        }
        let [(read, _), (create, _), (update, _)] = A::User::schemas();
        let user = UserNames {
            read,
            create,
            update,
        };
        for mount in &self.mounts {
            match mount {
                Mount::Auth(prefix, index) => builder.auth(prefix, &self.backends[*index]),
                Mount::Register(prefix) => builder.register(prefix, &user),
                Mount::Verify(prefix) => builder.verify(prefix, &user),
                Mount::ResetPassword(prefix) => builder.reset_password(prefix),
                Mount::Users(prefix) => builder.users(prefix, &user),
                Mount::Sessions(prefix) => builder.sessions(prefix),
                #[cfg(feature = "oauth")]
                Mount::OAuth(prefix, provider, index) => {
                    builder.oauth(prefix, provider, &self.backends[*index])
                }
                #[cfg(feature = "oauth")]
                Mount::OAuthAssociate(prefix, provider) => {
                    builder.oauth_associate(prefix, provider, &user)
                }
            }
        }
        #[cfg(feature = "oauth")]
        if self
            .mounts
            .iter()
            .any(|m| matches!(m, Mount::OAuth(..) | Mount::OAuthAssociate(..)))
        {
            for (name, schema) in schema::oauth_fixed() {
                builder.schemas.insert(name.to_owned(), schema);
            }
        }
        let mut components = Components::new();
        components.schemas = builder.schemas;
        for backend in &self.backends {
            components
                .security_schemes
                .insert(backend.name.to_owned(), RefOr::T(backend.scheme.clone()));
        }
        OpenApiBuilder::new()
            .info(Info::new("fastusers", env!("CARGO_PKG_VERSION")))
            .paths(builder.paths)
            .components(Some(components))
            .build()
    }
}

struct UserNames {
    read: String,
    create: String,
    update: String,
}

/// Joins a prefix and a route path as axum's `nest` does.
fn join(prefix: &str, path: &str) -> String {
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

fn error_content(codes: &[ErrorCode]) -> utoipa::openapi::Content {
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

fn plain_content(example: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(schema_ref("ErrorModel")))
        .example(Some(serde_json::json!({ "detail": example })))
        .build()
}

fn plain_error(description: &str, example: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", plain_content(example))
        .build()
}

fn coded_error(description: &str, codes: &[ErrorCode]) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", error_content(codes))
        .build()
}

fn json_response(description: &str, schema: RefOr<Schema>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

fn json_body(schema: RefOr<Schema>) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .required(Some(REQUIRED))
        .build()
}

fn path_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(REQUIRED)
        .description(Some(description))
        .schema(Some(schema::string()))
        .build()
}

#[cfg(feature = "oauth")]
fn query_param(name: &str, schema: RefOr<Schema>) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .schema(Some(schema))
        .build()
}

/// One operation being described: its responses by status, then the rest.
struct Op {
    builder: OperationBuilder,
    responses: BTreeMap<u16, Response>,
    /// Needs an authenticated user (401; 403 when verification is required).
    secured: bool,
    /// Needs a superuser (403).
    superuser: bool,
}

impl Op {
    fn new(tag: &str, name: &str, path: &str, method: &str, summary: &str) -> Self {
        Self {
            builder: OperationBuilder::new()
                .tag(tag)
                .summary(Some(summary))
                .operation_id(Some(operation_id(name, path, method))),
            responses: BTreeMap::new(),
            secured: false,
            superuser: false,
        }
    }

    fn response(mut self, status: u16, response: Response) -> Self {
        self.responses.insert(status, response);
        self
    }

    fn with(mut self, f: impl FnOnce(OperationBuilder) -> OperationBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }
}

/// Assembles the paths and schemas of a [`Document`].
struct Builder {
    paths: Paths,
    schemas: BTreeMap<String, RefOr<Schema>>,
    security: Vec<SecurityRequirement>,
    requires_verification: bool,
    has_cookie: bool,
}

impl Builder {
    fn add(&mut self, path: &str, method: HttpMethod, mut op: Op, unsafe_method: bool) {
        if op.secured {
            op = op.response(
                401,
                ResponseBuilder::new()
                    .description("Missing token or inactive user.")
                    .header(
                        "www-authenticate",
                        HeaderBuilder::new().schema(Some(schema::string())).build(),
                    )
                    .content("application/json", plain_content("Unauthorized"))
                    .build(),
            );
            let mut reasons = Vec::new();
            if op.superuser {
                reasons.push("Not a superuser.");
            }
            if self.requires_verification {
                reasons.push("The user is not verified.");
            }
            let csrf = unsafe_method && self.has_cookie;
            if csrf {
                reasons.push("A cookie-authenticated request from an untrusted origin.");
            }
            if !reasons.is_empty() {
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
                op = op.response(
                    403,
                    ResponseBuilder::new()
                        .description(reasons.join(" "))
                        .content("application/json", content)
                        .build(),
                );
            }
            op = op.with(|b| b.securities(Some(self.security.clone())));
        }
        op = op.response(
            503,
            plain_error(
                "The user database (or the token store) is unavailable.",
                "The user database is unavailable. Try again later.",
            ),
        );
        let mut responses = ResponsesBuilder::new();
        for (status, response) in op.responses {
            responses = responses.response(status.to_string(), response);
        }
        let operation: Operation = op.builder.responses(responses.build()).build();
        let item = PathItem::new(method, operation);
        match self.paths.paths.get_mut(path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                self.paths.paths.insert(path.to_owned(), item);
            }
        }
    }

    fn body_limits(op: Op) -> Op {
        op.response(
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

    fn auth(&mut self, prefix: &str, backend: &BackendDoc) {
        let name = backend.name;
        let path = join(prefix, "/login");
        let op_name = format!("auth:{name}.login");
        let op_id = operation_id(&op_name, &path, "post");
        let form = format!("Body_{op_id}");
        self.schemas.insert(
            form.clone(),
            schema::fixed()
                .into_iter()
                .find(|(n, _)| *n == "OAuth2PasswordRequestForm")
                .map(|(_, s)| s)
                .expect("the form schema"),
        );
        let content = || {
            ContentBuilder::new()
                .schema(Some(schema_ref(&form)))
                .build()
        };
        let body = RequestBodyBuilder::new()
            .content("application/x-www-form-urlencoded", content())
            .content("multipart/form-data", content())
            .required(Some(REQUIRED))
            .build();
        let mut codes = vec![ErrorCode::LoginBadCredentials];
        if self.requires_verification {
            codes.push(ErrorCode::LoginUserNotVerified);
        }
        let op = Op::new("auth", &op_name, &path, "post", "Log in")
            .with(|b| b.request_body(Some(body)))
            .response(backend.login.0, backend.login.1.clone())
            .response(
                400,
                coded_error(
                    "Bad credentials, an unverified user, or a malformed form body.",
                    &codes,
                ),
            )
            .response(
                429,
                ResponseBuilder::new()
                    .description("Too many failed logins: retry after `Retry-After` seconds.")
                    .header(
                        "retry-after",
                        HeaderBuilder::new().schema(Some(schema::integer())).build(),
                    )
                    .content(
                        "application/json",
                        error_content(&[ErrorCode::LoginTooManyAttempts]),
                    )
                    .build(),
            );
        self.add(&path, HttpMethod::Post, Self::body_limits(op), true);

        let path = join(prefix, "/logout");
        let mut op = Op::new(
            "auth",
            &format!("auth:{name}.logout"),
            &path,
            "post",
            "Log out",
        )
        .response(backend.logout.0, backend.logout.1.clone());
        op.secured = true;
        self.add(&path, HttpMethod::Post, op, true);
    }

    fn register(&mut self, prefix: &str, user: &UserNames) {
        let path = join(prefix, "/register");
        let op = Op::new("auth", "register:register", &path, "post", "Register")
            .with(|b| b.request_body(Some(json_body(schema_ref(&user.create)))))
            .response(201, json_response("The new user.", schema_ref(&user.read)))
            .response(
                400,
                coded_error(
                    "The password was refused, or the email is taken.",
                    &[
                        ErrorCode::RegisterUserAlreadyExists,
                        ErrorCode::RegisterInvalidPassword,
                    ],
                ),
            );
        self.add(&path, HttpMethod::Post, Self::body_limits(op), true);
    }

    /// An embedded JSON body's schema, registered as FastAPI names it.
    fn embedded_body(
        &mut self,
        op_id: &str,
        fields: Vec<(&str, RefOr<Schema>)>,
    ) -> utoipa::openapi::request_body::RequestBody {
        let name = format!("Body_{op_id}");
        self.schemas
            .insert(name.clone(), schema::embedded("The request body.", fields));
        json_body(schema_ref(&name))
    }

    fn accepted(&mut self, name: &str, path: &str, summary_text: &str) {
        let body = self.embedded_body(
            &operation_id(name, path, "post"),
            vec![("email", schema::email())],
        );
        let op = Op::new("auth", name, path, "post", summary_text)
            .with(|b| b.request_body(Some(body)))
            .response(
                202,
                json_response(
                    "Accepted, whether or not the email is known: `null`.",
                    schema::null(),
                ),
            );
        self.add(path, HttpMethod::Post, Self::body_limits(op), true);
    }

    fn verify(&mut self, prefix: &str, user: &UserNames) {
        self.accepted(
            "verify:request-token",
            &join(prefix, "/request-verify-token"),
            "Request a verification token",
        );
        let path = join(prefix, "/verify");
        let body = self.embedded_body(
            &operation_id("verify:verify", &path, "post"),
            vec![("token", schema::string())],
        );
        let op = Op::new("auth", "verify:verify", &path, "post", "Verify")
            .with(|b| b.request_body(Some(body)))
            .response(
                200,
                json_response("The verified user.", schema_ref(&user.read)),
            )
            .response(
                400,
                coded_error(
                    "Bad token, or the user is already verified.",
                    &[
                        ErrorCode::VerifyUserBadToken,
                        ErrorCode::VerifyUserAlreadyVerified,
                    ],
                ),
            );
        self.add(&path, HttpMethod::Post, Self::body_limits(op), true);
    }

    fn reset_password(&mut self, prefix: &str) {
        self.accepted(
            "reset:forgot_password",
            &join(prefix, "/forgot-password"),
            "Forgot password",
        );
        let path = join(prefix, "/reset-password");
        let body = self.embedded_body(
            &operation_id("reset:reset_password", &path, "post"),
            vec![
                ("token", schema::string()),
                ("password", schema::password()),
            ],
        );
        let op = Op::new(
            "auth",
            "reset:reset_password",
            &path,
            "post",
            "Reset password",
        )
        .with(|b| b.request_body(Some(body)))
        .response(
            200,
            json_response("The password is reset: `null`.", schema::null()),
        )
        .response(
            400,
            coded_error(
                "Bad token, or the password was refused.",
                &[
                    ErrorCode::ResetPasswordBadToken,
                    ErrorCode::ResetPasswordInvalidPassword,
                ],
            ),
        );
        self.add(&path, HttpMethod::Post, Self::body_limits(op), true);
    }

    fn users(&mut self, prefix: &str, user: &UserNames) {
        let update_errors = || {
            coded_error(
                "The email is taken, or the password was refused.",
                &[
                    ErrorCode::UpdateUserEmailAlreadyExists,
                    ErrorCode::UpdateUserInvalidPassword,
                ],
            )
        };
        let read = || json_response("The user.", schema_ref(&user.read));
        let not_found = || plain_error("The user does not exist.", "Not Found");
        let id = || path_param("id", "The user's id; one that does not parse is a 404.");

        let me = join(prefix, "/me");
        let mut op = Op::new(
            "users",
            "users:current_user",
            &me,
            "get",
            "The current user",
        )
        .response(200, read());
        op.secured = true;
        self.add(&me, HttpMethod::Get, op, false);

        let mut op = Op::new(
            "users",
            "users:patch_current_user",
            &me,
            "patch",
            "Update the current user",
        )
        .with(|b| b.request_body(Some(json_body(schema_ref(&user.update)))))
        .response(200, read())
        .response(400, update_errors());
        op.secured = true;
        self.add(&me, HttpMethod::Patch, Self::body_limits(op), true);

        let path = join(prefix, "/{id}");
        let mut op = Op::new("users", "users:user", &path, "get", "A user (superuser)")
            .with(|b| b.parameter(id()))
            .response(200, read())
            .response(404, not_found());
        op.secured = true;
        op.superuser = true;
        self.add(&path, HttpMethod::Get, op, false);

        let mut op = Op::new(
            "users",
            "users:patch_user",
            &path,
            "patch",
            "Update a user (superuser)",
        )
        .with(|b| {
            b.parameter(id())
                .request_body(Some(json_body(schema_ref(&user.update))))
        })
        .response(200, read())
        .response(400, update_errors())
        .response(404, not_found());
        op.secured = true;
        op.superuser = true;
        self.add(&path, HttpMethod::Patch, Self::body_limits(op), true);

        let mut op = Op::new(
            "users",
            "users:delete_user",
            &path,
            "delete",
            "Delete a user (superuser)",
        )
        .with(|b| b.parameter(id()))
        .response(204, Response::new("Deleted."))
        .response(404, not_found());
        op.secured = true;
        op.superuser = true;
        self.add(&path, HttpMethod::Delete, op, true);
    }

    fn sessions(&mut self, prefix: &str) {
        let path = join(prefix, "/me/sessions");
        let mut op = Op::new(
            "users",
            "users:sessions",
            &path,
            "get",
            "The current user's sessions",
        )
        .response(
            200,
            json_response(
                "The server-side sessions (database and Redis tokens).",
                ArrayBuilder::new().items(schema_ref("Session")).into(),
            ),
        );
        op.secured = true;
        self.add(&path, HttpMethod::Get, op, false);

        let path = join(prefix, "/me/sessions/{id}");
        let mut op = Op::new(
            "users",
            "users:revoke_session",
            &path,
            "delete",
            "Revoke a session",
        )
        .with(|b| b.parameter(path_param("id", "The session's id.")))
        .response(204, Response::new("Revoked."))
        .response(
            404,
            plain_error("No such session of the current user.", "Not Found"),
        );
        op.secured = true;
        self.add(&path, HttpMethod::Delete, op, true);
    }

    #[cfg(feature = "oauth")]
    fn authorize_response() -> Response {
        ResponseBuilder::new()
            .description("Where to send the user; sets the CSRF cookie.")
            .header(
                "set-cookie",
                cookie_header("The CSRF cookie (`fastapiusersoauthcsrf` by default)."),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(schema_ref("OAuth2AuthorizeResponse")))
                    .build(),
            )
            .build()
    }

    #[cfg(feature = "oauth")]
    fn provider_down() -> Response {
        coded_error(
            "The provider could not be reached or answered nonsense.",
            &[ErrorCode::OauthProviderUnavailable],
        )
    }

    #[cfg(feature = "oauth")]
    fn callback_params(b: OperationBuilder) -> OperationBuilder {
        ["code", "code_verifier", "state", "error"]
            .into_iter()
            .fold(b, |b, name| {
                b.parameter(query_param(name, schema::string()))
            })
    }

    #[cfg(feature = "oauth")]
    fn scopes_param(b: OperationBuilder) -> OperationBuilder {
        b.parameter(query_param(
            "scopes",
            ArrayBuilder::new().items(schema::string()).into(),
        ))
    }

    #[cfg(feature = "oauth")]
    fn oauth(&mut self, prefix: &str, provider: &str, backend: &BackendDoc) {
        let name = backend.name;
        let path = join(prefix, "/authorize");
        let op = Op::new(
            "auth",
            &format!("oauth:{provider}.{name}.authorize"),
            &path,
            "get",
            "Authorize",
        )
        .with(Self::scopes_param)
        .response(200, Self::authorize_response())
        .response(502, Self::provider_down());
        self.add(&path, HttpMethod::Get, op, false);

        let path = join(prefix, "/callback");
        let mut codes = vec![
            ErrorCode::OauthInvalidState,
            ErrorCode::AccessTokenDecodeError,
            ErrorCode::AccessTokenAlreadyExpired,
            ErrorCode::OauthNotAvailableEmail,
            ErrorCode::OauthUserAlreadyExists,
            ErrorCode::OauthInvalidIdToken,
            ErrorCode::LoginBadCredentials,
        ];
        if self.requires_verification {
            codes.push(ErrorCode::LoginUserNotVerified);
        }
        let mut op = Op::new(
            "auth",
            &format!("oauth:{provider}.{name}.callback"),
            &path,
            "get",
            "Callback",
        )
        .with(Self::callback_params)
        .response(backend.login.0, backend.login.1.clone())
        .response(
            400,
            coded_error(
                "The provider's error, a missing code, a bad state, or a refused user.",
                &codes,
            ),
        )
        .response(502, Self::provider_down());
        if backend.login.0 == 204 {
            op = op.response(
                303,
                Response::new("Logged in, redirected to the application (when configured)."),
            );
        }
        self.add(&path, HttpMethod::Get, op, false);
    }

    #[cfg(feature = "oauth")]
    fn oauth_associate(&mut self, prefix: &str, provider: &str, user: &UserNames) {
        let path = join(prefix, "/authorize");
        let mut op = Op::new(
            "auth",
            &format!("oauth-associate:{provider}.authorize"),
            &path,
            "get",
            "Authorize",
        )
        .with(Self::scopes_param)
        .response(200, Self::authorize_response())
        .response(502, Self::provider_down());
        op.secured = true;
        self.add(&path, HttpMethod::Get, op, false);

        let with_accounts: RefOr<Schema> = utoipa::openapi::schema::AllOfBuilder::new()
            .item(schema_ref(&user.read))
            .item(schema::object(
                "The user's provider accounts.",
                vec![(
                    "oauth_accounts",
                    ArrayBuilder::new().items(schema_ref("OAuthAccount")).into(),
                    true,
                )],
            ))
            .into();
        let path = join(prefix, "/callback");
        let mut op = Op::new("auth", &format!("oauth-associate:{provider}.callback"), &path, "get", "Callback")
            .with(Self::callback_params)
            .response(200, json_response("The user with the linked account.", with_accounts))
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
            .response(502, Self::provider_down());
        op.secured = true;
        self.add(&path, HttpMethod::Get, op, false);

        let path = join(prefix, "/");
        let mut op = Op::new(
            "auth",
            &format!("oauth-associate:{provider}.unlink"),
            &path,
            "delete",
            "Unlink",
        )
        .response(204, Response::new("Unlinked."))
        .response(
            400,
            coded_error(
                "The user would have no way left to log in.",
                &[ErrorCode::OauthLastLoginMethod],
            ),
        )
        .response(
            404,
            plain_error("No account at this provider is linked.", "Not Found"),
        );
        op.secured = true;
        self.add(&path, HttpMethod::Delete, op, true);
    }
}
