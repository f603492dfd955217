//! An OpenAPI 3.1 document of the routes an application mounts (the `openapi` feature), built
//! with [utoipa]'s types so that the application can merge it into its own.
//!
//! Every fastusers router is a [`Routes`] value that holds, beside the axum router, the
//! description of each of its routes; nesting and merging them keeps the two together, and
//! [`Routes::openapi`] builds the document of exactly what was mounted: the derived user
//! schemas (`UserRead`, `UserCreate`, `UserUpdate`, custom fields included), a security
//! scheme per backend (an OAuth2 password flow with the Bearer transport's `tokenUrl`, an API
//! key in the Cookie transport's cookie), and every error with an example per [`ErrorCode`].
//! The application documents its own routes with [`Routes::route_documented`].
//!
//! ```
//! use axum::http::Method;
//! use fastusers::Routes;
//! use fastusers::openapi::schema;
//! use fastusers::prelude::*;
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
//! async fn hello(user: ActiveUser<Auth>) -> String {
//!     format!("Hello {}!", user.email)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = fastusers::store::connect::<User>("sqlite::memory:").await.unwrap();
//! let strategy = JwtStrategy::new(Secret::random().keys(Purpose::ACCESS), Some(3600));
//! let auth = Auth {
//!     jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy.clone()),
//!     cookie: Backend::new(CookieTransport::new(), strategy),
//! };
//! let users = FastUsers::new(UserManager::new(store), auth);
//! let routes = Routes::new()
//!     .nest("/auth/jwt", Auth::jwt_router())
//!     .nest("/auth/cookie", Auth::cookie_router())
//!     .nest("/auth", FastUsers::<Auth>::register_router())
//!     .nest("/users", FastUsers::<Auth>::users_router())
//!     .route_documented(Method::GET, "/hello", hello, |cx| {
//!         cx.op("hello", "Say hello")
//!             .requires_user()
//!             .json_response(200, "A greeting.", schema::string())
//!     });
//!
//! let api = routes.openapi(&users);
//! let json = serde_json::to_value(&api).unwrap();
//! assert_eq!(json["openapi"], "3.1.0");
//! assert!(json["paths"]["/auth/jwt/login"]["post"].is_object());
//! assert!(json["paths"]["/hello"]["get"]["security"].is_array());
//! assert_eq!(json["components"]["securitySchemes"]["jwt"]["flows"]["password"]["tokenUrl"], "auth/jwt/login");
//! assert_eq!(json["components"]["securitySchemes"]["cookie"]["name"], "fastapiusersauth");
//! assert!(json["components"]["schemas"]["UserRead"]["properties"]["first_name"].is_object());
//!
//! // Merge it into the application's own document, and serve the routes:
//! let mut mine = utoipa::openapi::OpenApiBuilder::new().build();
//! mine.merge(api);
//! let app: axum::Router = routes.into_router().with_state(users);
//! # let _ = app;
//! # }
//! ```
//!
//! [utoipa]: https://docs.rs/utoipa
//! [`ErrorCode`]: crate::error::ErrorCode
//! [`Routes`]: crate::Routes
//! [`Routes::openapi`]: crate::Routes::openapi
//! [`Routes::route_documented`]: crate::Routes::route_documented

pub mod schema;

mod responses;
mod transport;

pub use responses::Op;
pub use utoipa;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::Method;
use utoipa::openapi::path::{HttpMethod, PathItem, Paths};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{Components, Schema};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Info, OpenApi, OpenApiBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

