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
//! let strategy = JwtStrategy::new(Secret::random().keys(Purpose::ACCESS), Some(3600));
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
//! [`ErrorCode`]: crate::error::ErrorCode

pub mod schema;

mod responses;
mod routes;
mod transport;

pub use utoipa;

use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{Components, Schema};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Info, OpenApi, OpenApiBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::backend::Backends;
use crate::user::User;
use routes::{Builder, UserNames};

/// A transport that can describe itself in an OpenAPI document: its security scheme and the
/// answers of its login and logout. Implemented for [`BearerTransport`] and
/// [`CookieTransport`]; a custom transport implements it to be documented.
///
/// [`BearerTransport`]: crate::transport::BearerTransport
/// [`CookieTransport`]: crate::transport::CookieTransport
#[diagnostic::on_unimplemented(
    message = "the transport `{Self}` cannot describe itself in an OpenAPI document",
    label = "implement `fastusers::openapi::OpenApiTransport` for `{Self}`"
)]
pub trait OpenApiTransport {
    /// How a client authenticates with this transport.
    fn security_scheme(&self) -> SecurityScheme;
    /// The status and response of a successful login.
    fn login_response(&self) -> (u16, Response);
    /// The status and response of a successful password login that also gives a device
    /// token (see [`Document::device_tokens`]). Default: [`login_response`](Self::login_response).
    fn login_response_with_device_token(&self) -> (u16, Response) {
        self.login_response()
    }
    /// The status and response of a successful logout.
    fn logout_response(&self) -> (u16, Response);
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
    login_with_device_token: (u16, Response),
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
    device_tokens: bool,
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
                login_with_device_token: transport.login_response_with_device_token(),
                logout: transport.logout_response(),
            })
            .collect();
        Self {
            backends,
            requires_verification: false,
            device_tokens: false,
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

    /// As [`LoginThrottle::device_tokens`](crate::throttle::LoginThrottle::device_tokens): the
    /// login form's `device_token` field, and the device token in each login answer (the
    /// Bearer JSON's `device_token`, the cookie transports' device cookie). Default: false.
    pub fn device_tokens(mut self, on: bool) -> Self {
        self.device_tokens = on;
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
        let has_cookie = self
            .backends
            .iter()
            .any(|b| matches!(b.scheme, SecurityScheme::ApiKey(_)));
        let mut builder = Builder::new(
            self.security(),
            self.requires_verification,
            self.device_tokens,
            has_cookie,
        );
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
            builder.mount(mount, &self.backends, &user);
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
