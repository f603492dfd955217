//! The field types applications put on users: chrono timestamps and dates, JSON values
//! (`serde_json::Value`, sqlx's `Json<T>`), a string-backed enum; registered, read and patched
//! over HTTP on SQLite and PostgreSQL, and described in the OpenAPI document.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use fastusers::openapi::utoipa;
use fastusers::prelude::*;
use fastusers_tests::{Db, db_tests, fast_passwords, fresh_database};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A role, kept as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub(crate) enum Role {
    /// A reader.
    Reader,
    /// An editor.
    Editor,
}

impl utoipa::PartialSchema for Role {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(["reader", "editor"]))
            .into()
    }
}

/// Preferences, kept as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Prefs {
    /// A theme.
    pub theme: String,
    /// A size.
    pub font_size: i32,
}

impl utoipa::PartialSchema for Prefs {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .property(
                "theme",
                utoipa::openapi::schema::Object::with_type(utoipa::openapi::schema::Type::String),
            )
            .property(
                "font_size",
                utoipa::openapi::schema::Object::with_type(utoipa::openapi::schema::Type::Integer),
            )
            .into()
    }
}

/// A model with a field of each supported type.
#[derive(User, Clone, Debug)]
#[fastusers(table = "profile")]
pub(crate) struct Profile {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Email.
    pub email: String,
    /// Hash.
    pub hashed_password: String,
    /// Active.
    pub is_active: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Verified.
    pub is_verified: bool,
    /// A timestamp.
    #[fastusers(create, update)]
    pub last_seen: Option<DateTime<Utc>>,
    /// A date.
    #[fastusers(create, update)]
    pub birthday: Option<NaiveDate>,
    /// Any JSON.
    #[fastusers(create, update)]
    pub settings: Value,
    /// Typed JSON.
    #[fastusers(create, update)]
    pub prefs: Option<sqlx::types::Json<Prefs>>,
    /// An enum kept as text.
    #[fastusers(create, update, sql_type = "TEXT")]
    pub role: Role,
}

fastusers::auth_backends! {
    /// A JWT.
    pub(crate) struct ProfileAuth for Profile {
        jwt: BearerTransport, JwtStrategy;
    }
}

async fn call(
    router: &axum::Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> (StatusCode, Value) {
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some((content_type, body)) => request
            .header("content-type", content_type)
            .body(axum::body::Body::from(body)),
        None => request.body(axum::body::Body::empty()),
    }
    .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), router.clone().oneshot(request))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn every_field_type_round_trips(db: Db) {
    let url = fresh_database(db).await;
    let store = fastusers::store::connect::<Profile>(&url).await.unwrap();
    let manager = UserManager::new(store).with_password_helper(fast_passwords());
    let jwt = JwtStrategy::new(
        JwtKeys::hs256("a secret of the field type tests, long enough").unwrap(),
        Some(3600),
    );
    let auth = ProfileAuth {
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), jwt),
    };
    let state = FastUsers::new(manager, auth).without_login_throttle();
    let routes = Routes::new()
        .nest("/auth/jwt", ProfileAuth::jwt_router())
        .nest("/auth", FastUsers::<ProfileAuth>::register_router())
        .nest("/users", FastUsers::<ProfileAuth>::users_router());
    let api = serde_json::to_value(routes.openapi(&state)).unwrap();
    let router = routes.into_router().with_state(state);

    let body = json!({
        "email": "gawain@camelot.bt",
        "password": "green knight",
        "last_seen": "2026-12-01T10:30:00.123456Z",
        "birthday": "1990-05-17",
        "settings": {"beta": true, "tags": ["a", "b"], "limit": 3},
        "prefs": {"theme": "dark", "font_size": 14},
        "role": "editor",
    });
    let (status, created) = call(
        &router,
        Method::POST,
        "/auth/register",
        None,
        Some(("application/json", body.to_string())),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let expected = json!({
        "last_seen": "2026-12-01T10:30:00.123456Z",
        "birthday": "1990-05-17",
        "settings": {"beta": true, "tags": ["a", "b"], "limit": 3},
        "prefs": {"theme": "dark", "font_size": 14},
        "role": "editor",
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&created[key], value, "{key} in {created}");
    }

    let (status, login) = call(
        &router,
        Method::POST,
        "/auth/jwt/login",
        None,
        Some((
            "application/x-www-form-urlencoded",
            "username=gawain%40camelot.bt&password=green+knight".to_owned(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    let (status, me) = call(&router, Method::GET, "/users/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&me[key], value, "{key} read back from the database: {me}");
    }

    let patch = json!({
        "last_seen": "2026-12-02T00:00:00Z",
        "birthday": null,
        "settings": [1, "two", null],
        "prefs": {"theme": "light", "font_size": 12},
        "role": "reader",
    });
    let (status, patched) = call(
        &router,
        Method::PATCH,
        "/users/me",
        Some(&token),
        Some(("application/json", patch.to_string())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let (_, me) = call(&router, Method::GET, "/users/me", Some(&token), None).await;
    for (key, value) in patch.as_object().unwrap() {
        let value = match key.as_str() {
            "last_seen" => &json!("2026-12-02T00:00:00Z"),
            _ => value,
        };
        assert_eq!(&me[key], value, "{key} after the patch: {me}");
    }

    // A value of the wrong kind is a 422 naming the field, not a 500.
    let (status, refused) = call(
        &router,
        Method::PATCH,
        "/users/me",
        Some(&token),
        Some(("application/json", json!({"role": "king"}).to_string())),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        refused["detail"][0]["loc"],
        json!(["body", "role"]),
        "{refused}"
    );
    let (status, refused) = call(
        &router,
        Method::PATCH,
        "/users/me",
        Some(&token),
        Some((
            "application/json",
            json!({"last_seen": "yesterday"}).to_string(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        refused["detail"][0]["loc"],
        json!(["body", "last_seen"]),
        "{refused}"
    );

    // The OpenAPI document describes each.
    let read = &api["components"]["schemas"]["ProfileRead"]["properties"];
    assert_eq!(read["last_seen"]["format"], json!("date-time"), "{read}");
    assert_eq!(
        read["last_seen"]["type"],
        json!(["string", "null"]),
        "{read}"
    );
    assert_eq!(read["birthday"]["format"], json!("date"), "{read}");
    assert_eq!(read["settings"], json!({"title": "Settings"}), "{read}");
    assert_eq!(
        read["prefs"]["properties"]["font_size"]["type"],
        json!("integer"),
        "{read}"
    );
    assert_eq!(read["role"]["enum"], json!(["reader", "editor"]), "{read}");
}

db_tests!(every_field_type_round_trips);
