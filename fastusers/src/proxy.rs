//! Proxy headers: see [`ProxyHeaders`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::header;
use axum::http::request::Parts;
use axum::http::uri::Authority;

/// Where fastusers reads a request's client address, scheme and host: whether `X-Forwarded-For`,
/// `X-Forwarded-Proto` and `X-Forwarded-Host` are believed.
///
/// Behind a reverse proxy, the connection comes from the proxy, and the proxy tells who the
/// client was in `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`. A client that
/// reaches the application directly can send those headers too, with any value, so they are
/// believed only when [`FastUsers::behind_proxy`](crate::FastUsers::behind_proxy) says a proxy
/// sets them (off by default). Every part of fastusers reads these three things here: the login
/// throttle's per-address count (the address), the OAuth redirect URI (scheme and host) and the
/// cookie transport's CSRF check (host).
///
/// | | not behind a proxy (default) | behind a proxy |
/// |---|---|---|
/// | address | the connection's peer (`ConnectInfo<SocketAddr>`, which needs `into_make_service_with_connect_info::<SocketAddr>()`) | the last `X-Forwarded-For` entry; the peer when there is none |
/// | scheme | the request URI's (HTTP/2 sends one), else `http` | the last `X-Forwarded-Proto` entry (`http` or `https`); as without a proxy when there is none |
/// | host | `Host` (HTTP/2: the `:authority`) | the last `X-Forwarded-Host` entry; as without a proxy when there is none |
///
/// The last entry is the one the proxy in front of the application wrote, whether it replaces
/// the header (nginx `$remote_addr`) or appends to what the client sent
/// (`$proxy_add_x_forwarded_for`); the entries before it are the client's to choose. So this
/// is right for exactly one proxy in front of the application.
///
/// ```
/// use axum::http::Request;
/// use fastusers::ProxyHeaders;
///
/// let (parts, ()) = Request::builder()
///     .header("host", "10.0.0.5:8000")
///     .header("x-forwarded-host", "api.example.com")
///     .header("x-forwarded-proto", "https")
///     .header("x-forwarded-for", "203.0.113.7, 198.51.100.2")
///     .body(())
///     .unwrap()
///     .into_parts();
/// assert_eq!(ProxyHeaders::Ignored.host(&parts), Some("10.0.0.5:8000"));
/// assert_eq!(ProxyHeaders::Ignored.scheme(&parts), "http");
/// assert_eq!(ProxyHeaders::Ignored.client_address(&parts), None); // no ConnectInfo here
/// assert_eq!(ProxyHeaders::Trusted.host(&parts), Some("api.example.com"));
/// assert_eq!(ProxyHeaders::Trusted.scheme(&parts), "https");
/// assert_eq!(ProxyHeaders::Trusted.client_address(&parts), Some("198.51.100.2".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyHeaders {
    /// The application is reached directly: the headers are ignored (the default).
    #[default]
    Ignored,
    /// The application is behind one proxy that sets the headers.
    Trusted,
}

impl ProxyHeaders {
    /// `Trusted` when `behind_proxy`.
    pub fn behind_proxy(behind_proxy: bool) -> Self {
        if behind_proxy {
            Self::Trusted
        } else {
            Self::Ignored
        }
    }

    /// The setting fastusers applied to this request (its routes and extractors put
    /// [`FastUsers::behind_proxy`](crate::FastUsers::behind_proxy) into the request's
    /// extensions before reading it); `Ignored` for a request they have not seen. For code
    /// that has the request but not the state, such as a [`Transport`](crate::Transport).
    pub fn of(parts: &Parts) -> Self {
        parts.extensions.get::<Self>().copied().unwrap_or_default()
    }

    /// Records this setting in the request, for [`of`](Self::of).
    pub(crate) fn apply(self, parts: &mut Parts) {
        parts.extensions.insert(self);
    }

    /// The client's address, if known.
    pub fn client_address(self, parts: &Parts) -> Option<IpAddr> {
        self.forwarded(parts, "x-forwarded-for")
            .and_then(|v| v.parse().ok())
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
            })
    }

    /// The scheme the client used: `http` or `https`.
    pub fn scheme(self, parts: &Parts) -> &'static str {
        match self.stated_scheme(parts) {
            Some(s) if s.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        }
    }

    /// The scheme as something says it, if anything does: a trusted proxy's
    /// `X-Forwarded-Proto`, else the request itself (HTTP/2's `:scheme`, an absolute URI).
    /// `None` for a plain HTTP/1.1 request with no believed header.
    pub(crate) fn stated_scheme(self, parts: &Parts) -> Option<&str> {
        self.forwarded(parts, "x-forwarded-proto")
            .or_else(|| parts.uri.scheme_str())
    }

    /// The host (and port) the client asked for, if the request names a valid one.
    pub fn host(self, parts: &Parts) -> Option<&str> {
        self.forwarded(parts, "x-forwarded-host")
            .filter(|h| valid_host(h))
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .or_else(|| parts.uri.authority().map(Authority::as_str))
                    .filter(|h| valid_host(h))
            })
    }

    /// The last entry of the forwarded header `name`, when trusted.
    fn forwarded<'a>(self, parts: &'a Parts, name: &str) -> Option<&'a str> {
        if self == Self::Ignored {
            return None;
        }
        parts
            .headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// A host and optional port, nothing else (no user info, path or spaces).
fn valid_host(host: &str) -> bool {
    !host.contains('@') && host.parse::<Authority>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().uri("/auth/login");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn ignored_headers_change_nothing() {
        let mut p = parts(&[
            ("host", "api.example.com"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        p.extensions
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 5000))));
        let proxy = ProxyHeaders::Ignored;
        assert_eq!(proxy.host(&p), Some("api.example.com"));
        assert_eq!(proxy.scheme(&p), "http");
        assert_eq!(proxy.client_address(&p), Some([192, 0, 2, 1].into()));
    }

    #[test]
    fn trusted_headers_use_the_last_entry_and_fall_back() {
        let p = parts(&[
            ("host", "10.0.0.5"),
            ("x-forwarded-host", "evil.example, api.example.com"),
            ("x-forwarded-proto", "http, HTTPS"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "10.0.0.42, 203.0.113.9"),
        ]);
        let proxy = ProxyHeaders::Trusted;
        assert_eq!(proxy.host(&p), Some("api.example.com"));
        assert_eq!(proxy.scheme(&p), "https");
        assert_eq!(proxy.client_address(&p), Some([203, 0, 113, 9].into()));
        let bare = parts(&[("host", "api.example.com:8443")]);
        assert_eq!(proxy.host(&bare), Some("api.example.com:8443"));
        assert_eq!(proxy.scheme(&bare), "http");
        assert_eq!(proxy.client_address(&bare), None);
    }

    #[test]
    fn hosts_that_are_not_hosts_are_refused() {
        for bad in ["user@evil.example", "evil.example/path", "a b", ""] {
            let p = parts(&[("x-forwarded-host", bad), ("host", "api.example.com")]);
            assert_eq!(
                ProxyHeaders::Trusted.host(&p),
                Some("api.example.com"),
                "{bad:?}"
            );
        }
        let p = parts(&[("host", "user@evil.example")]);
        assert_eq!(ProxyHeaders::Ignored.host(&p), None);
    }
}
