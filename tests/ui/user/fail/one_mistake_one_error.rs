use fastusers::prelude::*;

// One misspelt attribute: the derive reports it, and its stub keeps every use of the model
// and of its generated types compiling, so that it is the only error.
#[derive(User, Clone, Debug)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub hashed_password: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_verified: bool,
    #[fastusers(creat)]
    pub first_name: Option<String>,
}

fastusers::auth_backends! {
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
    }
}

async fn hello(user: ActiveUser<Auth>) -> String {
    format!("Hello {}!", user.email)
}

async fn app() -> axum::Router {
    let store = fastusers::store::connect::<User>("sqlite::memory:").await.unwrap();
    let strategy = JwtStrategy::new(JwtKeys::hs256("a long random secret of 32 bytes or more").unwrap(), Some(3600));
    let auth = Auth {
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy),
    };
    let read: Option<UserRead> = None;
    let _ = read;
    axum::Router::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .nest("/auth", FastUsers::<Auth>::register_router())
        .nest("/users", FastUsers::<Auth>::users_router())
        .route("/hello", axum::routing::get(hello))
        .with_state(FastUsers::new(UserManager::new(store), auth))
}

fn main() {
    let _ = app();
}
