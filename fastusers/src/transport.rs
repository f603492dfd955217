//! Transports: how a token travels between client and server.

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::proxy::ProxyHeaders;

/// Carries tokens: reads one from a request, and writes the login and logout responses.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a transport",
    label = "a backend is `name: Transport, Strategy;`: the transport (`BearerTransport` or `CookieTransport`) comes first",
    note = "a transport says how the token travels; a strategy how it is made and read"
)]
pub trait Transport: Send + Sync + 'static {
    /// The token of this request, if it carries one.
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str>;
    /// The answer to a successful login.
    fn login_response(&self, token: String) -> Response;
    /// The answer to a successful password login that also gives the client a device token
    /// (see [`DeviceTokens`](crate::throttle::DeviceTokens)); `device_cookie` is the
    /// `Set-Cookie` value that stores it in the device cookie. The default is the login
    /// answer with that cookie added after the transport's own; the Bearer transport puts
    /// `device_token` in its JSON instead.
    fn login_response_with_device_token(
        &self,
        token: String,
        device_token: &str,
        device_cookie: &str,
    ) -> Response {
        let _ = device_token;
        let mut response = self.login_response(token);
        if let Ok(value) = HeaderValue::from_str(device_cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
    /// The answer to a logout.
    fn logout_response(&self) -> Response;

    /// The answer to a login or a refresh of a backend with refresh tokens (see
    /// [`crate::refresh`]): the access token, and the refresh token, which lives `refresh.max_age`
    /// seconds at most and is sent to `refresh.path`. The default ignores the refresh token (a
    /// custom transport must give it to the client its own way).
    fn refresh_response(&self, tokens: RefreshAnswer<'_>) -> Response {
        match tokens.device {
            Some((token, cookie)) => {
                self.login_response_with_device_token(tokens.access_token, token, cookie)
            }
            None => self.login_response(tokens.access_token),
        }
    }

    /// The answer to a revocation of a refresh token (`POST /refresh/revoke`): a 204; the
    /// cookie transport also clears its cookies, the refresh cookie at `refresh_path`.
    fn refresh_revoked_response(&self, refresh_path: &str) -> Response {
        let _ = refresh_path;
        StatusCode::NO_CONTENT.into_response()
    }

    /// The refresh token this request carries in the transport's own way (the cookie
    /// transport's refresh cookie); `None` when it comes in the body (RFC 6749 section 6).
    fn refresh_token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        let _ = parts;
        None
    }
    /// Whether this request may use the credentials this transport reads. The cookie
    /// transport refuses unsafe requests from untrusted origins (CSRF); the default accepts
    /// every request.
    fn check_origin(&self, parts: &Parts) -> Result<(), UntrustedOrigin> {
        let _ = parts;
        Ok(())
    }
}

/// What [`Transport::refresh_response`] gives the client.
#[derive(Debug)]
#[non_exhaustive]
pub struct RefreshAnswer<'a> {
    /// The access token.
    pub access_token: String,
    /// The access token's lifetime in seconds, when it has one (`expires_in`).
    pub expires_in: Option<u64>,
    /// The refresh token.
    pub refresh_token: &'a str,
    /// How long the refresh token may live, in seconds (the family's absolute end).
    pub refresh_max_age: u64,
    /// The path of the refresh route, to which a refresh cookie is scoped.
    pub refresh_path: &'a str,
    /// A new device token and its `Set-Cookie` value, after a login that made one.
    pub device: Option<(&'a str, &'a str)>,
}

/// An unsafe request carrying a cookie came from an origin the cookie transport does not
/// trust: answered `403 {"detail": "CSRF_CHECK_FAILED"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cross-site request refused: origin {origin:?} is not trusted")]
pub struct UntrustedOrigin {
    /// The origin the request came from.
    pub origin: String,
}

/// `Authorization: Bearer <token>`; login answers `200 {"access_token", "token_type": "bearer"}`.
#[derive(Debug, Clone)]
pub struct BearerTransport {
    token_url: String,
}

impl BearerTransport {
    /// A bearer transport whose login route is `token_url` (relative, e.g. `auth/jwt/login`;
    /// documented in OpenAPI as the password flow's token URL).
    pub fn new(token_url: impl Into<String>) -> Self {
        Self {
            token_url: token_url.into(),
        }
    }

