use axum::Router;
use axum::routing::get;
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

fastusers::auth_backends! {
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie: CookieTransport, JwtStrategy;
    }
}

async fn cookie_only(user: ActiveUser<Auth, { Auth::COOKIE }>) -> String {
    user.email.clone()
}

async fn either(user: ActiveUser<Auth, { Auth::JWT | Auth::COOKIE }>) -> String {
    user.email.clone()
}

fn main() {
    let _: Router<FastUsers<Auth>> = Router::new()
        .route("/cookie-only", get(cookie_only))
        .route("/either", get(either));
}