#[cfg(feature = "oauth")]
use crate::backend::Backend;
use crate::backend::Backends;
use crate::error::ErrorCode;
use crate::user::User;

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
    /// token (when the login throttle has
    /// [`device_tokens`](crate::throttle::LoginThrottle::device_tokens)). Default:
    /// [`login_response`](Self::login_response).
    fn login_response_with_device_token(&self) -> (u16, Response) {
        self.login_response()
    }
    /// The status and response of a successful logout.
    fn logout_response(&self) -> (u16, Response);
    /// The status and response of a successful login or refresh of a backend with refresh
    /// tokens. Default: [`login_response`](Self::login_response).
    fn refresh_response(&self) -> (u16, Response) {
        self.login_response()
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

/// How one route describes itself: given the [`Context`] of the document, its operation.
/// Held by [`Routes`](crate::Routes) beside the route.
pub type Describe<A> = Arc<dyn Fn(&mut Context<'_, A>) -> Op + Send + Sync>;

/// A [`Describe`] of this closure.
pub fn describe<A, F>(describe: F) -> Describe<A>
where
    F: Fn(&mut Context<'_, A>) -> Op + Send + Sync + 'static,
{
    Arc::new(describe)
}

/// One backend, as the document shows it.
pub(crate) struct BackendDoc {
    pub(crate) name: &'static str,
    scheme: SecurityScheme,
    pub(crate) login: (u16, Response),
    pub(crate) login_with_device_token: (u16, Response),
    pub(crate) logout: (u16, Response),
    pub(crate) refresh: (u16, Response),
    /// The transport's address in the backends value, to find the backend a router picked.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    address: usize,
}

impl BackendDoc {
    /// Whether the transport takes a cookie, and so checks the origin of unsafe requests.
    pub(crate) fn takes_cookie(&self) -> bool {
        matches!(self.scheme, SecurityScheme::ApiKey(_))
    }
}

/// The names of the user's read, create and update schemas.
struct UserNames {
    read: String,
    create: String,
    update: String,
}

/// What a route's description can read: the application's backends and settings, where the
/// route is mounted, and the document's schemas, where it can add its own.
pub struct Context<'a, A> {
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    backends: &'a A,
    docs: &'a [BackendDoc],
    user: &'a UserNames,
    requires_verification: bool,
    device_tokens: bool,
    sensitive: crate::sensitive::SensitiveChanges,
    path: &'a str,
    method: &'a HttpMethod,
    schemas: &'a mut BTreeMap<String, RefOr<Schema>>,
}

impl<A> std::fmt::Debug for Context<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<A> Context<'_, A> {
    /// The operation of this route. `name` is the route's name as FastAPI knows it
    /// (`users:patch_user`), from which, with the full path and the method, its operation id
    /// is made as FastAPI makes it (`users_patch_user_users__id__patch`).
    pub fn op(&self, name: &str, summary: &str) -> Op {
        Op::new(
            responses::operation_id(name, self.path, self.method),
            summary,
        )
    }

    /// The route's full path, as mounted.
    pub fn path(&self) -> &str {
        self.path
    }

    /// Adds a schema to the document's components, and gives a reference to it.
    pub fn schema(&mut self, name: &str, schema: RefOr<Schema>) -> RefOr<Schema> {
        self.schemas.insert(name.to_owned(), schema);
        schema::reference(name)
    }

    /// The user as clients see it (`UserRead`).
    pub fn user_read(&self) -> RefOr<Schema> {
        schema::reference(&self.user.read)
    }

    /// The registration body (`UserCreate`).
    pub fn user_create(&self) -> RefOr<Schema> {
        schema::reference(&self.user.create)
    }

    /// The update body (`UserUpdate`).
    pub fn user_update(&self) -> RefOr<Schema> {
        schema::reference(&self.user.update)
    }

    /// Whether the application requires a verified email
    /// ([`FastUsers::requires_verification`](crate::FastUsers::requires_verification)).
    pub fn requires_verification(&self) -> bool {
        self.requires_verification
    }

    /// What a sensitive change through `PATCH /users/me` requires
    /// ([`FastUsers::sensitive_changes`](crate::FastUsers::sensitive_changes)).
    pub fn sensitive_changes(&self) -> crate::sensitive::SensitiveChanges {
        self.sensitive
    }

    /// Whether logins give device tokens (the login throttle's
    /// [`device_tokens`](crate::throttle::LoginThrottle::device_tokens)).
    pub fn device_tokens(&self) -> bool {
        self.device_tokens
    }

    /// The backend at this index of [`Backends::NAMES`].
    pub(crate) fn backend(&self, index: usize) -> &BackendDoc {
        &self.docs[index]
    }

    /// The backend `pick` picks, found by its transport's address.
    #[cfg(feature = "oauth")]
    pub(crate) fn backend_of<T, St>(&self, pick: fn(&A) -> &Backend<T, St>) -> &BackendDoc {
        let address = std::ptr::from_ref(&pick(self.backends).transport).addr();
        self.docs
            .iter()
            .find(|doc| doc.address == address)
            .expect("a backend router picks one of the application's backends")
    }

    /// The codes of a refused login: these, and `LOGIN_USER_NOT_VERIFIED` when verification
    /// is required.
    pub(crate) fn login_codes(&self, mut codes: Vec<ErrorCode>) -> Vec<ErrorCode> {
        if self.requires_verification {
            codes.push(ErrorCode::LoginUserNotVerified);
        }
        codes
    }

    /// An embedded JSON body (FastAPI's `Body(embed=True)`) of the operation `op`, its schema
    /// named as FastAPI names it.
    pub(crate) fn embedded_body(
        &mut self,
        op: &Op,
        fields: Vec<(&str, RefOr<Schema>)>,
    ) -> RequestBody {
        let name = format!("Body_{}", op.id());
        let body = self.schema(&name, schema::embedded(&name, fields));
        responses::json_body(body)
    }
}

/// The helpers the descriptions of fastusers' own routes use (`describe!` brings them into
/// scope).
pub(crate) mod prelude {
    #[cfg(feature = "oauth")]
    pub(crate) use super::responses::query_param;
    pub(crate) use super::responses::{
        coded_error, error_content, header, json, not_found, path_param, schema_content,
    };
    pub(crate) use super::schema::{self, REQUIRED};
    pub(crate) use crate::error::ErrorCode;
    pub(crate) use utoipa::openapi::request_body::RequestBodyBuilder;
    pub(crate) use utoipa::openapi::response::Response;
    pub(crate) use utoipa::openapi::schema::ArrayBuilder;
}

/// The HTTP method as utoipa names it, for the methods routes are declared with.
fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        Method::TRACE => HttpMethod::Trace,
        ref other => panic!("OpenAPI cannot describe the method {other}"),
    }
}

