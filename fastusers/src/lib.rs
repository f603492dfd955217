//! # fastusers
//!
//! User management and authentication for [axum]: registration, login and logout, the current
//! user as an extractor, and superuser management, over SQLite or PostgreSQL. It speaks
//! fastapi-users' HTTP API, so a frontend written for fastapi-users works unchanged.
//!
//! Three steps: annotate the user struct, declare the backends, mount the routes.
//!
//! ```
//! use axum::{Router, routing::get};
//! use fastusers::prelude::*;
//!
//! // 1. The user model. The derive generates UserRead, UserCreate, UserUpdate and the SQL.
//! #[derive(User, Clone, Debug)]
//! pub struct User {
//!     pub id: uuid::Uuid,
//!     pub email: String,
//!     pub hashed_password: String,
//!     pub is_active: bool,
//!     pub is_superuser: bool,
//!     pub is_verified: bool,
//! }
//!
//! // 2. The backends: a name, a transport and a strategy each.
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
//! // 3. Mount the routes.
//! let store = fastusers::store::connect::<User>("sqlite::memory:").await.unwrap();
//! // One secret (32 bytes or more) signs every token, with a key of its own per purpose.
//! let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
//! let strategy = JwtStrategy::new(secret.keys(Purpose::ACCESS), Some(3600));
//! let auth = Auth {
//!     jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy.clone()),
//!     cookie: Backend::new(CookieTransport::new().max_age(3600), strategy),
//! };
//! let users = FastUsers::new(UserManager::new(store), auth);
//! let app: Router = Routes::new()
//!     .nest("/auth/jwt", Auth::jwt_router())
//!     .nest("/auth/cookie", Auth::cookie_router())
//!     .nest("/auth", FastUsers::<Auth>::register_router())
//!     .nest("/users", FastUsers::<Auth>::users_router())
//!     .route("/authenticated-route", get(hello))
//!     .into_router()
//!     .with_state(users);
//! # let _ = app;
//! # }
//! ```
//!
//! ## Where things are
//!
//! The crate's root holds what the three steps above use: the derive and `auth_backends!`,
//! [`Backend`], the transports and [`JwtStrategy`], [`Secret`] and [`JwtKeys`],
//! [`UserManager`] and its [`Hooks`], [`FastUsers`], [`Routes`] and the extractors
//! ([`ActiveUser`] and its siblings); [`prelude`] imports them all. The rest is grouped by
//! concept, one module each:
//!
//! | module | what |
//! |---|---|
//! | [`user`] | the traits `#[derive(User)]` implements |
//! | [`store`] | where users and tokens live: SQLite, PostgreSQL, the user cache |
//! | [`transport`], [`strategy`] | how a token travels, and what it is (JWT, Redis, database) |
//! | [`keys`] | the secret, its per-purpose keys and their rotation, token helpers |
//! | [`extract`] | the request extractors, bodies included ([`extract::JsonBody`], [`extract::LoginForm`]) |
//! | [`password`] | hashing (argon2id) and the password policy |
//! | [`throttle`] | the login throttle and device tokens |
//! | [`refresh`] | refresh tokens: rotation, reuse detection, families |
//! | [`metrics`] | the names of the metrics fastusers records (feature `metrics`) |
//! | [`revocation`] | how a change ends a user's sessions |
//! | [`mail`] | the mailer, its templates, and the security notices |
//! | [`email`] | email addresses: normalisation and case folding |
//! | [`error`] | the API's error answers and codes |
//! | [`routes`] | the routers and the route type that describes them |
//! | `oauth`, `openapi` | OAuth2 / OpenID Connect login, the OpenAPI document (features) |
//!
//! ## Builders
//!
//! [`UserManager`] and [`FastUsers`] are configured by methods that take and return `self`,
//! named one way: `with_<part>(part)` hands in a component (`with_hooks`, `with_mailer`,
//! `with_login_throttle`, `with_user_cache`) and `without_<part>()` removes a default one
//! (`without_login_throttle`, `without_user_cache`); a plain setting is named after what it
//! sets (`requires_verification(true)`, `behind_proxy(true)`, `user_cache_ttl(ttl)`). The
//! getter of a part is its bare name (`login_throttle()`, `user_cache()`, `password_policy()`).
//!
//! ## Cargo features
//!
//! | feature | default | what it brings |
//! |---|---|---|
//! | `sqlite` | yes | the SQLite user store (SQLite is bundled) |
//! | `postgres` | no | the PostgreSQL user store |
//! | `redis` | no | the Redis token strategy and the Redis store of the login throttle |
//! | `smtp` | no | the SMTP mailer (`mail::SmtpMailer`) |
//! | `oauth` | no | OAuth2 and OpenID Connect login (`oauth`) |
//! | `openapi` | no | an OpenAPI 3.1 document of the routes (`openapi`, on utoipa) |
//! | `chrono` | no | chrono dates and times as fields of the user model (serde and OpenAPI included) |
//! | `metrics` | no | logins, registrations, hashing time, throttle hits and revocations through the `metrics` facade ([`metrics`]) |
//!
//! [axum]: https://docs.rs/axum

