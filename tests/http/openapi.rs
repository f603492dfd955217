//! The OpenAPI document (the `openapi` feature), built from what the test application mounts:
//! every mounted route documented and every documented route mounted, the derived user
//! schemas with their custom fields, the security schemes, an example per `ErrorCode`, and
//! the reference's names and types (`tests/openapi/reference.json`). (`scripts/schemathesis`
//! validates the quickstart's document against the OpenAPI 3.1 schema and fuzzes the server
//! with it; `scripts/openapi-clients` generates a Python client from it.)

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fastusers::keys::Secret;
use fastusers::oauth::{OAuthClient, OAuthOptions};
use fastusers::throttle::{DeviceTokens, LoginThrottle};
use fastusers_tests::{Db, Options, TestApp};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The test application with the OAuth routers of a provider named `mock` (never called).
async fn app(requires_verification: bool) -> TestApp {
    let client = OAuthClient::new(
        "mock",
        "client",
        "secret",
        "http://127.0.0.1:9/authorize",
        "http://127.0.0.1:9/token",
    )
    .expect("valid URLs")
    .userinfo("http://127.0.0.1:9/userinfo", "sub", "email");
    let options = Options {
        requires_verification,
        oauth: Some((client, OAuthOptions::new(&Secret::random()))),
        ..Options::default()
    };
    TestApp::with(Db::Sqlite, options).await
}

/// The document of the routes the test application mounts.
async fn document(requires_verification: bool) -> Value {
    let app = app(requires_verification).await;
    serde_json::to_value(app.routes.openapi(&app.state)).expect("the document serialises")
}

/// The operations of a document: `(method, path)`.
fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("a path item") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            found.push((method, path.clone()));
        }
    }
    found
}

/// Whether the path template `template` (`/users/{id}`) matches `path` (`/users/me`).
fn matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

/// Every route the test application's fastusers routers mount has an operation in the
/// document (the application's own routes, added with `Routes::route`, are not described),
/// and every operation of the document is routed: axum answers it, rather than the router's
/// "no route" or "method not allowed" fallbacks, which this test marks.
#[tokio::test]
async fn every_mounted_route_is_documented_and_every_documented_route_mounted() {
    let app = app(false).await;
    let doc = serde_json::to_value(app.routes.openapi(&app.state)).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = operations(&doc);

    let mounted = app.routes.list();
    let mut checked = 0;
    for route in &mounted {
        let Some(method) = &route.method else {
            continue;
        };
        checked += 1;
        assert!(
            documented
                .iter()
                .any(|(m, template)| m == method && matches(template, &route.path)),
            "{method} {} is mounted but not documented",
            route.path
        );
    }
    // The eight backends' login and logout, the two refresh and revoke routes, register, verify (2),
    // reset (2), users (6), sessions (3), and the OAuth routers (2 + 2 + 3).
    assert_eq!(checked, 16 + 4 + 1 + 2 + 2 + 6 + 3 + 7, "{mounted:?}");

    const NO_ROUTE: StatusCode = StatusCode::IM_A_TEAPOT;
    const NO_METHOD: StatusCode = StatusCode::LOOP_DETECTED;
    let router = app
        .routes
        .clone()
        .into_router()
        .fallback(|| async { NO_ROUTE })
        .method_not_allowed_fallback(|| async { NO_METHOD })
        .with_state(app.state.clone());
    for (method, template) in &documented {
        let path = template.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let request = Request::builder()
            .method(method.clone())
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let status = tokio::time::timeout(
            fastusers_tests::REQUEST_TIMEOUT,
            router.clone().oneshot(request),
        )
        .await
        .expect("an answer in time")
        .unwrap()
        .status();
        assert!(
            status != NO_ROUTE && status != NO_METHOD,
            "{method} {template} is documented but not routed ({status})"
        );
    }
    assert_eq!(
        documented.len(),
        checked - 1,
        "DELETE /users/me is /users/{{id}}'s"
    );

    // FastAPI's operation ids, each unique.
    assert_eq!(
        doc["paths"]["/auth/jwt/login"]["post"]["operationId"],
        "auth_jwt_login_auth_jwt_login_post"
    );
    assert_eq!(
        doc["paths"]["/users/{id}"]["get"]["operationId"],
        "users_user_users__id__get"
    );
    assert_eq!(
        doc["paths"]["/auth/mock-cookie/callback"]["get"]["operationId"],
        "oauth_mock_cookie_callback_auth_mock_cookie_callback_get"
    );
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().expect("an operation id");
            assert!(ids.insert(id.to_owned()), "duplicate {id}");
        }
    }

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling reference {r}"
        );
    }
}

