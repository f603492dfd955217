//! The OpenAPI document (the `openapi` feature): every route of the test application, the
//! derived user schemas with their custom fields, the security schemes, an example per
//! `ErrorCode`. (`scripts/schemathesis` validates the quickstart's document against the
//! OpenAPI 3.1 schema and fuzzes the server with it.)

use std::collections::BTreeSet;

use fastusers::openapi::Document;
use fastusers_tests::{Auth, Db, TestApp};
use serde_json::{Value, json};

/// The document of the test application, mounted as `TestApp` mounts it, with OAuth.
async fn document(requires_verification: bool) -> Value {
    let app = TestApp::new(Db::Sqlite).await;
    let api = Document::new(app.state.backends())
        .requires_verification(requires_verification)
        .auth("/auth/jwt", Auth::JWT)
        .auth("/auth/cookie", Auth::COOKIE)
        .auth("/auth/redis", Auth::REDIS)
        .auth("/auth/rediscookie", Auth::REDISCOOKIE)
        .auth("/auth/database", Auth::DATABASE)
        .auth("/auth/session", Auth::SESSION)
        .register("/auth")
        .verify("/auth")
        .reset_password("/auth")
        .users("/users")
        .sessions("/users")
        .oauth("/auth/mock", "mock", Auth::JWT)
        .oauth("/auth/mock-cookie", "mock", Auth::COOKIE)
        .oauth_associate("/auth/associate/mock", "mock")
        .build();
    serde_json::to_value(&api).expect("the document serialises")
}

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

#[tokio::test]
async fn every_route_is_documented_with_its_methods() {
    let doc = document(false).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut expected: Vec<(String, &str)> = Vec::new();
    for backend in [
        "jwt",
        "cookie",
        "redis",
        "rediscookie",
        "database",
        "session",
    ] {
        expected.push((format!("/auth/{backend}/login"), "post"));
        expected.push((format!("/auth/{backend}/logout"), "post"));
    }
    for (path, method) in [
        ("/auth/register", "post"),
        ("/auth/request-verify-token", "post"),
        ("/auth/verify", "post"),
        ("/auth/forgot-password", "post"),
        ("/auth/reset-password", "post"),
        ("/users/me", "get"),
        ("/users/me", "patch"),
        ("/users/{id}", "get"),
        ("/users/{id}", "patch"),
        ("/users/{id}", "delete"),
        ("/users/me/sessions", "get"),
        ("/users/me/sessions/{id}", "delete"),
        ("/auth/mock/authorize", "get"),
        ("/auth/mock/callback", "get"),
        ("/auth/mock-cookie/authorize", "get"),
        ("/auth/mock-cookie/callback", "get"),
        ("/auth/associate/mock/authorize", "get"),
        ("/auth/associate/mock/callback", "get"),
        ("/auth/associate/mock", "delete"),
    ] {
        expected.push((path.to_owned(), method));
    }
    let paths = doc["paths"].as_object().expect("paths");
    let mut found = 0;
    for (path, item) in paths {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if item.get(method).is_some() {
                found += 1;
                assert!(
                    expected.iter().any(|(p, m)| p == path && *m == method),
                    "unexpected operation {method} {path}"
                );
            }
        }
    }
    for (path, method) in &expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "missing operation {method} {path}"
        );
    }
    assert_eq!(found, expected.len());

    // FastAPI's operation ids, each unique.
    assert_eq!(
        doc["paths"]["/auth/jwt/login"]["post"]["operationId"],
        "auth_jwt_login_auth_jwt_login_post"
    );
    assert_eq!(
        doc["paths"]["/users/{id}"]["get"]["operationId"],
        "users_user_users__id__get"
    );
    let mut ids = BTreeSet::new();
    for item in paths.values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op.get("operationId") {
                assert!(
                    ids.insert(id.as_str().unwrap().to_owned()),
                    "duplicate {id}"
                );
            }
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
    let cookie_login = &paths["/auth/cookie/login"]["post"]["responses"];
    assert!(cookie_login["204"].is_object() && cookie_login["200"].is_null());
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
    assert_eq!(security.as_array().map(Vec::len), Some(6));
    assert!(security.as_array().unwrap().contains(&json!({"jwt": []})));
    assert!(paths["/auth/register"]["post"]["security"].is_null());
}

/// With device tokens, the login form has `device_token`, the Bearer login answers it and the
/// cookie login says it sets the device cookie; without, neither appears.
#[tokio::test]
async fn device_tokens_are_documented_when_on() {
    let app = TestApp::new(Db::Sqlite).await;
    let document = |on: bool| {
        let api = Document::new(app.state.backends())
            .device_tokens(on)
            .auth("/auth/jwt", Auth::JWT)
            .auth("/auth/cookie", Auth::COOKIE)
            .build();
        serde_json::to_value(&api).unwrap()
    };
    let on = document(true);
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

    let off = document(false);
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
    assert_eq!(
        read["required"],
        json!([
            "id",
            "email",
            "is_active",
            "is_superuser",
            "is_verified",
            "first_name",
            "plan",
            "login_count",
            "age",
            "height",
            "team_id",
            "newsletter"
        ])
    );
    let props = &read["properties"];
    assert_eq!(props["id"], json!({"type": "string", "format": "uuid"}));
    assert_eq!(props["email"], json!({"type": "string", "format": "email"}));
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
    assert!(create["properties"]["is_superuser"].is_object());

    let update = &schemas["UserUpdate"];
    assert!(update["required"].is_null(), "every field is optional");
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
    assert_eq!(schemes.as_object().map(|s| s.len()), Some(6));
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