#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod body;
pub mod email;
pub mod error;
pub mod extract;
#[cfg(doctest)]
mod guide;
mod hooks;
pub mod keys;
pub mod mail;
mod manager;
pub mod metrics;
mod notice;
#[cfg(feature = "oauth")]
pub mod oauth;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod password;
mod proxy;
pub mod refresh;
pub mod revocation;
pub mod routes;
mod sensitive;
mod state;
pub mod store;
pub mod strategy;
pub mod throttle;
mod token;
pub mod transport;
pub mod user;

pub use async_trait::async_trait;
pub use backend::{Authenticated, Backend, Backends, RevokeError};
pub use error::{ApiError, ErrorCode};
pub use extract::{ActiveUser, AuthRejection, CurrentUser, OptionalUser, Superuser, VerifiedUser};
pub use hooks::{Hooks, InvalidPassword, NoHooks, PasswordOwner, RequestInfo};
pub use keys::{JwtKeys, Purpose, Secret};
pub use manager::{EmailTokens, TokenRevoker, UserError, UserManager};
pub use password::PasswordHelper;
pub use proxy::ProxyHeaders;
pub use refresh::RefreshTokens;
pub use routes::Routes;
pub use sensitive::SensitiveChanges;
pub use state::FastUsers;
pub use store::{OAuthAccount, StoreError, UserStore};
pub use strategy::{JwtStrategy, Strategy};
pub use transport::{BearerTransport, CookieTransport, Transport};
pub use user::{User, UserId};

/// Derives [`User`](trait@User) for a user struct: the read, create, update and changes types,
/// and the SQL for every enabled database.
///
/// The struct must declare `id` (`uuid::Uuid` or `i64`), `email: String`,
/// `hashed_password: String`, `is_active: bool`, `is_superuser: bool` and `is_verified: bool`.
///
/// Struct attributes, in `#[fastusers(...)]`:
/// - `table = "name"`: the table (default `"user"`, as the reference);
/// - `crate = "path"`: where fastusers is, if renamed (default `::fastusers`).
///
/// Field attributes on custom fields, in `#[fastusers(...)]`:
/// - `create`: settable at registration;
/// - `update`: a user may change it through `PATCH /users/me` (a superuser may change every
///   field but `id` and `read_only` ones);
/// - `read_only`: shown, never set through the API;
/// - `hidden`: never shown to clients;
/// - `sql_type = "TYPE"`: the column type, for types fastusers does not know.
///
/// ```
/// use fastusers::prelude::*;
///
/// #[derive(User, Clone, Debug)]
/// #[fastusers(table = "member")]
/// pub struct Member {
///     pub id: i64,
///     pub email: String,
///     pub hashed_password: String,
///     pub is_active: bool,
///     pub is_superuser: bool,
///     pub is_verified: bool,
///     #[fastusers(create, update)]
///     pub first_name: Option<String>,
///     #[fastusers(hidden)]
///     pub notes: Option<String>,
/// }
///
/// let read = MemberRead { id: 1, email: "a@b.co".into(), is_active: true, is_superuser: false, is_verified: false, first_name: None };
/// assert_eq!(serde_json::to_value(&read).unwrap()["first_name"], serde_json::Value::Null);
/// ```
pub use fastusers_macros::User;

