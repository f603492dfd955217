//! `POST /auth/register`.

use axum::http::{Method, StatusCode};
use fastusers_tests::{Db, TestApp, db_tests};
use serde_json::json;

async fn registers_and_hides_the_hash(db: Db) {
    let app = TestApp::new(db).await;
    let response = app
        .register_json(json!({"email": "King.Arthur@CAMELOT.BT", "password": "guinevere", "first_name": "Arthur"}))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let body = response.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
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
        ],
        "read fields in declaration order, no hashed_password, no hidden field"
    );
    assert_eq!(
        body["email"], "King.Arthur@camelot.bt",
        "domain lower-cased, local part kept"
    );
    assert_eq!(body["first_name"], "Arthur");
    assert_eq!(
        (
            body["is_active"].clone(),
            body["is_superuser"].clone(),
            body["is_verified"].clone()
        ),
        (json!(true), json!(false), json!(false))
    );
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
}

async fn ignores_flags_and_unknown_fields(db: Db) {
    let app = TestApp::new(db).await;
    let body = json!({"email": "a@camelot.bt", "password": "guinevere", "is_superuser": true, "is_active": false,
        "is_verified": "yes", "plan": "gold", "login_count": 99, "unknown": 1});
    let response = app.register_json(body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let user = response.json();
    assert_eq!(user["is_superuser"], false);
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_verified"], false);
    assert_eq!(user["plan"], json!(null), "plan is not a create field");
    assert_eq!(
        user["login_count"], 0,
        "read-only fields start at their default"
    );
}

async fn refuses_a_taken_email_whatever_its_case(db: Db) {
    let app = TestApp::new(db).await;
    app.register("lancelot@camelot.bt", "guinevere").await;
    for email in [
        "lancelot@camelot.bt",
        "LANCELOT@CAMELOT.BT",
        "Lancelot@camelot.bt",
    ] {
        app.register_json(json!({"email": email, "password": "guinevere"}))
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}),
            );
    }
}

async fn checks_the_password_before_the_email(db: Db) {
    let app = TestApp::new(db).await;
    app.register("galahad@camelot.bt", "guinevere").await;
    app.register_json(json!({"email": "galahad@camelot.bt", "password": "short"})).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": "Password should be at least 8 characters"}}),
    );
    app.register_json(json!({"email": "percival@camelot.bt", "password": "xpercival@camelot.btx"})).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": "Password should not contain e-mail"}}),
    );
}

async fn answers_422_in_the_reference_shape(db: Db) {
    let app = TestApp::new(db).await;
    app.register_json(json!({"password": "guinevere"})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "missing", "loc": ["body", "email"], "msg": "Field required", "input": {"password": "guinevere"}}]}),
    );
    app.register_json(json!({})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [
            {"type": "missing", "loc": ["body", "email"], "msg": "Field required", "input": {}},
            {"type": "missing", "loc": ["body", "password"], "msg": "Field required", "input": {}}
        ]}),
    );
    app.register_json(json!({"email": "notanemail", "password": "guinevere"}))
        .await
        .assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "value_error", "loc": ["body", "email"],
            "msg": "value is not a valid email address: An email address must have an @-sign.",
            "input": "notanemail", "ctx": {"reason": "An email address must have an @-sign."}}]}),
        );
    app.register_json(json!({"email": "x@@y.com", "password": "guinevere"})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "value_error", "loc": ["body", "email"],
            "msg": "value is not a valid email address: The part after the @-sign contains invalid characters: '@'.",
            "input": "x@@y.com", "ctx": {"reason": "The part after the @-sign contains invalid characters: '@'."}}]}),
    );
    app.register_json(json!({"email": 123, "password": 123})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [
            {"type": "string_type", "loc": ["body", "email"], "msg": "Input should be a valid string", "input": 123},
            {"type": "string_type", "loc": ["body", "password"], "msg": "Input should be a valid string", "input": 123}
        ]}),
    );
    app.register_json(json!({"email": "a@camelot.bt", "password": "guinevere", "is_active": "maybe"})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "bool_parsing", "loc": ["body", "is_active"],
            "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"}]}),
    );
    app.register_json(json!([])).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from", "input": []}]}),
    );
}