#[tokio::test]
async fn bodies_and_answers_match_the_routes() {
    let doc = document(false).await;
    let paths = &doc["paths"];

    let login = &paths["/auth/jwt/login"]["post"];
    let form =
        &login["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"];
    assert_eq!(
        form,
        "#/components/schemas/Body_auth_jwt_login_auth_jwt_login_post"
    );
    let form = &doc["components"]["schemas"]["Body_auth_jwt_login_auth_jwt_login_post"];
    assert_eq!(form["required"], json!(["username", "password"]));
    assert!(form["properties"]["grant_type"].is_object());
    assert_eq!(
        login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BearerResponse"
    );
    // As the reference documents it: the form only (multipart is accepted, not documented:
    // openapi-python-client's login modules fail on import with both).
    let content: Vec<&String> = login["requestBody"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(content, ["application/x-www-form-urlencoded"]);
    let cookie_login = &paths["/auth/cookie/login"]["post"]["responses"];
    assert!(cookie_login["204"].is_object() && cookie_login["200"].is_null());
    // The cookie transports' logins check the origin; the Bearer ones do not.
    for backend in ["cookie", "session", "rediscookie"] {
        let forbidden = &paths[format!("/auth/{backend}/login")]["post"]["responses"]["403"];
        assert_eq!(
            forbidden["content"]["application/json"]["examples"]["CSRF_CHECK_FAILED"]["value"],
            json!({"detail": "CSRF_CHECK_FAILED"}),
            "{backend}"
        );
    }
    assert!(login["responses"]["403"].is_null());
    assert!(paths["/auth/jwt/logout"]["post"]["responses"]["204"].is_object());

    assert!(paths["/auth/register"]["post"]["responses"]["201"].is_object());
    for path in ["/auth/forgot-password", "/auth/request-verify-token"] {
        assert_eq!(
            paths[path]["post"]["responses"]["202"]["content"]["application/json"]["schema"],
            json!({"type": "null"}),
            "{path}"
        );
    }
    assert!(paths["/users/{id}"]["delete"]["responses"]["204"].is_object());
    assert!(paths["/users/{id}"]["get"]["responses"]["404"].is_object());
    assert!(paths["/users/{id}"]["get"]["responses"]["403"].is_object());
    // Without requires_verification, an active user's own routes never answer 403.
    assert!(paths["/users/me"]["get"]["responses"]["403"].is_null());
    assert_eq!(
        paths["/users/me"]["get"]["responses"]["401"]["description"],
        "Missing token or inactive user."
    );
    assert_eq!(
        paths["/auth/register"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/HTTPValidationError"
    );
    assert!(paths["/auth/register"]["post"]["responses"]["413"].is_object());
    assert!(paths["/users/me"]["get"]["responses"]["503"].is_object());

    // Authenticated routes accept any backend's token; public ones none.
    let security = &paths["/users/me"]["get"]["security"];
    assert_eq!(security.as_array().map(Vec::len), Some(8));
    assert!(security.as_array().unwrap().contains(&json!({"jwt": []})));
    assert!(paths["/auth/register"]["post"]["security"].is_null());
}

/// The refresh routes and the refresh backends' logins: RFC 6749's form and answer for
/// Bearer, the two cookies for Cookie, the new error codes, and the CSRF refusal.
#[tokio::test]
async fn the_refresh_routes_are_documented() {
    let doc = document(false).await;
    let paths = &doc["paths"];
    let schemas = &doc["components"]["schemas"];
    let bearer = &paths["/auth/refresh/refresh"]["post"];
    assert_eq!(
        bearer["operationId"],
        "auth_refresh_refresh_auth_refresh_refresh_post"
    );
    let answer = &bearer["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(answer, "#/components/schemas/RefreshResponse");
    let fields = &schemas["RefreshResponse"]["properties"];
    for field in ["access_token", "token_type", "refresh_token", "expires_in"] {
        assert!(fields[field].is_object(), "{field}");
    }
    assert_eq!(
        schemas["RefreshResponse"]["required"],
        json!(["access_token", "token_type", "refresh_token"])
    );
    let codes = &bearer["responses"]["400"]["content"]["application/json"]["examples"];
    for code in ["REFRESH_TOKEN_INVALID", "REFRESH_TOKEN_REUSED"] {
        assert!(codes[code].is_object(), "{code} in {codes}");
    }
    assert!(
        bearer["responses"]["403"].is_null(),
        "no CSRF check for Bearer"
    );
    let form =
        bearer["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
    assert_eq!(
        schemas[&form]["required"],
        json!(["grant_type", "refresh_token"])
    );
    assert_eq!(
        paths["/auth/refresh/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/RefreshResponse"
    );
    // The reference's backends answer as before.
    assert_eq!(
        paths["/auth/jwt/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/BearerResponse"
    );
    assert!(paths["/auth/jwt/refresh"].is_null());
    let cookie = &paths["/auth/refreshcookie/refresh"]["post"];
    assert!(cookie["responses"]["204"]["headers"]["set-cookie"].is_object());
    assert!(cookie["responses"]["403"].is_object(), "the CSRF check");
    assert_eq!(cookie["requestBody"]["required"], false);
    assert!(paths["/users/me/sessions"]["delete"]["responses"]["204"].is_object());
    let revoke = &paths["/auth/refresh/refresh/revoke"]["post"];
    assert!(revoke["responses"]["204"].is_object());
    assert!(paths["/auth/refreshcookie/refresh/revoke"]["post"]["responses"]["403"].is_object());
}

/// With device tokens (the login throttle's), the login form has `device_token`, the Bearer
/// login answers it and the cookie login says it sets the device cookie; without, neither
/// appears.
#[tokio::test]
async fn device_tokens_are_documented_when_on() {
    let document = async |throttle: LoginThrottle| {
        let options = Options {
            throttle: Some(throttle),
            ..Options::default()
        };
        let app = TestApp::with(Db::Sqlite, options).await;
        serde_json::to_value(app.routes.openapi(&app.state)).unwrap()
    };
    let on =
        document(LoginThrottle::new().device_tokens(DeviceTokens::new(&Secret::random()))).await;
    let schemas = &on["components"]["schemas"];
    let form = &schemas["Body_auth_jwt_login_auth_jwt_login_post"];
    assert_eq!(form["properties"]["device_token"]["type"], "string");
    assert_eq!(form["required"], json!(["username", "password"]));
    let login = &on["paths"]["/auth/jwt/login"]["post"]["responses"]["200"];
    assert_eq!(
        login["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BearerResponseWithDeviceToken"
    );
    assert_eq!(
        schemas["BearerResponseWithDeviceToken"]["required"],
        json!(["access_token", "token_type", "device_token"])
    );
    let cookie = &on["paths"]["/auth/cookie/login"]["post"]["responses"]["204"];
    assert!(
        cookie["headers"]["set-cookie"]["description"]
            .as_str()
            .unwrap()
            .contains("fastusers_device="),
        "{cookie}"
    );
    let mut found = Vec::new();
    refs(&on, &mut found);
    for r in found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas[name].is_object(), "dangling reference {r}");
    }

    let off = document(LoginThrottle::new()).await;
    let form = &off["components"]["schemas"]["Body_auth_jwt_login_auth_jwt_login_post"];
    assert!(form["properties"]["device_token"].is_null());
    assert!(off["components"]["schemas"]["BearerResponseWithDeviceToken"].is_null());
    assert!(!off.to_string().contains("fastusers_device"));
}

#[tokio::test]
async fn user_schemas_have_the_custom_fields() {
    let doc = document(false).await;
    let schemas = &doc["components"]["schemas"];

    let read = &schemas["UserRead"];
    // The flags are not required and have defaults, as in the reference's schema.
    assert_eq!(
        read["required"],
        json!([
            "id",
            "email",
            "first_name",
            "plan",
            "login_count",
            "age",
            "height",
            "team_id",
            "newsletter"
        ])
    );
    assert_eq!(read["properties"]["is_active"]["default"], true);
    assert_eq!(read["properties"]["is_verified"]["default"], false);
    let props = &read["properties"];
    assert_eq!(
        props["id"],
        json!({"type": "string", "format": "uuid", "title": "Id"})
    );
    assert_eq!(
        props["email"],
        json!({"type": "string", "format": "email", "title": "Email"})
    );
    assert_eq!(props["first_name"]["type"], json!(["string", "null"]));
    assert_eq!(props["login_count"]["type"], "integer");
    assert!(props["notes"].is_null(), "a hidden field is not shown");
    assert!(props["hashed_password"].is_null());

    let create = &schemas["UserCreate"];
    assert_eq!(create["required"], json!(["email", "password"]));
    assert_eq!(create["properties"]["email"]["format"], "email");
    assert_eq!(
        create["properties"]["first_name"]["type"],
        json!(["string", "null"])
    );
    assert!(create["properties"]["plan"].is_null(), "not a create field");
    assert_eq!(
        create["properties"]["is_superuser"]["type"],
        json!(["boolean", "null"])
    );
    assert_eq!(create["properties"]["is_active"]["default"], true);
    assert_eq!(create["properties"]["is_superuser"]["default"], false);

    let update = &schemas["UserUpdate"];
    assert!(update["required"].is_null(), "every field is optional");
    assert_eq!(
        update["properties"]["is_active"]["type"],
        json!(["boolean", "null"])
    );
    assert!(update["properties"]["is_active"]["default"].is_null());
    for field in ["password", "email", "is_active", "first_name", "plan"] {
        assert!(update["properties"][field].is_object(), "{field}");
    }
    assert!(
        update["properties"]["login_count"].is_null(),
        "read-only fields cannot be updated"
    );
}

#[tokio::test]
async fn security_schemes_per_transport() {
    let doc = document(false).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["jwt"],
        json!({"type": "oauth2", "flows": {"password": {"tokenUrl": "auth/jwt/login", "scopes": {}}}})
    );
    assert_eq!(
        schemes["database"]["flows"]["password"]["tokenUrl"],
        "auth/database/login"
    );
    assert_eq!(
        schemes["cookie"],
        json!({"type": "apiKey", "in": "cookie", "name": "fastapiusersauth"})
    );
    assert_eq!(schemes["session"]["name"], "fastusers_session");
    assert_eq!(schemes.as_object().map(|s| s.len()), Some(8));
}

#[tokio::test]
async fn every_error_code_has_an_example() {
    let doc = document(true).await;
    let mut examples: BTreeSet<String> = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let Some(found) = response["content"]["application/json"]["examples"].as_object()
                else {
                    continue;
                };
                for (name, example) in found {
                    let detail = &example["value"]["detail"];
                    let code = detail.get("code").unwrap_or(detail);
                    let is_code = name.chars().all(|c| c.is_ascii_uppercase() || c == '_');
                    if is_code && code == name {
                        assert!(status.starts_with('4') || status.starts_with('5'));
                        examples.insert(name.clone());
                    }
                }
            }
        }
    }
    let all = [
        "REGISTER_INVALID_PASSWORD",
        "REGISTER_USER_ALREADY_EXISTS",
        "OAUTH_NOT_AVAILABLE_EMAIL",
        "OAUTH_USER_ALREADY_EXISTS",
        "OAUTH_INVALID_STATE",
        "LOGIN_BAD_CREDENTIALS",
        "LOGIN_USER_NOT_VERIFIED",
        "RESET_PASSWORD_BAD_TOKEN",
        "RESET_PASSWORD_INVALID_PASSWORD",
        "VERIFY_USER_BAD_TOKEN",
        "VERIFY_USER_ALREADY_VERIFIED",
        "UPDATE_USER_EMAIL_ALREADY_EXISTS",
        "UPDATE_USER_INVALID_PASSWORD",
        "ACCESS_TOKEN_ALREADY_EXPIRED",
        "ACCESS_TOKEN_DECODE_ERROR",
        "OAUTH_ACCOUNT_ALREADY_LINKED",
        "OAUTH_LAST_LOGIN_METHOD",
        "OAUTH_INVALID_ID_TOKEN",
        "OAUTH_PROVIDER_UNAVAILABLE",
        "LOGIN_TOO_MANY_ATTEMPTS",
        "CSRF_CHECK_FAILED",
        "REFRESH_TOKEN_INVALID",
        "REFRESH_TOKEN_REUSED",
    ];
    let all: BTreeSet<String> = all.iter().map(|c| (*c).to_owned()).collect();
    assert_eq!(examples, all);

    // A refused password's example has the structured detail.
    let register = &doc["paths"]["/auth/register"]["post"]["responses"]["400"]["content"]["application/json"]
        ["examples"]["REGISTER_INVALID_PASSWORD"]["value"];
    assert_eq!(
        register["detail"]["code"], "REGISTER_INVALID_PASSWORD",
        "{register}"
    );
}

/// The JSON types a schema allows: its `type` (one or a list), the union of its `anyOf` or
/// `oneOf` members', a `$ref`'s name, or `any`.
fn types(schema: &Value) -> BTreeSet<String> {
    if let Some(name) = schema["$ref"].as_str() {
        return BTreeSet::from([name.to_owned()]);
    }
    for union in ["anyOf", "oneOf"] {
        if let Some(members) = schema[union].as_array() {
            return members.iter().flat_map(types).collect();
        }
    }
    match &schema["type"] {
        Value::String(ty) => BTreeSet::from([ty.clone()]),
        Value::Array(all) => all.iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
        _ => BTreeSet::from(["any".to_owned()]),
    }
}

/// Every schema of the reference's document (`tests/openapi/reference.json`, fastapi-users
/// configured as the quickstart) is in ours under its name, each of its properties with the
/// same types, default and requiredness, so that a client generated from either has the same
/// types; ours may only add (properties, schemas, operations). And every operation id of the
/// reference, but its example's own `/authenticated-route`, is ours.
#[tokio::test]
async fn the_reference_schemas_keep_their_names_and_types() {
    let reference: Value = serde_json::from_str(include_str!("../openapi/reference.json"))
        .expect("the reference's document");
    let doc = document(false).await;
    let ours = &doc["components"]["schemas"];
    for (name, theirs) in reference["components"]["schemas"].as_object().unwrap() {
        let mine = &ours[name];
        assert!(mine.is_object(), "schema {name} is missing");
        let required = |schema: &Value, field: &str| {
            schema["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(field)))
        };
        for (field, property) in theirs["properties"].as_object().unwrap() {
            let at = format!("{name}.{field}");
            let own = &mine["properties"][field];
            assert!(own.is_object(), "{at} is missing");
            assert_eq!(types(own), types(property), "{at}: {own} vs {property}");
            if !(property["anyOf"].is_array() || property["oneOf"].is_array()) {
                // Deeper, for the plain ones: an array's items, an object's values.
                assert_eq!(
                    types(&own["items"]),
                    types(&property["items"]),
                    "{at} items"
                );
            }
            assert_eq!(own["default"], property["default"], "{at} default");
            assert_eq!(
                required(mine, field),
                required(theirs, field),
                "{at} required"
            );
        }
    }
    let ids: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    for item in reference["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            if id != "authenticated_route_authenticated_route_get" {
                assert!(ids.contains(id), "operation {id} is missing");
            }
        }
    }
}
