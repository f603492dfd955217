//! `GET /openapi.json`, the OpenAPI document of every route the quickstart mounts, and
//! `GET /docs`, Swagger UI on it (loaded from a CDN, as FastAPI's page is).

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use fastusers::openapi::Document;
use fastusers::openapi::schema;
use fastusers::openapi::utoipa::openapi::path::{HttpMethod, OperationBuilder};
use fastusers::openapi::utoipa::openapi::{
    ContentBuilder, Info, ResponseBuilder, ResponsesBuilder,
};

use super::{Auth, Config, var};

/// The OAuth providers `oauth_clients` mounts, by name, from the same environment.
fn oauth_names() -> Vec<String> {
    let mut names = Vec::new();
    if var("GOOGLE_CLIENT_ID").is_some() && var("GOOGLE_CLIENT_SECRET").is_some() {
        names.push("google".to_owned());
    }
    if var("GITHUB_CLIENT_ID").is_some() && var("GITHUB_CLIENT_SECRET").is_some() {
        names.push("github".to_owned());
    }
    if var("OAUTH_ISSUER").is_some() {
        names.push(var("OAUTH_NAME").unwrap_or_else(|| "oidc".to_owned()));
    }
    names
}

/// The document: fastusers' routes at the prefixes `app` mounts them, and the quickstart's own
/// `/authenticated-route`.
pub(crate) fn openapi(auth: &Auth, config: &Config) -> String {
    let mut doc = Document::new(auth)
        .device_tokens(true)
        .auth("/auth/jwt", Auth::JWT)
        .auth("/auth/cookie", Auth::COOKIE)
        .auth("/auth/session", Auth::SESSION);
    if config.redis_url.is_some() {
        doc = doc.auth("/auth/redis", Auth::REDIS);
    }
    for name in oauth_names() {
        doc = doc
            .oauth(&format!("/auth/{name}"), &name, Auth::JWT)
            .oauth(&format!("/auth/{name}-cookie"), &name, Auth::COOKIE)
            .oauth_associate(&format!("/auth/associate/{name}"), &name);
    }
    let doc = doc
        .register("/auth")
        .verify("/auth")
        .reset_password("/auth")
        .users("/users")
        .sessions("/users");
    let security = doc.security();
    let mut api = doc.build();
    api.info = Info::new("fastusers quickstart", env!("CARGO_PKG_VERSION"));

    let hello = schema::object("A greeting.", vec![("message", schema::string(), true)]);
    let json = |description: &str, schema| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(schema)).build(),
            )
            .build()
    };
    let responses = ResponsesBuilder::new()
        .response("200", json("Hello, user.", hello))
        .response(
            "401",
            json(
                "Missing token or inactive user.",
                schema::reference("ErrorModel"),
            ),
        )
        .response(
            "503",
            json(
                "The user database is unavailable.",
                schema::reference("ErrorModel"),
            ),
        )
        .build();
    api.paths.add_path_operation(
        "/authenticated-route",
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .summary(Some("A route for active users"))
            .operation_id(Some("authenticated_route_authenticated_route_get"))
            .securities(Some(security))
            .responses(responses),
    );
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

/// `GET /openapi.json` and `GET /docs`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(auth: &Auth, config: &Config) -> Router<S> {
    let document = openapi(auth, config);
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .route("/docs", get(|| async { Html(PAGE).into_response() }))
}
