//! `null` for `is_active`, `is_superuser` and `is_verified`, which the reference's create and
//! update schemas allow (`boolean | null`) and a client typed from them sends: checked against
//! fastapi-users 15.0.5. Registration and `PATCH /users/me` ignore it, as when absent (201,
//! 200); a superuser's `PATCH /users/{id}` answers 422, where the reference writes the `null`
//! into its NOT NULL column and fails with a 500; `{"email": null}` stays a 422.

use axum::http::{Method, StatusCode};
use fastusers_tests::{Db, TestApp, db_tests};
use serde_json::json;

const FLAGS: [&str; 3] = ["is_active", "is_superuser", "is_verified"];

/// `body` with every flag `null`.
fn with_null_flags(mut body: serde_json::Value) -> serde_json::Value {
    for flag in FLAGS {
        body[flag] = serde_json::Value::Null;
    }
    body
}

fn flags(user: &serde_json::Value) -> serde_json::Value {
    json!([user["is_active"], user["is_superuser"], user["is_verified"]])
}

async fn registration_ignores_null_flags(db: Db) {
    let app = TestApp::new(db).await;
    let body = with_null_flags(json!({"email": "gawain@camelot.bt", "password": "guinevere"}));
    let response = app.register_json(body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert_eq!(flags(&response.json()), json!([true, false, false]));

    // `email: null` and `password: null` are not allowed: 422, both listed, as the reference.
    app.register_json(json!({"email": null, "password": null, "is_active": null}))
        .await
        .assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [
                {"type": "string_type", "loc": ["body", "email"], "msg": "Input should be a valid string", "input": null},
                {"type": "string_type", "loc": ["body", "password"], "msg": "Input should be a valid string", "input": null},
            ]}),
        );
}

async fn patch_me_ignores_null_flags(db: Db) {
    let app = TestApp::new(db).await;
    app.register("gareth@camelot.bt", "guinevere").await;
    let token = app.token("gareth@camelot.bt", "guinevere").await;
    let body = with_null_flags(json!({"first_name": "Gareth"}));
    let response = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&body)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let user = response.json();
    assert_eq!(flags(&user), json!([true, false, false]));
    assert_eq!(user["first_name"], "Gareth");
}

async fn a_superusers_null_flag_is_422(db: Db) {
    let app = TestApp::new(db).await;
    let root = app.superuser("arthur@camelot.bt").await;
    let user = app.register("kay@camelot.bt", "guinevere").await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    let patch = |body: serde_json::Value| {
        let (app, root, path) = (&app, root.clone(), path.clone());
        async move {
            app.request(Method::PATCH, &path)
                .bearer(&root)
                .json(&body)
                .send()
                .await
        }
    };
    for flag in FLAGS {
        patch(json!({ flag: null })).await.assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "bool_type", "loc": ["body", flag], "msg": "Input should be a valid boolean", "input": null}]}),
        );
    }
    // Every error at once, in the body's field order.
    patch(json!({"login_count": 1, "is_verified": null, "plan": 5, "email": "bad", "is_active": "maybe"}))
        .await
        .assert(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [
                {"type": "value_error", "loc": ["body", "email"], "msg": "value is not a valid email address: An email address must have an @-sign.", "input": "bad", "ctx": {"reason": "An email address must have an @-sign."}},
                {"type": "bool_parsing", "loc": ["body", "is_active"], "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"},
                {"type": "bool_type", "loc": ["body", "is_verified"], "msg": "Input should be a valid boolean", "input": null},
                {"type": "string_type", "loc": ["body", "plan"], "msg": "Input should be a valid string", "input": 5},
            ]}),
        );
    // Nothing changed; a boolean still does.
    let response = patch(json!({"is_verified": true})).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(flags(&response.json()), json!([true, false, true]));
}

db_tests!(
    registration_ignores_null_flags,
    patch_me_ignores_null_flags,
    a_superusers_null_flag_is_422,
);