    /// The login route's URL.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }
}

#[derive(Serialize)]
struct BearerResponse<'a> {
    access_token: String,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<&'a str>,
}

impl Transport for BearerTransport {
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    fn login_response(&self, token: String) -> Response {
        axum::Json(BearerResponse {
            access_token: token,
            token_type: "bearer",
            refresh_token: None,
            expires_in: None,
            device_token: None,
        })
        .into_response()
    }

    /// `200 {"access_token", "token_type": "bearer", "device_token"}`.
    fn login_response_with_device_token(
        &self,
        token: String,
        device_token: &str,
        _device_cookie: &str,
    ) -> Response {
        axum::Json(BearerResponse {
            access_token: token,
            token_type: "bearer",
            refresh_token: None,
            expires_in: None,
            device_token: Some(device_token),
        })
        .into_response()
    }

    /// RFC 6749 section 5.1: `{"access_token", "token_type": "bearer", "refresh_token",
    /// "expires_in"}` (and `device_token` after a login that made one).
    fn refresh_response(&self, tokens: RefreshAnswer<'_>) -> Response {
        let mut response = axum::Json(BearerResponse {
            access_token: tokens.access_token,
            token_type: "bearer",
            refresh_token: Some(tokens.refresh_token),
            expires_in: tokens.expires_in,
            device_token: tokens.device.map(|(token, _)| token),
        })
        .into_response();
        // RFC 6749 section 5.1: token answers are not cached.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn logout_response(&self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=lax` (the default).
    #[default]
    Lax,
    /// `SameSite=strict`.
    Strict,
    /// `SameSite=none` (requires `Secure`).
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "lax",
            Self::Strict => "strict",
            Self::None => "none",
        }
    }
}

/// A cookie holding the token; login and logout answer `204` with `Set-Cookie`.
///
/// The defaults are fastapi-users': name `fastapiusersauth`, a session cookie (no `Max-Age`),
/// `Path=/`, no domain, `Secure`, `HttpOnly`, `SameSite=lax`.
///
/// ```
/// use fastusers::transport::CookieTransport;
/// let cookie = CookieTransport::new().max_age(3600).secure(false);
/// assert_eq!(cookie.set_cookie_value("t"), "fastapiusersauth=t; HttpOnly; Max-Age=3600; Path=/; SameSite=lax");
/// ```
#[derive(Debug, Clone)]
pub struct CookieTransport {
    name: String,
    max_age: Option<u64>,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    csrf: bool,
    trusted_origins: Vec<String>,
    host_prefix: bool,
}

impl Default for CookieTransport {
    fn default() -> Self {
        Self {
            name: "fastapiusersauth".to_owned(),
            max_age: None,
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            csrf: true,
            trusted_origins: Vec::new(),
            host_prefix: false,
        }
    }
}

