//! The browser page: a small single-page app in plain HTML, CSS and JavaScript (no build
//! step), embedded in the binary. It registers, signs in with a cookie backend (`/auth/cookie`
//! or `/auth/session`), shows and edits the profile, and handles the emails' links, all
//! through the same HTTP API a fastapi-users frontend uses.
//!
//! `GET /`, `/verify` and `/reset-password` (the links of the verification and reset emails)
//! all answer the page, which reads `location.pathname` and the `token` query parameter;
//! `GET /web/app.js` and `/web/style.css` are its script and style sheet.

use axum::Router;
use axum::http::header::{self, HeaderName};
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const STYLE_CSS: &str = include_str!("web/style.css");

/// Everything from this origin only, no inline script, no framing. `Referrer-Policy:
/// same-origin` keeps the emails' tokens (in the page's address) from leaking to other sites
/// while still letting the browser send `Origin` on the page's own requests, which the
/// cookie transport's CSRF check reads.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
    ),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::CACHE_CONTROL, "no-cache"),
];

/// An embedded file with its content type and the security headers.
fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        SECURITY_HEADERS,
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
}

/// The page's routes; `app` merges them before its JSON 404 fallback.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let page = || async { file("text/html; charset=utf-8", INDEX) };
    Router::new()
        .route("/", get(page))
        .route("/verify", get(page))
        .route("/reset-password", get(page))
        .route(
            "/web/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/web/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE_CSS) }),
        )
}