/// Declares the application's authentication backends.
///
/// ```
/// # use fastusers::prelude::*;
/// # #[derive(User, Clone, Debug)]
/// # pub struct User { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
/// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
/// fastusers::auth_backends! {
///     /// How our users log in.
///     pub struct Auth for User {
///         jwt: BearerTransport, JwtStrategy;
///         cookie: CookieTransport, JwtStrategy;
///     }
/// }
/// ```
///
/// generates:
/// - `pub struct Auth { pub jwt: Backend<BearerTransport, JwtStrategy>, pub cookie: ... }`;
/// - `impl Backends for Auth`, trying the backends in declared order;
/// - a router per backend, `Auth::jwt_router()` and `Auth::cookie_router()`, with
///   `POST /login` and `POST /logout` (mount them at `/auth/jwt`, `/auth/cookie`);
/// - a constant per backend, `Auth::JWT` and `Auth::COOKIE`, to accept only some backends in an
///   extractor: `ActiveUser<Auth, { Auth::JWT }>`.
///
/// Backend names must be unique; a duplicate is a compile error.
#[macro_export]
macro_rules! auth_backends {
    ($($tokens:tt)*) => {
        $crate::__private::auth_backends_impl! { $crate; $($tokens)* }
    };
}

/// Everything an application needs, in one import.
pub mod prelude {
    pub use crate::backend::{Backend, Backends};
    pub use crate::error::{ApiError, ErrorCode};
    pub use crate::extract::{ActiveUser, CurrentUser, OptionalUser, Superuser, VerifiedUser};
    pub use crate::hooks::{Hooks, InvalidPassword, PasswordOwner};
    pub use crate::keys::{JwtKeys, Purpose, Secret};
    pub use crate::manager::UserManager;
    pub use crate::password::PasswordHelper;
    pub use crate::routes::Routes;
    pub use crate::state::FastUsers;
    pub use crate::store::UserStore;
    pub use crate::strategy::JwtStrategy;
    pub use crate::transport::{BearerTransport, CookieTransport};
    pub use crate::user::User;
    // The trait's methods stay in scope when the application's own struct is named `User`,
    // which hides the glob-imported name.
    pub use crate::user::User as _;
    pub use fastusers_macros::User;
}

/// What generated code uses. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    /// The body reader of the derive's `FromJson` impls.
    pub mod body {
        pub use crate::body::field::Fields;
        pub use crate::body::{FromJson, ValidationErrors};
    }
    pub use crate::backend::{BoxFuture, DynStrategy};
    #[cfg(feature = "openapi")]
    pub use crate::openapi;
    pub use crate::routes::auth::refresh_router as auth_refresh_router;
    pub use crate::routes::auth::router as auth_router;
    /// The stand-ins of the derive's types when the struct has errors.
    pub mod stub {
        pub use crate::user::stub::{Changes, Create, Read, Update};
    }
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub use crate::store::SqlUser;
    /// The columns the derive lists for the start-up check of the tables.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub mod schema {
        pub use crate::store::Column;
    }
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub use crate::store::column::SqlColumn;
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub use crate::store::sql_id::SqlId;
    pub use axum;
    pub use fastusers_macros::auth_backends_impl;
    pub use serde;
    pub use serde_json;
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub use sqlx;
    #[cfg(feature = "openapi")]
    pub use utoipa;
}

/// The README's Rust samples, compiled and run as doc tests. Some use the mailer, OAuth and
/// OpenAPI, so they run when those features are on (`cargo test --workspace` enables them).
#[cfg(all(
    doctest,
    feature = "sqlite",
    feature = "smtp",
    feature = "oauth",
    feature = "openapi"
))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
