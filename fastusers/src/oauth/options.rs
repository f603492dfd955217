//! [`OAuthOptions`]: how the OAuth routers behave.

use super::state::StateSecret;
use crate::keys::Secret;
use crate::transport::CookieTransport;

/// The settings of the OAuth routers, with fastapi-users' defaults.
///
/// ```
/// use fastusers::keys::Secret;
/// use fastusers::oauth::OAuthOptions;
///
/// let secret = Secret::new("a long random secret, 32 bytes or more").unwrap();
/// let options = OAuthOptions::new(&secret)
///     .redirect_url("https://api.example/auth/google/callback")
///     .associate_by_email(true)
///     .redirect_after_login("https://app.example/");
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct OAuthOptions {
    pub(crate) secret: StateSecret,
    pub(crate) redirect_url: Option<String>,
    pub(crate) associate_by_email: bool,
    pub(crate) is_verified_by_default: bool,
    pub(crate) csrf_cookie: CookieTransport,
    pub(crate) redirect_after_login: Option<String>,
    pub(crate) expose_provider_tokens: bool,
    pub(crate) state_lifetime: u64,
}

impl OAuthOptions {
    /// Options whose state tokens (and PKCE verifiers and nonces) are signed with the
    /// secret's [`Purpose::OAUTH_STATE`](crate::keys::Purpose::OAUTH_STATE) key (the secret
    /// itself after [`Secret::same_key_for_every_purpose`], as fastapi-users'
    /// `state_secret`).
    pub fn new(secret: &Secret) -> Self {
        Self {
            secret: StateSecret::new(secret),
            redirect_url: None,
            associate_by_email: false,
            is_verified_by_default: false,
            csrf_cookie: CookieTransport::new()
                .name("fastapiusersoauthcsrf")
                .max_age(3600),
            redirect_after_login: None,
            expose_provider_tokens: false,
            state_lifetime: 3600,
        }
    }

    /// The callback URL registered at the provider. Default: the callback route's URL on the
    /// request's scheme and host; `X-Forwarded-Proto` and `X-Forwarded-Host` only when
    /// [`FastUsers::behind_proxy`](crate::FastUsers::behind_proxy) says a proxy sets them.
    pub fn redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = Some(url.into());
        self
    }

    /// Links a provider account to the existing user with the same email instead of answering
    /// `OAUTH_USER_ALREADY_EXISTS`, when the provider says the email is verified (an
    /// unverified one could be anybody's). Default: false.
    pub fn associate_by_email(mut self, associate: bool) -> Self {
        self.associate_by_email = associate;
        self
    }

    /// Marks users who sign up through the provider as verified, when the provider says
    /// their email is. Default: false.
    pub fn is_verified_by_default(mut self, verified: bool) -> Self {
        self.is_verified_by_default = verified;
        self
    }

    /// The double-submit CSRF cookie. Default: `fastapiusersoauthcsrf`, `HttpOnly`,
    /// `Max-Age=3600`, `Path=/`, `SameSite=lax`, `Secure`.
    pub fn csrf_cookie(mut self, cookie: CookieTransport) -> Self {
        self.csrf_cookie = cookie;
        self
    }

    /// After a login whose backend answers `204` (a cookie backend), redirects the browser
    /// here with a `303 See Other` (the cookie is set on the way) instead of answering `204`.
    pub fn redirect_after_login(mut self, url: impl Into<String>) -> Self {
        self.redirect_after_login = Some(url.into());
        self
    }

    /// Shows the provider's access and refresh tokens in the `oauth_accounts` that the
    /// associate callback returns. Default: false, only the account's id, provider, account
    /// id, email and expiry are shown.
    pub fn expose_provider_tokens(mut self, expose: bool) -> Self {
        self.expose_provider_tokens = expose;
        self
    }

    /// How long a state token lives, in seconds. Default: 3600.
    pub fn state_lifetime(mut self, seconds: u64) -> Self {
        self.state_lifetime = seconds;
        self
    }
}
