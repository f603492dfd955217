//! The guide (`docs/src`), one item per chapter, so that every Rust example in it is compiled
//! (and, unless marked `no_run`, run) as a doc test. A chapter whose examples need optional
//! features is only included when they are enabled; `cargo test -p fastusers --doc
//! --all-features` (or `cargo test --workspace`, whose examples crate enables them all) runs
//! every chapter.

#[cfg(doctest)]
#[doc = include_str!("../../docs/src/introduction.md")]
pub struct Introduction;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../docs/src/getting-started.md")]
pub struct GettingStarted;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../docs/src/user-model.md")]
pub struct UserModel;

#[cfg(all(doctest, feature = "sqlite", feature = "redis"))]
#[doc = include_str!("../../docs/src/backends.md")]
pub struct Backends;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../docs/src/routers.md")]
pub struct Routers;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../docs/src/user-manager.md")]
pub struct UserManager;

#[cfg(all(doctest, feature = "smtp"))]
#[doc = include_str!("../../docs/src/email.md")]
pub struct Email;

#[cfg(all(doctest, feature = "oauth"))]
#[doc = include_str!("../../docs/src/oauth.md")]
pub struct OAuth;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../docs/src/refresh-tokens.md")]
pub struct RefreshTokens;

#[cfg(all(doctest, feature = "sqlite", feature = "oauth"))]
#[doc = include_str!("../../docs/src/keys.md")]
pub struct Keys;

#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../docs/src/throttling.md")]
pub struct Throttling;

#[cfg(all(doctest, feature = "openapi"))]
#[doc = include_str!("../../docs/src/openapi.md")]
pub struct OpenApi;

#[cfg(doctest)]
#[doc = include_str!("../../docs/src/configuration.md")]
pub struct Configuration;

#[cfg(doctest)]
#[doc = include_str!("../../docs/src/errors.md")]
pub struct Errors;

#[cfg(all(doctest, feature = "sqlite", feature = "redis"))]
#[doc = include_str!("../../docs/src/deployment.md")]
pub struct Deployment;

#[cfg(all(doctest, feature = "metrics"))]
#[doc = include_str!("../../docs/src/operations.md")]
pub struct Operations;

#[cfg(doctest)]
#[doc = include_str!("../../docs/src/security.md")]
pub struct Security;

#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../docs/src/migrating-from-fastapi-users.md")]
pub struct MigratingFromFastapiUsers;
