//! `/users/me` and the superuser's `/users/{id}`.

use axum::http::{Method, StatusCode};
use fastusers_tests::{Db, Options, TestApp, db_tests};
use serde_json::json;

async fn me_needs_an_active_user(db: Db) {
    let app = TestApp::new(db).await;
    let response = app.request(Method::GET, "/users/me").send().await;
    response.assert(StatusCode::UNAUTHORIZED, json!({"detail": "Unauthorized"}));
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    let user = app.register("kay@camelot.bt", "guinevere").await;
    let token = app.token("kay@camelot.bt", "guinevere").await;
    app.request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::OK, user.clone());
    app.request(Method::GET, "/authenticated-route")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::OK, json!({"message": "Hello kay@camelot.bt!"}));
    // Deactivated after login: the same token is now refused.
    let admin = app.superuser("admin@camelot.bt").await;
    let path = format!("/users/{}", user["id"].as_str().unwrap());
    assert_eq!(
        app.request(Method::PATCH, &path)
            .bearer(&admin)
            .json(&json!({"is_active": false}))
            .send()
            .await
            .status,
        StatusCode::OK
    );
    app.request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::UNAUTHORIZED, json!({"detail": "Unauthorized"}));
}

async fn patch_me_changes_password_and_email(db: Db) {
    let app = TestApp::new(db).await;
    app.register("ector@camelot.bt", "guinevere").await;
    let token = app.token("ector@camelot.bt", "guinevere").await;
    let response = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"password": "lancelot"}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        app.me_status(&token).await,
        StatusCode::UNAUTHORIZED,
        "a password change ends the user's sessions, JWTs included"
    );
    let token = app.token("ector@camelot.bt", "lancelot").await;
    let old = app
        .login_form(
            "jwt",
            &[("username", "ector@camelot.bt"), ("password", "guinevere")],
        )
        .await;
    assert_eq!(
        old.status,
        StatusCode::BAD_REQUEST,
        "the old password no longer works"
    );

    // An email change resets is_verified; the superuser had verified this user first.
    let admin = app.superuser("admin@camelot.bt").await;
    let me = app
        .request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await
        .json();
    let path = format!("/users/{}", me["id"].as_str().unwrap());
    let verified = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_verified": true}))
        .send()
        .await;
    assert_eq!(verified.json()["is_verified"], true);
    let changed = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"email": "Sir.Ector@CAMELOT.BT", "first_name": "Ector"}))
        .send()
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let body = changed.json();
    assert_eq!(body["email"], "Sir.Ector@camelot.bt");
    assert_eq!(body["is_verified"], false);
    assert_eq!(body["first_name"], "Ector");
    // Changing only the case of one's own email is allowed (the reference refuses it).
    let case = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"email": "sir.ector@camelot.bt"}))
        .send()
        .await;
    assert_eq!(case.status, StatusCode::OK, "{}", case.text());
}

async fn patch_me_is_safe(db: Db) {
    let app = TestApp::new(db).await;
    app.register("dagonet@camelot.bt", "guinevere").await;
    let token = app.token("dagonet@camelot.bt", "guinevere").await;
    let body = json!({"is_superuser": true, "is_active": false, "is_verified": true, "plan": "gold", "login_count": 5, "notes": "x"});
    let response = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&body)
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let user = response.json();
    assert_eq!(
        (
            user["is_superuser"].clone(),
            user["is_active"].clone(),
            user["is_verified"].clone()
        ),
        (json!(false), json!(true), json!(false))
    );
    assert_eq!(user["plan"], json!(null), "plan is superuser-only");
    assert_eq!(user["login_count"], 0, "read-only");
    // `password: null` is a no-op; `email: null` is a 422 (the reference answers 500).
    let response = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"password": null}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let response = app
        .request(Method::PATCH, "/users/me")
        .bearer(&token)
        .json(&json!({"email": null}))
        .send()
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.text()
    );
    assert_eq!(
        response.json()["detail"][0]["loc"],
        json!(["body", "email"])
    );
}

