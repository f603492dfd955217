//! `GET /openapi.json`, the OpenAPI document of every route the quickstart mounts, and
//! `GET /docs`, Swagger UI on it (loaded from a CDN, as FastAPI's page is).

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use fastusers::Routes;
use fastusers::openapi::utoipa::openapi::Info;
use fastusers::prelude::FastUsers;

use super::Auth;

/// The document of the routes `app` mounts, as JSON.
pub(crate) fn openapi(routes: &Routes<Auth>, users: &FastUsers<Auth>) -> String {
    let mut api = routes.openapi(users);
    api.info = Info::new("fastusers quickstart", env!("CARGO_PKG_VERSION"));
    api.to_json().expect("the document serialises")
}

/// Swagger UI, as FastAPI's `/docs` serves it.
const PAGE: &str = r#"<!DOCTYPE html>
<html>
<head>
<link type="text/css" rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
<title>fastusers quickstart - Swagger UI</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>
const ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
</script>
</body>
</html>
"#;

/// `GET /openapi.json` (the document `openapi` made) and `GET /docs`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(document: String) -> Router<S> {
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .route("/docs", get(|| async { Html(PAGE).into_response() }))
}
