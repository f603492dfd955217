//! [`OAuthOptions`]: how the OAuth routers behave.

use super::cipher::TokenCipher;
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
    pub(crate) token_cipher: Option<TokenCipher>,
    pub(crate) take_over_unverified: bool,
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
            token_cipher: None,
            take_over_unverified: false,
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
    /// `OAUTH_USER_ALREADY_EXISTS`, when both sides vouch for the address: the provider says
    /// it is verified (an unverified one could be anybody's), and so does the local account
    /// (`is_verified`). Default: false.
    ///
    /// A local account whose email was never verified may have been registered by someone
    /// else before its owner came (account pre-hijacking): linking it would leave them its
    /// password. Its owner gets `400 OAUTH_USER_ALREADY_EXISTS`, unless
    /// [`take_over_unverified`](Self::take_over_unverified) is on.
    pub fn associate_by_email(mut self, associate: bool) -> Self {
        self.associate_by_email = associate;
        self
    }

    /// With [`associate_by_email`](Self::associate_by_email), lets the provider account's
    /// owner take over a local account with the same, unverified, email address instead of
    /// being refused: its password is made unusable, every one of its sessions ended (on
    /// every backend, JWTs included) and its other provider accounts unlinked, in that order,
    /// before the provider account is linked; it is marked verified when
    /// [`is_verified_by_default`](Self::is_verified_by_default) is on. Whoever registered it
    /// keeps no way in; its owner can set a password with a password reset. Default: false.
    pub fn take_over_unverified(mut self, take_over: bool) -> Self {
        self.take_over_unverified = take_over;
        self
    }

    /// Stores the provider's access and refresh tokens, encrypted with this cipher, in the
    /// `oauth_account` table, for an application that calls the provider's API for its users
    /// (read them with [`UserManager::oauth_accounts`](crate::UserManager::oauth_accounts) and
    /// [`TokenCipher::decrypt`]). Default: none, the tokens are not stored (`access_token` is
    /// empty and `refresh_token` NULL), since fastusers itself never uses them after the
    /// login.
    pub fn store_provider_tokens(mut self, cipher: TokenCipher) -> Self {
        self.token_cipher = Some(cipher);
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
    /// associate callback returns, decrypted, when they are stored
    /// ([`store_provider_tokens`](Self::store_provider_tokens)). Default: false, only the
    /// account's id, provider, account id, email and expiry are shown.
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