impl CookieTransport {
    /// A cookie transport with the reference's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cookie's name (default `fastapiusersauth`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        if self.host_prefix && !self.name.starts_with(HOST_PREFIX) {
            self.name.insert_str(0, HOST_PREFIX);
        }
        self
    }

    /// Names the cookie `__Host-<name>` (default: off, the name as given). Browsers keep such
    /// a cookie only when it is `Secure`, has `Path=/` and no `Domain`, so it cannot be set or
    /// overwritten by a sibling subdomain or over plain HTTP; with this option the cookie is
    /// always written that way, whatever [`secure`](Self::secure), [`path`](Self::path) and
    /// [`domain`](Self::domain) say.
    ///
    /// ```
    /// use fastusers::transport::CookieTransport;
    /// let cookie = CookieTransport::new().host_prefix(true).domain("example.com").secure(false);
    /// assert_eq!(cookie.cookie_name(), "__Host-fastapiusersauth");
    /// assert_eq!(
    ///     cookie.set_cookie_value("t"),
    ///     "__Host-fastapiusersauth=t; HttpOnly; Path=/; SameSite=lax; Secure"
    /// );
    /// ```
    pub fn host_prefix(mut self, on: bool) -> Self {
        let bare = self.name.strip_prefix(HOST_PREFIX).unwrap_or(&self.name);
        self.name = if on {
            format!("{HOST_PREFIX}{bare}")
        } else {
            bare.to_owned()
        };
        self.host_prefix = on;
        self
    }

    /// `Max-Age` in seconds (default: none, a session cookie).
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// `Path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// `Domain` (default: none).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// `Secure` (default true; turn it off only for plain-HTTP development).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// `HttpOnly` (default true).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// `SameSite` (default lax).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Origins (`https://app.example`, scheme, host and port) besides the API's own from which
    /// unsafe requests may use the cookie: a frontend on another origin that sends
    /// credentials. See [`csrf_protection`](Self::csrf_protection).
    pub fn trusted_origins<S: Into<String>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Self {
        self.trusted_origins = origins
            .into_iter()
            .map(|o| o.into().trim_end_matches('/').to_ascii_lowercase())
            .collect();
        self
    }

    /// CSRF protection, on by default: a request with an unsafe method (`POST`, `PUT`,
    /// `PATCH`, `DELETE`, and the login itself) that carries the cookie is refused with a 403
    /// when its `Origin` (or, without one, its `Referer`) is neither the API's own origin nor a
    /// [trusted origin](Self::trusted_origins).
    ///
    /// - The API's own origin is its host (the `Host` header, or HTTP/2's authority; behind a
    ///   proxy, `X-Forwarded-Host`: see [`FastUsers::behind_proxy`](crate::FastUsers::behind_proxy))
    ///   with its
    ///   scheme: `https` when a trusted proxy's `X-Forwarded-Proto` (or the request's own
    ///   scheme) says so, or when the cookie is [`Secure`](Self::secure), since browsers
    ///   send a `Secure` cookie only over HTTPS, and to `http://localhost` (which they count
    ///   as secure too). So an `http://` page of the same host cannot use an HTTPS site's
    ///   cookie, but a plain-HTTP development server on localhost works.
    /// - A request with neither `Origin` nor `Referer` is judged by `Sec-Fetch-Site` when the
    ///   browser sends it, as tower-http's `CsrfLayer` does: `same-origin` and `none` (the
    ///   user typed the URL) pass, `same-site`, `cross-site` and anything else are refused.
    ///   Without that header either, the request is not from a browser page and is accepted.
    ///
    /// `SameSite=lax` already keeps the cookie off cross-site `POST`s in current browsers;
    /// this check also covers older browsers, `SameSite=none` and sibling subdomains.
    pub fn csrf_protection(mut self, on: bool) -> Self {
        self.csrf = on;
        self
    }

    /// The cookie's name, with its `__Host-` prefix when [`host_prefix`](Self::host_prefix) is
    /// on.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` value that stores `token`, attributes in Starlette's order.
    pub fn set_cookie_value(&self, token: &str) -> String {
        self.cookie_with(token, self.max_age)
    }

    /// The `Set-Cookie` value that deletes the cookie.
    pub(crate) fn clear_cookie_value(&self) -> String {
        self.cookie_with("\"\"", Some(0))
    }

    /// The `Set-Cookie` value that stores `value` for `max_age` seconds.
    pub(crate) fn cookie_with(&self, value: &str, max_age: Option<u64>) -> String {
        let mut cookie = format!("{}={}", self.name, value);
        if let Some(domain) = self.domain.as_ref().filter(|_| !self.host_prefix) {
            cookie.push_str(&format!("; Domain={domain}"));
        }
        if self.http_only {
            cookie.push_str("; HttpOnly");
        }
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        let path = if self.host_prefix { "/" } else { &self.path };
        cookie.push_str(&format!("; Path={path}"));
        cookie.push_str(&format!("; SameSite={}", self.same_site.as_str()));
        if self.secure || self.host_prefix {
            cookie.push_str("; Secure");
        }
        cookie
    }

    /// The name of the refresh cookie: the access cookie's, without a `__Host-` prefix (the
    /// refresh cookie is scoped to a path), and `_refresh`.
    pub fn refresh_cookie_name(&self) -> String {
        let bare = self.name.strip_prefix(HOST_PREFIX).unwrap_or(&self.name);
        format!("{bare}_refresh")
    }

    /// The refresh cookie: HttpOnly, Secure and SameSite=Strict whatever the access cookie's
    /// settings, sent to the refresh route only.
    pub fn refresh_cookie_value(&self, token: &str, max_age: u64, path: &str) -> String {
        let mut cookie = format!(
            "{}={token}; HttpOnly; Max-Age={max_age}; Path={path}; SameSite=strict; Secure",
            self.refresh_cookie_name()
        );
        if let Some(domain) = self.domain.as_ref().filter(|_| !self.host_prefix) {
            cookie.push_str(&format!("; Domain={domain}"));
        }
        cookie
    }

    fn with_cookie(&self, value: String) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
        response
    }
}

