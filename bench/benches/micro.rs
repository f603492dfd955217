//! Micro-benchmarks of fastusers' pieces: JWT encode and decode, opaque token generation,
//! the `ActiveUser` extractor (a request through a router on in-memory SQLite), and the derived
//! queries' row mapping (`SqlUser::from_row` over a SQLite row).
//!
//! `cargo bench --manifest-path bench/Cargo.toml` (scripts/bench runs it with `--micro`).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use fastusers::password::{Argon2Params, PasswordHelper};
use fastusers::prelude::*;
use fastusers::store::{SqlStore, SqlUser};
use fastusers::strategy::Strategy;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use tower::ServiceExt;

/// The quickstart's user model.
#[derive(User, Clone, Debug)]
pub struct User {
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
}

fastusers::auth_backends! {
    /// Bearer + JWT only.
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    aud: Vec<String>,
    exp: u64,
}

fn claims() -> Claims {
    Claims {
        sub: uuid::Uuid::new_v4().to_string(),
        aud: vec!["fastapi-users:auth".to_owned()],
        exp: fastusers::keys::now() + 3600,
    }
}

fn jwt(c: &mut Criterion) {
    let keys = JwtKeys::hs256("SECRET");
    let claims = claims();
    let token = keys.encode(&claims).expect("encode");
    c.bench_function("jwt/encode (JwtKeys::encode, HS256)", |b| {
        b.iter(|| keys.encode(black_box(&claims)).expect("encode"))
    });
    c.bench_function("jwt/decode (JwtKeys::decode, HS256 + aud + exp)", |b| {
        b.iter(|| {
            keys.decode::<Claims>(black_box(&token), &["fastapi-users:auth"])
                .expect("valid")
        })
    });
    let strategy = JwtStrategy::new(JwtKeys::hs256("SECRET"), Some(3600));
    c.bench_function("jwt/strategy user_id (decode + parse UUID)", |b| {
        b.iter(|| {
            strategy
                .user_id::<uuid::Uuid>(black_box(&token))
                .expect("valid")
        })
    });
}

fn opaque(c: &mut Criterion) {
    c.bench_function("token/random_token (opaque, 32 bytes)", |b| {
        b.iter(fastusers::keys::random_token)
    });
}

async fn me(user: ActiveUser<Auth>) -> String {
    user.email.clone()
}

fn extractor(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (router, token) = rt.block_on(async {
        let store = fastusers::store::connect::<User>("sqlite::memory:")
            .await
            .expect("store");
        // Cheap hashing: the extractor never hashes; only the set-up does.
        let passwords = PasswordHelper::new(Argon2Params {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .expect("params");
        let manager = UserManager::new(store).with_password_helper(passwords);
        let user = manager
            .create(
                UserCreate {
                    email: "king.arthur@camelot.bt".to_owned(),
                    password: "guinevere".to_owned(),
                    ..Default::default()
                },
                false,
                None,
            )
            .await
            .expect("create");
        let strategy = JwtStrategy::new(JwtKeys::hs256("SECRET"), Some(3600));
        let token = Strategy::<User>::write_token(&strategy, &user)
            .await
            .expect("token");
        let auth = Auth {
            jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy),
        };
        let router: Router = Router::new()
            .route("/me", get(me))
            .with_state(FastUsers::new(manager, auth));
        (router, token)
    });
    let bearer = format!("Bearer {token}");
    c.bench_function(
        "extractor/ActiveUser (Bearer + JWT, in-memory SQLite, oneshot)",
        |b| {
            b.to_async(&rt).iter(|| async {
                let request = Request::get("/me")
                    .header(header::AUTHORIZATION, &bearer)
                    .body(Body::empty())
                    .expect("request");
                let response = router.clone().oneshot(request).await.expect("infallible");
                assert_eq!(response.status(), StatusCode::OK);
                response
            })
        },
    );
    c.bench_function("extractor/ActiveUser rejected (no token)", |b| {
        b.to_async(&rt).iter(|| async {
            let request = Request::get("/me").body(Body::empty()).expect("request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            response
        })
    });
}

fn row_mapping(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let row = rt.block_on(async {
        let store = SqlStore::<User, sqlx::Sqlite>::connect_sqlite("sqlite::memory:")
            .await
            .expect("store");
        store.migrate().await.expect("migrate");
        let user = User {
            id: uuid::Uuid::new_v4(),
            email: "king.arthur@camelot.bt".to_owned(),
            hashed_password: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".to_owned(),
            is_active: true,
            is_superuser: false,
            is_verified: false,
        };
        let insert = sqlx::query(<User as SqlUser<sqlx::Sqlite>>::INSERT);
        <User as SqlUser<sqlx::Sqlite>>::bind_insert(&user, insert)
            .fetch_one(store.pool())
            .await
            .expect("insert")
    });
    c.bench_function("row/SqlUser::from_row (SQLite row -> User)", |b| {
        b.iter(|| <User as SqlUser<sqlx::Sqlite>>::from_row(black_box(&row)).expect("row"))
    });
}

criterion_group!(benches, jwt, opaque, extractor, row_mapping);
criterion_main!(benches);