async fn patch_me_errors(db: Db) {
    let app = TestApp::new(db).await;
    app.register("bors@camelot.bt", "guinevere").await;
    app.register("lionel@camelot.bt", "guinevere").await;
    let token = app.token("bors@camelot.bt", "guinevere").await;
    let patch = |body| app.patch_me(&token, body);
    patch(json!({"email": "LIONEL@camelot.bt"})).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"}),
    );
    patch(json!({"password": "short"})).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": {"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "Password should be at least 8 characters"}}),
    );
    patch(json!({"password": "bors@camelot.bt!"})).await.assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": {"code": "UPDATE_USER_INVALID_PASSWORD", "reason": "Password should not contain e-mail"}}),
    );
    let response = patch(json!({"email": "bad"})).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["detail"][0]["type"], "value_error");
    let response = app
        .request(Method::PATCH, "/users/me")
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

/// The PATCH body reads each field with its type's lax conversion and Pydantic error; a
/// nullable field takes `null` (clears it), a non-nullable one refuses it.
async fn patch_me_reads_each_field_type(db: Db) {
    let app = TestApp::new(db).await;
    app.register_json(json!({"email": "bedivere@camelot.bt", "password": "guinevere", "age": 30, "team_id": "0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6f"}))
        .await;
    let token = app.token("bedivere@camelot.bt", "guinevere").await;
    let patch = |body| app.patch_me(&token, body);
    let response =
        patch(json!({"newsletter": "yes", "age": "31", "height": 2, "team_id": null})).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let user = response.json();
    assert_eq!(
        (
            user["newsletter"].clone(),
            user["age"].clone(),
            user["height"].clone(),
            user["team_id"].clone()
        ),
        (json!(true), json!(31), json!(2.0), json!(null))
    );
    patch(json!({"newsletter": null, "age": 1.5, "team_id": [], "height": "nan"})).await.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [
            {"type": "int_from_float", "loc": ["body", "age"],
                "msg": "Input should be a valid integer, got a number with a fractional part", "input": 1.5},
            {"type": "finite_number", "loc": ["body", "height"], "msg": "Input should be a finite number", "input": "nan"},
            {"type": "uuid_type", "loc": ["body", "team_id"],
                "msg": "UUID input should be a string, bytes or UUID object", "input": []},
            {"type": "bool_type", "loc": ["body", "newsletter"], "msg": "Input should be a valid boolean", "input": null}
        ]}),
    );
    for (input, kind) in [
        (json!(1.5), "bool_type"),
        (json!(2), "bool_parsing"),
        (json!("maybe"), "bool_parsing"),
    ] {
        let response = patch(json!({"newsletter": input})).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{input}");
        assert_eq!(response.json()["detail"][0]["type"], kind, "{input}");
    }
}

async fn superuser_routes(db: Db) {
    let app = TestApp::new(db).await;
    let user = app.register("pellinore@camelot.bt", "guinevere").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("/users/{id}");
    let token = app.token("pellinore@camelot.bt", "guinevere").await;
    // Not a superuser: 403 even for an unknown id (the check precedes the lookup).
    for p in [path.clone(), format!("/users/{}", uuid::Uuid::new_v4())] {
        app.request(Method::GET, &p)
            .bearer(&token)
            .send()
            .await
            .assert(StatusCode::FORBIDDEN, json!({"detail": "Forbidden"}));
    }
    assert_eq!(
        app.request(Method::DELETE, &path)
            .bearer(&token)
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.request(Method::GET, &path).send().await.status,
        StatusCode::UNAUTHORIZED
    );

    let admin = app.superuser("admin@camelot.bt").await;
    app.request(Method::GET, &path)
        .bearer(&admin)
        .send()
        .await
        .assert(StatusCode::OK, user.clone());
    let upper = format!("/users/{}", id.to_uppercase());
    assert_eq!(
        app.request(Method::GET, &upper)
            .bearer(&admin)
            .send()
            .await
            .status,
        StatusCode::OK
    );
    for missing in [
        format!("/users/{}", uuid::Uuid::new_v4()),
        "/users/not-a-uuid".to_owned(),
        "/users/123".to_owned(),
    ] {
        app.request(Method::GET, &missing)
            .bearer(&admin)
            .send()
            .await
            .assert(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}));
    }

    let response = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_superuser": true, "plan": "gold", "first_name": "P", "login_count": 7}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let patched = response.json();
    assert_eq!(
        (
            patched["is_superuser"].clone(),
            patched["plan"].clone(),
            patched["login_count"].clone()
        ),
        (json!(true), json!("gold"), json!(0))
    );
    // Clearing a nullable field with null; null on a non-nullable one is a 422 (not a 500).
    let cleared = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"plan": null}))
        .send()
        .await;
    assert_eq!(cleared.json()["plan"], json!(null));
    let response = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"is_verified": null}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .request(Method::PATCH, &path)
        .bearer(&admin)
        .json(&json!({"password": "x"}))
        .send()
        .await;
    assert_eq!(
        response.json()["detail"]["code"],
        "UPDATE_USER_INVALID_PASSWORD"
    );
    let response = app
        .request(Method::PATCH, "/users/not-a-uuid")
        .bearer(&admin)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);

    let deleted = app
        .request(Method::DELETE, &path)
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    assert_eq!(
        app.request(Method::DELETE, &path)
            .bearer(&admin)
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.me_status(&token).await,
        StatusCode::UNAUTHORIZED,
        "a deleted user's token is dead"
    );
}