impl Transport for CookieTransport {
    fn token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        cookie_value(parts, &self.name)
    }

    fn login_response(&self, token: String) -> Response {
        self.with_cookie(self.set_cookie_value(&token))
    }

    fn logout_response(&self) -> Response {
        self.with_cookie(self.clear_cookie_value())
    }

    /// A 204 with the access cookie, the refresh cookie (see
    /// [`refresh_cookie_value`](Self::refresh_cookie_value)) and the device cookie, if any.
    fn refresh_response(&self, tokens: RefreshAnswer<'_>) -> Response {
        let mut response = self.with_cookie(self.set_cookie_value(&tokens.access_token));
        let refresh = self.refresh_cookie_value(
            tokens.refresh_token,
            tokens.refresh_max_age,
            tokens.refresh_path,
        );
        let device = tokens.device.map(|(_, cookie)| cookie.to_owned());
        for value in std::iter::once(refresh).chain(device) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn refresh_revoked_response(&self, refresh_path: &str) -> Response {
        let mut response = self.logout_response();
        let clear = format!(
            "{}=\"\"; HttpOnly; Max-Age=0; Path={refresh_path}; SameSite=strict; Secure",
            self.refresh_cookie_name()
        );
        if let Ok(value) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    fn refresh_token<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        let name = self.refresh_cookie_name();
        cookie_value(parts, &name)
    }

    fn check_origin(&self, parts: &Parts) -> Result<(), UntrustedOrigin> {
        if !self.csrf || parts.method.is_safe() {
            return Ok(());
        }
        let header = |name| {
            parts
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap_or("(not text)").to_owned())
        };
        let Some(origin) =
            header(header::ORIGIN).or_else(|| header(header::REFERER).map(|r| origin_of(&r)))
        else {
            // No origin named: a browser still says where the request came from in
            // `Sec-Fetch-Site`; a client that sends none of them is not a browser page.
            return match header(SEC_FETCH_SITE) {
                None => Ok(()),
                Some(site) if site == "same-origin" || site == "none" => Ok(()),
                Some(site) => Err(UntrustedOrigin {
                    origin: format!("(Sec-Fetch-Site: {site})"),
                }),
            };
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.trusted_origins.contains(&origin) || self.is_own_origin(parts, &origin) {
            Ok(())
        } else {
            Err(UntrustedOrigin { origin })
        }
    }
}

/// The `__Host-` cookie name prefix.
const HOST_PREFIX: &str = "__Host-";

/// The value of the request's cookie `name`, unquoted; `None` when absent or empty.
fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The Fetch Metadata request header that names the relation of the request's initiator to
/// its target.
const SEC_FETCH_SITE: header::HeaderName = header::HeaderName::from_static("sec-fetch-site");

impl CookieTransport {
    /// Whether `origin` (lower-case, no trailing slash) is the API's own: the same host and
    /// port, and a scheme the site is served with.
    fn is_own_origin(&self, parts: &Parts, origin: &str) -> bool {
        // `Host`, or HTTP/2's `:authority` (in the request's URI); behind a trusted proxy,
        // `X-Forwarded-Host`.
        let host = ProxyHeaders::of(parts)
            .host(parts)
            .map(str::to_ascii_lowercase);
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        if host.as_deref() != Some(authority) {
            return false;
        }
        match scheme {
            "https" => true,
            // Behind a TLS-terminating proxy the application itself sees plain HTTP: the
            // proxy's header, or the cookie's `Secure` flag, tells that the site is HTTPS.
            "http" => match ProxyHeaders::of(parts).stated_scheme(parts) {
                Some(proto) => proto.eq_ignore_ascii_case("http"),
                None => !self.secure || is_loopback(authority),
            },
            _ => false,
        }
    }
}

/// Whether the host of an authority (`host[:port]`) is a loopback name, which browsers treat
/// as a secure context over plain HTTP (and send `Secure` cookies to).
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://authority` of a URL (the `Referer` of a request).
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => url.to_owned(),
    }
}
