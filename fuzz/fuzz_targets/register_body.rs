//! The register body: `JsonBody::<UserCreate>::from_request` (the extractor of
//! `POST /auth/register`) over arbitrary bodies must never panic, every rejection must be a 4xx
//! (422, 413 or 400) with a JSON `detail`, and an accepted body must hold a normalised email.
//! The same bytes also go through `JsonBody::<UserUpdate>` (the `PATCH /users/me` body).
//!
//! Input: byte 0 picks the content type, the rest is the body:
//! - 0: none (FastAPI reads JSON then); 1: `application/json`;
//! - 2: `application/vnd.api+json`; 3: `APPLICATION/JSON; charset=utf-8`;
//! - 4: `text/plain`; 5: taken from the input up to the first `\n`.

#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{Method, Request, header};
use axum::response::IntoResponse;
use fastusers::ApiError;
use fastusers::extract::JsonBody;
use fastusers::user::UserCreate as _;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The model of the integration tests (tests/support/lib.rs), without its database.
#[derive(fastusers::User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    /// Settable at registration and by the user.
    #[fastusers(create, update)]
    pub first_name: Option<String>,
    /// Settable by a superuser only.
    pub plan: Option<String>,
    /// Never shown.
    #[fastusers(hidden)]
    pub notes: Option<String>,
    /// Shown, never set through the API.
    #[fastusers(read_only)]
    pub login_count: i64,
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
});

fn request(content_type: Option<&[u8]>, body: &[u8]) -> Request<Body> {
    let mut request = Request::builder().method(Method::POST).uri("/auth/register");
    if let Some(ct) = content_type {
        // A value a client could not send (control characters) is not sent.
        if let Ok(value) = header::HeaderValue::from_bytes(ct) {
            request = request.header(header::CONTENT_TYPE, value);
        }
    }
    request.body(Body::from(body.to_vec())).expect("a valid request")
}

async fn check_rejection(rejection: ApiError) {
    let status = rejection.status().as_u16();
    assert!(
        matches!(status, 400 | 413 | 422),
        "a {status} rejection: {rejection}"
    );
    let response = rejection.into_response();
    assert_eq!(response.status().as_u16(), status);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the answer's body");
    let json: Value = serde_json::from_slice(&body).expect("a JSON answer");
    let detail = json.get("detail").expect("a detail");
    if status == 422 {
        let items = detail.as_array().expect("a 422's detail is a list");
        assert!(!items.is_empty(), "an empty 422 list");
        for item in items {
            for key in ["type", "loc", "msg", "input"] {
                assert!(item.get(key).is_some(), "no {key} in {item}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (content_type, body): (Option<&[u8]>, &[u8]) = match mode % 6 {
        0 => (None, rest),
        1 => (Some(b"application/json"), rest),
        2 => (Some(b"application/vnd.api+json"), rest),
        3 => (Some(b"APPLICATION/JSON; charset=utf-8"), rest),
        4 => (Some(b"text/plain"), rest),
        _ => match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (Some(rest), &[][..]),
        },
    };

    RUNTIME.block_on(async {
        match JsonBody::<UserCreate>::from_request(request(content_type, body), &()).await {
            Ok(JsonBody(create)) => {
                let email = create.email();
                assert_eq!(
                    fastusers::email::normalize(email).as_deref(),
                    Ok(email),
                    "the accepted email is not normalised"
                );
                let json: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
                assert_eq!(json["password"].as_str(), Some(create.password()));
                assert_eq!(json.get("first_name").and_then(Value::as_str), create.first_name.as_deref());
            }
            Err(rejection) => check_rejection(rejection).await,
        }
        match JsonBody::<UserUpdate>::from_request(request(content_type, body), &()).await {
            Ok(JsonBody(update)) => {
                if let Some(email) = update.email.as_deref() {
                    assert_eq!(fastusers::email::normalize(email).as_deref(), Ok(email));
                }
            }
            Err(rejection) => check_rejection(rejection).await,
        }
    });
});