async fn verification_required(db: Db) {
    let app = TestApp::with(
        db,
        Options {
            requires_verification: true,
            ..Options::default()
        },
    )
    .await;
    let user = app.register("uther@camelot.bt", "guinevere").await;
    app.login_form(
        "jwt",
        &[("username", "uther@camelot.bt"), ("password", "guinevere")],
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "LOGIN_USER_NOT_VERIFIED"}),
    );
    app.login_form(
        "jwt",
        &[
            ("username", "uther@camelot.bt"),
            ("password", "wrong-password"),
        ],
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        json!({"detail": "LOGIN_BAD_CREDENTIALS"}),
    );
    // A token issued anyway (e.g. before the policy) gets a 403 on the users routes.
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    let strategy = fastusers::JwtStrategy::new(
        fastusers::JwtKeys::hs256(fastusers_tests::SECRET).unwrap(),
        Some(60),
    );
    let stored = app.state.manager().get(&id).await.unwrap().unwrap();
    let token = fastusers::Strategy::write_token(&strategy, &stored)
        .await
        .unwrap();
    app.request(Method::GET, "/users/me")
        .bearer(&token)
        .send()
        .await
        .assert(StatusCode::FORBIDDEN, json!({"detail": "Forbidden"}));
    let changes = fastusers_tests::UserChanges {
        is_verified: Some(true),
        ..Default::default()
    };
    app.state
        .manager()
        .store()
        .update(&id, &changes)
        .await
        .unwrap();
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    app.token("uther@camelot.bt", "guinevere").await;
}

/// `DELETE /users/me` is the reference's `DELETE /users/{id}` with the id `me`: 401 without a
/// token, 403 for a user, 404 for a superuser; never a self-deletion.
async fn delete_me_is_not_self_deletion(db: Db) {
    let app = TestApp::new(db).await;
    app.register("lamorak@camelot.bt", "guinevere").await;
    let token = app.token("lamorak@camelot.bt", "guinevere").await;
    let admin = app.superuser("admin@camelot.bt").await;
    let delete = |bearer: Option<String>| {
        let mut request = app.request(Method::DELETE, "/users/me");
        if let Some(token) = &bearer {
            request = request.bearer(token);
        }
        request.send()
    };
    delete(None)
        .await
        .assert(StatusCode::UNAUTHORIZED, json!({"detail": "Unauthorized"}));
    delete(Some(token.clone()))
        .await
        .assert(StatusCode::FORBIDDEN, json!({"detail": "Forbidden"}));
    delete(Some(admin.clone()))
        .await
        .assert(StatusCode::NOT_FOUND, json!({"detail": "Not Found"}));
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    assert_eq!(app.me_status(&admin).await, StatusCode::OK);
}

db_tests!(
    delete_me_is_not_self_deletion,
    me_needs_an_active_user,
    patch_me_changes_password_and_email,
    patch_me_is_safe,
    patch_me_errors,
    patch_me_reads_each_field_type,
    superuser_routes,
    verification_required,
);
