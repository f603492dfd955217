//! The limit: what axum alone does on this machine, for the benchmark's ratios.
//!
//! `GET /bare` answers the user JSON of `GET /users/me` with no authentication at all;
//! `GET /jwt` first decodes and validates an HS256 JWT from `Authorization: Bearer`, with the
//! claims of fastusers' (and fastapi-users') access tokens: `sub`, `aud: ["fastapi-users:auth"]`,
//! `exp`. `GET /token` mints such a token for the load generator. Environment: `PORT`
//! (default 8100), `SECRET` (default `SECRET`). The runtime has as many workers as cores, as
//! the example's.
//!
//! The floor: with `DATABASE_URL` (PostgreSQL) and `USER_ID` set, `GET /floor` does what any
//! server on this stack must do for `GET /users/me` with a database: the same HS256 check, then
//! one `SELECT` of the user's row by primary key through sqlx (a pool of 16 connections, no
//! ping before use, as fastusers' store), and the user JSON from the row. `GET /token` then
//! mints tokens for `USER_ID`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Serialize, Clone)]
struct UserRead {
    id: uuid::Uuid,
    email: String,
    is_active: bool,
    is_superuser: bool,
    is_verified: bool,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: Vec<String>,
    exp: u64,
}

struct Limit {
    user: UserRead,
    pool: Option<sqlx::PgPool>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

async fn bare(State(s): State<Arc<Limit>>) -> axum::Json<UserRead> {
    axum::Json(s.user.clone())
}

async fn jwt(State(s): State<Arc<Limit>>, headers: HeaderMap) -> Response {
    match bearer_user_id(&s, &headers) {
        Some(id) => axum::Json(UserRead {
            id,
            ..s.user.clone()
        })
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// Decodes and validates the Bearer JWT of the request: the user id it names.
fn bearer_user_id(s: &Limit, headers: &HeaderMap) -> Option<uuid::Uuid> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    let data = jsonwebtoken::decode::<Claims>(token, &s.decoding, &s.validation).ok()?;
    data.claims.sub.parse().ok()
}

async fn floor(State(s): State<Arc<Limit>>, headers: HeaderMap) -> Response {
    let Some(id) = bearer_user_id(&s, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(pool) = &s.pool else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let row: Result<Option<(uuid::Uuid, String, String, bool, bool, bool)>, _> = sqlx::query_as(
        "SELECT id, email, hashed_password, is_active, is_superuser, is_verified \
         FROM \"user\" WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await;
    match row {
        Ok(Some((id, email, _hash, is_active, is_superuser, is_verified))) => {
            axum::Json(UserRead {
                id,
                email,
                is_active,
                is_superuser,
                is_verified,
            })
            .into_response()
        }
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn token(State(s): State<Arc<Limit>>) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 3600;
    let claims = Claims {
        sub: s.user.id.to_string(),
        aud: vec!["fastapi-users:auth".to_owned()],
        exp,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &s.encoding).unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8100);
    let secret = std::env::var("SECRET").unwrap_or_else(|_| "SECRET".to_owned());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["fastapi-users:auth"]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let pool = match std::env::var("DATABASE_URL") {
        Ok(url) => Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false)
                .connect(&url)
                .await
                .expect("connect to DATABASE_URL"),
        ),
        Err(_) => None,
    };
    let id = match std::env::var("USER_ID") {
        Ok(id) => id.parse().expect("USER_ID is a UUID"),
        Err(_) => uuid::Uuid::new_v4(),
    };
    let state = Arc::new(Limit {
        pool,
        user: UserRead {
            id,
            email: "king.arthur@camelot.bt".to_owned(),
            is_active: true,
            is_superuser: false,
            is_verified: false,
        },
        encoding: EncodingKey::from_secret(secret.as_bytes()),
        decoding: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    });
    let app = Router::new()
        .route("/bare", get(bare))
        .route("/jwt", get(jwt))
        .route("/floor", get(floor))
        .route("/token", get(token))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
}