/// The document of these routes `(method, full path, description)`, for these backends and
/// settings. [`Routes::openapi`](crate::Routes::openapi) calls it.
pub(crate) fn document<'r, A>(
    backends: &A,
    requires_verification: bool,
    device_tokens: bool,
    sensitive: crate::sensitive::SensitiveChanges,
    routes: impl IntoIterator<Item = (&'r Method, &'r str, &'r Describe<A>)>,
) -> OpenApi
where
    A: OpenApiBackends + 'r,
    A::User: OpenApiUser,
{
    let docs: Vec<BackendDoc> = A::NAMES
        .iter()
        .zip(backends.transports())
        .map(|(name, transport)| BackendDoc {
            name,
            scheme: transport.security_scheme(),
            login: transport.login_response(),
            login_with_device_token: transport.login_response_with_device_token(),
            logout: transport.logout_response(),
            refresh: transport.refresh_response(),
            address: std::ptr::from_ref(transport).addr(),
        })
        .collect();
    let security: Vec<SecurityRequirement> = docs
        .iter()
        .map(|b| SecurityRequirement::new(b.name, Vec::<String>::new()))
        .collect();
    let has_cookie = docs.iter().any(BackendDoc::takes_cookie);

    let mut schemas: BTreeMap<String, RefOr<Schema>> = schema::fixed()
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect();
    let [
        (read, read_schema),
        (create, create_schema),
        (update, update_schema),
    ] = A::User::schemas();
    schemas.insert(read.clone(), read_schema);
    schemas.insert(create.clone(), create_schema);
    schemas.insert(update.clone(), update_schema);
    let user = UserNames {
        read,
        create,
        update,
    };

    let mut paths = Paths::new();
    for (method, path, describe) in routes {
        let method = http_method(method);
        let op = describe(&mut Context {
            backends,
            docs: &docs,
            user: &user,
            requires_verification,
            device_tokens,
            sensitive,
            path,
            method: &method,
            schemas: &mut schemas,
        });
        let item = PathItem::new(
            method.clone(),
            op.finish(&method, requires_verification, has_cookie, &security),
        );
        match paths.paths.get_mut(path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                paths.paths.insert(path.to_owned(), item);
            }
        }
    }

    let mut components = Components::new();
    components.schemas = schemas;
    for backend in &docs {
        components
            .security_schemes
            .insert(backend.name.to_owned(), RefOr::T(backend.scheme.clone()));
    }
    OpenApiBuilder::new()
        .info(Info::new("fastusers", env!("CARGO_PKG_VERSION")))
        .paths(paths)
        .components(Some(components))
        .build()
}
