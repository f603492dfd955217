use fastusers::prelude::*;

#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
}

// One line in error: the macro reports it and still declares `Auth` with the other backends,
// so that the code using it adds no error.
fastusers::auth_backends! {
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie: CookieTransport JwtStrategy;
    }
}

async fn hello(user: ActiveUser<Auth, { Auth::JWT }>) -> String {
    format!("Hello {}!", user.email)
}

async fn app() -> axum::Router {
    let store = fastusers::store::connect::<User>("sqlite::memory:").await.unwrap();
    let strategy = JwtStrategy::new(JwtKeys::hs256("a long random secret of 32 bytes or more").unwrap(), Some(3600));
    let auth = Auth {
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy),
    };
    axum::Router::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .nest("/auth", FastUsers::<Auth>::register_router())
        .route("/hello", axum::routing::get(hello))
        .with_state(FastUsers::new(UserManager::new(store), auth))
}

fn main() {
    let _ = app();
}