/// Each custom field's type gives Pydantic's error kind for a mismatch, and its lax
/// conversions; the expected items are what FastAPI 0.165 / Pydantic 2.14 answer for a
/// `fastapi_users.schemas.BaseUserCreate` with fields of the same types (`Optional[str]`,
/// `Optional[conint(ge=-32768, le=32767)]`, `Optional[float]`, `Optional[UUID]`).
async fn answers_each_field_type_s_error_as_pydantic(db: Db) {
    let app = TestApp::new(db).await;
    let register = |fields: serde_json::Value| {
        let mut body = json!({"email": "a@camelot.bt", "password": "guinevere"});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        app.register_json(body)
    };
    // Every field's error, in the model's field order.
    register(json!({"team_id": "abc", "height": "tall", "age": "old", "first_name": 5}))
        .await
        .assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [
                {"type": "string_type", "loc": ["body", "first_name"], "msg": "Input should be a valid string", "input": 5},
                {"type": "int_parsing", "loc": ["body", "age"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "old"},
                {"type": "float_parsing", "loc": ["body", "height"],
                    "msg": "Input should be a valid number, unable to parse string as a number", "input": "tall"},
                {"type": "uuid_parsing", "loc": ["body", "team_id"],
                    "msg": "Input should be a valid UUID, invalid length: found 3", "input": "abc",
                    "ctx": {"error": "invalid length: found 3"}}
            ]}),
        );
    for (fields, item) in [
        (
            json!({"age": 5.5}),
            json!({"type": "int_from_float", "loc": ["body", "age"],
                "msg": "Input should be a valid integer, got a number with a fractional part", "input": 5.5}),
        ),
        (
            json!({"age": []}),
            json!({"type": "int_type", "loc": ["body", "age"], "msg": "Input should be a valid integer", "input": []}),
        ),
        (
            json!({"age": 40000}),
            json!({"type": "less_than_equal", "loc": ["body", "age"],
                "msg": "Input should be less than or equal to 32767", "input": 40000, "ctx": {"le": 32767}}),
        ),
        (
            json!({"age": "-40000"}),
            json!({"type": "greater_than_equal", "loc": ["body", "age"],
                "msg": "Input should be greater than or equal to -32768", "input": "-40000", "ctx": {"ge": -32768}}),
        ),
        (
            json!({"height": {}}),
            json!({"type": "float_type", "loc": ["body", "height"], "msg": "Input should be a valid number", "input": {}}),
        ),
        (
            json!({"height": "inf"}),
            json!({"type": "finite_number", "loc": ["body", "height"], "msg": "Input should be a finite number", "input": "inf"}),
        ),
        (
            json!({"team_id": 5}),
            json!({"type": "uuid_type", "loc": ["body", "team_id"],
                "msg": "UUID input should be a string, bytes or UUID object", "input": 5}),
        ),
    ] {
        register(fields)
            .await
            .assert(StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": [item]}));
    }
    // Pydantic's lax mode: numeric strings, whole floats, and the other spellings of a UUID.
    let response = register(json!({"age": " 42 ", "height": "1.8",
        "team_id": "urn:uuid:0C6D6B07-3B8D-4C67-9E6F-1D2B3C4D5E6F"}))
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let user = response.json();
    assert_eq!(
        (
            user["age"].clone(),
            user["height"].clone(),
            user["team_id"].clone()
        ),
        (
            json!(42),
            json!(1.8),
            json!("0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6f")
        )
    );
    assert_eq!(user["newsletter"], false, "not a create field: its default");
}

async fn malformed_bodies_are_422_never_500(db: Db) {
    let app = TestApp::new(db).await;
    let response = app
        .request(Method::POST, "/auth/register")
        .raw("application/json", "{\"email\":")
        .send()
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let item = &response.json()["detail"][0];
    assert_eq!(item["type"], "json_invalid");
    assert_eq!(
        item["loc"],
        json!(["body", 9]),
        "loc holds the character offset of the error"
    );
    assert_eq!(item["msg"], "JSON decode error");

    let response = app
        .request(Method::POST, "/auth/register")
        .body("")
        .send()
        .await;
    response.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]}),
    );

    let text = r#"{"email":"a@camelot.bt","password":"guinevere"}"#;
    let response = app
        .request(Method::POST, "/auth/register")
        .raw("text/plain", text)
        .send()
        .await;
    response.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from", "input": text}]}),
    );

    let response = app
        .request(Method::POST, "/auth/register")
        .raw("application/json", vec![0xff, 0xfe, 0x00])
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid UTF-8: {}",
        response.text()
    );

    let huge = format!(
        r#"{{"email":"a@camelot.bt","password":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let response = app
        .request(Method::POST, "/auth/register")
        .raw("application/json", huge)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.json()["detail"].is_string());
}

async fn concurrent_registrations_of_one_email_make_one_user(db: Db) {
    let app = std::sync::Arc::new(TestApp::new(db).await);
    let emails = [
        "merlin@camelot.bt",
        "MERLIN@camelot.bt",
        "Merlin@Camelot.bt",
        "merlin@CAMELOT.BT",
    ];
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let app = app.clone();
            let email = emails[i % emails.len()];
            tokio::spawn(async move {
                app.register_json(json!({"email": email, "password": "guinevere"}))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::CREATED => created += 1,
            StatusCode::BAD_REQUEST => assert_eq!(
                response.json(),
                json!({"detail": "REGISTER_USER_ALREADY_EXISTS"})
            ),
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    assert_eq!(
        created, 1,
        "the unique index on lower(email) lets exactly one through"
    );
}

db_tests!(
    registers_and_hides_the_hash,
    ignores_flags_and_unknown_fields,
    refuses_a_taken_email_whatever_its_case,
    checks_the_password_before_the_email,
    answers_422_in_the_reference_shape,
    answers_each_field_type_s_error_as_pydantic,
    malformed_bodies_are_422_never_500,
    concurrent_registrations_of_one_email_make_one_user,
);
