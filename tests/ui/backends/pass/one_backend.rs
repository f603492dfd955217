use axum::Router;
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
    }
}

fn main() {
    assert_eq!(Auth::JWT, 1);
    let _: Router<FastUsers<Auth>> = fastusers::Routes::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .into_router();
}
