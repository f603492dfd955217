//! OAuth2 and OpenID Connect: log in or sign up through a provider, and link provider
//! accounts to users (feature `oauth`).
//!
//! The routes are fastapi-users': `GET /auth/{provider}/authorize` answers the provider's
//! authorization URL and sets a CSRF cookie; the provider sends the browser back to
//! `GET /auth/{provider}/callback`, which logs the user in with the chosen backend. The
//! associate router (`/auth/associate/{provider}`) does the same for a logged-in user and links
//! the provider account to them; `DELETE /auth/associate/{provider}` unlinks it.
//!
//! Over the reference: every flow uses PKCE (S256); the state, the CSRF cookie and the
//! session are checked before the code is exchanged, so a callback refused for them leaves the
//! code unused; OpenID Connect ID tokens are checked by the `openidconnect` crate against the
//! provider's keys, the issuer, the client id, the expiry and the flow's nonce; a provider
//! account links to one user only; linking by email needs an email the
//! provider vouches for; a bad state is a 400 and a failing provider a 502, never a 500.
//!
//! The user model opts in with `#[fastusers(oauth)]`, which adds the `oauth_account` table.
//!
//! ```
//! use fastusers::oauth::{OAuthClient, OAuthOptions};
//! use fastusers::prelude::*;
//!
//! #[derive(User, Clone, Debug)]
//! #[fastusers(oauth)]
//! pub struct User {
//!     pub id: uuid::Uuid,
//!     pub email: String,
//!     pub hashed_password: String,
//!     pub is_active: bool,
//!     pub is_superuser: bool,
//!     pub is_verified: bool,
//! }
//!
//! fastusers::auth_backends! {
//!     pub struct Auth for User {
//!         cookie: CookieTransport, JwtStrategy;
//!     }
//! }
//!
//! let google = OAuthClient::google("client-id", "client-secret");
//! let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
//! let options = OAuthOptions::new(&secret).associate_by_email(true);
//! let routes: axum::Router<FastUsers<Auth>> = axum::Router::new()
//!     .nest(
//!         "/auth/google",
//!         FastUsers::<Auth>::oauth_router(google.clone(), |auth| &auth.cookie, options.clone()),
//!     )
//!     .nest(
//!         "/auth/associate/google",
//!         FastUsers::<Auth>::oauth_associate_router(google, options),
//!     );
//! # let _ = routes;
//! ```

pub(crate) mod accounts;
mod cipher;
pub(crate) mod client;
mod options;
pub(crate) mod state;

pub use accounts::OAuthError;
pub use cipher::{CipherError, TokenCipher};
pub use client::{
    HttpError, Identity, InvalidIdToken, OAuthClient, OAuthClientError, ProviderTokens,
};
pub use options::OAuthOptions;
pub use state::STATE_AUDIENCE;
